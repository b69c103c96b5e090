//! `ConsumerConfig`: every consumer key, Java's defaults, Java's validation rules.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::error::ConfigError;
use super::keys;
use super::net::{Explicit, NetConfig};
use super::parse::{
    ms, parse_bool, parse_list, parse_ms, parse_ms_min, parse_opt_string, parse_properties,
    parse_range, parse_u32,
};
use super::security::SecurityProtocol;
use crate::consumer::assignor::PartitionAssignor;

/// `group.protocol` (KIP-848).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupProtocol {
    /// JoinGroup / SyncGroup / Heartbeat with client-side assignment (the default in Kafka 4.x).
    #[default]
    Classic,
    /// ConsumerGroupHeartbeat with server-side assignment.
    Consumer,
}

impl GroupProtocol {
    /// The config value.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupProtocol::Classic => "classic",
            GroupProtocol::Consumer => "consumer",
        }
    }
}

/// `coordinator.connection` (gregor): which socket carries group-coordinator traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CoordinatorConnection {
    /// A socket of its own, like Java (node id `Integer.MAX_VALUE - N`): a broker serves one
    /// request per connection at a time, so a long-poll Fetch or a parked JoinGroup on the same
    /// socket would hold heartbeats and commits back.
    Dedicated,
    /// Reuse the coordinator broker's ordinary connection: one socket fewer.
    Shared,
    /// Dedicated for the classic protocol, where a JoinGroup can be parked for up to
    /// `max.poll.interval.ms`; shared for the consumer protocol, whose heartbeats are never
    /// parked and tolerate waiting behind one `fetch.max.wait.ms` Fetch.
    #[default]
    Auto,
}

impl CoordinatorConnection {
    /// The config value.
    pub fn as_str(self) -> &'static str {
        match self {
            CoordinatorConnection::Dedicated => "dedicated",
            CoordinatorConnection::Shared => "shared",
            CoordinatorConnection::Auto => "auto",
        }
    }
}

/// One entry of `partition.assignment.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Assignor {
    /// Java `RangeAssignor` (eager).
    Range,
    /// Java `RoundRobinAssignor` (eager).
    RoundRobin,
    /// Java `CooperativeStickyAssignor` (incremental, KIP-429).
    CooperativeSticky,
}

impl Assignor {
    /// The protocol name sent in JoinGroup, e.g. `cooperative-sticky`.
    pub fn protocol_name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// Whether the assignor uses the cooperative (incremental) rebalance protocol.
    pub fn is_cooperative(self) -> bool {
        matches!(self, Assignor::CooperativeSticky)
    }

    fn parse(key: &str, entry: &str) -> Result<Self, ConfigError> {
        // Accept the protocol name, the Java simple class name, or the full class name.
        let simple = entry.rsplit('.').next().unwrap_or(entry);
        match simple.to_ascii_lowercase().as_str() {
            "range" | "rangeassignor" => Ok(Assignor::Range),
            "roundrobin" | "round-robin" | "roundrobinassignor" => Ok(Assignor::RoundRobin),
            "cooperative-sticky" | "cooperativestickyassignor" => Ok(Assignor::CooperativeSticky),
            _ => Err(ConfigError::invalid(
                key,
                entry,
                "a list of range, roundrobin, cooperative-sticky (or the Java class names \
                 org.apache.kafka.clients.consumer.RangeAssignor, RoundRobinAssignor, \
                 CooperativeStickyAssignor); StickyAssignor and custom assignors are not supported",
            )),
        }
    }
}

/// Partition assignors given as objects ([`ConsumerConfigBuilder::partition_assignors`]): your
/// own [`PartitionAssignor`] implementations and the built-in ones
/// ([`BuiltinAssignor`](crate::assignor::BuiltinAssignor)), in preference order. Compared and
/// printed by name.
#[derive(Clone, Default)]
pub struct AssignorList(pub(crate) Vec<Arc<dyn PartitionAssignor>>);

impl AssignorList {
    /// The assignors, in preference order.
    pub fn assignors(&self) -> &[Arc<dyn PartitionAssignor>] {
        &self.0
    }

    /// Whether no assignor object was given (`partition.assignment.strategy` decides).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn names(&self) -> Vec<&str> {
        self.0.iter().map(|a| a.name()).collect()
    }
}

