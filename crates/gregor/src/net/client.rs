//! The thin driver around the connection manager: spawns socket tasks, routes requests, runs
//! the timers, and publishes connection events.
//!
//! `NetClient::send` is the one entry point the rest of gregor uses: "send this request to that
//! target". It asks the [`ConnectionManager`] where the request goes (opening a socket lazily if
//! needed), queues it on that socket's task and awaits the correlated response. A background
//! driver task — started on the first request, never at construction — feeds socket reports and
//! timer expiries back into the manager.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Encodable, Request};
use tokio::sync::{broadcast, mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use super::codec;
use super::connection::{self, ConnSpec, Envelope, RawResponse, Report};
use super::events::{CloseReason, ConnectionEvent, ConnectionMetrics, OpenReason};
use super::manager::{Action, ConnectionManager, ManagerConfig, Selection, Target};
use crate::error::{Error, ErrorKind, Result};

/// Per-socket settings the driver passes to each connection task.
#[derive(Debug, Clone)]
pub(crate) struct SocketSettings {
    pub(crate) client_id: String,
    pub(crate) max_frame: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) max_in_flight: usize,
    pub(crate) send_buffer: Option<u32>,
    pub(crate) receive_buffer: Option<u32>,
    /// TLS and SASL for every socket.
    pub(crate) security: Arc<super::tls::SecurityContext>,
    /// How long an endpoint that rejected our credentials or certificate is left alone
    /// (`reconnect.backoff.max.ms`).
    pub(crate) rejection_backoff: Duration,
}

/// An endpoint whose setup was rejected (bad credentials, untrusted certificate): requests for
/// it fail at once with this error until `until`, instead of reconnecting in a loop until
/// `default.api.timeout.ms` (Java's `NetworkClient` likewise surfaces an
/// `AuthenticationException` from `poll` rather than retrying).
/// A request queued on a connection (see [`NetClient::submit_versions`]).
pub(crate) struct Submitted<T> {
    queued: Queued,
    _response: std::marker::PhantomData<fn() -> T>,
}

struct Queued {
    /// The request's span (`gregor.request`): broker, version and correlation id are recorded
    /// into it as they become known.
    span: tracing::Span,
    conn_id: u64,
    /// `None`: the connection was gone before the request could be queued.
    reply: Option<oneshot::Receiver<Result<RawResponse>>>,
}

struct Rejection {
    error: Error,
    until: Instant,
}

struct ConnHandle {
    /// (lower-case host, port) of the endpoint.
    key: (String, u16),
    tx: mpsc::Sender<Envelope>,
    close: Option<oneshot::Sender<CloseReason>>,
    task: Option<JoinHandle<()>>,
}

struct State {
    mgr: ConnectionManager,
    conns: HashMap<u64, ConnHandle>,
    driver: Option<JoinHandle<()>>,
    closed: bool,
    rejected: HashMap<(String, u16), Rejection>,
    bootstrap: Vec<(String, u16)>,
}

struct Shared {
    state: Mutex<State>,
    sockets: SocketSettings,
    wake: Arc<Notify>,
    events: broadcast::Sender<ConnectionEvent>,
    reports_tx: mpsc::UnboundedSender<Report>,
    reports_rx: Mutex<Option<mpsc::UnboundedReceiver<Report>>>,
    /// Fires whenever a socket task ends (for `close()` to wait on).
    socket_gone: Notify,
    /// The connection metrics in the `metrics` facade.
    telemetry: Arc<crate::telemetry::NetTelemetry>,
    /// The newest finalized features any broker announced (KIP-584).
    features: Mutex<super::features::FinalizedFeatures>,
}

/// A cheap, cloneable handle on gregor's connections to one cluster.
#[derive(Clone)]
pub(crate) struct NetClient {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for NetClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetClient").field("client_id", &self.shared.sockets.client_id).finish()
    }
}

