//! Where `gregor consume` starts (kcat's `-o`), which partitions it reads (`-t`, `-p`,
//! `--regex`), and when a partition is at its end (kcat's `-e`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, Weak};

use gregor::{Consumer, OffsetAndMetadata, RebalanceListener, TopicPartition};

use crate::connect::explain;

/// kcat's `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOffset {
    /// `beginning`: the log start.
    Beginning,
    /// `end`: only records written from now on.
    End,
    /// `stored`: the group's committed offset (else `auto.offset.reset`).
    Stored,
    /// `N`: this absolute offset.
    Offset(i64),
    /// `-N`: N records before the end of each partition.
    Tail(i64),
    /// `s@TIMESTAMP_MS`: the first record at or after this time (the end if there is none).
    Timestamp(i64),
}

impl std::str::FromStr for StartOffset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not an offset: use beginning, end, stored, N, -N or s@TIMESTAMP_MS");
        Ok(match s {
            "beginning" => StartOffset::Beginning,
            "end" => StartOffset::End,
            "stored" => StartOffset::Stored,
            _ => {
                if let Some(ts) = s.strip_prefix("s@") {
                    StartOffset::Timestamp(ts.parse().map_err(|_| bad())?)
                } else {
                    match s.parse::<i64>().map_err(|_| bad())? {
                        n if n < 0 => StartOffset::Tail(n.checked_neg().ok_or_else(bad)?),
                        n => StartOffset::Offset(n),
                    }
                }
            }
        })
    }
}

/// The partitions to read without a group: every partition of the topics (and of the topics
/// matching `regex`), or only `only` (kcat's `-p`).
pub async fn resolve(
    consumer: &Consumer,
    topics: &[String],
    regex: Option<&str>,
    only: &[i32],
    bootstrap: &str,
) -> anyhow::Result<Vec<TopicPartition>> {
    let mut all = Vec::new();
    for t in topics {
        let parts = consumer.partitions_for(t).await.map_err(|e| explain(e, bootstrap))?;
        for p in only {
            if !parts.iter().any(|tp| tp.partition == *p) {
                anyhow::bail!(
                    "topic {t} (with partitions 0..{}): partition {p} does not exist",
                    parts.len() as i64 - 1
                );
            }
        }
        all.extend(parts);
    }
    if let Some(pattern) = regex {
        let re = regex_whole(pattern)?;
        let listed = consumer.list_topics().await.map_err(|e| explain(e, bootstrap))?;
        let matched: Vec<TopicPartition> =
            listed.into_iter().filter(|(name, _)| re.is_match(name)).flat_map(|(_, parts)| parts).collect();
        if matched.is_empty() && topics.is_empty() {
            anyhow::bail!("no topic matches --regex {pattern}");
        }
        all.extend(matched);
    }
    if !only.is_empty() {
        all.retain(|tp| only.contains(&tp.partition));
    }
    all.sort();
    all.dedup();
    Ok(all)
}

/// A pattern matched against whole topic names, as Java's `Pattern` subscriptions are.
pub fn regex_whole(pattern: &str) -> anyhow::Result<regex::Regex> {
    regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| anyhow::anyhow!("bad --regex {pattern:?}: {e}"))
}

