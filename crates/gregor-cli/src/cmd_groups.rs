//! `gregor groups list|describe|reset-offsets|delete`: kafka-consumer-groups.sh's habits.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::Duration;

use gregor::admin::GroupDescription;
use gregor::{Consumer, TopicPartition};

use crate::cmd_metadata::{admin, timed};
use crate::connect::{explain, ClientArgs};

pub const EXAMPLES: &str = "\
Examples:
  gregor groups list -b localhost --state
  gregor groups describe -b localhost my-app            # lag per partition, members
  gregor groups reset-offsets -b localhost my-app -t orders --to-earliest            # dry run
  gregor groups reset-offsets -b localhost my-app --all-topics --shift-by -100 --execute
  gregor groups reset-offsets -b localhost my-app -t orders:0,1 --to-datetime 2026-01-31T12:00:00Z --execute
  gregor groups delete -b localhost my-app old-app";

/// Arguments of `gregor groups`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct GroupsArgs {
    #[command(subcommand)]
    pub command: GroupsCommand,
}

/// The `groups` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum GroupsCommand {
    /// Every group of the cluster, one per line.
    List {
        #[command(flatten)]
        client: ClientArgs,
        /// Also the group type (classic, consumer) and state.
        #[arg(long)]
        state: bool,
        /// JSON.
        #[arg(short = 'J', long = "json")]
        json: bool,
    },
    /// State, protocol, members and, per partition, committed offset, end offset and lag.
    Describe {
        #[command(flatten)]
        client: ClientArgs,
        /// The group.
        group: String,
        /// JSON.
        #[arg(short = 'J', long = "json")]
        json: bool,
    },
    /// Compute new committed offsets and (with --execute) commit them; refused while the group
    /// has active members. A dry run by default, as kafka-consumer-groups.
    ResetOffsets(ResetArgs),
    /// Delete groups (their committed offsets with them); refused for groups with members.
    Delete {
        #[command(flatten)]
        client: ClientArgs,
        /// The groups.
        #[arg(required = true)]
        groups: Vec<String>,
    },
}

/// Arguments of `gregor groups reset-offsets`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("to").required(true).args(["to_earliest", "to_latest", "to_datetime", "shift_by", "to_offset"])))]
#[command(group(clap::ArgGroup::new("scope").required(true).args(["topics", "all_topics"])))]
pub struct ResetArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The group.
    pub group: String,
    /// TOPIC (every partition) or TOPIC:P[,P...] (repeatable).
    #[arg(short = 't', long = "topic", value_name = "TOPIC[:PARTITIONS]")]
    pub topics: Vec<String>,
    /// Every topic the group has committed offsets for.
    #[arg(long)]
    pub all_topics: bool,
    /// To the log start.
    #[arg(long)]
    pub to_earliest: bool,
    /// To the log end.
    #[arg(long)]
    pub to_latest: bool,
    /// To the first record at or after this time: YYYY-MM-DDTHH:MM:SS[.sss][Z|+HH:MM]
    /// (UTC without a zone) or milliseconds since the epoch.
    #[arg(long, value_name = "DATETIME")]
    pub to_datetime: Option<String>,
    /// Move the committed offsets by N (negative: back), within the log.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub shift_by: Option<i64>,
    /// To this offset (within the log).
    #[arg(long, value_name = "OFFSET")]
    pub to_offset: Option<i64>,
    /// Commit the new offsets (without it: only show them).
    #[arg(long)]
    pub execute: bool,
}

/// Runs `gregor groups ...`.
pub async fn run(args: GroupsArgs) -> anyhow::Result<()> {
    match args.command {
        GroupsCommand::List { client, state, json } => list(&client, state, json).await,
        GroupsCommand::Describe { client, group, json } => describe(&client, &group, json).await,
        GroupsCommand::ResetOffsets(a) => reset(a).await,
        GroupsCommand::Delete { client, groups } => delete(&client, &groups).await,
    }
}