impl NetClient {
    /// Creates the client. Opens nothing and spawns nothing.
    pub(crate) fn new(
        mgr: ManagerConfig,
        sockets: SocketSettings,
        telemetry: Arc<crate::telemetry::NetTelemetry>,
    ) -> Self {
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(1024);
        let bootstrap = mgr.bootstrap.iter().map(|e| (e.host.to_ascii_lowercase(), e.port)).collect();
        let mut manager = ConnectionManager::new(mgr);
        manager.set_telemetry(telemetry.clone());
        NetClient {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    mgr: manager,
                    conns: HashMap::new(),
                    driver: None,
                    closed: false,
                    rejected: HashMap::new(),
                    bootstrap,
                }),
                sockets,
                wake: Arc::new(Notify::new()),
                events,
                reports_tx,
                reports_rx: Mutex::new(Some(reports_rx)),
                socket_gone: Notify::new(),
                telemetry,
                features: Mutex::new(Default::default()),
            }),
        }
    }

    /// Subscribes to connection events from now on.
    pub(crate) fn subscribe_events(&self) -> broadcast::Receiver<ConnectionEvent> {
        self.shared.events.subscribe()
    }

    pub(crate) fn metrics(&self) -> ConnectionMetrics {
        self.lock().mgr.metrics().clone()
    }

    /// The open sockets, for the statistics snapshot.
    pub(crate) fn connection_statistics(&self) -> Vec<crate::statistics::ConnectionStatistics> {
        self.lock().mgr.connection_statistics(Instant::now())
    }

    /// The newest finalized features the brokers announced in the handshakes so far (Java
    /// `ApiVersions.getFinalizedFeaturesInfo`); epoch -1 before any connection was ready.
    pub(crate) fn finalized_features(&self) -> super::features::FinalizedFeatures {
        self.shared.features.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn open_connections(&self) -> usize {
        self.lock().mgr.open_count()
    }



    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends a typed request and decodes its response, using the highest version both sides
    /// support within `R`'s known versions.
    pub(crate) async fn send<R>(&self, target: Target, why: OpenReason, req: R) -> Result<R::Response>
    where
        R: Request + Send + 'static,
    {
        let v = R::VERSIONS;
        self.send_versions(target, why, req, (v.min, v.max)).await
    }

    /// Like [`send`](Self::send), limited to `versions`.
    pub(crate) async fn send_versions<R>(
        &self,
        target: Target,
        why: OpenReason,
        req: R,
        versions: (i16, i16),
    ) -> Result<R::Response>
    where
        R: Request + Send + 'static,
    {
        let api_key = ApiKey::try_from(R::KEY).map_err(|_| Error::protocol("unknown api key"))?;
        let raw = self.send_raw(target, why, api_key, versions, true, None, encoder(api_key, req)).await?;
        codec::decode_body::<R::Response>(raw.body)
    }

    /// Sends a request built for the negotiated version: `build(version)` is called once the
    /// connection knows which version to use, for messages whose fields differ by version
    /// (the encoder rejects a field set in a version that lacks it).
    pub(crate) async fn send_built<R, F>(
        &self,
        target: Target,
        why: OpenReason,
        versions: (i16, i16),
        timeout: Option<Duration>,
        build: F,
    ) -> Result<R::Response>
    where
        R: Request + Send + 'static,
        F: FnOnce(i16) -> R + Send + 'static,
    {
        let api_key = ApiKey::try_from(R::KEY).map_err(|_| Error::protocol("unknown api key"))?;
        let encode: connection::EncodeFn = Box::new(move |version, correlation_id, client_id| {
            codec::encode_request(api_key, version, correlation_id, client_id, &build(version))
        });
        let raw = self.send_raw(target, why, api_key, versions, true, timeout, encode).await?;
        codec::decode_body::<R::Response>(raw.body)
    }

    /// Like [`send_built`](Self::send_built) for requests that some versions cannot carry:
    /// `build` may refuse the negotiated version (e.g. static membership below JoinGroup v5),
    /// and then its error is the result and nothing is sent — where Java's request builders
    /// throw `UnsupportedVersionException` from `build(version)`.
    pub(crate) async fn send_built_checked<R, F>(
        &self,
        target: Target,
        why: OpenReason,
        versions: (i16, i16),
        timeout: Option<Duration>,
        build: F,
    ) -> Result<R::Response>
    where
        R: Request + Send + 'static,
        F: FnOnce(i16) -> Result<R> + Send + 'static,
    {
        let api_key = ApiKey::try_from(R::KEY).map_err(|_| Error::protocol("unknown api key"))?;
        let encode: connection::EncodeFn = Box::new(move |version, correlation_id, client_id| {
            codec::encode_request(api_key, version, correlation_id, client_id, &build(version)?)
        });
        let raw = self.send_raw(target, why, api_key, versions, true, timeout, encode).await?;
        codec::decode_body::<R::Response>(raw.body)
    }

    /// Sends a request that gets no response (Produce with acks=0).
    pub(crate) async fn send_no_response<R>(&self, target: Target, why: OpenReason, req: R) -> Result<()>
    where
        R: Request + Send + 'static,
    {
        let api_key = ApiKey::try_from(R::KEY).map_err(|_| Error::protocol("unknown api key"))?;
        let v = R::VERSIONS;
        self.send_raw(target, why, api_key, (v.min, v.max), false, None, encoder(api_key, req)).await?;
        Ok(())
    }

    async fn send_raw(
        &self,
        target: Target,
        why: OpenReason,
        api_key: ApiKey,
        versions: (i16, i16),
        expect_response: bool,
        timeout: Option<Duration>,
        encode: connection::EncodeFn,
    ) -> Result<RawResponse> {
        let span = request_span(api_key, why);
        async {
            let queued =
                self.submit_raw(target, why, api_key, versions, expect_response, timeout, encode, span.clone()).await?;
            self.complete_raw(queued).await
        }
        .instrument(span.clone())
        .await
    }

    /// Queues a request on its connection and returns without waiting for the response
    /// ([`response`](Self::response) waits for it). Requests submitted one after the other
    /// to the same target are written to the socket in that order — what an idempotent
    /// producer needs to keep up to 5 batches of a partition in flight in sequence order.
    pub(crate) async fn submit_versions<R>(
        &self,
        target: Target,
        why: OpenReason,
        req: R,
        versions: (i16, i16),
    ) -> Result<Submitted<R::Response>>
    where
        R: Request + Send + 'static,
    {
        let api_key = ApiKey::try_from(R::KEY).map_err(|_| Error::protocol("unknown api key"))?;
        let span = request_span(api_key, why);
        let queued = self
            .submit_raw(target, why, api_key, versions, true, None, encoder(api_key, req), span.clone())
            .instrument(span)
            .await?;
        Ok(Submitted { queued, _response: std::marker::PhantomData })
    }

    /// Waits for the response of a submitted request.
    pub(crate) async fn response<T: kafka_protocol::protocol::Decodable>(&self, s: Submitted<T>) -> Result<T> {
        let span = s.queued.span.clone();
        let raw = self.complete_raw(s.queued).instrument(span).await?;
        codec::decode_body::<T>(raw.body)
    }

    /// Picks (or opens) the connection for `target` and queues the request on it.
    #[allow(clippy::too_many_arguments)]
    async fn submit_raw(
        &self,
        target: Target,
        why: OpenReason,
        api_key: ApiKey,
        versions: (i16, i16),
        expect_response: bool,
        timeout: Option<Duration>,
        encode: connection::EncodeFn,
        span: tracing::Span,
    ) -> Result<Queued> {
        let (conn_id, tx) = loop {
            let wait = {
                let mut st = self.lock();
                if st.closed {
                    return Err(Error::closed());
                }
                self.ensure_driver(&mut st);
                let now = Instant::now();
                if let Some(e) = rejected_target(&mut st, target, now) {
                    return Err(e);
                }
                let sel = st.mgr.select(target, why, now);
                self.pump(&mut st);
                match sel {
                    Selection::Use(id) => match st.conns.get(&id) {
                        Some(h) => {
                            let tx = h.tx.clone();
                            st.mgr.request_started(id, now);
                            span.record("broker", st.mgr.describe(id).as_str());
                            break (id, tx);
                        }
                        None => return Err(Error::new(ErrorKind::Disconnected, "connection vanished")),
                    },
                    Selection::WaitUntil(t) => t,
                    Selection::UnknownNode => {
                        return Err(Error::new(
                            ErrorKind::Unreachable,
                            format!("no known broker for {target:?}"),
                        ))
                    }
                }
            };
            // Backoff or the attempt cap holds new sockets back: wait for that instant.
            tokio::time::sleep_until(wait).await;
        };
        self.shared.wake.notify_one();
        let (reply_tx, reply_rx) = oneshot::channel();
        let env = Envelope { api_key, versions, encode, expect_response, timeout, reply: reply_tx };
        let reply = match tx.send(env).await {
            Ok(()) => Some(reply_rx),
            Err(_) => None,
        };
        Ok(Queued { span, conn_id, reply })
    }

    /// Waits for a queued request's response and does the connection's bookkeeping.
    async fn complete_raw(&self, queued: Queued) -> Result<RawResponse> {
        let Queued { conn_id, reply, span } = queued;
        let dead = reply.is_none();
        let result = match reply {
            Some(rx) => match rx.await {
                Ok(r) => r,
                Err(_) => Err(Error::new(ErrorKind::Disconnected, "connection closed before responding")),
            },
            None => Err(Error::new(ErrorKind::Disconnected, "connection closed before the request was sent")),
        };
        let mut st = self.lock();
        if dead {
            // The socket task is gone and its report is on the way: stop routing requests to
            // it now, so callers do not keep picking a dead connection until the driver runs.
            st.mgr.close(conn_id, CloseReason::Error);
        }
        let now = Instant::now();
        let label = st.mgr.node_label(conn_id);
        let broker = st.mgr.describe(conn_id);
        st.mgr.request_finished(conn_id, now);
        if let Ok(r) = &result {
            span.record("api_version", r.body.version());
            span.record("correlation_id", r.correlation_id);
            st.mgr.record_traffic(conn_id, r.bytes_out, r.bytes_in);
            self.shared.telemetry.request_done(&label, r.bytes_out, r.bytes_in, r.latency, now);
            st.mgr
                .metrics_mut()
                .nodes
                .entry(label)
                .or_default()
                .record(r.bytes_out, r.bytes_in, r.latency);
        }
        self.pump(&mut st);
        drop(st);
        self.shared.wake.notify_one();
        result.map_err(|e| if e.broker().is_none() { e.with_broker(broker) } else { e })
    }

    /// Tells the manager that a metadata request is about to be sent (KIP-1102 trigger).
    pub(crate) fn handle_metadata_attempt(&self) {
        self.lock().mgr.handle_metadata_attempt(Instant::now());
    }

    /// The bootstrap list after `client.dns.lookup=resolve_canonical_bootstrap_servers_only`.
    pub(crate) fn handle_bootstrap_resolved(&self, bootstrap: Vec<super::manager::Endpoint>) {
        self.lock().mgr.handle_bootstrap_resolved(bootstrap);
    }

    /// A broker answered REBOOTSTRAP_REQUIRED: go back to `bootstrap.servers`.
    pub(crate) fn handle_rebootstrap_required(&self) {
        let mut st = self.lock();
        st.mgr.handle_rebootstrap_required(Instant::now());
        self.pump(&mut st);
        drop(st);
        self.shared.wake.notify_one();
    }

    /// Tells the manager that metadata listed these brokers.
    pub(crate) fn handle_metadata(&self, brokers: Vec<(i32, super::manager::Endpoint)>) {
        let mut st = self.lock();
        st.mgr.handle_metadata(brokers, Instant::now());
        self.pump(&mut st);
        drop(st);
        self.shared.wake.notify_one();
    }

    /// Tells the manager which broker is the group coordinator now.
    pub(crate) fn handle_coordinator(&self, id: Option<i32>) {
        let mut st = self.lock();
        st.mgr.handle_coordinator(id, Instant::now());
        self.pump(&mut st);
    }

    /// Tells the manager which brokers the client needs connections to now (see
    /// `ConnectionManager::handle_needed_brokers`).
    pub(crate) fn handle_needed_brokers(&self, needed: std::collections::BTreeSet<i32>) {
        let mut st = self.lock();
        st.mgr.handle_needed_brokers(needed, Instant::now());
        self.pump(&mut st);
        drop(st);
        self.shared.wake.notify_one(); // the driver's next timer may be earlier now
    }

    /// Closes every socket and waits (up to `timeout`) until they are all gone.
    pub(crate) async fn close(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        {
            let mut st = self.lock();
            st.closed = true;
            st.mgr.shutdown();
            self.pump(&mut st);
        }
        loop {
            let gone = self.shared.socket_gone.notified();
            self.drain_reports();
            if self.lock().conns.is_empty() {
                break;
            }
            if tokio::time::timeout_at(deadline, gone).await.is_err() {
                break;
            }
        }
        let driver = self.lock().driver.take();
        if let Some(d) = driver {
            d.abort();
        }
        // Anything still left is aborted: dropping the task drops its socket.
        let mut st = self.lock();
        for (_, mut h) in st.conns.drain() {
            if let Some(t) = h.task.take() {
                t.abort();
            }
        }
    }

    /// Processes socket reports right here (used by `close`, when the driver may be gone).
    fn drain_reports(&self) {
        let mut guard = self.shared.reports_rx.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rx) = guard.as_mut() {
            while let Ok(r) = rx.try_recv() {
                handle_report(&self.shared, r);
            }
        }
    }

    fn ensure_driver(&self, st: &mut State) {
        if st.driver.is_some() {
            return;
        }
        let rx = self.shared.reports_rx.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(rx) = rx else { return };
        // Give the receiver back for `close()` to drain once the driver stops.
        let weak = Arc::downgrade(&self.shared);
        st.driver = Some(tokio::spawn(drive(weak, self.shared.wake.clone(), rx)));
    }

    /// Carries out the manager's queued actions and publishes its events.
    fn pump(&self, st: &mut State) {
        pump(&self.shared, st)
    }
}

