//! Connections: the wire codec, one task per socket, and the sans-io connection manager.
//!
//! * [`codec`]: frames, headers, ApiVersions (no I/O).
//! * [`manager`]: every decision about sockets (no I/O, explicit time).
//! * [`connection`]: the task that owns one socket; [`framing`]: one frame off a bare stream
//!   (handshake, SASL); [`guard`]: the pre-decode check of every response body.
//! * [`client`]: the thin driver tying them together.
//! * [`events`]: the connection events and metrics users see.
//! * [`tls`], [`sasl`]: securing and authenticating a new socket.

pub(crate) mod backoff;
pub(crate) mod client;
pub(crate) mod codec;
pub(crate) mod connection;
pub mod events;
pub(crate) mod features;
pub(crate) mod framing;
pub(crate) mod guard;
#[cfg(feature = "gssapi")]
pub(crate) mod gssapi;
pub(crate) mod manager;
pub(crate) mod reauth;
pub(crate) mod sasl;
pub(crate) mod sniff;
pub(crate) mod tls;
#[cfg(feature = "tls")]
mod tls_rustls;
