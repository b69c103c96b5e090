//! Brokers that cannot do what the consumer was configured for (issue #13), on gregor-mock:
//! a clear `UnsupportedVersion` error from `poll`, never a retry loop. The real old brokers are
//! in `compat_real.rs` (scripts/compat.sh).

use std::time::Duration;

use gregor::{Consumer, ConsumerConfig, ErrorKind};
use gregor_mock::MockCluster;

const HEARTBEAT_848: i16 = 68;
const UNSUPPORTED_VERSION: i16 = 35;

/// A 4.x broker formatted with group.version=0 (or a 3.7-3.9 broker without the early-access
/// config) has ConsumerGroupHeartbeat but answers UNSUPPORTED_VERSION.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_disabled_on_the_broker_is_a_clear_error_not_a_retry_loop() {
    let cluster = MockCluster::builder().brokers(1).topic("t", 2).start().await.unwrap();
    cluster.inject_errors(HEARTBEAT_848, UNSUPPORTED_VERSION, 1000);
    let config = ConsumerConfig::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .group_id("g")
        .set("group.protocol", "consumer")
        .build()
        .unwrap();
    let c = Consumer::new(config).unwrap();
    c.subscribe(["t"]).unwrap();
    let mut polls = 0;
    let err = loop {
        polls += 1;
        assert!(polls < 60, "no error after {polls} polls of 500 ms: a retry loop");
        match c.poll(Duration::from_millis(500)).await {
            Ok(r) => assert!(r.is_empty()),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::UnsupportedVersion, "{err}");
    let msg = err.to_string();
    assert!(msg.contains("group.protocol=classic"), "{msg}");
    assert!(msg.contains("UNSUPPORTED_VERSION"), "the broker's answer is kept as the source: {msg}");
    c.close(Duration::from_secs(5)).await;
}
