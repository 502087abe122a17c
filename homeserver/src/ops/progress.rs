//! Progress on standard error, only when it is a terminal (scripts and logs get none).

use std::io::{IsTerminal as _, Write as _};

/// Prints progress lines when standard error is a terminal.
pub struct Progress {
    on: bool,
    open_line: bool,
}

impl Progress {
    /// Progress that shows when standard error is a terminal.
    pub fn new() -> Progress {
        Progress {
            on: std::io::stderr().is_terminal(),
            open_line: false,
        }
    }

    /// Rewrites the current line (`\r`), for counters.
    pub fn update(&mut self, text: &str) {
        if self.on {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{text}");
            let _ = err.flush();
            self.open_line = true;
        }
    }

    /// Ends the current line with `text`.
    pub fn done(&mut self, text: &str) {
        if self.on {
            let mut err = std::io::stderr().lock();
            if self.open_line {
                let _ = write!(err, "\r\x1b[2K");
            }
            let _ = writeln!(err, "{text}");
            self.open_line = false;
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

/// A byte count for people: `812 B`, `3.4 MB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
