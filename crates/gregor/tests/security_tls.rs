//! TLS end to end: a TLS-terminating proxy (rustls, certificates generated here with rcgen)
//! in front of a gregor-mock broker. The proxy proves the client side: trust, host name
//! verification, SNI-less IP handling, client certificates, and that a trust failure is one
//! clear `ErrorKind::Auth` error instead of a retry loop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gregor::{Consumer, ConsumerConfig, ErrorKind};
use gregor_mock::MockCluster;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(30);

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn new_ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    Ca { cert, key }
}

/// A leaf certificate for `names` (DNS names or IP addresses) signed by `ca`.
fn leaf(ca: &Ca, names: &[&str]) -> (CertificateDer<'static>, PrivateKeyDer<'static>, String, String) {
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    let der = cert.der().clone();
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (der, key_der, cert.pem(), key.serialize_pem())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(ca: &Ca, names: &[&str], client_ca: Option<&Ca>) -> Arc<ServerConfig> {
    let (cert, key, _, _) = leaf(ca, names);
    let builder = ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().unwrap();
    let builder = match client_ca {
        Some(cca) => {
            let mut roots = RootCertStore::empty();
            roots.add(cca.cert.der().clone()).unwrap();
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider()).build().unwrap();
            builder.with_client_cert_verifier(v)
        }
        None => builder.with_no_client_auth(),
    };
    Arc::new(builder.with_single_cert(vec![cert], key).unwrap())
}

/// Terminates TLS and pipes the plaintext to `upstream`.
struct TlsProxy {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    handshakes: Arc<AtomicUsize>,
}

async fn start_proxy(cfg: Arc<ServerConfig>, upstream: SocketAddr) -> TlsProxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let handshakes = Arc::new(AtomicUsize::new(0));
    let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
    let (a, h) = (accepted.clone(), handshakes.clone());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let h = h.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                h.fetch_add(1, Ordering::SeqCst);
                let Ok(mut up) = TcpStream::connect(upstream).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    TlsProxy { addr, accepted, handshakes }
}

/// A scratch directory for PEM files.
fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "gregor-tls-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &std::path::Path, file: &str, text: &str) -> String {
    let p = dir.join(file);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

async fn cluster_behind(proxy_cfg: Arc<ServerConfig>, host: &str) -> (MockCluster, TlsProxy) {
    let cluster = MockCluster::builder().brokers(1).topic("t", 1).start().await.unwrap();
    cluster.append_records("t", 0, &[("k", "v0"), ("k", "v1")]).unwrap();
    let proxy = start_proxy(proxy_cfg, cluster.broker_addr(0).unwrap()).await;
    // Metadata points at the proxy, so every connection (fetch, coordinator) goes through TLS.
    cluster.set_advertised(0, host, proxy.addr.port());
    (cluster, proxy)
}

fn config(bootstrap: String, extra: &[(&str, &str)]) -> ConsumerConfig {
    let mut b = ConsumerConfig::builder()
        .bootstrap_servers(bootstrap)
        .group_id("g")
        .set("auto.offset.reset", "earliest")
        .set("security.protocol", "SSL")
        // A rejected handshake must stay rejected for the whole test: no timing in assertions.
        .set("reconnect.backoff.max.ms", "600000");
    for (k, v) in extra {
        b = b.set(k, v);
    }
    b.build().unwrap()
}

