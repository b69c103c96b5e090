//! One task per socket: connect, handshake, then pipelined requests in, correlated responses out.
//!
//! The shape of tokio-postgres' `Connection`: the task owns the socket; callers hand it an
//! [`Envelope`] (an encoder and a reply channel) through a bounded channel. Kafka answers the
//! requests of one connection in the order they were sent (the broker mutes a channel until its
//! response is written), so pending replies form a FIFO and each response's correlation id must
//! match the oldest pending request — anything else means the stream is corrupt.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::codec::{self, ApiVersionsOutcome, BrokerVersions, FrameDecoder};
use super::events::CloseReason;
use super::framing::{read_first_frame, read_one_frame};
use super::reauth::Reauth;
use super::sasl::Transport;
use super::tls::SecurityContext;
use crate::error::{Error, ErrorKind, Result};

/// Encodes a whole request frame for (version, correlation id, client id).
pub(crate) type EncodeFn = Box<dyn FnOnce(i16, i32, &str) -> Result<Bytes> + Send>;

/// A request handed to a connection task.
pub(crate) struct Envelope {
    pub(crate) api_key: ApiKey,
    /// The versions gregor can speak for this request; the highest one the broker also
    /// supports is used.
    pub(crate) versions: (i16, i16),
    pub(crate) encode: EncodeFn,
    /// `false` only for Produce with acks=0, which gets no response.
    pub(crate) expect_response: bool,
    /// Overrides `request.timeout.ms` (a JoinGroup may park for the rebalance timeout).
    pub(crate) timeout: Option<Duration>,
    pub(crate) reply: oneshot::Sender<Result<RawResponse>>,
}

/// A response body (header stripped, walked by the guard) and what it cost.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub(crate) body: super::guard::CheckedBody,
    /// The request's correlation id (for the request's tracing span).
    pub(crate) correlation_id: i32,
    pub(crate) bytes_out: u64,
    pub(crate) bytes_in: u64,
    pub(crate) latency: Duration,
}

/// What a connection task tells the driver.
#[derive(Debug)]
pub(crate) enum Report {
    /// `features`: the broker's finalized features from the handshake.
    Ready { conn_id: u64, local: Option<SocketAddr>, remote: Option<SocketAddr>, features: super::features::FinalizedFeatures },
    Closed { conn_id: u64, reason: CloseReason, error: Option<String> },
    /// The SASL session was renewed on the same socket (KIP-368); `session_lifetime` is the
    /// new session's, as the broker announced it.
    Reauthenticated { conn_id: u64, session_lifetime: Option<Duration> },
    /// Sent just before `Closed` when setup failed for a reason retrying will not fix soon
    /// (rejected credentials, an untrusted certificate, unusable TLS files): the client stops
    /// sending to this endpoint until `reconnect.backoff.max.ms` has passed.
    SetupRejected { conn_id: u64, error: Error },
}

/// Everything a connection task needs to know.
#[derive(Debug, Clone)]
pub(crate) struct ConnSpec {
    pub(crate) conn_id: u64,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Human label for errors: `host:port (node N)`.
    pub(crate) label: String,
    pub(crate) addr_attempt: usize,
    pub(crate) client_id: String,
    pub(crate) max_frame: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) max_in_flight: usize,
    pub(crate) send_buffer: Option<u32>,
    pub(crate) receive_buffer: Option<u32>,
    /// TLS and SASL (`security.protocol`).
    pub(crate) security: std::sync::Arc<SecurityContext>,
}

struct Pending {
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    sent_at: Instant,
    deadline: Instant,
    bytes_out: u64,
    reply: oneshot::Sender<Result<RawResponse>>,
}

