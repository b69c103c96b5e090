//! Virtual-time tests of the connection manager: no sockets, instants made up by the test.

use super::*;

fn cfg(bootstrap: &[(&str, u16)]) -> ManagerConfig {
    ManagerConfig {
        bootstrap: bootstrap.iter().map(|(h, p)| Endpoint::new(*h, *p)).collect(),
        reconnect_backoff: ExponentialBackoff::new(Duration::from_millis(50), Duration::from_millis(1000)),
        setup_timeout: ExponentialBackoff::new(Duration::from_millis(10_000), Duration::from_millis(30_000)),
        idle_timeout: Some(Duration::from_millis(540_000)),
        attempts_per_sec: 0,
        rebootstrap_trigger: Some(Duration::from_millis(300_000)),
        shared_coordinator: false,
        seed: Some(7),
    }
}

fn brokers3() -> Vec<(i32, Endpoint)> {
    vec![
        (0, Endpoint::new("localhost", 9092)),
        (1, Endpoint::new("localhost", 9093)),
        (2, Endpoint::new("localhost", 9094)),
    ]
}

fn drain_actions(m: &mut ConnectionManager) -> Vec<Action> {
    std::iter::from_fn(|| m.poll_action()).collect()
}

fn drain_events(m: &mut ConnectionManager) -> Vec<ConnectionEvent> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

fn use_of(s: Selection) -> u64 {
    match s {
        Selection::Use(id) => id,
        other => panic!("expected a connection, got {other:?}"),
    }
}

fn connects(actions: &[Action]) -> usize {
    actions.iter().filter(|a| matches!(a, Action::Connect { .. })).count()
}

#[test]
fn construction_opens_nothing() {
    let mut m = ConnectionManager::new(cfg(&[("localhost", 9092)]));
    assert!(m.poll_action().is_none());
    assert_eq!(m.open_count(), 0);
    assert!(m.poll_timeout().is_none());
}

#[test]
fn first_request_opens_one_bootstrap_socket_and_later_ones_queue_on_it() {
    let t0 = Instant::now();
    let mut m = ConnectionManager::new(cfg(&[("localhost", 9092), ("localhost", 9093)]));
    let a = use_of(m.select(Target::AnyNode, OpenReason::Metadata, t0));
    let b = use_of(m.select(Target::AnyNode, OpenReason::Metadata, t0));
    assert_eq!(a, b, "a connecting node is preferred over opening another");
    let acts = drain_actions(&mut m);
    assert_eq!(connects(&acts), 1);
    let ev = drain_events(&mut m);
    assert_eq!(ev[0].role, Role::Bootstrap);
    assert!(ev[0].node == "-1" || ev[0].node == "-2", "bootstrap nodes are -1, -2: {}", ev[0].node);
    assert_eq!(ev[0].opened_for, OpenReason::Bootstrap);
}

/// The spec's scenario: 3 brokers, bootstrap = broker 0's address, coordinator on broker 2,
/// partitions led by all three. Java opens 5 sockets; gregor must open 4.
#[test]
fn spec_scenario_opens_l_plus_one_sockets() {
    let t0 = Instant::now();
    let mut m = ConnectionManager::new(cfg(&[("LOCALHOST", 9092)]));
    let boot = use_of(m.select(Target::AnyNode, OpenReason::Metadata, t0));
    m.handle_connected(boot, None, None, t0);
    m.request_started(boot, t0);
    m.request_finished(boot, t0);
    m.handle_metadata(brokers3(), t0);
    let evs = drain_events(&mut m);
    assert!(
        evs.iter().any(|e| e.kind == ConnectionEventKind::Adopted { broker_id: 0 }),
        "bootstrap socket adopted as broker 0 despite the host's case: {evs:?}"
    );
    // FindCoordinator goes to the least-loaded node: the adopted socket, which is idle.
    assert_eq!(m.select(Target::AnyNode, OpenReason::Coordinator, t0), Selection::Use(boot));
    let coord = use_of(m.select(Target::Coordinator(2), OpenReason::Coordinator, t0));
    assert_ne!(coord, boot);
    let f0 = use_of(m.select(Target::Broker(0), OpenReason::Fetch, t0));
    let f1 = use_of(m.select(Target::Broker(1), OpenReason::Fetch, t0));
    let f2 = use_of(m.select(Target::Broker(2), OpenReason::Fetch, t0));
    assert_eq!(f0, boot, "broker 0 is served by the adopted bootstrap socket");
    assert_ne!(f2, coord, "the coordinator socket is dedicated");
    assert_ne!(f1, f2);
    assert_eq!(connects(&drain_actions(&mut m)), 4);
    assert_eq!(m.metrics().connection_creation_total, 4);
    assert_eq!(m.open_count(), 4);
    assert_eq!(m.node_label(coord), (i32::MAX - 2).to_string());
}

