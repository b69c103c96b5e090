//! The ApiVersions handshake against hand-made servers on an in-memory stream (issue #13).

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};
use kafka_protocol::protocol::Encodable;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;
use crate::protocol_errors::KafkaCode;

fn spec() -> ConnSpec {
    ConnSpec {
        conn_id: 1,
        host: "127.0.0.1".into(),
        port: 9092,
        label: "127.0.0.1:9092 (bootstrap)".into(),
        addr_attempt: 0,
        client_id: "t".into(),
        max_frame: 1 << 20,
        request_timeout: Duration::from_secs(5),
        max_in_flight: 5,
        send_buffer: None,
        receive_buffer: None,
        security: SecurityContext::from_config(&Default::default()),
    }
}

/// How the fake server answers an ApiVersions request at `version`: (body layout, error, the
/// ApiVersions range it lists, or none).
type Script = fn(i16) -> (i16, KafkaCode, Option<(i16, i16)>);

/// Serves ApiVersions requests by `script` until the client hangs up; returns the versions asked.
async fn serve(mut s: DuplexStream, script: Script) -> Vec<i16> {
    let mut asked = Vec::new();
    loop {
        let mut len = [0u8; 4];
        if s.read_exact(&mut len).await.is_err() {
            return asked;
        }
        let mut req = vec![0u8; i32::from_be_bytes(len) as usize];
        s.read_exact(&mut req).await.unwrap();
        assert_eq!(i16::from_be_bytes([req[0], req[1]]), ApiKey::ApiVersions as i16);
        let version = i16::from_be_bytes([req[2], req[3]]);
        let correlation = i32::from_be_bytes([req[4], req[5], req[6], req[7]]);
        asked.push(version);
        let (layout, error, range) = script(version);
        let mut resp = ApiVersionsResponse::default().with_error_code(error.0);
        if let Some((lo, hi)) = range {
            resp.api_keys.push(
                ApiVersion::default().with_api_key(ApiKey::ApiVersions as i16).with_min_version(lo).with_max_version(hi),
            );
            resp.api_keys.push(ApiVersion::default().with_api_key(ApiKey::Fetch as i16).with_min_version(0).with_max_version(11));
        }
        let mut body = BytesMut::new();
        resp.encode(&mut body, layout).unwrap();
        let mut frame = BytesMut::new();
        frame.put_i32(4 + body.len() as i32);
        frame.put_i32(correlation); // ApiVersions responses always use header v0
        frame.extend_from_slice(&body);
        s.write_all(&frame).await.unwrap();
    }
}

async fn run_handshake(script: Script) -> (Result<BrokerVersions>, Vec<i16>) {
    let (mut client, server) = tokio::io::duplex(1 << 16);
    let server = tokio::spawn(serve(server, script));
    let r = handshake(&mut client, &spec()).await;
    drop(client);
    (r, server.await.unwrap())
}

#[tokio::test]
async fn server_answering_in_the_request_layout_is_retried_at_its_max() {
    // The third-party server of issue #13: refuses v3 in the v3 layout, lists max v2.
    let (r, asked) = run_handshake(|v| match v {
        3 => (3, KafkaCode::UNSUPPORTED_VERSION, Some((0, 2))),
        v => (v, KafkaCode::NONE, Some((0, 2))),
    })
    .await;
    assert_eq!(asked, vec![3, 2]);
    assert_eq!(r.unwrap().pick(ApiKey::Fetch, (4, 17)), Some(11));
}

#[tokio::test]
async fn kafka_style_v0_refusal_without_range_goes_to_v0() {
    // A pre-2.4 Apache Kafka: UNSUPPORTED_VERSION in the v0 layout, no ranges listed.
    let (r, asked) = run_handshake(|v| match v {
        0 => (0, KafkaCode::NONE, Some((0, 2))),
        _ => (0, KafkaCode::UNSUPPORTED_VERSION, None),
    })
    .await;
    assert_eq!(asked, vec![3, 0]);
    assert!(r.is_ok());
}

#[tokio::test]
async fn stepping_down_one_version_at_a_time_still_ends() {
    // Each refusal advertises one less than what was asked: 3, 2, 1, 0 — then success.
    let (r, asked) = run_handshake(|v| match v {
        0 => (0, KafkaCode::NONE, Some((0, 0))),
        v => (v, KafkaCode::UNSUPPORTED_VERSION, Some((0, v - 1))),
    })
    .await;
    assert_eq!(asked, vec![3, 2, 1, 0]);
    assert!(r.is_ok());
}

#[tokio::test]
async fn a_server_refusing_every_version_is_a_clear_error_naming_the_endpoint() {
    let (r, asked) = run_handshake(|v| (v, KafkaCode::UNSUPPORTED_VERSION, None)).await;
    assert_eq!(asked, vec![3, 0]);
    let e = r.unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("ApiVersions handshake with 127.0.0.1:9092 (bootstrap) failed"), "{msg}");
    assert!(msg.contains("UNSUPPORTED_VERSION"), "{msg}");
    assert_eq!(e.broker(), Some("127.0.0.1:9092 (bootstrap)"));
}

#[tokio::test]
async fn an_unreadable_answer_is_a_clear_error_naming_the_endpoint() {
    let (mut client, mut server) = tokio::io::duplex(1 << 16);
    let srv = tokio::spawn(async move {
        let mut len = [0u8; 4];
        server.read_exact(&mut len).await.unwrap();
        let mut req = vec![0u8; i32::from_be_bytes(len) as usize];
        server.read_exact(&mut req).await.unwrap();
        // Correlation id 0, then a body that is neither layout.
        server.write_all(&[0, 0, 0, 7, 0, 0, 0, 0, 0xff, 0xff, 0xff]).await.unwrap();
        server
    });
    let e = handshake(&mut client, &spec()).await.unwrap_err();
    let _keep_open = srv.await.unwrap();
    let msg = e.to_string();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(msg.contains("127.0.0.1:9092 (bootstrap)") && msg.contains("v0 layout"), "{msg}");
}