/// Runs one connection until it is closed. Always ends with exactly one `Report::Closed`.
pub(crate) async fn run(
    spec: ConnSpec,
    mut requests: mpsc::Receiver<Envelope>,
    mut close: oneshot::Receiver<CloseReason>,
    reports: mpsc::UnboundedSender<Report>,
) {
    // Everything up to `Ready` (TCP, TLS, ApiVersions, SASL) runs under the manager's
    // `socket.connection.setup.timeout.ms`, as in Java.
    let setup = async {
        spec.security.check()?;
        let (tcp, local, remote) = connect(&spec).await?;
        let mut stream = spec.security.secure(tcp, &spec.host, &spec.label).await?;
        let versions = handshake(&mut stream, &spec).await?;
        let mut next_correlation = HANDSHAKE_CORRELATION_IDS;
        let mut session = None;
        if let Some(sasl) = &spec.security.sasl {
            let mut t = Transport::Stream { stream: &mut stream, spec: &spec, next_correlation: &mut next_correlation };
            session = super::sasl::authenticate(&mut t, &spec.host, &spec.label, &versions, sasl).await?;
        }
        Ok::<_, Error>((stream, versions, local, remote, next_correlation, session))
    };
    let outcome = tokio::select! {
        r = setup => r.map_err(|e| spec.security.reclassify(e, &spec.label)),
        reason = &mut close => {
            let reason = reason.unwrap_or(CloseReason::Shutdown);
            let msg = format!("connection to {} closed during setup ({reason})", spec.label);
            fail_queued(&mut requests, &msg, error_kind_for(reason));
            let _ = reports.send(Report::Closed { conn_id: spec.conn_id, reason, error: None });
            return;
        }
    };
    let (stream, versions, local, remote, next_correlation, session) = match outcome {
        Ok(v) => v,
        Err(e) if matches!(e.kind(), ErrorKind::Auth | ErrorKind::Config | ErrorKind::NotKafka) => {
            // One clear error, not "cannot connect": the message already names the broker.
            tracing::error!(broker = %spec.label, error = %e, "connection setup rejected");
            requests.close();
            while let Ok(env) = requests.try_recv() {
                let _ = env.reply.send(Err(e.clone().or_broker(&spec.label)));
            }
            let error = e.to_string();
            let _ = reports.send(Report::SetupRejected { conn_id: spec.conn_id, error: e.clone().or_broker(&spec.label) });
            let _ = reports.send(Report::Closed { conn_id: spec.conn_id, reason: CloseReason::Error, error: Some(error) });
            return;
        }
        Err(e) => {
            let msg = format!("cannot connect to {}: {e}", spec.label);
            fail_queued(&mut requests, &msg, ErrorKind::Unreachable);
            let _ = reports.send(Report::Closed {
                conn_id: spec.conn_id,
                reason: CloseReason::Error,
                error: Some(e.to_string()),
            });
            return;
        }
    };
    let features = versions.features.clone();
    let _ = reports.send(Report::Ready { conn_id: spec.conn_id, local: Some(local), remote: Some(remote), features });
    let mut pending = VecDeque::new();
    let mut reauth = Reauth::default();
    reauth.handle_authenticated(Instant::now(), session, rand::random());
    let io = Io { requests: &mut requests, close: &mut close, pending: &mut pending, reports: &reports };
    let (reason, error) = serve(stream, &spec, &versions, next_correlation, io, reauth).await;
    let msg = match &error {
        Some(e) => format!("connection to {} closed ({reason}): {e}", spec.label),
        None => format!("connection to {} closed ({reason})", spec.label),
    };
    let kind = error_kind_for(reason);
    for p in pending.drain(..) {
        let _ = p.reply.send(Err(Error::new(kind, msg.clone()).with_broker(&spec.label)));
    }
    fail_queued(&mut requests, &msg, kind);
    let _ = reports.send(Report::Closed { conn_id: spec.conn_id, reason, error });
}

/// Correlation ids 0..=API_VERSIONS_FIRST belong to the ApiVersions handshake: one try per
/// version from API_VERSIONS_FIRST down to v0 at most.
const HANDSHAKE_CORRELATION_IDS: i32 = codec::API_VERSIONS_FIRST as i32 + 1;

fn error_kind_for(reason: CloseReason) -> ErrorKind {
    match reason {
        CloseReason::RequestTimeout | CloseReason::SetupTimeout => ErrorKind::Timeout,
        CloseReason::Shutdown => ErrorKind::Closed,
        CloseReason::Error => ErrorKind::Protocol,
        _ => ErrorKind::Disconnected,
    }
}

fn fail_queued(requests: &mut mpsc::Receiver<Envelope>, msg: &str, kind: ErrorKind) {
    requests.close();
    while let Ok(env) = requests.try_recv() {
        let _ = env.reply.send(Err(Error::new(kind, msg.to_string())));
    }
}