#[test]
fn adoption_requires_exact_host_and_port() {
    for (boot, expect_adopt) in [
        (("localhost", 9092), true),
        (("LocalHost", 9092), true),
        (("127.0.0.1", 9092), false), // same machine, different advertised host string
        (("localhost", 9099), false),
    ] {
        let t0 = Instant::now();
        let mut m = ConnectionManager::new(cfg(&[boot]));
        let c = use_of(m.select(Target::AnyNode, OpenReason::Metadata, t0));
        m.handle_connected(c, None, None, t0);
        drain_events(&mut m);
        m.handle_metadata(brokers3(), t0);
        let evs = drain_events(&mut m);
        let adopted = evs.iter().any(|e| matches!(e.kind, ConnectionEventKind::Adopted { .. }));
        assert_eq!(adopted, expect_adopt, "bootstrap {boot:?}");
        let acts = drain_actions(&mut m);
        let closed = acts.iter().any(|a| *a == Action::Close { conn_id: c, reason: CloseReason::Retired });
        assert_eq!(closed, !expect_adopt, "unadopted bootstrap {boot:?} is retired at once");
    }
}

#[test]
fn retirement_ignores_idle_minus_one_and_waits_for_in_flight_at_most_one_second() {
    let t0 = Instant::now();
    let mut c = cfg(&[("lb.example", 9092)]);
    c.idle_timeout = None; // connections.max.idle.ms=-1
    let mut m = ConnectionManager::new(c);
    let boot = use_of(m.select(Target::AnyNode, OpenReason::Metadata, t0));
    m.handle_connected(boot, None, None, t0);
    m.request_started(boot, t0); // e.g. a FindCoordinator still in flight
    drain_actions(&mut m);
    m.handle_metadata(brokers3(), t0);
    assert!(drain_actions(&mut m).is_empty(), "nothing closed while a request is in flight");
    assert_eq!(m.poll_timeout(), Some(t0 + RETIRE_GRACE));
    // New requests no longer go to it.
    let next = use_of(m.select(Target::AnyNode, OpenReason::Metadata, t0));
    assert_ne!(next, boot);
    drain_actions(&mut m);
    m.handle_timeout(t0 + RETIRE_GRACE);
    assert_eq!(
        drain_actions(&mut m),
        vec![Action::Close { conn_id: boot, reason: CloseReason::Retired }]
    );
    m.handle_closed(boot, CloseReason::Shutdown, None, t0 + RETIRE_GRACE);
    assert_eq!(m.metrics().connection_close_total.get(&CloseReason::Retired), Some(&1));
}

#[test]
fn retired_socket_closes_as_soon_as_its_request_completes() {
    let t0 = Instant::now();
    let mut m = ConnectionManager::new(cfg(&[("lb.example", 9092)]));
    let boot = use_of(m.select(Target::AnyNode, OpenReason::Metadata, t0));
    m.handle_connected(boot, None, None, t0);
    m.request_started(boot, t0);
    drain_actions(&mut m);
    m.handle_metadata(brokers3(), t0);
    m.request_finished(boot, t0 + Duration::from_millis(3));
    assert_eq!(
        drain_actions(&mut m),
        vec![Action::Close { conn_id: boot, reason: CloseReason::Retired }]
    );
}

