//! KIP-368 re-authentication against real Kafka: the cluster script's REAUTH listener
//! (`KAFKA_SECURITY=1 scripts/kafka-cluster.sh start`, then source `$KAFKA_DATA_DIR/security.env`;
//! skipped without GREGOR_KAFKA_REAUTH_BOOTSTRAP) enables PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and
//! OAUTHBEARER with `connections.max.reauth.ms` = GREGOR_KAFKA_REAUTH_MS (4 s). The broker closes
//! a connection whose session ended on its next request; one consumer per mechanism keeps
//! fetching through several sessions and must keep every socket: no close, no new connection,
//! the same number of TCP connections to the listener seen from /proc, and data still flowing.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gregor::{ConnectionEventKind, Consumer, ConsumerConfig};

const WAIT: Duration = Duration::from_secs(90);
const SESSIONS: usize = 3;

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// Established TCP connections of this process to any of `ports` (from /proc/net/tcp and the
/// process's socket inodes): the count a tool like `ss -tp` would show.
fn sockets_to(ports: &HashSet<u16>) -> usize {
    let inodes: HashSet<String> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| l.to_string_lossy().strip_prefix("socket:[")?.strip_suffix(']').map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 9
                && f[3] == "01"
                && inodes.contains(f[9])
                && f[2].rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok()).is_some_and(|p| ports.contains(&p))
        })
        .count()
}

async fn topic_with_record(plain: &str) -> (String, String) {
    let run = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis();
    let topic = format!("gregor-reauth-{run}");
    let admin = gregor::Admin::from_properties([("bootstrap.servers", plain)]).unwrap();
    admin.create_topics(&[gregor::NewTopic::new(&topic, 3, 1)], false, WAIT).await.unwrap();
    admin.close(Duration::from_secs(5)).await;
    let value = format!("reauth {run}");
    produce(plain, &topic, &value).await;
    (topic, value)
}

async fn produce(plain: &str, topic: &str, value: &str) {
    let p = gregor::Producer::from_properties([("bootstrap.servers", plain)]).unwrap();
    for part in 0..3 {
        let f = p.send(gregor::ProducerRecord::new(topic).partition(part).value(value.to_string())).await.unwrap();
        tokio::time::timeout(WAIT, f).await.expect("produce timed out").expect("produce failed");
    }
    p.close(Duration::from_secs(5)).await.unwrap();
}

fn consumer_for(bootstrap: &str, mechanism: &str) -> Consumer {
    let mut b = ConsumerConfig::builder()
        .bootstrap_servers(bootstrap)
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", mechanism)
        .set("default.api.timeout.ms", "30000");
    b = if mechanism == "OAUTHBEARER" {
        b.set(
            "sasl.jaas.config",
            r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="alice";"#,
        )
    } else {
        b.set("sasl.username", env("GREGOR_KAFKA_SASL_USERNAME").unwrap_or_else(|| "alice".into()))
            .set("sasl.password", env("GREGOR_KAFKA_SASL_PASSWORD").unwrap_or_else(|| "alice-secret".into()))
    };
    Consumer::new(b.build().unwrap()).unwrap()
}