/// TCP connect to one resolved address (`client.dns.lookup=use_all_dns_ips`: the address
/// index advances with every failed attempt, and names are resolved anew on every attempt).
async fn connect(spec: &ConnSpec) -> Result<(TcpStream, SocketAddr, SocketAddr)> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((spec.host.as_str(), spec.port))
        .await
        .map_err(|e| Error::io(format!("cannot resolve {}", spec.label), e))?
        .collect();
    if addrs.is_empty() {
        return Err(Error::new(ErrorKind::Unreachable, format!("{} resolves to no address", spec.label)));
    }
    let addr = addrs[spec.addr_attempt % addrs.len()];
    let socket = if addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }
        .map_err(|e| Error::io("cannot create socket", e))?;
    let _ = socket.set_keepalive(true);
    if let Some(n) = spec.send_buffer {
        let _ = socket.set_send_buffer_size(n);
    }
    if let Some(n) = spec.receive_buffer {
        let _ = socket.set_recv_buffer_size(n);
    }
    let stream = socket
        .connect(addr)
        .await
        .map_err(|e| Error::io(format!("connect to {addr} failed"), e))?;
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().map_err(|e| Error::io("local_addr", e))?;
    Ok((stream, local, addr))
}

/// ApiVersions on the new socket: learn which versions of each API the broker speaks.
///
/// Starts at [`codec::API_VERSIONS_FIRST`] and steps down as the broker asks (Java's
/// `NetworkClient`: its advertised maximum, else v0). Every retry is at a strictly lower
/// version, so `API_VERSIONS_FIRST + 1` tries always suffice. A failure names the endpoint.
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, spec: &ConnSpec) -> Result<BrokerVersions> {
    let mut version = codec::API_VERSIONS_FIRST;
    let dec = FrameDecoder::new(spec.max_frame);
    // The cause (a layout neither v{N} nor v0 reads, a broker error code) is the source.
    let fail = |e: Error| {
        Error::new(e.kind(), format!("ApiVersions handshake with {} failed", spec.label))
            .with_broker(&spec.label)
            .with_source(e)
    };
    for correlation_id in 0..HANDSHAKE_CORRELATION_IDS {
        let frame = codec::encode_request(
            ApiKey::ApiVersions,
            version,
            correlation_id,
            &spec.client_id,
            &codec::api_versions_request(),
        )?;
        stream.write_all(&frame).await.map_err(|e| Error::io("ApiVersions write failed", e))?;
        stream.flush().await.map_err(|e| Error::io("ApiVersions write failed", e))?;
        // The first answer on a socket also tells whether the peer is a Kafka listener at all
        // (a NotKafka error names the endpoint itself and is not wrapped).
        let body = if correlation_id == 0 {
            read_first_frame(stream, &dec, spec).await?
        } else {
            read_one_frame(stream, &dec).await?
        };
        if codec::peek_correlation_id(&body).map_err(fail)? != correlation_id {
            return Err(fail(Error::protocol("the response has the wrong correlation id")));
        }
        let body = codec::strip_response_header(body, ApiKey::ApiVersions, version).map_err(fail)?;
        match codec::interpret_api_versions(body, version).map_err(fail)? {
            ApiVersionsOutcome::Ok(v) => {
                tracing::debug!(broker = %spec.label, version, "ApiVersions handshake done");
                return Ok(v);
            }
            ApiVersionsOutcome::Retry(v) => {
                tracing::debug!(broker = %spec.label, from = version, to = v, "retrying ApiVersions at an older version");
                version = v;
            }
        }
    }
    Err(fail(Error::protocol(format!(
        "the broker refused every ApiVersions version down to v{version}"
    ))))
}

/// The channels `serve` works with.
struct Io<'a> {
    requests: &'a mut mpsc::Receiver<Envelope>,
    close: &'a mut oneshot::Receiver<CloseReason>,
    pending: &'a mut VecDeque<Pending>,
    reports: &'a mpsc::UnboundedSender<Report>,
}

type ReauthFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Option<Duration>>> + Send>>;