#[test]
fn duplicate_bootstrap_of_a_connected_broker_is_closed_adopted_away() {
    let t0 = Instant::now();
    let mut m = ConnectionManager::new(cfg(&[("localhost", 9092), ("localhost", 9093)]));
    let a = use_of(m.select(Target::AnyNode, OpenReason::Metadata, t0));
    m.handle_connected(a, None, None, t0);
    m.request_started(a, t0);
    // The second request sees `a` busy but ready: it still prefers it (fewest in flight)
    // over opening a second socket. Force a second bootstrap socket anyway through the other
    // address by failing over: emulate two sockets by opening broker conns after metadata.
    m.request_finished(a, t0);
    m.handle_metadata(brokers3(), t0);
    let evs = drain_events(&mut m);
    assert_eq!(evs.iter().filter(|e| matches!(e.kind, ConnectionEventKind::Adopted { .. })).count(), 1);
    assert_eq!(m.open_count(), 1);
}

#[test]
fn idle_reaping_closes_least_recently_used_first_and_never_busy_ones() {
    let t0 = Instant::now();
    let idle = Duration::from_millis(540_000);
    let mut c = cfg(&[("localhost", 9092)]);
    c.rebootstrap_trigger = None; // keep the timer table to the idle deadlines
    let mut m = ConnectionManager::new(c);
    m.handle_metadata(brokers3(), t0);
    let c0 = use_of(m.select(Target::Broker(0), OpenReason::Fetch, t0));
    let c1 = use_of(m.select(Target::Broker(1), OpenReason::Fetch, t0));
    let c2 = use_of(m.select(Target::Broker(2), OpenReason::Fetch, t0));
    for c in [c0, c1, c2] {
        m.handle_connected(c, None, None, t0);
    }
    drain_actions(&mut m);
    // c1 used last at t0+10s, c0 at t0+20s; c2 has a parked request (busy is not idle).
    m.request_started(c1, t0);
    m.request_finished(c1, t0 + Duration::from_secs(10));
    m.request_started(c0, t0);
    m.request_finished(c0, t0 + Duration::from_secs(20));
    m.request_started(c2, t0);
    assert_eq!(m.poll_timeout(), Some(t0 + Duration::from_secs(10) + idle));
    m.handle_timeout(t0 + Duration::from_secs(10) + idle - Duration::from_millis(1));
    assert!(drain_actions(&mut m).is_empty());
    m.handle_timeout(t0 + Duration::from_secs(30) + idle);
    assert_eq!(
        drain_actions(&mut m),
        vec![
            Action::Close { conn_id: c1, reason: CloseReason::Idle },
            Action::Close { conn_id: c0, reason: CloseReason::Idle },
        ],
        "LRU first, and the busy socket stays"
    );
}

#[test]
fn idle_minus_one_never_reaps() {
    let t0 = Instant::now();
    let mut c = cfg(&[("localhost", 9092)]);
    c.idle_timeout = None;
    c.rebootstrap_trigger = None;
    let mut m = ConnectionManager::new(c);
    m.handle_metadata(brokers3(), t0);
    let c0 = use_of(m.select(Target::Broker(0), OpenReason::Fetch, t0));
    m.handle_connected(c0, None, None, t0);
    drain_actions(&mut m);
    assert_eq!(m.poll_timeout(), None);
    m.handle_timeout(t0 + Duration::from_secs(86_400 * 365));
    assert!(drain_actions(&mut m).is_empty());
}

