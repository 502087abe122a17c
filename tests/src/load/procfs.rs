//! Linux `/proc` readings: a spawned server's pid, its memory and CPU time, and the
//! open-file limit (raised with `prlimit(1)` when allowed, since `std` has no `setrlimit`).

use std::path::Path;
use std::process::Command;

/// The pid of this process's child whose environment has `DATA_DIR=<data_dir>`.
pub fn child_with_data_dir(data_dir: &Path) -> Option<u32> {
    let me = std::process::id();
    let needle = format!("DATA_DIR={}", data_dir.display());
    let entries = std::fs::read_dir("/proc").ok()?;
    entries.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
        // Fields after the `(comm)`: state, ppid, …
        let after = stat.rsplit_once(')')?.1;
        let ppid: u32 = after.split_whitespace().nth(1)?.parse().ok()?;
        if ppid != me {
            return None;
        }
        let environ = std::fs::read(entry.path().join("environ")).ok()?;
        environ
            .split(|b| *b == 0)
            .any(|var| var == needle.as_bytes())
            .then_some(pid)
    })
}

/// A `kB` field of `/proc/<pid>/status` (e.g. `VmRSS`, `VmHWM`), in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Current resident set size in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS")
}

/// Peak resident set size in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM")
}

/// User + system CPU time of a process, in clock ticks (normally 100 per second).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5), i.e. 11 and 12 after `(comm)`.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU time of a process and of all its children, living and reaped, in clock ticks: for a
/// Postgres postmaster, the whole cluster's (its backends are its children; a backend that
/// exits is counted in the postmaster's `cutime`/`cstime` once reaped).
pub fn tree_cpu_ticks(pid: u32) -> Option<u64> {
    let fields = |p: u32| -> Option<Vec<u64>> {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        let after = stat.rsplit_once(')')?.1.to_string();
        // After `(comm)`: state, ppid, …, utime (11), stime (12), cutime (13), cstime (14).
        let f: Vec<&str> = after.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
        Some(vec![num(1)?, num(11)?, num(12)?, num(13)?, num(14)?])
    };
    let own = fields(pid)?;
    let mut total = own[1] + own[2] + own[3] + own[4];
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(f) = fields(child).filter(|f| f[0] == u64::from(pid)) {
            total += f[1] + f[2];
        }
    }
    Some(total)
}

/// Number of open file descriptors of a process.
pub fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// `(soft, hard)` open-file limit of this process.
pub fn nofile_limit() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let mut nums = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .map(|n| n.parse::<u64>().unwrap_or(u64::MAX));
    Some((nums.next()?, nums.next()?))
}

/// Raises this process's open-file limit to at least `want` (children inherit it).
/// Returns the soft limit in force afterwards.
pub fn raise_nofile(want: u64) -> u64 {
    let current = nofile_limit().map_or(1024, |(soft, _)| soft);
    if current >= want {
        return current;
    }
    let pid = std::process::id().to_string();
    let limit = format!("--nofile={want}:{want}");
    // Fails without CAP_SYS_RESOURCE when `want` is above the hard limit; then try the hard one.
    let raised = Command::new("prlimit")
        .args(["--pid", &pid, &limit])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !raised {
        if let Some((_, hard)) = nofile_limit() {
            let limit = format!("--nofile={hard}:{hard}");
            let _ = Command::new("prlimit")
                .args(["--pid", &pid, &limit])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
    nofile_limit().map_or(current, |(soft, _)| soft)
}
