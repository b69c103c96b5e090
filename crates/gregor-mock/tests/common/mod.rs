//! A tiny raw Kafka client for the mock's tests: one TCP socket, explicit send/recv so tests
//! can pipeline requests and look at raw frames.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Generous bound for anything a test waits on.
pub const WAIT: Duration = Duration::from_secs(20);

pub struct RawClient {
    pub sock: TcpStream,
    next_corr: i32,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let sock = TcpStream::connect(addr)
            .await
            .expect("connect to mock broker");
        sock.set_nodelay(true).unwrap();
        RawClient { sock, next_corr: 1 }
    }

    /// Encodes and writes a request; returns its correlation id.
    pub async fn send<R: Request>(&mut self, req: &R, version: i16) -> i32 {
        let corr = self.next_corr;
        self.next_corr += 1;
        let key = ApiKey::try_from(R::KEY).unwrap();
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(corr)
            .with_client_id(Some(StrBytes::from_static_str("raw-test")));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, key.request_header_version(version))
            .unwrap();
        req.encode(&mut body, version).unwrap();
        self.write_frame(&body).await;
        corr
    }

    pub async fn write_frame(&mut self, body: &[u8]) {
        let mut f = BytesMut::with_capacity(body.len() + 4);
        f.put_i32(body.len() as i32);
        f.extend_from_slice(body);
        self.sock.write_all(&f).await.expect("write request");
    }

    /// Reads one length-prefixed frame (None on EOF / reset).
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        let mut len = [0u8; 4];
        self.sock.read_exact(&mut len).await.ok()?;
        let len = i32::from_be_bytes(len);
        assert!(
            (0..64 << 20).contains(&len),
            "frame length {len} out of range"
        );
        let mut b = vec![0u8; len as usize];
        self.sock.read_exact(&mut b).await.ok()?;
        Some(Bytes::from(b))
    }

    /// Reads and decodes a response to `R` at `version`; returns (correlation id, response).
    pub async fn recv<R: Request>(&mut self, version: i16) -> (i32, R::Response) {
        let mut frame = tokio::time::timeout(WAIT, self.read_frame())
            .await
            .expect("response in time")
            .expect("connection open");
        let key = ApiKey::try_from(R::KEY).unwrap();
        let header =
            ResponseHeader::decode(&mut frame, key.response_header_version(version)).unwrap();
        let resp = R::Response::decode(&mut frame, version).expect("decode response");
        assert!(
            !frame.has_remaining(),
            "{} trailing bytes after {key:?} v{version} response",
            frame.remaining()
        );
        (header.correlation_id, resp)
    }

    pub async fn call<R: Request>(&mut self, req: &R, version: i16) -> R::Response {
        let corr = self.send(req, version).await;
        let (got, resp) = self.recv::<R>(version).await;
        assert_eq!(got, corr, "correlation id");
        resp
    }

    /// True once the peer closed the socket (reads EOF or reset).
    pub async fn closed_by_peer(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(
            tokio::time::timeout(WAIT, self.sock.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

/// An uncompressed v2 batch of `(key, value)` records.
pub fn batch(records: &[(&str, &str)]) -> Bytes {
    let recs: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: -1,
            timestamp: 1_000 + i as i64,
            key: Some(Bytes::copy_from_slice(k.as_bytes())),
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &recs,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

pub fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}
