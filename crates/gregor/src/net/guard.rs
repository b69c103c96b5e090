//! A structural pre-check of response bodies, before `kafka-protocol` decodes them.
//!
//! Why: the generated decoders read an array count off the wire and call
//! `Vec::with_capacity(count)` before reading any element. A hostile broker can put a count of
//! four billion inside a 20-byte frame; the allocation of hundreds of GiB then fails and the
//! process *aborts* (allocation failure is not a panic, so `catch_unwind` cannot help). The
//! frame-size cap does not help either: the frame is small.
//!
//! The fix: walk the body once with a small schema of the response (the same field layout as
//! the Kafka JSON message definitions, per version) and check that every length and every array
//! count fits in the bytes that are left. Only a body that passes reaches the decoder, so every
//! allocation the decoder makes is backed by bytes that really arrived.
//!
//! Covered: every response the consumer decodes (ApiVersions, SASL, Metadata, FindCoordinator,
//! Fetch, ListOffsets, the group and offset APIs). Any other API passes through unchecked;
//! add its schema here before decoding it.

use kafka_protocol::messages::ApiKey;

use crate::error::{Error, Result};

#[derive(Clone, Copy)]
enum Ty {
    I8,
    I16,
    I32,
    I64,
    Uuid,
    /// STRING / COMPACT_STRING, nullable or not.
    Str,
    /// BYTES / COMPACT_BYTES / RECORDS, nullable or not.
    Bytes,
    /// An array of INT32.
    ArrI32,
    /// An array of structs.
    Arr(&'static Struct),
    /// An array of plain values, described as a one-field struct without a tag section.
    ArrOf(&'static Struct),
    /// A nested struct (with its own tag section in flexible versions).
    Struct(&'static Struct),
}

/// A field present in versions `min..=max`.
#[derive(Clone, Copy)]
struct Field(Ty, i16, i16);

/// A struct: its fields, and the tagged fields kafka-protocol knows, as (tag, first version,
/// type). The decoder reads a known tagged field by its type and *ignores its declared size*, so
/// the walk must do the same to stay in step; unknown tags are skipped by their size.
struct Struct {
    fields: &'static [Field],
    tagged: &'static [(u32, i16, Ty)],
}

const ALL: i16 = i16::MAX;

// ----- Metadata (flexible from v9) -------------------------------------------------------------

static METADATA_BROKER: Struct = Struct {
    fields: &[Field(Ty::I32, 0, ALL), Field(Ty::Str, 0, ALL), Field(Ty::I32, 0, ALL), Field(Ty::Str, 1, ALL)],
    tagged: &[],
};
static METADATA_PARTITION: Struct = Struct {
    fields: &[
        Field(Ty::I16, 0, ALL),
        Field(Ty::I32, 0, ALL),
        Field(Ty::I32, 0, ALL),
        Field(Ty::I32, 7, ALL),
        Field(Ty::ArrI32, 0, ALL),
        Field(Ty::ArrI32, 0, ALL),
        Field(Ty::ArrI32, 5, ALL),
    ],
    tagged: &[],
};
static METADATA_TOPIC: Struct = Struct {
    fields: &[
        Field(Ty::I16, 0, ALL),
        Field(Ty::Str, 0, ALL),
        Field(Ty::Uuid, 10, ALL),
        Field(Ty::I8, 1, ALL), // is_internal
        Field(Ty::Arr(&METADATA_PARTITION), 0, ALL),
        Field(Ty::I32, 8, ALL),
    ],
    tagged: &[],
};
static METADATA: Struct = Struct {
    fields: &[
        Field(Ty::I32, 3, ALL),
        Field(Ty::Arr(&METADATA_BROKER), 0, ALL),
        Field(Ty::Str, 2, ALL),
        Field(Ty::I32, 1, ALL),
        Field(Ty::Arr(&METADATA_TOPIC), 0, ALL),
        Field(Ty::I32, 8, 10),
        Field(Ty::I16, 13, ALL),
    ],
    tagged: &[],
};

// ----- Fetch (flexible from v12) ---------------------------------------------------------------

static FETCH_ABORTED: Struct = Struct { fields: &[Field(Ty::I64, 0, ALL), Field(Ty::I64, 0, ALL)], tagged: &[] };
static FETCH_PARTITION: Struct = Struct {
    fields: &[
        Field(Ty::I32, 0, ALL),
        Field(Ty::I16, 0, ALL),
        Field(Ty::I64, 0, ALL),
        Field(Ty::I64, 4, ALL),
        Field(Ty::I64, 5, ALL),
        Field(Ty::Arr(&FETCH_ABORTED), 4, ALL),
        Field(Ty::I32, 11, ALL),
        Field(Ty::Bytes, 0, ALL),
    ],
    tagged: &[(0, 12, Ty::Struct(&EPOCH_END_OFFSET)), (1, 12, Ty::Struct(&LEADER_AND_EPOCH)), (2, 12, Ty::Struct(&SNAPSHOT_ID))],
};
static EPOCH_END_OFFSET: Struct = Struct { fields: &[Field(Ty::I32, 0, ALL), Field(Ty::I64, 0, ALL)], tagged: &[] };
static LEADER_AND_EPOCH: Struct = Struct { fields: &[Field(Ty::I32, 0, ALL), Field(Ty::I32, 0, ALL)], tagged: &[] };
static SNAPSHOT_ID: Struct = Struct { fields: &[Field(Ty::I64, 0, ALL), Field(Ty::I32, 0, ALL)], tagged: &[] };
static FETCH_TOPIC: Struct = Struct {
    fields: &[Field(Ty::Str, 0, 12), Field(Ty::Uuid, 13, ALL), Field(Ty::Arr(&FETCH_PARTITION), 0, ALL)],
    tagged: &[],
};
static FETCH_NODE_ENDPOINT: Struct = Struct {
    fields: &[Field(Ty::I32, 0, ALL), Field(Ty::Str, 0, ALL), Field(Ty::I32, 0, ALL), Field(Ty::Str, 0, ALL)],
    tagged: &[],
};
static FETCH: Struct = Struct {
    fields: &[
        Field(Ty::I32, 1, ALL),
        Field(Ty::I16, 7, ALL),
        Field(Ty::I32, 7, ALL),
        Field(Ty::Arr(&FETCH_TOPIC), 0, ALL),
    ],
    tagged: &[(0, 16, Ty::Arr(&FETCH_NODE_ENDPOINT))],
};

// ----- ApiVersions (flexible from v3) ----------------------------------------------------------

static API_VERSION: Struct =
    Struct { fields: &[Field(Ty::I16, 0, ALL), Field(Ty::I16, 0, ALL), Field(Ty::I16, 0, ALL)], tagged: &[] };
static FEATURE: Struct =
    Struct { fields: &[Field(Ty::Str, 0, ALL), Field(Ty::I16, 0, ALL), Field(Ty::I16, 0, ALL)], tagged: &[] };
static API_VERSIONS: Struct = Struct {
    fields: &[Field(Ty::I16, 0, ALL), Field(Ty::Arr(&API_VERSION), 0, ALL), Field(Ty::I32, 1, ALL)],
    tagged: &[(0, 3, Ty::Arr(&FEATURE)), (1, 3, Ty::I64), (2, 3, Ty::Arr(&FEATURE)), (3, 3, Ty::I8)],
};

// ----- FindCoordinator (flexible from v3) ------------------------------------------------------

static COORDINATOR: Struct = Struct {
    fields: &[
        Field(Ty::Str, 0, ALL),
        Field(Ty::I32, 0, ALL),
        Field(Ty::Str, 0, ALL),
        Field(Ty::I32, 0, ALL),
        Field(Ty::I16, 0, ALL),
        Field(Ty::Str, 0, ALL),
    ],
    tagged: &[],
};
static FIND_COORDINATOR: Struct = Struct {
    fields: &[
        Field(Ty::I32, 1, ALL),
        Field(Ty::I16, 0, 3),
        Field(Ty::Str, 1, 3),
        Field(Ty::I32, 0, 3),
        Field(Ty::Str, 0, 3),
        Field(Ty::I32, 0, 3),
        Field(Ty::Arr(&COORDINATOR), 4, ALL),
    ],
    tagged: &[],
};

// ----- Group and offset responses ---------------------------------------------------------------

static JOIN_MEMBER: Struct =
    Struct { fields: &[Field(Ty::Str, 0, ALL), Field(Ty::Str, 5, ALL), Field(Ty::Bytes, 0, ALL)], tagged: &[] };
static JOIN_GROUP: Struct = Struct {
    fields: &[
        Field(Ty::I32, 2, ALL),
        Field(Ty::I16, 0, ALL),
        Field(Ty::I32, 0, ALL),
        Field(Ty::Str, 7, ALL),
        Field(Ty::Str, 0, ALL),
        Field(Ty::Str, 0, ALL),
        Field(Ty::I8, 9, ALL),
        Field(Ty::Str, 0, ALL),
        Field(Ty::Arr(&JOIN_MEMBER), 0, ALL),
    ],
    tagged: &[],
};
static SYNC_GROUP: Struct = Struct {
    fields: &[
        Field(Ty::I32, 1, ALL),
        Field(Ty::I16, 0, ALL),
        Field(Ty::Str, 5, ALL),
        Field(Ty::Str, 5, ALL),
        Field(Ty::Bytes, 0, ALL),
    ],
    tagged: &[],
};
static HEARTBEAT: Struct = Struct { fields: &[Field(Ty::I32, 1, ALL), Field(Ty::I16, 0, ALL)], tagged: &[] };
static LEAVE_MEMBER: Struct =
    Struct { fields: &[Field(Ty::Str, 0, ALL), Field(Ty::Str, 0, ALL), Field(Ty::I16, 0, ALL)], tagged: &[] };
static LEAVE_GROUP: Struct = Struct {
    fields: &[Field(Ty::I32, 1, ALL), Field(Ty::I16, 0, ALL), Field(Ty::Arr(&LEAVE_MEMBER), 3, ALL)],
    tagged: &[],
};
static OFFSET_FETCH_PARTITION: Struct = Struct {
    fields: &[
        Field(Ty::I32, 0, ALL),
        Field(Ty::I64, 0, ALL),
        Field(Ty::I32, 5, ALL),
        Field(Ty::Str, 0, ALL),
        Field(Ty::I16, 0, ALL),
    ],
    tagged: &[],
};
static OFFSET_FETCH_TOPIC: Struct = Struct {
    fields: &[
        Field(Ty::Str, 0, 9),
        Field(Ty::Uuid, 10, ALL),
        Field(Ty::Arr(&OFFSET_FETCH_PARTITION), 0, ALL),
    ],
    tagged: &[],
};
static OFFSET_FETCH_GROUP: Struct = Struct {
    fields: &[Field(Ty::Str, 0, ALL), Field(Ty::Arr(&OFFSET_FETCH_TOPIC), 0, ALL), Field(Ty::I16, 0, ALL)],
    tagged: &[],
};
static OFFSET_FETCH: Struct = Struct {
    fields: &[
        Field(Ty::I32, 3, ALL),
        Field(Ty::Arr(&OFFSET_FETCH_TOPIC), 0, 7),
        Field(Ty::I16, 2, 7),
        Field(Ty::Arr(&OFFSET_FETCH_GROUP), 8, ALL),
    ],
    tagged: &[],
};
static OFFSET_COMMIT_PARTITION: Struct = Struct { fields: &[Field(Ty::I32, 0, ALL), Field(Ty::I16, 0, ALL)], tagged: &[] };
static OFFSET_COMMIT_TOPIC: Struct = Struct {
    fields: &[Field(Ty::Str, 0, 9), Field(Ty::Uuid, 10, ALL), Field(Ty::Arr(&OFFSET_COMMIT_PARTITION), 0, ALL)],
    tagged: &[],
};
static OFFSET_COMMIT: Struct =
    Struct { fields: &[Field(Ty::I32, 3, ALL), Field(Ty::Arr(&OFFSET_COMMIT_TOPIC), 0, ALL)], tagged: &[] };
static LIST_OFFSETS_PARTITION: Struct = Struct {
    fields: &[
        Field(Ty::I32, 0, ALL),
        Field(Ty::I16, 0, ALL),
        Field(Ty::I64, 1, ALL),
        Field(Ty::I64, 1, ALL),
        Field(Ty::I32, 4, ALL),
    ],
    tagged: &[],
};
static LIST_OFFSETS_TOPIC: Struct =
    Struct { fields: &[Field(Ty::Str, 0, ALL), Field(Ty::Arr(&LIST_OFFSETS_PARTITION), 0, ALL)], tagged: &[] };
static LIST_OFFSETS: Struct =
    Struct { fields: &[Field(Ty::I32, 2, ALL), Field(Ty::Arr(&LIST_OFFSETS_TOPIC), 0, ALL)], tagged: &[] };

// ----- SASL -------------------------------------------------------------------------------------

static SASL_MECHANISM: Struct = Struct { fields: &[Field(Ty::Str, 0, ALL)], tagged: &[] };
static SASL_HANDSHAKE: Struct =
    Struct { fields: &[Field(Ty::I16, 0, ALL), Field(Ty::ArrOf(&SASL_MECHANISM), 0, ALL)], tagged: &[] };
static SASL_AUTHENTICATE: Struct = Struct {
    fields: &[Field(Ty::I16, 0, ALL), Field(Ty::Str, 0, ALL), Field(Ty::Bytes, 0, ALL), Field(Ty::I64, 1, ALL)],
    tagged: &[],
};

/// The schema and first flexible version of a response, if gregor walks it.
fn schema(api_key: ApiKey) -> Option<(&'static Struct, i16)> {
    match api_key {
        ApiKey::Metadata => Some((&METADATA, 9)),
        ApiKey::Fetch => Some((&FETCH, 12)),
        ApiKey::ApiVersions => Some((&API_VERSIONS, 3)),
        ApiKey::FindCoordinator => Some((&FIND_COORDINATOR, 3)),
        ApiKey::JoinGroup => Some((&JOIN_GROUP, 6)),
        ApiKey::SyncGroup => Some((&SYNC_GROUP, 4)),
        ApiKey::Heartbeat => Some((&HEARTBEAT, 4)),
        ApiKey::LeaveGroup => Some((&LEAVE_GROUP, 4)),
        ApiKey::OffsetFetch => Some((&OFFSET_FETCH, 6)),
        ApiKey::OffsetCommit => Some((&OFFSET_COMMIT, 8)),
        ApiKey::ListOffsets => Some((&LIST_OFFSETS, 6)),
        // SaslHandshake has no flexible version.
        ApiKey::SaslHandshake => Some((&SASL_HANDSHAKE, i16::MAX)),
        ApiKey::SaslAuthenticate => Some((&SASL_AUTHENTICATE, 2)),
        _ => None,
    }
}

/// Checks that every length and array count in a response body fits in the body.
pub(crate) fn check(api_key: ApiKey, version: i16, body: &[u8]) -> Result<()> {
    let Some((s, flexible_from)) = schema(api_key) else { return Ok(()) };
    let mut w = Walker { buf: body, version, flexible: version >= flexible_from, depth: 0 };
    w.walk(s).map_err(|why| Error::protocol(format!("malformed {api_key:?} v{version} response: {why}")))
}

struct Walker<'a> {
    buf: &'a [u8],
    version: i16,
    flexible: bool,
    depth: u32,
}

type Walk<T = ()> = std::result::Result<T, String>;

impl Walker<'_> {
    fn take(&mut self, n: usize) -> Walk {
        if n > self.buf.len() {
            return Err(format!("needs {n} bytes, {} left", self.buf.len()));
        }
        self.buf = &self.buf[n..];
        Ok(())
    }

    fn int(&mut self, n: usize) -> Walk<i64> {
        let Some(b) = self.buf.get(..n) else { return Err(format!("needs {n} bytes, {} left", self.buf.len())) };
        let v = b.iter().fold(0i64, |acc, x| (acc << 8) | i64::from(*x));
        self.buf = &self.buf[n..];
        // Sign-extend.
        let shift = 64 - 8 * n as u32;
        Ok((v << shift) >> shift)
    }

    fn uvarint(&mut self) -> Walk<u32> {
        let mut v: u32 = 0;
        for i in 0..5 {
            let Some(&b) = self.buf.first() else { return Err("truncated varint".into()) };
            self.buf = &self.buf[1..];
            v |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 5 bytes".into())
    }

    /// A length or count: `None` for null. Compact encodings store n + 1.
    fn length(&mut self, wide: bool) -> Walk<Option<usize>> {
        if self.flexible {
            let n = self.uvarint()?;
            return Ok(n.checked_sub(1).map(|n| n as usize));
        }
        let n = if wide { self.int(4)? } else { self.int(2)? };
        match n {
            -1 => Ok(None),
            n if n < 0 => Err(format!("negative length {n}")),
            n => Ok(Some(n as usize)),
        }
    }

    fn count(&mut self, min_element: usize) -> Walk<usize> {
        let n = self.length(true)?.unwrap_or(0);
        // Every element takes at least `min_element` bytes on the wire.
        if n.saturating_mul(min_element) > self.buf.len() {
            return Err(format!("array count {n} cannot fit in the {} bytes left", self.buf.len()));
        }
        Ok(n)
    }

    fn walk(&mut self, s: &Struct) -> Walk {
        self.depth += 1;
        if self.depth > 16 {
            return Err("nesting too deep".into());
        }
        for &Field(ty, min, max) in s.fields {
            if self.version >= min && self.version <= max {
                self.field(ty)?;
            }
        }
        if self.flexible {
            let tags = self.uvarint()? as usize;
            if tags.saturating_mul(2) > self.buf.len() {
                return Err(format!("{tags} tagged fields cannot fit in the {} bytes left", self.buf.len()));
            }
            for _ in 0..tags {
                let tag = self.uvarint()?;
                let size = self.uvarint()? as usize;
                match s.tagged.iter().find(|(t, _, _)| *t == tag) {
                    Some(&(_, min, ty)) if self.version >= min => self.field(ty)?,
                    // The decoder rejects a known tag at a version that lacks it.
                    Some(_) => return Err(format!("tag {tag} is not valid at this version")),
                    None => self.take(size)?,
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    fn field(&mut self, ty: Ty) -> Walk {
        match ty {
            Ty::I8 => self.take(1),
            Ty::I16 => self.take(2),
            Ty::I32 => self.take(4),
            Ty::I64 => self.take(8),
            Ty::Uuid => self.take(16),
            Ty::Str => {
                let n = self.length(false)?.unwrap_or(0);
                self.take(n)
            }
            Ty::Bytes => {
                let n = self.length(true)?.unwrap_or(0);
                self.take(n)
            }
            Ty::ArrI32 => {
                let n = self.count(4)?;
                self.take(n * 4)
            }
            Ty::Arr(inner) => {
                for _ in 0..self.count(1)? {
                    self.walk(inner)?;
                }
                Ok(())
            }
            Ty::ArrOf(inner) => {
                for _ in 0..self.count(1)? {
                    self.walk_plain(inner)?;
                }
                Ok(())
            }
            Ty::Struct(inner) => self.walk(inner),
        }
    }

    /// The fields of `s` with no tag section (elements of a plain array such as `[string]`).
    fn walk_plain(&mut self, s: &Struct) -> Walk {
        for &Field(ty, _, _) in s.fields {
            match ty {
                Ty::Str => {
                    let n = self.length(false)?.unwrap_or(0);
                    self.take(n)?
                }
                _ => return Err("unsupported plain array element".into()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::metadata_response::{MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic};
    use kafka_protocol::messages::{FetchResponse, MetadataResponse, TopicName};
    use kafka_protocol::protocol::{Encodable, StrBytes};

    fn enc<T: Encodable>(m: &T, v: i16) -> Vec<u8> {
        let mut b = BytesMut::new();
        m.encode(&mut b, v).unwrap();
        b.to_vec()
    }

    /// A valid body at `v` passes (versions the message type no longer has are skipped).
    fn pass<T: Encodable>(api: ApiKey, v: i16, m: &T) {
        let mut b = BytesMut::new();
        if m.encode(&mut b, v).is_ok() {
            check(api, v, &b).unwrap_or_else(|e| panic!("{api:?} v{v}: {e}"));
        }
    }

    fn metadata() -> MetadataResponse {
        MetadataResponse::default()
            .with_brokers(vec![MetadataResponseBroker::default().with_node_id(kafka_protocol::messages::BrokerId(1)).with_host(StrBytes::from_static_str("h")).with_port(9092)])
            .with_topics(vec![MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("t"))))
                .with_partitions(vec![MetadataResponsePartition::default().with_replica_nodes(vec![kafka_protocol::messages::BrokerId(1)])])])
    }

    fn fetch() -> FetchResponse {
        FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
            .with_topic(TopicName(StrBytes::from_static_str("t")))
            .with_partitions(vec![PartitionData::default().with_records(Some(bytes::Bytes::from_static(b"abcdef")))])])
    }

    #[test]
    fn valid_bodies_pass_at_every_version() {
        for v in 0..=12 {
            check(ApiKey::Metadata, v, &enc(&metadata(), v)).unwrap_or_else(|e| panic!("metadata v{v}: {e}"));
        }
        for v in 4..=17 {
            let mut f = fetch();
            if v >= 13 {
                f.responses[0].topic = Default::default();
                f.responses[0].topic_id = uuid::Uuid::from_u128(7);
            }
            pass(ApiKey::Fetch, v, &f);
        }
        for v in 0..=4 {
            check(ApiKey::ApiVersions, v, &enc(&ApiVersionsResponse::default(), v)).unwrap();
        }
        for v in 0..=6 {
            check(ApiKey::FindCoordinator, v, &enc(&FindCoordinatorResponse::default(), v)).unwrap();
        }
        use kafka_protocol::messages::*;
        let s = StrBytes::from_static_str;
        let join = JoinGroupResponse::default().with_members(vec![join_group_response::JoinGroupResponseMember::default()
            .with_member_id(s("m"))
            .with_metadata(bytes::Bytes::from_static(b"meta"))]);
        for v in 0..=9 {
            pass(ApiKey::JoinGroup, v, &join);
        }
        let sync = SyncGroupResponse::default().with_assignment(bytes::Bytes::from_static(b"a"));
        for v in 0..=5 {
            pass(ApiKey::SyncGroup, v, &sync);
        }
        for v in 0..=4 {
            check(ApiKey::Heartbeat, v, &enc(&HeartbeatResponse::default(), v)).unwrap();
        }
        let leave = LeaveGroupResponse::default();
        for v in 0..=5 {
            let mut l = leave.clone();
            if v >= 3 {
                l.members = vec![leave_group_response::MemberResponse::default().with_member_id(s("m"))];
            }
            pass(ApiKey::LeaveGroup, v, &l);
        }
        for v in 0..=9 {
            let mut r = OffsetFetchResponse::default();
            if v <= 7 {
                r.topics = vec![offset_fetch_response::OffsetFetchResponseTopic::default()
                    .with_name(TopicName(s("t")))
                    .with_partitions(vec![offset_fetch_response::OffsetFetchResponsePartition::default()])];
            } else {
                r.groups = vec![offset_fetch_response::OffsetFetchResponseGroup::default().with_group_id(GroupId(s("g"))).with_topics(vec![
                    offset_fetch_response::OffsetFetchResponseTopics::default()
                        .with_name(TopicName(s("t")))
                        .with_partitions(vec![offset_fetch_response::OffsetFetchResponsePartitions::default()]),
                ])];
            }
            pass(ApiKey::OffsetFetch, v, &r);
        }
        let commit = OffsetCommitResponse::default().with_topics(vec![offset_commit_response::OffsetCommitResponseTopic::default()
            .with_name(TopicName(s("t")))
            .with_partitions(vec![offset_commit_response::OffsetCommitResponsePartition::default()])]);
        for v in 0..=9 {
            pass(ApiKey::OffsetCommit, v, &commit);
        }
        let lo = ListOffsetsResponse::default().with_topics(vec![list_offsets_response::ListOffsetsTopicResponse::default()
            .with_name(TopicName(s("t")))
            .with_partitions(vec![list_offsets_response::ListOffsetsPartitionResponse::default()])]);
        for v in 1..=9 {
            pass(ApiKey::ListOffsets, v, &lo);
        }
        let hs = SaslHandshakeResponse::default().with_mechanisms(vec![s("PLAIN"), s("SCRAM-SHA-512")]);
        for v in 0..=1 {
            check(ApiKey::SaslHandshake, v, &enc(&hs, v)).unwrap();
        }
        let auth = SaslAuthenticateResponse::default().with_auth_bytes(bytes::Bytes::from_static(b"r=abc"));
        for v in 0..=2 {
            check(ApiKey::SaslAuthenticate, v, &enc(&auth, v)).unwrap();
        }
    }

    #[test]
    fn huge_array_count_in_a_small_body_is_rejected() {
        // Metadata v12: throttle, then the brokers compact array with count 0xFFFF_FFFE.
        let body = [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0];
        let e = check(ApiKey::Metadata, 12, &body).unwrap_err();
        assert!(e.to_string().contains("cannot fit"), "{e}");
        // Metadata v1 (non-flexible): brokers array count i32::MAX.
        let body = [0x7f, 0xff, 0xff, 0xff, 0];
        assert!(check(ApiKey::Metadata, 1, &body).is_err());
        // Every truncation of a valid body is rejected or at least never over-allocates.
        let full = enc(&metadata(), 12);
        for cut in 0..full.len() {
            assert!(check(ApiKey::Metadata, 12, &full[..cut]).is_err(), "cut at {cut}");
        }
    }
}
