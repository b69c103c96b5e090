//! Client-side partition assignment for the classic consumer group protocol.
//!
//! In the classic protocol (JoinGroup/SyncGroup, protocol type [`CONSUMER_PROTOCOL_TYPE`]) the
//! broker does not assign partitions: every member sends, for each assignor it is willing to use,
//! a [`Subscription`] encoded with the embedded "consumer protocol" ([`protocol`]); the
//! coordinator picks one assignor name that every member listed (the JoinGroup response's
//! `protocol_name`), and the elected leader runs *that* assignor over all members' subscriptions
//! and sends each member its [`Assignment`] in SyncGroup. Every member in the group may be a Java
//! or librdkafka consumer, so the encodings and the assignors' semantics follow Java's
//! `ConsumerProtocol`, `RangeAssignor`, `RoundRobinAssignor`, `StickyAssignor` and
//! `CooperativeStickyAssignor`.
//!
//! # How the consumer uses this module
//! 1. Configure an ordered list of assignors (e.g. `[CooperativeSticky]` or `[Range]`). The
//!    member's rebalance protocol is [`select_rebalance_protocol`] of that list: the highest
//!    protocol that *every* configured assignor supports (Java `ConsumerCoordinator`), so a
//!    consumer only runs COOPERATIVE if all its assignors support it.
//! 2. JoinGroup: for each assignor, in preference order, send
//!    `(assignor.name(), encode_subscription(&Subscription { topics, user_data:
//!    assignor.subscription_user_data(&last_assignment, generation), owned_partitions, generation_id,
//!    rack_id, .. }, CONSUMER_PROTOCOL_VERSION))`. Under EAGER, `owned_partitions` is empty (all
//!    partitions were revoked before joining); under COOPERATIVE it is what the member still owns.
//! 3. Leader: look up the assignor by the JoinGroup response's `protocol_name`
//!    ([`BuiltinAssignor::from_name`]), decode every member's metadata with
//!    [`protocol::decode_subscription`], build [`GroupMember`]s and call
//!    [`PartitionAssignor::assign`]. If the member's protocol is COOPERATIVE and the assignor is not
//!    already cooperative-aware, pass the result through [`make_cooperative`] (Java validates
//!    custom assignors instead; [`validate_cooperative_assignment`] is that check). Encode each
//!    member's [`Assignment`] with [`protocol::encode_assignment`].
//! 4. After SyncGroup: the difference between the partitions owned before and the ones just
//!    assigned. Under COOPERATIVE, revoke what went, start fetching what came, and if anything
//!    was revoked rejoin at once so the partitions released this round are
//!    handed out in the follow-up round (KIP-429).

pub mod protocol;
mod range;
mod roundrobin;
mod sticky;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_java;
#[cfg(test)]
mod tests_sticky;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use bytes::Bytes;

pub use self::protocol::{
    decode_assignment, decode_subscription, encode_assignment, encode_subscription,
    CONSUMER_PROTOCOL_VERSION,
};

/// The JoinGroup `protocol_type` of consumer groups (Java `ConsumerProtocol.PROTOCOL_TYPE`).
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// The generation a member reports when it has none (Java `AbstractStickyAssignor.DEFAULT_GENERATION`).
pub const DEFAULT_GENERATION: i32 = -1;

/// A partition of a topic: the consumer's own [`crate::TopicPartition`], so that an assignor's
/// result goes to `assign`, `seek` or a rebalance listener as it is. It orders by topic, then
/// partition (Java's `TopicPartitionComparator`), which the assignors rely on.
pub use crate::consumer::types::TopicPartition;

/// A member's subscription as carried in JoinGroup metadata (`ConsumerProtocolSubscription`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    /// Topics the member wants to consume.
    pub topics: Vec<String>,
    /// Assignor-specific data (e.g. the sticky assignors' previous assignment / generation).
    pub user_data: Option<Bytes>,
    /// Partitions the member currently owns (v1+; empty under EAGER).
    pub owned_partitions: Vec<TopicPartition>,
    /// Generation of the member's last assignment (v2+); `None` when absent or -1 on the wire.
    pub generation_id: Option<i32>,
    /// Rack of the member (`client.rack`, v3+); `None` when absent or empty on the wire.
    pub rack_id: Option<String>,
}

/// A member's assignment as carried in SyncGroup (`ConsumerProtocolAssignment`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// The partitions assigned to the member.
    pub partitions: Vec<TopicPartition>,
    /// Assignor-specific data returned to the member.
    pub user_data: Option<Bytes>,
}

