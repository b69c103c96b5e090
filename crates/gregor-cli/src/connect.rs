//! Options every command that talks to a cluster shares (`-b`, `-X`, `-F`), how they combine
//! into Java-style properties, and how library errors become one actionable line.

use std::path::PathBuf;

use anyhow::Context;
use gregor::ErrorKind;

/// kcat's (librdkafka's) port when `-b` names a host without one.
pub const DEFAULT_PORT: u16 = 9092;

/// `-b`, `-X` and `-F`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ClientArgs {
    /// bootstrap.servers: HOST[:PORT][,HOST[:PORT]...]; the port defaults to 9092, as in kcat.
    #[arg(short = 'b', long = "bootstrap-servers", value_name = "HOSTS")]
    pub brokers: Option<String>,
    /// Any client config key by its Java name, e.g. -X security.protocol=SSL (repeatable;
    /// applied after -F, -b and -g).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// Read config keys from a Java .properties file (as kcat -F), before -b, -g and -X.
    #[arg(short = 'F', long = "config-file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
}

impl ClientArgs {
    /// The properties in the order they apply: the `-F` file, `-b`, `extra` (command options
    /// such as `-g`), then `-X`. `bootstrap.servers` gets the default port where it lacks one,
    /// whichever of them set it.
    pub fn properties(&self, extra: &[(&str, &str)]) -> anyhow::Result<Vec<(String, String)>> {
        let mut props: Vec<(String, String)> = Vec::new();
        if let Some(path) = &self.config_file {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let parsed = gregor::config::parse_properties(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            props.extend(parsed);
        }
        if let Some(b) = &self.brokers {
            props.push(("bootstrap.servers".into(), b.clone()));
        }
        props.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        for kv in &self.config {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("-X expects KEY=VALUE, got '{kv}'"))?;
            props.push((k.trim().to_string(), v.to_string()));
        }
        let mut have_bootstrap = false;
        for (k, v) in props.iter_mut() {
            if k == "bootstrap.servers" {
                *v = with_default_ports(v);
                have_bootstrap = true;
            }
        }
        if !have_bootstrap {
            anyhow::bail!("no bootstrap servers: give -b HOST[:PORT], or bootstrap.servers in -F FILE or -X");
        }
        Ok(props)
    }

    /// The bootstrap servers as they will be used (for messages).
    pub fn bootstrap(props: &[(String, String)]) -> String {
        last(props, "bootstrap.servers").unwrap_or_default().to_string()
    }
}

/// The value the last occurrence of `key` set (later keys override earlier ones).
pub fn last<'a>(props: &'a [(String, String)], key: &str) -> Option<&'a str> {
    props.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Appends `:9092` to every entry of a `bootstrap.servers` list that has no port
/// (`host`, `1.2.3.4`, `[::1]`); leaves everything else for the config parser to judge.
pub fn with_default_ports(list: &str) -> String {
    list.split(',')
        .map(|e| {
            let t = e.trim();
            let has_port = if t.starts_with('[') {
                t.rsplit_once(']').is_some_and(|(_, rest)| rest.starts_with(':'))
            } else {
                // More than one ':' is an IPv6 address without brackets: the parser explains.
                t.matches(':').count() == 1
            };
            if t.is_empty() || has_port || (!t.starts_with('[') && t.contains(':')) {
                t.to_string()
            } else {
                format!("{t}:{DEFAULT_PORT}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One actionable line for a gregor error.
pub fn explain(e: gregor::Error, bootstrap: &str) -> anyhow::Error {
    let line = one_line(&e.to_string());
    match e.kind() {
        ErrorKind::NotKafka => anyhow::anyhow!("{line}"),
        ErrorKind::Unreachable | ErrorKind::Timeout | ErrorKind::Io | ErrorKind::Disconnected => {
            anyhow::anyhow!("cannot reach the cluster at {bootstrap}: {line}")
        }
        ErrorKind::Auth => anyhow::anyhow!("authorization failed: {line} (check the ACLs of this principal)"),
        ErrorKind::UnknownTopic => anyhow::anyhow!("{line} (create it first, or check the name)"),
        _ => anyhow::anyhow!("{line}"),
    }
}

/// Any message on one line (sources sometimes carry newlines).
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_port_is_added_where_missing() {
        assert_eq!(with_default_ports("localhost"), "localhost:9092");
        assert_eq!(with_default_ports("a:1, b ,c:3"), "a:1,b:9092,c:3");
        assert_eq!(with_default_ports("10.0.0.1"), "10.0.0.1:9092");
        assert_eq!(with_default_ports("[::1]"), "[::1]:9092");
        assert_eq!(with_default_ports("[::1]:19092"), "[::1]:19092");
        assert_eq!(with_default_ports("::1"), "::1", "left for the parser to explain");
    }

    #[test]
    fn later_sources_override_earlier_ones() {
        let dir = std::env::temp_dir().join(format!("gregor-connect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.properties");
        std::fs::write(&f, "bootstrap.servers=filehost\ngroup.id=from-file\n").unwrap();
        let args = ClientArgs {
            brokers: None,
            config: vec!["group.id=from-x".into()],
            config_file: Some(f.clone()),
        };
        let p = args.properties(&[("group.id", "from-g")]).unwrap();
        assert_eq!(last(&p, "bootstrap.servers"), Some("filehost:9092"));
        assert_eq!(last(&p, "group.id"), Some("from-x"));
        let none = ClientArgs::default().properties(&[]).unwrap_err();
        assert!(none.to_string().contains("no bootstrap servers"), "{none}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