impl fmt::Debug for AssignorList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl PartialEq for AssignorList {
    fn eq(&self, other: &Self) -> bool {
        self.names() == other.names()
    }
}

impl Eq for AssignorList {}

/// `auto.offset.reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoOffsetReset {
    /// Start at the log start.
    Earliest,
    /// Start at the log end (the default).
    #[default]
    Latest,
    /// Fail with an error.
    None,
    /// Start at the first offset whose timestamp is at most this long ago (KIP-1106,
    /// `by_duration:PT1H`).
    ByDuration(Duration),
}

/// `isolation.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    /// See every record, including those of open or aborted transactions (the default).
    #[default]
    ReadUncommitted,
    /// See only committed transactional records, up to the last stable offset.
    ReadCommitted,
}

impl IsolationLevel {
    /// The wire value of Fetch/ListOffsets `isolation_level`.
    pub fn wire_value(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

/// Everything a gregor consumer can be configured with.
///
/// `Default` holds Java's defaults with an empty `bootstrap.servers`, which [`validate`]
/// rejects; build through [`from_map`], [`from_properties_str`], [`builder`] or `set` +
/// `validate`.
///
/// [`validate`]: ConsumerConfig::validate
/// [`from_map`]: ConsumerConfig::from_map
/// [`from_properties_str`]: ConsumerConfig::from_properties_str
/// [`builder`]: ConsumerConfig::builder
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// Connection and security settings.
    pub net: NetConfig,
    /// `group.id`; `None`: no group (manual assignment, no commits).
    pub group_id: Option<String>,
    /// `group.instance.id` (static membership).
    pub group_instance_id: Option<String>,
    /// `client.rack`.
    pub client_rack: Option<String>,
    /// `group.protocol`.
    pub group_protocol: GroupProtocol,
    /// `group.remote.assignor` (consumer protocol only); `None`: the broker's default.
    pub group_remote_assignor: Option<String>,
    /// `coordinator.connection` (gregor).
    pub coordinator_connection: CoordinatorConnection,
    /// `partition.assignment.strategy`, in preference order (Java 4.x default: range, then
    /// cooperative-sticky, which lets a group migrate from eager to cooperative).
    pub partition_assignment_strategy: Vec<Assignor>,
    /// Assignor objects, custom ones included; when not empty they replace
    /// `partition_assignment_strategy` (Java: class names in `partition.assignment.strategy`).
    pub partition_assignors: AssignorList,
    /// `session.timeout.ms` (45 s).
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (3 s).
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms` (5 min).
    pub max_poll_interval: Duration,
    /// `max.poll.records` (500).
    pub max_poll_records: u32,
    /// `enable.auto.commit` (true; false when there is no `group.id`, as in Java).
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms` (5 s).
    pub auto_commit_interval: Duration,
    /// `enable.auto.offset.store` (true; librdkafka's key, Java has none). When false, what
    /// the consumer commits on its own (auto-commit, `commit_sync()`, `commit_async()`, a
    /// rebalance, `close`) is the offsets the application stored with
    /// [`Consumer::store_offsets`](crate::Consumer::store_offsets), not the positions `poll`
    /// reached: the at-least-once pattern of storing an offset once its record is processed.
    pub enable_auto_offset_store: bool,
    /// `auto.offset.reset` (latest).
    pub auto_offset_reset: AutoOffsetReset,
    /// `fetch.min.bytes` (1).
    pub fetch_min_bytes: u32,
    /// `fetch.max.bytes` (50 MiB).
    pub fetch_max_bytes: u32,
    /// `fetch.max.wait.ms` (500 ms).
    pub fetch_max_wait: Duration,
    /// `max.partition.fetch.bytes` (1 MiB).
    pub max_partition_fetch_bytes: u32,
    /// `queued.max.messages.kbytes` (32768 = 32 MiB; librdkafka's name, whose default is
    /// 64 MiB): the client-wide prefetch budget. Every byte fetched and not yet handed out by
    /// `poll` (Fetch responses, decompressed batches) plus the room reserved for the Fetches in
    /// flight stays under it, whatever the number of partitions, topics or brokers.
    pub queued_max_messages_kbytes: u32,
    /// `check.crcs` (true).
    pub check_crcs: bool,
    /// `isolation.level` (read_uncommitted).
    pub isolation_level: IsolationLevel,
    /// `exclude.internal.topics` (true).
    pub exclude_internal_topics: bool,
    /// `allow.auto.create.topics`: **false** in gregor (Java: true). A consumer that creates a
    /// topic because its name was misspelt is a surprise; opt in explicitly if wanted.
    pub allow_auto_create_topics: bool,
    /// `default.api.timeout.ms` (60 s).
    pub default_api_timeout: Duration,
    explicit: Explicit,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            net: NetConfig::consumer_defaults(),
            group_id: None,
            group_instance_id: None,
            client_rack: None,
            group_protocol: GroupProtocol::Classic,
            group_remote_assignor: None,
            coordinator_connection: CoordinatorConnection::Auto,
            partition_assignment_strategy: vec![Assignor::Range, Assignor::CooperativeSticky],
            partition_assignors: AssignorList::default(),
            session_timeout: Duration::from_millis(45_000),
            heartbeat_interval: Duration::from_millis(3_000),
            max_poll_interval: Duration::from_millis(300_000),
            max_poll_records: 500,
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_millis(5_000),
            enable_auto_offset_store: true,
            auto_offset_reset: AutoOffsetReset::Latest,
            fetch_min_bytes: 1,
            fetch_max_bytes: 52_428_800,
            fetch_max_wait: Duration::from_millis(500),
            max_partition_fetch_bytes: 1_048_576,
            queued_max_messages_kbytes: 32_768,
            check_crcs: true,
            isolation_level: IsolationLevel::ReadUncommitted,
            exclude_internal_topics: true,
            allow_auto_create_topics: false,
            default_api_timeout: Duration::from_millis(60_000),
            explicit: Explicit::default(),
        }
    }
}

