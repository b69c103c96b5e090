//! The cluster as the client sees it: connections plus metadata.
//!
//! [`Cluster`] is what the consumer and producer hold: it owns the [`NetClient`] and the
//! metadata cache, refreshes metadata (to the least-loaded node) when it is due or stale, and
//! feeds the broker list to the connection manager so that bootstrap sockets are adopted or
//! retired.

pub(crate) mod metadata;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use crate::error::{Error, ErrorKind, Result};
use crate::net::backoff::ExponentialBackoff;
use crate::net::client::{NetClient, SocketSettings};
use crate::net::events::OpenReason;
use crate::net::manager::{Endpoint, ManagerConfig, Target};
use crate::rules::{self, Action, Api};
use metadata::{RefreshPolicy, Snapshot};

/// Everything the connection layer needs from the configuration.
#[derive(Debug, Clone)]
pub(crate) struct ClusterSettings {
    pub(crate) bootstrap: Vec<(String, u16)>,
    pub(crate) client_id: String,
    pub(crate) request_timeout: Duration,
    pub(crate) api_timeout: Duration,
    pub(crate) reconnect_backoff: (Duration, Duration),
    pub(crate) setup_timeout: (Duration, Duration),
    pub(crate) retry_backoff: (Duration, Duration),
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) metadata_max_age: Duration,
    pub(crate) rebootstrap_trigger: Option<Duration>,
    pub(crate) attempts_per_sec: u32,
    pub(crate) max_frame: usize,
    pub(crate) send_buffer: Option<u32>,
    pub(crate) receive_buffer: Option<u32>,
    pub(crate) shared_coordinator: bool,
    /// `security.protocol`, `ssl.*`, `sasl.*`.
    pub(crate) security: crate::config::SecurityConfig,
    /// `client.dns.lookup=resolve_canonical_bootstrap_servers_only`.
    pub(crate) canonical_bootstrap: bool,
    /// `allow.auto.create.topics` (consumer): Metadata requests for explicit topics may let the
    /// broker create missing ones (when its `auto.create.topics.enable` allows it).
    pub(crate) allow_auto_create_topics: bool,
    /// Which client this is (the group of its connection metrics).
    pub(crate) kind: crate::telemetry::ClientKind,
    /// `metrics.*`.
    pub(crate) metrics: crate::config::MetricsConfig,
}

impl ClusterSettings {
    /// The connection settings of a client config.
    pub(crate) fn from_net(
        net: &crate::config::NetConfig,
        api_timeout: Duration,
        shared_coordinator: bool,
        kind: crate::telemetry::ClientKind,
    ) -> Self {
        use crate::config::MetadataRecoveryStrategy;
        ClusterSettings {
            bootstrap: net.bootstrap_servers.iter().map(|b| (b.host.clone(), b.port)).collect(),
            client_id: net.client_id.clone(),
            request_timeout: net.request_timeout,
            api_timeout,
            reconnect_backoff: (net.reconnect_backoff, net.reconnect_backoff_max),
            setup_timeout: (net.connection_setup_timeout, net.connection_setup_timeout_max),
            retry_backoff: (net.retry_backoff, net.retry_backoff_max),
            idle_timeout: net.connections_max_idle,
            metadata_max_age: net.metadata_max_age,
            rebootstrap_trigger: match net.metadata_recovery_strategy {
                MetadataRecoveryStrategy::Rebootstrap => Some(net.metadata_recovery_rebootstrap_trigger),
                MetadataRecoveryStrategy::None => None,
            },
            attempts_per_sec: net.connection_attempts_per_sec,
            max_frame: net.response_max_bytes as usize,
            send_buffer: net.send_buffer_bytes,
            receive_buffer: net.receive_buffer_bytes,
            shared_coordinator,
            security: net.security.clone(),
            canonical_bootstrap: net.client_dns_lookup == crate::config::ClientDnsLookup::ResolveCanonicalBootstrapServersOnly,
            allow_auto_create_topics: false,
            kind,
            metrics: net.metrics,
        }
    }
}

/// Connections and metadata for one cluster.
#[derive(Debug)]
pub(crate) struct Cluster {
    pub(crate) net: NetClient,
    pub(crate) settings: ClusterSettings,
    snapshot: Mutex<Arc<Snapshot>>,
    policy: Mutex<RefreshPolicy>,
    /// One metadata request at a time: concurrent callers wait for the one in flight. Holds
    /// when the last request for every topic (a `None` topic list) succeeded.
    refreshing: tokio::sync::Mutex<Option<Instant>>,
    /// Set once the bootstrap hosts were expanded to canonical names (only with
    /// `client.dns.lookup=resolve_canonical_bootstrap_servers_only`).
    bootstrap_resolved: tokio::sync::OnceCell<()>,
}