#[test]
fn reconnect_backoff_doubles_within_jitter_and_resets_on_ready() {
    let mut now = Instant::now();
    let mut m = ConnectionManager::new(cfg(&[("localhost", 9092)]));
    m.handle_metadata(brokers3(), now);
    let bases = [50u64, 100, 200, 400, 800, 1000, 1000];
    for base in bases {
        let c = use_of(m.select(Target::Broker(1), OpenReason::Fetch, now));
        m.handle_connect_failed(c, "refused", now);
        match m.select(Target::Broker(1), OpenReason::Fetch, now) {
            Selection::WaitUntil(t) => {
                let waited = (t - now).as_secs_f64() * 1000.0;
                let (lo, hi) = (base as f64 * 0.8, base as f64 * 1.2);
                assert!(waited >= lo - 0.01 && waited <= hi + 0.01, "base {base}: waited {waited}ms");
                now = t;
            }
            other => panic!("expected backoff, got {other:?}"),
        }
    }
    let c = use_of(m.select(Target::Broker(1), OpenReason::Fetch, now));
    m.handle_connected(c, None, None, now);
    m.handle_closed(c, CloseReason::BrokerClosed, None, now);
    assert!(matches!(m.select(Target::Broker(1), OpenReason::Fetch, now), Selection::Use(_)));
}

#[test]
fn setup_timeout_grows_from_ten_to_thirty_seconds_within_jitter() {
    let mut now = Instant::now();
    let mut m = ConnectionManager::new(cfg(&[("localhost", 9092)]));
    m.handle_metadata(brokers3(), now);
    for base in [10_000f64, 20_000.0, 30_000.0, 30_000.0] {
        let c = use_of(m.select(Target::Broker(2), OpenReason::Fetch, now));
        drain_actions(&mut m);
        let deadline = m.poll_timeout().expect("setup deadline");
        let ms = (deadline - now).as_secs_f64() * 1000.0;
        assert!(ms >= base * 0.8 - 0.01 && ms <= base * 1.2 + 0.01, "base {base}: {ms}");
        m.handle_timeout(deadline);
        assert_eq!(drain_actions(&mut m), vec![Action::Close { conn_id: c, reason: CloseReason::SetupTimeout }]);
        m.handle_closed(c, CloseReason::Error, None, deadline);
        assert!(m.metrics().connection_failed_total >= 1);
        now = deadline + Duration::from_secs(2);
    }
    assert_eq!(m.metrics().connection_close_total.get(&CloseReason::SetupTimeout), Some(&4));
}

#[test]
fn client_wide_attempt_cap_limits_new_sockets_per_second() {
    let t0 = Instant::now();
    let mut c = cfg(&[("localhost", 9092)]);
    c.attempts_per_sec = 2;
    let mut m = ConnectionManager::new(c);
    m.handle_metadata(brokers3(), t0);
    use_of(m.select(Target::Broker(0), OpenReason::Fetch, t0));
    use_of(m.select(Target::Broker(1), OpenReason::Fetch, t0 + Duration::from_millis(100)));
    assert_eq!(
        m.select(Target::Broker(2), OpenReason::Fetch, t0 + Duration::from_millis(200)),
        Selection::WaitUntil(t0 + Duration::from_secs(1))
    );
    use_of(m.select(Target::Broker(2), OpenReason::Fetch, t0 + Duration::from_secs(1)));
    assert_eq!(connects(&drain_actions(&mut m)), 3);
}

#[test]
fn rebootstraps_when_every_known_broker_fails() {
    let t0 = Instant::now();
    let mut m = ConnectionManager::new(cfg(&[("seed.example", 9092)]));
    m.handle_metadata(brokers3(), t0);
    for id in 0..3 {
        let c = use_of(m.select(Target::Broker(id), OpenReason::Fetch, t0));
        m.handle_connect_failed(c, "refused", t0);
    }
    drain_actions(&mut m);
    let later = t0 + Duration::from_secs(5);
    let c = use_of(m.select(Target::AnyNode, OpenReason::Metadata, later));
    let acts = drain_actions(&mut m);
    assert!(
        acts.iter().any(|a| matches!(a, Action::Connect { conn_id, host, .. } if *conn_id == c && host == "seed.example")),
        "went back to bootstrap.servers: {acts:?}"
    );
    assert_eq!(m.rebootstraps(), 1);
}

