//! A response that fails the pre-decode guard, on a live connection task (in-memory stream):
//! its request gets an error naming the API, the field and the broker, and the connection
//! closes with reason `error`; the requests behind it stay pending for `run` to fail (and their
//! callers to retry on a new connection).

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::{ApiKey, MetadataRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;

const LABEL: &str = "127.0.0.1:9092 (node 3)";

fn spec() -> ConnSpec {
    ConnSpec {
        conn_id: 1,
        host: "127.0.0.1".into(),
        port: 9092,
        label: LABEL.into(),
        addr_attempt: 0,
        client_id: "t".into(),
        max_frame: 1 << 20,
        request_timeout: Duration::from_secs(30),
        max_in_flight: 5,
        send_buffer: None,
        receive_buffer: None,
        security: SecurityContext::from_config(&Default::default()),
    }
}

fn metadata_request() -> (Envelope, oneshot::Receiver<Result<RawResponse>>) {
    let (reply, rx) = oneshot::channel();
    let env = Envelope {
        api_key: ApiKey::Metadata,
        versions: (12, 12),
        encode: Box::new(|v, corr, client| codec::encode_request(ApiKey::Metadata, v, corr, client, &MetadataRequest::default())),
        expect_response: true,
        timeout: None,
        reply,
    };
    (env, rx)
}

/// Reads `n` request frames and returns their correlation ids.
async fn read_requests(s: &mut DuplexStream, n: usize) -> Vec<i32> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await.unwrap();
        let mut req = vec![0u8; i32::from_be_bytes(len) as usize];
        s.read_exact(&mut req).await.unwrap();
        ids.push(i32::from_be_bytes([req[4], req[5], req[6], req[7]]));
    }
    ids
}

/// A Metadata v12 response frame (header v1: correlation id, empty tag section) around `body`.
fn frame(correlation: i32, body: &[u8]) -> Vec<u8> {
    let mut f = BytesMut::new();
    f.put_i32(5 + body.len() as i32);
    f.put_i32(correlation);
    f.put_u8(0);
    f.extend_from_slice(body);
    f.to_vec()
}

async fn serve_two_requests(first_body: &'static [u8]) -> ((CloseReason, Option<String>), Vec<Result<RawResponse>>, usize) {
    let (client, mut server) = tokio::io::duplex(1 << 16);
    let (tx, mut requests) = mpsc::channel(8);
    let (_close_tx, mut close) = oneshot::channel();
    let (reports, _reports_rx) = mpsc::unbounded_channel();
    let mut pending = VecDeque::new();
    let (a, a_rx) = metadata_request();
    let (b, b_rx) = metadata_request();
    tx.send(a).await.unwrap();
    tx.send(b).await.unwrap();
    let versions = BrokerVersions::from_ranges(&[(ApiKey::Metadata, 0, 12)]);
    let spec = spec();
    let io = Io { requests: &mut requests, close: &mut close, pending: &mut pending, reports: &reports };
    let broker = async move {
        let ids = read_requests(&mut server, 2).await;
        server.write_all(&frame(ids[0], first_body)).await.unwrap();
        // Keep the stream open: the connection must close because of the frame, not EOF.
        server
    };
    let (outcome, _server) = tokio::join!(serve(client, &spec, &versions, 0, io, Reauth::default()), broker);
    let first = a_rx.await.expect("first request answered");
    let left = pending.len();
    drop(b_rx);
    (outcome, vec![first], left)
}

#[tokio::test]
async fn a_hostile_response_fails_its_request_and_closes_the_connection_with_a_reason() {
    // Metadata v12: throttle time, then a brokers array of 4,294,967,294 entries in 10 bytes.
    const HOSTILE: &[u8] = &[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0];
    let ((reason, error), replies, left) = serve_two_requests(HOSTILE).await;
    assert_eq!(reason, CloseReason::Error);
    let error = error.expect("a close reason with the error");
    assert!(error.contains("Metadata v12") && error.contains("brokers: array count 4294967294"), "{error}");
    let e = replies.into_iter().next().unwrap().expect_err("the hostile response is an error").to_string();
    assert!(e.contains("Metadata v12") && e.contains("brokers") && e.contains(LABEL), "{e}");
    // The second request is still pending: `run` fails it with "connection closed" for its
    // caller to retry, nothing is answered from a stream that can no longer be trusted.
    assert_eq!(left, 1);
}

#[test]
fn a_well_formed_response_is_handed_over() {
    let mut pending = VecDeque::new();
    let (reply, mut rx) = oneshot::channel();
    let now = Instant::now();
    pending.push_back(Pending {
        correlation_id: 7,
        api_key: ApiKey::Metadata,
        version: 12,
        sent_at: now,
        deadline: now + Duration::from_secs(1),
        bytes_out: 0,
        reply,
    });
    // throttle 0, no brokers, null cluster id, controller -1, no topics, no tags.
    let body = [0, 0, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 1, 0];
    let f = Bytes::from(frame(7, &body)[4..].to_vec());
    complete(f, &mut pending, LABEL).unwrap();
    let raw = rx.try_recv().unwrap().unwrap();
    assert_eq!(&raw.body.bytes()[..], &body[..]);
    assert!(pending.is_empty());
}