async fn list(client: &ClientArgs, state: bool, json: bool) -> anyhow::Result<()> {
    let (admin, bootstrap, timeout) = admin(client)?;
    let groups = timed(&admin, timeout, &bootstrap, admin.list_groups()).await?;
    let mut out = Vec::new();
    if json {
        let v: Vec<serde_json::Value> = groups
            .iter()
            .map(|g| {
                serde_json::json!({"group": g.group_id, "type": g.group_type, "protocol_type": g.protocol_type, "state": g.state})
            })
            .collect();
        serde_json::to_writer(&mut out, &v)?;
        out.push(b'\n');
    } else if state {
        let w = groups.iter().map(|g| g.group_id.len()).max().unwrap_or(5).max(5);
        writeln!(out, "{:<w$} {:<9} STATE", "GROUP", "TYPE")?;
        for g in &groups {
            let ty = g.group_type.clone().unwrap_or_else(|| "classic".into());
            writeln!(out, "{:<w$} {:<9} {}", g.group_id, ty, g.state.as_deref().unwrap_or("?"))?;
        }
    } else {
        for g in &groups {
            writeln!(out, "{}", g.group_id)?;
        }
    }
    std::io::stdout().write_all(&out)?;
    Ok(())
}

/// A consumer without a group, for end offsets and lookups by time.
fn offsets_client(client: &ClientArgs) -> anyhow::Result<(Consumer, String)> {
    let props = client.properties(&[])?;
    let bootstrap = ClientArgs::bootstrap(&props);
    Ok((Consumer::from_properties(props).map_err(|e| anyhow::anyhow!("{e}"))?, bootstrap))
}

/// Description, committed offsets and the end offsets of every partition involved.
async fn gather(
    client: &ClientArgs,
    group: &str,
) -> anyhow::Result<(GroupDescription, BTreeMap<TopicPartition, i64>, BTreeMap<TopicPartition, i64>)> {
    let (admin, bootstrap, timeout) = admin(client)?;
    let (d, committed) = timed(&admin, timeout, &bootstrap, async {
        let d = admin.describe_group(group, timeout).await?;
        let c = admin.list_group_offsets(group, timeout).await?;
        Ok((d, c))
    })
    .await?;
    let mut parts: BTreeSet<TopicPartition> = committed.keys().cloned().collect();
    parts.extend(d.members.iter().flat_map(|m| m.assignment.iter().cloned()));
    let ends = if parts.is_empty() {
        BTreeMap::new()
    } else {
        let (c, bootstrap) = offsets_client(client)?;
        let list: Vec<TopicPartition> = parts.into_iter().collect();
        let r = c.end_offsets(&list).await;
        c.close(Duration::from_secs(5)).await;
        r.map_err(|e| explain(e, &bootstrap))?
    };
    Ok((d, committed, ends))
}

