//! The connection manager: every decision about sockets, with no I/O and explicit time.
//!
//! This is gregor's sans-io core (in the manner of quinn-proto). The driver (`net::client`)
//! feeds it inputs — `select` for a request, `handle_connected`, `handle_connect_failed`,
//! `handle_closed`, `handle_metadata`, `request_started/finished`, `handle_timeout` — and carries
//! out the [`Action`]s it queues. Tests drive it with made-up instants and no sockets.
//!
//! The rules (SPEC-connections.md):
//! * Nothing is opened until a request needs a connection (construction opens nothing).
//! * Metadata and FindCoordinator go to the *least-loaded* node (Java `NetworkClient.leastLoadedNode`).
//! * A connection's identity is its endpoint (host as configured or advertised,
//!   case-insensitive, and port) plus, once known, the broker id and role. When metadata shows
//!   broker N advertised at exactly the endpoint of a live bootstrap connection, that socket is
//!   **adopted** as broker N's instead of opening a second one (Java keys sockets by node id
//!   only, so its bootstrap socket `-1` is never reused).
//! * A bootstrap connection that is not adopted is **retired**: closed as soon as nothing is in
//!   flight, at most [`RETIRE_GRACE`] after the metadata response, whatever
//!   `connections.max.idle.ms` says (Java leaves it to the idle reaper, or forever with -1).
//! * Idle time counts only while nothing is in flight; the least recently used goes first.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use super::backoff::ExponentialBackoff;
use super::events::{
    CloseReason, ConnectionEvent, ConnectionEventKind, ConnectionMetrics, OpenReason, Role,
};

/// The longest a retired bootstrap connection may stay open after the first metadata response.
pub(crate) const RETIRE_GRACE: Duration = Duration::from_secs(1);

/// A broker address: host as configured or advertised, and port.
///
/// Equality ignores the host's case (DNS names are case-insensitive) but never resolves it:
/// several brokers may sit behind one IP (TLS SNI routing), and a load balancer's name matches
/// no advertised broker, so matching on resolved addresses would adopt the wrong socket.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl Endpoint {
    pub(crate) fn new(host: impl Into<String>, port: u16) -> Self {
        Endpoint { host: host.into(), port }
    }

    fn same(&self, other: &Endpoint) -> bool {
        self.port == other.port && self.host.eq_ignore_ascii_case(&other.host)
    }

    fn key(&self) -> (String, u16) {
        (self.host.to_ascii_lowercase(), self.port)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Who a request must go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The least-loaded node (Metadata, FindCoordinator).
    AnyNode,
    /// Broker `id` over its broker connection (Fetch, ListOffsets, ...).
    Broker(i32),
    /// Broker `id` as group coordinator, over the dedicated coordinator connection (or the
    /// broker connection when the coordinator connection is shared).
    Coordinator(i32),
}

/// Settings of the core, from the client config.
#[derive(Debug, Clone)]
pub(crate) struct ManagerConfig {
    pub(crate) bootstrap: Vec<Endpoint>,
    pub(crate) reconnect_backoff: ExponentialBackoff,
    pub(crate) setup_timeout: ExponentialBackoff,
    /// `connections.max.idle.ms`; `None` for -1 (never).
    pub(crate) idle_timeout: Option<Duration>,
    /// Client-wide cap on new connection attempts in any one-second window; 0 = no cap.
    pub(crate) attempts_per_sec: u32,
    /// `metadata.recovery.rebootstrap.trigger.ms`, or `None` when
    /// `metadata.recovery.strategy=none`.
    pub(crate) rebootstrap_trigger: Option<Duration>,
    /// Group requests ride on the broker connection instead of a dedicated one.
    pub(crate) shared_coordinator: bool,
    pub(crate) seed: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Connecting { deadline: Instant },
    Ready,
    /// Takes no new requests; closes when nothing is in flight (or at the deadline).
    Draining { reason: CloseReason, deadline: Option<Instant> },
    /// Told the driver to close it; waiting for `handle_closed`.
    Closing,
}

#[derive(Debug)]
struct Conn {
    endpoint: Endpoint,
    role: Role,
    broker_id: Option<i32>,
    bootstrap_index: Option<usize>,
    state: State,
    in_flight: usize,
    last_active: Instant,
    opened_for: OpenReason,
    local: Option<SocketAddr>,
    remote: Option<SocketAddr>,
    /// A close reason decided by the manager, reported when the socket is gone.
    close_reason: Option<CloseReason>,
    /// The handshake completed at least once (a close before that is a failed connect).
    established: bool,
    /// Since when the client has not needed this broker (see `handle_needed_brokers`).
    unneeded_since: Option<Instant>,
    /// For the statistics snapshot.
    opened_at: Instant,
    requests: u64,
    bytes_out: u64,
    bytes_in: u64,
}

