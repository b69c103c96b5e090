//! The spec's connection scenario, counted from the broker side by gregor-mock's accounting.
//!
//! 3 brokers, a topic with partitions led by all three, the group coordinator on one of them,
//! `bootstrap.servers` = one broker's address. The Java consumer opens 5 sockets here (the
//! bootstrap one duplicates a broker's); gregor must open exactly 4 and leave none behind.

mod common;

use std::time::Duration;

use gregor::{ConnectionEventKind, Consumer, ConsumerConfig, Role};
use gregor_mock::MockCluster;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_consumer_opens_l_plus_one_sockets_and_closes_them_all() {
    common::init_tracing("warn");
    let cluster = MockCluster::builder().brokers(3).topic("orders", 6).start().await.unwrap();
    for p in 0..6 {
        cluster.append_records("orders", p, &[("k", format!("v{p}"))]).unwrap();
    }
    let leaders: std::collections::BTreeSet<i32> =
        (0..6).map(|p| cluster.partition_leader("orders", p).unwrap()).collect();
    assert_eq!(leaders.len(), 3, "partitions are led by all three brokers");
    cluster.set_coordinator("g1", 2);
    let boot = cluster.broker_addr(0).unwrap();

    let config = ConsumerConfig::builder()
        .bootstrap_servers(format!("127.0.0.1:{}", boot.port()))
        .group_id("g1")
        .set("auto.offset.reset", "earliest")
        .set("connections.max.idle.ms", "-1")
        .build()
        .unwrap();
    let consumer = Consumer::new(config).unwrap();
    let mut events = consumer.connection_events();
    assert!(cluster.connections().is_empty(), "construction opens nothing");
    consumer.subscribe(["orders"]).unwrap();
    assert!(cluster.connections().is_empty(), "subscribe opens nothing");

    let got = common::poll_until(&consumer, 6, WAIT).await;
    assert_eq!(got.len(), 6);
    consumer.commit_sync().await.unwrap();

    let conns = cluster.connections();
    assert_eq!(
        conns.len(),
        4,
        "exactly L+1 sockets ever opened (Java opens L+2): {:#?}",
        conns.iter().map(|c| (c.broker_id, c.peer, c.is_open())).collect::<Vec<_>>()
    );
    let per_broker = |b: i32| conns.iter().filter(|c| c.broker_id == b).count();
    assert_eq!(per_broker(2), 2, "the coordinator broker has a fetch socket and the dedicated one");
    assert_eq!(per_broker(0), 1, "the bootstrap socket was adopted as broker 0's");
    assert_eq!(per_broker(1), 1);

    let mut saw_adoption = false;
    while let Some(ev) = events.try_recv() {
        if matches!(ev.kind, ConnectionEventKind::Adopted { broker_id: 0 }) {
            saw_adoption = true;
        }
        if let ConnectionEventKind::Ready = ev.kind {
            assert!(ev.local_addr.is_some() && ev.remote_addr.is_some());
        }
        if ev.role == Role::Coordinator {
            assert_eq!(ev.node, (i32::MAX - 2).to_string());
        }
    }
    assert!(saw_adoption, "an Adopted event was published");

    consumer.close(Duration::from_secs(10)).await;
    cluster
        .wait_until(|c| c.iter().all(|r| !r.is_open()), WAIT)
        .await
        .expect("no socket stays open after close()");
    assert_eq!(cluster.connections().len(), 4, "close opened nothing new");
    assert_eq!(consumer.open_connections(), 0);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_through_a_non_broker_address_is_retired_even_with_idle_minus_one() {
    common::init_tracing("warn");
    let cluster = MockCluster::builder().brokers(3).topic("t", 3).start().await.unwrap();
    cluster.append_records("t", 0, &[("k", "v")]).unwrap();
    // "localhost" is not what the brokers advertise (127.0.0.1): like a load balancer's name,
    // it must never be adopted.
    let boot = cluster.broker_addr(1).unwrap();
    let config = ConsumerConfig::builder()
        .bootstrap_servers(format!("localhost:{}", boot.port()))
        .set("connections.max.idle.ms", "-1")
        .set("auto.offset.reset", "earliest")
        .build()
        .unwrap();
    let consumer = Consumer::new(config).unwrap();
    let mut events = consumer.connection_events();
    consumer.assign([gregor::TopicPartition::new("t", 0)]).unwrap();
    let got = common::poll_until(&consumer, 1, WAIT).await;
    assert_eq!(got[0].value_str(), Some("v"));
    // The retirement event arrives within 1 s of the metadata response; wait for the event
    // itself (not a sleep), then check the broker saw the close.
    let retired = tokio::time::timeout(WAIT, async {
        loop {
            let ev = events.recv().await.expect("events");
            if ev.kind == ConnectionEventKind::Closed(gregor::CloseReason::Retired) {
                return ev;
            }
        }
    })
    .await
    .expect("the bootstrap socket was retired");
    assert_eq!(retired.role, Role::Bootstrap);
    assert!(retired.endpoint.starts_with("localhost:"));
    let boot_peer = retired.local_addr.expect("local address known");
    cluster
        .wait_until(|c| c.iter().any(|r| r.peer == boot_peer && !r.is_open()), WAIT)
        .await
        .expect("the broker saw the bootstrap socket close");
    let m = consumer.connection_metrics();
    assert_eq!(m.connection_close_total.get(&gregor::CloseReason::Retired), Some(&1));
    consumer.close(Duration::from_secs(10)).await;
    cluster.shutdown().await;
}