/// The span of one request (`gregor.request`): the API and why it is sent at once; the broker
/// once a connection is picked, the version and correlation id once it was answered.
fn request_span(api_key: ApiKey, why: OpenReason) -> tracing::Span {
    tracing::debug_span!(
        "gregor.request",
        api_key = ?api_key,
        purpose = %why,
        broker = tracing::field::Empty,
        api_version = tracing::field::Empty,
        correlation_id = tracing::field::Empty,
    )
}

fn encoder<R: Encodable + Send + 'static>(api_key: ApiKey, req: R) -> connection::EncodeFn {
    Box::new(move |version, correlation_id, client_id| {
        codec::encode_request(api_key, version, correlation_id, client_id, &req)
    })
}

/// The stored error when every endpoint the request could go to has rejected us recently.
fn rejected_target(st: &mut State, target: Target, now: Instant) -> Option<Error> {
    st.rejected.retain(|_, r| r.until > now);
    if st.rejected.is_empty() {
        return None;
    }
    let key_of = |id: i32| {
        st.mgr.known_brokers().find(|(b, _)| *b == id).map(|(_, e)| (e.host.to_ascii_lowercase(), e.port))
    };
    let candidates: Vec<(String, u16)> = match target {
        Target::Broker(id) | Target::Coordinator(id) => key_of(id).into_iter().collect(),
        Target::AnyNode => {
            let known: Vec<_> = st.mgr.known_brokers().map(|(_, e)| (e.host.to_ascii_lowercase(), e.port)).collect();
            if known.is_empty() { st.bootstrap.clone() } else { known }
        }
    };
    if candidates.is_empty() || !candidates.iter().all(|k| st.rejected.contains_key(k)) {
        return None;
    }
    let r = candidates.iter().filter_map(|k| st.rejected.get(k)).max_by_key(|r| r.until)?;
    Some(r.error.clone().or_broker("?"))
}

