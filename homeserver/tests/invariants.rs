//! ARCHITECTURE.md's layering invariants, checked on the source so that they stay true:
//! - `db` is the only module that names diesel;
//! - `services` never calls into `federation`, `chat` or `routes` (federation uses services,
//!   and `chat` is the one place that picks local or remote);
//! - `federation-proto` does no I/O.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The code of a file without its comments (`//` to the end of the line), so that docs may
/// mention what the code must not use.
fn code_of(path: &Path) -> String {
    std::fs::read_to_string(path)
        .expect("readable source file")
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `(file, forbidden word)` for every file under `dir` (except `allowed`) that uses a word.
fn offenders(dir: &Path, allowed: &[&str], words: &[&str]) -> Vec<String> {
    rust_files(dir)
        .into_iter()
        .filter(|path| !allowed.iter().any(|a| path.to_string_lossy().contains(a)))
        .flat_map(|path| {
            let code = code_of(&path);
            words
                .iter()
                .filter(|w| code.contains(*w))
                .map(|w| format!("{} uses {w}", path.display()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn src(crate_dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(crate_dir)
        .join("src")
}

#[test]
fn only_db_names_diesel() {
    let found = offenders(&src("homeserver"), &["/src/db/"], &["diesel"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn services_do_not_call_federation_chat_or_routes() {
    let found = offenders(
        &src("homeserver").join("services"),
        &[],
        &[
            "crate::federation",
            "crate::chat",
            "crate::routes",
            "super::super::",
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn federation_proto_does_no_io() {
    let found = offenders(
        &src("federation-proto"),
        &[],
        &[
            "std::fs",
            "std::net",
            "tokio",
            "std::process",
            "SystemTime::now",
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_checks_see_the_code() {
    // Guards the checks themselves: a file that names diesel is found.
    let found = offenders(&src("homeserver").join("db"), &[], &["diesel"]);
    assert!(!found.is_empty());
}
