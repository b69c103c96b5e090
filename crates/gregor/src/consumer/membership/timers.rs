//! The group member's timers: one closed enum, one fixed table (quinn-proto's shape). The next
//! wake-up is the earliest armed entry; nothing else in the membership code keeps a deadline.

use tokio::time::Instant;

/// Every timer a group member runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Timer {
    /// The next heartbeat is due (`heartbeat.interval.ms`, or the KIP-848 interval the
    /// coordinator asks for; after a failed one, the retry backoff).
    Heartbeat,
    /// Classic protocol: no successful heartbeat response for `session.timeout.ms`; the
    /// coordinator is presumed gone (Java `Heartbeat.sessionTimeoutExpired`).
    Session,
    /// The application has not polled for `max.poll.interval.ms` (Java `Heartbeat.pollTimer`):
    /// the member leaves and rejoins on the next poll.
    PollInterval,
    /// `auto.commit.interval.ms` elapsed: commit the consumed positions.
    AutoCommit,
    /// Back off before joining again after a failed JoinGroup/SyncGroup.
    RejoinBackoff,
    /// Back off before the next FindCoordinator.
    CoordinatorBackoff,
    /// The earliest retry or deadline among pending commits and offset fetches.
    Requests,
    /// `close()`'s deadline: leave (or give up leaving) by then.
    Close,
}

const ALL: [Timer; 8] = [
    Timer::Heartbeat,
    Timer::Session,
    Timer::PollInterval,
    Timer::AutoCommit,
    Timer::RejoinBackoff,
    Timer::CoordinatorBackoff,
    Timer::Requests,
    Timer::Close,
];

/// The table: one optional deadline per [`Timer`].
#[derive(Debug, Default, Clone)]
pub(crate) struct Timers {
    at: [Option<Instant>; ALL.len()],
}

impl Timers {
    fn slot(t: Timer) -> usize {
        ALL.iter().position(|x| *x == t).expect("every timer is in ALL")
    }

    /// Arms `t` at `at`, replacing any earlier deadline.
    pub(crate) fn set(&mut self, t: Timer, at: Instant) {
        self.at[Self::slot(t)] = Some(at);
    }

    /// Arms or disarms `t`.
    pub(crate) fn set_opt(&mut self, t: Timer, at: Option<Instant>) {
        self.at[Self::slot(t)] = at;
    }

    pub(crate) fn stop(&mut self, t: Timer) {
        self.at[Self::slot(t)] = None;
    }

    pub(crate) fn get(&self, t: Timer) -> Option<Instant> {
        self.at[Self::slot(t)]
    }

    /// True when `t` is armed and due at `now`.
    pub(crate) fn expired(&self, t: Timer, now: Instant) -> bool {
        self.get(t).is_some_and(|at| at <= now)
    }

    /// The earliest armed deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }

    /// The armed timers, for logs and tests.
    #[cfg(test)]
    pub(crate) fn armed(&self) -> Vec<(Timer, Instant)> {
        ALL.iter().filter_map(|t| self.get(*t).map(|at| (*t, at))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_next_wakeup_is_the_earliest_armed_timer() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        assert_eq!(t.next(), None);
        t.set(Timer::Session, t0 + Duration::from_secs(45));
        t.set(Timer::Heartbeat, t0 + Duration::from_secs(3));
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(3)));
        assert!(!t.expired(Timer::Heartbeat, t0));
        assert!(t.expired(Timer::Heartbeat, t0 + Duration::from_secs(3)));
        t.stop(Timer::Heartbeat);
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(45)));
        assert_eq!(t.armed(), vec![(Timer::Session, t0 + Duration::from_secs(45))]);
    }
}
