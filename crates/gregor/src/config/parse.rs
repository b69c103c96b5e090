//! Value syntax shared by all keys, and the Java `.properties` format.

use std::time::Duration;

use super::error::ConfigError;

/// Parses Java `.properties` text into `(key, value)` pairs in file order.
///
/// Follows `java.util.Properties.load`: lines starting (after blanks) with `#` or `!` are
/// comments; the key ends at the first unescaped `=`, `:` or blank, and one `=`/`:` plus the
/// blanks around it separate key from value; a line ending in an odd number of backslashes
/// continues on the next line (whose leading blanks are dropped); `\t`, `\n`, `\r`, `\f` and
/// `\uXXXX` are escapes, and any other escaped character stands for itself. A key given twice
/// keeps its last value when the pairs are applied in order.
pub fn parse_properties(text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((idx, first)) = lines.next() {
        let start_line = idx + 1;
        let trimmed = first.trim_start_matches(is_blank);
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        // Join continuation lines into one logical line.
        let mut logical = String::new();
        let mut current = trimmed.to_string();
        loop {
            if ends_with_odd_backslashes(&current) {
                current.pop();
                logical.push_str(&current);
                match lines.next() {
                    Some((_, next)) => current = next.trim_start_matches(is_blank).to_string(),
                    None => break,
                }
            } else {
                logical.push_str(&current);
                break;
            }
        }
        let (raw_key, raw_value) = split_key_value(&logical);
        let key = unescape(raw_key, start_line)?;
        let value = unescape(raw_value, start_line)?;
        out.push((key, value));
    }
    Ok(out)
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\u{c}'
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Splits a logical line into raw (still escaped) key and value.
fn split_key_value(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut escaped = false;
    while i < bytes.len() {
        let c = bytes[i];
        if escaped {
            escaped = false;
        } else if c == b'\\' {
            escaped = true;
        } else if c == b'=' || c == b':' || c == b' ' || c == b'\t' || c == 0x0c {
            break;
        }
        i += 1;
    }
    let key = &line[..i];
    let mut rest = line[i..].trim_start_matches(is_blank);
    if let Some(r) = rest.strip_prefix('=').or_else(|| rest.strip_prefix(':')) {
        rest = r.trim_start_matches(is_blank);
    }
    (key, rest)
}

fn unescape(s: &str, line: usize) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| ConfigError::Syntax {
                        line,
                        message: format!("malformed \\uXXXX escape '\\u{hex}'"),
                    })?;
                // A surrogate pair arrives as two escapes; decode it when it does.
                if (0xD800..0xDC00).contains(&code) {
                    let rest = chars.as_str();
                    let low = rest
                        .strip_prefix("\\u")
                        .and_then(|r| r.get(..4))
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .filter(|l| (0xDC00..0xE000).contains(l));
                    if let Some(low) = low {
                        let combined = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        out.push(char::from_u32(combined).unwrap_or('\u{fffd}'));
                        for _ in 0..6 {
                            chars.next();
                        }
                        continue;
                    }
                }
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Typed values. Java trims surrounding whitespace of every value (`ConfigDef.parseType`).

pub(crate) fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConfigError::invalid(key, value, "true or false")),
    }
}

pub(crate) fn parse_i64(key: &str, value: &str) -> Result<i64, ConfigError> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| ConfigError::invalid(key, value, "an integer"))
}

/// An integer within `min..=max`.
pub(crate) fn parse_range(key: &str, value: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    let v = parse_i64(key, value)?;
    if v < min || v > max {
        return Err(ConfigError::invalid(
            key,
            value,
            format!("an integer between {min} and {max}"),
        ));
    }
    Ok(v)
}

pub(crate) fn parse_u32(key: &str, value: &str, min: u32) -> Result<u32, ConfigError> {
    parse_range(key, value, i64::from(min), i64::from(i32::MAX)).map(|v| v as u32)
}

/// A non-negative millisecond count.
pub(crate) fn parse_ms(key: &str, value: &str) -> Result<Duration, ConfigError> {
    parse_ms_min(key, value, 0)
}

pub(crate) fn parse_ms_min(key: &str, value: &str, min: u64) -> Result<Duration, ConfigError> {
    let v = parse_i64(key, value)?;
    if v < min as i64 {
        return Err(ConfigError::invalid(
            key,
            value,
            format!("a number of milliseconds >= {min}"),
        ));
    }
    Ok(Duration::from_millis(v as u64))
}

/// A millisecond count where `-1` means "never" (`None`).
pub(crate) fn parse_ms_or_never(key: &str, value: &str) -> Result<Option<Duration>, ConfigError> {
    let v = parse_i64(key, value)?;
    match v {
        -1 => Ok(None),
        v if v >= 0 => Ok(Some(Duration::from_millis(v as u64))),
        _ => Err(ConfigError::invalid(
            key,
            value,
            "a number of milliseconds >= 0, or -1 for never",
        )),
    }
}