fn pump(shared: &Shared, st: &mut State) {
    while let Some(action) = st.mgr.poll_action() {
        match action {
            Action::Connect { conn_id, endpoint: _, host, port, addr_attempt } => {
                let s = &shared.sockets;
                let spec = ConnSpec {
                    conn_id,
                    host,
                    port,
                    label: st.mgr.describe(conn_id),
                    addr_attempt,
                    client_id: s.client_id.clone(),
                    max_frame: s.max_frame,
                    request_timeout: s.request_timeout,
                    max_in_flight: s.max_in_flight,
                    send_buffer: s.send_buffer,
                    receive_buffer: s.receive_buffer,
                    security: s.security.clone(),
                };
                let (tx, rx) = mpsc::channel(s.max_in_flight.max(1));
                let (close_tx, close_rx) = oneshot::channel();
                let reports = shared.reports_tx.clone();
                let key = (spec.host.to_ascii_lowercase(), spec.port);
                let task = tokio::spawn(connection::run(spec, rx, close_rx, reports));
                st.conns.insert(conn_id, ConnHandle { key, tx, close: Some(close_tx), task: Some(task) });
            }
            Action::Close { conn_id, reason } => {
                if let Some(h) = st.conns.get_mut(&conn_id) {
                    if let Some(c) = h.close.take() {
                        let _ = c.send(reason);
                    }
                }
            }
        }
    }
    while let Some(ev) = st.mgr.poll_event() {
        let _ = shared.events.send(ev);
    }
}

