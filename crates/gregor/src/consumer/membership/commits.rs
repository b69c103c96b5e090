//! Commits and committed-offset lookups waiting for (or at) the group coordinator, without I/O.
//!
//! Every OffsetCommit and OffsetFetch of the consumer goes through this queue, whoever asked for
//! it: the application (`commit_sync`, `commit_async`, `committed`), the auto-commit timer, a
//! revocation, `close()`, the position initialisation. The queue keeps the bookkeeping — what is
//! in flight, when to retry, the deadline — and the member machines decide, with the rules
//! table, what each answer means for the member (`classic.rs`, `kip848.rs`).
//!
//! Each commit carries its [`CommitOrigin`], which says how hard to try (Java differs per
//! caller: `commitSync` retries retriable errors until its timer expires, `commitAsync` and the
//! auto-commit try once, the commit before a rebalance retries until the rebalance timeout) and
//! whether a failure is the application's to see.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::time::Instant;

use super::{Membership, RequestId};
use crate::consumer::types::{OffsetAndMetadata, TopicPartition};
use crate::error::{Error, ErrorKind};
use crate::net::backoff::ExponentialBackoff;

/// Identifies one commit or one offset lookup asked of the member.
pub(crate) type OpId = u64;

/// Who asked for a commit, which decides how hard to try and who sees the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CommitOrigin {
    /// `commit_sync` / `commit_offsets_sync`: retriable errors are retried until the deadline
    /// (`default.api.timeout.ms`); the outcome is returned (Java `commitOffsetsSync`).
    Sync,
    /// `commit_async`: one attempt; the outcome is logged (Java `commitOffsetsAsync`).
    Async,
    /// The auto-commit timer: one attempt; a retriable failure brings the next auto-commit
    /// forward to `retry.backoff.ms` (Java `autoCommitOffsetsAsync`). Never the application's
    /// business.
    Auto,
    /// Before partitions are released in a rebalance: retried until the rebalance timeout
    /// (Java `onJoinPrepare`, `maybeAutoCommitSyncBeforeRebalance`); the rebalance goes on
    /// whatever the outcome.
    Revocation,
    /// `close()`: retried until the close deadline.
    Close,
}

impl CommitOrigin {
    /// Whether retriable failures are retried (rather than ending the commit).
    pub(crate) fn retries(self) -> bool {
        matches!(self, CommitOrigin::Sync | CommitOrigin::Revocation | CommitOrigin::Close)
    }
}

/// A commit waiting to be sent, or in flight.
#[derive(Debug, Clone)]
pub(crate) struct PendingCommit {
    pub(crate) id: OpId,
    pub(crate) offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    /// The generation (classic) or member epoch (KIP-848) under which the offsets were read.
    pub(crate) read_under: Membership,
    pub(crate) origin: CommitOrigin,
    pub(crate) deadline: Instant,
    retry_at: Option<Instant>,
    pub(crate) attempts: u32,
    in_flight: Option<RequestId>,
    /// The membership the request in flight carries.
    pub(crate) sent_as: Option<Membership>,
    last_error: Option<Error>,
}

/// An OffsetFetch waiting to be sent, or in flight.
#[derive(Debug, Clone)]
pub(crate) struct PendingFetch {
    pub(crate) id: OpId,
    pub(crate) partitions: Vec<TopicPartition>,
    pub(crate) deadline: Instant,
    retry_at: Option<Instant>,
    attempts: u32,
    in_flight: Option<RequestId>,
    last_error: Option<Error>,
}

/// The outcome of an offset lookup: tp → committed offset (absent: nothing committed).
pub(crate) type Committed = HashMap<TopicPartition, OffsetAndMetadata>;

/// The queue.
#[derive(Debug)]
pub(crate) struct CommitQueue {
    commits: Vec<PendingCommit>,
    fetches: Vec<PendingFetch>,
    next_id: OpId,
    backoff: ExponentialBackoff,
}

impl CommitQueue {
    pub(crate) fn new(backoff: ExponentialBackoff) -> Self {
        CommitQueue { commits: Vec::new(), fetches: Vec::new(), next_id: 1, backoff }
    }

