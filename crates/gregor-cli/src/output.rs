//! Record output formats of `gregor consume`: raw values, JSON lines, or nothing.

use std::io::Write;

use gregor::ConsumerRecord;

/// How `consume` prints records.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The value's raw bytes, one record per line (kafka-console-consumer's default).
    Text,
    /// One JSON object per line; non-UTF-8 bytes are base64 with an `*_encoding` flag.
    Json,
    /// Print nothing (for throughput runs with `--stats`).
    None,
}

/// Writes one record in `format`.
pub fn write_record(out: &mut impl Write, format: Format, r: &ConsumerRecord) -> std::io::Result<()> {
    match format {
        Format::None => Ok(()),
        Format::Text => {
            out.write_all(r.value.as_deref().unwrap_or_default())?;
            out.write_all(b"\n")
        }
        Format::Json => {
            let mut obj = serde_json::Map::new();
            obj.insert("topic".into(), r.topic.as_ref().into());
            obj.insert("partition".into(), r.partition.into());
            obj.insert("offset".into(), r.offset.into());
            obj.insert("timestamp".into(), r.timestamp.into());
            put_bytes(&mut obj, "key", r.key.as_deref());
            put_bytes(&mut obj, "value", r.value.as_deref());
            let headers: Vec<serde_json::Value> = r
                .headers
                .iter()
                .map(|h| {
                    let mut o = serde_json::Map::new();
                    put_bytes(&mut o, "key", Some(&h.key));
                    put_bytes(&mut o, "value", h.value.as_deref());
                    o.into()
                })
                .collect();
            obj.insert("headers".into(), headers.into());
            serde_json::to_writer(&mut *out, &serde_json::Value::Object(obj))?;
            out.write_all(b"\n")
        }
    }
}

/// `name: "text"` for UTF-8, else `name: "base64"` plus `name_encoding: "base64"`; null stays null.
fn put_bytes(obj: &mut serde_json::Map<String, serde_json::Value>, name: &str, bytes: Option<&[u8]>) {
    match bytes {
        None => {
            obj.insert(name.into(), serde_json::Value::Null);
        }
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => {
                obj.insert(name.into(), s.into());
            }
            Err(_) => {
                obj.insert(name.into(), base64(b).into());
                obj.insert(format!("{name}_encoding"), "base64".into());
            }
        },
    }
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        s.push(A[(n >> 18) as usize & 63] as char);
        s.push(A[(n >> 12) as usize & 63] as char);
        s.push(if c.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        s.push(if c.len() > 2 { A[n as usize & 63] as char } else { '=' });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xfe]), "//4=");
    }
}
