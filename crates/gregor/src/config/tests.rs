//! Tests across the whole config module: the key table against the typed structs, parsing
//! entry points, validation rules, error messages and secret hiding.

use std::time::Duration;

use super::*;

fn consumer(pairs: &[(&str, &str)]) -> Result<ConsumerConfig, ConfigError> {
    let mut all = vec![("bootstrap.servers", "localhost:9092")];
    all.extend_from_slice(pairs);
    ConsumerConfig::from_map(all)
}

fn producer(pairs: &[(&str, &str)]) -> Result<ProducerConfig, ConfigError> {
    let mut all = vec![("bootstrap.servers", "localhost:9092")];
    all.extend_from_slice(pairs);
    ProducerConfig::from_map(all)
}

#[test]
fn defaults_match_java() {
    let c = consumer(&[("group.id", "g")]).unwrap();
    assert_eq!(c.session_timeout, Duration::from_millis(45_000));
    assert_eq!(c.heartbeat_interval, Duration::from_millis(3_000));
    assert_eq!(c.max_poll_interval, Duration::from_millis(300_000));
    assert_eq!(c.max_poll_records, 500);
    assert!(c.enable_auto_commit);
    assert_eq!(c.auto_offset_reset, AutoOffsetReset::Latest);
    assert_eq!(c.fetch_max_bytes, 52_428_800);
    assert_eq!(c.fetch_max_wait, Duration::from_millis(500));
    assert_eq!(c.max_partition_fetch_bytes, 1_048_576);
    assert_eq!(c.partition_assignment_strategy, vec![Assignor::Range, Assignor::CooperativeSticky]);
    assert_eq!(c.net.connections_max_idle, Some(Duration::from_millis(540_000)));
    assert_eq!(c.net.reconnect_backoff, Duration::from_millis(50));
    assert_eq!(c.net.reconnect_backoff_max, Duration::from_millis(1_000));
    assert_eq!(c.net.max_in_flight_per_connection, 100);
    assert_eq!(c.net.client_id, "gregor");
    assert!(c.coordinator_dedicated());
    assert_eq!(c.join_group_timeout(), Duration::from_millis(305_000));
    let p = producer(&[]).unwrap();
    assert_eq!(p.acks, Acks::All);
    assert_eq!(p.linger, Duration::from_millis(5));
    assert_eq!(p.net.max_in_flight_per_connection, 5);
}

/// Every key of the table, set to the table's default, must leave the config at its default:
/// README and `--help` can then never disagree with the code.
#[test]
fn key_table_defaults_are_the_real_defaults() {
    let mut c = ConsumerConfig::default();
    for k in consumer_keys() {
        c.set(k.name, k.default)
            .unwrap_or_else(|e| panic!("consumer key {} default {:?}: {e}", k.name, k.default));
    }
    assert_eq!(c, ConsumerConfig::default());
    let mut p = ProducerConfig::default();
    for k in producer_keys() {
        p.set(k.name, k.default)
            .unwrap_or_else(|e| panic!("producer key {} default {:?}: {e}", k.name, k.default));
    }
    assert_eq!(p, ProducerConfig::default());
}

