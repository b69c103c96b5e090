//! OAUTHBEARER (KIP-255) and the OIDC client-credentials flow (KIP-768).
//!
//! Offline: a token endpoint served here (HTTP and HTTPS, rustls + rcgen) in front of a
//! gregor-mock cluster, for the token request, its errors, TLS trust and secrecy. Against the
//! cluster script's listeners (`KAFKA_SECURITY=1 scripts/kafka-cluster.sh start`, then source
//! `$KAFKA_DATA_DIR/security.env`; skipped without it): Kafka's unsecured validator (OAUTH
//! listener), a token callback, and signed JWTs checked against the script's JWKS endpoint (OIDC
//! listener) with tokens this test's endpoint issues, refreshed and re-authenticated several
//! times on the same sockets.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use gregor::oauth::{token_provider_fn, OAuthBearerToken};
use gregor::{ConnectionEventKind, Consumer, ConsumerConfig, ErrorKind};
use gregor_mock::MockCluster;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

const WAIT: Duration = Duration::from_secs(60);
const CLIENT_ID: &str = "gregor-app";
const CLIENT_SECRET: &str = "Cl1ent-S3cret-never-logged";

/// How the token endpoint signs: ES256 with a PKCS#8 key, or not at all (`alg: none`).
#[derive(Clone)]
enum Signer {
    None,
    Es256 { key: Arc<ring::signature::EcdsaKeyPair>, kid: String },
}

#[derive(Clone)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    scope: String,
    lifetime: Duration,
}

fn jwt(signer: &Signer, c: &Claims) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let payload = serde_json::json!({
        "sub": c.sub, "iss": c.iss, "aud": c.aud, "scope": c.scope,
        "iat": now, "exp": now + c.lifetime.as_secs(),
    });
    let (header, sign): (serde_json::Value, _) = match signer {
        Signer::None => (serde_json::json!({"alg": "none"}), None),
        Signer::Es256 { key, kid } => (serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": kid}), Some(key)),
    };
    let input = format!("{}.{}", B64URL.encode(header.to_string()), B64URL.encode(payload.to_string()));
    let sig = match sign {
        None => String::new(),
        Some(key) => {
            let rng = ring::rand::SystemRandom::new();
            B64URL.encode(key.sign(&rng, input.as_bytes()).unwrap().as_ref())
        }
    };
    format!("{input}.{sig}")
}

/// A client-credentials token endpoint: checks the Basic header and the form body, answers
/// with a fresh JWT, counts requests.
struct TokenEndpoint {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<String>>>,
}

async fn read_http_request<S: AsyncRead + Unpin>(s: &mut S) -> Option<(String, HashMap<String, String>, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next()?.to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((request_line, headers, String::from_utf8_lossy(&body).into_owned()))
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, signer: Signer, claims: Claims, hits: Arc<AtomicUsize>, bodies: Arc<Mutex<Vec<String>>>) {
    let Some((line, headers, body)) = read_http_request(&mut s).await else { return };
    hits.fetch_add(1, Ordering::SeqCst);
    bodies.lock().unwrap().push(body.clone());
    let want_auth = format!("Basic {}", B64.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    let (status, json) = if !line.starts_with("POST /token ") {
        ("404 Not Found", serde_json::json!({"error": "not_found"}))
    } else if headers.get("authorization") != Some(&want_auth) {
        ("401 Unauthorized", serde_json::json!({"error": "invalid_client", "error_description": "unknown client or wrong secret"}))
    } else if !body.split('&').any(|p| p == "grant_type=client_credentials") {
        ("400 Bad Request", serde_json::json!({"error": "unsupported_grant_type"}))
    } else {
        ("200 OK", serde_json::json!({"access_token": jwt(&signer, &claims), "token_type": "Bearer", "expires_in": claims.lifetime.as_secs()}))
    };
    let body = json.to_string();
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(resp.as_bytes()).await;
    let _ = s.shutdown().await;
}

async fn start_endpoint(signer: Signer, claims: Claims, tls: Option<Arc<rustls::ServerConfig>>) -> TokenEndpoint {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let (h, b) = (hits.clone(), bodies.clone());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (signer, claims, h, b) = (signer.clone(), claims.clone(), h.clone(), b.clone());
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => answer(tcp, signer, claims, h, b).await,
                    Some(cfg) => {
                        if let Ok(s) = tokio_rustls::TlsAcceptor::from(cfg).accept(tcp).await {
                            answer(s, signer, claims, h, b).await
                        }
                    }
                }
            });
        }
    });
    TokenEndpoint { addr, hits, bodies }
}