/// KIP-1102: the trigger counts from the start of a failing update, not from the last success.
/// With `metadata.max.age.ms` equal to the trigger (both 300000 by default) the old rule sent
/// every healthy client back to `bootstrap.servers` once per period (issue #12).
#[test]
fn a_healthy_client_never_rebootstraps() {
    let t0 = Instant::now();
    let mut m = ConnectionManager::new(cfg(&[("seed.example", 9092)]));
    m.handle_metadata_attempt(t0);
    m.handle_metadata(brokers3(), t0);
    assert_eq!(m.poll_timeout(), None, "no trigger armed while metadata is fresh");
    // Ten hours of successful refreshes every metadata.max.age.ms (= the trigger).
    for i in 1..=120u32 {
        let t = t0 + Duration::from_millis(300_000) * i;
        m.handle_timeout(t);
        m.handle_metadata_attempt(t);
        m.handle_metadata(brokers3(), t);
    }
    assert_eq!(m.rebootstraps(), 0);
    assert_eq!(m.rebootstraps(), 0);
}

#[test]
fn rebootstraps_when_metadata_fails_for_the_trigger_time() {
    let t0 = Instant::now();
    let mut m = ConnectionManager::new(cfg(&[("seed.example", 9092)]));
    m.handle_metadata(brokers3(), t0);
    // Much later an update starts failing (the brokers answer, but not with metadata).
    let fail = t0 + Duration::from_secs(3600);
    m.handle_metadata_attempt(fail);
    m.handle_metadata_attempt(fail + Duration::from_secs(10));
    m.handle_metadata_attempt(fail + Duration::from_millis(299_999));
    assert_eq!(m.rebootstraps(), 0, "counted from the first failing attempt");
    m.handle_metadata_attempt(fail + Duration::from_millis(300_000));
    assert_eq!(m.rebootstraps(), 1);
    use_of(m.select(Target::AnyNode, OpenReason::Metadata, fail + Duration::from_millis(300_000)));
    let acts = drain_actions(&mut m);
    assert!(acts.iter().any(|a| matches!(a, Action::Connect { host, .. } if host == "seed.example")));
}

#[test]
fn rebootstrap_required_goes_back_to_bootstrap_at_once() {
    let t0 = Instant::now();
    let mut m = ConnectionManager::new(cfg(&[("seed.example", 9092)]));
    m.handle_metadata(brokers3(), t0);
    m.handle_rebootstrap_required(t0 + Duration::from_secs(1));
    assert_eq!(m.rebootstraps(), 1);
    use_of(m.select(Target::AnyNode, OpenReason::Metadata, t0 + Duration::from_secs(1)));
    let acts = drain_actions(&mut m);
    assert!(acts.iter().any(|a| matches!(a, Action::Connect { host, .. } if host == "seed.example")));
}

#[test]
fn no_rebootstrap_with_strategy_none() {
    let t0 = Instant::now();
    let mut c = cfg(&[("seed.example", 9092)]);
    c.rebootstrap_trigger = None;
    let mut m = ConnectionManager::new(c);
    m.handle_metadata(brokers3(), t0);
    m.handle_timeout(t0 + Duration::from_secs(3600));
    assert_eq!(m.rebootstraps(), 0);
}

#[test]
fn moved_broker_endpoint_closes_old_socket_after_in_flight_and_reconnects_to_new() {
    let t0 = Instant::now();
    let mut m = ConnectionManager::new(cfg(&[("localhost", 9092)]));
    m.handle_metadata(brokers3(), t0);
    let old = use_of(m.select(Target::Broker(1), OpenReason::Fetch, t0));
    m.handle_connected(old, None, None, t0);
    m.request_started(old, t0);
    drain_actions(&mut m);
    let mut moved = brokers3();
    moved[1].1 = Endpoint::new("localhost", 9999);
    m.handle_metadata(moved, t0);
    assert!(drain_actions(&mut m).is_empty(), "waits for the in-flight request");
    let new = use_of(m.select(Target::Broker(1), OpenReason::Fetch, t0));
    assert_ne!(new, old);
    let acts = drain_actions(&mut m);
    assert!(acts.iter().any(|a| matches!(a, Action::Connect { port: 9999, .. })));
    m.request_finished(old, t0);
    assert_eq!(
        drain_actions(&mut m),
        vec![Action::Close { conn_id: old, reason: CloseReason::EndpointChanged }]
    );
}