/// A comma-separated list; blank entries are dropped (Java `ConfigDef.Type.LIST`).
pub(crate) fn parse_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// An optional string: empty means unset, like Java's `null` default.
pub(crate) fn parse_opt_string(value: &str) -> Option<String> {
    let v = value.trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// Milliseconds of a duration for display in errors (saturating).
pub(crate) fn ms(d: Duration) -> u128 {
    d.as_millis()
}

// ---------------------------------------------------------------------------------------------
// Typo suggestions.

/// Optimal-string-alignment distance (Levenshtein plus adjacent transposition).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[n][m]
}

/// The candidate closest to `key`, if it is close enough to be a plausible typo: within edit
/// distance 2 (3 for keys of 16+ characters), or a candidate that extends `key` (a missing
/// `.ms` suffix) or that `key` extends by a short tail.
pub(crate) fn suggest<'a>(
    key: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let key = key.trim().to_ascii_lowercase();
    let limit = if key.chars().count() >= 16 { 3 } else { 2 };
    let mut best: Option<(usize, &'a str)> = None;
    for cand in candidates {
        let mut dist = edit_distance(&key, cand);
        if key.len() >= 4 && (cand.starts_with(&key) || key.starts_with(cand)) {
            // Treat a pure prefix as a near miss regardless of how much is missing.
            dist = dist.min(limit);
        }
        if dist <= limit && !matches!(best, Some((d, _)) if d <= dist) {
            best = Some((dist, cand));
        }
    }
    best.map(|(_, c)| c)
}

/// Reads a Java `.properties` file as UTF-8 text (the consumer's and producer's
/// `from_properties_file`).
pub(crate) fn read_properties_file(path: &std::path::Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(text: &str) -> Vec<(String, String)> {
        parse_properties(text).unwrap()
    }

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn properties_separators_and_comments() {
        let text = "# comment\n! also comment\n\n  a=1\nb : 2\nc 3\nd=\ne\n  f  =  x y  \n";
        assert_eq!(
            props(text),
            vec![
                kv("a", "1"),
                kv("b", "2"),
                kv("c", "3"),
                kv("d", ""),
                kv("e", ""),
                kv("f", "x y  ")
            ]
        );
    }

    #[test]
    fn properties_continuation_lines() {
        let text = "bootstrap.servers=a:1,\\\n    b:2,\\\n\tc:3\nnext=1\n";
        assert_eq!(
            props(text),
            vec![kv("bootstrap.servers", "a:1,b:2,c:3"), kv("next", "1")]
        );
        // An even number of trailing backslashes is an escaped backslash, not a continuation.
        assert_eq!(props("p=c:\\\\\nq=1"), vec![kv("p", "c:\\"), kv("q", "1")]);
        // Continuation at end of input just ends the value.
        assert_eq!(props("a=x\\"), vec![kv("a", "x")]);
    }

    #[test]
    fn properties_escapes() {
        assert_eq!(props("k\\=ey=v\\:al"), vec![kv("k=ey", "v:al")]);
        assert_eq!(props("a=\\u0041\\u00e9\\t."), vec![kv("a", "Aé\t.")]);
        assert_eq!(props("a=\\uD83D\\uDE00"), vec![kv("a", "😀")]);
        assert_eq!(props("my\\ key = v"), vec![kv("my key", "v")]);
        let err = parse_properties("x=1\nbad=\\u12G4").unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{err}");
    }

    #[test]
    fn properties_crlf() {
        assert_eq!(props("a=1\r\nb=2\r\n"), vec![kv("a", "1"), kv("b", "2")]);
    }

    #[test]
    fn distance_and_suggestion() {
        assert_eq!(edit_distance("sesion.timeout.ms", "session.timeout.ms"), 1);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        let keys = ["session.timeout.ms", "group.id", "client.id", "fetch.max.wait.ms"];
        assert_eq!(suggest("sesion.timeout.ms", keys), Some("session.timeout.ms"));
        assert_eq!(suggest("session.timeout", keys), Some("session.timeout.ms"));
        assert_eq!(suggest("GROUP.ID", keys), Some("group.id"));
        assert_eq!(suggest("grup.di", keys), Some("group.id"));
        assert_eq!(suggest("completely.different", keys), None);
    }

    #[test]
    fn typed_values() {
        assert!(parse_bool("k", " TRUE ").unwrap());
        assert!(parse_bool("k", "yes").is_err());
        assert_eq!(parse_ms("k", "1500").unwrap(), Duration::from_millis(1500));
        assert!(parse_ms("k", "-5").is_err());
        assert_eq!(parse_ms_or_never("k", "-1").unwrap(), None);
        assert!(parse_ms_or_never("k", "-2").is_err());
        assert_eq!(parse_list(" a, ,b ,"), vec!["a", "b"]);
        let e = parse_range("max.poll.records", "0", 1, 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value '0' for config 'max.poll.records': expected an integer between 1 and 10"
        );
    }
}
