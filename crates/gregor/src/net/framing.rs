//! Reading one whole frame off a stream before the connection task takes it over: the
//! ApiVersions handshake and SASL authentication talk request-by-request on the bare stream,
//! and the very first answer on a socket is sniffed ([`super::sniff`]) for a peer that is not
//! a Kafka listener at all.
//! (The task itself reads frames incrementally with [`FrameDecoder`] in `connection::serve`.)

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::codec::FrameDecoder;
use super::connection::ConnSpec;
use crate::error::{Error, ErrorKind, Result};

/// Reads until `dec` yields one frame (its length checked against `dec`'s cap before anything
/// is buffered for it). Bytes past that frame are not expected here: during setup the broker
/// only answers the one request in flight.
pub(crate) async fn read_one_frame<S: AsyncRead + Unpin>(stream: &mut S, dec: &FrameDecoder) -> Result<Bytes> {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if let Some(f) = dec.decode(&mut buf)? {
            return Ok(f);
        }
        let n = stream.read_buf(&mut buf).await.map_err(|e| Error::io("read failed", e))?;
        if n == 0 {
            return Err(Error::new(ErrorKind::Disconnected, "the broker closed the connection during the handshake"));
        }
    }
}

/// The first response of a connection, checked by [`super::sniff`] before it is taken as a
/// Kafka frame: an HTTP server, a TLS listener reached without TLS or any other non-Kafka
/// peer becomes one `ErrorKind::NotKafka` error instead of a frame-length error.
pub(crate) async fn read_first_frame<S: AsyncRead + Unpin>(stream: &mut S, dec: &FrameDecoder, spec: &ConnSpec) -> Result<Bytes> {
    let tls = spec.security.protocol.uses_tls();
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if buf.len() >= 5 {
            if let Some(e) = super::sniff::first_bytes(&buf, spec.max_frame, &spec.label, tls) {
                return Err(e);
            }
            if let Some(f) = dec.decode(&mut buf)? {
                return Ok(f);
            }
        }
        let n = stream.read_buf(&mut buf).await.map_err(|e| Error::io("read failed", e))?;
        if n == 0 {
            if let Some(e) = super::sniff::first_bytes(&buf, spec.max_frame, &spec.label, tls) {
                return Err(e);
            }
            return Err(Error::new(
                ErrorKind::Disconnected,
                "the broker closed the connection during the handshake (if it is a TLS listener, set security.protocol=SSL)",
            ));
        }
    }
}
