//! `contrib/` (issue 22): the systemd unit, the compose file, the Dockerfile and the env file
//! example, checked by `scripts/check-contrib` as far as they can be without building
//! containers (`systemd-analyze verify`, the compose file parsed, every path and stage the
//! Dockerfile names). Skipped when python3 with PyYAML or systemd-analyze is missing, except
//! under `CI=true`.

use std::path::Path;
use std::process::Command;

fn have(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn contrib_files_hold_together() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let ready = have("python3", &["-c", "import yaml"]) && have("systemd-analyze", &["--version"]);
    if !ready {
        assert!(
            !ci,
            "CI needs python3 with PyYAML (python3-yaml) and systemd-analyze"
        );
        eprintln!("python3 with PyYAML or systemd-analyze not available: skipping");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/check-contrib");
    let out = Command::new("python3")
        .arg(&script)
        .output()
        .expect("run scripts/check-contrib");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "scripts/check-contrib failed:\n{report}"
    );
    assert!(report.contains("contrib/ checks passed"), "{report}");
}
