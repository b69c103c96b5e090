//! Exponential backoff with jitter, the shape of Java's `ExponentialBackoff`.
//!
//! Used for `reconnect.backoff.ms` → `reconnect.backoff.max.ms`, for
//! `socket.connection.setup.timeout.ms` → `.max.ms`, and for `retry.backoff.ms` →
//! `retry.backoff.max.ms`: value(n) = min(initial × 2ⁿ, max) × uniform(1 − 0.2, 1 + 0.2),
//! where n counts consecutive failures. Jitter spreads reconnect storms of many clients.

use std::time::Duration;

/// Java's `CommonClientConfigs.RECONNECT_BACKOFF_JITTER` / `CONNECTION_SETUP_TIMEOUT_JITTER`.
pub(crate) const JITTER: f64 = 0.2;

#[derive(Debug, Clone, Copy)]
pub(crate) struct ExponentialBackoff {
    initial: Duration,
    max: Duration,
}

impl ExponentialBackoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        // Java: if max < initial, max is raised to initial.
        ExponentialBackoff { initial, max: max.max(initial) }
    }

    /// The un-jittered value after `failures` consecutive failures (0 = first attempt).
    pub(crate) fn base(&self, failures: u32) -> Duration {
        let factor = 2f64.powi(failures.min(62) as i32);
        let v = self.initial.as_secs_f64() * factor;
        Duration::from_secs_f64(v.min(self.max.as_secs_f64()))
    }

    /// The jittered value; `unit` is a uniform sample in [0, 1).
    pub(crate) fn jittered(&self, failures: u32, unit: f64) -> Duration {
        let base = self.base(failures).as_secs_f64();
        let j = 1.0 - JITTER + 2.0 * JITTER * unit.clamp(0.0, 1.0);
        Duration::from_secs_f64(base * j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_schedule_doubles_to_the_cap() {
        let b = ExponentialBackoff::new(Duration::from_millis(50), Duration::from_millis(1000));
        let got: Vec<u128> = (0..7).map(|n| b.base(n).as_millis()).collect();
        assert_eq!(got, [50, 100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let b = ExponentialBackoff::new(Duration::from_millis(10_000), Duration::from_millis(30_000));
        for n in 0..4 {
            let base = b.base(n).as_secs_f64();
            for u in [0.0, 0.25, 0.5, 0.999_999] {
                let v = b.jittered(n, u).as_secs_f64();
                assert!(v >= base * 0.8 - 1e-9 && v <= base * 1.2 + 1e-9, "n={n} u={u} v={v}");
            }
        }
        assert_eq!(b.base(1).as_millis(), 20_000);
        assert_eq!(b.base(2).as_millis(), 30_000);
    }

    #[test]
    fn max_below_initial_is_raised() {
        let b = ExponentialBackoff::new(Duration::from_millis(100), Duration::from_millis(10));
        assert_eq!(b.base(5).as_millis(), 100);
    }
}