/// A CA and a server config for `localhost` signed by it; returns (config, CA PEM).
fn tls_server() -> (Arc<rustls::ServerConfig>, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&key, &ca_cert, &ca_key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())))
        .unwrap();
    (Arc::new(cfg), ca_cert.pem())
}

fn test_claims(lifetime: Duration) -> Claims {
    Claims { sub: "gregor-app".into(), iss: "test".into(), aud: "kafka".into(), scope: "kafka".into(), lifetime }
}

fn scratch(name: &str, text: &str) -> String {
    let d = std::env::temp_dir().join(format!("gregor-oauth-{}-{name}", std::process::id()));
    std::fs::write(&d, text).unwrap();
    d.to_string_lossy().into_owned()
}

fn oidc_config(bootstrap: &str, url: &str, secret: &str, extra: &[(&str, &str)]) -> ConsumerConfig {
    let mut b = ConsumerConfig::builder()
        .bootstrap_servers(bootstrap)
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "OAUTHBEARER")
        .set("sasl.oauthbearer.token.endpoint.url", url)
        .set("sasl.oauthbearer.client.credentials.client.id", CLIENT_ID)
        .set("sasl.oauthbearer.client.credentials.client.secret", secret)
        .set("sasl.oauthbearer.scope", "kafka")
        .set("sasl.login.retry.backoff.max.ms", "0")
        .set("default.api.timeout.ms", "30000")
        .set("reconnect.backoff.max.ms", "600000");
    for (k, v) in extra {
        b = b.set(k, v);
    }
    b.build().unwrap()
}

/// The token request, a rejected client secret, and what may be printed: the secret and the
/// tokens appear in no error, no Debug output and no log line (TRACE).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_request_errors_and_secrecy() {
    let capture = common::log_capture();
    let cluster = MockCluster::builder().brokers(1).topic("t", 1).start().await.unwrap();
    let bootstrap = format!("127.0.0.1:{}", cluster.broker_addr(0).unwrap().port());
    let endpoint = start_endpoint(Signer::None, test_claims(Duration::from_secs(3600)), None).await;
    let url = format!("http://127.0.0.1:{}/token", endpoint.addr.port());
    let mut seen = String::new();

    // The right secret: a token is fetched (the mock broker then lacks SaslHandshake).
    let cfg = oidc_config(&bootstrap, &url, CLIENT_SECRET, &[]);
    seen.push_str(&format!("{cfg:?}"));
    let consumer = Consumer::new(cfg).unwrap();
    let err = consumer.partitions_for("t").await.unwrap_err();
    seen.push_str(&format!("{err} {err:?}"));
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("SaslHandshake"), "the token was fetched first: {err}");
    assert!(err.to_string().contains("user 'gregor-app'"), "principal from the JWT's sub: {err}");
    assert_eq!(endpoint.hits.load(Ordering::SeqCst), 1);
    assert_eq!(endpoint.bodies.lock().unwrap()[0], "grant_type=client_credentials&scope=kafka");
    consumer.close(Duration::from_secs(5)).await;

    // A wrong secret: one clear error with the endpoint's reason, no retry of a 4xx.
    let hits = endpoint.hits.load(Ordering::SeqCst);
    let cfg = oidc_config(&bootstrap, &url, "Wrong-S3cret-also-hidden", &[("sasl.login.retry.backoff.max.ms", "10000")]);
    seen.push_str(&format!("{cfg:?}"));
    let bad = Consumer::new(cfg).unwrap();
    let err = bad.partitions_for("t").await.unwrap_err();
    seen.push_str(&format!("{err} {err:?}"));
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    let text = err.to_string();
    assert!(text.contains("HTTP 401") && text.contains("invalid_client") && text.contains(&url), "{text}");
    assert_eq!(endpoint.hits.load(Ordering::SeqCst), hits + 1, "a 4xx is not retried");
    bad.close(Duration::from_secs(5)).await;

    // The deprecated JAAS options of KIP-768 work too, and stay hidden in Debug.
    let jaas = format!(
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId=\"{CLIENT_ID}\" clientSecret=\"{CLIENT_SECRET}\" scope=\"kafka\";"
    );
    let cfg = ConsumerConfig::builder()
        .bootstrap_servers(&bootstrap)
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "OAUTHBEARER")
        .set("sasl.login.callback.handler.class", "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler")
        .set("sasl.oauthbearer.token.endpoint.url", &url)
        .set("sasl.jaas.config", &jaas)
        .build()
        .unwrap();
    seen.push_str(&format!("{cfg:?}"));
    let c = Consumer::new(cfg).unwrap();
    let err = c.partitions_for("t").await.unwrap_err();
    assert!(err.to_string().contains("SaslHandshake"), "{err}");
    c.close(Duration::from_secs(5)).await;

    let logs = capture.text();
    assert!(logs.contains("new OAUTHBEARER token"), "the capture works");
    let basic = B64.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    for secret in [CLIENT_SECRET, "Wrong-S3cret-also-hidden", basic.as_str(), "eyJhbGciOiJub25lIn0"] {
        assert!(!logs.contains(secret), "{secret} reached the logs");
        assert!(!seen.contains(secret), "{secret} reached Debug or an error: {seen}");
    }
}