async fn describe(client: &ClientArgs, group: &str, json: bool) -> anyhow::Result<()> {
    let (d, committed, ends) = gather(client, group).await?;
    if d.state == "Dead" && committed.is_empty() {
        anyhow::bail!("group {group} does not exist");
    }
    let owner: BTreeMap<&TopicPartition, &gregor::admin::MemberDescription> =
        d.members.iter().flat_map(|m| m.assignment.iter().map(move |tp| (tp, m))).collect();
    let rows: Vec<&TopicPartition> = ends.keys().collect();
    let mut out = Vec::new();
    if json {
        let partitions: Vec<serde_json::Value> = rows
            .iter()
            .map(|tp| {
                let c = committed.get(*tp).copied();
                let end = ends.get(*tp).copied();
                serde_json::json!({
                    "topic": &*tp.topic, "partition": tp.partition, "committed_offset": c, "end_offset": end,
                    "lag": c.zip(end).map(|(c, e)| (e - c).max(0)),
                    "member_id": owner.get(*tp).map(|m| m.member_id.clone()),
                })
            })
            .collect();
        let members: Vec<serde_json::Value> = d
            .members
            .iter()
            .map(|m| {
                serde_json::json!({
                    "member_id": m.member_id, "group_instance_id": m.group_instance_id, "client_id": m.client_id,
                    "host": m.client_host,
                    "assignment": m.assignment.iter().map(|tp| format!("{}-{}", tp.topic, tp.partition)).collect::<Vec<_>>(),
                })
            })
            .collect();
        let v = serde_json::json!({
            "group": d.group_id, "state": d.state, "protocol": d.group_type.as_str(), "assignor": d.assignor,
            "coordinator": d.coordinator, "members": members, "partitions": partitions,
        });
        serde_json::to_writer(&mut out, &v)?;
        out.push(b'\n');
    } else {
        writeln!(
            out,
            "group {}: state {}, protocol {}{}, coordinator {}, {} member(s)",
            d.group_id,
            d.state,
            d.group_type.as_str(),
            if d.assignor.is_empty() { String::new() } else { format!(" ({})", d.assignor) },
            d.coordinator,
            d.members.len()
        )?;
        if d.members.is_empty() {
            writeln!(out, "Consumer group '{}' has no active members.", d.group_id)?;
        }
        writeln!(out)?;
        let tw = rows.iter().map(|tp| tp.topic.len()).max().unwrap_or(5).max(5);
        writeln!(out, "{:<tw$} {:>9} {:>14} {:>14} {:>8}  CONSUMER-ID", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG")?;
        for tp in &rows {
            let c = committed.get(*tp).copied();
            let e = ends.get(*tp).copied();
            let show = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
            let lag = c.zip(e).map(|(c, e)| (e - c).max(0));
            writeln!(
                out,
                "{:<tw$} {:>9} {:>14} {:>14} {:>8}  {}",
                tp.topic,
                tp.partition,
                show(c),
                show(e),
                show(lag),
                owner.get(*tp).map_or("-", |m| m.member_id.as_str())
            )?;
        }
        if !d.members.is_empty() {
            writeln!(out)?;
            writeln!(out, "MEMBER-ID  HOST  CLIENT-ID  #PARTITIONS  ASSIGNMENT")?;
            for m in &d.members {
                let a: Vec<String> = m.assignment.iter().map(|tp| format!("{}-{}", tp.topic, tp.partition)).collect();
                writeln!(out, "{}  {}  {}  {}  {}", m.member_id, m.client_host, m.client_id, a.len(), a.join(","))?;
            }
        }
    }
    std::io::stdout().write_all(&out)?;
    Ok(())
}

async fn reset(a: ResetArgs) -> anyhow::Result<()> {
    let (admin_c, bootstrap, timeout) = admin(&a.client)?;
    let (d, committed) = timed(&admin_c, timeout, &bootstrap, async {
        let d = admin_c.describe_group(&a.group, timeout).await?;
        let c = admin_c.list_group_offsets(&a.group, timeout).await?;
        Ok((d, c))
    })
    .await?;
    if !d.members.is_empty() {
        anyhow::bail!(
            "group {} has {} active member(s) (state {}): stop them before resetting its offsets",
            a.group,
            d.members.len(),
            d.state
        );
    }
    let (c, _) = offsets_client(&a.client)?;
    let plan = plan(&c, &a, &committed, &bootstrap).await;
    c.close(Duration::from_secs(5)).await;
    let plan = plan?;
    if a.execute {
        let (admin2, _, _) = admin(&a.client)?;
        timed(&admin2, timeout, &bootstrap, admin2.alter_group_offsets(&a.group, &plan, timeout)).await?;
    }
    let mut out = Vec::new();
    let tw = plan.keys().map(|tp| tp.topic.len()).max().unwrap_or(5).max(5);
    let gw = a.group.len().max(5);
    writeln!(out, "{:<gw$} {:<tw$} {:>9} {:>10}", "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")?;
    for (tp, o) in &plan {
        writeln!(out, "{:<gw$} {:<tw$} {:>9} {:>10}", a.group, tp.topic, tp.partition, o)?;
    }
    if !a.execute {
        writeln!(out, "(dry run: add --execute to commit these offsets)")?;
    }
    std::io::stdout().write_all(&out)?;
    Ok(())
}

/// The new offset of every partition in scope.
async fn plan(
    c: &Consumer,
    a: &ResetArgs,
    committed: &BTreeMap<TopicPartition, i64>,
    bootstrap: &str,
) -> anyhow::Result<BTreeMap<TopicPartition, i64>> {
    let lib = |e| explain(e, bootstrap);
    let mut scope: BTreeSet<TopicPartition> = BTreeSet::new();
    if a.all_topics {
        scope.extend(committed.keys().cloned());
    }
    for spec in &a.topics {
        let (topic, parts) = match spec.split_once(':') {
            Some((t, ps)) => {
                let ps: Result<Vec<i32>, _> = ps.split(',').map(|p| p.trim().parse::<i32>()).collect();
                (t, Some(ps.map_err(|_| anyhow::anyhow!("-t {spec}: expected TOPIC or TOPIC:P[,P...]"))?))
            }
            None => (spec.as_str(), None),
        };
        let all = c.partitions_for(topic).await.map_err(lib)?;
        match parts {
            None => scope.extend(all),
            Some(ps) => {
                for p in ps {
                    let tp = TopicPartition::new(topic, p);
                    if !all.contains(&tp) {
                        anyhow::bail!("topic {topic} has no partition {p}");
                    }
                    scope.insert(tp);
                }
            }
        }
    }
    if scope.is_empty() {
        anyhow::bail!("no partitions to reset (the group has no committed offsets; name topics with -t)");
    }
    let list: Vec<TopicPartition> = scope.iter().cloned().collect();
    let starts = c.beginning_offsets(&list).await.map_err(lib)?;
    let ends = c.end_offsets(&list).await.map_err(lib)?;
    let clamp = |tp: &TopicPartition, o: i64| o.clamp(starts[tp], ends[tp].max(starts[tp]));
    let mut plan = BTreeMap::new();
    if let Some(dt) = &a.to_datetime {
        let ts = parse_datetime(dt)?;
        let q: BTreeMap<TopicPartition, i64> = list.iter().map(|tp| (tp.clone(), ts)).collect();
        for (tp, found) in c.offsets_for_times(&q).await.map_err(lib)? {
            // No record that recent: the end, as kafka-consumer-groups does.
            let o = found.map_or(ends[&tp], |f| f.offset);
            plan.insert(tp, o);
        }
        return Ok(plan);
    }
    for tp in &list {
        let o = if a.to_earliest {
            starts[tp]
        } else if a.to_latest {
            ends[tp]
        } else if let Some(n) = a.to_offset {
            clamp(tp, n)
        } else if let Some(n) = a.shift_by {
            let Some(cur) = committed.get(tp) else {
                anyhow::bail!("cannot shift {tp}: group {} has no committed offset for it", a.group);
            };
            clamp(tp, cur.saturating_add(n))
        } else {
            unreachable!("clap requires one of the --to options")
        };
        plan.insert(tp.clone(), o);
    }
    Ok(plan)
}

/// `YYYY-MM-DDTHH:MM:SS[.sss][Z|±HH:MM]` (UTC without a zone) or milliseconds since the epoch.
pub fn parse_datetime(s: &str) -> anyhow::Result<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    let bad = || anyhow::anyhow!("'{s}' is not a date-time: use YYYY-MM-DDTHH:MM:SS[.sss][Z|+HH:MM] or milliseconds");
    let (date, rest) = s.split_once('T').ok_or_else(bad)?;
    let d: Vec<i64> = date.split('-').map(|x| x.parse().map_err(|_| bad())).collect::<anyhow::Result<_>>()?;
    let [y, mo, day] = d[..] else { return Err(bad()) };
    let (time, offset_min) = if let Some(t) = rest.strip_suffix('Z') {
        (t, 0)
    } else if let Some(i) = rest.rfind(['+', '-']).filter(|i| *i >= 8) {
        let (t, z) = rest.split_at(i);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (h, m) = z[1..].split_once(':').ok_or_else(bad)?;
        (t, sign * (h.parse::<i64>().map_err(|_| bad())? * 60 + m.parse::<i64>().map_err(|_| bad())?))
    } else {
        (rest, 0)
    };
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().map_err(|_| bad())).collect::<anyhow::Result<_>>()?;
    let [h, mi, sec] = t[..] else { return Err(bad()) };
    let ms: i64 = format!("{frac:0<3}")[..3].parse().map_err(|_| bad())?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y2, m2) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(((days * 86_400 + h * 3600 + mi * 60 + sec) - offset_min * 60) * 1000 + ms)
}

