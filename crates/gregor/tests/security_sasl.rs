//! SASL end to end: a SASL-speaking front written here (server side of SaslHandshake and
//! SaslAuthenticate with PLAIN and SCRAM, per RFC 5802) proxies every other request to a
//! gregor-mock broker. Plus the real-Kafka SASL_SSL check, skipped unless
//! GREGOR_KAFKA_SASL_BOOTSTRAP is set.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use gregor::{ConnectionEventKind, Consumer, ConsumerConfig, ErrorKind};
use gregor_mock::MockCluster;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, RequestHeader, ResponseHeader, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use ring::{digest, hmac, pbkdf2};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(30);
const PASSWORD: &str = "Tr0ub4dor&3-never-logged";

#[derive(Clone, Copy, PartialEq)]
enum Mech {
    Plain,
    Scram512,
}

impl Mech {
    fn name(self) -> &'static str {
        match self {
            Mech::Plain => "PLAIN",
            Mech::Scram512 => "SCRAM-SHA-512",
        }
    }
}

struct Front {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    /// Connections closed because a request other than SaslHandshake arrived after the session
    /// expired (what a Kafka broker does, KIP-368).
    expired_kills: Arc<AtomicUsize>,
    /// Completed authentications after the first on a connection.
    reauths: Arc<AtomicUsize>,
}

async fn read_frame(s: &mut TcpStream) -> Option<Bytes> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.ok()?;
    let mut buf = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.ok()?;
    Some(Bytes::from(buf))
}

async fn write_frame(s: &mut TcpStream, body: &[u8]) -> Option<()> {
    let mut out = BytesMut::with_capacity(body.len() + 4);
    out.put_i32(body.len() as i32);
    out.extend_from_slice(body);
    s.write_all(&out).await.ok()
}

fn response<R: Encodable>(correlation_id: i32, header_version: i16, body: &R, version: i16) -> Bytes {
    let mut b = BytesMut::new();
    ResponseHeader::default().with_correlation_id(correlation_id).encode(&mut b, header_version).unwrap();
    body.encode(&mut b, version).unwrap();
    b.freeze()
}

async fn start_front(upstream: SocketAddr, mech: Mech, user: &'static str, password: &'static str) -> Front {
    start_front_with_sessions(upstream, mech, user, password, None).await
}

/// `session`: the session lifetime to announce in SaslAuthenticate v1+ and enforce.
async fn start_front_with_sessions(
    upstream: SocketAddr,
    mech: Mech,
    user: &'static str,
    password: &'static str,
    session: Option<Duration>,
) -> Front {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let expired_kills = Arc::new(AtomicUsize::new(0));
    let reauths = Arc::new(AtomicUsize::new(0));
    let (a, k, r) = (accepted.clone(), expired_kills.clone(), reauths.clone());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            let sessions = Sessions { lifetime: session, expired_kills: k.clone(), reauths: r.clone() };
            tokio::spawn(serve_front(client, upstream, mech, user, password, sessions));
        }
    });
    Front { addr, accepted, expired_kills, reauths }
}

struct Sessions {
    lifetime: Option<Duration>,
    expired_kills: Arc<AtomicUsize>,
    reauths: Arc<AtomicUsize>,
}