#[test]
fn shared_coordinator_rides_on_the_broker_socket() {
    let t0 = Instant::now();
    let mut c = cfg(&[("localhost", 9092)]);
    c.shared_coordinator = true;
    let mut m = ConnectionManager::new(c);
    m.handle_metadata(brokers3(), t0);
    let b = use_of(m.select(Target::Broker(1), OpenReason::Fetch, t0));
    assert_eq!(m.select(Target::Coordinator(1), OpenReason::Coordinator, t0), Selection::Use(b));
}

#[test]
fn coordinator_move_closes_the_old_dedicated_socket() {
    let t0 = Instant::now();
    let mut m = ConnectionManager::new(cfg(&[("localhost", 9092)]));
    m.handle_metadata(brokers3(), t0);
    let c1 = use_of(m.select(Target::Coordinator(1), OpenReason::Coordinator, t0));
    m.handle_connected(c1, None, None, t0);
    drain_actions(&mut m);
    m.handle_coordinator(Some(2), t0);
    assert_eq!(
        drain_actions(&mut m),
        vec![Action::Close { conn_id: c1, reason: CloseReason::EndpointChanged }]
    );
}

#[test]
fn least_loaded_prefers_fewest_in_flight() {
    let t0 = Instant::now();
    let mut m = ConnectionManager::new(cfg(&[("localhost", 9092)]));
    m.handle_metadata(brokers3(), t0);
    let c0 = use_of(m.select(Target::Broker(0), OpenReason::Fetch, t0));
    let c1 = use_of(m.select(Target::Broker(1), OpenReason::Fetch, t0));
    let c2 = use_of(m.select(Target::Broker(2), OpenReason::Fetch, t0));
    for c in [c0, c1, c2] {
        m.handle_connected(c, None, None, t0);
    }
    for _ in 0..3 {
        m.request_started(c0, t0);
    }
    m.request_started(c1, t0);
    for _ in 0..2 {
        m.request_started(c2, t0);
    }
    assert_eq!(m.select(Target::AnyNode, OpenReason::Metadata, t0), Selection::Use(c1));
    m.request_finished(c2, t0);
    m.request_finished(c2, t0);
    assert_eq!(m.select(Target::AnyNode, OpenReason::Metadata, t0), Selection::Use(c2));
}

#[test]
fn a_broker_no_longer_leading_anything_is_closed_after_the_grace_even_with_idle_minus_one() {
    let t0 = Instant::now();
    let mut c = cfg(&[("localhost", 9092)]);
    c.idle_timeout = None; // Java would keep the socket forever
    c.rebootstrap_trigger = None;
    let mut m = ConnectionManager::new(c);
    m.handle_metadata(brokers3(), t0);
    let c0 = use_of(m.select(Target::Broker(0), OpenReason::Fetch, t0));
    let c1 = use_of(m.select(Target::Broker(1), OpenReason::Fetch, t0));
    for c in [c0, c1] {
        m.handle_connected(c, None, None, t0);
    }
    m.handle_needed_brokers([0, 1].into(), t0);
    drain_actions(&mut m);
    assert_eq!(m.poll_timeout(), None, "both needed: no timer");
    // Leadership of broker 1's partitions moved to broker 0; a Fetch to 1 is still in flight.
    let t1 = t0 + Duration::from_secs(5);
    m.request_started(c1, t0);
    m.handle_needed_brokers([0].into(), t1);
    assert_eq!(m.poll_timeout(), None, "busy is not unneeded-idle");
    m.request_finished(c1, t1);
    assert_eq!(m.poll_timeout(), Some(t1 + UNNEEDED_GRACE));
    m.handle_timeout(t1 + UNNEEDED_GRACE - Duration::from_millis(1));
    assert!(drain_actions(&mut m).is_empty());
    m.handle_timeout(t1 + UNNEEDED_GRACE);
    assert_eq!(drain_actions(&mut m), vec![Action::Close { conn_id: c1, reason: CloseReason::Unneeded }]);
}

