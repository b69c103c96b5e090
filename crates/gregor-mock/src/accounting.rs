//! Connection accounting: the ground truth that tests assert against.
//!
//! Every accepted TCP connection gets a [`ConnectionRecord`]; every request read off it is
//! appended in arrival order. Each change bumps a `tokio::sync::watch` counter so tests can
//! wait for a condition (`MockCluster::wait_until`) instead of sleeping.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// One request as read off a connection (before any fault was applied to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestRecord {
    /// Kafka API key (e.g. 1 = Fetch, 3 = Metadata).
    pub api_key: i16,
    /// API version the client used.
    pub api_version: i16,
    /// Correlation id from the request header.
    pub correlation_id: i32,
    /// When the broker read it off the socket (it reads the next request only after answering
    /// the previous one, as Kafka does).
    pub received_at: Instant,
}

/// Everything the mock knows about one accepted connection.
#[derive(Debug, Clone)]
pub struct ConnectionRecord {
    /// Cluster-unique, increasing connection id (accept order).
    pub id: u64,
    /// Broker that accepted the connection.
    pub broker_id: i32,
    /// The client's address (remote end from the broker's point of view).
    pub peer: SocketAddr,
    /// The broker's local address of this socket.
    pub local: SocketAddr,
    /// When the connection was accepted.
    pub opened_at: Instant,
    /// When the broker saw it close (client hang-up, fault, broker down, shutdown).
    pub closed_at: Option<Instant>,
    /// Requests in arrival order.
    pub requests: Vec<RequestRecord>,
}

impl ConnectionRecord {
    /// True while the broker still holds the socket.
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }

    /// Number of requests of `api_key` received on this connection.
    pub fn count(&self, api_key: i16) -> usize {
        self.requests
            .iter()
            .filter(|r| r.api_key == api_key)
            .count()
    }

    /// API keys of all requests, in order.
    pub fn api_keys(&self) -> Vec<i16> {
        self.requests.iter().map(|r| r.api_key).collect()
    }
}

/// Returned by `wait_until` when the condition did not hold before the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut;

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("timed out waiting for condition on mock cluster state")
    }
}

impl std::error::Error for TimedOut {}

pub(crate) struct Accounting {
    records: Mutex<Vec<ConnectionRecord>>,
    changed: watch::Sender<u64>,
}

impl Accounting {
    pub(crate) fn new() -> Self {
        Accounting {
            records: Mutex::new(Vec::new()),
            changed: watch::channel(0).0,
        }
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Records an accepted connection and returns its id.
    pub(crate) fn opened(&self, broker_id: i32, peer: SocketAddr, local: SocketAddr) -> u64 {
        let id = {
            let mut recs = self.records.lock().unwrap_or_else(|e| e.into_inner());
            let id = recs.len() as u64;
            recs.push(ConnectionRecord {
                id,
                broker_id,
                peer,
                local,
                opened_at: Instant::now(),
                closed_at: None,
                requests: Vec::new(),
            });
            id
        };
        self.bump();
        id
    }

    /// Appends a request; returns how many requests this connection has seen (1-based).
    pub(crate) fn request(&self, conn: u64, rec: RequestRecord) -> usize {
        let n = {
            let mut recs = self.records.lock().unwrap_or_else(|e| e.into_inner());
            match recs.get_mut(conn as usize) {
                Some(c) => {
                    c.requests.push(rec);
                    c.requests.len()
                }
                None => 0,
            }
        };
        self.bump();
        n
    }

    pub(crate) fn closed(&self, conn: u64) {
        {
            let mut recs = self.records.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = recs.get_mut(conn as usize) {
                if c.closed_at.is_none() {
                    c.closed_at = Some(Instant::now());
                }
            }
        }
        self.bump();
    }

    /// Signals a state change that is not an accounting change (a request was answered, a
    /// group timer fired), so `wait_for` predicates over cluster state are re-checked.
    pub(crate) fn touch(&self) {
        self.bump();
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub(crate) fn snapshot(&self) -> Vec<ConnectionRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until `pred(snapshot)` is true, re-checking on every accounting change.
    pub(crate) async fn wait_until<F>(&self, pred: F, timeout: Duration) -> Result<(), TimedOut>
    where
        F: Fn(&[ConnectionRecord]) -> bool,
    {
        let mut rx = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if pred(&self.snapshot()) {
                return Ok(());
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) | Err(_) => return Err(TimedOut),
            }
        }
    }
}