impl Cluster {
    /// Creates the cluster handle. No socket, no task.
    pub(crate) fn new(settings: ClusterSettings) -> Arc<Cluster> {
        let mgr = ManagerConfig {
            bootstrap: settings.bootstrap.iter().map(|(h, p)| Endpoint::new(h.clone(), *p)).collect(),
            reconnect_backoff: ExponentialBackoff::new(settings.reconnect_backoff.0, settings.reconnect_backoff.1),
            setup_timeout: ExponentialBackoff::new(settings.setup_timeout.0, settings.setup_timeout.1),
            idle_timeout: settings.idle_timeout,
            attempts_per_sec: settings.attempts_per_sec,
            rebootstrap_trigger: settings.rebootstrap_trigger,
            shared_coordinator: settings.shared_coordinator,
            seed: None,
        };
        let sockets = SocketSettings {
            client_id: settings.client_id.clone(),
            max_frame: settings.max_frame,
            request_timeout: settings.request_timeout,
            max_in_flight: 100,
            send_buffer: settings.send_buffer,
            receive_buffer: settings.receive_buffer,
            security: crate::net::tls::SecurityContext::from_config(&settings.security),
            rejection_backoff: settings.reconnect_backoff.1,
        };
        let retry = ExponentialBackoff::new(settings.retry_backoff.0, settings.retry_backoff.1);
        Arc::new(Cluster {
            net: NetClient::new(
                mgr,
                sockets,
                Arc::new(crate::telemetry::NetTelemetry::new(settings.kind, &settings.client_id, settings.metrics)),
            ),
            policy: Mutex::new(RefreshPolicy::new(settings.metadata_max_age, retry)),
            settings,
            snapshot: Mutex::new(Arc::new(Snapshot::default())),
            refreshing: tokio::sync::Mutex::new(None),
            bootstrap_resolved: tokio::sync::OnceCell::new(),
        })
    }

    /// The wait before retry number `attempt` + 1 of a request: `retry.backoff.ms` doubling up
    /// to `retry.backoff.max.ms`, with jitter (KIP-580).
    pub(crate) fn retry_backoff(&self, attempt: u32) -> Duration {
        let (base, max) = self.settings.retry_backoff;
        ExponentialBackoff::new(base, max).jittered(attempt, rand::random())
    }