impl Conn {
    fn node_label(&self) -> String {
        match (self.role, self.broker_id, self.bootstrap_index) {
            (Role::Coordinator, Some(id), _) => (i32::MAX - id).to_string(),
            (_, Some(id), _) => id.to_string(),
            (_, None, Some(i)) => (-(i as i64) - 1).to_string(),
            _ => "?".to_string(),
        }
    }

    fn usable(&self) -> bool {
        matches!(self.state, State::Connecting { .. } | State::Ready)
    }
}

/// Reconnect bookkeeping per endpoint (Java's `ClusterConnectionStates.NodeConnectionState`).
#[derive(Debug, Default, Clone)]
struct Health {
    failures: u32,
    next_attempt: Option<Instant>,
    last_attempt: Option<Instant>,
    /// Which resolved address to try next (`client.dns.lookup=use_all_dns_ips`: one address
    /// per attempt, moving on after a failure).
    addr_attempt: usize,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Open socket `conn_id` to `endpoint`, trying resolved address number `addr_attempt`
    /// (modulo the number of addresses).
    Connect { conn_id: u64, endpoint: String, host: String, port: u16, addr_attempt: usize },
    /// Close socket `conn_id`.
    Close { conn_id: u64, reason: CloseReason },
}

/// The answer to "where does this request go?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selection {
    /// Queue the request on this connection (it may still be connecting).
    Use(u64),
    /// Nothing can be used before this instant (backoff or the attempt cap).
    WaitUntil(Instant),
    /// No broker is known for the target: refresh metadata (or find the coordinator again).
    UnknownNode,
}

/// The sans-io connection manager.
#[derive(Debug)]
pub(crate) struct ConnectionManager {
    cfg: ManagerConfig,
    brokers: BTreeMap<i32, Endpoint>,
    /// True once a metadata response listed the brokers (false again after a rebootstrap).
    have_metadata: bool,
    /// When the metadata update that is still failing was first attempted (KIP-1102: the
    /// rebootstrap trigger counts from here); `None` after a success.
    metadata_failing_since: Option<Instant>,
    conns: BTreeMap<u64, Conn>,
    health: HashMap<(String, u16), Health>,
    attempts: VecDeque<Instant>,
    next_id: u64,
    actions: VecDeque<Action>,
    events: VecDeque<ConnectionEvent>,
    metrics: ConnectionMetrics,
    rng: StdRng,
    rebootstraps: u64,
    /// The brokers the client needs sockets to, when it has said (`handle_needed_brokers`).
    needed: Option<BTreeSet<i32>>,
    /// The group coordinator: its broker is needed while group requests share the broker
    /// connection (`ManagerConfig::shared_coordinator`).
    coordinator: Option<i32>,
    /// The `metrics` facade handles of the connection counters (none in unit tests).
    telemetry: Option<std::sync::Arc<crate::telemetry::NetTelemetry>>,
}

/// How long a broker connection may stay unneeded before it is closed. Long enough that a
/// leadership that moves away and back within seconds (a preferred-leader election right after
/// a broker restart) keeps its socket; short enough that after a leader change or a rebalance
/// the client is back to one socket per leader well within a minute.
pub(crate) const UNNEEDED_GRACE: Duration = Duration::from_secs(15);

