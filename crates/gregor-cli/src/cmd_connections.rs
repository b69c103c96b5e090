//! `gregor connections`: run a consumer and show its sockets live.
//!
//! On a terminal the table is redrawn in place (ANSI clear + home); otherwise one line per
//! event, so the output can be logged or asserted by tests.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use gregor::{ConnectionEvent, ConnectionEventKind};

use crate::connect::{explain, last, ClientArgs};

pub const EXAMPLES: &str = "\
Examples:
  gregor connections -b localhost -t orders -g my-app     # live table of the group member's sockets
  gregor connections -b localhost -t orders --duration 10 | tee sockets.log";

/// Arguments of `gregor connections`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ConnectionsArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Topic to read (repeatable).
    #[arg(short = 't', long = "topic", required = true)]
    pub topics: Vec<String>,
    /// Consumer group (the same as -X group.id=GROUP); without one every partition is assigned.
    #[arg(short = 'g', long = "group", short_alias = 'G')]
    pub group: Option<String>,
    /// Stop after this many seconds (default: until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
}

struct Row {
    node: String,
    role: String,
    endpoint: String,
    state: String,
    opened_for: String,
    opened_at: Instant,
    last: String,
}

fn state_of(kind: &ConnectionEventKind) -> String {
    match kind {
        ConnectionEventKind::Connecting => "connecting".into(),
        ConnectionEventKind::Ready => "open".into(),
        ConnectionEventKind::Adopted { broker_id } => format!("open (adopted as {broker_id})"),
        ConnectionEventKind::ConnectFailed => "failed".into(),
        ConnectionEventKind::Closed(r) => format!("closed ({r})"),
        ConnectionEventKind::Reauthenticated { .. } => "open (reauthenticated)".into(),
        _ => "?".into(),
    }
}

fn apply(rows: &mut BTreeMap<u64, Row>, ev: &ConnectionEvent) {
    let row = rows.entry(ev.connection_id).or_insert_with(|| Row {
        node: String::new(),
        role: String::new(),
        endpoint: String::new(),
        state: String::new(),
        opened_for: ev.opened_for.to_string(),
        opened_at: Instant::now(),
        last: String::new(),
    });
    row.node = ev.node.clone();
    row.role = ev.role.to_string();
    row.endpoint = ev.endpoint.clone();
    row.state = state_of(&ev.kind);
    row.last = ev.to_string();
}

fn draw(rows: &BTreeMap<u64, Row>, open: usize) {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "\x1b[2J\x1b[H");
    let _ = writeln!(out, "{open} socket(s) open\n");
    let _ = writeln!(
        out,
        "{:<5} {:<11} {:<12} {:<22} {:<24} {:<12} {:>8}",
        "id", "node", "role", "endpoint", "state", "opened-for", "age"
    );
    for (id, r) in rows {
        let _ = writeln!(
            out,
            "{:<5} {:<11} {:<12} {:<22} {:<24} {:<12} {:>7.1}s",
            format!("#{id}"),
            r.node,
            r.role,
            r.endpoint,
            r.state,
            r.opened_for,
            r.opened_at.elapsed().as_secs_f64()
        );
    }
    if let Some(r) = rows.values().max_by_key(|r| r.opened_at) {
        let _ = writeln!(out, "\nlast event: {}", r.last);
    }
    let _ = out.flush();
}

/// Runs `gregor connections`.
pub async fn run(args: ConnectionsArgs) -> anyhow::Result<()> {
    let extra: Vec<(&str, &str)> = args.group.iter().map(|g| ("group.id", g.as_str())).collect();
    let props = args.client.properties(&extra)?;
    let grouped = last(&props, "group.id").is_some_and(|g| !g.is_empty());
    let bootstrap = ClientArgs::bootstrap(&props);
    let consumer = gregor::Consumer::from_properties(props).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut events = consumer.connection_events();
    let tty = std::io::stdout().is_terminal();
    let t0 = Instant::now();
    let deadline = args
        .duration
        .map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let mut rows: BTreeMap<u64, Row> = BTreeMap::new();
    let started = async {
        if grouped {
            consumer.subscribe(args.topics.clone()).map_err(|e| explain(e, &bootstrap))
        } else {
            let parts = crate::consume_start::resolve(&consumer, &args.topics, None, &[], &bootstrap).await?;
            consumer.assign(parts).map_err(|e| explain(e, &bootstrap))
        }
    };
    if let Err(e) = started.await {
        consumer.close(Duration::from_secs(5)).await;
        return Err(e);
    }
    let stop = crate::shutdown::requested();
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let sleep_until = async move {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep_until);
    let result = loop {
        // Keep records flowing so fetch and coordinator sockets behave as in a real app.
        tokio::select! {
            r = consumer.poll(Duration::from_millis(200)) => {
                if let Err(e) = r { break Err(explain(e, &bootstrap)); }
            }
            _ = tick.tick(), if tty => draw(&rows, consumer.open_connections()),
            _ = &mut stop => break Ok(()),
            _ = &mut sleep_until => break Ok(()),
        }
        while let Some(ev) = events.try_recv() {
            apply(&mut rows, &ev);
            if tty {
                draw(&rows, consumer.open_connections());
            } else {
                println!("{:>8.3}s {ev}", t0.elapsed().as_secs_f64());
            }
        }
    };
    consumer.close(Duration::from_secs(30)).await;
    while let Some(ev) = events.try_recv() {
        apply(&mut rows, &ev);
        if !tty {
            println!("{:>8.3}s {ev}", t0.elapsed().as_secs_f64());
        }
    }
    if tty {
        draw(&rows, consumer.open_connections());
    }
    result
}
