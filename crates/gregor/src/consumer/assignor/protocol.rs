//! The embedded consumer protocol: subscription and assignment bytes carried inside JoinGroup
//! metadata and SyncGroup assignments, plus the sticky assignors' `user_data` formats.
//!
//! Framing follows Java `ConsumerProtocol`: an int16 version, then the `ConsumerProtocolSubscription`
//! / `ConsumerProtocolAssignment` body in that version (classic, non-flexible encoding, no tagged
//! fields). A version newer than we know is parsed as the newest we know and trailing bytes are
//! ignored: the schema only ever appends fields (Java `checkSubscriptionVersion` /
//! `checkAssignmentVersion`). A negative version is an error.
//!
//! These bytes come from other group members via the broker, so they are hostile: before the
//! kafka-protocol decoder runs, `validate_subscription` / `validate_assignment` walk the bytes
//! and check that every length fits in what is left. That bounds every allocation the decoder
//! makes (it pre-allocates arrays by their declared length) by the input size.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use kafka_protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedTopic;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::{Assignment, AssignorError, AssignorErrorKind, Subscription, TopicPartition};

/// The newest embedded consumer protocol version we speak (v3 adds `rack_id`, KIP-881).
pub const CONSUMER_PROTOCOL_VERSION: i16 = 3;

fn decode_err(msg: impl Into<String>) -> AssignorError {
    AssignorError::new(AssignorErrorKind::Decode, msg)
}

fn encode_err(msg: impl Into<String>) -> AssignorError {
    AssignorError::new(AssignorErrorKind::Encode, msg)
}

/// Java `checkSubscriptionVersion`: negative is invalid, newer than known is read as newest.
fn effective_version(version: i16) -> Result<i16, AssignorError> {
    if version < 0 {
        return Err(decode_err(format!(
            "unsupported consumer protocol version {version}"
        )));
    }
    Ok(version.min(CONSUMER_PROTOCOL_VERSION))
}

/// Groups partitions by topic, both sorted (Java sorts topics and owned partitions before
/// encoding so every member's metadata is byte-stable; the coordinator compares metadata to
/// decide whether a rejoining member changed anything).
fn group_by_topic(partitions: &[TopicPartition]) -> Vec<(String, Vec<i32>)> {
    let mut sorted: Vec<&TopicPartition> = partitions.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut out: Vec<(String, Vec<i32>)> = Vec::new();
    for tp in sorted {
        match out.last_mut() {
            Some((topic, parts)) if **topic == *tp.topic => parts.push(tp.partition),
            _ => out.push((tp.topic.to_string(), vec![tp.partition])),
        }
    }
    out
}

fn topic_name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_owned()))
}

fn with_version_prefix<T: Encodable>(msg: &T, version: i16) -> Result<Bytes, AssignorError> {
    let size = msg
        .compute_size(version)
        .map_err(|e| encode_err(e.to_string()))?;
    let mut buf = BytesMut::with_capacity(2 + size);
    buf.put_i16(version);
    msg.encode(&mut buf, version)
        .map_err(|e| encode_err(e.to_string()))?;
    Ok(buf.freeze())
}

/// Encodes a subscription as JoinGroup protocol metadata at `version` (use
/// [`CONSUMER_PROTOCOL_VERSION`]). Versions above the newest are written as the newest; fields
/// the version lacks are dropped, as Java does. Topics and owned partitions are written sorted.
pub fn encode_subscription(sub: &Subscription, version: i16) -> Result<Bytes, AssignorError> {
    if version < 0 {
        return Err(encode_err(format!(
            "unsupported consumer protocol version {version}"
        )));
    }
    let version = version.min(CONSUMER_PROTOCOL_VERSION);
    let mut topics: Vec<&String> = sub.topics.iter().collect();
    topics.sort();
    topics.dedup();
    let owned = group_by_topic(&sub.owned_partitions)
        .into_iter()
        .map(|(t, p)| {
            OwnedTopic::default()
                .with_topic(topic_name(&t))
                .with_partitions(p)
        })
        .collect();
    let msg = ConsumerProtocolSubscription::default()
        .with_topics(
            topics
                .into_iter()
                .map(|t| StrBytes::from_string(t.clone()))
                .collect(),
        )
        .with_user_data(sub.user_data.clone())
        .with_owned_partitions(if version >= 1 { owned } else { Vec::new() })
        .with_generation_id(sub.generation_id.unwrap_or(super::DEFAULT_GENERATION))
        .with_rack_id(sub.rack_id.clone().map(StrBytes::from_string));
    with_version_prefix(&msg, version)
}