/// Polls until `want` records with `value` arrived; once `strict`, panics on any connection
/// opened or closed.
async fn read_values(consumer: &Consumer, value: &str, want: usize, what: &str, strict: bool, reauths: &mut usize, lifetime: &mut Option<Duration>) {
    let mut events = consumer.connection_events();
    let mut got = 0;
    tokio::time::timeout(WAIT, async {
        while got < want {
            for r in consumer.poll(Duration::from_millis(250)).await.unwrap_or_else(|e| panic!("{what}: {e}")) {
                if r.value_str() == Some(value) {
                    got += 1;
                }
            }
            if strict {
                drain(&mut events, what, reauths, lifetime);
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: {got} of {want} records"));
}

fn drain(events: &mut gregor::ConnectionEvents, what: &str, reauths: &mut usize, lifetime: &mut Option<Duration>) {
    while let Some(ev) = events.try_recv() {
        match ev.kind {
            ConnectionEventKind::Reauthenticated { session_lifetime } => {
                *reauths += 1;
                *lifetime = session_lifetime;
            }
            ConnectionEventKind::Closed(r) => panic!("{what}: a connection closed ({r}): {ev}"),
            ConnectionEventKind::Connecting => panic!("{what}: a new connection was opened: {ev}"),
            _ => {}
        }
    }
}

async fn one_mechanism(bootstrap: String, plain: String, topic: String, value: String, mechanism: &'static str) -> (usize, u64) {
    let consumer = consumer_for(&bootstrap, mechanism);
    let parts = consumer.partitions_for(&topic).await.unwrap_or_else(|e| panic!("{mechanism}: {e}"));
    consumer.assign(parts.clone()).unwrap();
    consumer.seek_to_beginning(&parts).unwrap();
    let (mut reauths, mut lifetime) = (0, None);
    // The first read opens the sockets (bootstrap adopted, one per leader broker).
    let mut events = consumer.connection_events();
    read_values(&consumer, &value, 3, mechanism, false, &mut reauths, &mut lifetime).await;
    while events.try_recv().is_some() {}
    let opened = consumer.connection_metrics().connection_creation_total;
    let open_now = consumer.connection_metrics().connection_count;
    // Keep fetching through several sessions of every socket.
    tokio::time::timeout(WAIT, async {
        while consumer.connection_metrics().successful_reauthentication_total < SESSIONS as u64 * open_now {
            consumer.poll(Duration::from_millis(250)).await.unwrap_or_else(|e| panic!("{mechanism}: {e}"));
            drain(&mut events, mechanism, &mut reauths, &mut lifetime);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{mechanism}: {reauths} re-authentications within {WAIT:?}"));
    let session = lifetime.unwrap_or_else(|| panic!("{mechanism}: no session lifetime announced"));
    let max = Duration::from_millis(env("GREGOR_KAFKA_REAUTH_MS").and_then(|v| v.parse().ok()).unwrap_or(4000));
    assert!(session <= max, "{mechanism}: session {session:?} longer than connections.max.reauth.ms");
    // Data still flows over the same sockets.
    let next = format!("{value} after re-authentication {mechanism}");
    produce(&plain, &topic, &next).await;
    read_values(&consumer, &next, 3, mechanism, true, &mut reauths, &mut lifetime).await;
    let m = consumer.connection_metrics();
    assert_eq!(m.connection_creation_total, opened, "{mechanism}: sockets were opened again");
    assert_eq!(m.connection_count, open_now, "{mechanism}: the socket count changed");
    consumer.close(Duration::from_secs(5)).await;
    (reauths, open_now)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_reauthentication_keeps_the_sockets_for_every_mechanism() {
    let (Some(bootstrap), Some(plain)) = (env("GREGOR_KAFKA_REAUTH_BOOTSTRAP"), env("GREGOR_KAFKA_BOOTSTRAP")) else {
        println!("skipped: GREGOR_KAFKA_REAUTH_BOOTSTRAP / GREGOR_KAFKA_BOOTSTRAP are not set");
        return;
    };
    let ports: HashSet<u16> = bootstrap.split(',').filter_map(|a| a.rsplit(':').next()?.parse().ok()).collect();
    let (topic, value) = topic_with_record(&plain).await;
    let before = sockets_to(&ports);
    assert_eq!(before, 0);
    let mechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];
    let tasks: Vec<_> = mechanisms
        .iter()
        .map(|m| tokio::spawn(one_mechanism(bootstrap.clone(), plain.clone(), topic.clone(), value.clone(), m)))
        .collect();
    // Sampled from outside the consumers while they run: the sockets to the listener never
    // exceed what the consumers reported open (no reconnect overlaps an old socket).
    let mut samples = Vec::new();
    let mut results = Vec::new();
    for t in tasks {
        while !t.is_finished() {
            samples.push(sockets_to(&ports));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        results.push(t.await.expect("mechanism task"));
    }
    let total_open: u64 = results.iter().map(|(_, open)| open).sum();
    for (m, (reauths, open)) in mechanisms.iter().zip(&results) {
        println!("{m}: {open} sockets, {reauths} re-authentications");
        assert!(*reauths >= SESSIONS * *open as usize, "{m}");
    }
    assert!(samples.iter().all(|n| *n as u64 <= total_open), "sockets seen: {samples:?}, open: {total_open}");
    assert_eq!(sockets_to(&ports), 0, "every socket closed at the end");
}
