//! A custom partition assignor through the public `PartitionAssignor` trait (issue #17): its
//! name goes to JoinGroup, its subscription user data reaches the leader, and its assignment is
//! what the members get.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gregor::assignor::{
    Assignment, BuiltinAssignor, ClusterTopics, GroupAssignment, GroupMember, PartitionAssignor, RebalanceProtocol,
    TopicPartition,
};
use gregor::{Consumer, ConsumerConfig};
use gregor_mock::MockCluster;
use tokio::time::Instant;

/// Gives every partition to the members whose subscription says `take-all` (round-robin among
/// them), none to the others: nothing like what range would do.
#[derive(Debug)]
struct TakeAll {
    wants: bool,
}

impl PartitionAssignor for TakeAll {
    fn name(&self) -> &str {
        "take-all"
    }

    fn supported_protocols(&self) -> &[RebalanceProtocol] {
        &[RebalanceProtocol::Eager]
    }

    fn subscription_user_data(&self, _last: &[TopicPartition], _generation: i32) -> Option<Bytes> {
        Some(Bytes::from_static(if self.wants { b"take-all" } else { b"none" }))
    }

    fn assign(&self, members: &[GroupMember], topics: &ClusterTopics) -> GroupAssignment {
        let takers: Vec<&GroupMember> =
            members.iter().filter(|m| m.subscription.user_data.as_deref() == Some(b"take-all".as_slice())).collect();
        let mut out: GroupAssignment = members.iter().map(|m| (m.member_id.clone(), Assignment::default())).collect();
        let mut i = 0;
        for (topic, info) in topics {
            for p in 0..info.partition_count {
                if let Some(m) = takers.get(i % takers.len().max(1)) {
                    out.get_mut(&m.member_id).unwrap().partitions.push(TopicPartition::new(topic.clone(), p));
                }
                i += 1;
            }
        }
        out
    }
}

fn config(cluster: &MockCluster, wants: bool) -> ConsumerConfig {
    ConsumerConfig::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .group_id("custom")
        .set("heartbeat.interval.ms", "100")
        .set("session.timeout.ms", "6000")
        .partition_assignors([Arc::new(TakeAll { wants }) as Arc<dyn PartitionAssignor>, Arc::new(BuiltinAssignor::Range)])
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_assignor_decides_the_assignment() {
    let cluster = MockCluster::builder().brokers(1).topic("t", 3).start().await.unwrap();
    let a = Consumer::new(config(&cluster, false)).unwrap();
    a.subscribe(["t"]).unwrap();
    let b = Consumer::new(config(&cluster, true)).unwrap();
    b.subscribe(["t"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    // A alone wants nothing and gets nothing (range would give it all three); once B is in,
    // B gets everything.
    while b.assignment().len() != 3 {
        assert!(Instant::now() < deadline, "a: {:?}, b: {:?}", a.assignment(), b.assignment());
        let (ra, rb) = tokio::join!(a.poll(Duration::from_millis(50)), b.poll(Duration::from_millis(50)));
        ra.unwrap();
        rb.unwrap();
    }
    assert!(a.assignment().is_empty(), "a: {:?}", a.assignment());
    a.close(Duration::from_secs(5)).await;
    b.close(Duration::from_secs(5)).await;
}

#[test]
fn assignor_objects_are_checked() {
    let b = || ConsumerConfig::builder().bootstrap_servers("localhost:9092").group_id("g");
    let twice = b()
        .partition_assignors([
            Arc::new(BuiltinAssignor::Range) as Arc<dyn PartitionAssignor>,
            Arc::new(BuiltinAssignor::Range),
        ])
        .build()
        .unwrap_err();
    assert!(twice.to_string().contains("range,range"), "{twice}");
    assert!(b().partition_assignors(Vec::<Arc<dyn PartitionAssignor>>::new()).build().is_err());
    let kip848 = b()
        .set("group.protocol", "consumer")
        .partition_assignors([Arc::new(BuiltinAssignor::Range) as Arc<dyn PartitionAssignor>])
        .build()
        .unwrap_err();
    assert!(kip848.to_string().contains("group.protocol"), "{kip848}");
    let ok = b().partition_assignors([Arc::new(TakeAll { wants: true }) as Arc<dyn PartitionAssignor>]).build().unwrap();
    assert_eq!(format!("{:?}", ok.partition_assignors), r#"["take-all"]"#);
}
