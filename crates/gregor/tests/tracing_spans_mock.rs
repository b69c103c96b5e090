//! Issue #17: tracing spans around `poll`, group requests and rebalances (both protocols) and
//! every request (API key, version, broker, correlation id), captured by a small layer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use gregor::{Consumer, ConsumerConfig};
use gregor_mock::MockCluster;
use tokio::time::Instant;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// A closed span: its name, its fields, its parent's name.
#[derive(Debug, Clone)]
struct Closed {
    name: &'static str,
    fields: BTreeMap<String, String>,
    parent: Option<&'static str>,
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Closed>>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        attrs.record(&mut f);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(f);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(f) = span.extensions_mut().get_mut::<Fields>() {
                values.record(f);
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let fields = span.extensions_mut().remove::<Fields>().unwrap_or_default().0;
        let closed = Closed { name: span.name(), fields, parent: span.parent().map(|p| p.name()) };
        self.0.lock().unwrap().push(closed);
    }
}

fn capture() -> &'static Capture {
    static C: OnceLock<Capture> = OnceLock::new();
    C.get_or_init(|| {
        let c = Capture::default();
        tracing_subscriber::registry().with(c.clone()).init();
        c
    })
}

/// The closed spans named `name` whose `field` is `value`.
fn spans(name: &str, field: &str, value: &str) -> Vec<Closed> {
    capture()
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.name == name && s.fields.get(field).map(String::as_str) == Some(value))
        .cloned()
        .collect()
}

fn config(cluster: &MockCluster, client: &str, group: &str, protocol: &str) -> ConsumerConfig {
    let b = ConsumerConfig::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .group_id(group)
        .set("client.id", client)
        .set("group.protocol", protocol)
        .set("auto.offset.reset", "earliest");
    // KIP-848: the broker sets the heartbeat interval.
    let b = if protocol == "classic" { b.set("heartbeat.interval.ms", "100") } else { b };
    b.build().unwrap()
}

async fn read(consumer: &Consumer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = 0;
    while got < n {
        assert!(Instant::now() < deadline, "only {got} of {n} records");
        got += consumer.poll(Duration::from_millis(100)).await.unwrap().len();
    }
}

fn num(s: &Closed, field: &str) -> i64 {
    s.fields.get(field).unwrap_or_else(|| panic!("{field} missing in {s:?}")).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_group_poll_rebalance_and_request_spans() {
    capture();
    let cluster = MockCluster::builder().brokers(1).topic("t", 2).start().await.unwrap();
    cluster.append_records("t", 0, &[("a", "1"), ("b", "2")]).unwrap();
    let consumer = Consumer::new(config(&cluster, "spans-classic", "g-spans-classic", "classic")).unwrap();
    consumer.subscribe(["t"]).unwrap();
    read(&consumer, 2).await;
    consumer.commit_sync().await.unwrap();
    consumer.close(Duration::from_secs(10)).await;

    // poll: the client, the timeout, and how many records it returned.
    let polls = spans("gregor.poll", "client_id", "spans-classic");
    assert!(!polls.is_empty());
    assert!(polls.iter().all(|p| p.fields["timeout_ms"] == "100"), "{polls:?}");
    assert_eq!(polls.iter().map(|p| num(p, "records")).sum::<i64>(), 2);

    // The rebalance, with the group requests of the join as its children.
    let rebalances = spans("gregor.rebalance", "group_id", "g-spans-classic");
    assert_eq!(rebalances.len(), 1, "{rebalances:?}");
    let r = &rebalances[0];
    assert_eq!(r.fields["protocol"], "classic");
    assert!(num(r, "generation") >= 1, "{r:?}");
    assert_eq!(num(r, "assigned"), 2);
    let group = spans("gregor.group", "group_id", "g-spans-classic");
    let named = |n: &str| group.iter().filter(|s| s.fields["request"] == n).cloned().collect::<Vec<_>>();
    let (joins, syncs, heartbeats, commits) = (named("join_group"), named("sync_group"), named("heartbeat"), named("offset_commit"));
    assert!(!joins.is_empty() && !syncs.is_empty() && !commits.is_empty(), "{group:?}");
    assert!(joins.iter().chain(&syncs).all(|s| s.parent == Some("gregor.rebalance")), "{joins:?} {syncs:?}");
    let sync = &syncs[0];
    assert!(!sync.fields["member_id"].is_empty() && num(sync, "generation") >= 1, "{sync:?}");
    assert!(heartbeats.iter().chain(&commits).all(|s| num(s, "generation") >= 1));
    assert!(num(&commits[0], "coordinator") >= 0);

    // Requests: API key, broker, version and correlation id; group requests under their
    // group span.
    let join_requests = spans("gregor.request", "api_key", "JoinGroup");
    assert!(!join_requests.is_empty());
    assert!(join_requests.iter().all(|s| s.parent == Some("gregor.group")), "{join_requests:?}");
    let fetches = spans("gregor.request", "api_key", "Fetch");
    assert!(!fetches.is_empty());
    for f in &fetches {
        assert_eq!(f.fields["purpose"], "fetch");
        assert!(f.fields.get("broker").is_some_and(|b| !b.is_empty()), "{f:?}");
        if f.fields.contains_key("correlation_id") {
            assert!(num(f, "api_version") >= 4 && num(f, "correlation_id") >= 0, "{f:?}");
        }
    }
    assert!(fetches.iter().any(|f| f.fields.contains_key("correlation_id")), "no answered Fetch: {fetches:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_heartbeat_assignment_spans() {
    capture();
    let cluster = MockCluster::builder().brokers(1).topic("u", 1).start().await.unwrap();
    cluster.append_records("u", 0, &[("a", "1")]).unwrap();
    let consumer = Consumer::new(config(&cluster, "spans-848", "g-spans-848", "consumer")).unwrap();
    consumer.subscribe(["u"]).unwrap();
    read(&consumer, 1).await;
    consumer.close(Duration::from_secs(10)).await;

    let rebalances = spans("gregor.rebalance", "group_id", "g-spans-848");
    assert_eq!(rebalances.len(), 1, "{rebalances:?}");
    assert_eq!(rebalances[0].fields["protocol"], "consumer");
    assert!(num(&rebalances[0], "generation") >= 1);
    assert_eq!(num(&rebalances[0], "assigned"), 1);
    let heartbeats: Vec<_> = spans("gregor.group", "group_id", "g-spans-848")
        .into_iter()
        .filter(|s| s.fields["request"] == "consumer_group_heartbeat")
        .collect();
    assert!(heartbeats.len() >= 2, "{heartbeats:?}");
    // The join (epoch 0), then heartbeats at the member's epoch; the leave at -1.
    assert_eq!(num(&heartbeats[0], "generation"), 0);
    assert!(heartbeats.iter().any(|h| num(h, "generation") >= 1), "{heartbeats:?}");
    assert!(spans("gregor.request", "api_key", "ConsumerGroupHeartbeat").iter().all(|s| s.parent == Some("gregor.group")));
}
