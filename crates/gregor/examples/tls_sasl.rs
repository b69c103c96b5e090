//! Consumes over TLS with SASL/SCRAM authentication (`security.protocol=SASL_SSL`), the way a
//! managed Kafka service is usually reached.
//!
//! ```sh
//! cargo run -p gregor --example tls_sasl -- broker.example:9093 orders my-group \
//!     /path/to/ca.pem alice "$KAFKA_PASSWORD"
//! ```
//! The CA file is the PEM of the authority that signed the brokers' certificates; leave
//! `ssl.truststore.location` out to trust the platform's roots instead. For mutual TLS instead
//! of SASL use `security.protocol=SSL` with `ssl.keystore.location` (PEM certificate chain and
//! key) and, for an encrypted key, `ssl.key.password`. For OAUTHBEARER see
//! `sasl.oauthbearer.token.endpoint.url`. This example needs a real cluster (the mock speaks
//! neither TLS nor SASL); the tests in `tests/security_tls.rs` and `tests/security_sasl.rs`
//! cover the same settings.

use std::time::Duration;

use gregor::{Consumer, ConsumerConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bootstrap, topic, group, ca, user, password] = args.as_slice() else {
        eprintln!("usage: tls_sasl BOOTSTRAP TOPIC GROUP CA_PEM USER PASSWORD");
        std::process::exit(2);
    };
    let config = ConsumerConfig::builder()
        .bootstrap_servers(bootstrap)
        .group_id(group)
        .set("security.protocol", "SASL_SSL")
        .set("ssl.truststore.location", ca) // PEM; Java's JKS/PKCS12 stores are not read
        .set("sasl.mechanism", "SCRAM-SHA-512")
        // Java's JAAS line works as well:
        // org.apache.kafka.common.security.scram.ScramLoginModule required username=".." password="..";
        .set("sasl.username", user)
        .set("sasl.password", password) // never logged, never in Debug output
        .build()?;
    let consumer = Consumer::new(config)?;
    consumer.subscribe([topic.as_str()])?;
    loop {
        for r in consumer.poll(Duration::from_millis(500)).await? {
            println!("{}-{}@{}: {:?}", r.topic, r.partition, r.offset, r.value_str());
        }
    }
}
