//! What a scenario measured: counts, throughput, latency percentiles from a sorted `Vec`, the
//! server's memory, and free-form notes; printed as a table or as JSON.

use std::time::Duration;

use serde_json::{json, Map, Value};

/// Percentiles of a set of durations, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    /// Number of samples.
    pub samples: usize,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `samples` (sorted here); `None` when empty.
    pub fn of(mut samples: Vec<Duration>) -> Option<Percentiles> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let at = |q: f64| {
            let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            samples[rank - 1].as_secs_f64() * 1000.0
        };
        Some(Percentiles {
            samples: samples.len(),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: at(1.0),
        })
    }
}

/// The outcome of one scenario.
#[derive(Debug, Clone)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// What was counted (sends, deliveries, polls, …).
    pub unit: String,
    /// How many were counted in the measured window.
    pub count: u64,
    /// Length of the measured window.
    pub seconds: f64,
    /// Latency percentiles, if the scenario measures latency.
    pub latency: Option<Percentiles>,
    /// Failed operations (errors, missing deliveries).
    pub errors: u64,
    /// Server peak RSS (VmHWM) in KiB, when the server's pid is known.
    pub server_peak_rss_kib: Option<u64>,
    /// Extra named figures.
    pub notes: Vec<(String, Value)>,
}

impl Report {
    /// An empty report for `scenario`, counting `unit`.
    pub fn new(scenario: &str, unit: &str) -> Report {
        Report {
            scenario: scenario.to_string(),
            unit: unit.to_string(),
            count: 0,
            seconds: 0.0,
            latency: None,
            errors: 0,
            server_peak_rss_kib: None,
            notes: Vec::new(),
        }
    }

    /// Adds a named figure.
    pub fn note(&mut self, key: &str, value: impl Into<Value>) {
        self.notes.push((key.to_string(), value.into()));
    }

    /// Count per second of the window.
    pub fn throughput(&self) -> f64 {
        if self.seconds > 0.0 {
            self.count as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// Machine-readable form.
    pub fn to_json(&self) -> Value {
        let notes: Map<String, Value> = self.notes.iter().cloned().collect();
        json!({
            "scenario": self.scenario,
            "unit": self.unit,
            "count": self.count,
            "seconds": round(self.seconds),
            "throughput_per_s": round(self.throughput()),
            "latency_ms": self.latency.map(|p| json!({
                "samples": p.samples, "p50": round(p.p50), "p90": round(p.p90),
                "p99": round(p.p99), "max": round(p.max),
            })),
            "errors": self.errors,
            "server_peak_rss_kib": self.server_peak_rss_kib,
            "notes": notes,
        })
    }

    /// Human-readable table.
    pub fn to_table(&self) -> String {
        let mut rows: Vec<(String, String)> = vec![
            ("scenario".into(), self.scenario.clone()),
            (format!("count ({})", self.unit), self.count.to_string()),
            ("window".into(), format!("{:.2} s", self.seconds)),
            (
                "throughput".into(),
                format!("{:.1} {}/s", self.throughput(), self.unit),
            ),
        ];
        if let Some(p) = self.latency {
            rows.push((
                "latency p50/p90/p99/max".into(),
                format!(
                    "{:.3} / {:.3} / {:.3} / {:.3} ms ({} samples)",
                    p.p50, p.p90, p.p99, p.max, p.samples
                ),
            ));
        }
        rows.push(("errors".into(), self.errors.to_string()));
        rows.push((
            "server peak RSS (VmHWM)".into(),
            self.server_peak_rss_kib
                .map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
        ));
        for (k, v) in &self.notes {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            rows.push((k.clone(), v));
        }
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (k, v) in rows {
            out.push_str(&format!("{k:<width$}  {v}\n"));
        }
        out
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(samples).unwrap();
        assert_eq!((p.p50, p.p90, p.p99, p.max), (50.0, 90.0, 99.0, 100.0));
        assert!(Percentiles::of(Vec::new()).is_none());
    }
}