impl ConnectionManager {
    pub(crate) fn new(cfg: ManagerConfig) -> Self {
        let rng = match cfg.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_entropy(),
        };
        ConnectionManager {
            cfg,
            brokers: BTreeMap::new(),
            have_metadata: false,
            metadata_failing_since: None,
            conns: BTreeMap::new(),
            health: HashMap::new(),
            attempts: VecDeque::new(),
            next_id: 1,
            actions: VecDeque::new(),
            events: VecDeque::new(),
            metrics: ConnectionMetrics::default(),
            rng,
            rebootstraps: 0,
            needed: None,
            coordinator: None,
            telemetry: None,
        }
    }

    // ----- outputs -------------------------------------------------------------------------

    pub(crate) fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub(crate) fn poll_event(&mut self) -> Option<ConnectionEvent> {
        self.events.pop_front()
    }

    pub(crate) fn metrics(&self) -> &ConnectionMetrics {
        &self.metrics
    }

    pub(crate) fn metrics_mut(&mut self) -> &mut ConnectionMetrics {
        &mut self.metrics
    }

    #[cfg(test)]
    pub(crate) fn rebootstraps(&self) -> u64 {
        self.rebootstraps
    }

    /// The node label of a connection, for logs and per-node metrics.
    pub(crate) fn node_label(&self, conn_id: u64) -> String {
        self.conns.get(&conn_id).map(|c| c.node_label()).unwrap_or_else(|| "?".into())
    }

    /// `host:port` and node of a connection, for error messages.
    pub(crate) fn describe(&self, conn_id: u64) -> String {
        match self.conns.get(&conn_id) {
            Some(c) => format!("{} (node {})", c.endpoint, c.node_label()),
            None => format!("connection #{conn_id}"),
        }
    }

    /// Connections that are open or opening.
    pub(crate) fn open_count(&self) -> usize {
        self.conns.len()
    }

    pub(crate) fn known_brokers(&self) -> impl Iterator<Item = (i32, &Endpoint)> {
        self.brokers.iter().map(|(id, e)| (*id, e))
    }

    /// When the driver must call [`handle_timeout`](Self::handle_timeout) next.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        for c in self.conns.values() {
            match c.state {
                State::Connecting { deadline } => consider(deadline),
                State::Draining { deadline: Some(d), .. } => consider(d),
                State::Ready if c.in_flight == 0 => {
                    if let Some(idle) = self.cfg.idle_timeout {
                        consider(c.last_active + idle)
                    }
                    if let Some(t) = c.unneeded_since {
                        consider(t + UNNEEDED_GRACE)
                    }
                }
                _ => {}
            }
        }
        next
    }

    // ----- inputs --------------------------------------------------------------------------

    /// Picks (or opens) the connection for a request to `target`.
    pub(crate) fn select(&mut self, target: Target, why: OpenReason, now: Instant) -> Selection {
        match target {
            Target::AnyNode => self.select_least_loaded(why, now),
            Target::Broker(id) => self.select_broker(id, Role::Broker, why, now),
            Target::Coordinator(id) if self.cfg.shared_coordinator => {
                self.select_broker(id, Role::Broker, why, now)
            }
            Target::Coordinator(id) => self.select_broker(id, Role::Coordinator, why, now),
        }
    }

    fn select_broker(&mut self, id: i32, role: Role, why: OpenReason, now: Instant) -> Selection {
        if let Some((cid, _)) = self
            .conns
            .iter()
            .find(|(_, c)| c.role == role && c.broker_id == Some(id) && c.usable())
        {
            return Selection::Use(*cid);
        }
        let Some(endpoint) = self.brokers.get(&id).cloned() else {
            return Selection::UnknownNode;
        };
        if let Some(wait) = self.blocked_until(&endpoint, now) {
            return Selection::WaitUntil(wait);
        }
        Selection::Use(self.open(endpoint, role, Some(id), None, why, now))
    }

    /// Java's least-loaded node: a ready connection with nothing in flight wins at once; else
    /// the ready one with the fewest in flight; else one that is connecting; else a node whose
    /// backoff has expired, the one attempted longest ago first. A random start offset spreads
    /// many clients over the cluster.
    fn select_least_loaded(&mut self, why: OpenReason, now: Instant) -> Selection {
        if self.have_metadata && self.all_brokers_failing() {
            self.rebootstrap(now, "no known broker is reachable");
        }
        // (endpoint, broker id, bootstrap index)
        let candidates: Vec<(Endpoint, Option<i32>, Option<usize>)> = if self.have_metadata {
            self.brokers.iter().map(|(id, e)| (e.clone(), Some(*id), None)).collect()
        } else {
            self.cfg
                .bootstrap
                .iter()
                .enumerate()
                .map(|(i, e)| (e.clone(), None, Some(i)))
                .collect()
        };
        if candidates.is_empty() {
            return Selection::UnknownNode;
        }
        let offset = self.rng.gen_range(0..candidates.len());
        let mut best_ready: Option<(usize, u64)> = None;
        let mut connecting: Option<u64> = None;
        let mut idle_node: Option<(Option<Instant>, usize)> = None;
        let mut earliest_wait: Option<Instant> = None;
        for k in 0..candidates.len() {
            let i = (offset + k) % candidates.len();
            let (ep, broker, _) = &candidates[i];
            let conn = self.conns.iter().find(|(_, c)| {
                c.usable()
                    && c.role != Role::Coordinator
                    && match broker {
                        Some(id) => c.broker_id == Some(*id),
                        None => c.endpoint.same(ep),
                    }
            });
            match conn {
                Some((cid, c)) if c.state == State::Ready => {
                    if c.in_flight == 0 {
                        return Selection::Use(*cid);
                    }
                    if best_ready.map_or(true, |(n, _)| c.in_flight < n) {
                        best_ready = Some((c.in_flight, *cid));
                    }
                }
                Some((cid, _)) => connecting = connecting.or(Some(*cid)),
                None => {
                    let h = self.health.get(&ep.key());
                    match h.and_then(|h| h.next_attempt).filter(|t| *t > now) {
                        Some(t) => earliest_wait = Some(earliest_wait.map_or(t, |w| w.min(t))),
                        None => {
                            let last = h.and_then(|h| h.last_attempt);
                            let better = match idle_node {
                                None => true,
                                Some((best_last, _)) => match (last, best_last) {
                                    (None, Some(_)) => true,
                                    (Some(a), Some(b)) => a < b,
                                    _ => false,
                                },
                            };
                            if better {
                                idle_node = Some((last, i));
                            }
                        }
                    }
                }
            }
        }
        if let Some((_, cid)) = best_ready {
            return Selection::Use(cid);
        }
        if let Some(cid) = connecting {
            return Selection::Use(cid);
        }
        if let Some((_, i)) = idle_node {
            let (ep, broker, bidx) = candidates[i].clone();
            if let Some(wait) = self.cap_blocked_until(now) {
                return Selection::WaitUntil(wait);
            }
            let role = if broker.is_some() { Role::Broker } else { Role::Bootstrap };
            let why = if bidx.is_some() { OpenReason::Bootstrap } else { why };
            return Selection::Use(self.open(ep, role, broker, bidx, why, now));
        }
        match earliest_wait {
            Some(t) => Selection::WaitUntil(t),
            None => Selection::UnknownNode,
        }
    }

    fn all_brokers_failing(&self) -> bool {
        !self.brokers.is_empty()
            && self.brokers.iter().all(|(id, ep)| {
                let live = self
                    .conns
                    .values()
                    .any(|c| c.usable() && c.broker_id == Some(*id) && c.role != Role::Coordinator);
                !live && self.health.get(&ep.key()).map_or(false, |h| h.failures > 0)
            })
    }

    /// `metadata.recovery.strategy=rebootstrap`: forget the brokers and go back to
    /// `bootstrap.servers`, because no known broker can be reached (KIP-899), metadata could not
    /// be had from any of them for `metadata.recovery.rebootstrap.trigger.ms`, or a broker
    /// answered REBOOTSTRAP_REQUIRED (KIP-1102).
    fn rebootstrap(&mut self, now: Instant, why: &str) {
        if self.cfg.rebootstrap_trigger.is_none() {
            return;
        }
        tracing::info!(brokers = self.brokers.len(), reason = why, "rebootstrapping: going back to bootstrap.servers");
        self.have_metadata = false;
        // The bootstrap servers get a full trigger period of their own.
        self.metadata_failing_since = Some(now);
        self.rebootstraps += 1;
        // Bootstrap addresses get a fresh start: their earlier failures were as brokers.
        for ep in &self.cfg.bootstrap {
            self.health.remove(&ep.key());
        }
    }

    /// Whether a new socket to `ep` is held back, and until when.
    fn blocked_until(&self, ep: &Endpoint, now: Instant) -> Option<Instant> {
        if let Some(t) = self.health.get(&ep.key()).and_then(|h| h.next_attempt) {
            if t > now {
                return Some(t);
            }
        }
        self.cap_blocked_until(now)
    }

    /// The client-wide attempt cap: at most `attempts_per_sec` connects in any 1 s window, so a
    /// flapping cluster (or one behind a connection-rate limit) is not hammered.
    fn cap_blocked_until(&self, now: Instant) -> Option<Instant> {
        let cap = self.cfg.attempts_per_sec as usize;
        if cap == 0 {
            return None;
        }
        let window = Duration::from_secs(1);
        let recent: Vec<&Instant> = self.attempts.iter().filter(|t| now < **t + window).collect();
        if recent.len() >= cap {
            Some(*recent[recent.len() - cap] + window)
        } else {
            None
        }
    }

    fn open(
        &mut self,
        endpoint: Endpoint,
        role: Role,
        broker_id: Option<i32>,
        bootstrap_index: Option<usize>,
        why: OpenReason,
        now: Instant,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let h = self.health.entry(endpoint.key()).or_default();
        h.last_attempt = Some(now);
        let addr_attempt = h.addr_attempt;
        let setup = self.cfg.setup_timeout.jittered(h.failures, self.rng.gen());
        self.attempts.push_back(now);
        while self.attempts.len() > 1 && now >= self.attempts[0] + Duration::from_secs(1) {
            self.attempts.pop_front();
        }
        let conn = Conn {
            endpoint: endpoint.clone(),
            role,
            broker_id,
            bootstrap_index,
            state: State::Connecting { deadline: now + setup },
            in_flight: 0,
            last_active: now,
            opened_for: why,
            local: None,
            remote: None,
            close_reason: None,
            established: false,
            unneeded_since: None,
            opened_at: now,
            requests: 0,
            bytes_out: 0,
            bytes_in: 0,
        };
        self.conns.insert(id, conn);
        self.mark_unneeded(now);
        self.metrics.connection_creation_total += 1;
        self.metrics.connection_count = self.conns.len() as u64;
        if let Some(t) = &self.telemetry {
            t.connection_created(self.conns.len());
        }
        self.metrics.connection_count_max =
            self.metrics.connection_count_max.max(self.metrics.connection_count);
        self.emit(id, ConnectionEventKind::Connecting, None);
        self.actions.push_back(Action::Connect {
            conn_id: id,
            endpoint: endpoint.to_string(),
            host: endpoint.host.clone(),
            port: endpoint.port,
            addr_attempt,
        });
        id
    }

    /// The socket is connected and its handshake done.
    pub(crate) fn handle_connected(
        &mut self,
        conn_id: u64,
        local: Option<SocketAddr>,
        remote: Option<SocketAddr>,
        now: Instant,
    ) {
        let Some(c) = self.conns.get_mut(&conn_id) else { return };
        c.local = local;
        c.remote = remote;
        c.last_active = now;
        c.established = true;
        if let State::Connecting { .. } = c.state {
            c.state = State::Ready;
        }
        let key = c.endpoint.key();
        // Java resets the reconnect backoff once a connection becomes ready.
        self.health.insert(key, Health::default());
        self.emit(conn_id, ConnectionEventKind::Ready, None);
        self.maybe_finish_drain(conn_id);
    }

    /// The socket could not be set up (connect, TLS, SASL or ApiVersions failed).
    /// A connection renewed its SASL session (KIP-368): an event, and a counter.
    pub(crate) fn handle_reauthenticated(&mut self, conn_id: u64, session_lifetime: Option<std::time::Duration>) {
        if self.conns.contains_key(&conn_id) {
            self.metrics.successful_reauthentication_total += 1;
            self.emit(conn_id, ConnectionEventKind::Reauthenticated { session_lifetime }, None);
        }
    }

    pub(crate) fn handle_connect_failed(&mut self, conn_id: u64, error: &str, now: Instant) {
        let Some(c) = self.conns.remove(&conn_id) else { return };
        self.record_failure(&c.endpoint, now);
        self.metrics.connection_failed_total += 1;
        self.metrics.connection_count = self.conns.len() as u64;
        tracing::warn!(
            node = %c.node_label(), endpoint = %c.endpoint, role = %c.role, error,
            "connection to node {} ({}) could not be established", c.node_label(), c.endpoint
        );
        let reason = c.close_reason;
        self.push_event(conn_id, &c, ConnectionEventKind::ConnectFailed, Some(error.to_string()));
        if let Some(r) = reason {
            *self.metrics.connection_close_total.entry(r).or_default() += 1;
            if let Some(t) = &self.telemetry {
                t.connection_closed(r, self.conns.len());
            }
        }
    }

    fn record_failure(&mut self, ep: &Endpoint, now: Instant) {
        let backoff = self.cfg.reconnect_backoff;
        let unit: f64 = self.rng.gen();
        let h = self.health.entry(ep.key()).or_default();
        h.next_attempt = Some(now + backoff.jittered(h.failures, unit));
        h.failures = h.failures.saturating_add(1);
        h.addr_attempt = h.addr_attempt.wrapping_add(1);
    }

    /// The socket is gone. `reason` is what the socket task saw; a reason the manager decided
    /// earlier (idle, retired, ...) takes precedence.
    pub(crate) fn handle_closed(
        &mut self,
        conn_id: u64,
        reason: CloseReason,
        error: Option<String>,
        now: Instant,
    ) {
        let Some(c) = self.conns.get(&conn_id) else { return };
        if !c.established {
            let msg = error.unwrap_or_else(|| reason.to_string());
            if c.close_reason.is_none() {
                if let Some(c) = self.conns.get_mut(&conn_id) {
                    c.close_reason = Some(reason);
                }
            }
            self.handle_connect_failed(conn_id, &msg, now);
            return;
        }
        let c = self.conns.remove(&conn_id).expect("checked above");
        let reason = c.close_reason.unwrap_or(reason);
        *self.metrics.connection_close_total.entry(reason).or_default() += 1;
        self.metrics.connection_count = self.conns.len() as u64;
        if let Some(t) = &self.telemetry {
            t.connection_closed(reason, self.conns.len());
        }
        self.push_event(conn_id, &c, ConnectionEventKind::Closed(reason), error);
    }

    pub(crate) fn request_started(&mut self, conn_id: u64, now: Instant) {
        if let Some(c) = self.conns.get_mut(&conn_id) {
            c.in_flight += 1;
            c.last_active = now;
        }
    }

    /// A request on `conn_id` was answered: counted for the statistics snapshot.
    pub(crate) fn record_traffic(&mut self, conn_id: u64, bytes_out: u64, bytes_in: u64) {
        if let Some(c) = self.conns.get_mut(&conn_id) {
            c.requests += 1;
            c.bytes_out += bytes_out;
            c.bytes_in += bytes_in;
        }
    }

    /// Every socket the manager knows, for the statistics snapshot.
    pub(crate) fn connection_statistics(&self, now: Instant) -> Vec<crate::statistics::ConnectionStatistics> {
        let mut v: Vec<_> = self
            .conns
            .iter()
            .map(|(id, c)| crate::statistics::ConnectionStatistics {
                connection_id: *id,
                role: c.role,
                opened_for: c.opened_for,
                endpoint: c.endpoint.to_string(),
                node_id: c.broker_id,
                remote_addr: c.remote,
                ready: !matches!(c.state, State::Connecting { .. }),
                age: now.saturating_duration_since(c.opened_at),
                requests: c.requests,
                in_flight: c.in_flight,
                bytes_out: c.bytes_out,
                bytes_in: c.bytes_in,
            })
            .collect();
        v.sort_by_key(|c| c.connection_id);
        v
    }

    /// Where the connection counters also go (the `metrics` facade).
    pub(crate) fn set_telemetry(&mut self, t: std::sync::Arc<crate::telemetry::NetTelemetry>) {
        self.telemetry = Some(t);
    }

    pub(crate) fn request_finished(&mut self, conn_id: u64, now: Instant) {
        if let Some(c) = self.conns.get_mut(&conn_id) {
            c.in_flight = c.in_flight.saturating_sub(1);
            c.last_active = now;
        }
        self.maybe_finish_drain(conn_id);
    }

    /// The brokers the client needs connections to now: for a consumer, the leaders (or
    /// preferred replicas) of the partitions it fetches, and the coordinator when group
    /// requests share the broker connection. A broker connection (role *broker*) to any other
    /// broker is closed once it has been unneeded for [`UNNEEDED_GRACE`] with nothing in
    /// flight, so that after a leader change or a rebalance the client is back to L sockets
    /// (+1 coordinator) instead of keeping the old ones for `connections.max.idle.ms`.
    /// Bootstrap and dedicated coordinator connections follow their own rules. When group
    /// requests share the broker connection (KIP-848's default), the coordinator's broker
    /// (`handle_coordinator`) is always needed. An empty set (nothing assigned) is a set like
    /// any other: a rebalance shorter than the grace keeps the sockets; a member left with no
    /// partitions keeps only its coordinator connection.
    pub(crate) fn handle_needed_brokers(&mut self, needed: BTreeSet<i32>, now: Instant) {
        self.needed = Some(needed);
        self.mark_unneeded(now);
    }

    /// Starts or stops the unneeded clock of every connection (also for connections opened or
    /// adopted after the client last said what it needs).
    fn mark_unneeded(&mut self, now: Instant) {
        for c in self.conns.values_mut() {
            let unneeded = match (&self.needed, c.role, c.broker_id) {
                (Some(needed), Role::Broker, Some(id)) => {
                    // The coordinator rides on this connection only when group requests share
                    // it (KIP-848's default); otherwise it has its own (role coordinator).
                    let coordinator_here = self.cfg.shared_coordinator && self.coordinator == Some(id);
                    !needed.contains(&id) && !coordinator_here
                }
                _ => false,
            };
            if !unneeded {
                c.unneeded_since = None;
            } else if c.unneeded_since.is_none() {
                c.unneeded_since = Some(now);
            }
        }
    }

    /// A metadata request is about to be sent. The rebootstrap trigger (KIP-1102) counts from
    /// the first attempt of an update that has not succeeded yet, so a healthy client, whose
    /// updates succeed, never rebootstraps however long it runs. As in Java
    /// (`NetworkClient.DefaultMetadataUpdater.maybeUpdate`), the trigger is checked when an
    /// update is attempted.
    pub(crate) fn handle_metadata_attempt(&mut self, now: Instant) {
        let since = *self.metadata_failing_since.get_or_insert(now);
        if let (Some(trigger), true) = (self.cfg.rebootstrap_trigger, self.have_metadata) {
            if now >= since + trigger {
                self.rebootstrap(now, "no metadata from any known broker for metadata.recovery.rebootstrap.trigger.ms");
            }
        }
    }

    /// `client.dns.lookup=resolve_canonical_bootstrap_servers_only`: the bootstrap list after its
    /// hosts were expanded to their canonical names (before the first connection).
    pub(crate) fn handle_bootstrap_resolved(&mut self, bootstrap: Vec<Endpoint>) {
        self.cfg.bootstrap = bootstrap;
    }

    /// A broker answered REBOOTSTRAP_REQUIRED (KIP-1102): its view of the cluster says ours is
    /// too stale to recover from; go back to `bootstrap.servers` now.
    pub(crate) fn handle_rebootstrap_required(&mut self, now: Instant) {
        if self.have_metadata {
            self.rebootstrap(now, "a broker answered REBOOTSTRAP_REQUIRED");
        }
    }

    /// A metadata response listed these brokers (id, advertised endpoint).
    pub(crate) fn handle_metadata(&mut self, brokers: Vec<(i32, Endpoint)>, now: Instant) {
        if brokers.is_empty() {
            return;
        }
        self.brokers = brokers.into_iter().collect();
        self.have_metadata = true;
        self.metadata_failing_since = None;
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for cid in ids {
            let (role, broker_id, endpoint, usable) = {
                let c = &self.conns[&cid];
                (c.role, c.broker_id, c.endpoint.clone(), c.usable())
            };
            if !usable {
                continue;
            }
            match (role, broker_id) {
                (Role::Bootstrap, _) => {
                    let owner = self.brokers.iter().find(|(_, e)| e.same(&endpoint)).map(|(id, _)| *id);
                    match owner {
                        Some(id) if !self.has_broker_conn(id, cid) => {
                            let c = self.conns.get_mut(&cid).expect("present");
                            c.role = Role::Broker;
                            c.broker_id = Some(id);
                            self.emit(cid, ConnectionEventKind::Adopted { broker_id: id }, None);
                        }
                        Some(_) => self.drain(cid, CloseReason::AdoptedAway, Some(now + RETIRE_GRACE)),
                        None => self.drain(cid, CloseReason::Retired, Some(now + RETIRE_GRACE)),
                    }
                }
                (_, Some(id)) => {
                    let moved = self.brokers.get(&id).map_or(true, |e| !e.same(&endpoint));
                    if moved {
                        self.drain(cid, CloseReason::EndpointChanged, None);
                    }
                }
                _ => {}
            }
        }
        self.mark_unneeded(now);
    }

    fn has_broker_conn(&self, id: i32, except: u64) -> bool {
        self.conns.iter().any(|(cid, c)| {
            *cid != except && c.usable() && c.role == Role::Broker && c.broker_id == Some(id)
        })
    }

    /// The group coordinator is now `id` (or unknown): a dedicated connection to any other
    /// broker is no longer needed.
    pub(crate) fn handle_coordinator(&mut self, id: Option<i32>, now: Instant) {
        self.coordinator = id;
        self.mark_unneeded(now);
        let stale: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.usable() && c.role == Role::Coordinator && c.broker_id != id)
            .map(|(cid, _)| *cid)
            .collect();
        for cid in stale {
            self.drain(cid, CloseReason::EndpointChanged, None);
        }
    }

    /// Close every connection (the client is closing).
    pub(crate) fn shutdown(&mut self) {
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for cid in ids {
            self.close(cid, CloseReason::Shutdown);
        }
    }

    /// Closes one connection now, whatever it is doing (used when a socket reported an error).
    pub(crate) fn close(&mut self, conn_id: u64, reason: CloseReason) {
        if let Some(c) = self.conns.get_mut(&conn_id) {
            if c.state == State::Closing {
                return;
            }
            c.state = State::Closing;
            c.close_reason.get_or_insert(reason);
            self.actions.push_back(Action::Close { conn_id, reason });
        }
    }

    fn drain(&mut self, conn_id: u64, reason: CloseReason, deadline: Option<Instant>) {
        if let Some(c) = self.conns.get_mut(&conn_id) {
            c.state = State::Draining { reason, deadline };
            c.close_reason = Some(reason);
        }
        self.maybe_finish_drain(conn_id);
    }

    fn maybe_finish_drain(&mut self, conn_id: u64) {
        let Some(c) = self.conns.get(&conn_id) else { return };
        if let State::Draining { reason, .. } = c.state {
            // A connection still connecting has nothing in flight on the wire yet, but requests
            // may be queued behind the handshake; those fail with a clear error and are retried.
            if c.in_flight == 0 {
                self.close(conn_id, reason);
            }
        }
    }

    /// Timers: setup timeouts, drain deadlines, idle reaping.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let mut expired_setup = Vec::new();
        let mut expired_drain = Vec::new();
        let mut idle: Vec<(Instant, u64)> = Vec::new();
        let mut unneeded = Vec::new();
        for (cid, c) in &self.conns {
            match c.state {
                State::Connecting { deadline } if now >= deadline => expired_setup.push(*cid),
                State::Draining { reason, deadline: Some(d) } if now >= d => {
                    expired_drain.push((*cid, reason))
                }
                State::Ready if c.in_flight == 0 => {
                    if let Some(t) = self.cfg.idle_timeout {
                        if now >= c.last_active + t {
                            idle.push((c.last_active, *cid));
                            continue;
                        }
                    }
                    if c.unneeded_since.map_or(false, |t| now >= t + UNNEEDED_GRACE) {
                        unneeded.push(*cid);
                    }
                }
                _ => {}
            }
        }
        for cid in expired_setup {
            self.close(cid, CloseReason::SetupTimeout);
        }
        for (cid, reason) in expired_drain {
            self.close(cid, reason);
        }
        // Least recently used first (Java's `Selector.maybeCloseOldestConnection`).
        idle.sort();
        for (_, cid) in idle {
            tracing::debug!(node = %self.node_label(cid), "closing idle connection");
            self.close(cid, CloseReason::Idle);
        }
        for cid in unneeded {
            tracing::debug!(node = %self.node_label(cid), "closing a connection to a broker no longer needed");
            self.close(cid, CloseReason::Unneeded);
        }

    }

    // ----- events --------------------------------------------------------------------------

    fn emit(&mut self, conn_id: u64, kind: ConnectionEventKind, error: Option<String>) {
        let Some(c) = self.conns.get(&conn_id) else { return };
        let ev = build_event(conn_id, c, kind, error);
        log_event(&ev);
        self.events.push_back(ev);
    }

    fn push_event(&mut self, conn_id: u64, c: &Conn, kind: ConnectionEventKind, error: Option<String>) {
        let ev = build_event(conn_id, c, kind, error);
        log_event(&ev);
        self.events.push_back(ev);
    }
}