    fn next_id(&mut self) -> OpId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Queues a commit; it goes out once the coordinator is known.
    pub(crate) fn push_commit(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        read_under: Membership,
        origin: CommitOrigin,
        deadline: Instant,
    ) -> OpId {
        let id = self.next_id();
        self.commits.push(PendingCommit {
            id,
            offsets,
            read_under,
            origin,
            deadline,
            retry_at: None,
            attempts: 0,
            in_flight: None,
            sent_as: None,
            last_error: None,
        });
        id
    }

    /// Queues an offset lookup.
    pub(crate) fn push_fetch(&mut self, partitions: Vec<TopicPartition>, deadline: Instant) -> OpId {
        let id = self.next_id();
        self.fetches.push(PendingFetch {
            id,
            partitions,
            deadline,
            retry_at: None,
            attempts: 0,
            in_flight: None,
            last_error: None,
        });
        id
    }

    /// True when something waits for the coordinator.
    pub(crate) fn needs_coordinator(&self) -> bool {
        self.commits.iter().any(|c| c.in_flight.is_none()) || self.fetches.iter().any(|f| f.in_flight.is_none())
    }

    /// True while a commit of this origin is queued or in flight.
    pub(crate) fn has(&self, origin: CommitOrigin) -> bool {
        self.commits.iter().any(|c| c.origin == origin)
    }

    /// The next commit that may be sent now (not in flight, backoff over), in queue order.
    pub(crate) fn next_sendable_commit(&self, now: Instant) -> Option<OpId> {
        self.commits
            .iter()
            .find(|c| c.in_flight.is_none() && c.retry_at.is_none_or(|t| t <= now))
            .map(|c| c.id)
    }

    pub(crate) fn commit(&self, id: OpId) -> Option<&PendingCommit> {
        self.commits.iter().find(|c| c.id == id)
    }

    /// Marks a commit as sent under `sent_as` with request `req`.
    pub(crate) fn commit_sent(&mut self, id: OpId, req: RequestId, sent_as: Membership) {
        if let Some(c) = self.commits.iter_mut().find(|c| c.id == id) {
            c.in_flight = Some(req);
            c.sent_as = Some(sent_as);
            c.attempts += 1;
        }
    }

    /// Removes and returns the commit whose request is `req`.
    pub(crate) fn take_commit_by_request(&mut self, req: RequestId) -> Option<PendingCommit> {
        let i = self.commits.iter().position(|c| c.in_flight == Some(req))?;
        Some(self.commits.remove(i))
    }

    /// Removes and returns a commit by its id (one that ends before it is sent).
    pub(crate) fn take_commit(&mut self, id: OpId) -> Option<PendingCommit> {
        let i = self.commits.iter().position(|c| c.id == id)?;
        Some(self.commits.remove(i))
    }

    /// Puts a commit back to be retried after the backoff, unless its deadline comes first:
    /// then it is handed back with the error it ends with.
    pub(crate) fn retry_commit(&mut self, now: Instant, mut c: PendingCommit, e: Error) -> Result<(), (PendingCommit, Error)> {
        let at = now + self.backoff.base(c.attempts.saturating_sub(1));
        if !c.origin.retries() || at >= c.deadline {
            let e = if c.origin.retries() { timed_out("commit", &e) } else { e };
            return Err((c, e));
        }
        c.in_flight = None;
        c.sent_as = None;
        c.retry_at = Some(at);
        c.last_error = Some(e);
        self.commits.push(c);
        // Keep queue order by id: commits go out in the order they were asked for.
        self.commits.sort_by_key(|c| c.id);
        Ok(())
    }

    /// The next offset lookup that may be sent now.
    pub(crate) fn next_sendable_fetch(&self, now: Instant) -> Option<OpId> {
        self.fetches
            .iter()
            .find(|f| f.in_flight.is_none() && f.retry_at.is_none_or(|t| t <= now))
            .map(|f| f.id)
    }

    pub(crate) fn fetch(&self, id: OpId) -> Option<&PendingFetch> {
        self.fetches.iter().find(|f| f.id == id)
    }