/// Decodes JoinGroup protocol metadata into a subscription. Generation -1 and an empty or null
/// rack read as `None` (Java `ConsumerProtocol.deserializeSubscription`).
pub fn decode_subscription(bytes: &[u8]) -> Result<Subscription, AssignorError> {
    let (version, body) = split_version(bytes)?;
    validate_subscription(body, version)?;
    let mut buf = Bytes::copy_from_slice(body);
    let msg = ConsumerProtocolSubscription::decode(&mut buf, version)
        .map_err(|e| decode_err(format!("subscription v{version}: {e}")))?;
    let mut owned_partitions = Vec::new();
    for t in msg.owned_partitions {
        for p in t.partitions {
            owned_partitions.push(TopicPartition::new(t.topic.as_str(), p));
        }
    }
    Ok(Subscription {
        topics: msg.topics.iter().map(|t| t.as_str().to_owned()).collect(),
        user_data: msg.user_data,
        owned_partitions,
        generation_id: (msg.generation_id != super::DEFAULT_GENERATION)
            .then_some(msg.generation_id),
        rack_id: msg
            .rack_id
            .filter(|r| !r.is_empty())
            .map(|r| r.as_str().to_owned()),
    })
}

/// Encodes an assignment for SyncGroup. The layout is the same in every version; Java writes
/// the newest, and every client parses newer versions as the newest it knows. Partitions are
/// grouped by topic in order of first appearance, keeping the given order within a topic, which
/// gives the same bytes as Java `ConsumerProtocol.serializeAssignment` for the same list.
pub fn encode_assignment(assignment: &Assignment, version: i16) -> Result<Bytes, AssignorError> {
    if version < 0 {
        return Err(encode_err(format!(
            "unsupported consumer protocol version {version}"
        )));
    }
    let version = version.min(CONSUMER_PROTOCOL_VERSION);
    let mut grouped: Vec<(&str, Vec<i32>)> = Vec::new();
    for tp in &assignment.partitions {
        match grouped.iter_mut().find(|(t, _)| *t == &*tp.topic) {
            Some((_, parts)) => parts.push(tp.partition),
            None => grouped.push((&*tp.topic, vec![tp.partition])),
        }
    }
    let topics = grouped
        .into_iter()
        .map(|(t, p)| {
            AssignedTopic::default()
                .with_topic(topic_name(t))
                .with_partitions(p)
        })
        .collect();
    let msg = ConsumerProtocolAssignment::default()
        .with_assigned_partitions(topics)
        .with_user_data(assignment.user_data.clone());
    with_version_prefix(&msg, version)
}

/// Decodes a SyncGroup assignment. Empty bytes decode as an empty assignment: the coordinator
/// hands out empty bytes to a member the leader left out, which librdkafka also treats as "no
/// partitions" (Java would fail to read the header).
pub fn decode_assignment(bytes: &[u8]) -> Result<Assignment, AssignorError> {
    if bytes.is_empty() {
        return Ok(Assignment::default());
    }
    let (version, body) = split_version(bytes)?;
    validate_assignment(body)?;
    let mut buf = Bytes::copy_from_slice(body);
    let msg = ConsumerProtocolAssignment::decode(&mut buf, version)
        .map_err(|e| decode_err(format!("assignment v{version}: {e}")))?;
    let mut partitions = Vec::new();
    for t in msg.assigned_partitions {
        for p in t.partitions {
            partitions.push(TopicPartition::new(t.topic.as_str(), p));
        }
    }
    Ok(Assignment {
        partitions,
        user_data: msg.user_data,
    })
}

fn split_version(bytes: &[u8]) -> Result<(i16, &[u8]), AssignorError> {
    let (head, body) = bytes
        .split_first_chunk::<2>()
        .ok_or_else(|| decode_err("buffer underflow while reading the consumer protocol header"))?;
    Ok((effective_version(i16::from_be_bytes(*head))?, body))
}