async fn delete(client: &ClientArgs, groups: &[String]) -> anyhow::Result<()> {
    let (admin, bootstrap, timeout) = admin(client)?;
    let r: anyhow::Result<()> = async {
        for g in groups {
            match tokio::time::timeout(timeout, admin.delete_group(g, timeout)).await {
                Ok(r) => r.map_err(|e| explain(e, &bootstrap))?,
                Err(_) => anyhow::bail!("deleting group {g}: no answer within default.api.timeout.ms"),
            }
            println!("Deletion of requested consumer group '{g}' was successful.");
        }
        Ok(())
    }
    .await;
    admin.close(Duration::from_secs(5)).await;
    r
}

#[cfg(test)]
mod tests {
    use super::parse_datetime;

    #[test]
    fn datetimes_parse_as_utc_unless_zoned() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00").unwrap(), 0);
        assert_eq!(parse_datetime("2026-01-31T12:00:00Z").unwrap(), 1_769_860_800_000);
        assert_eq!(parse_datetime("2026-01-31T12:00:00.250+01:00").unwrap(), 1_769_857_200_250);
        assert_eq!(parse_datetime("2000-02-29T23:59:59.9").unwrap(), 951_868_799_900);
        assert_eq!(parse_datetime("1700000000000").unwrap(), 1_700_000_000_000);
        assert!(parse_datetime("2026-13-01T00:00:00").is_err());
        assert!(parse_datetime("yesterday").is_err());
    }
}
