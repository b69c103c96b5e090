//! Fetch (key 1): long poll, size limits, and KIP-227 fetch sessions.
//!
//! Long poll: like Kafka's `DelayedFetch`, a fetch that has fewer than `min_bytes` to return
//! waits up to `max_wait_ms`, re-checking whenever a produce appends. Sizes: `max_bytes` bounds
//! the response and `partition_max_bytes` each partition, but the first batch of the first
//! non-empty partition is returned even if larger (KIP-74), so consumers always progress.
//!
//! KIP-392 follower fetching: a follower serves consumer fetches (replica id -1) for the
//! partitions it replicates (the log is shared, so it has the same data). When a consumer
//! fetch (v11+) carrying a rack reaches the leader and an in-sync follower sits in that rack,
//! the leader answers that partition with `preferred_read_replica` and no records, as Java's
//! `RackAwareReplicaSelector` + `ReplicaManager.readFromLog` do, and answers at once (Kafka's
//! `fetchMessages` does not park a fetch that carries a preferred replica).

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{
    FetchableTopicResponse, LeaderIdAndEpoch, NodeEndpoint, PartitionData,
};
use kafka_protocol::messages::fetch_response::AbortedTransaction;
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ProducerId, TopicName};
use uuid::Uuid;

use super::{
    sb, Ctx, FENCED_LEADER_EPOCH, FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH,
    NOT_LEADER_OR_FOLLOWER, OFFSET_OUT_OF_RANGE, UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_ID,
    UNKNOWN_TOPIC_OR_PARTITION,
};
use crate::faults::Malformed;
use crate::log::concat;
use crate::state::{FetchSession, Partition, SessionPartition, State};

/// Kafka's `max.incremental.fetch.session.cache.slots` default.
const MAX_SESSIONS: usize = 1000;

/// One partition to consider in this fetch.
#[derive(Debug, Clone)]
struct Item {
    topic: Option<String>,
    topic_id: Uuid,
    partition: i32,
    fetch_offset: i64,
    max_bytes: i32,
    current_leader_epoch: i32,
}

enum Session {
    /// No session (v<7 or epoch -1): every requested partition is answered.
    None,
    /// Full fetch that (re)created session `id`.
    Full(i32),
    /// Incremental fetch on session `id`: only changed partitions are answered.
    Incremental(i32),
}

