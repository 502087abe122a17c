//! `--processes N`: N homeservers on one Postgres database, serving as one server (the same
//! `SERVER_NAME`, the same signing key, copied into each process's own data directory), as N
//! processes behind a load balancer would. With N = 1 (the default) a group is the one
//! [`Target`] every other scenario uses, so `sends`, `latency` and `fanout` run the same code
//! either way.

use std::time::Duration;

use anyhow::{Context, Result};

use super::client::LoadUser;
use super::procfs;
use super::report::Report;
use super::target::{self, Target};
use super::Common;
use crate::process::ServerProcess;

/// CPU times at one moment ([`Group::cpu_ticks`]).
pub struct CpuMark {
    servers: Vec<Option<u64>>,
    postgres: Option<u64>,
}

/// One or more homeservers serving as one.
pub struct Group {
    /// The processes; the first one was started first and holds the signing key.
    pub targets: Vec<Target>,
}

impl Group {
    /// Starts `--processes` homeservers named `name` with `env` (or addresses `--url`). Several
    /// processes share this machine's cores: each gets `HTTP_WORKERS` = its share
    /// ([`http_workers_each`]), as an operator would set it; `--server-env` still wins.
    pub fn homeservers(common: &Common, name: &str, env: &[(&str, &str)]) -> Result<Group> {
        let share = http_workers_each(common.processes, available_cores());
        let share = share.map(|n| n.to_string());
        let mut env = env.to_vec();
        if let Some(share) = &share {
            env.push(("HTTP_WORKERS", share.as_str()));
        }
        let env = env.as_slice();
        let first = Target::homeserver(common, name, env)?;
        let mut targets = Vec::with_capacity(common.processes.max(1));
        let (key_dir, database) = match &first.process {
            Some(p) => (p.data_dir().to_path_buf(), first.database.clone()),
            None => (std::path::PathBuf::new(), None),
        };
        targets.push(first);
        for _ in 1..common.processes.max(1) {
            // `Common::check` refused `--processes` without `--dburl` or with `--url`.
            let db = database
                .clone()
                .context("--processes > 1 needs --dburl (and no --url)")?;
            let all = target::server_env(common, env, Some(&db));
            let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let mut process = ServerProcess::prepare(name, &all);
            super::pg::copy_signing_keys(&key_dir, process.data_dir())?;
            let process = target::start(move || {
                process.start_prepared();
                process
            })?;
            targets.push(Target::spawned(process).on(Some(db)));
        }
        Ok(Group { targets })
    }

    /// How many processes.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there is no process (never, once started).
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Process `i` modulo the number of processes.
    pub fn get(&self, i: usize) -> &Target {
        &self.targets[i % self.targets.len().max(1)]
    }

    /// The first process (where scenarios register users and where `latency` sends).
    pub fn first(&self) -> &Target {
        self.get(0)
    }

    /// `user`'s device talking to process `i` (modulo the number of processes).
    pub fn user_on(&self, user: &LoadUser, i: usize) -> LoadUser {
        LoadUser {
            http: self.get(i).http.clone(),
            ..user.clone()
        }
    }

    /// CPU time of each process so far (and of the Postgres cluster, when it runs here), in
    /// clock ticks.
    pub fn cpu_ticks(&self) -> CpuMark {
        CpuMark {
            servers: self.targets.iter().map(Target::cpu_ticks).collect(),
            postgres: self.postmaster().and_then(procfs::tree_cpu_ticks),
        }
    }

    fn postmaster(&self) -> Option<u32> {
        self.targets.first()?.database.as_ref()?.postmaster
    }

    /// Notes the average CPU use (in cores) between `before` and now: summed over the
    /// processes as `server_cpu_cores`, per process (`process<i>_cpu_cores`) when several, and
    /// the Postgres cluster's (`postgres_cpu_cores`: the postmaster and all its backends,
    /// other databases' too) when it runs on this machine.
    pub fn note_cpu(&self, report: &mut Report, before: &CpuMark, secs: f64) {
        if let (Some(b), Some(a)) = (
            before.postgres,
            self.postmaster().and_then(procfs::tree_cpu_ticks),
        ) {
            if secs > 0.0 {
                report.note(
                    "postgres_cpu_cores",
                    round2(a.saturating_sub(b) as f64 / 100.0 / secs),
                );
            }
        }
        let before = &before.servers;
        if self.len() == 1 {
            return self.targets[0].note_cpu(report, before.first().copied().flatten(), secs);
        }
        if secs <= 0.0 {
            return;
        }
        let mut total = 0.0;
        let mut each = Vec::new();
        for (t, b) in self.targets.iter().zip(before) {
            if let (Some(b), Some(a)) = (b, t.cpu_ticks()) {
                // Linux reports CPU time in 1/100 s.
                let cores = a.saturating_sub(*b) as f64 / 100.0 / secs;
                total += cores;
                each.push(cores);
            }
        }
        report.note("server_cpu_cores", round2(total));
        for (i, cores) in each.into_iter().enumerate() {
            report.note(&format!("process{i}_cpu_cores"), round2(cores));
        }
    }

    /// Notes peak and final RSS (summed over the processes, and the peak per process when
    /// several) and the storage.
    pub fn finish(&self, report: &mut Report) {
        if self.len() == 1 {
            return self.targets[0].finish(report);
        }
        let peaks: Vec<Option<u64>> = self.targets.iter().map(Target::peak_rss_kib).collect();
        report.server_peak_rss_kib = peaks.iter().copied().sum::<Option<u64>>();
        let end: Option<u64> = self.targets.iter().map(Target::rss_kib).sum();
        if let Some(kib) = end {
            report.note("server_rss_kib_end", kib);
        }
        if let Some(db) = &self.targets[0].database {
            report.note("database", db.name.as_str());
        }
        for (i, peak) in peaks.into_iter().enumerate() {
            if let Some(kib) = peak {
                report.note(&format!("process{i}_peak_rss_kib"), kib);
            }
        }
    }

    /// Waits until the gauge `name` of each process `i` reaches `want[i]` (or `within`
    /// passes); returns the sum of the last values read.
    pub async fn wait_metric_each(&self, name: &str, want: &[f64], within: Duration) -> f64 {
        let deadline = std::time::Instant::now() + within;
        let mut sum = 0.0;
        for (t, w) in self.targets.iter().zip(want) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            sum += t.wait_metric_at_least(name, *w, left).await.max(0.0);
        }
        sum
    }
}

/// The cores this machine offers.
fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The HTTP workers of each of `processes` homeservers sharing `cores`: its share, at least
/// one; `None` for one process, which keeps the server's default (one per core).
pub fn http_workers_each(processes: usize, cores: usize) -> Option<usize> {
    (processes > 1).then(|| (cores / processes).max(1))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::http_workers_each;

    #[test]
    fn processes_share_the_cores_and_each_keeps_one_worker() {
        assert_eq!(http_workers_each(1, 8), None);
        assert_eq!(http_workers_each(2, 2), Some(1));
        assert_eq!(http_workers_each(2, 8), Some(4));
        assert_eq!(http_workers_each(3, 8), Some(2));
        assert_eq!(http_workers_each(4, 2), Some(1));
    }
}
