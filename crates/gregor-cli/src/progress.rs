//! A one-line progress display on stderr, only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

/// Redraws `records, MB/s, lag` on stderr at most 10 times a second.
pub struct Progress {
    last: Mutex<Option<Instant>>,
}

impl Progress {
    /// `None` when stderr is not a terminal (logs and pipes get no control characters).
    pub fn new() -> Option<Progress> {
        std::io::stderr()
            .is_terminal()
            .then(|| Progress { last: Mutex::new(None) })
    }

    /// Redraws the line if 100 ms passed since the last redraw. `lag` is the consumer's
    /// records-behind count, when known.
    pub fn update(&self, records: u64, bytes: u64, started: Instant, lag: Option<i64>) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed().as_millis() < 100) {
            return;
        }
        *last = Some(Instant::now());
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{records} records  {:.1} MB  {:.1} MB/s  {:.0} rec/s{}",
            bytes as f64 / 1e6,
            bytes as f64 / 1e6 / secs,
            records as f64 / secs,
            lag.map(|l| format!("  lag {l}")).unwrap_or_default()
        );
        let _ = err.flush();
    }

    /// Ends the progress line.
    pub fn finish(&self) {
        let _ = writeln!(std::io::stderr());
    }
}