/// An `https` token endpoint is verified: an unknown CA fails clearly; the CA given in the JAAS
/// option `ssl.truststore.location` (where Java reads the endpoint's TLS settings) works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_token_endpoint_trust() {
    let cluster = MockCluster::builder().brokers(1).topic("t", 1).start().await.unwrap();
    let bootstrap = format!("127.0.0.1:{}", cluster.broker_addr(0).unwrap().port());
    let (tls, ca_pem) = tls_server();
    let endpoint = start_endpoint(Signer::None, test_claims(Duration::from_secs(3600)), Some(tls)).await;
    let url = format!("https://localhost:{}/token", endpoint.addr.port());

    let untrusted = Consumer::new(oidc_config(&bootstrap, &url, CLIENT_SECRET, &[])).unwrap();
    let err = untrusted.partitions_for("t").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().to_lowercase().contains("certificate"), "{err}");
    untrusted.close(Duration::from_secs(5)).await;

    let ca = scratch("ca.pem", &ca_pem);
    let jaas = format!(
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ssl.truststore.location=\"{ca}\";"
    );
    let trusted = Consumer::new(oidc_config(&bootstrap, &url, CLIENT_SECRET, &[("sasl.jaas.config", &jaas)])).unwrap();
    let err = trusted.partitions_for("t").await.unwrap_err();
    assert!(err.to_string().contains("SaslHandshake"), "token fetched over TLS: {err}");
    assert!(endpoint.hits.load(Ordering::SeqCst) >= 1);
    trusted.close(Duration::from_secs(5)).await;
}

/// Config-time rules: OAUTHBEARER needs a token source; errors never quote secrets.
#[test]
fn oauthbearer_config_rules() {
    let base = || {
        ConsumerConfig::builder()
            .bootstrap_servers("localhost:9092")
            .set("security.protocol", "SASL_SSL")
            .set("sasl.mechanism", "OAUTHBEARER")
    };
    let err = base().build().unwrap_err().to_string();
    assert!(err.contains("OAUTHBEARER needs a token"), "{err}");
    let err = base().set("sasl.oauthbearer.token.endpoint.url", "https://idp/token").build().unwrap_err().to_string();
    assert!(err.contains("client id"), "{err}");
    let err = base()
        .set("sasl.oauthbearer.token.endpoint.url", "https://idp/token")
        .set("sasl.oauthbearer.client.credentials.client.id", "x")
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("client secret"), "{err}");
    assert!(base().set("sasl.oauthbearer.token.endpoint.url", "ftp://idp").build().is_err());
    assert!(base().set("sasl.login.refresh.window.factor", "0.2").build().is_err());
    assert!(base().set("sasl.login.callback.handler.class", "com.example.MyHandler").build().is_err());
    // A file: URL needs nothing else; unsecured options need the principal claim.
    base().set("sasl.oauthbearer.token.endpoint.url", "file:/run/token.jwt").build().unwrap();
    let ok = base()
        .set(
            "sasl.jaas.config",
            r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="alice";"#,
        )
        .build()
        .unwrap();
    assert!(format!("{ok:?}").contains("[hidden]"));
    let secret_err = base()
        .set("sasl.oauthbearer.token.endpoint.url", "https://idp/token")
        .set("sasl.oauthbearer.client.credentials.client.secret", "Shh-secret")
        .build()
        .unwrap_err();
    assert!(!format!("{secret_err} {secret_err:?}").contains("Shh-secret"));
    let cfg = base()
        .set("sasl.oauthbearer.token.endpoint.url", "https://idp/token")
        .set("sasl.oauthbearer.client.credentials.client.id", "x")
        .set("sasl.oauthbearer.client.credentials.client.secret", "Shh-secret")
        .build()
        .unwrap();
    assert!(!format!("{cfg:?}").contains("Shh-secret"));
    // A token callback is a complete source.
    let p = token_provider_fn(|| async { Ok(OAuthBearerToken::new("t", "p", SystemTime::now() + Duration::from_secs(60))) });
    base().oauthbearer_token_provider(p).build().unwrap();
}

