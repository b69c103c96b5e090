//! What the group driver reports about rebalances and group requests: the `gregor.rebalance`
//! and `gregor.group` tracing spans, and the coordinator metrics (`rebalance-*`,
//! `heartbeat-*`; `commit-latency` is recorded where the OffsetCommit is answered).
//!
//! A rebalance, as the metrics and the span count it — Java's `rebalance-latency` measures the
//! same stretch in `AbstractCoordinator` (classic) and `ConsumerRebalanceMetricsManager`
//! (KIP-848):
//! * classic: from the first JoinGroup to the assignment taking effect after SyncGroup
//!   ([`Event::Assigned`]);
//! * KIP-848: from the heartbeat response whose new target assignment makes the member revoke
//!   or add partitions to the end of that reconciliation (no revocation left to release).

use tokio::time::Instant;

use super::membership::{Event, Request};
use super::Inner;

/// The open rebalance, if any.
#[derive(Debug)]
pub(crate) struct RebalanceTracker {
    classic: bool,
    open: Option<(Instant, tracing::Span)>,
    /// Revocations (KIP-848) whose partitions were not released yet.
    revoking: usize,
    /// When the last response was handled (the start of a KIP-848 reconciliation).
    last_response: Option<Instant>,
}

impl RebalanceTracker {
    pub(crate) fn new(classic: bool) -> Self {
        RebalanceTracker { classic, open: None, revoking: 0, last_response: None }
    }

    fn start(&mut self, inner: &Inner, at: Instant) {
        if self.open.is_none() {
            let span = tracing::info_span!(
                "gregor.rebalance",
                group_id = inner.config.group_id.as_deref().unwrap_or(""),
                protocol = if self.classic { "classic" } else { "consumer" },
                generation = tracing::field::Empty,
                assigned = tracing::field::Empty,
            );
            self.open = Some((at, span));
        }
    }

    /// The rebalance is over (after the event that ended it took effect).
    pub(crate) fn finish(&mut self, inner: &Inner, now: Instant) {
        if let Some((since, span)) = self.open.take() {
            let m = inner.group.membership();
            span.record("generation", m.generation);
            span.record("assigned", inner.lock_state().assignment.len());
            inner.telemetry.rebalance_done(now.saturating_duration_since(since), now);
        }
    }

    /// The span group requests sent now belong to.
    pub(crate) fn parent(&self) -> Option<tracing::Id> {
        self.open.as_ref().and_then(|(_, s)| s.id())
    }

    /// A request goes out.
    pub(crate) fn on_send(&mut self, inner: &Inner, r: &Request, now: Instant) {
        if self.classic && matches!(r, Request::JoinGroup { .. }) {
            self.start(inner, now);
        }
    }

    /// A response (or failure) is handed to the member.
    pub(crate) fn on_response(&mut self, now: Instant) {
        self.last_response = Some(now);
    }

    /// The member emitted `e` (`closing`: the consumer is closing, its revocations are no
    /// rebalance). Returns true when the rebalance ends with `e`: call [`finish`](Self::finish)
    /// once `e` took effect.
    pub(crate) fn on_event(&mut self, inner: &Inner, e: &Event, now: Instant, closing: bool) -> bool {
        if self.classic {
            // Java `AbstractCoordinator`: a rebalance runs from the JoinGroup (after the
            // eager revocation) to the assignment after SyncGroup.
            return matches!(e, Event::Assigned(_)) && self.open.is_some();
        }
        match e {
            Event::Revoke(_) if !closing => {
                self.start(inner, self.last_response.unwrap_or(now));
                self.revoking += 1;
            }
            Event::Released(_) => self.revoking = self.revoking.saturating_sub(1),
            Event::Assigned(_) => self.start(inner, self.last_response.unwrap_or(now)),
            _ => {}
        }
        false
    }

    /// The member has nothing more to say for now: a KIP-848 reconciliation with no
    /// revocation left is over.
    pub(crate) fn after_pump(&mut self, inner: &Inner, now: Instant) {
        if !self.classic && self.revoking == 0 && self.open.is_some() {
            self.finish(inner, now);
        }
    }
}

/// The name of a group request in spans.
pub(crate) fn request_name(r: &Request) -> &'static str {
    match r {
        Request::FindCoordinator => "find_coordinator",
        Request::JoinGroup { .. } => "join_group",
        Request::Assign { .. } => "assign",
        Request::SyncGroup { .. } => "sync_group",
        Request::Heartbeat(_) => "heartbeat",
        Request::LeaveGroup { .. } => "leave_group",
        Request::ConsumerHeartbeat(_) => "consumer_group_heartbeat",
        Request::OffsetCommit { .. } => "offset_commit",
        Request::OffsetFetch { .. } => "offset_fetch",
    }
}

/// The `gregor.group` span of one group request: the request, the group, and who the member
/// is (member id and generation or epoch) as the request states it.
pub(crate) fn request_span(inner: &Inner, r: &Request, coordinator: i32, parent: Option<tracing::Id>) -> tracing::Span {
    let (member_id, generation): (&str, i32) = match r {
        Request::JoinGroup { member_id, generation, .. } => (member_id, *generation),
        Request::SyncGroup { membership, .. } | Request::Heartbeat(membership) => {
            (&membership.member_id, membership.generation)
        }
        Request::OffsetCommit { membership, .. } => (&membership.member_id, membership.generation),
        Request::ConsumerHeartbeat(h) => (&h.member_id, h.epoch),
        Request::LeaveGroup { member_id, .. } => (member_id, -1),
        _ => ("", -1),
    };
    tracing::debug_span!(
        parent: parent,
        "gregor.group",
        request = request_name(r),
        group_id = inner.config.group_id.as_deref().unwrap_or(""),
        coordinator,
        member_id,
        generation,
    )
}