    /// `client.dns.lookup=resolve_canonical_bootstrap_servers_only`, before the first connection:
    /// every address of every bootstrap host is replaced by its canonical host name (a reverse
    /// lookup), as Java's `ClientUtils.parseAndValidateAddresses` does in the client's
    /// constructor — gregor does it at the first request, so construction stays free of I/O. Its
    /// use (KIP-235): a DNS alias in front of brokers whose certificates or Kerberos principals
    /// name their real hosts; the canonical names also let the bootstrap socket be adopted.
    async fn resolve_bootstrap(&self) -> Result<()> {
        if !self.settings.canonical_bootstrap {
            return Ok(());
        }
        self.bootstrap_resolved
            .get_or_try_init(|| async {
                let mut out: Vec<Endpoint> = Vec::new();
                for (host, port) in &self.settings.bootstrap {
                    let addrs = match tokio::net::lookup_host((host.as_str(), *port)).await {
                        Ok(a) => a,
                        Err(e) => {
                            // Java logs "Couldn't resolve server" and drops the entry.
                            tracing::warn!(server = %format!("{host}:{port}"), error = %e, "cannot resolve bootstrap server");
                            continue;
                        }
                    };
                    for addr in addrs {
                        let ip = addr.ip();
                        // getnameinfo blocks (it may ask DNS); Java's getCanonicalHostName
                        // falls back to the address text when there is no name.
                        let name = tokio::task::spawn_blocking(move || dns_lookup::lookup_addr(&ip))
                            .await
                            .ok()
                            .and_then(|r| r.ok())
                            .unwrap_or_else(|| ip.to_string());
                        let ep = Endpoint::new(name, *port);
                        if !out.iter().any(|o| o.port == ep.port && o.host.eq_ignore_ascii_case(&ep.host)) {
                            out.push(ep);
                        }
                    }
                }
                if out.is_empty() {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!("no resolvable bootstrap urls given in bootstrap.servers={}", self.bootstrap_list()),
                    ));
                }
                tracing::info!(bootstrap = ?out.iter().map(|e| e.to_string()).collect::<Vec<_>>(), "bootstrap servers resolved to canonical names");
                self.net.handle_bootstrap_resolved(out);
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// The latest metadata.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Marks metadata stale; the next `refresh_if_due` refreshes (rate-limited).
    pub(crate) fn request_update(&self, reason: impl Into<String>) {
        self.policy.lock().unwrap_or_else(|p| p.into_inner()).request_update(reason);
    }

    /// When the next refresh is due.
    pub(crate) fn next_refresh(&self) -> Instant {
        self.policy.lock().unwrap_or_else(|p| p.into_inner()).next_due().0
    }

    /// Refreshes metadata if it is due (max age, or an update was requested).
    pub(crate) async fn refresh_if_due(&self, topics: Option<&[String]>) -> Result<Arc<Snapshot>> {
        let (due, why) = self.policy.lock().unwrap_or_else(|p| p.into_inner()).next_due();
        if due > Instant::now() {
            return Ok(self.snapshot());
        }
        self.refresh_once(topics, &why).await
    }

    /// Refreshes metadata, retrying with `retry.backoff.ms` until `default.api.timeout.ms`.
    pub(crate) async fn refresh(&self, topics: Option<&[String]>, why: &str) -> Result<Arc<Snapshot>> {
        let deadline = Instant::now() + self.settings.api_timeout;
        let mut last_err;
        loop {
            match self.refresh_once(topics, why).await {
                Ok(s) => return Ok(s),
                Err(e) if !e.is_retriable() || e.kind() == ErrorKind::Closed => return Err(e),
                Err(e) => last_err = e,
            }
            let next = self.next_refresh().max(Instant::now() + Duration::from_millis(1));
            if next >= deadline {
                return Err(Error::new(
                    ErrorKind::Unreachable,
                    format!(
                        "could not get metadata from any of bootstrap.servers={} within {} ms",
                        self.bootstrap_list(),
                        self.settings.api_timeout.as_millis()
                    ),
                )
                .with_source(last_err));
            }
            tokio::time::sleep_until(next).await;
        }
    }

    fn bootstrap_list(&self) -> String {
        self.settings
            .bootstrap
            .iter()
            .map(|(h, p)| format!("{h}:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// One metadata request to the least-loaded node.
    pub(crate) async fn refresh_once(&self, topics: Option<&[String]>, why: &str) -> Result<Arc<Snapshot>> {
        let mut single = self.refreshing.lock().await;
        self.resolve_bootstrap().await?;
        let now = Instant::now();
        self.policy.lock().unwrap_or_else(|p| p.into_inner()).attempted(now);
        tracing::debug!(reason = why, topics = ?topics, "refreshing metadata");
        let names: Option<Vec<String>> = topics.map(|t| t.to_vec());
        let auto_create = self.settings.allow_auto_create_topics && names.is_some();
        let build = move |v: i16| {
            let req = MetadataRequest::default().with_topics(names.map(|ts| {
                ts.into_iter()
                    .map(|t| MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(t)))))
                    .collect()
            }));
            // v4+ lets the client say whether the broker may auto-create missing topics:
            // only with allow.auto.create.topics=true (a typo must not make a topic), and only
            // for an explicit topic list, as Java's `ConsumerMetadata`. Before v4 the broker
            // decides alone.
            if v >= 4 {
                req.with_allow_auto_topic_creation(auto_create)
            } else {
                req
            }
        };
        self.net.handle_metadata_attempt();
        let resp = match self.net.send_built(Target::AnyNode, OpenReason::Metadata, (0, 13), None, build).await {
            Ok(r) => r,
            Err(e) => {
                self.policy.lock().unwrap_or_else(|p| p.into_inner()).failed();
                return Err(e);
            }
        };
        match rules::action_for(Api::Metadata, resp.error_code) {
            Action::Proceed => {}
            action => {
                self.policy.lock().unwrap_or_else(|p| p.into_inner()).failed();
                if action == Action::Rebootstrap {
                    self.net.handle_rebootstrap_required();
                }
                return Err(Error::broker_code(resp.error_code, "metadata request failed"));
            }
        }
        let fresh = Snapshot::from_response(&resp);
        tracing::debug!(
            cluster_id = fresh.cluster_id.as_deref().unwrap_or("?"),
            brokers = fresh.brokers.len(),
            topics = fresh.topics.len(),
            "metadata received"
        );
        let merged = Arc::new(self.snapshot().merged(fresh, topics));
        self.net.handle_metadata(
            merged.brokers.values().map(|b| (b.id, Endpoint::new(b.host.clone(), b.port))).collect(),
        );
        *self.snapshot.lock().unwrap_or_else(|p| p.into_inner()) = merged.clone();
        let now = Instant::now();
        self.policy.lock().unwrap_or_else(|p| p.into_inner()).succeeded(now);
        if topics.is_none() {
            *single = Some(now);
        }
        Ok(merged)
    }

    /// Metadata of `topics` (`None`: every topic) no older than `retry.backoff.ms`: the
    /// snapshot as it is when a request for every topic succeeded that recently and lists every
    /// topic asked for, else a refresh. A refresh in flight is waited for first. As Java's
    /// consumer, which refreshes before a pattern subscription joins only once
    /// `Metadata.timeToAllowUpdate` is 0 (`ConsumerCoordinator.poll`) and assigns as leader
    /// from the metadata it has (`ConsumerCoordinator.onLeaderElected`): a join right after
    /// start-up must not fetch the metadata of every topic three times over.
    pub(crate) async fn recent(&self, topics: Option<&[String]>, why: &str) -> Result<Arc<Snapshot>> {
        let all_at = *self.refreshing.lock().await;
        if all_at.is_some_and(|t| t.elapsed() < self.settings.retry_backoff.0) {
            let snap = self.snapshot();
            if topics.map_or(true, |ts| ts.iter().all(|t| snap.topics.contains_key(t.as_str()))) {
                return Ok(snap);
            }
        }
        self.refresh(topics, why).await
    }

    /// Waits for the metadata request in flight, if there is one.
    pub(crate) async fn settled(&self) {
        drop(self.refreshing.lock().await);
    }

    /// Closes every connection.
    pub(crate) async fn close(&self, timeout: Duration) {
        self.net.close(timeout).await
    }
}
