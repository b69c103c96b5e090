//! Pointed at something that is not a Kafka listener of the configured kind, the client fails
//! at once with one `ErrorKind::NotKafka` error that says what answered — not a frame-length
//! error after `default.api.timeout.ms` of reconnecting.

use std::sync::Arc;
use std::time::Duration;

use gregor::{Consumer, ErrorKind};
use gregor_mock::MockCluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server that answers every connection with `reply` after reading a little.
async fn answering(reply: &'static [u8]) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(reply).await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr.to_string()
}

/// A TLS server (rustls, self-signed certificate for 127.0.0.1) that speaks no Kafka.
async fn tls_server() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap().self_signed(&key).unwrap();
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()));
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key_der)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let a = acceptor.clone();
            tokio::spawn(async move {
                let _ = a.accept(s).await;
            });
        }
    });
    addr.to_string()
}

async fn first_error(props: Vec<(&str, String)>) -> gregor::Error {
    let mut props = props;
    props.push(("default.api.timeout.ms", "20000".into()));
    let c = Consumer::from_properties(props).unwrap();
    let started = std::time::Instant::now();
    let e = c.partitions_for("t").await.unwrap_err();
    c.close(Duration::from_secs(5)).await;
    // Not a retry loop until default.api.timeout.ms: the first answer decides.
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}: {e}", started.elapsed());
    e
}

#[tokio::test]
async fn an_http_server_is_named_as_such() {
    let addr = answering(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n").await;
    let e = first_error(vec![("bootstrap.servers", addr.clone())]).await;
    assert_eq!(e.kind(), ErrorKind::NotKafka, "{e}");
    let msg = e.to_string();
    assert!(msg.contains("is not a Kafka listener: it answered HTTP (\"HTTP/1.1 400 Bad Request\")"), "{msg}");
    assert!(msg.contains(&addr), "names the endpoint: {msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
}

#[tokio::test]
async fn a_banner_that_is_no_kafka_frame_is_shown() {
    let addr = answering(b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n").await;
    let e = first_error(vec![("bootstrap.servers", addr)]).await;
    assert_eq!(e.kind(), ErrorKind::NotKafka, "{e}");
    assert!(e.to_string().contains("answered \"SSH-2.0-OpenSSH_9.2p1 Debian..\""), "{e}");
}

#[tokio::test]
async fn plaintext_to_a_tls_listener_says_to_set_security_protocol() {
    let addr = tls_server().await;
    let e = first_error(vec![("bootstrap.servers", addr)]).await;
    assert_eq!(e.kind(), ErrorKind::NotKafka, "{e}");
    assert!(e.to_string().contains("security.protocol=SSL"), "{e}");
}

#[tokio::test]
async fn tls_to_a_plaintext_listener_says_it_looks_plaintext() {
    let cluster = MockCluster::builder().brokers(1).topic("t", 1).start().await.unwrap();
    let e = first_error(vec![
        ("bootstrap.servers", cluster.bootstrap_servers()),
        ("security.protocol", "SSL".into()),
        ("ssl.endpoint.identification.algorithm", String::new()),
    ])
    .await;
    assert_eq!(e.kind(), ErrorKind::NotKafka, "{e}");
    assert!(e.to_string().contains("PLAINTEXT listener"), "{e}");
}
