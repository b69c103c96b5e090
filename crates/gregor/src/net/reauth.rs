//! When to re-authenticate a connection (KIP-368), sans I/O: time comes in as `now`.
//!
//! A broker with `connections.max.reauth.ms` (or an OAUTHBEARER token that expires) tells the
//! client in SaslAuthenticate v1+ how long the session lasts; after that it closes the
//! connection on the next request that is not a re-authentication. The client therefore starts a
//! new SASL exchange on the same socket before then.
//!
//! Java (`SaslClientAuthenticator.ReauthInfo.setAuthenticationEndAndSessionReauthenticationTimes`)
//! starts at 85–95% of the lifetime (random, so that many connections do not re-authenticate at
//! once), counted from when the response arrived. gregor does the same, but also keeps at least
//! `min(lifetime / 2, 2 s)` in hand: the re-authentication is queued behind the requests already
//! in flight (a Fetch may be parked for `fetch.max.wait.ms`), and for short sessions 5% of the
//! lifetime would not cover that wait. Unlike Java, which re-authenticates only when it next has
//! something to send, gregor does it when due, so an idle connection survives too.

use std::time::Duration;

use tokio::time::Instant;

/// Java's window: 85% of the lifetime plus up to 10% jitter.
const WINDOW_FACTOR: f64 = 0.85;
const WINDOW_JITTER: f64 = 0.10;
/// Most margin gregor insists on (less for sessions under 4 s: half the lifetime).
const MAX_MARGIN: Duration = Duration::from_secs(2);

/// How long after a successful (re-)authentication to start the next one, for a session of
/// `lifetime`; `rand01` is a uniform draw in `[0, 1)`.
pub(crate) fn reauth_delay(lifetime: Duration, rand01: f64) -> Duration {
    let java = lifetime.mul_f64(WINDOW_FACTOR + WINDOW_JITTER * rand01.clamp(0.0, 1.0));
    let latest = lifetime - (lifetime / 2).min(MAX_MARGIN);
    java.min(latest)
}

/// The re-authentication timer of one connection.
#[derive(Debug, Default)]
pub(crate) struct Reauth {
    due: Option<Instant>,
    in_progress: bool,
    /// Completed re-authentications (not counting the first authentication).
    pub(crate) count: u64,
}

impl Reauth {
    /// An (re-)authentication finished at `now`, granting `lifetime` (`None`: the broker set no
    /// limit, so never re-authenticate).
    pub(crate) fn handle_authenticated(&mut self, now: Instant, lifetime: Option<Duration>, rand01: f64) {
        if self.in_progress {
            self.count += 1;
        }
        self.in_progress = false;
        self.due = lifetime.filter(|l| !l.is_zero()).map(|l| now + reauth_delay(l, rand01));
    }

    /// When [`handle_timeout`](Self::handle_timeout) should run next.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.in_progress {
            None
        } else {
            self.due
        }
    }

    /// `true`: start re-authenticating now.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.due {
            Some(due) if !self.in_progress && now >= due => {
                self.in_progress = true;
                self.due = None;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_sessions_follow_javas_85_to_95_percent() {
        let hour = Duration::from_secs(3600);
        assert_eq!(reauth_delay(hour, 0.0), hour.mul_f64(0.85));
        assert_eq!(reauth_delay(hour, 0.5), hour.mul_f64(0.90));
        assert!(reauth_delay(hour, 0.999_999) < hour.mul_f64(0.95) + Duration::from_millis(1));
    }

    #[test]
    fn short_sessions_keep_a_margin_for_requests_in_flight() {
        // 4 s (the real-cluster test): Java's 3.4..3.8 s would leave 0.2..0.6 s; gregor keeps 2 s.
        assert_eq!(reauth_delay(Duration::from_secs(4), 0.9), Duration::from_secs(2));
        assert_eq!(reauth_delay(Duration::from_secs(1), 0.9), Duration::from_millis(500));
        assert_eq!(reauth_delay(Duration::from_secs(20), 0.99), Duration::from_secs(18));
    }

    /// Virtual time: a connection through several sessions re-authenticates before each
    /// expiry, exactly once per session, and never while one is in progress.
    #[test]
    fn every_session_is_renewed_before_it_expires() {
        let lifetime = Duration::from_millis(4000);
        let t0 = Instant::now();
        let mut r = Reauth::default();
        r.handle_authenticated(t0, Some(lifetime), 0.3);
        let mut now = t0;
        let mut expiry = t0 + lifetime;
        for round in 0..5u32 {
            let due = r.poll_timeout().expect("a session with a lifetime has a deadline");
            assert!(due < expiry, "round {round}: due {:?} after expiry", due - t0);
            assert!(!r.handle_timeout(due - Duration::from_millis(1)), "not before it is due");
            now = due;
            assert!(r.handle_timeout(now));
            assert_eq!(r.poll_timeout(), None, "no second start while one is in progress");
            assert!(!r.handle_timeout(now + lifetime));
            // The exchange takes 30 ms; the broker grants a new session from its end.
            now += Duration::from_millis(30);
            assert!(now < expiry);
            expiry = now + lifetime;
            r.handle_authenticated(now, Some(lifetime), f64::from(round) / 5.0);
        }
        assert_eq!(r.count, 5);
        assert!(now > t0 + lifetime * 2, "several sessions passed");
    }

    #[test]
    fn no_lifetime_means_no_reauthentication() {
        let mut r = Reauth::default();
        let t0 = Instant::now();
        r.handle_authenticated(t0, None, 0.5);
        assert_eq!(r.poll_timeout(), None);
        assert!(!r.handle_timeout(t0 + Duration::from_secs(86_400)));
        r.handle_authenticated(t0, Some(Duration::ZERO), 0.5);
        assert_eq!(r.poll_timeout(), None);
    }
}