impl ConsumerConfig {
    /// A typed builder.
    pub fn builder() -> ConsumerConfigBuilder {
        ConsumerConfigBuilder {
            config: ConsumerConfig::default(),
            error: None,
        }
    }

    /// Builds from `(key, value)` pairs (applied in order) and validates.
    pub fn from_map<K, V>(entries: impl IntoIterator<Item = (K, V)>) -> Result<Self, ConfigError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut c = ConsumerConfig::default();
        for (k, v) in entries {
            c.set(k.as_ref(), v.as_ref())?;
        }
        c.validate()?;
        Ok(c)
    }

    /// Builds from Java `.properties` text and validates.
    pub fn from_properties_str(text: &str) -> Result<Self, ConfigError> {
        Self::from_map(parse_properties(text)?)
    }

    /// Reads a Java `.properties` file (UTF-8) and validates.
    pub fn from_properties_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        Self::from_properties_str(&super::parse::read_properties_file(path.as_ref())?)
    }

    /// Whether `key` was set explicitly.
    pub fn is_explicit(&self, key: &str) -> bool {
        self.explicit.0.contains(key) || self.net.is_explicit(key)
    }

    /// Whether group-coordinator traffic gets its own socket (resolves `auto`).
    pub fn coordinator_dedicated(&self) -> bool {
        match self.coordinator_connection {
            CoordinatorConnection::Dedicated => true,
            CoordinatorConnection::Shared => false,
            CoordinatorConnection::Auto => self.group_protocol == GroupProtocol::Classic,
        }
    }

    /// The JoinGroup request timeout: Java `ConsumerCoordinator` waits
    /// `max(request.timeout.ms, max.poll.interval.ms + 5 s)`, because the broker may park a
    /// JoinGroup for the whole rebalance timeout.
    pub fn join_group_timeout(&self) -> Duration {
        self.net
            .request_timeout
            .max(self.max_poll_interval + Duration::from_secs(5))
    }

    /// Sets one key. The key must be a consumer key, or a Java key with a JVM-only meaning
    /// given a value that matches what gregor does ([`keys::JAVA_ONLY_KEYS`]); the value is
    /// checked at once. Cross-key rules are checked by
    /// [`validate`](Self::validate).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let key = key.trim();
        let canonical: &'static str = match key {
            "group.id" => {
                self.group_id = parse_opt_string(value);
                "group.id"
            }
            "group.instance.id" => {
                self.group_instance_id = parse_opt_string(value);
                if let Some(id) = &self.group_instance_id {
                    validate_instance_id(key, id)?;
                }
                "group.instance.id"
            }
            "client.rack" => {
                self.client_rack = parse_opt_string(value);
                "client.rack"
            }
            "group.protocol" => {
                self.group_protocol = match value.trim().to_ascii_lowercase().as_str() {
                    "classic" => GroupProtocol::Classic,
                    "consumer" => GroupProtocol::Consumer,
                    _ => return Err(ConfigError::invalid(key, value, "classic or consumer")),
                };
                "group.protocol"
            }
            "group.remote.assignor" => {
                self.group_remote_assignor = parse_opt_string(value);
                "group.remote.assignor"
            }
            "coordinator.connection" => {
                self.coordinator_connection = match value.trim().to_ascii_lowercase().as_str() {
                    "dedicated" => CoordinatorConnection::Dedicated,
                    "shared" => CoordinatorConnection::Shared,
                    "auto" => CoordinatorConnection::Auto,
                    _ => return Err(ConfigError::invalid(key, value, "dedicated, shared or auto")),
                };
                "coordinator.connection"
            }
            "partition.assignment.strategy" => {
                let mut list = Vec::new();
                for entry in parse_list(value) {
                    let a = Assignor::parse(key, &entry)?;
                    if !list.contains(&a) {
                        list.push(a);
                    }
                }
                if list.is_empty() {
                    return Err(ConfigError::invalid(
                        key,
                        value,
                        "at least one of range, roundrobin, cooperative-sticky",
                    ));
                }
                self.partition_assignment_strategy = list;
                "partition.assignment.strategy"
            }
            "session.timeout.ms" => {
                self.session_timeout = parse_ms_min(key, value, 1)?;
                "session.timeout.ms"
            }
            "heartbeat.interval.ms" => {
                self.heartbeat_interval = parse_ms_min(key, value, 1)?;
                "heartbeat.interval.ms"
            }
            "max.poll.interval.ms" => {
                self.max_poll_interval = parse_ms_min(key, value, 1)?;
                "max.poll.interval.ms"
            }
            "max.poll.records" => {
                self.max_poll_records = parse_u32(key, value, 1)?;
                "max.poll.records"
            }
            "enable.auto.commit" => {
                self.enable_auto_commit = parse_bool(key, value)?;
                "enable.auto.commit"
            }
            "enable.auto.offset.store" => {
                self.enable_auto_offset_store = parse_bool(key, value)?;
                "enable.auto.offset.store"
            }
            "auto.commit.interval.ms" => {
                self.auto_commit_interval = parse_ms(key, value)?;
                "auto.commit.interval.ms"
            }
            "auto.offset.reset" => {
                self.auto_offset_reset = parse_offset_reset(key, value)?;
                "auto.offset.reset"
            }
            "fetch.min.bytes" => {
                self.fetch_min_bytes = parse_u32(key, value, 0)?;
                "fetch.min.bytes"
            }
            "fetch.max.bytes" => {
                self.fetch_max_bytes = parse_u32(key, value, 0)?;
                "fetch.max.bytes"
            }
            "fetch.max.wait.ms" => {
                self.fetch_max_wait = parse_ms(key, value)?;
                "fetch.max.wait.ms"
            }
            "max.partition.fetch.bytes" => {
                self.max_partition_fetch_bytes = parse_u32(key, value, 0)?;
                "max.partition.fetch.bytes"
            }
            "queued.max.messages.kbytes" => {
                // librdkafka's range: 1 KiB .. 2 GiB.
                self.queued_max_messages_kbytes = parse_range(key, value, 1, 2_097_151)? as u32;
                "queued.max.messages.kbytes"
            }
            "check.crcs" => {
                self.check_crcs = parse_bool(key, value)?;
                "check.crcs"
            }
            "isolation.level" => {
                self.isolation_level = match value.trim().to_ascii_lowercase().as_str() {
                    "read_uncommitted" => IsolationLevel::ReadUncommitted,
                    "read_committed" => IsolationLevel::ReadCommitted,
                    _ => {
                        return Err(ConfigError::invalid(
                            key,
                            value,
                            "read_uncommitted or read_committed",
                        ))
                    }
                };
                "isolation.level"
            }
            "exclude.internal.topics" => {
                self.exclude_internal_topics = parse_bool(key, value)?;
                "exclude.internal.topics"
            }
            "allow.auto.create.topics" => {
                self.allow_auto_create_topics = parse_bool(key, value)?;
                "allow.auto.create.topics"
            }
            "default.api.timeout.ms" => {
                self.default_api_timeout = parse_ms(key, value)?;
                "default.api.timeout.ms"
            }
            _ => {
                if self.net.set(key, value)? {
                    return Ok(());
                }
                if let Some(checked) = keys::check_java_only(key, value, false) {
                    return checked;
                }
                return Err(keys::unknown_key(key, false));
            }
        };
        self.explicit.0.insert(canonical);
        Ok(())
    }

    /// Checks the rules that involve several keys (Java's `ConsumerConfig` post-processing and
    /// coordinator checks) and applies Java's derived defaults.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        self.net.validate()?;
        // Java `ConsumerConfig.maybeOverrideEnableAutoCommit`: without a group there is nowhere
        // to commit, so auto-commit defaults to off and may not be forced on.
        if self.group_id.is_none() {
            if self.explicit.0.contains("enable.auto.commit") && self.enable_auto_commit {
                return Err(ConfigError::conflict(
                    &["enable.auto.commit", "group.id"],
                    "enable.auto.commit cannot be true without a group.id",
                ));
            }
            self.enable_auto_commit = false;
        }
        match self.group_protocol {
            GroupProtocol::Classic => {
                // Java `Heartbeat`/`GroupRebalanceConfig`: the heartbeat must fire (several
                // times) within the session timeout.
                if self.heartbeat_interval >= self.session_timeout {
                    return Err(ConfigError::conflict(
                        &["heartbeat.interval.ms", "session.timeout.ms"],
                        format!(
                            "heartbeat.interval.ms ({}) must be lower than session.timeout.ms ({})",
                            ms(self.heartbeat_interval),
                            ms(self.session_timeout)
                        ),
                    ));
                }
                // Java `ConsumerConfig.checkGroupRemoteAssignor`.
                if self.group_remote_assignor.is_some() {
                    return Err(ConfigError::conflict(
                        &["group.remote.assignor", "group.protocol"],
                        "group.remote.assignor cannot be set when group.protocol=classic",
                    ));
                }
            }
            GroupProtocol::Consumer => {
                // Kafka 4.x rejects these with group.protocol=consumer: the broker owns the
                // session, heartbeat interval and assignment (KIP-848).
                for k in ["session.timeout.ms", "heartbeat.interval.ms", "partition.assignment.strategy"] {
                    if self.explicit.0.contains(k) {
                        return Err(ConfigError::conflict(
                            &[k, "group.protocol"],
                            format!("{k} is not supported when group.protocol=consumer (the broker controls it)"),
                        ));
                    }
                }
            }
        }
        // A Fetch parked for fetch.max.wait.ms must come back before the request times out,
        // or every idle long-poll would close its connection. Strictly lower, because the
        // response also needs time to travel.
        if self.fetch_max_wait >= self.net.request_timeout {
            return Err(ConfigError::conflict(
                &["fetch.max.wait.ms", "request.timeout.ms"],
                format!(
                    "fetch.max.wait.ms ({}) must be lower than request.timeout.ms ({})",
                    ms(self.fetch_max_wait),
                    ms(self.net.request_timeout)
                ),
            ));
        }
        let largest_fetch = self.fetch_max_bytes.max(self.max_partition_fetch_bytes);
        if self.net.response_max_bytes <= largest_fetch {
            return Err(ConfigError::conflict(
                &["response.max.bytes", "fetch.max.bytes"],
                format!(
                    "response.max.bytes ({}) must exceed fetch.max.bytes and max.partition.fetch.bytes ({largest_fetch}), \
                     or legitimate Fetch responses would be refused",
                    self.net.response_max_bytes
                ),
            ));
        }
        Ok(())
    }
}