// ------------------------------------------------------------------------------ real Kafka

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// A fresh one-partition topic holding one record, written over PLAINTEXT
/// (GREGOR_KAFKA_BOOTSTRAP); `None` without it.
async fn real_kafka_topic(tag: &str) -> Option<(String, String)> {
    let plain = env("GREGOR_KAFKA_BOOTSTRAP")?;
    let run = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis();
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

/// Reads the topic's record through `consumer` (or, without a topic, lists the cluster's
/// topics: an authenticated Metadata request that needs no topic to exist, so the test does not
/// depend on a group having created `__consumer_offsets` before it).
async fn read_back(consumer: &Consumer, data: Option<&(String, String)>, what: &str) {
    let Some((topic, value)) = data else {
        consumer.list_topics().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        return;
    };
    let parts = consumer.partitions_for(topic).await.unwrap_or_else(|e| panic!("{what}: {e}"));
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

fn unsecured_jaas(extra: &str) -> String {
    format!(
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"alice\" {extra};"
    )
}

fn oauth_builder(bootstrap: &str) -> gregor::config::ConsumerConfigBuilder {
    ConsumerConfig::builder()
        .bootstrap_servers(bootstrap)
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "OAUTHBEARER")
        .set("default.api.timeout.ms", "30000")
}

/// The OAUTH listener (Kafka's unsecured validator, requiring scope `gregor-test`): an
/// unsecured token with the scope reads; one without it is refused with the broker's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_oauthbearer_unsecured() {
    let Some(bootstrap) = env("GREGOR_KAFKA_OAUTH_BOOTSTRAP") else {
        println!("skipped: GREGOR_KAFKA_OAUTH_BOOTSTRAP is not set");
        return;
    };
    let scope = env("GREGOR_KAFKA_OAUTH_SCOPE").unwrap_or_else(|| "gregor-test".into());
    let data = real_kafka_topic("oauth").await;
    let good = Consumer::new(
        oauth_builder(&bootstrap)
            .set("sasl.jaas.config", unsecured_jaas(&format!("unsecuredLoginListClaim_scope=\",{scope}\"")))
            .build()
            .unwrap(),
    )
    .unwrap();
    read_back(&good, data.as_ref(), "unsecured OAUTHBEARER").await;
    good.close(Duration::from_secs(5)).await;

    let unscoped =
        Consumer::new(oauth_builder(&bootstrap).set("sasl.jaas.config", unsecured_jaas("")).build().unwrap()).unwrap();
    let err = unscoped.list_topics().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    let text = err.to_string();
    assert!(text.contains("user 'alice' with OAUTHBEARER"), "{text}");
    assert!(text.contains("insufficient_scope"), "the broker's RFC 7628 error status: {text}");
    unscoped.close(Duration::from_secs(5)).await;
}

/// The same listener with tokens from an application callback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_oauthbearer_token_callback() {
    let Some(bootstrap) = env("GREGOR_KAFKA_OAUTH_BOOTSTRAP") else {
        println!("skipped: GREGOR_KAFKA_OAUTH_BOOTSTRAP is not set");
        return;
    };
    let scope = env("GREGOR_KAFKA_OAUTH_SCOPE").unwrap_or_else(|| "gregor-test".into());
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let provider = token_provider_fn(move || {
        c.fetch_add(1, Ordering::SeqCst);
        let mut claims = test_claims(Duration::from_secs(3600));
        claims.sub = "callback-user".into();
        claims.scope = scope.clone();
        async move { OAuthBearerToken::from_jwt(&jwt(&Signer::None, &claims)) }
    });
    let data = real_kafka_topic("oauth-callback").await;
    let consumer = Consumer::new(oauth_builder(&bootstrap).oauthbearer_token_provider(provider).build().unwrap()).unwrap();
    read_back(&consumer, data.as_ref(), "OAUTHBEARER token callback").await;
    // One token serves every connection until its refresh window.
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    consumer.close(Duration::from_secs(5)).await;
}

