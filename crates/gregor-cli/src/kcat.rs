//! kcat's record output, byte for byte: `-f FORMAT` strings, `-K`/`-D` delimiters, `-Z` and the
//! `-J` JSON envelope.
//!
//! The rules are kcat 1.7's (`format.c` `fmt_parse`/`fmt_add`/`fmt_msg_output_str`, `kcat.c`
//! `parse_delim`, `json.c` `fmt_msg_output_json`), including their corners, because people
//! pipe kcat's output into other programs and expect the same bytes from gregor:
//!
//! * Escapes in the literal parts of a format: `\n \t \r`, `\xHH` (as many hex digits as
//!   follow, the value's low byte), `\NNN` (C `strtoul` base 0: decimal, `0`-prefixed octal,
//!   `0x` hex), any other `\c` is `c`. A literal part ends at the first NUL byte it produces.
//! * `-K`/`-D` delimiters go through kcat's `parse_delim` (`\n`, `\t`, `\xHH` only) and are then
//!   spliced into the default format `%k<KEY_DELIM>%s<DELIM>`, which is parsed again (so a `%` in
//!   a delimiter is a format token, exactly as in kcat).
//! * `%k`/`%s` print nothing for an empty or null key/value (or `-Z`'s `NULL`); `%K`/`%S` print
//!   -1 for null; `%h` prints `name=value` pairs joined by `,`, `NULL` for a null value.
//! * `-J` prints yajl's JSON: no spaces, control characters as `\u00XX`, other bytes as they are.

use std::io::{self, Write};

use gregor::{ConsumerRecord, TimestampType};

/// One element of a parsed format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal bytes (escapes already applied).
    Str(Vec<u8>),
    /// `%t`
    Topic,
    /// `%p`
    Partition,
    /// `%o`
    Offset,
    /// `%k`
    Key,
    /// `%K`
    KeyLen,
    /// `%s`
    Value,
    /// `%S`
    ValueLen,
    /// `%R`: the value length as a 4-byte big-endian integer (-1 for null).
    ValueLenBinary,
    /// `%T`
    Timestamp,
    /// `%h`
    Headers,
}

/// A parsed `-f` format (or the default one built from `-K`/`-D`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pieces: Vec<Piece>,
    /// `-Z`: print this for empty or null keys and values (kcat prints `NULL`).
    null: Option<Vec<u8>>,
}

/// kcat's `-Z` text.
pub const NULL_STR: &[u8] = b"NULL";

impl Format {
    /// Parses a `-f` format string as kcat does.
    pub fn parse(fmt: &[u8]) -> Result<Format, String> {
        Ok(Format { pieces: parse_pieces(fmt)?, null: None })
    }

    /// The format kcat uses without `-f`: `%k<key_delim>%s<delim>` with `-K`, else `%s<delim>`.
    /// Both delimiters are raw `-K`/`-D` arguments (kcat's `parse_delim` is applied here).
    pub fn default_for(key_delim: Option<&str>, delim: &str) -> Result<Format, String> {
        let delim = parse_delim(delim)?;
        let mut fmt = Vec::new();
        if let Some(k) = key_delim {
            fmt.extend_from_slice(b"%k");
            fmt.extend_from_slice(&parse_delim(k)?);
        }
        fmt.extend_from_slice(b"%s");
        fmt.extend_from_slice(&delim);
        // kcat builds this with snprintf into a 64-byte buffer.
        fmt.truncate(63);
        Format::parse(&fmt)
    }

    /// `-Z`: print `NULL` for empty and null keys and values.
    pub fn with_null_str(mut self, on: bool) -> Format {
        self.null = on.then(|| NULL_STR.to_vec());
        self
    }

    /// The pieces, for tests.
    #[cfg(test)]
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// With `-J` the format is only the separator written after each JSON object: kcat writes
    /// its first element when that is literal text.
    pub fn json_suffix(&self) -> &[u8] {
        match self.pieces.first() {
            Some(Piece::Str(s)) => s,
            _ => &[],
        }
    }