async fn consume_two(consumer: &Consumer) {
    consumer.subscribe(["t"]).unwrap();
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "records did not arrive over TLS");
        got.extend(consumer.poll(Duration::from_millis(200)).await.expect("poll over TLS"));
    }
    assert_eq!(got.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_ca_consumes_over_tls() {
    let ca = new_ca("gregor test CA");
    let (cluster, proxy) = cluster_behind(server_config(&ca, &["localhost"], None), "localhost").await;
    let dir = scratch("good");
    let ca_path = write(&dir, "ca.pem", &ca.cert.pem());
    let consumer = Consumer::new(config(
        format!("localhost:{}", proxy.addr.port()),
        &[("ssl.truststore.location", ca_path.as_str())],
    ))
    .unwrap();
    consume_two(&consumer).await;
    consumer.close(Duration::from_secs(5)).await;
    // Every broker connection went through the proxy and completed a TLS handshake.
    let conns = cluster.connections();
    assert!(!conns.is_empty());
    assert_eq!(proxy.handshakes.load(Ordering::SeqCst), proxy.accepted.load(Ordering::SeqCst));
    assert!(conns.len() <= proxy.handshakes.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_ca_is_one_clear_auth_error() {
    let ca = new_ca("the broker's CA");
    let other = new_ca("some other CA");
    let (cluster, proxy) = cluster_behind(server_config(&ca, &["localhost"], None), "localhost").await;
    let dir = scratch("wrong-ca");
    let ca_path = write(&dir, "ca.pem", &other.cert.pem());
    let consumer = Consumer::new(config(
        format!("localhost:{}", proxy.addr.port()),
        &[("ssl.ca.location", ca_path.as_str()), ("default.api.timeout.ms", "600000")],
    ))
    .unwrap();
    let err = consumer.partitions_for("t").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    let text = err.to_string();
    assert!(text.contains("certificate is not trusted"), "{text}");
    assert!(text.contains(&format!("localhost:{}", proxy.addr.port())), "names the broker: {text}");
    // No retry storm: asking again answers from the rejection, without a new connection.
    let attempts = proxy.accepted.load(Ordering::SeqCst);
    let again = consumer.partitions_for("t").await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Auth, "{again}");
    assert_eq!(proxy.accepted.load(Ordering::SeqCst), attempts, "no reconnect within reconnect.backoff.max.ms");
    assert!(cluster.connections().is_empty(), "nothing reached the broker");
    assert_eq!(proxy.handshakes.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_name_mismatch_fails_unless_identification_is_disabled() {
    let ca = new_ca("gregor test CA");
    // The certificate names another host; the client connects to 127.0.0.1.
    let (_cluster, proxy) = cluster_behind(server_config(&ca, &["broker.invalid"], None), "127.0.0.1").await;
    let dir = scratch("mismatch");
    let ca_path = write(&dir, "ca.pem", &ca.cert.pem());
    let bootstrap = format!("127.0.0.1:{}", proxy.addr.port());

    let strict = Consumer::new(config(bootstrap.clone(), &[("ssl.truststore.location", ca_path.as_str())])).unwrap();
    let err = strict.partitions_for("t").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("does not match the host"), "{err}");
    strict.close(Duration::from_secs(5)).await;

    let lax = Consumer::new(config(
        bootstrap,
        &[("ssl.truststore.location", ca_path.as_str()), ("ssl.endpoint.identification.algorithm", "")],
    ))
    .unwrap();
    consume_two(&lax).await;
    lax.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_identification_still_checks_the_chain() {
    let ca = new_ca("the broker's CA");
    let other = new_ca("some other CA");
    let (_cluster, proxy) = cluster_behind(server_config(&ca, &["broker.invalid"], None), "127.0.0.1").await;
    let dir = scratch("lax-wrong-ca");
    let ca_path = write(&dir, "ca.pem", &other.cert.pem());
    let consumer = Consumer::new(config(
        format!("127.0.0.1:{}", proxy.addr.port()),
        &[("ssl.truststore.location", ca_path.as_str()), ("ssl.endpoint.identification.algorithm", "")],
    ))
    .unwrap();
    let err = consumer.partitions_for("t").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("not trusted"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_for_mutual_tls() {
    let ca = new_ca("broker CA");
    let client_ca = new_ca("client CA");
    let (_cluster, proxy) =
        cluster_behind(server_config(&ca, &["localhost"], Some(&client_ca)), "localhost").await;
    let dir = scratch("mtls");
    let ca_path = write(&dir, "ca.pem", &ca.cert.pem());
    let (_, _, cert_pem, key_pem) = leaf(&client_ca, &["gregor-client"]);
    let cert_path = write(&dir, "client.pem", &cert_pem);
    let key_path = write(&dir, "client.key", &key_pem);
    let bootstrap = format!("localhost:{}", proxy.addr.port());

    let with_cert = Consumer::new(config(
        bootstrap.clone(),
        &[
            ("ssl.truststore.location", ca_path.as_str()),
            ("ssl.certificate.location", cert_path.as_str()),
            ("ssl.key.location", key_path.as_str()),
        ],
    ))
    .unwrap();
    consume_two(&with_cert).await;
    with_cert.close(Duration::from_secs(5)).await;

    // Without a client certificate the broker refuses (in TLS 1.3 the client learns it from
    // an alert on its first read, after its own handshake completed).
    let without = Consumer::new(config(
        bootstrap.clone(),
        &[("ssl.truststore.location", ca_path.as_str()), ("default.api.timeout.ms", "600000")],
    ))
    .unwrap();
    let err = without.partitions_for("t").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains(&bootstrap), "{err}");
    assert!(err.to_string().contains("ssl.certificate.location"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_truststore_is_a_config_error() {
    let consumer = Consumer::new(config(
        "localhost:1".into(),
        &[("ssl.truststore.location", "/nonexistent/gregor/ca.pem")],
    ))
    .unwrap();
    let err = consumer.partitions_for("t").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("/nonexistent/gregor/ca.pem"), "{err}");
}

/// Against a real broker's SASL_SSL listener (`KAFKA_SECURITY=1 scripts/kafka-cluster.sh start`,
/// then source `$KAFKA_DATA_DIR/security.env`; skipped unless GREGOR_KAFKA_SASL_BOOTSTRAP and
/// GREGOR_KAFKA_SSL_TRUSTSTORE are set): a CA the broker's certificate does not chain to is one
/// clear Auth error, and the script's certificate also verifies under the name `localhost` (its
/// subjectAltName lists DNS:localhost beside IP:127.0.0.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_tls_trust_and_names() {
    let (Ok(bootstrap), Ok(ca)) =
        (std::env::var("GREGOR_KAFKA_SASL_BOOTSTRAP"), std::env::var("GREGOR_KAFKA_SSL_TRUSTSTORE"))
    else {
        println!("skipped: GREGOR_KAFKA_SASL_BOOTSTRAP / GREGOR_KAFKA_SSL_TRUSTSTORE are not set");
        return;
    };
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let cfg = |servers: String, ca_path: &str| {
        ConsumerConfig::builder()
            .bootstrap_servers(servers)
            .set("security.protocol", "SASL_SSL")
            .set("sasl.mechanism", env("GREGOR_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"))
            .set("sasl.username", env("GREGOR_KAFKA_SASL_USERNAME", "alice"))
            .set("sasl.password", env("GREGOR_KAFKA_SASL_PASSWORD", "alice-secret"))
            .set("ssl.truststore.location", ca_path)
            .set("default.api.timeout.ms", "30000")
            .build()
            .unwrap()
    };
    let other = new_ca("not the cluster's CA");
    let dir = scratch("real-wrong-ca");
    let other_path = write(&dir, "ca.pem", &other.cert.pem());
    let bad = Consumer::new(cfg(bootstrap.clone(), &other_path)).unwrap();
    let err = bad.partitions_for("__consumer_offsets").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("certificate is not trusted"), "{err}");
    bad.close(Duration::from_secs(5)).await;

    let port = bootstrap.split(',').next().and_then(|a| a.rsplit(':').next()).unwrap().to_string();
    let good = Consumer::new(cfg(format!("localhost:{port}"), &ca)).unwrap();
    match good.partitions_for("__consumer_offsets").await {
        Ok(_) => {}
        Err(e) => assert_ne!(e.kind(), ErrorKind::Auth, "the script's certificate failed for localhost: {e}"),
    }
    good.close(Duration::from_secs(5)).await;
}

/// Encrypts a PKCS#8 PEM key with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), as
/// `openssl pkcs8 -topk8 -v2 aes-256-cbc` does.
fn encrypt_key(pem: &str, password: &str) -> String {
    use pkcs8::der::pem::LineEnding;
    let (_, der) = pkcs8::der::pem::decode_vec(pem.trim().as_bytes()).expect("a PKCS#8 PEM key");
    let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(4096, b"gregor-salt", b"0123456789abcdef").unwrap();
    let info = pkcs8::PrivateKeyInfo::try_from(der.as_slice()).unwrap();
    info.encrypt_with_params(params, password).unwrap().to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_client_key_for_mutual_tls() {
    let ca = new_ca("broker CA");
    let client_ca = new_ca("client CA");
    let (_cluster, proxy) =
        cluster_behind(server_config(&ca, &["localhost"], Some(&client_ca)), "localhost").await;
    let dir = scratch("mtls-encrypted");
    let ca_path = write(&dir, "ca.pem", &ca.cert.pem());
    let (_, _, cert_pem, key_pem) = leaf(&client_ca, &["gregor-client"]);
    // One keystore file (ssl.keystore.location): chain, then the encrypted key.
    let keystore = write(&dir, "client.pem", &format!("{cert_pem}{}", encrypt_key(&key_pem, "k3y-Passw0rd")));
    let bootstrap = format!("localhost:{}", proxy.addr.port());
    let consumer = Consumer::new(config(
        bootstrap,
        &[
            ("ssl.truststore.location", ca_path.as_str()),
            ("ssl.keystore.location", keystore.as_str()),
            ("ssl.key.password", "k3y-Passw0rd"),
        ],
    ))
    .unwrap();
    consume_two(&consumer).await;
    consumer.close(Duration::from_secs(5)).await;
}

/// Against the cluster script's MTLS listener (SSL with ssl.client.auth=required; skipped unless
/// GREGOR_KAFKA_MTLS_BOOTSTRAP is set, see security.env): the script's client key, encrypted
/// here, authenticates with the right ssl.key.password; a wrong one is one Config error that
/// names the file but not the password; no certificate at all is refused by the broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_mtls_encrypted_key() {
    let (Ok(bootstrap), Ok(ca), Ok(cert), Ok(key)) = (
        std::env::var("GREGOR_KAFKA_MTLS_BOOTSTRAP"),
        std::env::var("GREGOR_KAFKA_SSL_TRUSTSTORE"),
        std::env::var("GREGOR_KAFKA_SSL_CLIENT_CERT"),
        std::env::var("GREGOR_KAFKA_SSL_CLIENT_KEY"),
    ) else {
        println!("skipped: GREGOR_KAFKA_MTLS_BOOTSTRAP / _SSL_TRUSTSTORE / _SSL_CLIENT_CERT / _SSL_CLIENT_KEY are not set");
        return;
    };
    let dir = scratch("real-mtls");
    let encrypted = write(&dir, "client.key", &encrypt_key(&std::fs::read_to_string(&key).unwrap(), "Real-k3y-pass"));
    let cfg = |extra: &[(&str, &str)]| {
        let mut b = ConsumerConfig::builder()
            .bootstrap_servers(bootstrap.clone())
            .set("security.protocol", "SSL")
            .set("ssl.truststore.location", ca.clone())
            .set("default.api.timeout.ms", "30000")
            .set("reconnect.backoff.max.ms", "600000");
        for (k, v) in extra {
            b = b.set(k, v);
        }
        b.build().unwrap()
    };
    let good = Consumer::new(cfg(&[
        ("ssl.certificate.location", cert.as_str()),
        ("ssl.key.location", encrypted.as_str()),
        ("ssl.key.password", "Real-k3y-pass"),
    ]))
    .unwrap();
    match std::env::var("GREGOR_KAFKA_BOOTSTRAP") {
        // The data path: a record written over PLAINTEXT, read over mTLS.
        Ok(plain) => {
            let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
            let topic = format!("gregor-mtls-{run}");
            let admin = gregor::Admin::from_properties([("bootstrap.servers", plain.as_str())]).unwrap();
            admin.create_topics(&[gregor::NewTopic::new(&topic, 1, 1)], false, WAIT).await.unwrap();
            admin.close(Duration::from_secs(5)).await;
            let p = gregor::Producer::from_properties([("bootstrap.servers", plain.as_str())]).unwrap();
            let f = p.send(gregor::ProducerRecord::new(&topic).partition(0).value("over mTLS")).await.unwrap();
            tokio::time::timeout(WAIT, f).await.expect("produce timed out").expect("produce failed");
            p.close(Duration::from_secs(5)).await.unwrap();
            let parts = good.partitions_for(&topic).await.expect("mTLS with the decrypted key");
            good.assign(parts.clone()).unwrap();
            good.seek_to_beginning(&parts).unwrap();
            let got = tokio::time::timeout(WAIT, async {
                loop {
                    if let Some(r) = good.poll(Duration::from_secs(1)).await.expect("poll over mTLS").first() {
                        break r.value_str().map(str::to_string);
                    }
                }
            })
            .await
            .expect("a record over mTLS");
            assert_eq!(got.as_deref(), Some("over mTLS"));
        }
        // TCP + TLS with the client certificate + Metadata worked if the answer is not Auth.
        Err(_) => {
            if let Err(e) = good.partitions_for("__consumer_offsets").await {
                assert!(!matches!(e.kind(), ErrorKind::Auth | ErrorKind::Config), "mTLS with the decrypted key: {e}");
            }
        }
    }
    good.close(Duration::from_secs(5)).await;

    let wrong = Consumer::new(cfg(&[
        ("ssl.certificate.location", cert.as_str()),
        ("ssl.key.location", encrypted.as_str()),
        ("ssl.key.password", "Not-the-pass"),
    ]))
    .unwrap();
    let err = wrong.partitions_for("__consumer_offsets").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    let text = format!("{err} {err:?}");
    assert!(text.contains(&encrypted) && text.contains("wrong ssl.key.password"), "{text}");
    assert!(!text.contains("Not-the-pass") && !text.contains("Real-k3y-pass"), "{text}");
    wrong.close(Duration::from_secs(5)).await;

    let anonymous = Consumer::new(cfg(&[])).unwrap();
    let err = anonymous.partitions_for("__consumer_offsets").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "the broker requires a client certificate: {err}");
    anonymous.close(Duration::from_secs(5)).await;
}
