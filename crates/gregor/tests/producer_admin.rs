//! `Admin` against the embedded mock cluster: topics it creates are immediately usable.

use std::time::Duration;

use gregor::{Admin, NewTopic, Producer, ProducerRecord};
use gregor_mock::MockCluster;

const WAIT: Duration = Duration::from_secs(30);
const CREATE_TOPICS: i16 = 19;

#[tokio::test]
async fn created_topic_has_leaders_and_takes_records_at_once() {
    let mock = MockCluster::builder().brokers(3).start().await.unwrap();
    let admin = Admin::from_properties([("bootstrap.servers", mock.bootstrap_servers())]).unwrap();
    admin.create_topics(&[NewTopic::new("fresh", 4, 1), NewTopic::new("other", 2, 1)], false, WAIT).await.unwrap();
    for p in 0..4 {
        assert!(mock.partition_leader("fresh", p).is_some());
    }
    let topics = admin.list_topics().await.unwrap();
    assert_eq!(topics.get("fresh"), Some(&4));
    assert_eq!(topics.get("other"), Some(&2));

    let p = Producer::from_properties([("bootstrap.servers", mock.bootstrap_servers())]).unwrap();
    let f = p.send(ProducerRecord::new("fresh").partition(3).value("v")).await.unwrap();
    assert_eq!(f.await.unwrap().offset, 0);
    assert_eq!(mock.high_watermark("fresh", 3), Some(1));
    p.close(WAIT).await.unwrap();
    admin.close(WAIT).await;
}

#[tokio::test]
async fn existing_topic_is_an_error_unless_asked_otherwise() {
    let mock = MockCluster::builder().brokers(1).topic("t", 1).start().await.unwrap();
    let admin = Admin::from_properties([("bootstrap.servers", mock.bootstrap_servers())]).unwrap();
    let e = admin.create_topics(&[NewTopic::new("t", 1, 1)], false, WAIT).await.unwrap_err();
    assert_eq!(e.code(), Some(36), "TOPIC_ALREADY_EXISTS: {e}");
    admin.create_topics(&[NewTopic::new("t", 1, 1)], true, WAIT).await.unwrap();
    let sent: usize = mock.connections().iter().map(|c| c.count(CREATE_TOPICS)).sum();
    assert_eq!(sent, 2);
    admin.close(WAIT).await;
}

#[tokio::test]
async fn invalid_partition_count_is_reported_not_retried() {
    let mock = MockCluster::builder().brokers(1).start().await.unwrap();
    let admin = Admin::from_properties([("bootstrap.servers", mock.bootstrap_servers())]).unwrap();
    let e = admin.create_topics(&[NewTopic::new("bad", 0, 1)], false, WAIT).await.unwrap_err();
    assert_eq!(e.code(), Some(37), "INVALID_PARTITIONS: {e}");
    let sent: usize = mock.connections().iter().map(|c| c.count(CREATE_TOPICS)).sum();
    assert_eq!(sent, 1);
    admin.close(WAIT).await;
}

#[test]
fn admin_takes_connection_and_security_keys_and_names_typos() {
    let e = Admin::from_properties([("bootstrap.servers", "a:1"), ("security.protocl", "SSL")]).unwrap_err();
    assert!(e.to_string().contains("unknown admin config 'security.protocl' (did you mean 'security.protocol'?)"), "{e}");
    let e = Admin::from_properties([("bootstrap.servers", "a:1"), ("acks", "1")]).unwrap_err();
    assert!(e.to_string().contains("'acks' is a producer config"), "{e}");
    Admin::from_properties([
        ("bootstrap.servers", "a:1"),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "SCRAM-SHA-256"),
        ("sasl.username", "u"),
        ("sasl.password", "p"),
    ])
    .unwrap();
    let config = gregor::ProducerConfig::from_map([("bootstrap.servers", "a:1"), ("security.protocol", "SSL")]).unwrap();
    Admin::new(&config.net).unwrap();
}
