//! GSSAPI (Kerberos) against real Kafka: `scripts/test-kerberos.sh` (a KDC from Debian's
//! krb5-kdc for the realm GREGOR.TEST, a KERBEROS listener on every broker, then this test
//! with `--features gssapi`). Skipped without GREGOR_KAFKA_KERBEROS_BOOTSTRAP.
#![cfg(feature = "gssapi")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gregor::{Consumer, ConsumerConfig, ErrorKind};

const WAIT: Duration = Duration::from_secs(30);

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

fn kerberos_consumer(bootstrap: &str, keytab: &str, principal: &str) -> Consumer {
    let jaas = format!(
        "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true storeKey=true keyTab=\"{keytab}\" principal=\"{principal}\";"
    );
    Consumer::new(
        ConsumerConfig::builder()
            .bootstrap_servers(bootstrap)
            .set("security.protocol", "SASL_PLAINTEXT")
            .set("sasl.mechanism", "GSSAPI")
            .set("sasl.kerberos.service.name", "kafka")
            .set("sasl.jaas.config", jaas)
            .set("default.api.timeout.ms", "30000")
            .build()
            .unwrap(),
    )
    .unwrap()
}

/// A consumer authenticates with a keytab and reads a record written over PLAINTEXT; a keytab
/// that does not exist is one clear authentication error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_gssapi_keytab_consumer() {
    let (Some(bootstrap), Some(krb5), Some(keytab), Some(principal), Some(plain)) = (
        env("GREGOR_KAFKA_KERBEROS_BOOTSTRAP"),
        env("GREGOR_KAFKA_KRB5_CONFIG"),
        env("GREGOR_KAFKA_CLIENT_KEYTAB"),
        env("GREGOR_KAFKA_CLIENT_PRINCIPAL"),
        env("GREGOR_KAFKA_BOOTSTRAP"),
    ) else {
        println!("skipped: run scripts/test-kerberos.sh");
        return;
    };
    // What -Djava.security.krb5.conf is for Java.
    std::env::set_var("KRB5_CONFIG", &krb5);
    let run = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis();
    let topic = format!("gregor-kerberos-{run}");
    let admin = gregor::Admin::from_properties([("bootstrap.servers", plain.as_str())]).unwrap();
    admin.create_topics(&[gregor::NewTopic::new(&topic, 1, 1)], false, WAIT).await.unwrap();
    admin.close(Duration::from_secs(5)).await;
    let p = gregor::Producer::from_properties([("bootstrap.servers", plain.as_str())]).unwrap();
    let f = p.send(gregor::ProducerRecord::new(&topic).partition(0).value("over kerberos")).await.unwrap();
    tokio::time::timeout(WAIT, f).await.expect("produce timed out").expect("produce failed");
    p.close(Duration::from_secs(5)).await.unwrap();

    let consumer = kerberos_consumer(&bootstrap, &keytab, &principal);
    let parts = consumer.partitions_for(&topic).await.expect("GSSAPI with a keytab");
    consumer.assign(parts.clone()).unwrap();
    consumer.seek_to_beginning(&parts).unwrap();
    let got = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(r) = consumer.poll(Duration::from_secs(1)).await.expect("poll over GSSAPI").first() {
                break r.value_str().map(str::to_string);
            }
        }
    })
    .await
    .expect("a record over GSSAPI");
    assert_eq!(got.as_deref(), Some("over kerberos"));
    consumer.close(Duration::from_secs(5)).await;

    let bad = kerberos_consumer(&bootstrap, "/nonexistent/gregor.keytab", &principal);
    let err = bad.partitions_for(&topic).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("/nonexistent/gregor.keytab"), "{err}");
    bad.close(Duration::from_secs(5)).await;
}