/// One member as the leader sees it after JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupMember {
    /// The coordinator-given member id.
    pub member_id: String,
    /// `group.instance.id` of a static member (KIP-345).
    pub group_instance_id: Option<String>,
    /// The member's decoded subscription for the chosen assignor.
    pub subscription: Subscription,
}

impl GroupMember {
    /// Java `MemberInfo.compareTo`: static members first, ordered by `group.instance.id`, then
    /// dynamic members by member id. The member id breaks remaining ties so the order is total.
    pub(crate) fn sort_key(&self) -> (bool, &str, &str) {
        match &self.group_instance_id {
            Some(instance) => (false, instance.as_str(), self.member_id.as_str()),
            None => (true, "", self.member_id.as_str()),
        }
    }
}

/// What an assignor knows about one topic from metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicInfo {
    /// Number of partitions (partitions are `0..partition_count`).
    pub partition_count: i32,
    /// Racks of each partition's replicas (all replicas, like Java; KIP-881), when known.
    pub replica_racks: BTreeMap<i32, BTreeSet<String>>,
}

impl TopicInfo {
    /// A topic with `partition_count` partitions and no rack information.
    pub fn new(partition_count: i32) -> Self {
        TopicInfo {
            partition_count,
            replica_racks: BTreeMap::new(),
        }
    }

    /// Records the racks hosting replicas of `partition`.
    pub fn with_partition_racks<I, S>(mut self, partition: i32, racks: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.replica_racks
            .insert(partition, racks.into_iter().map(Into::into).collect());
        self
    }
}

/// Topic metadata handed to assignors: topic name → partitions (and racks).
pub type ClusterTopics = BTreeMap<String, TopicInfo>;

/// The result of an assignment: member id → assignment. Every member appears, possibly empty.
pub type GroupAssignment = BTreeMap<String, Assignment>;

/// Java's `ConsumerPartitionAssignor.RebalanceProtocol`; COOPERATIVE ranks above EAGER.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RebalanceProtocol {
    /// Revoke everything before rejoining.
    Eager,
    /// Keep owned partitions across a rebalance; revoke only what moves (KIP-429).
    Cooperative,
}

/// What went wrong in this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignorError {
    kind: AssignorErrorKind,
    message: String,
}

/// The class of an [`AssignorError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssignorErrorKind {
    /// Bytes received from a peer could not be decoded.
    Decode,
    /// A value could not be encoded (e.g. a string too long for the wire).
    Encode,
    /// The input violates a rule (e.g. no common rebalance protocol, an invalid cooperative
    /// assignment).
    InvalidInput,
}

#[allow(dead_code)] // part of the assignor's error API, used by its tests
impl AssignorError {
    pub(crate) fn new(kind: AssignorErrorKind, message: impl Into<String>) -> Self {
        AssignorError {
            kind,
            message: message.into(),
        }
    }

    /// The class of error.
    pub fn kind(&self) -> AssignorErrorKind {
        self.kind
    }

    /// True when peer-supplied bytes were malformed.
    pub fn is_decode(&self) -> bool {
        self.kind == AssignorErrorKind::Decode
    }
}

impl fmt::Display for AssignorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            AssignorErrorKind::Decode => "decode",
            AssignorErrorKind::Encode => "encode",
            AssignorErrorKind::InvalidInput => "invalid input",
        };
        write!(f, "assignor {what} error: {}", self.message)
    }
}

impl std::error::Error for AssignorError {}

/// A client-side partition assignor (Java `ConsumerPartitionAssignor`). Implementations are pure:
/// the same input always gives the same output.
pub trait PartitionAssignor: fmt::Debug + Send + Sync {
    /// The name sent in JoinGroup and chosen by the coordinator ("range", ...). Every member
    /// of a group must use the same name for the same algorithm.
    fn name(&self) -> &str;

    /// The rebalance protocols this assignor supports (Java `supportedProtocols()`).
    fn supported_protocols(&self) -> &[RebalanceProtocol];

    /// The `user_data` to put in this member's subscription, given the member's last assignment
    /// and its generation (Java `subscriptionUserData`, which reads state Java keeps in the
    /// assignor; here the caller passes it in).
    fn subscription_user_data(
        &self,
        _last_assignment: &[TopicPartition],
        _generation: i32,
    ) -> Option<Bytes> {
        None
    }

    /// Assigns the partitions of the subscribed topics among `members`. Topics absent from
    /// `topics` are skipped (Java logs "no metadata available"). Every member is in the result.
    fn assign(&self, members: &[GroupMember], topics: &ClusterTopics) -> GroupAssignment;
}