/// Moves `parts` (assigned, not yet read) to `start`.
pub async fn apply(consumer: &Consumer, parts: &[TopicPartition], start: StartOffset, bootstrap: &str) -> anyhow::Result<()> {
    if parts.is_empty() {
        return Ok(());
    }
    let lib = |e| explain(e, bootstrap);
    match start {
        StartOffset::Beginning => consumer.seek_to_beginning(parts).map_err(lib)?,
        StartOffset::End => consumer.seek_to_end(parts).map_err(lib)?,
        StartOffset::Stored => {}
        StartOffset::Offset(n) => {
            for tp in parts {
                consumer.seek(tp, n).map_err(lib)?;
            }
        }
        StartOffset::Tail(n) => {
            // kcat's OFFSET_TAIL(n): n before the end, never before the log start.
            let ends = consumer.end_offsets(parts).await.map_err(lib)?;
            let begins = consumer.beginning_offsets(parts).await.map_err(lib)?;
            for tp in parts {
                let end = ends.get(tp).copied().unwrap_or(0);
                let begin = begins.get(tp).copied().unwrap_or(0);
                consumer.seek(tp, end.saturating_sub(n).max(begin)).map_err(lib)?;
            }
        }
        StartOffset::Timestamp(ts) => {
            let q: BTreeMap<TopicPartition, i64> = parts.iter().map(|tp| (tp.clone(), ts)).collect();
            let found = consumer.offsets_for_times(&q).await.map_err(lib)?;
            for tp in parts {
                match found.get(tp).copied().flatten() {
                    Some(o) => consumer.seek(tp, o.offset).map_err(lib)?,
                    // No record at or after the time: librdkafka answers OFFSET_END.
                    None => consumer.seek_to_end(std::slice::from_ref(tp)).map_err(lib)?,
                }
            }
        }
    }
    Ok(())
}

/// What the group assigned, and which new partitions still wait for their `-o` position.
#[derive(Default)]
pub struct Assigned {
    inner: Mutex<AssignedInner>,
}

#[derive(Default)]
struct AssignedInner {
    now: BTreeSet<TopicPartition>,
    ever: bool,
    pending: Vec<TopicPartition>,
}

impl Assigned {
    /// The partitions assigned now, and whether any assignment happened yet.
    pub fn current(&self) -> (BTreeSet<TopicPartition>, bool) {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (g.now.clone(), g.ever)
    }

    /// New partitions that were paused until their start offset is looked up.
    pub fn take_pending(&self) -> Vec<TopicPartition> {
        std::mem::take(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()).pending)
    }
}

/// What `gregor consume` printed and has not committed yet: per partition, the offset after
/// the last record printed. Committed every few seconds, on the way out, and — for partitions
/// a rebalance takes away — before they move to another member, so the next owner starts
/// right after what was printed here. (With enable.auto.commit=false the consumer commits
/// nothing by itself when partitions are revoked, as Java's `ConsumerCoordinator.onJoinPrepare`;
/// without this the next owner would read everything since the last periodic commit again.)
#[derive(Default)]
pub struct Printed(Mutex<BTreeMap<TopicPartition, i64>>);

impl Printed {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<TopicPartition, i64>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds what one batch printed.
    pub fn extend(&self, batch: impl IntoIterator<Item = (TopicPartition, i64)>) {
        self.lock().extend(batch);
    }

    /// Takes everything not committed yet, as offsets to commit, for the partitions `keep`
    /// accepts (the rest is dropped: partitions lost, no longer ours to commit).
    pub fn take(&self, keep: impl Fn(&TopicPartition) -> bool) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        let mut g = self.lock();
        let taken = std::mem::take(&mut *g);
        taken.into_iter().filter(|(tp, _)| keep(tp)).map(|(tp, o)| (tp, OffsetAndMetadata::new(o))).collect()
    }

    /// Takes the offsets of these partitions only.
    fn take_partitions(&self, partitions: &[TopicPartition]) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        let mut g = self.lock();
        partitions.iter().filter_map(|tp| g.remove(tp).map(|o| (tp.clone(), OffsetAndMetadata::new(o)))).collect()
    }
}

/// Tracks the group's assignment and applies `-o` to every newly assigned partition, as kcat's
/// rebalance callback does: beginning, end and N by seeking at once; -N and s@TS (which need
/// a broker round trip) by pausing the partition until the poll loop has looked them up.
pub struct Listener {
    pub assigned: Arc<Assigned>,
    pub consumer: Weak<Consumer>,
    pub start: Option<StartOffset>,
    /// Set when gregor commits what it printed (no enable.auto.commit given): revoked
    /// partitions get their printed offsets committed before they move.
    pub printed: Option<Arc<Printed>>,
}