    /// Writes one record.
    pub fn write(&self, out: &mut impl Write, r: &ConsumerRecord) -> io::Result<()> {
        for p in &self.pieces {
            match p {
                Piece::Str(s) => out.write_all(s)?,
                Piece::Topic => out.write_all(r.topic.as_bytes())?,
                Piece::Partition => write!(out, "{}", r.partition)?,
                Piece::Offset => write!(out, "{}", r.offset)?,
                Piece::Key => self.bytes_or_null(out, r.key.as_deref())?,
                Piece::Value => self.bytes_or_null(out, r.value.as_deref())?,
                Piece::KeyLen => write!(out, "{}", r.key.as_ref().map_or(-1, |k| k.len() as i64))?,
                Piece::ValueLen => write!(out, "{}", r.value.as_ref().map_or(-1, |v| v.len() as i64))?,
                Piece::ValueLenBinary => {
                    let n = r.value.as_ref().map_or(-1i64, |v| v.len() as i64) as u32;
                    out.write_all(&n.to_be_bytes())?
                }
                Piece::Timestamp => write!(out, "{}", timestamp(r))?,
                Piece::Headers => {
                    for (i, h) in r.headers.iter().enumerate() {
                        if i > 0 {
                            out.write_all(b",")?;
                        }
                        out.write_all(until_nul(&h.key))?;
                        out.write_all(b"=")?;
                        match &h.value {
                            // printf("%.*s"): stops at a NUL byte.
                            Some(v) => out.write_all(until_nul(v))?,
                            None => out.write_all(b"NULL")?,
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn bytes_or_null(&self, out: &mut impl Write, b: Option<&[u8]>) -> io::Result<()> {
        match (b, &self.null) {
            (Some(b), _) if !b.is_empty() => out.write_all(b),
            (_, Some(null)) => out.write_all(null),
            _ => Ok(()),
        }
    }
}

/// The record's timestamp as kcat prints it (-1 when the record has none).
fn timestamp(r: &ConsumerRecord) -> i64 {
    match r.timestamp_type {
        TimestampType::NoTimestamp => -1,
        _ => r.timestamp,
    }
}

fn until_nul(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// kcat's `fmt_parse`: literal runs and `%` tokens.
fn parse_pieces(fmt: &[u8]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut s = fmt;
    while !s.is_empty() {
        let Some(t) = s.iter().position(|&c| c == b'%') else {
            pieces.push(Piece::Str(unescape(s)));
            break;
        };
        if t > 0 {
            pieces.push(Piece::Str(unescape(&s[..t])));
        }
        let Some(&c) = s.get(t + 1) else {
            return Err("empty formatter: the format ends with '%' (write %% for a percent sign)".into());
        };
        pieces.push(match c {
            b'o' => Piece::Offset,
            b'k' => Piece::Key,
            b'K' => Piece::KeyLen,
            b's' => Piece::Value,
            b'S' => Piece::ValueLen,
            b'R' => Piece::ValueLenBinary,
            b't' => Piece::Topic,
            b'p' => Piece::Partition,
            b'T' => Piece::Timestamp,
            b'h' => Piece::Headers,
            b'%' => Piece::Str(b"%".to_vec()),
            other => {
                return Err(format!(
                    "unsupported formatter %{} (known: %t %p %o %k %K %s %S %R %T %h %%)",
                    String::from_utf8_lossy(&[other])
                ))
            }
        });
        s = &s[t + 2..];
    }
    Ok(pieces)
}

/// kcat's `fmt_add` escape conversion of one literal run.
fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && i + 1 < s.len() {
            i += 1;
            let mut base = 0;
            match s[i] {
                b't' => out.push(b'\t'),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                c => {
                    let mut c = c;
                    if c == b'x' {
                        i += 1;
                        base = 16;
                        c = s.get(i).copied().unwrap_or(0);
                    }
                    if c.is_ascii_digit() {
                        let (value, used) = strtoul(&s[i..], base);
                        out.push(value as u8);
                        if used > 0 {
                            i += used - 1;
                        }
                    } else {
                        out.push(c);
                    }
                }
            }
        } else {
            out.push(s[i]);
        }
        i += 1;
    }
    // kcat stores the run as a C string: it ends at the first NUL.
    if let Some(n) = out.iter().position(|&c| c == 0) {
        out.truncate(n);
    }
    out
}

/// C's `strtoul(s, &end, base)` for base 0 or 16 on input that starts with a digit: the value
/// (saturated like `ULONG_MAX`) and how many bytes it consumed.
fn strtoul(s: &[u8], base: u32) -> (u64, usize) {
    let mut i = 0;
    let hex_prefix = s.len() > 2 && s[0] == b'0' && (s[1] | 0x20) == b'x' && s[2].is_ascii_hexdigit();
    let radix = match base {
        16 => {
            if hex_prefix {
                i = 2;
            }
            16
        }
        _ if hex_prefix => {
            i = 2;
            16
        }
        _ if s.first() == Some(&b'0') => 8,
        _ => 10,
    };
    let mut v: u64 = 0;
    let start = i;
    while i < s.len() {
        let Some(d) = (s[i] as char).to_digit(radix) else { break };
        v = v.checked_mul(radix as u64).and_then(|v| v.checked_add(d as u64)).unwrap_or(u64::MAX);
        i += 1;
    }
    if i == start {
        return (0, 0);
    }
    (v, i)
}

/// kcat's `parse_delim` for `-D` and `-K`: `\n`, `\t` and `\xHH` (all `\n` first, then all
/// `\t`, then each `\x`, as kcat replaces them). The result ends at the first NUL, as kcat
/// measures it with `strlen`.
pub fn parse_delim(s: &str) -> Result<Vec<u8>, String> {
    let mut b = s.as_bytes().to_vec();
    loop {
        if let Some(t) = find(&b, b"\\n") {
            b.splice(t..t + 2, [b'\n']);
        } else if let Some(t) = find(&b, b"\\t") {
            b.splice(t..t + 2, [b'\t']);
        } else if let Some(t) = find(&b, b"\\x") {
            let (v, used) = strtoul_hex_any(&b[t + 2..]);
            if used == 0 {
                return Err(format!(
                    "delimiter {} expects a hex number after \\x",
                    String::from_utf8_lossy(&b[t..])
                ));
            }
            b.splice(t..t + 2 + used, [(v & 0xff) as u8]);
        } else {
            break;
        }
    }
    if let Some(n) = b.iter().position(|&c| c == 0) {
        b.truncate(n);
    }
    Ok(b)
}

/// `strtoul(s, &end, 16)` where `s` may start with anything.
fn strtoul_hex_any(s: &[u8]) -> (u64, usize) {
    if s.first().is_some_and(|c| c.is_ascii_hexdigit()) {
        strtoul_hex_digits(s)
    } else {
        (0, 0)
    }
}

fn strtoul_hex_digits(s: &[u8]) -> (u64, usize) {
    let prefix = s.len() > 2 && s[0] == b'0' && (s[1] | 0x20) == b'x' && s[2].is_ascii_hexdigit();
    let mut i = if prefix { 2 } else { 0 };
    let mut v: u64 = 0;
    while i < s.len() && s[i].is_ascii_hexdigit() {
        let d = (s[i] as char).to_digit(16).unwrap_or(0) as u64;
        v = v.checked_mul(16).and_then(|v| v.checked_add(d)).unwrap_or(u64::MAX);
        i += 1;
    }
    (v, i)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// kcat's `-J` envelope for one record, then `suffix`. `broker` is the id of the broker the
/// record was fetched from (-1 when unknown).
pub fn write_json(out: &mut impl Write, r: &ConsumerRecord, broker: i32, suffix: &[u8]) -> io::Result<()> {
    let mut b = Vec::with_capacity(128 + r.value.as_ref().map_or(0, |v| v.len()));
    b.extend_from_slice(b"{\"topic\":");
    json_str(&mut b, r.topic.as_bytes());
    write!(b, ",\"partition\":{},\"offset\":{}", r.partition, r.offset)?;
    match r.timestamp_type {
        TimestampType::NoTimestamp => {}
        t => {
            let name = if t == TimestampType::LogAppendTime { "logappend" } else { "create" };
            write!(b, ",\"tstype\":\"{name}\",\"ts\":{}", r.timestamp)?;
        }
    }
    write!(b, ",\"broker\":{broker}")?;
    if !r.headers.is_empty() {
        b.extend_from_slice(b",\"headers\":[");
        for (i, h) in r.headers.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            json_str(&mut b, until_nul(&h.key));
            b.push(b',');
            match &h.value {
                Some(v) => json_str(&mut b, v),
                None => b.extend_from_slice(b"null"),
            }
        }
        b.push(b']');
    }
    b.extend_from_slice(b",\"key\":");
    match &r.key {
        Some(k) => json_str(&mut b, k),
        None => b.extend_from_slice(b"null"),
    }
    b.extend_from_slice(b",\"payload\":");
    match &r.value {
        Some(v) => json_str(&mut b, v),
        None => b.extend_from_slice(b"null"),
    }
    b.push(b'}');
    b.extend_from_slice(suffix);
    out.write_all(&b)
}

/// A JSON string as yajl writes it without validation: `"` `\` `\b \f \n \r \t` escaped,
/// other control characters as `\u00XX`, every other byte (UTF-8 or not) as it is.
pub fn json_str(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
#[path = "kcat_tests.rs"]
mod tests;