/// The assignors Java and librdkafka ship, under their wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltinAssignor {
    /// "range": per-topic contiguous ranges (Java `RangeAssignor`), rack-aware per KIP-881.
    Range,
    /// "roundrobin": all partitions dealt round-robin (Java `RoundRobinAssignor`).
    RoundRobin,
    /// "sticky": balanced and sticky, EAGER only (Java `StickyAssignor`).
    Sticky,
    /// "cooperative-sticky": sticky with two-phase hand-over (Java `CooperativeStickyAssignor`).
    CooperativeSticky,
}

const EAGER_ONLY: &[RebalanceProtocol] = &[RebalanceProtocol::Eager];
const BOTH: &[RebalanceProtocol] = &[RebalanceProtocol::Cooperative, RebalanceProtocol::Eager];

impl BuiltinAssignor {
    /// All built-in assignors.
    pub const ALL: [BuiltinAssignor; 4] = [
        BuiltinAssignor::Range,
        BuiltinAssignor::RoundRobin,
        BuiltinAssignor::Sticky,
        BuiltinAssignor::CooperativeSticky,
    ];

    /// Looks an assignor up by its wire name (the JoinGroup response's `protocol_name`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.wire_name() == name)
    }
}

impl BuiltinAssignor {
    /// The wire name ("range", "roundrobin", "sticky", "cooperative-sticky").
    pub fn wire_name(self) -> &'static str {
        match self {
            BuiltinAssignor::Range => "range",
            BuiltinAssignor::RoundRobin => "roundrobin",
            BuiltinAssignor::Sticky => "sticky",
            BuiltinAssignor::CooperativeSticky => "cooperative-sticky",
        }
    }

}

impl PartitionAssignor for BuiltinAssignor {
    fn name(&self) -> &str {
        self.wire_name()
    }

    fn supported_protocols(&self) -> &[RebalanceProtocol] {
        match self {
            BuiltinAssignor::CooperativeSticky => BOTH,
            _ => EAGER_ONLY,
        }
    }

    fn subscription_user_data(
        &self,
        last_assignment: &[TopicPartition],
        generation: i32,
    ) -> Option<Bytes> {
        match self {
            BuiltinAssignor::Range | BuiltinAssignor::RoundRobin => None,
            // Java StickyAssignor: no user data until the member has had an assignment.
            BuiltinAssignor::Sticky
                if generation == DEFAULT_GENERATION && last_assignment.is_empty() =>
            {
                None
            }
            BuiltinAssignor::Sticky => {
                protocol::encode_sticky_user_data(last_assignment, Some(generation)).ok()
            }
            BuiltinAssignor::CooperativeSticky => {
                Some(protocol::encode_cooperative_user_data(generation))
            }
        }
    }

    fn assign(&self, members: &[GroupMember], topics: &ClusterTopics) -> GroupAssignment {
        match self {
            BuiltinAssignor::Range => range::assign(members, topics),
            BuiltinAssignor::RoundRobin => roundrobin::assign(members, topics),
            BuiltinAssignor::Sticky => sticky::assign_eager(members, topics),
            BuiltinAssignor::CooperativeSticky => sticky::assign_cooperative(members, topics),
        }
    }
}

/// The rebalance protocol a member runs with, given its configured assignors: the highest one
/// that all of them support (Java `ConsumerCoordinator` constructor). An empty list or no common
/// protocol is an error, as in Java.
pub fn select_rebalance_protocol(
    assignors: &[&dyn PartitionAssignor],
) -> Result<RebalanceProtocol, AssignorError> {
    let first = assignors.first().ok_or_else(|| {
        AssignorError::new(
            AssignorErrorKind::InvalidInput,
            "no partition assignor configured",
        )
    })?;
    first
        .supported_protocols()
        .iter()
        .copied()
        .filter(|p| {
            assignors
                .iter()
                .all(|a| a.supported_protocols().contains(p))
        })
        .max()
        .ok_or_else(|| {
            let names: Vec<_> = assignors.iter().map(|a| a.name()).collect();
            AssignorError::new(
                AssignorErrorKind::InvalidInput,
                format!("assignors {names:?} have no commonly supported rebalance protocol"),
            )
        })
}

