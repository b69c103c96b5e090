//! Windowed statistics, as Java's `SampledStat`: a value covers the last `metrics.num.samples`
//! windows of `metrics.sample.window.ms` each, so `*-avg`, `*-max` and `*-rate` describe the
//! recent past rather than the client's whole life.
//!
//! Sans-io: every call takes `now`, and the tests drive a virtual clock.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// One window.
#[derive(Debug, Clone, Copy)]
struct Sample {
    start: Instant,
    count: u64,
    sum: f64,
    max: f64,
}

/// Count, sum and max over the recent windows (Java's `Avg`, `Max`, `Rate` and
/// `WindowedCount` share this shape).
#[derive(Debug, Clone)]
pub(crate) struct Sampled {
    window: Duration,
    samples: usize,
    live: VecDeque<Sample>,
}

impl Sampled {
    pub(crate) fn new(cfg: &crate::config::MetricsConfig) -> Self {
        Sampled { window: cfg.sample_window.max(Duration::from_millis(1)), samples: cfg.num_samples.max(1) as usize, live: VecDeque::new() }
    }

    /// Adds one observation.
    pub(crate) fn record(&mut self, value: f64, now: Instant) {
        self.purge(now);
        // Java `SampledStat.record`: a new window starts when the current one is complete.
        let fresh = match self.live.back() {
            Some(s) => now.saturating_duration_since(s.start) >= self.window,
            None => true,
        };
        if fresh {
            self.live.push_back(Sample { start: now, count: 0, sum: 0.0, max: f64::NEG_INFINITY });
            while self.live.len() > self.samples {
                self.live.pop_front();
            }
        }
        let s = self.live.back_mut().expect("pushed above");
        s.count += 1;
        s.sum += value;
        s.max = s.max.max(value);
    }

    /// Drops the windows that ended before the whole span (Java `purgeObsoleteSamples`).
    fn purge(&mut self, now: Instant) {
        let span = self.window * self.samples as u32;
        while self.live.front().is_some_and(|s| now.saturating_duration_since(s.start) >= span) {
            self.live.pop_front();
        }
    }

    /// Observations in the span.
    #[cfg(test)]
    pub(crate) fn count(&mut self, now: Instant) -> u64 {
        self.purge(now);
        self.live.iter().map(|s| s.count).sum()
    }

    /// The mean of the observations in the span; NaN without any (as Java's `Avg`).
    pub(crate) fn avg(&mut self, now: Instant) -> f64 {
        self.purge(now);
        let (n, sum) = self.live.iter().fold((0u64, 0.0), |(n, s), x| (n + x.count, s + x.sum));
        if n == 0 { f64::NAN } else { sum / n as f64 }
    }

    /// The largest observation in the span; NaN without any (as Java's `Max`).
    pub(crate) fn max(&mut self, now: Instant) -> f64 {
        self.purge(now);
        let m = self.live.iter().filter(|s| s.count > 0).map(|s| s.max).fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY { f64::NAN } else { m }
    }

    /// The sum of the observations per second (Java's `Rate`); with `of_count`, observations
    /// per second (`Rate` over a `WindowedCount`).
    pub(crate) fn rate(&mut self, now: Instant, of_count: bool) -> f64 {
        self.purge(now);
        let total: f64 = self.live.iter().map(|s| if of_count { s.count as f64 } else { s.sum }).sum();
        total / self.window_secs(now)
    }

    /// Java `Rate.windowSize`: the time since the oldest window began, but at least
    /// `samples - 1` full windows (so a rate does not spike right after start), and never 0.
    fn window_secs(&self, now: Instant) -> f64 {
        let oldest = self.live.front().map_or(now, |s| s.start);
        let mut elapsed = now.saturating_duration_since(oldest);
        let full = (elapsed.as_nanos() / self.window.as_nanos()) as u32;
        let min_full = self.samples as u32 - 1;
        if full < min_full {
            elapsed += self.window * (min_full - full);
        }
        elapsed.max(Duration::from_millis(1)).as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MetricsConfig;

    fn stat() -> Sampled {
        // Java's defaults: 2 samples of 30 s.
        Sampled::new(&MetricsConfig::default())
    }

    #[test]
    fn avg_and_max_cover_the_recent_windows_only() {
        let t0 = Instant::now();
        let mut s = stat();
        assert!(s.avg(t0).is_nan() && s.max(t0).is_nan());
        s.record(10.0, t0);
        s.record(30.0, t0 + Duration::from_secs(1));
        assert_eq!(s.avg(t0 + Duration::from_secs(2)), 20.0);
        assert_eq!(s.max(t0 + Duration::from_secs(2)), 30.0);
        s.record(2.0, t0 + Duration::from_secs(31)); // a second window
        assert_eq!(s.count(t0 + Duration::from_secs(31)), 3);
        assert_eq!(s.max(t0 + Duration::from_secs(59)), 30.0);
        // The first window is 60 s old: out of the 2 x 30 s span.
        assert_eq!(s.max(t0 + Duration::from_secs(60)), 2.0);
        assert_eq!(s.avg(t0 + Duration::from_secs(60)), 2.0);
        assert!(s.avg(t0 + Duration::from_secs(91)).is_nan());
    }

    #[test]
    fn rate_counts_at_least_samples_minus_one_windows() {
        let t0 = Instant::now();
        let mut s = stat();
        // 300 bytes in the first second: Java divides by max(elapsed, 1 window) = 31 s here.
        s.record(100.0, t0);
        s.record(200.0, t0 + Duration::from_secs(1));
        let r = s.rate(t0 + Duration::from_secs(1), false);
        assert!((r - 300.0 / 31.0).abs() < 1e-9, "{r}");
        assert!((s.rate(t0 + Duration::from_secs(1), true) - 2.0 / 31.0).abs() < 1e-9);
        // Later the real elapsed time counts.
        let r = s.rate(t0 + Duration::from_secs(45), false);
        assert!((r - 300.0 / 45.0).abs() < 1e-9, "{r}");
        assert_eq!(s.rate(t0 + Duration::from_secs(200), false), 0.0);
    }
}