pub(crate) async fn handle(
    ctx: &Ctx,
    req: FetchRequest,
    v: i16,
    forced: Option<i16>,
) -> FetchResponse {
    if let Some(code) = forced {
        return error_response(v, code);
    }
    let (session, items) = {
        let mut st = ctx.shared.state();
        match open_session(&mut st, ctx.broker_id, &req, v) {
            Ok(x) => x,
            Err(code) => return error_response(v, code),
        }
    };
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(req.max_wait_ms.max(0) as u64);
    // v15 (KIP-903) moved the follower id into ReplicaState; -1 (or any negative) = consumer.
    let replica_id = if v >= 15 {
        req.replica_state.replica_id.0
    } else {
        req.replica_id.0
    };
    let client = Client {
        read_committed: v >= 4 && req.isolation_level == 1,
        consumer: replica_id < 0,
        rack: (v >= 11 && replica_id < 0 && !req.rack_id.is_empty())
            .then(|| req.rack_id.to_string()),
    };
    let response_max = if req.max_bytes <= 0 {
        i32::MAX as usize
    } else {
        req.max_bytes as usize
    };
    loop {
        // Register interest before reading the log so an append in between is not missed.
        let notified = ctx.shared.produce_notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (parts, bytes, errors) = {
            let st = ctx.shared.state();
            build(&st, ctx.broker_id, &client, &items, response_max, v)
        };
        let done = errors
            || bytes >= req.min_bytes.max(0) as usize
            || tokio::time::Instant::now() >= deadline;
        if done {
            return finish(ctx, session, parts, v);
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

fn error_response(v: i16, code: i16) -> FetchResponse {
    let mut r = FetchResponse::default();
    if v >= 7 {
        r.error_code = code;
    }
    r
}

/// Applies KIP-227 session rules; returns the session kind and the partitions to consider.
fn open_session(
    st: &mut State,
    broker: i32,
    req: &FetchRequest,
    v: i16,
) -> Result<(Session, Vec<Item>), i16> {
    let resolve = |st: &State, name: &TopicName, id: Uuid| -> Option<String> {
        if v >= 13 {
            st.topic_by_id(id).map(str::to_string)
        } else {
            Some(name.0.to_string())
        }
    };
    let mut requested = Vec::new();
    for t in &req.topics {
        let name = resolve(st, &t.topic, t.topic_id);
        for p in &t.partitions {
            requested.push(Item {
                topic: name.clone(),
                topic_id: t.topic_id,
                partition: p.partition,
                fetch_offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes,
                current_leader_epoch: if v >= 9 { p.current_leader_epoch } else { -1 },
            });
        }
    }
    if v < 7 {
        return Ok((Session::None, requested));
    }
    let (id, epoch) = (req.session_id, req.session_epoch);
    let new_session = |st: &mut State, items: &[Item]| -> i32 {
        st.next_session = st.next_session.wrapping_add(1).max(1);
        let sid = st.next_session;
        let mut s = FetchSession {
            broker,
            next_epoch: 1,
            partitions: Default::default(),
        };
        for it in items {
            if let Some(name) = &it.topic {
                s.partitions.insert(
                    (name.clone(), it.partition),
                    SessionPartition {
                        topic_id: it.topic_id,
                        fetch_offset: it.fetch_offset,
                        max_bytes: it.max_bytes,
                        reported: None,
                    },
                );
            }
        }
        st.sessions.insert(sid, s);
        sid
    };
    match (id, epoch) {
        (_, -1) => {
            // FINAL_EPOCH: close any session; answer as a sessionless full fetch.
            st.sessions.remove(&id);
            Ok((Session::None, requested))
        }
        (_, 0) => {
            st.sessions.remove(&id);
            if st.sessions.len() >= MAX_SESSIONS {
                // Cache full: Kafka answers the full fetch without a session (session id 0).
                return Ok((Session::None, requested));
            }
            let sid = new_session(st, &requested);
            Ok((Session::Full(sid), requested))
        }
        (0, _) => Err(INVALID_FETCH_SESSION_EPOCH),
        (id, epoch) => {
            let Some(s) = st.sessions.get_mut(&id).filter(|s| s.broker == broker) else {
                return Err(FETCH_SESSION_ID_NOT_FOUND);
            };
            if s.next_epoch != epoch {
                return Err(INVALID_FETCH_SESSION_EPOCH);
            }
            s.next_epoch = if epoch == i32::MAX { 1 } else { epoch + 1 };
            let mut unknown = Vec::new();
            for it in &requested {
                match &it.topic {
                    Some(name) => {
                        let e = s.partitions.entry((name.clone(), it.partition)).or_insert(
                            SessionPartition {
                                topic_id: it.topic_id,
                                fetch_offset: 0,
                                max_bytes: 0,
                                reported: None,
                            },
                        );
                        e.fetch_offset = it.fetch_offset;
                        e.max_bytes = it.max_bytes;
                    }
                    None => unknown.push(it.clone()),
                }
            }
            for f in &req.forgotten_topics_data {
                let name = if v >= 13 {
                    st_topic_name(&st_topics_snapshot(s), f.topic_id)
                } else {
                    Some(f.topic.0.to_string())
                };
                if let Some(name) = name {
                    for p in &f.partitions {
                        s.partitions.shift_remove(&(name.clone(), *p));
                    }
                }
            }
            let mut items: Vec<Item> = s
                .partitions
                .iter()
                .map(|((t, p), sp)| Item {
                    topic: Some(t.clone()),
                    topic_id: sp.topic_id,
                    partition: *p,
                    fetch_offset: sp.fetch_offset,
                    max_bytes: sp.max_bytes,
                    current_leader_epoch: -1,
                })
                .collect();
            // Keep the leader epochs the client sent this time for validation.
            for it in items.iter_mut() {
                if let Some(r) = requested
                    .iter()
                    .find(|r| r.topic == it.topic && r.partition == it.partition)
                {
                    it.current_leader_epoch = r.current_leader_epoch;
                }
            }
            items.extend(unknown);
            Ok((Session::Incremental(id), items))
        }
    }
}

fn st_topics_snapshot(s: &FetchSession) -> Vec<(String, Uuid)> {
    s.partitions
        .iter()
        .map(|((t, _), sp)| (t.clone(), sp.topic_id))
        .collect()
}

fn st_topic_name(known: &[(String, Uuid)], id: Uuid) -> Option<String> {
    known.iter().find(|(_, i)| *i == id).map(|(t, _)| t.clone())
}

/// Who is fetching: a consumer (replica id < 0) and its `client.rack` (v11+, non-empty).
struct Client {
    /// `isolation.level=read_committed`: data up to the last stable offset, with the aborted
    /// transactions in that range.
    read_committed: bool,
    consumer: bool,
    rack: Option<String>,
}

/// KIP-392 `RackAwareReplicaSelector`: an in-sync replica in the client's rack. None if the
/// leader itself is in that rack (Java then keeps the leader) or no replica is.
fn preferred_replica(st: &State, p: &Partition, rack: &str) -> Option<i32> {
    let in_rack = |b: i32| st.brokers.get(&b).and_then(|i| i.rack.as_deref()) == Some(rack);
    if in_rack(p.leader) {
        return None;
    }
    p.isr(st).into_iter().find(|&b| b != p.leader && in_rack(b))
}

/// Reads the log for every item; returns the partitions, total record bytes, and whether any
/// partition carries an error or a preferred read replica (which make Kafka answer without
/// waiting).
fn build(
    st: &State,
    broker: i32,
    client: &Client,
    items: &[Item],
    response_max: usize,
    v: i16,
) -> (Vec<(Item, PartitionData)>, usize, bool) {
    let mut out = Vec::with_capacity(items.len());
    let mut total = 0usize;
    let mut errors = false;
    for it in items {
        let mut pd = PartitionData::default()
            .with_partition_index(it.partition)
            .with_high_watermark(-1)
            .with_last_stable_offset(-1)
            .with_log_start_offset(-1);
        let part = it
            .topic
            .as_ref()
            .and_then(|t| st.topics.get(t))
            .and_then(|t| t.partitions.get(it.partition as usize));
        let preferred = part
            .filter(|p| p.leader == broker)
            .zip(client.rack.as_deref())
            .and_then(|(p, r)| preferred_replica(st, p, r));
        let code = match part {
            None if it.topic.is_none() && v >= 13 => UNKNOWN_TOPIC_ID,
            None => UNKNOWN_TOPIC_OR_PARTITION,
            // A follower serves consumers only; another broker (or a follower asked by a
            // replica) is not the one to ask.
            Some(p) if p.leader != broker && !(client.consumer && p.replicas.contains(&broker)) => {
                if v >= 12 {
                    pd.current_leader = LeaderIdAndEpoch::default()
                        .with_leader_id(BrokerId(p.leader))
                        .with_leader_epoch(p.leader_epoch);
                }
                NOT_LEADER_OR_FOLLOWER
            }
            Some(p) if it.current_leader_epoch >= 0 && it.current_leader_epoch < p.leader_epoch => {
                FENCED_LEADER_EPOCH
            }
            Some(p) if it.current_leader_epoch > p.leader_epoch => UNKNOWN_LEADER_EPOCH,
            Some(p) if preferred.is_some() => {
                let log = &p.log;
                pd.high_watermark = log.high_watermark;
                pd.last_stable_offset = log.high_watermark;
                pd.log_start_offset = log.log_start_offset;
                pd.preferred_read_replica = BrokerId(preferred.unwrap_or(-1));
                pd.records = Some(Bytes::new());
                errors = true;
                0
            }
            Some(p) => {
                let log = &p.log;
                let lso = log.producers.last_stable_offset(log.high_watermark);
                pd.high_watermark = log.high_watermark;
                pd.last_stable_offset = lso;
                pd.log_start_offset = log.log_start_offset;
                if it.fetch_offset < log.log_start_offset || it.fetch_offset > log.high_watermark {
                    OFFSET_OUT_OF_RANGE
                } else {
                    let remaining = response_max.saturating_sub(total);
                    let limit = (it.max_bytes.max(0) as usize).min(remaining);
                    let end = if client.read_committed { lso } else { i64::MAX };
                    let batches = log.read_until(it.fetch_offset, limit, total == 0, end);
                    if client.read_committed {
                        // Kafka `collectAbortedTransactions` over the fetched range.
                        let upto = batches.last().map_or(it.fetch_offset, |_| lso);
                        pd.aborted_transactions = Some(
                            log.producers
                                .aborted_between(it.fetch_offset, upto)
                                .into_iter()
                                .map(|a| {
                                    AbortedTransaction::default()
                                        .with_producer_id(ProducerId(a.producer_id))
                                        .with_first_offset(a.first_offset)
                                })
                                .collect(),
                        );
                    }
                    let records = concat(&batches);
                    total += records.len();
                    pd.records = Some(records);
                    0
                }
            }
        };
        if code != 0 {
            errors = true;
            pd.records = Some(Bytes::new());
        }
        pd.error_code = code;
        out.push((it.clone(), pd));
    }
    (out, total, errors)
}

/// Applies payload faults, filters for incremental sessions, groups partitions by topic.
fn finish(
    ctx: &Ctx,
    session: Session,
    mut parts: Vec<(Item, PartitionData)>,
    v: i16,
) -> FetchResponse {
    let payload_fault = ctx.shared.faults().peek_payload(ctx.broker_id);
    if let Some(kind) = payload_fault {
        if let Some((_, pd)) = parts
            .iter_mut()
            .find(|(_, pd)| pd.records.as_ref().is_some_and(|r| !r.is_empty()))
        {
            let records = pd.records.take().unwrap_or_default();
            pd.records = Some(match kind {
                Malformed::BadCrc => crate::malformed::corrupt_crc(&records),
                _ => crate::malformed::gzip_bomb(&records),
            });
            ctx.shared.faults().consume_payload(ctx.broker_id, kind);
        }
    }
    let mut st = ctx.shared.state();
    let session_id = match session {
        Session::None => 0,
        Session::Full(id) | Session::Incremental(id) => id,
    };
    let incremental = matches!(session, Session::Incremental(_));
    let sess = st.sessions.get_mut(&session_id);
    let mut sess = sess;
    let mut kept = Vec::with_capacity(parts.len());
    for (it, pd) in parts.drain(..) {
        let now = (pd.high_watermark, pd.log_start_offset);
        let key = it.topic.clone().map(|t| (t, it.partition));
        let sp = match (&mut sess, &key) {
            (Some(s), Some(k)) => s.partitions.get_mut(k),
            _ => None,
        };
        let changed = pd.error_code != 0
            || pd.preferred_read_replica.0 >= 0
            || pd.records.as_ref().is_some_and(|r| !r.is_empty())
            || sp.as_ref().is_none_or(|sp| sp.reported != Some(now));
        if let Some(sp) = sp {
            if changed {
                sp.reported = Some(now);
            }
        }
        if !incremental || changed {
            kept.push((it, pd));
        }
    }
    let nodes: Vec<NodeEndpoint> = if v >= 16 {
        let mut ids: Vec<i32> = kept
            .iter()
            .filter(|(_, pd)| pd.error_code == NOT_LEADER_OR_FOLLOWER)
            .map(|(_, pd)| pd.current_leader.leader_id.0)
            .collect();
        ids.sort();
        ids.dedup();
        ids.iter()
            .filter_map(|id| {
                st.brokers.get(id).map(|b| {
                    NodeEndpoint::default()
                        .with_node_id(BrokerId(*id))
                        .with_host(sb(b.advertised_host.clone()))
                        .with_port(b.advertised_port)
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    drop(st);
    let served: u64 = kept
        .iter()
        .map(|(_, pd)| pd.records.as_ref().map_or(0, |r| r.len() as u64))
        .sum();
    if served > 0 {
        let mut m = ctx
            .shared
            .fetched_bytes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *m.entry(ctx.broker_id).or_default() += served;
    }
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    for (it, pd) in kept {
        let same = topics.last().is_some_and(|t| {
            if v >= 13 {
                t.topic_id == it.topic_id
            } else {
                Some(t.topic.0.to_string()) == it.topic
            }
        });
        if !same {
            let mut t = FetchableTopicResponse::default();
            if v >= 13 {
                t.topic_id = it.topic_id;
            } else {
                t.topic = TopicName(sb(it.topic.clone().unwrap_or_default()));
            }
            topics.push(t);
        }
        if let Some(t) = topics.last_mut() {
            t.partitions.push(pd);
        }
    }
    let mut resp = FetchResponse::default().with_responses(topics);
    if v >= 7 {
        resp.session_id = session_id;
    }
    if v >= 16 {
        resp.node_endpoints = nodes;
    }
    resp
}