/// Java `JoinGroupRequest.validateGroupInstanceId`: 1..=249 chars of `[a-zA-Z0-9._-]`.
fn validate_instance_id(key: &str, id: &str) -> Result<(), ConfigError> {
    let ok = id.len() <= 249
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            id,
            "at most 249 characters of ASCII letters, digits, '.', '_' and '-'",
        ))
    }
}

fn parse_offset_reset(key: &str, value: &str) -> Result<AutoOffsetReset, ConfigError> {
    let v = value.trim().to_ascii_lowercase();
    match v.as_str() {
        "earliest" => return Ok(AutoOffsetReset::Earliest),
        "latest" => return Ok(AutoOffsetReset::Latest),
        "none" => return Ok(AutoOffsetReset::None),
        _ => {}
    }
    if let Some(iso) = v.strip_prefix("by_duration:") {
        if let Some(d) = parse_iso_duration(iso.trim()) {
            return Ok(AutoOffsetReset::ByDuration(d));
        }
    }
    Err(ConfigError::invalid(
        key,
        value,
        "earliest, latest, none, or by_duration:<ISO-8601 duration such as P1DT2H or PT30M>",
    ))
}

/// The subset of ISO-8601 that Java's `Duration.parse` accepts: `PnDTnHnMn.nS`, non-negative
/// (KIP-1106 rejects negative durations).
fn parse_iso_duration(s: &str) -> Option<Duration> {
    let rest = s.strip_prefix('p')?;
    let (date, time) = match rest.split_once('t') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total = Duration::ZERO;
    let mut any = false;
    if !date.is_empty() {
        let days = date.strip_suffix('d')?.parse::<u64>().ok()?;
        total = total.checked_add(Duration::from_secs(days.checked_mul(86_400)?))?;
        any = true;
    }
    if let Some(mut t) = time {
        if t.is_empty() {
            return None;
        }
        for (unit, secs) in [('h', 3_600u64), ('m', 60)] {
            if let Some(pos) = t.find(unit) {
                let n = t[..pos].parse::<u64>().ok()?;
                total = total.checked_add(Duration::from_secs(n.checked_mul(secs)?))?;
                t = &t[pos + 1..];
                any = true;
            }
        }
        if !t.is_empty() {
            let n = t.strip_suffix('s')?;
            // Parse seconds and fraction as integers: exact to the nanosecond, unlike f64.
            let (whole, frac) = n.split_once('.').unwrap_or((n, ""));
            if whole.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let secs = whole.parse::<u64>().ok()?;
            let nanos = if frac.is_empty() {
                0
            } else {
                frac.parse::<u32>().ok()? * 10u32.pow(9 - frac.len() as u32)
            };
            total = total.checked_add(Duration::new(secs, nanos))?;
            any = true;
        }
    }
    any.then_some(total)
}

