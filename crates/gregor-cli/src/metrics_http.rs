//! `--metrics-addr`: Prometheus text metrics over a tiny HTTP/1.0 responder.
//!
//! Two parts: the library's own metrics — everything gregor records through the `metrics`
//! facade under Java's names (`consumer_fetch_manager_metrics_records_lag_max`,
//! `consumer_coordinator_metrics_rebalance_total`, `consumer_metrics_connection_count`, … with
//! a `client_id` label; see `gregor::telemetry::names`) — rendered from the Prometheus recorder
//! this process installs before it creates the consumer; and the CLI's summary counters
//! (`gregor_connection_count`, … `gregor_records_consumed_total`), kept as they were.

use std::fmt::Write as _;

use anyhow::Context;
use gregor::ConnectionMetrics;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Renders the metrics in Prometheus text format.
pub fn render(m: &ConnectionMetrics, records_consumed: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# TYPE gregor_connection_count gauge\ngregor_connection_count {}",
        m.connection_count
    );
    let _ = writeln!(
        s,
        "# TYPE gregor_connection_creation_total counter\ngregor_connection_creation_total {}",
        m.connection_creation_total
    );
    let _ = writeln!(s, "# TYPE gregor_connection_close_total counter");
    for (r, n) in &m.connection_close_total {
        let _ = writeln!(s, "gregor_connection_close_total{{reason=\"{r}\"}} {n}");
    }
    let _ = writeln!(
        s,
        "# TYPE gregor_connection_failed_total counter\ngregor_connection_failed_total {}",
        m.connection_failed_total
    );
    let _ = writeln!(s, "# TYPE gregor_request_total counter");
    for (node, nm) in &m.nodes {
        let _ = writeln!(s, "gregor_request_total{{node=\"{node}\"}} {}", nm.request_total);
    }
    let _ = writeln!(s, "# TYPE gregor_outgoing_byte_total counter");
    for (node, nm) in &m.nodes {
        let _ = writeln!(
            s,
            "gregor_outgoing_byte_total{{node=\"{node}\"}} {}",
            nm.outgoing_byte_total
        );
    }
    let _ = writeln!(s, "# TYPE gregor_incoming_byte_total counter");
    for (node, nm) in &m.nodes {
        let _ = writeln!(
            s,
            "gregor_incoming_byte_total{{node=\"{node}\"}} {}",
            nm.incoming_byte_total
        );
    }
    let _ = writeln!(
        s,
        "# TYPE gregor_records_consumed_total counter\ngregor_records_consumed_total {records_consumed}"
    );
    s
}

/// Installs the Prometheus recorder of the `metrics` facade: the clients created after this
/// record into it.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    PrometheusBuilder::new().install_recorder().context("installing the Prometheus metrics recorder")
}

/// Binds `addr` and answers every request with the current metrics until the process ends:
/// the library's (`library`) then the CLI's own.
pub async fn serve(
    addr: &str,
    library: PrometheusHandle,
    source: impl Fn() -> (ConnectionMetrics, u64) + Send + Sync + 'static,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding --metrics-addr {addr}"))?;
    let source = std::sync::Arc::new(source);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let source = source.clone();
            let library = library.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = sock.read(&mut buf).await;
                let (m, n) = source();
                let mut body = library.render();
                body.push_str(&render(&m, n));
                let head = format!(
                    "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
            });
        }
    });
    Ok(())
}
