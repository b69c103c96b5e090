//! Incremental fetch sessions (KIP-227), one per broker, without I/O.
//!
//! A full Fetch names every partition; with a session the broker remembers the partitions and
//! their fetch offsets, so later requests carry only what changed (a new fetch offset, a new
//! partition) plus the partitions to forget. This saves broker CPU and bandwidth when a consumer
//! reads many partitions. Rules (Java `FetchSessionHandler`):
//! * session id 0 + epoch 0: a full fetch that asks the broker to create a session;
//! * the response's session id (0 = the broker declined) starts the session at epoch 1;
//! * every later request increments the epoch (wrapping to 1, never 0 or -1);
//! * FETCH_SESSION_ID_NOT_FOUND (70) / INVALID_FETCH_SESSION_EPOCH (71), or any failed request,
//!   drop the session: the next request is a full one again.

use std::collections::{BTreeMap, BTreeSet};

use super::types::TopicPartition;

/// What one Fetch request must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionRequest {
    pub(crate) session_id: i32,
    pub(crate) epoch: i32,
    /// Partitions to send, with their fetch offsets.
    pub(crate) partitions: Vec<(TopicPartition, i64)>,
    /// Partitions the broker must drop from the session.
    pub(crate) forgotten: Vec<TopicPartition>,
}

#[derive(Debug, Default)]
pub(crate) struct FetchSession {
    id: i32,
    epoch: i32,
    /// What the broker's session holds: partition → the fetch offset last sent.
    sent: BTreeMap<TopicPartition, i64>,
    /// The request in flight: what `sent` becomes if it succeeds.
    pending: Option<BTreeMap<TopicPartition, i64>>,
}

impl FetchSession {
    /// Builds the next request for the partitions wanted now.
    pub(crate) fn build(&mut self, want: &BTreeMap<TopicPartition, i64>) -> SessionRequest {
        self.pending = Some(want.clone());
        if self.id == 0 {
            return SessionRequest {
                session_id: 0,
                epoch: 0,
                partitions: want.iter().map(|(tp, o)| (tp.clone(), *o)).collect(),
                forgotten: Vec::new(),
            };
        }
        let partitions = want
            .iter()
            .filter(|(tp, o)| self.sent.get(*tp) != Some(*o))
            .map(|(tp, o)| (tp.clone(), *o))
            .collect();
        let wanted: BTreeSet<&TopicPartition> = want.keys().collect();
        let forgotten = self.sent.keys().filter(|tp| !wanted.contains(tp)).cloned().collect();
        SessionRequest { session_id: self.id, epoch: self.epoch, partitions, forgotten }
    }

    /// The broker answered with top-level `error_code` and `session_id`.
    pub(crate) fn handle_response(&mut self, error_code: i16, session_id: i32) {
        let pending = self.pending.take();
        if error_code != 0 {
            self.reset();
            return;
        }
        if session_id == 0 {
            // The broker keeps no session (e.g. fetch sessions disabled): always full fetches.
            self.reset();
            return;
        }
        if self.id != session_id {
            self.id = session_id;
            self.epoch = 1;
        } else {
            self.epoch = if self.epoch >= i32::MAX - 1 { 1 } else { self.epoch + 1 };
        }
        if let Some(p) = pending {
            self.sent = p;
        }
    }

    /// The request failed (disconnect, timeout): start over with a full fetch.
    pub(crate) fn reset(&mut self) {
        self.id = 0;
        self.epoch = 0;
        self.sent.clear();
        self.pending = None;
    }

    #[cfg(test)]
    pub(crate) fn id(&self) -> i32 {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(v: &[(i32, i64)]) -> BTreeMap<TopicPartition, i64> {
        v.iter().map(|(p, o)| (TopicPartition::new("t", *p), *o)).collect()
    }

    #[test]
    fn first_request_is_full_and_asks_for_a_session() {
        let mut s = FetchSession::default();
        let r = s.build(&want(&[(0, 5), (1, 7)]));
        assert_eq!((r.session_id, r.epoch), (0, 0));
        assert_eq!(r.partitions.len(), 2);
    }

    #[test]
    fn incremental_requests_carry_only_changes_and_forgotten_partitions() {
        let mut s = FetchSession::default();
        s.build(&want(&[(0, 5), (1, 7), (2, 9)]));
        s.handle_response(0, 42);
        assert_eq!(s.id(), 42);
        // p0 advanced, p1 unchanged, p2 no longer wanted (e.g. paused or revoked), p3 new.
        let r = s.build(&want(&[(0, 6), (1, 7), (3, 0)]));
        assert_eq!((r.session_id, r.epoch), (42, 1));
        assert_eq!(r.partitions, vec![(TopicPartition::new("t", 0), 6), (TopicPartition::new("t", 3), 0)]);
        assert_eq!(r.forgotten, vec![TopicPartition::new("t", 2)]);
        s.handle_response(0, 42);
        let r = s.build(&want(&[(0, 6), (1, 7), (3, 0)]));
        assert_eq!(r.epoch, 2);
        assert!(r.partitions.is_empty() && r.forgotten.is_empty());
    }

    #[test]
    fn session_errors_fall_back_to_a_full_fetch() {
        let mut s = FetchSession::default();
        s.build(&want(&[(0, 5)]));
        s.handle_response(0, 42);
        s.build(&want(&[(0, 6)]));
        s.handle_response(71, 0); // INVALID_FETCH_SESSION_EPOCH
        let r = s.build(&want(&[(0, 6)]));
        assert_eq!((r.session_id, r.epoch), (0, 0));
        assert_eq!(r.partitions.len(), 1);
    }

    #[test]
    fn a_broker_without_sessions_gets_full_fetches() {
        let mut s = FetchSession::default();
        s.build(&want(&[(0, 5)]));
        s.handle_response(0, 0);
        let r = s.build(&want(&[(0, 5)]));
        assert_eq!((r.session_id, r.epoch), (0, 0));
        assert_eq!(r.partitions.len(), 1);
    }
}