#[test]
fn every_table_key_is_accepted_and_every_ignored_key_too() {
    for k in consumer_keys() {
        let mut c = ConsumerConfig::default();
        // A distinctive but valid value is not known per key; the default must parse, and an
        // obviously wrong value must be rejected or stored (free-form strings).
        c.set(k.name, k.default).unwrap();
        assert!(keys::key_info(k.name, false).is_some());
    }
    for k in keys::java_only_keys() {
        assert!(!keys::ALL_KEYS.iter().any(|i| i.name == k.name), "{} is both a gregor key and Java-only", k.name);
        for producer in [false, true] {
            let applies = if producer { k.applies_to.producer() } else { k.applies_to.consumer() };
            let set = |v: &str| {
                if producer {
                    ProducerConfig::default().set(k.name, v)
                } else {
                    ConsumerConfig::default().set(k.name, v)
                }
            };
            if !applies {
                assert!(matches!(set(k.accepted[0]), Err(ConfigError::UnknownKey { .. })), "{}", k.name);
                continue;
            }
            // Every value that describes what gregor does is accepted (a class by its simple
            // name too); anything else is refused with the reason, never ignored.
            for v in k.accepted {
                set(v).unwrap_or_else(|e| panic!("{}={v}: {e}", k.name));
                if let Some(simple) = v.strip_prefix("org.apache.kafka.common.serialization.") {
                    set(simple).unwrap();
                }
            }
            let err = set("com.example.Whatever").unwrap_err();
            assert!(matches!(err, ConfigError::Unsupported { .. }), "{}: {err}", k.name);
            assert!(err.to_string().contains(k.reason), "{err}");
        }
    }
    // No key is listed twice for the same client.
    for list in [consumer_keys(), producer_keys()] {
        let mut names: Vec<_> = list.iter().map(|k| k.name).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}

#[test]
fn unknown_key_suggests_the_nearest() {
    let e = consumer(&[("sesion.timeout.ms", "1000")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown consumer config 'sesion.timeout.ms' (did you mean 'session.timeout.ms'?)"
    );
    let e = consumer(&[("fetch.max.wait", "10")]).unwrap_err();
    assert!(e.to_string().contains("did you mean 'fetch.max.wait.ms'"), "{e}");
    let e = consumer(&[("groupid", "g")]).unwrap_err();
    assert!(e.to_string().contains("'group.id'"), "{e}");
    let e = consumer(&[("zzz.totally.unrelated", "1")]).unwrap_err();
    assert_eq!(e.to_string(), "unknown consumer config 'zzz.totally.unrelated'");
    let e = consumer(&[("acks", "all")]).unwrap_err();
    assert_eq!(e.to_string(), "'acks' is a producer config, not a consumer config");
    let e = producer(&[("group.id", "g")]).unwrap_err();
    assert_eq!(e.to_string(), "'group.id' is a consumer config, not a producer config");
    let e = producer(&[("lingr.ms", "1")]).unwrap_err();
    assert!(e.to_string().contains("did you mean 'linger.ms'"), "{e}");
}

#[test]
fn bad_values_name_key_value_and_expectation() {
    let e = consumer(&[("auto.offset.reset", "smallest")]).unwrap_err();
    assert_eq!(e.key(), Some("auto.offset.reset"));
    let text = e.to_string();
    assert!(text.contains("'smallest'") && text.contains("earliest, latest, none"), "{text}");
    let e = consumer(&[("max.poll.records", "0")]).unwrap_err();
    assert_eq!(e.key(), Some("max.poll.records"));
    let e = consumer(&[("session.timeout.ms", "abc")]).unwrap_err();
    assert!(e.to_string().contains("an integer"), "{e}");
    assert!(consumer(&[("enable.auto.commit", "yes"), ("group.id", "g")]).is_err());
}

#[test]
fn enums_are_case_insensitive() {
    let c = consumer(&[
        ("group.id", "g"),
        ("auto.offset.reset", "EARLIEST"),
        ("isolation.level", "READ_COMMITTED"),
        ("security.protocol", "plaintext"),
        ("client.dns.lookup", "USE_ALL_DNS_IPS"),
        ("coordinator.connection", "Shared"),
    ])
    .unwrap();
    assert_eq!(c.auto_offset_reset, AutoOffsetReset::Earliest);
    assert_eq!(c.isolation_level, IsolationLevel::ReadCommitted);
    assert!(!c.coordinator_dedicated());
    let c = consumer(&[("auto.offset.reset", "by_duration:PT1H")]).unwrap();
    assert_eq!(c.auto_offset_reset, AutoOffsetReset::ByDuration(Duration::from_secs(3600)));
}

#[test]
fn heartbeat_must_be_below_session_timeout() {
    let e = consumer(&[("session.timeout.ms", "3000")]).unwrap_err();
    assert!(matches!(e, ConfigError::Conflict { .. }));
    assert!(e.to_string().contains("heartbeat.interval.ms (3000)"), "{e}");
    consumer(&[("session.timeout.ms", "3001")]).unwrap();
}

#[test]
fn fetch_wait_must_be_below_request_timeout() {
    let e = consumer(&[("fetch.max.wait.ms", "30000")]).unwrap_err();
    assert!(e.to_string().contains("fetch.max.wait.ms (30000)"), "{e}");
    consumer(&[("fetch.max.wait.ms", "29999")]).unwrap();
}

#[test]
fn response_cap_must_exceed_fetch_sizes() {
    let e = consumer(&[("response.max.bytes", "52428800")]).unwrap_err();
    assert!(e.to_string().contains("response.max.bytes"), "{e}");
    consumer(&[("response.max.bytes", "60000000")]).unwrap();
    // Raising fetch.max.bytes past the default cap needs the cap raised too.
    assert!(consumer(&[("fetch.max.bytes", "200000000")]).is_err());
}

#[test]
fn auto_commit_needs_a_group() {
    let c = consumer(&[]).unwrap();
    assert!(!c.enable_auto_commit, "Java turns auto-commit off without group.id");
    let e = consumer(&[("enable.auto.commit", "true")]).unwrap_err();
    assert!(e.to_string().contains("group.id"), "{e}");
}

#[test]
fn consumer_protocol_rules() {
    let c = consumer(&[("group.id", "g"), ("group.protocol", "consumer"), ("group.remote.assignor", "uniform")]).unwrap();
    assert_eq!(c.group_protocol, GroupProtocol::Consumer);
    assert!(!c.coordinator_dedicated(), "auto = shared for the consumer protocol");
    for k in ["session.timeout.ms", "heartbeat.interval.ms"] {
        let e = consumer(&[("group.protocol", "consumer"), (k, "10000")]).unwrap_err();
        assert!(e.to_string().contains(k), "{e}");
    }
    let e = consumer(&[("group.remote.assignor", "uniform")]).unwrap_err();
    assert!(e.to_string().contains("group.protocol=classic"), "{e}");
}

#[test]
fn assignment_strategy_lists() {
    let c = consumer(&[(
        "partition.assignment.strategy",
        "org.apache.kafka.clients.consumer.CooperativeStickyAssignor, roundrobin, range, range",
    )])
    .unwrap();
    assert_eq!(
        c.partition_assignment_strategy,
        vec![Assignor::CooperativeSticky, Assignor::RoundRobin, Assignor::Range]
    );
    assert!(consumer(&[("partition.assignment.strategy", " , ")]).is_err());
}

#[test]
fn properties_file_like_console_consumer() {
    let text = r#"
# written for kafka-console-consumer
bootstrap.servers = localhost:9092,\
                    [::1]:9093
group.id: my-group
key.deserializer=org.apache.kafka.common.serialization.ByteArrayDeserializer
value.deserializer=ByteArrayDeserializer
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
    username="alice" \
    password="wonder\u006cand";
ssl.truststore.location=/etc/kafka/ca.pem
ssl.truststore.type=PEM
ssl.endpoint.identification.algorithm=
connections.max.idle.ms=-1
"#;
    let c = ConsumerConfig::from_properties_str(text).unwrap();
    assert_eq!(c.net.bootstrap_servers.len(), 2);
    assert_eq!(c.net.bootstrap_servers[1].to_string(), "[::1]:9093");
    assert_eq!(c.group_id.as_deref(), Some("my-group"));
    assert_eq!(c.net.security.protocol, SecurityProtocol::SaslSsl);
    let creds = c.net.security.sasl.credentials().unwrap();
    assert_eq!(creds.username, "alice");
    assert_eq!(creds.password.expose(), "wonderland");
    assert!(!c.net.security.tls.verify_hostname);
    assert_eq!(c.net.connections_max_idle, None);

    // Debug of the whole config never shows a secret.
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("wonderland"), "{dbg}");
    assert!(dbg.contains("[hidden]"));

    // A deserializer class that would change what records carry is refused, not ignored.
    let err = ConsumerConfig::from_properties_str(
        &text.replace("value.deserializer=ByteArrayDeserializer", "value.deserializer=StringDeserializer"),
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("gregor::serialization"), "{err}");
}

#[test]
fn secrets_never_printed() {
    let c = ConsumerConfig::builder()
        .bootstrap_servers("localhost:9092")
        .set("security.protocol", "SASL_PLAINTEXT")
        .sasl(SaslMechanism::Plain, "bob", "hunter2")
        .set("ssl.key.password", "keypass-123")
        .set("ssl.keystore.key", "-----BEGIN PRIVATE KEY-----abc")
        .set("ssl.keystore.certificate.chain", "-----BEGIN CERTIFICATE-----xyz")
        .build()
        .unwrap();
    let dbg = format!("{c:?} {c:#?}");
    for secret in ["hunter2", "keypass-123", "BEGIN PRIVATE KEY"] {
        assert!(!dbg.contains(secret), "{secret} leaked");
    }
    assert_eq!(format!("{}", Password::new("x")), "[hidden]");
    for k in ["sasl.password", "sasl.jaas.config", "ssl.key.password", "ssl.keystore.key"] {
        assert!(keys::is_secret(k), "{k}");
    }
}

#[test]
fn builder_reports_the_first_error() {
    let c = ConsumerConfig::builder()
        .bootstrap_servers("localhost:9092")
        .group_id("g")
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_secs(1))
        .auto_offset_reset(AutoOffsetReset::ByDuration(Duration::new(1, 500_000_007)))
        .partition_assignment_strategy([Assignor::CooperativeSticky])
        .connections_max_idle(None)
        .build()
        .unwrap();
    assert_eq!(c.session_timeout, Duration::from_secs(10));
    assert_eq!(c.auto_offset_reset, AutoOffsetReset::ByDuration(Duration::new(1, 500_000_007)));
    assert!(c.is_explicit("session.timeout.ms"));
    assert!(!c.is_explicit("max.poll.records"));

    let e = ConsumerConfig::builder()
        .bootstrap_servers("localhost")
        .max_poll_records(0)
        .build()
        .unwrap_err();
    assert_eq!(e.key(), Some("bootstrap.servers"));
    let e = ConsumerConfig::builder().group_id("g").build().unwrap_err();
    assert!(matches!(e, ConfigError::Missing { key: "bootstrap.servers", .. }));
}