/// The OIDC listener validates ES256 JWTs against the script's JWKS endpoint. This test is the
/// identity provider: its HTTPS token endpoint signs with the script's key. Tokens live 6 s and
/// `sasl.login.refresh.window.factor=0.5`, so every re-authentication (the broker limits each
/// session to the token's remaining lifetime) presents a new token: over three sessions the
/// endpoint is asked again and again while the sockets stay the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_oidc_client_credentials_refresh_and_reauth() {
    let (Some(bootstrap), Some(key_path)) = (env("GREGOR_KAFKA_OIDC_BOOTSTRAP"), env("GREGOR_KAFKA_OIDC_SIGNING_KEY")) else {
        println!("skipped: GREGOR_KAFKA_OIDC_BOOTSTRAP / GREGOR_KAFKA_OIDC_SIGNING_KEY are not set");
        return;
    };
    let pem = std::fs::read_to_string(&key_path).unwrap();
    let (_, der) = pkcs8::der::pem::decode_vec(pem.trim().as_bytes()).unwrap();
    let key = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &der,
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    let signer = Signer::Es256 { key: Arc::new(key), kid: env("GREGOR_KAFKA_OIDC_KID").unwrap_or_else(|| "gregor-test-key".into()) };
    let claims = Claims {
        sub: "oidc-app".into(),
        iss: env("GREGOR_KAFKA_OIDC_ISSUER").unwrap_or_else(|| "gregor-test-idp".into()),
        aud: env("GREGOR_KAFKA_OIDC_AUDIENCE").unwrap_or_else(|| "gregor-kafka".into()),
        scope: "kafka".into(),
        lifetime: Duration::from_secs(6),
    };
    let (tls, ca_pem) = tls_server();
    let endpoint = start_endpoint(signer, claims, Some(tls)).await;
    let ca = scratch("oidc-ca.pem", &ca_pem);
    let url = format!("https://localhost:{}/token", endpoint.addr.port());
    let jaas = format!(
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ssl.truststore.location=\"{ca}\";"
    );
    let data = real_kafka_topic("oidc").await;
    let consumer = Consumer::new(oidc_config(
        &bootstrap,
        &url,
        CLIENT_SECRET,
        &[
            ("sasl.jaas.config", jaas.as_str()),
            ("sasl.login.refresh.window.factor", "0.5"),
            ("sasl.login.refresh.window.jitter", "0"),
        ],
    ))
    .unwrap();
    let mut events = consumer.connection_events();
    read_back(&consumer, data.as_ref(), "OIDC client credentials").await;
    let opened = consumer.connection_metrics().connection_creation_total;
    let hits = endpoint.hits.load(Ordering::SeqCst);
    assert!(hits >= 1);

    // Keep polling (Fetch keeps the sockets busy) until three re-authentications happened.
    let mut reauths = 0;
    tokio::time::timeout(WAIT, async {
        while reauths < 3 {
            consumer.poll(Duration::from_millis(200)).await.expect("poll across re-authentications");
            while let Some(ev) = events.try_recv() {
                match ev.kind {
                    ConnectionEventKind::Reauthenticated { session_lifetime } => {
                        let l = session_lifetime.expect("the broker bounds the session by the token");
                        assert!(l <= Duration::from_secs(6), "session {l:?} outlives the token");
                        reauths += 1;
                    }
                    ConnectionEventKind::Closed(r) => panic!("a connection closed ({r}): {ev}"),
                    _ => {}
                }
            }
        }
    })
    .await
    .expect("three re-authentications within the wait");
    let m = consumer.connection_metrics();
    assert_eq!(m.connection_creation_total, opened, "no socket was opened again");
    assert!(m.successful_reauthentication_total >= 3);
    assert!(endpoint.hits.load(Ordering::SeqCst) >= hits + 2, "tokens were refreshed for the re-authentications");
    consumer.close(Duration::from_secs(5)).await;

    // A wrong client secret: the endpoint refuses, one clear error.
    let bad = Consumer::new(oidc_config(&bootstrap, &url, "not-the-secret", &[("sasl.jaas.config", jaas.as_str())])).unwrap();
    let err = bad.list_topics().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("HTTP 401") && !err.to_string().contains("not-the-secret"), "{err}");
    bad.close(Duration::from_secs(5)).await;
}