/// Sequential request/response: answers SASL itself, forwards the rest, adds SASL to the
/// ApiVersions answer.
async fn serve_front(mut client: TcpStream, upstream: SocketAddr, mech: Mech, user: &str, password: &str, sessions: Sessions) {
    let Ok(mut up) = TcpStream::connect(upstream).await else { return };
    let mut authenticated = false;
    let mut expires: Option<tokio::time::Instant> = None;
    let mut scram: Option<(String, String)> = None; // (client-first-bare, server-first)
    while let Some(frame) = read_frame(&mut client).await {
        let mut peek = frame.clone();
        let (key, version) = (peek.get_i16(), peek.get_i16());
        let api = ApiKey::try_from(key).unwrap();
        let mut req = frame.clone();
        let header = RequestHeader::decode(&mut req, api.request_header_version(version)).unwrap();
        let cid = header.correlation_id;
        let rhv = api.response_header_version(version);
        // Kafka's SocketServer: past the session's end, anything but a re-authentication
        // closes the connection.
        if api != ApiKey::SaslHandshake && expires.is_some_and(|e| tokio::time::Instant::now() >= e) {
            sessions.expired_kills.fetch_add(1, Ordering::SeqCst);
            return;
        }
        match api {
            ApiKey::SaslHandshake => {
                let resp = SaslHandshakeResponse::default()
                    .with_mechanisms(vec![StrBytes::from_static_str(mech.name())]);
                write_frame(&mut client, &response(cid, rhv, &resp, version)).await;
            }
            ApiKey::SaslAuthenticate => {
                let r = SaslAuthenticateRequest::decode(&mut req, version).unwrap();
                let (ok, bytes) = match mech {
                    Mech::Plain => {
                        let want = format!("\0{user}\0{password}");
                        (r.auth_bytes[..] == *want.as_bytes(), Bytes::new())
                    }
                    Mech::Scram512 => match scram.take() {
                        None => {
                            let first = std::str::from_utf8(&r.auth_bytes).unwrap().to_string();
                            let bare = first.strip_prefix("n,,").unwrap().to_string();
                            let cnonce = bare.split(',').find_map(|a| a.strip_prefix("r=")).unwrap();
                            let server_first = format!("r={cnonce}srvNonce42,s={},i=4096", B64.encode(b"salt"));
                            scram = Some((bare, server_first.clone()));
                            (true, Bytes::from(server_first))
                        }
                        Some((bare, server_first)) => {
                            let fin = std::str::from_utf8(&r.auth_bytes).unwrap();
                            let (without_proof, proof) = fin.rsplit_once(",p=").unwrap();
                            let proof = B64.decode(proof).unwrap();
                            let mut salted = [0u8; 64];
                            pbkdf2::derive(
                                pbkdf2::PBKDF2_HMAC_SHA512,
                                4096.try_into().unwrap(),
                                b"salt",
                                password.as_bytes(),
                                &mut salted,
                            );
                            let sk = hmac::Key::new(hmac::HMAC_SHA512, &salted);
                            let client_key = hmac::sign(&sk, b"Client Key");
                            let stored = digest::digest(&digest::SHA512, client_key.as_ref());
                            let auth_msg = format!("{bare},{server_first},{without_proof}");
                            let csig = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA512, stored.as_ref()), auth_msg.as_bytes());
                            let recovered: Vec<u8> = proof.iter().zip(csig.as_ref()).map(|(a, b)| a ^ b).collect();
                            let ok = digest::digest(&digest::SHA512, &recovered).as_ref() == stored.as_ref();
                            let server_key = hmac::sign(&sk, b"Server Key");
                            let ssig = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA512, server_key.as_ref()), auth_msg.as_bytes());
                            (ok, Bytes::from(format!("v={}", B64.encode(ssig.as_ref()))))
                        }
                    },
                };
                let resp = if ok {
                    let done = bytes.is_empty() || bytes.starts_with(b"v=");
                    let mut resp = SaslAuthenticateResponse::default().with_auth_bytes(bytes);
                    if done {
                        if authenticated {
                            sessions.reauths.fetch_add(1, Ordering::SeqCst);
                        }
                        authenticated = true;
                        if let Some(l) = sessions.lifetime {
                            expires = Some(tokio::time::Instant::now() + l);
                            resp = resp.with_session_lifetime_ms(l.as_millis() as i64);
                        }
                    }
                    resp
                } else {
                    // Kafka's message for a bad password (SaslServerAuthenticator).
                    SaslAuthenticateResponse::default().with_error_code(58).with_error_message(Some(
                        StrBytes::from_string(format!(
                            "Authentication failed during authentication due to invalid credentials with SASL mechanism {}",
                            mech.name()
                        )),
                    ))
                };
                write_frame(&mut client, &response(cid, rhv, &resp, version)).await;
                if !ok {
                    return; // Kafka closes the connection after a failed authentication.
                }
            }
            _ => {
                if api != ApiKey::ApiVersions && !authenticated {
                    return; // A SASL listener accepts nothing else before authentication.
                }
                write_frame(&mut up, &frame).await;
                let Some(mut answer) = read_frame(&mut up).await else { return };
                if api == ApiKey::ApiVersions {
                    let mut body = answer.clone();
                    let h = ResponseHeader::decode(&mut body, 0).unwrap();
                    let mut v = ApiVersionsResponse::decode(&mut body, version).unwrap();
                    v.api_keys.push(ApiVersion::default().with_api_key(17).with_min_version(0).with_max_version(1));
                    v.api_keys.push(ApiVersion::default().with_api_key(36).with_min_version(0).with_max_version(2));
                    answer = response(h.correlation_id, 0, &v, version);
                }
                write_frame(&mut client, &answer).await;
            }
        }
    }
}