/// A bounds-checking cursor used to validate peer bytes before decoding them.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], AssignorError> {
        if self.buf.len() < n {
            return Err(decode_err(format!(
                "buffer underflow reading {what}: need {n} bytes, {} left",
                self.buf.len()
            )));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    pub(crate) fn i16(&mut self, what: &str) -> Result<i16, AssignorError> {
        let b = self.take(2, what)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn i32(&mut self, what: &str) -> Result<i32, AssignorError> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A classic (int16-length) string; `None` for null when `nullable`.
    pub(crate) fn string(
        &mut self,
        nullable: bool,
        what: &str,
    ) -> Result<Option<String>, AssignorError> {
        match self.i16(what)? {
            -1 if nullable => Ok(None),
            n if n < 0 => Err(decode_err(format!("{what}: invalid string length {n}"))),
            n => {
                let raw = self.take(n as usize, what)?;
                let s = std::str::from_utf8(raw)
                    .map_err(|_| decode_err(format!("{what}: string is not valid UTF-8")))?;
                Ok(Some(s.to_owned()))
            }
        }
    }

    /// Classic nullable bytes (int32 length, -1 = null).
    fn bytes(&mut self, what: &str) -> Result<(), AssignorError> {
        match self.i32(what)? {
            -1 => Ok(()),
            n if n < 0 => Err(decode_err(format!("{what}: invalid bytes length {n}"))),
            n => self.take(n as usize, what).map(|_| ()),
        }
    }

    /// A non-nullable classic array length, checked against the bytes left given the smallest
    /// possible element size.
    pub(crate) fn array_len(
        &mut self,
        min_elem: usize,
        what: &str,
    ) -> Result<usize, AssignorError> {
        let n = self.i32(what)?;
        if n < 0 {
            return Err(decode_err(format!("{what}: invalid array length {n}")));
        }
        let n = n as usize;
        if n.saturating_mul(min_elem) > self.buf.len() {
            return Err(decode_err(format!(
                "{what}: array of {n} elements cannot fit in {} bytes",
                self.buf.len()
            )));
        }
        Ok(n)
    }

    /// `[topic string, [int32]]` entries, as used by owned/assigned partitions and the sticky
    /// user data.
    pub(crate) fn topic_partitions(
        &mut self,
        what: &str,
    ) -> Result<Vec<TopicPartition>, AssignorError> {
        let mut out = Vec::new();
        let topics = self.array_len(6, what)?;
        for _ in 0..topics {
            let topic = self.string(false, what)?.unwrap_or_default();
            let parts = self.array_len(4, what)?;
            for _ in 0..parts {
                out.push(TopicPartition::new(topic.clone(), self.i32(what)?));
            }
        }
        Ok(out)
    }
}

/// Walks a subscription body at `version` checking every length; see the module docs.
pub(crate) fn validate_subscription(body: &[u8], version: i16) -> Result<(), AssignorError> {
    let mut c = Cursor::new(body);
    let topics = c.array_len(2, "subscription topics")?;
    for _ in 0..topics {
        c.string(false, "subscription topic")?;
    }
    c.bytes("subscription user_data")?;
    if version >= 1 {
        c.topic_partitions("subscription owned_partitions")?;
    }
    if version >= 2 {
        c.i32("subscription generation_id")?;
    }
    if version >= 3 {
        c.string(true, "subscription rack_id")?;
    }
    Ok(())
}

/// Walks an assignment body checking every length; see the module docs.
pub(crate) fn validate_assignment(body: &[u8]) -> Result<(), AssignorError> {
    let mut c = Cursor::new(body);
    c.topic_partitions("assignment partitions")?;
    c.bytes("assignment user_data")?;
    Ok(())
}

/// `user_data` of "cooperative-sticky" subscriptions: the member's generation as a bare int32
/// (Java `CooperativeStickyAssignor` COOPERATIVE_STICKY_ASSIGNOR_USER_DATA_V0), kept for
/// assignors that predate subscription v2's `generation_id`.
pub fn encode_cooperative_user_data(generation: i32) -> Bytes {
    Bytes::copy_from_slice(&generation.to_be_bytes())
}

/// Reads the generation from "cooperative-sticky" `user_data`. Unreadable data yields
/// `Some(DEFAULT_GENERATION)` and absent data `None`, as in Java's `memberData`.
pub fn decode_cooperative_user_data(user_data: Option<&[u8]>) -> Option<i32> {
    let data = user_data?;
    Some(
        Cursor::new(data)
            .i32("generation")
            .unwrap_or(super::DEFAULT_GENERATION),
    )
}

/// `user_data` of eager "sticky" subscriptions (Java `StickyAssignor` user data V1): the member's
/// previous assignment as `[topic, [partition]]` followed by its int32 generation. No version
/// prefix. `generation: None` writes V0 (no generation).
pub fn encode_sticky_user_data(
    previous: &[TopicPartition],
    generation: Option<i32>,
) -> Result<Bytes, AssignorError> {
    let grouped = group_by_topic(previous);
    let mut buf = BytesMut::new();
    let len = i32::try_from(grouped.len()).map_err(|_| encode_err("too many topics"))?;
    buf.put_i32(len);
    for (topic, parts) in grouped {
        let tlen = i16::try_from(topic.len()).map_err(|_| encode_err("topic name too long"))?;
        buf.put_i16(tlen);
        buf.put_slice(topic.as_bytes());
        buf.put_i32(i32::try_from(parts.len()).map_err(|_| encode_err("too many partitions"))?);
        for p in parts {
            buf.put_i32(p);
        }
    }
    if let Some(g) = generation {
        buf.put_i32(g);
    }
    Ok(buf.freeze())
}

/// Reads eager "sticky" `user_data`: previous assignment and, for V1, the generation. Java tries
/// V1, then V0, and treats anything unreadable as "no previous assignment".
pub fn decode_sticky_user_data(user_data: Option<&[u8]>) -> (Vec<TopicPartition>, Option<i32>) {
    let Some(data) = user_data.filter(|d| !d.is_empty()) else {
        return (Vec::new(), None);
    };
    let mut c = Cursor::new(data);
    match c.topic_partitions("sticky user data") {
        Ok(previous) => {
            let generation = c.i32("sticky generation").ok();
            (previous, generation)
        }
        Err(_) => (Vec::new(), None),
    }
}
