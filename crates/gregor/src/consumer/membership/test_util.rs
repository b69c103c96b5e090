//! The in-memory driver of the membership tests: virtual time, no sockets. The test plays the
//! coordinator by answering the requests the member hands out.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::commits::{CommitOrigin, OpId};
use super::{CoreConfig, Event, GroupMember, Outgoing, Request, RequestId, Response};
use crate::consumer::types::{OffsetAndMetadata, TopicPartition};
use crate::error::Result;
use crate::net::backoff::ExponentialBackoff;
use crate::protocol_errors::KafkaCode;

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) fn core_cfg() -> CoreConfig {
    CoreConfig {
        retry_backoff: ExponentialBackoff::new(ms(100), ms(1000)),
        api_timeout: ms(60_000),
        auto_commit: Some(ms(5_000)),
    }
}

pub(super) fn tp(topic: &str, p: i32) -> TopicPartition {
    TopicPartition::new(topic, p)
}

pub(super) fn offsets(list: &[(&TopicPartition, i64)]) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
    list.iter().map(|(tp, o)| ((*tp).clone(), OffsetAndMetadata::new(*o))).collect()
}

/// A member under test, the virtual clock, and what it asked for so far.
pub(super) struct Sim<M: GroupMember> {
    pub(super) m: M,
    pub(super) now: Instant,
    /// Requests handed out and not yet answered or taken by the test.
    pub(super) out: Vec<Outgoing>,
    /// Every event so far, in order.
    pub(super) events: Vec<Event>,
    /// Positions the simulated application has consumed (what auto-commit and revocations
    /// commit).
    pub(super) positions: BTreeMap<TopicPartition, i64>,
    /// The partitions the simulated consumer state holds (what Assigned/Revoke/Lost did).
    pub(super) assignment: std::collections::BTreeSet<TopicPartition>,
}

impl<M: GroupMember> Sim<M> {
    pub(super) fn new(m: M) -> Self {
        Sim {
            m,
            now: Instant::now(),
            out: Vec::new(),
            events: Vec::new(),
            positions: BTreeMap::new(),
            assignment: Default::default(),
        }
    }

    /// Collects requests and carries out events as the real driver does (listener: commits
    /// nothing itself; positions from `self.positions`).
    pub(super) fn pump(&mut self) {
        loop {
            let mut progress = false;
            while let Some(o) = self.m.poll_request(self.now) {
                self.out.push(o);
                progress = true;
            }
            while let Some(e) = self.m.poll_event() {
                progress = true;
                match &e {
                    Event::Assigned(p) => self.assignment.extend(p.iter().cloned()),
                    Event::Released(p) | Event::Lost(p) => {
                        for tp in p {
                            self.assignment.remove(tp);
                        }
                    }
                    Event::Revoke(p) => {
                        let pos: BTreeMap<TopicPartition, OffsetAndMetadata> = p
                            .iter()
                            .filter_map(|tp| self.positions.get(tp).map(|o| (tp.clone(), OffsetAndMetadata::new(*o))))
                            .collect();
                        for tp in p {
                            self.assignment.remove(tp);
                        }
                        self.events.push(e.clone());
                        self.m.handle_revoked(self.now, pos, BTreeMap::new());
                        continue;
                    }
                    Event::AutoCommitDue => {
                        let pos: BTreeMap<TopicPartition, OffsetAndMetadata> = self
                            .positions
                            .iter()
                            .filter(|(tp, _)| self.assignment.contains(*tp))
                            .map(|(tp, o)| (tp.clone(), OffsetAndMetadata::new(*o)))
                            .collect();
                        self.events.push(e.clone());
                        self.m.handle_auto_commit(self.now, pos);
                        continue;
                    }
                    _ => {}
                }
                self.events.push(e);
            }
            if !progress {
                break;
            }
        }
    }

    /// Moves the clock by `d`, firing every timer due on the way (in order).
    pub(super) fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        let mut spins = 0;
        loop {
            self.pump();
            match self.m.poll_timeout() {
                Some(t) if t <= end => {
                    // A timer that stays due after handle_timeout would spin the driver.
                    spins = if t <= self.now { spins + 1 } else { 0 };
                    assert!(spins < 100, "a timer stays due at the same instant: {:?}", self.m);
                    self.now = self.now.max(t);
                    self.m.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = end;
        self.m.handle_timeout(self.now);
        self.pump();
    }

    /// The application polls now.
    pub(super) fn app_poll(&mut self) {
        self.m.handle_application_poll(self.now, self.now);
        self.pump();
    }

    /// Takes the first outstanding request matching `f`, panicking with what is outstanding.
    pub(super) fn take(&mut self, what: &str, f: impl Fn(&Request) -> bool) -> Outgoing {
        self.pump();
        match self.out.iter().position(|o| f(&o.request)) {
            Some(i) => self.out.remove(i),
            None => panic!("expected {what}; outstanding: {:#?}", self.out),
        }
    }

    /// True when a request matching `f` is outstanding.
    pub(super) fn has(&mut self, f: impl Fn(&Request) -> bool) -> bool {
        self.pump();
        self.out.iter().any(|o| f(&o.request))
    }

    pub(super) fn answer(&mut self, id: RequestId, r: Response) {
        self.m.handle_response(self.now, id, r);
        self.pump();
    }

    pub(super) fn fail(&mut self, id: RequestId, e: crate::error::Error) {
        self.m.handle_failure(self.now, id, &e);
        self.pump();
    }

    /// Answers the outstanding FindCoordinator with `node`.
    pub(super) fn find_coordinator(&mut self, node: i32) {
        let o = self.take("FindCoordinator", |r| matches!(r, Request::FindCoordinator));
        self.answer(o.id, Response::FindCoordinator { code: KafkaCode::NONE, node });
    }

    pub(super) fn commit(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        read_under: Option<super::Membership>,
        origin: CommitOrigin,
    ) -> OpId {
        let id = self.m.commit(self.now, offsets, read_under, origin);
        self.pump();
        id
    }

    /// The result of commit `id`, if it ended.
    pub(super) fn commit_result(&self, id: OpId) -> Option<Result<()>> {
        self.events.iter().find_map(|e| match e {
            Event::CommitDone { id: i, result, .. } if *i == id => Some(result.clone()),
            _ => None,
        })
    }

    /// Events so far matching `f`.
    pub(super) fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|e| f(e)).count()
    }

    pub(super) fn clear_events(&mut self) {
        self.events.clear();
    }

    /// The errors the application would see from `poll`.
    pub(super) fn app_errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Error(e) => Some(e.to_string()),
                _ => None,
            })
            .collect()
    }
}