async fn cluster_behind(mech: Mech, password: &'static str) -> (MockCluster, Front) {
    let cluster = MockCluster::builder().brokers(1).topic("t", 1).start().await.unwrap();
    cluster.append_records("t", 0, &[("k", "v0"), ("k", "v1")]).unwrap();
    let front = start_front(cluster.broker_addr(0).unwrap(), mech, "alice", password).await;
    cluster.set_advertised(0, "127.0.0.1", front.addr.port());
    (cluster, front)
}

fn config(front: &Front, mech: Mech, password: &str) -> ConsumerConfig {
    ConsumerConfig::builder()
        .bootstrap_servers(format!("127.0.0.1:{}", front.addr.port()))
        .group_id("g")
        .set("auto.offset.reset", "earliest")
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", mech.name())
        .set("sasl.username", "alice")
        .set("sasl.password", password)
        .set("default.api.timeout.ms", "600000")
        .set("reconnect.backoff.max.ms", "600000")
        .build()
        .unwrap()
}

async fn consume_two(consumer: &Consumer) {
    consumer.subscribe(["t"]).unwrap();
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "records did not arrive over SASL");
        got.extend(consumer.poll(Duration::from_millis(200)).await.expect("poll over SASL"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_sha512_consumes() {
    common::log_capture();
    let (_cluster, front) = cluster_behind(Mech::Scram512, PASSWORD).await;
    let consumer = Consumer::new(config(&front, Mech::Scram512, PASSWORD)).unwrap();
    consume_two(&consumer).await;
    consumer.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_consumes() {
    common::log_capture();
    let (_cluster, front) = cluster_behind(Mech::Plain, PASSWORD).await;
    let consumer = Consumer::new(config(&front, Mech::Plain, PASSWORD)).unwrap();
    consume_two(&consumer).await;
    consumer.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_one_clear_error_without_retry_storm() {
    common::log_capture();
    for mech in [Mech::Scram512, Mech::Plain] {
        let (cluster, front) = cluster_behind(mech, PASSWORD).await;
        let consumer = Consumer::new(config(&front, mech, "wrong-password")).unwrap();
        consumer.subscribe(["t"]).unwrap();
        // poll surfaces the failure instead of retrying until default.api.timeout.ms (600 s).
        let err = consumer.poll(Duration::from_secs(600)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        assert_eq!(err.code(), Some(58), "{err}");
        let text = err.to_string();
        let want = format!(
            "SASL authentication failed for user 'alice' with {} on 127.0.0.1:{}",
            mech.name(),
            front.addr.port()
        );
        assert!(text.contains(&want), "{text}");
        assert!(text.contains("invalid credentials"), "{text}");
        assert!(!text.contains("wrong-password"), "{text}");
        // Again: answered from the rejection, no new socket inside reconnect.backoff.max.ms.
        let attempts = front.accepted.load(Ordering::SeqCst);
        assert_eq!(attempts, 1, "one attempt, not a storm");
        let again = consumer.partitions_for("t").await.unwrap_err();
        assert_eq!(again.kind(), ErrorKind::Auth);
        assert_eq!(front.accepted.load(Ordering::SeqCst), attempts);
        assert_eq!(cluster.connections().len(), 1, "only the proxied ApiVersions connection");
        consumer.close(Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_logs_debug_or_errors() {
    let capture = common::log_capture();
    let mut seen = String::new();
    for mech in [Mech::Scram512, Mech::Plain] {
        let (_cluster, front) = cluster_behind(mech, PASSWORD).await;
        let cfg = config(&front, mech, PASSWORD);
        seen.push_str(&format!("{cfg:?}"));
        let consumer = Consumer::new(cfg).unwrap();
        consume_two(&consumer).await;
        consumer.close(Duration::from_secs(5)).await;
        // And a failing exchange, whose error text is checked too.
        let bad = Consumer::new(config(&front, mech, "wrong-Tr0ub4dor&3")).unwrap();
        let err = bad.partitions_for("t").await.unwrap_err();
        seen.push_str(&format!("{err} {err:?}"));
    }
    let logs = capture.text();
    assert!(logs.contains("SASL authentication succeeded"), "the capture works");
    assert!(logs.contains("TRACE"), "trace events were captured");
    for secret in [PASSWORD, "wrong-Tr0ub4dor&3"] {
        assert!(!logs.contains(secret), "a password reached the logs");
        assert!(!seen.contains(secret), "a password reached Debug or an error: {seen}");
    }
}

/// Sets up the data-path check of the real-Kafka tests: when GREGOR_KAFKA_BOOTSTRAP (the
/// cluster's PLAINTEXT listener) is set too, a fresh one-partition topic holding one record
/// written over PLAINTEXT, which every SASL consumer must then read. Without it the tests only
/// prove connect + handshake + authenticate + Metadata.
async fn real_kafka_topic(tag: &str) -> Option<(String, String)> {
    let plain = std::env::var("GREGOR_KAFKA_BOOTSTRAP").ok()?;
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let topic = format!("gregor-{tag}-{run}");
    let value = format!("over {tag} {run}");
    let admin = gregor::Admin::from_properties([("bootstrap.servers", plain.as_str())]).unwrap();
    admin.create_topics(&[gregor::NewTopic::new(&topic, 1, 1)], false, WAIT).await.unwrap();
    admin.close(Duration::from_secs(5)).await;
    let p = gregor::Producer::from_properties([("bootstrap.servers", plain.as_str())]).unwrap();
    let f = p.send(gregor::ProducerRecord::new(&topic).partition(0).value(value.clone())).await.unwrap();
    tokio::time::timeout(WAIT, f).await.expect("produce timed out").expect("produce failed");
    p.close(Duration::from_secs(5)).await.unwrap();
    Some((topic, value))
}

/// One real-Kafka check: the good password reads (the topic's record, or at least Metadata), a
/// wrong one fails with exactly one clear Auth error.
async fn real_kafka_check(bootstrap: &str, protocol: &str, mechanism: &str, data: Option<&(String, String)>) {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let builder = || {
        let mut b = ConsumerConfig::builder()
            .bootstrap_servers(bootstrap)
            .set("security.protocol", protocol)
            .set("sasl.mechanism", mechanism)
            .set("sasl.username", env("GREGOR_KAFKA_SASL_USERNAME", "alice"))
            .set("default.api.timeout.ms", "30000");
        if protocol == "SASL_SSL" {
            if let Ok(ca) = std::env::var("GREGOR_KAFKA_SSL_TRUSTSTORE") {
                b = b.set("ssl.truststore.location", ca);
            }
        }
        b
    };
    let what = format!("{protocol} {mechanism}");
    let good = env("GREGOR_KAFKA_SASL_PASSWORD", "alice-secret");
    let consumer = Consumer::new(builder().set("sasl.password", good).build().unwrap()).unwrap();
    match data {
        Some((topic, value)) => {
            let parts = consumer.partitions_for(topic).await.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(parts, vec![gregor::TopicPartition::new(topic, 0)], "{what}");
            consumer.assign(parts.clone()).unwrap();
            consumer.seek_to_beginning(&parts).unwrap();
            let got = tokio::time::timeout(WAIT, async {
                loop {
                    let recs = consumer.poll(Duration::from_secs(1)).await.unwrap_or_else(|e| panic!("{what}: {e}"));
                    if let Some(r) = recs.first() {
                        break r.value_str().map(str::to_string);
                    }
                }
            })
            .await
            .unwrap_or_else(|_| panic!("{what}: no record within {WAIT:?}"));
            assert_eq!(got.as_deref(), Some(value.as_str()), "{what}");
        }
        // Any topic listing proves TCP (+ TLS) + SASL + Metadata worked.
        None => match consumer.partitions_for("__consumer_offsets").await {
            Ok(_) => {}
            Err(e) => assert_ne!(e.kind(), ErrorKind::Auth, "{what}: good credentials were rejected: {e}"),
        },
    }
    consumer.close(Duration::from_secs(5)).await;
    let bad = Consumer::new(builder().set("sasl.password", "definitely-wrong").build().unwrap()).unwrap();
    let err = bad.partitions_for("__consumer_offsets").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{what}: {err}");
    assert!(err.to_string().contains("SASL authentication failed for user"), "{what}: {err}");
    bad.close(Duration::from_secs(5)).await;
}

/// Against a real broker with a SASL_SSL listener (`KAFKA_SECURITY=1 scripts/kafka-cluster.sh
/// start`, then source `$KAFKA_DATA_DIR/security.env`): set GREGOR_KAFKA_SASL_BOOTSTRAP, and
/// optionally GREGOR_KAFKA_SASL_USERNAME/_PASSWORD/_MECHANISM (default SCRAM-SHA-512),
/// GREGOR_KAFKA_SSL_TRUSTSTORE (a PEM CA file) and GREGOR_KAFKA_BOOTSTRAP (data-path check).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_sasl_ssl() {
    let Ok(bootstrap) = std::env::var("GREGOR_KAFKA_SASL_BOOTSTRAP") else {
        println!("skipped: GREGOR_KAFKA_SASL_BOOTSTRAP is not set");
        return;
    };
    let protocol = std::env::var("GREGOR_KAFKA_SECURITY_PROTOCOL").unwrap_or_else(|_| "SASL_SSL".into());
    let mechanism = std::env::var("GREGOR_KAFKA_SASL_MECHANISM").unwrap_or_else(|_| "SCRAM-SHA-512".into());
    let data = real_kafka_topic("sasl-ssl").await;
    real_kafka_check(&bootstrap, &protocol, &mechanism, data.as_ref()).await;
}

/// The cluster script's SASL_PLAINTEXT listener (GREGOR_KAFKA_SASL_PLAINTEXT_BOOTSTRAP) with
/// every mechanism it enables: PLAIN (users from the listener's JAAS config) and both SCRAM
/// variants (credentials stored in the cluster metadata).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_sasl_plaintext_every_mechanism() {
    let Ok(bootstrap) = std::env::var("GREGOR_KAFKA_SASL_PLAINTEXT_BOOTSTRAP") else {
        println!("skipped: GREGOR_KAFKA_SASL_PLAINTEXT_BOOTSTRAP is not set");
        return;
    };
    let data = real_kafka_topic("sasl-plaintext").await;
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        real_kafka_check(&bootstrap, "SASL_PLAINTEXT", mechanism, data.as_ref()).await;
    }
}

/// KIP-368 without a real broker: the front announces 2 s sessions and, like Kafka, closes a
/// connection that sends anything but a re-authentication after its session ended. gregor
/// re-authenticates each socket in time, for PLAIN and SCRAM: over several sessions no
/// connection is killed or opened again, and records keep flowing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthenticates_before_each_session_ends() {
    common::log_capture();
    for mech in [Mech::Scram512, Mech::Plain] {
        let cluster = MockCluster::builder().brokers(1).topic("t", 1).start().await.unwrap();
        cluster.append_records("t", 0, &[("k", "v0"), ("k", "v1")]).unwrap();
        let front =
            start_front_with_sessions(cluster.broker_addr(0).unwrap(), mech, "alice", PASSWORD, Some(Duration::from_millis(2000)))
                .await;
        cluster.set_advertised(0, "127.0.0.1", front.addr.port());
        let mut cfg = config(&front, mech, PASSWORD);
        cfg.set("fetch.max.wait.ms", "100").unwrap();
        let consumer = Consumer::new(cfg).unwrap();
        let mut events = consumer.connection_events();
        consume_two(&consumer).await;
        let opened = front.accepted.load(Ordering::SeqCst);
        let mut reauthenticated = 0;
        let deadline = tokio::time::Instant::now() + WAIT;
        // The front counts a re-authentication when it answers it, the client when it has read
        // the answer: wait for both (asserting only the front's count raced the client's).
        while front.reauths.load(Ordering::SeqCst) < 3 * opened
            || consumer.connection_metrics().successful_reauthentication_total < 3 * opened as u64
        {
            assert!(tokio::time::Instant::now() < deadline, "{}: no re-authentications", mech.name());
            consumer.poll(Duration::from_millis(100)).await.expect("poll across sessions");
            while let Some(ev) = events.try_recv() {
                match ev.kind {
                    ConnectionEventKind::Reauthenticated { session_lifetime } => {
                        assert_eq!(session_lifetime, Some(Duration::from_millis(2000)));
                        reauthenticated += 1;
                    }
                    ConnectionEventKind::Closed(r) => panic!("{}: connection closed ({r}): {ev}", mech.name()),
                    _ => {}
                }
            }
        }
        assert_eq!(front.expired_kills.load(Ordering::SeqCst), 0, "{}: a session expired", mech.name());
        assert_eq!(front.accepted.load(Ordering::SeqCst), opened, "{}: no new socket", mech.name());
        assert!(reauthenticated >= 1);
        assert!(consumer.connection_metrics().successful_reauthentication_total >= 3 * opened as u64);
        // Still serving: read the partition again on the same sockets.
        cluster.append_records("t", 0, &[("k", "v2")]).unwrap();
        let mut got = Vec::new();
        while got.is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "no record after re-authentication");
            got = consumer.poll(Duration::from_millis(200)).await.unwrap();
        }
        assert_eq!(got[0].value_str(), Some("v2"));
        consumer.close(Duration::from_secs(5)).await;
    }
}
