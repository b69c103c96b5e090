//! `-q`, `-v`, `-d` and `GREGOR_LOG`: what gregor logs on stderr.
//!
//! kcat's habits: verbosity starts at 1, `-q` sets it to 0 (nothing but errors that end the
//! run), each `-v` adds one; `-d CONTEXTS` turns on debug logs of parts of the client. gregor
//! logs with `tracing`; the levels map as: 0 and 1 → off (by default a failure is the one line
//! gregor prints itself), 2 → warn (and errors), 3 → info, 4 → debug, 5 → trace. `GREGOR_LOG` (a `tracing` filter such as `gregor=debug,gregor::net=trace`)
//! replaces the level that `-q`/`-v` chose; `-d` adds to either.

/// The `-d` contexts and the `tracing` targets they turn to debug (kcat's librdkafka names
/// where they have an equivalent).
pub const DEBUG_CONTEXTS: &[(&str, &str)] = &[
    ("all", "gregor=debug"),
    ("broker", "gregor::net=debug"),
    ("connection", "gregor::net=debug"),
    ("protocol", "gregor::net=trace"),
    ("security", "gregor::net::tls=debug,gregor::net::sasl=debug"),
    ("metadata", "gregor::cluster=debug"),
    ("topic", "gregor::cluster=debug"),
    ("consumer", "gregor::consumer=debug"),
    ("cgrp", "gregor::consumer::group=debug,gregor::consumer::group_wire=debug,gregor::consumer::membership=debug"),
    ("fetch", "gregor::consumer::fetcher=debug,gregor::consumer::fetch_planner=debug,gregor::consumer::fetch_session=debug"),
    ("msg", "gregor::records=debug"),
    ("producer", "gregor::producer=debug"),
    ("admin", "gregor::admin=debug"),
];

/// Logging options, accepted by every command.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LogArgs {
    /// Quiet: no informational messages and no logs (kcat -q).
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    /// More verbose: -v warnings and errors, -vv info, -vvv debug, -vvvv trace (kcat -v).
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Debug logs for these parts, comma-separated: all, broker, connection, protocol,
    /// security, metadata, topic, consumer, cgrp, fetch, msg, producer, admin (kcat -d).
    #[arg(short = 'd', long = "debug", global = true, value_name = "CONTEXTS")]
    pub debug: Option<String>,
}

impl LogArgs {
    /// kcat's verbosity: 0 with -q, else 1 + the number of -v.
    pub fn verbosity(&self) -> u8 {
        if self.quiet {
            0
        } else {
            1 + self.verbose
        }
    }

    /// The `tracing` filter: `GREGOR_LOG` or the level of `-q`/`-v`, plus `-d`.
    pub fn filter(&self, env: Option<&str>) -> Result<String, String> {
        let mut parts: Vec<String> = Vec::new();
        match env.filter(|e| !e.trim().is_empty()) {
            Some(e) => parts.push(e.to_string()),
            None => parts.push(
                match self.verbosity() {
                    0 | 1 => "off",
                    2 => "warn",
                    3 => "info",
                    4 => "debug",
                    _ => "trace",
                }
                .to_string(),
            ),
        }
        if let Some(d) = &self.debug {
            for ctx in d.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                let Some((_, directive)) = DEBUG_CONTEXTS.iter().find(|(n, _)| n.eq_ignore_ascii_case(ctx)) else {
                    let known: Vec<&str> = DEBUG_CONTEXTS.iter().map(|(n, _)| *n).collect();
                    return Err(format!("unknown -d context '{ctx}' (known: {})", known.join(", ")));
                };
                parts.push(directive.to_string());
            }
        }
        Ok(parts.join(","))
    }

    /// Installs the subscriber (stderr).
    pub fn init(&self) -> Result<(), String> {
        let env = std::env::var("GREGOR_LOG").ok();
        let filter = self.filter(env.as_deref())?;
        let filter = tracing_subscriber::EnvFilter::try_new(&filter).map_err(|e| format!("GREGOR_LOG: {e}"))?;
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
        Ok(())
    }
}

/// kcat's informational line (`% ...` on stderr), shown at verbosity 1 and above.
pub fn info(verbosity: u8, msg: std::fmt::Arguments<'_>) {
    if verbosity >= 1 {
        eprintln!("% {msg}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_kcat_verbosity() {
        let mut a = LogArgs::default();
        assert_eq!(a.filter(None).unwrap(), "off", "by default only gregor's own one-line error");
        a.verbose = 2;
        assert_eq!(a.filter(None).unwrap(), "info");
        a.quiet = true;
        assert_eq!(a.filter(None).unwrap(), "off");
        assert_eq!(a.filter(Some("gregor=trace")).unwrap(), "gregor=trace");
    }

    #[test]
    fn debug_contexts_add_directives() {
        let a = LogArgs { debug: Some("broker,cgrp".into()), ..Default::default() };
        assert_eq!(
            a.filter(None).unwrap(),
            "off,gregor::net=debug,gregor::consumer::group=debug,gregor::consumer::group_wire=debug,\
             gregor::consumer::membership=debug"
        );
        let bad = LogArgs { debug: Some("brokr".into()), ..Default::default() };
        assert!(bad.filter(None).unwrap_err().contains("unknown -d context 'brokr'"));
    }

    /// Every module a `-d` context names exists in the library (a renamed module would
    /// otherwise leave its context silently logging nothing).
    #[test]
    fn debug_contexts_name_modules_that_exist() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../gregor/src");
        for (context, directives) in DEBUG_CONTEXTS {
            for directive in directives.split(',') {
                let target = directive.split('=').next().unwrap();
                let path: Vec<&str> = target.split("::").skip(1).collect();
                if path.is_empty() {
                    continue;
                }
                let base = src.join(path.join("/"));
                let exists = base.with_extension("rs").is_file() || base.is_dir();
                assert!(exists, "-d {context}: {target} names no module ({} not found)", base.display());
            }
        }
    }
}