/// The steady state: interleave reading responses, writing requests and taking new ones, and
/// re-authenticate when the [`Reauth`] timer says so (KIP-368). A re-authentication sends its
/// SaslHandshake and SaslAuthenticate requests through `internal`, behind the requests already
/// in flight (their responses still complete normally: the broker answers in order); from the
/// first of them until it ends no application request is sent, since the broker accepts nothing
/// else in the middle of a SASL exchange.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    spec: &ConnSpec,
    versions: &BrokerVersions,
    first_correlation: i32,
    io: Io<'_>,
    mut reauth: Reauth,
) -> (CloseReason, Option<String>) {
    let Io { requests, close, pending, reports } = io;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let dec = FrameDecoder::new(spec.max_frame);
    let mut inbuf = BytesMut::with_capacity(64 * 1024);
    let mut out = BytesMut::new();
    let mut next_correlation: i32 = first_correlation;
    // TLS buffers records inside the stream: once `out` is handed over, flush so they reach
    // the socket (a no-op for plain TCP).
    let mut needs_flush = false;
    let (internal_tx, mut internal) = mpsc::channel::<Envelope>(2);
    let mut reauthenticating: Option<ReauthFuture> = None;
    // Set once the re-authentication's first request is queued: application requests wait.
    let mut gated = false;
    loop {
        if inbuf.capacity() - inbuf.len() < 16 * 1024 {
            inbuf.reserve(64 * 1024);
        }
        // Requests may carry their own timeouts, so the next expiry is the minimum over all.
        let oldest_deadline = pending.iter().map(|p| p.deadline).min();
        let reauth_due = if reauthenticating.is_none() { reauth.poll_timeout() } else { None };
        tokio::select! {
            biased;
            reason = &mut *close => {
                return (reason.unwrap_or(CloseReason::Shutdown), None);
            }
            r = rd.read_buf(&mut inbuf) => {
                match r {
                    Ok(0) => return (CloseReason::BrokerClosed, None),
                    Ok(_) => {}
                    Err(e) => return (CloseReason::BrokerClosed, Some(e.to_string())),
                }
                loop {
                    match dec.decode(&mut inbuf) {
                        Ok(Some(frame)) => {
                            if let Err(e) = complete(frame, pending, &spec.label) {
                                tracing::warn!(broker = %spec.label, error = %e, "closing connection after a bad response");
                                return (CloseReason::Error, Some(e.to_string()));
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(broker = %spec.label, error = %e, "closing connection after a bad response");
                            return (CloseReason::Error, Some(e.to_string()));
                        }
                    }
                }
            }
            r = write_or_flush(&mut wr, &mut out), if !out.is_empty() || needs_flush => {
                match r {
                    Ok(flushed) => needs_flush = !flushed,
                    Err(e) => return (CloseReason::BrokerClosed, Some(e.to_string())),
                }
            }
            r = async { reauthenticating.as_mut().expect("guarded").await }, if reauthenticating.is_some() => {
                reauthenticating = None;
                gated = false;
                match r {
                    Ok(lifetime) => {
                        reauth.handle_authenticated(Instant::now(), lifetime, rand::random());
                        tracing::debug!(broker = %spec.label, session_lifetime = ?lifetime, "re-authenticated (KIP-368)");
                        let _ = reports.send(Report::Reauthenticated { conn_id: spec.conn_id, session_lifetime: lifetime });
                    }
                    Err(e) => {
                        tracing::warn!(broker = %spec.label, error = %e, "re-authentication failed; closing the connection");
                        return (CloseReason::Error, Some(format!("re-authentication failed: {e}")));
                    }
                }
            }
            env = internal.recv(), if pending.len() < spec.max_in_flight => {
                let Some(env) = env else { continue };
                gated = true;
                start_request(env, spec, versions, &mut next_correlation, &mut out, pending);
            }
            env = requests.recv(), if !gated && pending.len() < spec.max_in_flight => {
                let Some(env) = env else { return (CloseReason::Shutdown, None) };
                start_request(env, spec, versions, &mut next_correlation, &mut out, pending);
            }
            _ = sleep_until_opt(oldest_deadline) => {
                let p = pending.iter().min_by_key(|p| p.deadline).expect("deadline implies a pending request");
                let msg = format!("{:?} request got no response within its timeout ({} ms)",
                    p.api_key, (p.deadline - p.sent_at).as_millis());
                tracing::warn!(broker = %spec.label, "{msg}; closing the connection");
                return (CloseReason::RequestTimeout, Some(msg));
            }
            _ = sleep_until_opt(reauth_due) => {
                if reauth.handle_timeout(Instant::now()) {
                    if let Some(sasl) = spec.security.sasl.clone() {
                        tracing::debug!(broker = %spec.label, "session expiry near; re-authenticating (KIP-368)");
                        let (tx, versions) = (internal_tx.clone(), versions.clone());
                        let (host, label) = (spec.host.clone(), spec.label.clone());
                        reauthenticating = Some(Box::pin(async move {
                            let mut t = Transport::<tokio::net::TcpStream>::Task(&tx);
                            super::sasl::authenticate(&mut t, &host, &label, &versions, &sasl).await
                        }));
                    }
                }
            }
        }
    }
}

/// Encodes `env` at the version both sides speak and queues it; requests without a response
/// (acks=0 Produce) are answered at once.
fn start_request(
    env: Envelope,
    spec: &ConnSpec,
    versions: &BrokerVersions,
    next_correlation: &mut i32,
    out: &mut BytesMut,
    pending: &mut VecDeque<Pending>,
) {
    let Some(version) = versions.pick(env.api_key, env.versions) else {
        let _ = env.reply.send(Err(codec::unsupported_api(env.api_key, env.versions, &spec.label)));
        return;
    };
    let correlation_id = *next_correlation;
    tracing::trace!(broker = %spec.label, api = ?env.api_key, version, correlation_id, "sending request");
    *next_correlation = next_correlation.wrapping_add(1).max(0);
    match (env.encode)(version, correlation_id, &spec.client_id) {
        Ok(frame) => {
            let bytes_out = frame.len() as u64;
            out.extend_from_slice(&frame);
            if env.expect_response {
                let sent_at = Instant::now();
                pending.push_back(Pending {
                    correlation_id, api_key: env.api_key, version, sent_at,
                    deadline: sent_at + env.timeout.unwrap_or(spec.request_timeout),
                    bytes_out, reply: env.reply,
                });
            } else {
                let _ = env.reply.send(Ok(RawResponse {
                    body: super::guard::CheckedBody::none(env.api_key, version),
                    correlation_id, bytes_out, bytes_in: 0, latency: Duration::ZERO,
                }));
            }
        }
        // A request that cannot be expressed at the negotiated version (see
        // `NetClient::send_built_checked`): nothing was sent.
        Err(e) => { let _ = env.reply.send(Err(e.with_broker(&spec.label))); }
    }
}

/// Writes pending bytes (returns `false`: a flush is still due), or flushes when none are left
/// (returns `true`).
async fn write_or_flush<W: AsyncWrite + Unpin>(wr: &mut W, out: &mut BytesMut) -> std::io::Result<bool> {
    if out.is_empty() {
        wr.flush().await?;
        Ok(true)
    } else {
        wr.write_buf(out).await?;
        Ok(false)
    }
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Matches a response frame to the oldest pending request and checks its body with the
/// pre-decode guard (`guard.rs`) before handing it over.
///
/// A response that fails the header or the guard answers its request with the error (naming
/// the API, the field and the broker) and is returned as an error, so that `serve` closes the
/// connection with reason `error`: after a malformed or hostile frame nothing else on that
/// socket can be trusted, and the requests still in flight on it fail with "connection closed"
/// and are retried by their callers on a new connection, as after any broken connection.
fn complete(frame: Bytes, pending: &mut VecDeque<Pending>, broker: &str) -> Result<()> {
    let correlation_id = codec::peek_correlation_id(&frame)?;
    let Some(front) = pending.front() else {
        return Err(Error::protocol(format!(
            "unexpected response (correlation id {correlation_id}) with no request pending"
        )));
    };
    if front.correlation_id != correlation_id {
        return Err(Error::protocol(format!(
            "response correlation id {correlation_id} does not match the oldest request's {}",
            front.correlation_id
        )));
    }
    let p = pending.pop_front().expect("front exists");
    tracing::trace!(api = ?p.api_key, correlation_id, bytes = frame.len(), "response received");
    let bytes_in = frame.len() as u64 + 4;
    let checked = codec::strip_response_header(frame, p.api_key, p.version)
        .and_then(|body| super::guard::CheckedBody::new(p.api_key, p.version, body))
        .map_err(|e| e.with_broker(broker));
    let latency = p.sent_at.elapsed();
    match checked {
        Ok(body) => {
            let _ = p.reply.send(Ok(RawResponse { body, correlation_id: p.correlation_id, bytes_out: p.bytes_out, bytes_in, latency }));
            Ok(())
        }
        Err(e) => {
            let _ = p.reply.send(Err(e.clone()));
            Err(e)
        }
    }
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod handshake_tests;

#[cfg(test)]
#[path = "response_check_tests.rs"]
mod response_check_tests;