impl RebalanceListener for Listener {
    fn on_partitions_assigned(&self, partitions: &[TopicPartition]) {
        let mut g = self.assigned.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.now.extend(partitions.iter().cloned());
        g.ever = true;
        let (Some(start), Some(c)) = (self.start, self.consumer.upgrade()) else { return };
        let r = match start {
            StartOffset::Beginning => c.seek_to_beginning(partitions),
            StartOffset::End => c.seek_to_end(partitions),
            StartOffset::Offset(n) => partitions.iter().try_for_each(|tp| c.seek(tp, n)),
            StartOffset::Stored => Ok(()),
            StartOffset::Tail(_) | StartOffset::Timestamp(_) => {
                g.pending.extend(partitions.iter().cloned());
                c.pause(partitions)
            }
        };
        if let Err(e) = r {
            tracing::warn!(error = %e, "could not position newly assigned partitions");
        }
    }

    fn on_partitions_revoked(&self, partitions: &[TopicPartition], ctx: &mut gregor::RevokeContext) {
        self.forget(partitions);
        if let Some(printed) = &self.printed {
            let offsets = printed.take_partitions(partitions);
            if !offsets.is_empty() {
                ctx.commit(offsets);
            }
        }
    }

    fn on_partitions_lost(&self, partitions: &[TopicPartition]) {
        self.forget(partitions);
    }
}

impl Listener {
    fn forget(&self, partitions: &[TopicPartition]) {
        let mut g = self.assigned.inner.lock().unwrap_or_else(|p| p.into_inner());
        for tp in partitions {
            g.now.remove(tp);
        }
        g.pending.retain(|tp| !partitions.contains(tp));
    }
}

/// kcat's end-of-partition bookkeeping: a partition is at its end when its position reached
/// the high watermark of the last fetch; it leaves that state when a record of it arrives.
#[derive(Default)]
pub struct Eof {
    at_end: BTreeSet<TopicPartition>,
}

impl Eof {
    /// A record of `tp` was printed.
    pub fn record(&mut self, tp: &TopicPartition) {
        self.at_end.remove(tp);
    }

    /// Partitions of `assigned` that newly reached their end, and whether all of `assigned`
    /// are at their end now.
    pub async fn check(&mut self, consumer: &Consumer, assigned: &BTreeSet<TopicPartition>) -> (Vec<(TopicPartition, i64)>, bool) {
        self.at_end.retain(|tp| assigned.contains(tp));
        let mut newly = Vec::new();
        for tp in assigned {
            if self.at_end.contains(tp) {
                continue;
            }
            let hw = consumer.high_watermark(tp);
            if hw < 0 || consumer.paused().contains(tp) {
                continue;
            }
            if let Ok(pos) = consumer.position(tp).await {
                if pos >= hw {
                    self.at_end.insert(tp.clone());
                    newly.push((tp.clone(), pos));
                }
            }
        }
        let all = !assigned.is_empty() && assigned.iter().all(|tp| self.at_end.contains(tp));
        (newly, all)
    }
}

#[cfg(test)]
mod tests {
    use super::StartOffset::{self, *};

    #[test]
    fn offsets_parse_like_kcat() {
        let p = |s: &str| s.parse::<StartOffset>();
        assert_eq!(p("beginning"), Ok(Beginning));
        assert_eq!(p("end"), Ok(End));
        assert_eq!(p("stored"), Ok(Stored));
        assert_eq!(p("42"), Ok(Offset(42)));
        assert_eq!(p("-10"), Ok(Tail(10)));
        assert_eq!(p("s@1700000000000"), Ok(Timestamp(1_700_000_000_000)));
        assert!(p("begining").unwrap_err().contains("use beginning, end"));
        assert!(p("s@x").is_err());
    }
}
