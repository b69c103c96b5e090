//! One broker: its listener and the per-connection task.
//!
//! Like a real broker, a connection processes ONE request at a time: Kafka's `SocketServer`
//! mutes a channel after reading a request and unmutes it only once the response is sent, so
//! a parked Fetch or JoinGroup delays everything behind it on that socket.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::accounting::RequestRecord;
use crate::faults::Malformed;
use crate::handlers::{self, Ctx};
use crate::state::Shared;

/// Largest request accepted (Kafka's `socket.request.max.bytes` default, 100 MiB).
const MAX_REQUEST: usize = 104_857_600;

/// Accept loop; ends when the task is aborted (broker down / shutdown), dropping the listener
/// so new connection attempts are refused by the OS.
pub(crate) async fn run_listener(
    shared: Arc<Shared>,
    broker_id: i32,
    listener: TcpListener,
    kill: watch::Receiver<u64>,
) {
    loop {
        let (sock, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(broker = broker_id, error = %e, "mock: accept failed");
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        let local = sock.local_addr().unwrap_or(peer);
        let conn = shared.accounting.opened(broker_id, peer, local);
        tracing::debug!(broker = broker_id, %peer, conn, "mock: accepted connection");
        let shared2 = shared.clone();
        let mut kill = kill.clone();
        kill.borrow_and_update();
        tokio::spawn(async move {
            tokio::select! {
                r = serve(shared2.clone(), broker_id, conn, peer, sock) => {
                    if let Err(e) = r { tracing::debug!(broker = broker_id, conn, reason = %e, "mock: connection closed"); }
                }
                _ = kill.changed() => { tracing::debug!(broker = broker_id, conn, "mock: connection killed"); }
            }
            shared2.accounting.closed(conn);
        });
    }
}

async fn serve(
    shared: Arc<Shared>,
    broker_id: i32,
    conn: u64,
    peer: SocketAddr,
    mut sock: TcpStream,
) -> anyhow::Result<()> {
    loop {
        let mut len = [0u8; 4];
        if sock.read_exact(&mut len).await.is_err() {
            return Ok(()); // client hung up
        }
        let len = i32::from_be_bytes(len);
        if len < 8 || len as usize > MAX_REQUEST {
            anyhow::bail!("invalid request size {len}");
        }
        let mut body = vec![0u8; len as usize];
        sock.read_exact(&mut body).await?;
        let body = Bytes::from(body);
        let api_key = i16::from_be_bytes([body[0], body[1]]);
        let api_version = i16::from_be_bytes([body[2], body[3]]);
        let correlation_id = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
        let nth = shared.accounting.request(
            conn,
            RequestRecord {
                api_key,
                api_version,
                correlation_id,
                received_at: std::time::Instant::now(),
            },
        );

        let (delay, drop_now, malformed) = {
            let mut f = shared.faults();
            (
                f.latency_for(broker_id, api_key),
                f.take_drop(broker_id, nth),
                f.take_malformed(broker_id, api_key),
            )
        };
        if drop_now {
            anyhow::bail!("fault: drop at request {nth}");
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if malformed == Some(Malformed::HangUp) {
            anyhow::bail!("fault: hang up");
        }
        let ctx = Ctx {
            shared: shared.clone(),
            broker_id,
            client_host: peer.ip().to_string(),
        };
        let response = handlers::dispatch(&ctx, body).await;
        shared.accounting.touch();
        let response = response?;
        let Some(frame) = response else { continue }; // acks=0 produce: no response
        match malformed {
            None | Some(Malformed::HangUp) => sock.write_all(&frame).await?,
            Some(kind) => {
                write_malformed(&mut sock, kind, frame).await?;
                if kind == Malformed::TruncatedThenHangUp {
                    anyhow::bail!("fault: truncated frame");
                }
            }
        }
    }
}

async fn write_malformed(
    sock: &mut TcpStream,
    kind: Malformed,
    frame: BytesMut,
) -> anyhow::Result<()> {
    match kind {
        Malformed::OversizedLength => {
            let mut b = BytesMut::new();
            b.put_i32(0x7FFF_FFF0);
            b.extend_from_slice(&frame[4..frame.len().min(12)]);
            sock.write_all(&b).await?;
        }
        Malformed::TruncatedThenHangUp => {
            let cut = 4 + (frame.len() - 4) / 2;
            sock.write_all(&frame[..cut]).await?;
            sock.flush().await?;
        }
        Malformed::WrongCorrelationId => {
            let mut f = frame;
            let c = i32::from_be_bytes([f[4], f[5], f[6], f[7]]);
            f[4..8].copy_from_slice(&c.wrapping_add(0x1000_0001).to_be_bytes());
            sock.write_all(&f).await?;
        }
        Malformed::RandomBytes => {
            let mut b = BytesMut::new();
            b.put_i32(64);
            for _ in 0..64 {
                b.put_u8(rand::random());
            }
            sock.write_all(&b).await?;
        }
        Malformed::HangUp | Malformed::BadCrc | Malformed::DecompressionBomb => {
            sock.write_all(&frame).await?
        }
    }
    Ok(())
}
