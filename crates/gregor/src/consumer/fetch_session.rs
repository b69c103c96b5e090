//! Incremental fetch sessions (KIP-227), one per broker, without I/O.
//!
//! A full Fetch names every partition; with a session the broker remembers the partitions and
//! what was asked for each, so later requests carry only what changed plus the partitions to
//! forget. This saves broker CPU and bandwidth when a consumer reads many partitions. The rules
//! (Java `FetchSessionHandler`):
//! * session id 0 + epoch 0: a full fetch that asks the broker to create a session;
//! * the response's session id (0 = the broker declined) starts the session at epoch 1;
//! * every later request increments the epoch (wrapping to 1, never 0 or -1);
//! * a partition is sent again whenever **any** field of its request data changes — fetch
//!   offset, current leader epoch, last fetched epoch, log start offset, max bytes, topic id
//!   (`FetchSessionHandler.Builder.build` compares the whole `PartitionData`). Sending only
//!   changed offsets is not enough: after a leader change that keeps the offset, the broker's
//!   session would keep the old leader epoch and answer FENCED_LEADER_EPOCH forever (issue #19);
//! * FETCH_SESSION_ID_NOT_FOUND: start from scratch (id 0); any other top-level error or a
//!   failed request: close the session and open a new one (the old id with epoch 0, Java's
//!   `nextCloseExistingAttemptNew`), so the broker frees the old session's cache slot.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::types::TopicPartition;
use crate::protocol_errors::KafkaCode;

/// Everything a Fetch asks about one partition. Two equal values need not be sent twice within
/// a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartitionRequest {
    pub(crate) topic_id: Uuid,
    pub(crate) fetch_offset: i64,
    /// The leader epoch from metadata (-1 unknown): the broker fences requests from the past.
    pub(crate) current_leader_epoch: i32,
    /// The epoch of the last record fetched (-1 unknown), for divergence detection (KIP-595).
    pub(crate) last_fetched_epoch: i32,
    pub(crate) log_start_offset: i64,
    pub(crate) max_bytes: i32,
}

/// What one Fetch request must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionRequest {
    pub(crate) session_id: i32,
    pub(crate) epoch: i32,
    /// Partitions to send, with their request data.
    pub(crate) partitions: Vec<(TopicPartition, PartitionRequest)>,
    /// Partitions the broker must drop from the session (with the topic id they were sent under).
    pub(crate) forgotten: Vec<(TopicPartition, Uuid)>,
}

impl SessionRequest {
    #[cfg(test)]
    pub(crate) fn is_full(&self) -> bool {
        self.epoch == 0
    }
}

#[derive(Debug, Default)]
pub(crate) struct FetchSession {
    id: i32,
    epoch: i32,
    /// What the broker's session holds: partition → the request data last sent.
    sent: BTreeMap<TopicPartition, PartitionRequest>,
    /// The request in flight: what `sent` becomes if it succeeds.
    pending: Option<BTreeMap<TopicPartition, PartitionRequest>>,
}

impl FetchSession {
    /// Builds the next request for the partitions wanted now.
    pub(crate) fn build(&mut self, want: &BTreeMap<TopicPartition, PartitionRequest>) -> SessionRequest {
        self.pending = Some(want.clone());
        if self.epoch == 0 {
            return SessionRequest {
                session_id: self.id,
                epoch: 0,
                partitions: want.iter().map(|(tp, r)| (tp.clone(), *r)).collect(),
                forgotten: Vec::new(),
            };
        }
        let mut partitions = Vec::new();
        let mut forgotten = Vec::new();
        for (tp, r) in want {
            match self.sent.get(tp) {
                Some(prev) if prev == r => {}
                Some(prev) if prev.topic_id != r.topic_id && !prev.topic_id.is_nil() && !r.topic_id.is_nil() => {
                    // The topic was recreated under the same name: forget the old one, send the new.
                    forgotten.push((tp.clone(), prev.topic_id));
                    partitions.push((tp.clone(), *r));
                }
                _ => partitions.push((tp.clone(), *r)),
            }
        }
        let wanted: BTreeSet<&TopicPartition> = want.keys().collect();
        forgotten.extend(self.sent.iter().filter(|(tp, _)| !wanted.contains(tp)).map(|(tp, r)| (tp.clone(), r.topic_id)));
        SessionRequest { session_id: self.id, epoch: self.epoch, partitions, forgotten }
    }