/// Typed builder for [`ConsumerConfig`]. Each setter goes through [`ConsumerConfig::set`], so a
/// typed value and the same value in a properties file are validated identically. The first
/// error is reported by [`build`](Self::build).
#[derive(Debug)]
pub struct ConsumerConfigBuilder {
    config: ConsumerConfig,
    error: Option<ConfigError>,
}

macro_rules! builder_ms {
    ($($(#[$doc:meta])* $name:ident => $key:literal;)*) => {$(
        $(#[$doc])*
        pub fn $name(self, value: Duration) -> Self {
            self.set($key, value.as_millis().to_string())
        }
    )*};
}

impl ConsumerConfigBuilder {
    /// Sets any key by name.
    pub fn set(mut self, key: &str, value: impl AsRef<str>) -> Self {
        if self.error.is_none() {
            if let Err(e) = self.config.set(key, value.as_ref()) {
                self.error = Some(e);
            }
        }
        self
    }

    /// `bootstrap.servers`, e.g. `"localhost:9092,localhost:9093"`.
    pub fn bootstrap_servers(self, servers: impl AsRef<str>) -> Self {
        self.set("bootstrap.servers", servers)
    }
    /// `group.id`.
    pub fn group_id(self, group: impl AsRef<str>) -> Self {
        self.set("group.id", group)
    }
    /// `group.instance.id`.
    pub fn group_instance_id(self, id: impl AsRef<str>) -> Self {
        self.set("group.instance.id", id)
    }
    /// `client.id`.
    pub fn client_id(self, id: impl AsRef<str>) -> Self {
        self.set("client.id", id)
    }
    /// `client.rack`.
    pub fn client_rack(self, rack: impl AsRef<str>) -> Self {
        self.set("client.rack", rack)
    }
    /// `group.protocol`.
    pub fn group_protocol(self, p: GroupProtocol) -> Self {
        self.set("group.protocol", p.as_str())
    }
    /// `coordinator.connection`.
    pub fn coordinator_connection(self, c: CoordinatorConnection) -> Self {
        self.set("coordinator.connection", c.as_str())
    }
    /// `partition.assignment.strategy`.
    pub fn partition_assignment_strategy(self, list: impl IntoIterator<Item = Assignor>) -> Self {
        let names: Vec<&str> = list.into_iter().map(Assignor::protocol_name).collect();
        self.set("partition.assignment.strategy", names.join(","))
    }
    /// The client-side partition assignors of the classic group protocol as objects, in
    /// preference order: your own [`PartitionAssignor`] (Java: a class name in
    /// `partition.assignment.strategy`) and the built-in
    /// [`BuiltinAssignor`](crate::assignor::BuiltinAssignor)s. Replaces
    /// `partition.assignment.strategy`. The names must be distinct; every member of the group
    /// must offer at least one name in common.
    pub fn partition_assignors(mut self, list: impl IntoIterator<Item = Arc<dyn PartitionAssignor>>) -> Self {
        let list: Vec<Arc<dyn PartitionAssignor>> = list.into_iter().collect();
        let mut names: Vec<&str> = list.iter().map(|a| a.name()).collect();
        let shown = names.join(",");
        names.sort_unstable();
        let duplicate = names.windows(2).any(|w| w[0] == w[1]);
        if self.error.is_none() && (list.is_empty() || duplicate || names.iter().any(|n| n.is_empty())) {
            self.error = Some(ConfigError::invalid(
                "partition.assignment.strategy",
                shown,
                "at least one assignor, each with its own non-empty name",
            ));
        }
        self.config.explicit.0.insert("partition.assignment.strategy");
        self.config.partition_assignors = AssignorList(list);
        self
    }
    builder_ms! {
        /// `session.timeout.ms`.
        session_timeout => "session.timeout.ms";
        /// `heartbeat.interval.ms`.
        heartbeat_interval => "heartbeat.interval.ms";
        /// `max.poll.interval.ms`.
        max_poll_interval => "max.poll.interval.ms";
        /// `auto.commit.interval.ms`.
        auto_commit_interval => "auto.commit.interval.ms";
        /// `fetch.max.wait.ms`.
        fetch_max_wait => "fetch.max.wait.ms";
        /// `request.timeout.ms`.
        request_timeout => "request.timeout.ms";
        /// `default.api.timeout.ms`.
        default_api_timeout => "default.api.timeout.ms";
        /// `metadata.max.age.ms`.
        metadata_max_age => "metadata.max.age.ms";
    }
    /// `connections.max.idle.ms`; `None` = never.
    pub fn connections_max_idle(self, idle: Option<Duration>) -> Self {
        let v = idle.map_or("-1".to_string(), |d| d.as_millis().to_string());
        self.set("connections.max.idle.ms", v)
    }
    /// `max.poll.records`.
    pub fn max_poll_records(self, n: u32) -> Self {
        self.set("max.poll.records", n.to_string())
    }
    /// `enable.auto.commit`.
    pub fn enable_auto_commit(self, on: bool) -> Self {
        self.set("enable.auto.commit", on.to_string())
    }
    /// `enable.auto.offset.store` (librdkafka's): `false` commits only what
    /// [`Consumer::store_offsets`](crate::Consumer::store_offsets) stored.
    pub fn enable_auto_offset_store(self, on: bool) -> Self {
        self.set("enable.auto.offset.store", on.to_string())
    }
    /// `auto.offset.reset`.
    pub fn auto_offset_reset(self, r: AutoOffsetReset) -> Self {
        let v = match r {
            AutoOffsetReset::Earliest => "earliest".to_string(),
            AutoOffsetReset::Latest => "latest".to_string(),
            AutoOffsetReset::None => "none".to_string(),
            AutoOffsetReset::ByDuration(d) => format!("by_duration:PT{}.{:09}S", d.as_secs(), d.subsec_nanos()),
        };
        self.set("auto.offset.reset", v)
    }
    /// `isolation.level`.
    pub fn isolation_level(self, l: IsolationLevel) -> Self {
        let v = match l {
            IsolationLevel::ReadUncommitted => "read_uncommitted",
            IsolationLevel::ReadCommitted => "read_committed",
        };
        self.set("isolation.level", v)
    }
    /// `fetch.min.bytes`.
    pub fn fetch_min_bytes(self, n: u32) -> Self {
        self.set("fetch.min.bytes", n.to_string())
    }
    /// `fetch.max.bytes`.
    pub fn fetch_max_bytes(self, n: u32) -> Self {
        self.set("fetch.max.bytes", n.to_string())
    }
    /// `max.partition.fetch.bytes`.
    pub fn max_partition_fetch_bytes(self, n: u32) -> Self {
        self.set("max.partition.fetch.bytes", n.to_string())
    }
    /// `security.protocol`.
    pub fn security_protocol(self, p: SecurityProtocol) -> Self {
        self.set("security.protocol", p.as_str())
    }
    /// `sasl.mechanism` plus `sasl.username` / `sasl.password`.
    pub fn sasl(self, mechanism: super::SaslMechanism, username: &str, password: &str) -> Self {
        self.set("sasl.mechanism", mechanism.as_str())
            .set("sasl.username", username)
            .set("sasl.password", password)
    }

    /// OAUTHBEARER tokens from an application callback (with `sasl.mechanism=OAUTHBEARER`);
    /// see [`crate::oauth`].
    pub fn oauthbearer_token_provider(mut self, provider: std::sync::Arc<dyn crate::oauth::OAuthBearerTokenProvider>) -> Self {
        self.config.net.security.sasl.set_oauthbearer_token_provider(provider);
        self
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<ConsumerConfig, ConfigError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut c = self.config;
        c.validate()?;
        Ok(c)
    }
}

impl fmt::Display for AutoOffsetReset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AutoOffsetReset::Earliest => f.write_str("earliest"),
            AutoOffsetReset::Latest => f.write_str("latest"),
            AutoOffsetReset::None => f.write_str("none"),
            AutoOffsetReset::ByDuration(d) => write!(f, "by_duration:{}ms", d.as_millis()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations() {
        let p = |s: &str| parse_iso_duration(&s.to_ascii_lowercase());
        assert_eq!(p("PT1H"), Some(Duration::from_secs(3600)));
        assert_eq!(p("P1DT2H3M4.5S"), Some(Duration::from_millis(93_784_500)));
        assert_eq!(p("P2D"), Some(Duration::from_secs(172_800)));
        assert_eq!(p("PT0S"), Some(Duration::ZERO));
        assert_eq!(p("PT1.000000001S"), Some(Duration::new(1, 1)));
        assert_eq!(p("P200000000000000DT18446744073709551615H"), None, "overflow is an error, not a panic");
        for bad in ["P", "PT", "1H", "PT-1S", "PTxS", "P1H", "PT1S2", "PT.5S", "PT1.0000000001S", "PT1.-5S"] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    #[test]
    fn assignor_names() {
        let k = "partition.assignment.strategy";
        assert_eq!(Assignor::parse(k, "org.apache.kafka.clients.consumer.RangeAssignor").unwrap(), Assignor::Range);
        assert_eq!(Assignor::parse(k, "CooperativeStickyAssignor").unwrap(), Assignor::CooperativeSticky);
        assert_eq!(Assignor::parse(k, "ROUNDROBIN").unwrap(), Assignor::RoundRobin);
        assert!(Assignor::parse(k, "org.apache.kafka.clients.consumer.StickyAssignor").is_err());
    }

    #[test]
    fn instance_id_rules() {
        assert!(validate_instance_id("group.instance.id", "host-1.a_b").is_ok());
        assert!(validate_instance_id("group.instance.id", "bad id").is_err());
        assert!(validate_instance_id("group.instance.id", &"x".repeat(250)).is_err());
    }
}
