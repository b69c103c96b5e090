//! Counters of a consume run and the `--stats FILE` JSON.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use gregor::{ConnectionEventKind, ConnectionEvents, Consumer};

/// Opens and closes counted from the connection event stream (the metrics have no role split).
#[derive(Debug, Default, Clone)]
pub struct EventCounts {
    /// Connect attempts by role.
    pub opened_by_role: BTreeMap<String, u64>,
    /// Bootstrap sockets adopted as a broker's connection.
    pub adopted: u64,
    /// Closes by reason.
    pub closed_by_reason: BTreeMap<String, u64>,
}

/// Counts events in the background until the consumer goes away.
pub fn count_events(mut events: ConnectionEvents) -> Arc<Mutex<EventCounts>> {
    let counts = Arc::new(Mutex::new(EventCounts::default()));
    let c = counts.clone();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            let mut c = c.lock().unwrap_or_else(|p| p.into_inner());
            match ev.kind {
                ConnectionEventKind::Connecting => *c.opened_by_role.entry(ev.role.to_string()).or_default() += 1,
                ConnectionEventKind::Adopted { .. } => c.adopted += 1,
                ConnectionEventKind::Closed(r) => *c.closed_by_reason.entry(r.to_string()).or_default() += 1,
                _ => {}
            }
        }
    });
    counts
}

/// What a consume run did.
#[derive(Debug)]
pub struct RunStats {
    /// When the process started (for time to first record).
    pub process_start: Instant,
    /// When consuming started.
    pub started: Instant,
    /// Records received.
    pub records: u64,
    /// Key + value bytes received.
    pub bytes: u64,
    /// When the first record arrived.
    pub first_record: Option<Instant>,
}

impl RunStats {
    /// Counts one poll's records.
    pub fn add(&mut self, records: &[gregor::ConsumerRecord]) {
        if !records.is_empty() && self.first_record.is_none() {
            self.first_record = Some(Instant::now());
        }
        self.records += records.len() as u64;
        self.bytes += records
            .iter()
            .map(|r| (r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len())) as u64)
            .sum::<u64>();
    }

    /// The `--stats` document.
    pub fn to_json(&self, consumer: &Consumer, events: &EventCounts) -> serde_json::Value {
        let m = consumer.connection_metrics();
        let by_close: BTreeMap<String, u64> = m
            .connection_close_total
            .iter()
            .map(|(r, n)| (r.to_string(), *n))
            .collect();
        serde_json::json!({
            "records": self.records,
            "bytes": self.bytes,
            "elapsed_ms": self.started.elapsed().as_millis() as u64,
            "time_to_first_record_ms": self.first_record.map(|t| t.duration_since(self.process_start).as_millis() as u64),
            "connections": {
                "opened": m.connection_creation_total,
                "closed": m.close_total(),
                "open_now": m.connection_count,
                "max_open": m.connection_count_max,
                "failed": m.connection_failed_total,
                "adopted": events.adopted,
                "by_role": events.opened_by_role,
                "by_close_reason": by_close,
            },
        })
    }
}