    /// The broker answered with top-level `error` and `session_id`.
    pub(crate) fn handle_response(&mut self, error: KafkaCode, session_id: i32) {
        let pending = self.pending.take();
        if error == KafkaCode::FETCH_SESSION_ID_NOT_FOUND {
            self.id = 0;
            self.close_and_reopen();
            return;
        }
        if !error.is_ok() {
            self.close_and_reopen();
            return;
        }
        if session_id == 0 {
            // The broker keeps no session (fetch sessions disabled, or it closed this one):
            // always full fetches.
            self.id = 0;
            self.close_and_reopen();
            return;
        }
        if self.id != session_id || self.epoch == 0 {
            self.id = session_id;
            self.epoch = 1;
        } else {
            self.epoch = if self.epoch >= i32::MAX - 1 { 1 } else { self.epoch + 1 };
        }
        if let Some(p) = pending {
            self.sent = p;
        }
    }

    /// The request failed (disconnect, timeout): close this session and open a new one with
    /// the next (full) fetch.
    pub(crate) fn handle_failure(&mut self) {
        self.close_and_reopen();
    }

    fn close_and_reopen(&mut self) {
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

    fn req(offset: i64) -> PartitionRequest {
        PartitionRequest {
            topic_id: Uuid::from_u128(7),
            fetch_offset: offset,
            current_leader_epoch: 3,
            last_fetched_epoch: -1,
            log_start_offset: -1,
            max_bytes: 1 << 20,
        }
    }

    fn want(v: &[(i32, i64)]) -> BTreeMap<TopicPartition, PartitionRequest> {
        v.iter().map(|(p, o)| (TopicPartition::new("t", *p), req(*o))).collect()
    }

    #[test]
    fn first_request_is_full_and_asks_for_a_session() {
        let mut s = FetchSession::default();
        let r = s.build(&want(&[(0, 5), (1, 7)]));
        assert_eq!((r.session_id, r.epoch), (0, 0));
        assert!(r.is_full());
        assert_eq!(r.partitions.len(), 2);
    }

    #[test]
    fn incremental_requests_carry_only_changes_and_forgotten_partitions() {
        let mut s = FetchSession::default();
        s.build(&want(&[(0, 5), (1, 7), (2, 9)]));
        s.handle_response(KafkaCode::NONE, 42);
        assert_eq!(s.id(), 42);
        // p0 advanced, p1 unchanged, p2 no longer wanted (e.g. paused or revoked), p3 new.
        let r = s.build(&want(&[(0, 6), (1, 7), (3, 0)]));
        assert_eq!((r.session_id, r.epoch), (42, 1));
        let sent: Vec<(i32, i64)> = r.partitions.iter().map(|(tp, r)| (tp.partition, r.fetch_offset)).collect();
        assert_eq!(sent, vec![(0, 6), (3, 0)]);
        assert_eq!(r.forgotten, vec![(TopicPartition::new("t", 2), Uuid::from_u128(7))]);
        s.handle_response(KafkaCode::NONE, 42);
        let r = s.build(&want(&[(0, 6), (1, 7), (3, 0)]));
        assert_eq!(r.epoch, 2);
        assert!(r.partitions.is_empty() && r.forgotten.is_empty());
    }

    /// Issue #19: a leader change that keeps the fetch offset must still reach the broker's
    /// session, or the broker fences every later Fetch with the old epoch.
    #[test]
    fn a_new_leader_epoch_is_sent_even_when_the_offset_stays() {
        let mut s = FetchSession::default();
        s.build(&want(&[(0, 100), (1, 200)]));
        s.handle_response(KafkaCode::NONE, 9);
        let mut next = want(&[(0, 100), (1, 200)]);
        next.get_mut(&TopicPartition::new("t", 0)).unwrap().current_leader_epoch = 4;
        let r = s.build(&next);
        assert_eq!(r.partitions.len(), 1, "only the partition whose epoch changed");
        assert_eq!((r.partitions[0].0.partition, r.partitions[0].1.current_leader_epoch), (0, 4));
        // Every other field counts too.
        s.handle_response(KafkaCode::NONE, 9);
        for change in [
            |r: &mut PartitionRequest| r.last_fetched_epoch = 2,
            |r: &mut PartitionRequest| r.log_start_offset = 10,
            |r: &mut PartitionRequest| r.max_bytes = 5,
        ] {
            let mut w = next.clone();
            change(w.get_mut(&TopicPartition::new("t", 1)).unwrap());
            let r = s.build(&w);
            assert_eq!(r.partitions.len(), 1);
            s.handle_response(KafkaCode::NONE, 9);
            next = w;
        }
    }

    #[test]
    fn a_recreated_topic_is_forgotten_under_its_old_id_and_sent_under_the_new() {
        let mut s = FetchSession::default();
        s.build(&want(&[(0, 5)]));
        s.handle_response(KafkaCode::NONE, 1);
        let mut w = want(&[(0, 0)]);
        w.get_mut(&TopicPartition::new("t", 0)).unwrap().topic_id = Uuid::from_u128(8);
        let r = s.build(&w);
        assert_eq!(r.forgotten, vec![(TopicPartition::new("t", 0), Uuid::from_u128(7))]);
        assert_eq!(r.partitions[0].1.topic_id, Uuid::from_u128(8));
    }

    #[test]
    fn session_errors_fall_back_to_a_full_fetch_that_closes_the_old_session() {
        let mut s = FetchSession::default();
        s.build(&want(&[(0, 5)]));
        s.handle_response(KafkaCode::NONE, 42);
        s.build(&want(&[(0, 6)]));
        s.handle_response(KafkaCode::INVALID_FETCH_SESSION_EPOCH, 0);
        let r = s.build(&want(&[(0, 6)]));
        assert_eq!((r.session_id, r.epoch), (42, 0), "close 42 and open a new session");
        assert_eq!(r.partitions.len(), 1);
        s.handle_response(KafkaCode::NONE, 43);
        assert_eq!(s.build(&want(&[(0, 6)])).epoch, 1);
    }

    #[test]
    fn an_unknown_session_starts_from_scratch() {
        let mut s = FetchSession::default();
        s.build(&want(&[(0, 5)]));
        s.handle_response(KafkaCode::NONE, 42);
        s.build(&want(&[(0, 6)]));
        s.handle_response(KafkaCode::FETCH_SESSION_ID_NOT_FOUND, 0);
        let r = s.build(&want(&[(0, 6)]));
        assert_eq!((r.session_id, r.epoch), (0, 0));
    }

    #[test]
    fn a_failed_request_resends_everything() {
        let mut s = FetchSession::default();
        s.build(&want(&[(0, 5), (1, 1)]));
        s.handle_response(KafkaCode::NONE, 42);
        s.build(&want(&[(0, 5), (1, 1)]));
        s.handle_failure();
        let r = s.build(&want(&[(0, 5), (1, 1)]));
        assert!(r.is_full());
        assert_eq!(r.partitions.len(), 2);
    }

    #[test]
    fn a_broker_without_sessions_gets_full_fetches() {
        let mut s = FetchSession::default();
        s.build(&want(&[(0, 5)]));
        s.handle_response(KafkaCode::NONE, 0);
        let r = s.build(&want(&[(0, 5)]));
        assert_eq!((r.session_id, r.epoch), (0, 0));
        assert_eq!(r.partitions.len(), 1);
    }
}
