//! "Is this a Kafka listener at all?": what the first bytes a peer sends say about it.
//!
//! A Kafka response starts with a 4-byte length. Pointed at an HTTP server, a client reads
//! `HTTP` as a length of 1,213,486,160 bytes; pointed at a TLS listener with plaintext, the
//! broker's TLS alert (`15 03 03 ..`) reads as ~352 MB; pointed at SSH, `SSH-` as ~1.4 GB.
//! Each would otherwise surface as "frame exceeds response.max.bytes" and a reconnect loop.
//! Only the first bytes of a connection are checked (the ApiVersions response), where no
//! legitimate Kafka length is anywhere near these values, so the check cannot misfire on a
//! real broker.

use crate::error::{Error, ErrorKind};

/// The TLS record content types (RFC 8446 §5.1: change_cipher_spec 20, alert 21,
/// handshake 22, application_data 23), each followed by major version 3.
fn is_tls_record(b: &[u8]) -> bool {
    b.len() >= 2 && (0x14..=0x17).contains(&b[0]) && b[1] == 0x03
}

/// Judges the first bytes a peer sent on a new connection (at least 4, or fewer when the peer
/// closed after them). `max_frame` is `response.max.bytes`. `None`: could be Kafka.
pub(crate) fn first_bytes(b: &[u8], max_frame: usize, label: &str, tls: bool) -> Option<Error> {
    if b.len() >= 4 && (b.starts_with(b"HTTP/") || b.starts_with(b"HTTP")) {
        let status = b.split(|&c| c == b'\r' || c == b'\n').next().unwrap_or_default();
        return Some(not_kafka(format!(
            "{label} is not a Kafka listener: it answered HTTP (\"{}\"); check the host and port of bootstrap.servers",
            printable(status, 40)
        )));
    }
    if !tls && is_tls_record(b) {
        return Some(not_kafka(format!(
            "{label} answered with TLS: it is an SSL listener, but security.protocol is PLAINTEXT \
             (set security.protocol=SSL, or SASL_SSL)"
        )));
    }
    if b.len() >= 4 {
        let len = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        if len < 0 || len as usize > max_frame {
            let what = if b.iter().take(16).all(|c| c.is_ascii_graphic() || *c == b' ') {
                format!("it answered \"{}\"", printable(b, 40))
            } else {
                format!("its answer starts with bytes {}", hex(&b[..b.len().min(8)]))
            };
            return Some(not_kafka(format!(
                "{label} is not a Kafka listener: {what}, which is no Kafka response; check the host and port"
            )));
        }
    }
    None
}

/// A TLS handshake that the peer ended without a single TLS record: what a plaintext Kafka
/// listener does with a ClientHello (it reads `16 03 01 ..` as a ~369 MB request size and
/// closes, `NetworkReceive`'s `InvalidReceiveException`).
#[cfg(feature = "tls")]
pub(crate) fn tls_to_plaintext(label: &str, detail: &str) -> Error {
    not_kafka(format!(
        "TLS handshake with {label} failed ({detail}): it does not speak TLS, it looks like a PLAINTEXT \
         listener (check security.protocol and the port)"
    ))
}

fn not_kafka(msg: String) -> Error {
    Error::new(ErrorKind::NotKafka, msg)
}

fn printable(b: &[u8], max: usize) -> String {
    b.iter()
        .take(max)
        .map(|&c| if c.is_ascii_graphic() || c == b' ' { c as char } else { '.' })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 100 * 1024 * 1024;

    #[test]
    fn http_is_named() {
        let e = first_bytes(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n", MAX, "h:80", false).unwrap();
        assert_eq!(e.kind(), ErrorKind::NotKafka);
        assert!(e.to_string().contains("answered HTTP (\"HTTP/1.1 400 Bad Request\")"), "{e}");
    }

    #[test]
    fn a_tls_alert_on_a_plaintext_connection_is_named() {
        let e = first_bytes(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a], MAX, "b:9093", false).unwrap();
        assert!(e.to_string().contains("SSL listener"), "{e}");
        // Over TLS the same bytes are application data: judged as a length (here too large).
        let e = first_bytes(&[0x15, 0x03, 0x03, 0x00], MAX, "b:9093", true).unwrap();
        assert!(e.to_string().contains("starts with bytes 15 03 03 00"), "{e}");
    }

    #[test]
    fn other_protocols_show_their_banner() {
        let e = first_bytes(b"SSH-2.0-OpenSSH_9.2p1\r\n", MAX, "h:22", false).unwrap();
        assert!(e.to_string().contains("answered \"SSH-2.0-OpenSSH_9.2p1..\""), "{e}");
    }

    #[test]
    fn kafka_lengths_pass() {
        assert!(first_bytes(&[0, 0, 1, 0x2c, 0, 0, 0, 0], MAX, "b", false).is_none());
        assert!(first_bytes(&[0, 0, 1], MAX, "b", false).is_none());
    }
}
