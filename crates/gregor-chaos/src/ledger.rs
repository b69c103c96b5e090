//! What the members consumed, and the checks on it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The ledger shared with the members' reader threads; every delivery notifies waiters.
#[derive(Debug, Default)]
pub struct Shared {
    ledger: Mutex<Ledger>,
    changed: Condvar,
}

impl Shared {
    pub fn new() -> Arc<Shared> {
        Arc::new(Shared::default())
    }

    pub fn delivered(&self, member: &str, partition: i32, offset: i64, timestamp_ms: i64, at: Instant) {
        self.ledger.lock().unwrap().delivered(member, partition, offset, timestamp_ms, at);
        self.changed.notify_all();
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap()
    }

    /// Waits until `done(ledger)` holds (woken by each delivery) or `timeout` passes; returns
    /// whether it holds.
    pub fn wait_until(&self, timeout: Duration, mut done: impl FnMut(&Ledger) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut g = self.ledger.lock().unwrap();
        loop {
            if done(&g) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            g = self.changed.wait_timeout(g, deadline - now).unwrap().0;
        }
    }
}

/// One fault of a scenario, as it happened.
#[derive(Debug, Clone)]
pub struct FaultWindow {
    pub name: String,
    pub start: Instant,
    pub start_ms: i64,
    /// When the fault ended (the broker is back, the tool finished, the member restarted).
    pub end: Option<Instant>,
    pub end_ms: Option<i64>,
    /// Committed offsets sampled just before the fault started.
    pub committed_before: BTreeMap<i32, i64>,
    /// From the end of the fault until the group had read everything produced by then.
    pub caught_up_after: Option<Duration>,
}

#[derive(Debug, Default)]
pub struct Ledger {
    /// (partition, offset) → when it was first delivered.
    first: HashMap<(i32, i64), Instant>,
    /// Deliveries after the first one: ((partition, offset), member, when).
    pub redeliveries: Vec<((i32, i64), String, Instant)>,
    /// When each record arrived (in arrival order), to find consumption gaps.
    arrivals: Vec<Instant>,
    /// (record timestamp, arrival wall clock) in ms, first deliveries only: end-to-end delay.
    delays: Vec<(i64, i64)>,
    pub per_member: BTreeMap<String, u64>,
    last_by_member: BTreeMap<String, Instant>,
    /// partition → the lowest offset not delivered yet.
    contiguous: BTreeMap<i32, i64>,
}

/// Milliseconds since the epoch, now.
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Ledger {
    pub fn delivered(&mut self, member: &str, partition: i32, offset: i64, timestamp_ms: i64, at: Instant) {
        *self.per_member.entry(member.to_string()).or_default() += 1;
        self.arrivals.push(at);
        if self.first.contains_key(&(partition, offset)) {
            self.redeliveries.push(((partition, offset), member.to_string(), at));
        } else {
            self.first.insert((partition, offset), at);
            let w = self.contiguous.entry(partition).or_insert(0);
            while self.first.contains_key(&(partition, *w)) {
                *w += 1;
            }
            self.last_by_member.insert(member.to_string(), at);
            if timestamp_ms >= 0 {
                self.delays.push((timestamp_ms, wall_ms()));
            }
        }
    }

    /// The longest end-to-end delay (arrival minus record timestamp) of the records produced
    /// between `from_ms` and `to_ms` (wall clock): how long the fault kept records waiting.
    pub fn max_delay_of_records_produced(&self, from_ms: i64, to_ms: i64) -> Option<i64> {
        self.delays.iter().filter(|(ts, _)| *ts >= from_ms && *ts <= to_ms).map(|(ts, at)| at - ts).max()
    }

    /// Whether every offset below `ends` was delivered.
    pub fn covers(&self, ends: &BTreeMap<i32, i64>) -> bool {
        ends.iter().all(|(p, e)| *e <= 0 || self.contiguous.get(p).is_some_and(|w| w >= e))
    }

    pub fn distinct(&self) -> usize {
        self.first.len()
    }

    /// Offsets in `[0, end)` of each partition that no member delivered.
    pub fn missing(&self, ends: &BTreeMap<i32, i64>) -> BTreeMap<i32, Vec<i64>> {
        let mut out = BTreeMap::new();
        for (&p, &end) in ends {
            let gaps: Vec<i64> = (0..end).filter(|o| !self.first.contains_key(&(p, *o))).collect();
            if !gaps.is_empty() {
                out.insert(p, gaps);
            }
        }
        out
    }

    /// The longest stretch without any record arriving within `[from, to]`.
    pub fn longest_gap(&self, from: Instant, to: Instant) -> Duration {
        let mut last = from;
        let mut worst = Duration::ZERO;
        for &t in self.arrivals.iter().filter(|t| **t >= from && **t <= to) {
            worst = worst.max(t - last);
            last = t;
        }
        worst.max(to.saturating_duration_since(last))
    }

    /// Redeliveries that are not explained by a fault: a record delivered again must lie in the
    /// uncommitted window of a fault that began after its first delivery (a member that takes a
    /// partition over starts from the committed offset, which is at least the one sampled when
    /// that fault began).
    pub fn unexplained_redeliveries(&self, faults: &[FaultWindow]) -> Vec<String> {
        let mut out = Vec::new();
        for ((p, o), member, at) in &self.redeliveries {
            let first = self.first[&(*p, *o)];
            // The fault that made the record come again: the first to begin after its first
            // delivery, or, when the first delivery happened during a fault, that fault.
            let cause = faults
                .iter()
                .find(|f| f.start >= first && f.start <= *at)
                .or_else(|| faults.iter().filter(|f| f.start <= first).last());
            let ok = cause.is_some_and(|f| f.committed_before.get(p).map_or(true, |c| *o >= *c));
            if !ok {
                out.push(format!("{p}@{o} again by {member}: below the committed offset when the fault began"));
            }
        }
        out
    }
}
