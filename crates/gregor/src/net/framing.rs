//! Reading one whole frame off a stream before the connection task takes it over: the
//! ApiVersions handshake and SASL authentication talk request-by-request on the bare stream.
//! (The task itself reads frames incrementally with [`FrameDecoder`] in `connection::serve`.)

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::codec::FrameDecoder;
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
