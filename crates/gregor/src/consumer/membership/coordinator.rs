//! Finding the group coordinator (FindCoordinator), without I/O.
//!
//! One lookup at a time; a retriable failure backs off exponentially (`retry.backoff.ms` to
//! `retry.backoff.max.ms`) and asks for a metadata refresh, as Java's
//! `AbstractCoordinator.ensureCoordinatorReady` does; GROUP_AUTHORIZATION_FAILED and other
//! non-retriable codes are fatal. Whoever learns that the coordinator moved (a NOT_COORDINATOR
//! answer, a dropped connection, an expired session) calls [`CoordinatorLookup::mark_unknown`],
//! and the next request that needs the coordinator starts a new lookup.

use tokio::time::Instant;

use super::RequestId;
use crate::error::{Error, ErrorKind};
use crate::net::backoff::ExponentialBackoff;
use crate::protocol_errors::KafkaCode;
use crate::rules::{self, Action, Api};

/// What a FindCoordinator answer means.
#[derive(Debug, Clone)]
pub(crate) enum FindOutcome {
    /// The coordinator is this broker.
    Found(i32),
    /// Look again at this instant; `refresh` asks for a metadata update first.
    RetryAt { at: Instant, refresh: bool, why: String },
    /// The group cannot be used (authorization, an invalid request).
    Fatal(Error),
    /// Not the answer to the lookup in flight (a stale one): ignore.
    Stale,
}

/// The coordinator as far as the member knows it.
#[derive(Debug, Clone)]
pub(crate) struct CoordinatorLookup {
    known: Option<i32>,
    in_flight: Option<RequestId>,
    failures: u32,
    backoff: ExponentialBackoff,
}

impl CoordinatorLookup {
    pub(crate) fn new(backoff: ExponentialBackoff) -> Self {
        CoordinatorLookup { known: None, in_flight: None, failures: 0, backoff }
    }

    /// The coordinator's broker id, when known.
    pub(crate) fn known(&self) -> Option<i32> {
        self.known
    }

    /// True when a lookup should be sent (unknown and none in flight); the caller checks the
    /// backoff timer.
    pub(crate) fn should_find(&self) -> bool {
        self.known.is_none() && self.in_flight.is_none()
    }

    pub(crate) fn sent(&mut self, id: RequestId) {
        self.in_flight = Some(id);
    }

    pub(crate) fn is_lookup(&self, id: RequestId) -> bool {
        self.in_flight == Some(id)
    }

    /// Forgets the coordinator. True when it was known (the caller tells the driver).
    pub(crate) fn mark_unknown(&mut self) -> bool {
        self.known.take().is_some()
    }

    /// A FindCoordinator response: the error code of the group's entry and the node it names.
    pub(crate) fn handle_response(&mut self, now: Instant, id: RequestId, code: KafkaCode, node: i32) -> FindOutcome {
        if !self.is_lookup(id) {
            return FindOutcome::Stale;
        }
        self.in_flight = None;
        match rules::action(Api::FindCoordinator, code) {
            Action::Proceed if node >= 0 => {
                self.failures = 0;
                self.known = Some(node);
                FindOutcome::Found(node)
            }
            // "No error" but no node: a broken answer; look again.
            Action::Proceed => self.retry(now, false, "FindCoordinator named no node".into()),
            Action::RefreshMetadata | Action::Retry => {
                self.retry(now, true, format!("FindCoordinator: {}", code.name()))
            }
            _ => FindOutcome::Fatal(Error::broker_code(code.code(), "FindCoordinator for the group failed")),
        }
    }

    /// The lookup failed without an answer (connection, timeout, ...).
    pub(crate) fn handle_failure(&mut self, now: Instant, id: RequestId, e: &Error) -> FindOutcome {
        if !self.is_lookup(id) {
            return FindOutcome::Stale;
        }
        self.in_flight = None;
        if e.is_retriable() || e.kind() == ErrorKind::Unreachable {
            self.retry(now, true, format!("FindCoordinator failed: {e}"))
        } else {
            FindOutcome::Fatal(e.clone())
        }
    }

    fn retry(&mut self, now: Instant, refresh: bool, why: String) -> FindOutcome {
        let at = now + self.backoff.base(self.failures);
        self.failures = self.failures.saturating_add(1);
        FindOutcome::RetryAt { at, refresh, why }
    }
}