fn handle_report(shared: &Shared, report: Report) {
    let mut st = shared.state.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    match report {
        Report::Ready { conn_id, local, remote, features } => {
            if shared.features.lock().unwrap_or_else(|p| p.into_inner()).update(&features) {
                tracing::debug!(epoch = features.epoch, features = ?features.levels, "finalized features");
            }
            if let Some(key) = st.conns.get(&conn_id).map(|h| h.key.clone()) {
                st.rejected.remove(&key);
            }
            st.mgr.handle_connected(conn_id, local, remote, now)
        }
        Report::SetupRejected { conn_id, error } => {
            if let Some(key) = st.conns.get(&conn_id).map(|h| h.key.clone()) {
                let until = now + shared.sockets.rejection_backoff;
                st.rejected.insert(key, Rejection { error, until });
            }
        }
        Report::Reauthenticated { conn_id, session_lifetime } => {
            st.mgr.handle_reauthenticated(conn_id, session_lifetime)
        }
        Report::Closed { conn_id, reason, error } => {
            st.conns.remove(&conn_id);
            st.mgr.handle_closed(conn_id, reason, error, now);
            shared.socket_gone.notify_waiters();
        }
    }
    pump(shared, &mut st);
}

/// The driver task: socket reports and timers. Holds only a weak reference, so dropping the
/// last `NetClient` ends it (and `Shared`'s drop closes the sockets).
async fn drive(weak: Weak<Shared>, wake: Arc<Notify>, mut reports: mpsc::UnboundedReceiver<Report>) {
    loop {
        let notified = wake.notified();
        tokio::pin!(notified);
        let next = {
            let Some(shared) = weak.upgrade() else { return };
            let next = shared.state.lock().unwrap_or_else(|p| p.into_inner()).mgr.poll_timeout();
            next
        };
        tokio::select! {
            r = reports.recv() => {
                let Some(r) = r else { return };
                let Some(shared) = weak.upgrade() else { return };
                handle_report(&shared, r);
                while let Ok(r) = reports.try_recv() {
                    handle_report(&shared, r);
                }
            }
            _ = async { match next { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                let Some(shared) = weak.upgrade() else { return };
                let mut st = shared.state.lock().unwrap_or_else(|p| p.into_inner());
                st.mgr.handle_timeout(Instant::now());
                pump(&shared, &mut st);
            }
            _ = &mut notified => {}
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Dropping the consumer closes its sockets: abort every socket task (dropping a task
        // drops its socket) and the driver.
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        for (_, h) in st.conns.drain() {
            if let Some(t) = h.task {
                t.abort();
            }
        }
        if let Some(d) = st.driver.take() {
            d.abort();
        }
    }
}