fn build_event(conn_id: u64, c: &Conn, kind: ConnectionEventKind, error: Option<String>) -> ConnectionEvent {
    ConnectionEvent {
        connection_id: conn_id,
        kind,
        broker_id: c.broker_id,
        node: c.node_label(),
        role: c.role,
        endpoint: c.endpoint.to_string(),
        local_addr: c.local,
        remote_addr: c.remote,
        opened_for: c.opened_for,
        error,
        at: SystemTime::now(),
    }
}

/// Log lines in the spirit of Java's `NetworkClient`: debug for opens and closes, warn for
/// failed connects (logged where the failure is handled).
fn log_event(ev: &ConnectionEvent) {
    match &ev.kind {
        ConnectionEventKind::Connecting => tracing::debug!(
            conn = ev.connection_id, node = %ev.node, role = %ev.role, endpoint = %ev.endpoint,
            opened_for = %ev.opened_for, "initiating connection to node {}", ev.node
        ),
        ConnectionEventKind::Ready => tracing::debug!(
            conn = ev.connection_id, node = %ev.node, role = %ev.role, endpoint = %ev.endpoint,
            local = ?ev.local_addr, remote = ?ev.remote_addr, "completed connection to node {}", ev.node
        ),
        ConnectionEventKind::Adopted { broker_id } => tracing::debug!(
            conn = ev.connection_id, endpoint = %ev.endpoint, broker_id,
            "bootstrap connection adopted as broker {broker_id}"
        ),
        ConnectionEventKind::ConnectFailed => {}
        ConnectionEventKind::Closed(r) => tracing::debug!(
            conn = ev.connection_id, node = %ev.node, role = %ev.role, endpoint = %ev.endpoint,
            reason = %r, error = ev.error.as_deref().unwrap_or(""), "node {} disconnected", ev.node
        ),
        ConnectionEventKind::Reauthenticated { session_lifetime } => tracing::debug!(
            conn = ev.connection_id, node = %ev.node, session_lifetime = ?session_lifetime,
            "re-authenticated the connection to node {}", ev.node
        ),
    }
}

#[cfg(test)]
#[path = "manager_tests.rs"]
mod tests;
