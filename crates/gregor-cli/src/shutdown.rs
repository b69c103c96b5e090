//! The signals that end a long-running command cleanly.
//!
//! `gregor consume` commits what it printed and leaves its group on the way out. It must do so
//! whether it is stopped from a terminal (Ctrl-C, SIGINT) or by a service manager: systemd,
//! Docker and Kubernetes send SIGTERM first and SIGKILL only after a grace period, so a consumer
//! that dies on SIGTERM loses its last offsets and makes its group wait a whole session timeout
//! before the partitions move. Java's console consumer behaves the same on both signals (its
//! shutdown hook runs for either).

/// Completes when the process is asked to stop: SIGINT or, on Unix, SIGTERM. Register it
/// (poll it once) before the work it interrupts starts; a signal that arrives earlier than
/// that ends the process the default way.
pub(crate) async fn requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            // No handler could be installed (no signal driver): SIGTERM keeps its default.
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
