//! gregor: a pure-Rust Apache Kafka consumer.
