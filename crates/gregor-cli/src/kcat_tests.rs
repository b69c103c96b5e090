//! kcat's format corners, from reading kcat 1.7's format.c/kcat.c/json.c; the integration tests
//! (`tests/kcat_compat.rs`) check the same against the kcat binary where it is installed.

use std::sync::Arc;

use bytes::Bytes;
use gregor::{ConsumerRecord, Header, TimestampType};

use super::*;

fn rec(key: Option<&[u8]>, value: Option<&[u8]>) -> ConsumerRecord {
    ConsumerRecord {
        topic: Arc::from("orders"),
        partition: 2,
        offset: 17,
        timestamp: 1_700_000_000_123,
        timestamp_type: TimestampType::CreateTime,
        key: key.map(Bytes::copy_from_slice),
        value: value.map(Bytes::copy_from_slice),
        headers: vec![],
        leader_epoch: None,
    }
}

fn render(f: &Format, r: &ConsumerRecord) -> Vec<u8> {
    let mut out = Vec::new();
    f.write(&mut out, r).unwrap();
    out
}

#[test]
fn every_token() {
    let mut r = rec(Some(b"k1"), Some(b"hello"));
    r.headers = vec![
        Header { key: Bytes::from_static(b"a"), value: Some(Bytes::from_static(b"1")) },
        Header { key: Bytes::from_static(b"b"), value: None },
        Header { key: Bytes::from_static(b"c"), value: Some(Bytes::new()) },
    ];
    let f = Format::parse(br"%t|%p|%o|%k|%K|%s|%S|%T|%h|%%\n").unwrap();
    assert_eq!(render(&f, &r), b"orders|2|17|k1|2|hello|5|1700000000123|a=1,b=NULL,c=|%\n");
}

#[test]
fn null_and_empty_keys_and_values() {
    let f = Format::parse(b"[%k][%K][%s][%S]").unwrap();
    assert_eq!(render(&f, &rec(None, None)), b"[][-1][][-1]");
    assert_eq!(render(&f, &rec(Some(b""), Some(b""))), b"[][0][][0]");
    let z = f.with_null_str(true);
    assert_eq!(render(&z, &rec(None, None)), b"[NULL][-1][NULL][-1]");
    assert_eq!(render(&z, &rec(Some(b""), Some(b"x"))), b"[NULL][0][x][1]");
}

#[test]
fn escapes_in_literal_text() {
    let p = |s: &[u8]| Format::parse(s).unwrap().pieces().to_vec();
    assert_eq!(p(br"a\tb\nc\rd"), vec![Piece::Str(b"a\tb\nc\rd".to_vec())]);
    assert_eq!(p(br"\x41\x4a"), vec![Piece::Str(b"AJ".to_vec())]);
    // After \x only a decimal digit starts a number (kcat's fallthrough into its digit check).
    assert_eq!(p(br"\xAB"), vec![Piece::Str(b"AB".to_vec())]);
    // Base 0: decimal, 0-prefixed octal, 0x hex.
    assert_eq!(p(br"\65\0101\0x43"), vec![Piece::Str(b"AAC".to_vec())]);
    assert_eq!(p(br"\q\\"), vec![Piece::Str(b"q\\".to_vec())]);
    // A trailing backslash stays; a NUL ends the literal run.
    assert_eq!(p(br"x\"), vec![Piece::Str(b"x\\".to_vec())]);
    assert_eq!(p(br"ab\0cd%s"), vec![Piece::Str(b"ab".to_vec()), Piece::Value]);
}

#[test]
fn bad_formats_are_refused() {
    assert!(Format::parse(b"%s%").unwrap_err().contains("empty formatter"));
    assert!(Format::parse(b"%x").unwrap_err().contains("unsupported formatter %x"));
}

#[test]
fn default_formats_follow_kcat() {
    let f = Format::default_for(None, r"\n").unwrap();
    assert_eq!(f.pieces(), &[Piece::Value, Piece::Str(b"\n".to_vec())]);
    let f = Format::default_for(Some(":"), r"\n").unwrap();
    assert_eq!(f.pieces(), &[Piece::Key, Piece::Str(b":".to_vec()), Piece::Value, Piece::Str(b"\n".to_vec())]);
    // The delimiters are spliced into a format string: a % in them is a token, as in kcat.
    let f = Format::default_for(Some("%t"), "\n").unwrap();
    assert_eq!(f.pieces(), &[Piece::Key, Piece::Topic, Piece::Value, Piece::Str(b"\n".to_vec())]);
}

#[test]
fn delimiters_follow_parse_delim() {
    assert_eq!(parse_delim("").unwrap(), b"");
    assert_eq!(parse_delim(r"\n").unwrap(), b"\n");
    assert_eq!(parse_delim(r"\t\n\n").unwrap(), b"\t\n\n");
    assert_eq!(parse_delim(r"\x54!\x45\x53T").unwrap(), b"T!EST");
    assert_eq!(parse_delim(r"\x30").unwrap(), b"0");
    assert_eq!(parse_delim(r"a\x00|b").unwrap(), b"a");
    assert_eq!(parse_delim(r"a\x00b").unwrap(), b"a\x0b", "as many hex digits as follow");
    assert!(parse_delim(r"\xg").is_err());
}

#[test]
fn header_values_stop_at_nul_in_text_but_not_in_json() {
    let mut r = rec(None, Some(b"v"));
    r.headers = vec![Header { key: Bytes::from_static(b"h"), value: Some(Bytes::from_static(b"a\0b")) }];
    assert_eq!(render(&Format::parse(b"%h").unwrap(), &r), b"h=a");
    let mut j = Vec::new();
    write_json(&mut j, &r, 0, b"\n").unwrap();
    assert_eq!(
        String::from_utf8(j).unwrap(),
        "{\"topic\":\"orders\",\"partition\":2,\"offset\":17,\"tstype\":\"create\",\"ts\":1700000000123,\"broker\":0,\"headers\":[\"h\",\"a\\u0000b\"],\"key\":null,\"payload\":\"v\"}\n"
    );
}

#[test]
fn json_envelope_escapes_like_yajl() {
    let r = rec(Some(b"k\"\\/"), Some(b"\x01\x1f\x7f\t\x08\x0c\xff"));
    let mut j = Vec::new();
    write_json(&mut j, &r, 3, b"").unwrap();
    let mut expect = b"{\"topic\":\"orders\",\"partition\":2,\"offset\":17,\"tstype\":\"create\",\"ts\":1700000000123,\"broker\":3,\"key\":\"k\\\"\\\\/\",\"payload\":\"\\u0001\\u001F\x7f\\t\\b\\f".to_vec();
    expect.extend_from_slice(b"\xff\"}");
    assert_eq!(j, expect);
    let mut r = rec(None, None);
    r.timestamp_type = TimestampType::NoTimestamp;
    let mut j = Vec::new();
    write_json(&mut j, &r, -1, b"\n").unwrap();
    assert_eq!(j, b"{\"topic\":\"orders\",\"partition\":2,\"offset\":17,\"broker\":-1,\"key\":null,\"payload\":null}\n");
}

#[test]
fn json_suffix_is_the_literal_first_piece() {
    assert_eq!(Format::parse(b"\\n").unwrap().json_suffix(), b"\n");
    assert_eq!(Format::parse(b"%s\n").unwrap().json_suffix(), b"");
}