#[test]
fn leadership_that_comes_back_within_the_grace_keeps_the_socket() {
    let t0 = Instant::now();
    let mut c = cfg(&[("localhost", 9092)]);
    c.rebootstrap_trigger = None;
    let mut m = ConnectionManager::new(c);
    m.handle_metadata(brokers3(), t0);
    let c1 = use_of(m.select(Target::Broker(1), OpenReason::Fetch, t0));
    m.handle_connected(c1, None, None, t0);
    m.handle_needed_brokers([0].into(), t0);
    m.handle_needed_brokers([0, 1].into(), t0 + Duration::from_secs(3));
    m.handle_timeout(t0 + UNNEEDED_GRACE * 2);
    assert!(drain_actions(&mut m).iter().all(|a| !matches!(a, Action::Close { .. })));
    // Nothing assigned (a rebalance in progress): the grace covers a short one ...
    let t1 = t0 + UNNEEDED_GRACE * 2;
    m.handle_needed_brokers(BTreeSet::new(), t1);
    m.handle_needed_brokers([1].into(), t1 + UNNEEDED_GRACE - Duration::from_millis(1));
    m.handle_timeout(t1 + UNNEEDED_GRACE * 2);
    assert!(drain_actions(&mut m).iter().all(|a| !matches!(a, Action::Close { .. })));
    // ... and a member left with no partitions keeps no broker socket.
    let t2 = t1 + UNNEEDED_GRACE * 3;
    m.handle_needed_brokers(BTreeSet::new(), t2);
    m.handle_timeout(t2 + UNNEEDED_GRACE);
    assert_eq!(drain_actions(&mut m), vec![Action::Close { conn_id: c1, reason: CloseReason::Unneeded }]);
}

#[test]
fn the_coordinators_broker_is_needed_only_when_group_requests_share_its_connection() {
    let t0 = Instant::now();
    for shared in [false, true] {
        let mut c = cfg(&[("localhost", 9092)]);
        c.rebootstrap_trigger = None;
        c.shared_coordinator = shared;
        let mut m = ConnectionManager::new(c);
        m.handle_metadata(brokers3(), t0);
        let c2 = use_of(m.select(Target::Broker(2), OpenReason::Fetch, t0));
        m.handle_connected(c2, None, None, t0);
        m.handle_coordinator(Some(2), t0);
        m.handle_needed_brokers([0].into(), t0);
        drain_actions(&mut m);
        m.handle_timeout(t0 + UNNEEDED_GRACE);
        let closes: Vec<Action> = drain_actions(&mut m);
        if shared {
            assert!(closes.is_empty(), "KIP-848 heartbeats ride on broker 2's socket: {closes:?}");
        } else {
            // The classic coordinator has a connection of its own; broker 2's is not needed.
            assert_eq!(closes, vec![Action::Close { conn_id: c2, reason: CloseReason::Unneeded }]);
        }
    }
}

#[test]
fn a_connection_opened_later_to_an_unneeded_broker_is_clocked_too_but_never_the_coordinator() {
    let t0 = Instant::now();
    let mut c = cfg(&[("localhost", 9092)]);
    c.rebootstrap_trigger = None;
    let mut m = ConnectionManager::new(c);
    m.handle_metadata(brokers3(), t0);
    m.handle_needed_brokers([0].into(), t0);
    // A metadata request to the least-loaded node opened a socket to broker 2.
    let c2 = use_of(m.select(Target::Broker(2), OpenReason::Metadata, t0));
    let coord = use_of(m.select(Target::Coordinator(2), OpenReason::Coordinator, t0));
    for c in [c2, coord] {
        m.handle_connected(c, None, None, t0);
    }
    drain_actions(&mut m);
    m.handle_timeout(t0 + UNNEEDED_GRACE);
    assert_eq!(drain_actions(&mut m), vec![Action::Close { conn_id: c2, reason: CloseReason::Unneeded }]);
}
