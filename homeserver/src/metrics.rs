//! Prometheus metrics, kept in the server's state (no process-global recorder), rendered in the
//! text exposition format at `GET /metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A fixed-bucket histogram of durations.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, seconds: f64) {
        let seconds = seconds.max(0.0);
        for (bound, slot) in BUCKETS.iter().zip(&self.counts) {
            if seconds <= *bound {
                slot.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, slot) in BUCKETS.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                slot.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// The server's counters and gauges.
#[derive(Debug, Default)]
pub struct Metrics {
    /// HTTP requests answered, by status class (index 1..=5 for 1xx..5xx).
    pub requests: [AtomicU64; 6],
    /// Events accepted from local clients.
    pub sends: AtomicU64,
    /// Long-polls currently waiting.
    pub active_long_polls: AtomicI64,
    /// Event streams (`GET /api/v1/messages/stream`) currently open.
    pub active_streams: AtomicI64,
    /// WebSockets (`GET /api/v1/ws`) currently open, authenticated or not.
    pub active_websockets: AtomicI64,
    /// Time from an event's commit to its delivery in a sync answer.
    pub sync_delivery: Histogram,
    /// Duration of sync requests that returned events.
    pub sync_duration: Histogram,
}

impl Metrics {
    /// Counts one answered request with this status.
    pub fn count_request(&self, status: u16) {
        let class = usize::from(status / 100).min(5);
        self.requests[class].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        out.push_str(
            "# HELP hearth_http_requests_total HTTP requests answered, by status class.\n",
        );
        out.push_str("# TYPE hearth_http_requests_total counter\n");
        for (class, counter) in self.requests.iter().enumerate().skip(1) {
            let _ = writeln!(
                out,
                "hearth_http_requests_total{{status=\"{class}xx\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP hearth_sends_total Events accepted from clients.\n# TYPE hearth_sends_total counter\nhearth_sends_total {}",
            self.sends.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP hearth_active_long_polls Long-polls waiting now.\n# TYPE hearth_active_long_polls gauge\nhearth_active_long_polls {}",
            self.active_long_polls.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP hearth_active_streams Event streams open now.\n# TYPE hearth_active_streams gauge\nhearth_active_streams {}",
            self.active_streams.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP hearth_active_websockets WebSockets open now.\n# TYPE hearth_active_websockets gauge\nhearth_active_websockets {}",
            self.active_websockets.load(Ordering::Relaxed)
        );
        self.sync_delivery.render(
            &mut out,
            "hearth_sync_delivery_seconds",
            "Time from an event's commit to its delivery in a sync answer.",
        );
        self.sync_duration.render(
            &mut out,
            "hearth_sync_duration_seconds",
            "Duration of sync requests that returned events.",
        );
        out
    }
}

/// Counts a long-poll or a stream as open until the guard drops, however it ends (answer,
/// timeout, error or client hang-up).
pub struct ActiveGuard {
    metrics: Arc<Metrics>,
    gauge: fn(&Metrics) -> &AtomicI64,
}

impl ActiveGuard {
    /// Counts a waiting long-poll (`hearth_active_long_polls`).
    pub fn long_poll(metrics: Arc<Metrics>) -> Self {
        Self::new(metrics, |m| &m.active_long_polls)
    }

    /// Counts an open event stream (`hearth_active_streams`).
    pub fn stream(metrics: Arc<Metrics>) -> Self {
        Self::new(metrics, |m| &m.active_streams)
    }

    /// Counts an open WebSocket (`hearth_active_websockets`).
    pub fn websocket(metrics: Arc<Metrics>) -> Self {
        Self::new(metrics, |m| &m.active_websockets)
    }

    fn new(metrics: Arc<Metrics>, gauge: fn(&Metrics) -> &AtomicI64) -> Self {
        gauge(&metrics).fetch_add(1, Ordering::Relaxed);
        ActiveGuard { metrics, gauge }
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        (self.gauge)(&self.metrics).fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Arc::new(Metrics::default());
        m.count_request(200);
        m.count_request(404);
        m.sync_delivery.observe(0.002);
        {
            let _g = ActiveGuard::long_poll(Arc::clone(&m));
            let _s = ActiveGuard::stream(Arc::clone(&m));
            let _w = ActiveGuard::websocket(Arc::clone(&m));
            let text = m.render();
            assert!(text.contains("hearth_active_websockets 1"));
            assert!(text.contains("hearth_active_long_polls 1"));
            assert!(text.contains("hearth_active_streams 1"));
        }
        let text = m.render();
        assert!(text.contains("hearth_http_requests_total{status=\"2xx\"} 1"));
        assert!(text.contains("hearth_http_requests_total{status=\"4xx\"} 1"));
        assert!(text.contains("hearth_sync_delivery_seconds_bucket{le=\"0.0025\"} 1"));
        assert!(text.contains("hearth_sync_delivery_seconds_bucket{le=\"0.001\"} 0"));
        assert!(text.contains("hearth_active_long_polls 0"));
        assert!(text.contains("hearth_active_streams 0"));
        assert!(text.contains("hearth_active_websockets 0"));
    }
}