/// Makes any assignment safe for COOPERATIVE rebalancing: a partition given to a member that
/// does not own it, while another member's subscription claims it, is withheld this round (it is
/// only revoked from the owner; KIP-429). Java `CooperativeStickyAssignor.adjustAssignment` over
/// `computePartitionsTransferringOwnership`, which uses the raw `owned_partitions` claims.
pub fn make_cooperative(members: &[GroupMember], assignment: &mut GroupAssignment) {
    let mut claimed: BTreeMap<&TopicPartition, BTreeSet<&str>> = BTreeMap::new();
    for m in members {
        for tp in &m.subscription.owned_partitions {
            claimed.entry(tp).or_default().insert(m.member_id.as_str());
        }
    }
    for (member_id, a) in assignment.iter_mut() {
        a.partitions.retain(|tp| match claimed.get(tp) {
            None => true,
            Some(owners) => owners.contains(member_id.as_str()),
        });
    }
}

/// Java `ConsumerCoordinator.validateCooperativeAssignment`: under COOPERATIVE, no partition
/// may be newly added to one member (it did not claim it) while another member claims it, i.e.
/// is having it revoked in the same round. A member that itself claims a partition may keep it
/// even if others claim it too (conflicting claims). Also rejects a partition assigned to two
/// members.
pub fn validate_cooperative_assignment(
    members: &[GroupMember],
    assignment: &GroupAssignment,
) -> Result<(), AssignorError> {
    let mut holder: BTreeMap<&TopicPartition, &str> = BTreeMap::new();
    for (member_id, a) in assignment {
        for tp in &a.partitions {
            if let Some(other) = holder.insert(tp, member_id.as_str()) {
                return Err(AssignorError::new(
                    AssignorErrorKind::InvalidInput,
                    format!("partition {tp} assigned to both {other} and {member_id}"),
                ));
            }
        }
    }
    let claims: BTreeSet<(&str, &TopicPartition)> = members
        .iter()
        .flat_map(|m| {
            m.subscription
                .owned_partitions
                .iter()
                .map(move |tp| (m.member_id.as_str(), tp))
        })
        .collect();
    for &(owner, tp) in &claims {
        if let Some(&to) = holder.get(tp) {
            if to != owner && !claims.contains(&(to, tp)) {
                return Err(AssignorError::new(
                    AssignorErrorKind::InvalidInput,
                    format!(
                        "partition {tp} owned by {owner} is assigned to {to} in the same rebalance"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// What changed for one member after SyncGroup: KIP-429's rule stated on the assignor's types
/// and tested here; the classic member (`membership/classic.rs`) applies it to its own.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AssignmentDiff {
    /// Owned before, not assigned now: stop fetching, commit, call the revoke callback.
    pub revoked: Vec<TopicPartition>,
    /// Assigned now, not owned before: fetch from the committed offsets.
    pub added: Vec<TopicPartition>,
    /// Owned before and still assigned: keep fetching untouched.
    pub retained: Vec<TopicPartition>,
}

#[cfg(test)]
impl AssignmentDiff {
    /// Under COOPERATIVE, a member that had anything revoked must rejoin at once so the revoked
    /// partitions can be assigned to their new owners (Java `ConsumerCoordinator.onJoinComplete`:
    /// "need to revoke partitions and re-join"). Under EAGER everything was revoked before the
    /// join, so nothing here calls for a rejoin.
    pub fn needs_rejoin(&self, protocol: RebalanceProtocol) -> bool {
        protocol == RebalanceProtocol::Cooperative && !self.revoked.is_empty()
    }
}

/// Compares the partitions owned before a rebalance with the newly assigned ones. Output lists are
/// sorted and free of duplicates.
#[cfg(test)]
pub fn diff_assignment(
    owned_before: &[TopicPartition],
    assigned: &[TopicPartition],
) -> AssignmentDiff {
    let before: BTreeSet<&TopicPartition> = owned_before.iter().collect();
    let now: BTreeSet<&TopicPartition> = assigned.iter().collect();
    AssignmentDiff {
        revoked: before.difference(&now).map(|tp| (*tp).clone()).collect(),
        added: now.difference(&before).map(|tp| (*tp).clone()).collect(),
        retained: before.intersection(&now).map(|tp| (*tp).clone()).collect(),
    }
}

/// Members sorted the way Java sorts `MemberInfo`.
pub(crate) fn sorted_members(members: &[GroupMember]) -> Vec<&GroupMember> {
    let mut sorted: Vec<&GroupMember> = members.iter().collect();
    sorted.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    sorted
}

/// An empty assignment for every member (Java puts every member in the result map).
pub(crate) fn empty_assignment(members: &[GroupMember]) -> GroupAssignment {
    members
        .iter()
        .map(|m| (m.member_id.clone(), Assignment::default()))
        .collect()
}
