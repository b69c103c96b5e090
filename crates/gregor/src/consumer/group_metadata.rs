//! [`ConsumerGroupMetadata`]: what a transactional producer needs to commit a consumer's
//! offsets in its transaction (KIP-447).

/// A consumer's group membership as the group coordinator knows it (Java
/// `ConsumerGroupMetadata`), for
/// [`Producer::send_offsets_to_transaction`](crate::Producer::send_offsets_to_transaction).
///
/// With the generation and member id, the coordinator refuses the transactional offset commit
/// of a consumer that has lost its partitions in a rebalance (KIP-447): a zombie instance
/// cannot commit offsets for records another member now processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    /// `group.id`.
    pub group_id: String,
    /// The generation (classic protocol) or member epoch (KIP-848); -1 when not in the group.
    pub generation_id: i32,
    /// The member id the coordinator assigned; empty when not in the group.
    pub member_id: String,
    /// `group.instance.id` (static membership), if set.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// Metadata with only the group id (generation -1, no member id): the coordinator then
    /// checks nothing beyond the group (Java's `new ConsumerGroupMetadata(groupId)`).
    pub fn new(group_id: impl Into<String>) -> Self {
        ConsumerGroupMetadata { group_id: group_id.into(), generation_id: -1, member_id: String::new(), group_instance_id: None }
    }
}