#[test]
fn producer_rules() {
    let p = producer(&[("acks", "-1"), ("compression.type", "ZSTD"), ("linger.ms", "0")]).unwrap();
    assert_eq!(p.acks.wire_value(), -1);
    assert_eq!(p.compression_type, CompressionType::Zstd);
    assert!(producer(&[("acks", "2")]).is_err());
    let e = producer(&[("delivery.timeout.ms", "1000")]).unwrap_err();
    assert!(e.to_string().contains("linger.ms + request.timeout.ms"), "{e}");
    // Not explicit: raised silently like Java.
    let p = producer(&[("request.timeout.ms", "200000")]).unwrap();
    assert_eq!(p.delivery_timeout, Duration::from_millis(200_005));
    let p = ProducerConfig::builder()
        .bootstrap_servers("a:1")
        .acks(Acks::Leader)
        .compression_type(CompressionType::Lz4)
        .build()
        .unwrap();
    assert_eq!((p.acks, p.compression_type), (Acks::Leader, CompressionType::Lz4));
}

#[test]
fn properties_file_io_error_names_the_file() {
    let e = ConsumerConfig::from_properties_file("/nonexistent/gregor.properties").unwrap_err();
    assert!(e.to_string().contains("/nonexistent/gregor.properties"), "{e}");
    let dir = std::env::temp_dir().join(format!("gregor-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.properties");
    std::fs::write(&path, "bootstrap.servers=h:1\ngroup.id=g\n").unwrap();
    let c = ConsumerConfig::from_properties_file(&path).unwrap();
    assert_eq!(c.group_id.as_deref(), Some("g"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn later_keys_override_earlier_ones() {
    let c = consumer(&[("max.poll.records", "10"), ("max.poll.records", "20")]).unwrap();
    assert_eq!(c.max_poll_records, 20);
}

#[test]
fn markdown_table_lists_every_key() {
    let md = keys::markdown_table(consumer_keys());
    assert_eq!(md.lines().count(), consumer_keys().len() + 2);
    assert!(md.contains("| `session.timeout.ms` | `45000` |"), "{md}");
    assert!(md.contains("| `connection.attempts.max.per.sec` † | `20` |"), "{md}");
    assert!(md.contains("| `group.id` | - |"), "{md}");
}

#[test]
fn idempotence_follows_javas_rules() {
    // Default on; acks or retries that contradict it turn the default off quietly...
    assert!(producer(&[]).unwrap().idempotent());
    assert!(!producer(&[("acks", "1")]).unwrap().idempotent());
    assert!(!producer(&[("retries", "0")]).unwrap().idempotent());
    // ...but an explicit enable.idempotence=true makes the contradiction an error.
    let e = producer(&[("enable.idempotence", "true"), ("acks", "1")]).unwrap_err();
    assert!(e.to_string().contains("acks=all"), "{e}");
    let e = producer(&[("enable.idempotence", "true"), ("retries", "0")]).unwrap_err();
    assert!(e.to_string().contains("retries > 0"), "{e}");
    // More than 5 in flight is an error even with the default (Java 4.x).
    let e = producer(&[("max.in.flight.requests.per.connection", "6")]).unwrap_err();
    assert!(e.to_string().contains("<= 5"), "{e}");
    assert!(!producer(&[("max.in.flight.requests.per.connection", "6"), ("enable.idempotence", "false")])
        .unwrap()
        .idempotent());
    // transactional.id needs idempotence.
    let p = producer(&[("transactional.id", "tx-1")]).unwrap();
    assert_eq!(p.transactional_id.as_deref(), Some("tx-1"));
    let e = producer(&[("transactional.id", "tx-1"), ("acks", "1")]).unwrap_err();
    assert!(e.to_string().contains("transactional.id needs idempotence"), "{e}");
    let e = producer(&[("transactional.id", "tx-1"), ("enable.idempotence", "false")]).unwrap_err();
    assert_eq!(e.to_string().contains("transactional.id"), true, "{e}");
}

#[test]
fn producer_takes_every_security_key_and_its_own_defaults() {
    let p = producer(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.username", "u"),
        ("sasl.password", "p"),
        ("ssl.endpoint.identification.algorithm", ""),
        ("buffer.memory", "1000"),
        ("max.block.ms", "10"),
    ])
    .unwrap();
    assert_eq!(p.net.security.protocol, SecurityProtocol::SaslSsl);
    assert_eq!((p.buffer_memory, p.max_block), (1000, Duration::from_millis(10)));
    let d = producer(&[]).unwrap();
    assert_eq!(d.net.receive_buffer_bytes, Some(32_768), "Java producer's receive.buffer.bytes");
    assert_eq!(d.buffer_memory, 33_554_432);
    assert_eq!(d.transaction_timeout, Duration::from_millis(60_000));
    // The consumer still has its own receive buffer default.
    assert_eq!(consumer(&[]).unwrap().net.receive_buffer_bytes, Some(65_536));
}
