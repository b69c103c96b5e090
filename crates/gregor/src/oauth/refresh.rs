//! When to refresh a token: Java's `ExpiringCredentialRefreshingLogin.refreshMs`, sans I/O.
//! Times are milliseconds since the epoch; `now` and the random draw are arguments, so tests
//! walk through the rule with explicit values.

use crate::config::LoginRefreshConfig;

/// The time (ms since the epoch) at which a token received at `now_ms`, issued at `start_ms`
/// (its `iat`, else `now_ms`) and expiring at `expire_ms`, should be replaced. `rand01` is a
/// uniform draw in `[0, 1)` for the jitter.
///
/// * Refresh at `start + (expire - start) × (window.factor + window.jitter × rand01)`,
/// * but no later than `sasl.login.refresh.buffer.seconds` before expiry,
/// * and no sooner than `sasl.login.refresh.min.period.seconds` from now;
/// * when the remaining lifetime cannot fit both the min period and the buffer, both are
///   ignored and the factor applies to the remaining lifetime (`now + (expire - now) × pct`).
/// * A token already expired is due at once.
pub(crate) fn refresh_at_ms(now_ms: i64, start_ms: Option<i64>, expire_ms: i64, cfg: &LoginRefreshConfig, rand01: f64) -> i64 {
    if now_ms >= expire_ms {
        return now_ms;
    }
    let pct = cfg.window_factor + cfg.window_jitter * rand01.clamp(0.0, 1.0);
    let min_period = cfg.min_period.as_millis() as i64;
    let buffer = cfg.buffer.as_millis() as i64;
    if now_ms + min_period + buffer > expire_ms {
        return now_ms + ((expire_ms - now_ms) as f64 * pct) as i64;
    }
    let start = start_ms.filter(|s| *s <= now_ms).unwrap_or(now_ms);
    let proposed = start + ((expire_ms - start) as f64 * pct) as i64;
    let end_buffer_begins = expire_ms - buffer;
    if proposed > end_buffer_begins {
        return end_buffer_begins;
    }
    proposed.max(now_ms + min_period)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 3_600_000;

    fn cfg() -> LoginRefreshConfig {
        LoginRefreshConfig::default()
    }

    #[test]
    fn one_hour_token_refreshes_at_80_to_85_percent() {
        let now = 1_000_000;
        assert_eq!(refresh_at_ms(now, None, now + HOUR, &cfg(), 0.0), now + 48 * MIN);
        assert_eq!(refresh_at_ms(now, None, now + HOUR, &cfg(), 0.999_999_9), now + 51 * MIN - 1);
        // Issued 30 minutes before we got it: the window counts from iat.
        assert_eq!(refresh_at_ms(now, Some(now - 30 * MIN), now + 30 * MIN, &cfg(), 0.0), now + 18 * MIN);
    }

    #[test]
    fn buffer_and_min_period_clamp() {
        let now = 0;
        // 10 min token: 80% = 8 min, but the 5 min buffer says refresh at 5 min.
        assert_eq!(refresh_at_ms(now, None, 10 * MIN, &cfg(), 0.0), 5 * MIN);
        // Issued long ago, little left: 80% of the span is in the past; min period wins.
        let c = LoginRefreshConfig { buffer: Duration::ZERO, ..cfg() };
        assert_eq!(refresh_at_ms(now, Some(-100 * MIN), 5 * MIN, &c, 0.0), MIN);
    }

    #[test]
    fn short_tokens_ignore_both_buffers() {
        // 5 s tokens (the real-cluster test's): min period + buffer do not fit, so 80..85% of
        // the remaining lifetime.
        assert_eq!(refresh_at_ms(0, None, 5_000, &cfg(), 0.0), 4_000);
        assert_eq!(refresh_at_ms(0, None, 5_000, &cfg(), 1.0), 4_250);
        assert_eq!(refresh_at_ms(7_000, None, 5_000, &cfg(), 0.5), 7_000, "expired: due now");
    }
}
