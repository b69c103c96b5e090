//! Wall-clock helpers shared by the consumer and the producer.
//!
//! Decisions that depend on elapsed time use `tokio::time::Instant` and take it as an explicit
//! `now` (sans-io, virtual time in tests); the wall clock is only for what Kafka itself stores
//! as epoch milliseconds: the timestamps of produced records and the `ListOffsets` timestamp of
//! `auto.offset.reset=by_duration:…` (passed into the fetch planner as `wall_ms`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, as Java's `System.currentTimeMillis()`; 0 for a clock
/// set before 1970.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_ms_is_after_2020_and_does_not_go_back_within_a_call_pair() {
        let a = super::now_ms();
        let b = super::now_ms();
        assert!(a > 1_577_836_800_000, "{a}");
        assert!(b >= a);
    }
}