    pub(crate) fn fetch_sent(&mut self, id: OpId, req: RequestId) {
        if let Some(f) = self.fetches.iter_mut().find(|f| f.id == id) {
            f.in_flight = Some(req);
            f.attempts += 1;
        }
    }

    pub(crate) fn take_fetch_by_request(&mut self, req: RequestId) -> Option<PendingFetch> {
        let i = self.fetches.iter().position(|f| f.in_flight == Some(req))?;
        Some(self.fetches.remove(i))
    }

    /// Puts an offset lookup back to be retried, unless its deadline comes first.
    pub(crate) fn retry_fetch(&mut self, now: Instant, mut f: PendingFetch, e: Error) -> Result<(), (OpId, Error)> {
        let at = now + self.backoff.base(f.attempts.saturating_sub(1));
        if at >= f.deadline {
            return Err((f.id, timed_out("committed-offset lookup", &e)));
        }
        f.in_flight = None;
        f.retry_at = Some(at);
        f.last_error = Some(e);
        self.fetches.push(f);
        self.fetches.sort_by_key(|f| f.id);
        Ok(())
    }

    /// Commits and lookups past their deadline that are not in flight (an answer in flight is
    /// waited for: `request.timeout.ms` bounds it). Each comes back with its timeout error.
    pub(crate) fn expire(&mut self, now: Instant) -> (Vec<(PendingCommit, Error)>, Vec<(OpId, Error)>) {
        let mut commits = Vec::new();
        let mut i = 0;
        while i < self.commits.len() {
            if self.commits[i].in_flight.is_none() && self.commits[i].deadline <= now {
                let c = self.commits.remove(i);
                let e = c.last_error.clone().map_or_else(
                    || Error::new(ErrorKind::Timeout, "the group coordinator could not be reached before the commit's deadline"),
                    |e| timed_out("commit", &e),
                );
                commits.push((c, e));
            } else {
                i += 1;
            }
        }
        let mut fetches = Vec::new();
        let mut i = 0;
        while i < self.fetches.len() {
            if self.fetches[i].in_flight.is_none() && self.fetches[i].deadline <= now {
                let f = self.fetches.remove(i);
                let e = f.last_error.clone().map_or_else(
                    || {
                        Error::new(
                            ErrorKind::Timeout,
                            "the group coordinator could not be reached within default.api.timeout.ms",
                        )
                    },
                    |e| timed_out("committed-offset lookup", &e),
                );
                fetches.push((f.id, e));
            } else {
                i += 1;
            }
        }
        (commits, fetches)
    }

    /// Ends everything queued (not in flight) with `e`, e.g. when the member became fatal.
    pub(crate) fn fail_all(&mut self, e: &Error) -> (Vec<PendingCommit>, Vec<OpId>) {
        let commits = std::mem::take(&mut self.commits);
        let fetches = std::mem::take(&mut self.fetches).into_iter().map(|f| f.id).collect();
        let _ = e;
        (commits, fetches)
    }

    /// When something queued must be looked at again: the earliest retry (still to come) or
    /// deadline of what is not in flight. A retry time already passed is not a wake-up: such a
    /// request waits for the coordinator, which is an event of its own.
    pub(crate) fn next_wakeup(&self, now: Instant) -> Option<Instant> {
        let c = self.commits.iter().filter(|c| c.in_flight.is_none()).flat_map(|c| [c.retry_at, Some(c.deadline)]);
        let f = self.fetches.iter().filter(|f| f.in_flight.is_none()).flat_map(|f| [f.retry_at, Some(f.deadline)]);
        c.chain(f).flatten().filter(|t| *t > now).min()
    }

    /// The retry backoff after `attempts` attempts.
    pub(crate) fn backoff(&self, attempts: u32) -> Duration {
        self.backoff.base(attempts)
    }
}

fn timed_out(what: &str, last: &Error) -> Error {
    Error::new(ErrorKind::Timeout, format!("the {what} did not succeed before its deadline")).with_source(last.clone())
}
