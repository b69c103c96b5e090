#!/usr/bin/env python3
"""Aggregates bench/run.sh's raw runs into bench/results/results.json, results.md and a chart.

Usage: report.py RAW_DIR OUT_DIR CHART_PNG

Per run: /usr/bin/time gives wall, user+sys CPU and peak RSS; the client's JSON line gives
records, payload bytes (key+value), checksum, offset gaps and epoch-us of its first and last
record; run.sh wrote the epoch-us just before exec. Medians with min-max over rounds; ratios are
gregor/other in the same round (then the median of those ratios).
"""
import glob
import json
import os
import statistics
import sys

raw, out_dir, chart = sys.argv[1], sys.argv[2], sys.argv[3]
ORDER = ["gregor", "java", "librdkafka", "librdkafka-tuned", "franz-go", "kcat", "perf-test"]


def load(prefix):
    """prefix = raw/assign.R.T.C -> dict of figures, or None."""
    try:
        wall, user, sys_, rss_kb = open(prefix + ".time").read().split()[-4:]
        start = int(open(prefix + ".start").read())
    except (OSError, ValueError):
        return None
    r = {"wall_s": float(wall), "cpu_s": float(user) + float(sys_), "rss_mib": int(rss_kb) / 1024}
    text = open(prefix + ".out").read().strip()
    if prefix.endswith("perf-test"):
        # start.time, end.time, MB, MB.sec, nMsg, nMsg.sec, rebalance.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
        lines = [l for l in text.splitlines() if l.count(",") >= 9]
        if not lines:
            return None
        f = [x.strip() for x in lines[-1].split(",")]
        mb, n, fetch_ms = float(f[2]), int(f[4]), float(f[7])
        r.update(records=n, bytes=int(mb * 1048576), steady_s=fetch_ms / 1000, ok=True,
                 checksum=None, ttfr_ms=None)
    elif prefix.endswith("kcat"):
        # One "partition offset payload-size" line per record; kcat has no checksum of its own
        # and its clock starts at exec (steady = from start).
        n, nbytes, gaps, nxt = 0, 0, 0, {}
        for line in text.splitlines():
            try:
                p, o, size = (int(x) for x in line.split())
            except ValueError:
                continue
            if nxt.setdefault(p, o) != o:
                gaps += 1
            nxt[p] = o + 1
            n, nbytes = n + 1, nbytes + max(size, 0)
        if n == 0:
            return None
        r.update(records=n, bytes=nbytes, checksum=None, gaps=gaps, ttfr_ms=None,
                 steady_s=float(wall), start_s=float(wall), ok=gaps == 0)
    else:
        try:
            j = json.loads(text.splitlines()[-1])
        except (ValueError, IndexError):
            return None
        r.update(records=j["records"], bytes=j["bytes"], checksum=j["checksum"], gaps=j["gaps"],
                 ttfr_ms=(j["first_us"] - start) / 1000 if j["first_us"] else None,
                 steady_s=(j["last_us"] - j["first_us"]) / 1e6,
                 start_s=(j["last_us"] - start) / 1e6, ok=j["gaps"] == 0)
    r["rec_s"] = r["records"] / max(r["steady_s"], 1e-9)
    r["mb_s"] = r["bytes"] / 1e6 / max(r["steady_s"], 1e-9)
    if r.get("start_s"):
        r["mb_s_start"] = r["bytes"] / 1e6 / r["start_s"]
        r["rec_s_start"] = r["records"] / r["start_s"]
    r["cpu_s_per_gb"] = r["cpu_s"] / (r["bytes"] / 1e9) if r["bytes"] else None
    return r


def stat(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


runs = {}  # (mode, topic, client) -> {round: figures}
for t in glob.glob(os.path.join(raw, "*.time")):
    base = os.path.basename(t)[: -len(".time")]
    mode, rnd, rest = base.split(".", 2)
    topic, client = rest.rsplit(".", 1)
    fig = load(t[: -len(".time")])
    if fig:
        runs.setdefault((mode, topic, client), {})[int(rnd)] = fig

METRICS = ["rec_s", "mb_s", "mb_s_start", "rec_s_start", "cpu_s_per_gb", "rss_mib", "ttfr_ms", "wall_s"]
result = {"datasets": {}, "group": {}, "connections": {}}
for (mode, topic, client), by_round in sorted(runs.items()):
    entry = {m: stat([f.get(m) for f in by_round.values()]) for m in METRICS}
    entry["rounds"] = by_round
    entry["all_ok"] = all(f["ok"] for f in by_round.values())
    sums = {f["checksum"] for f in by_round.values() if f.get("checksum")}
    entry["checksums"] = sorted(sums)
    entry["records"] = sorted({f["records"] for f in by_round.values()})
    (result["datasets"] if mode == "assign" else result["group"]).setdefault(topic, {})[client] = entry

# Ratios gregor/other per round, then median/min/max over rounds.
for topic, clients in result["datasets"].items():
    g = clients.get("gregor")
    if not g:
        continue
    for c, e in clients.items():
        if c == "gregor":
            continue
        ratios = {}
        for m in ["rec_s", "mb_s_start", "cpu_s_per_gb", "rss_mib"]:
            vals = [g["rounds"][r][m] / e["rounds"][r][m] for r in g["rounds"]
                    if r in e["rounds"] and g["rounds"][r].get(m) and e["rounds"][r].get(m)]
            ratios[m] = stat(vals)
        e["gregor_over"] = ratios
    # Every client must have read the same bytes: one checksum per dataset.
    sums = {s for c, e in clients.items() for s in e["checksums"]}
    result.setdefault("checksum_agree", {})[topic] = len(sums) == 1

for f in glob.glob(os.path.join(raw, "strace.*.count")):
    _, mode, client, _ = os.path.basename(f).split(".")
    try:
        result["connections"].setdefault(client, {})[mode] = int(open(f).read().split()[0])
    except (ValueError, IndexError):
        pass

os.makedirs(out_dir, exist_ok=True)


def strip_rounds(d):
    return {k: ({kk: vv for kk, vv in v.items()} if isinstance(v, dict) else v) for k, v in d.items()}


with open(os.path.join(out_dir, "results.json"), "w") as fh:
    json.dump(result, fh, indent=1, sort_keys=True, default=str)


def fmt(s, digits=0, scale=1.0):
    if not s:
        return "-"
    f = "{:,.%df}" % digits
    return "%s (%s–%s)" % (f.format(s["median"] * scale), f.format(s["min"] * scale), f.format(s["max"] * scale))


def ratio(s):
    return "-" if not s else "%.2f× (%.2f–%.2f)" % (s["median"], s["min"], s["max"])


def order(clients):
    return sorted(clients, key=lambda c: ORDER.index(c) if c in ORDER else 99)


md = ["# gregor consumer benchmark results", "",
      "Medians over rounds with (min–max). Steady = first record → last record; "
      "from start = process start → last record. CPU = user+sys of the whole process.", ""]
for topic in sorted(result["datasets"]):
    clients = result["datasets"][topic]
    md += ["## " + topic, "",
           "checksums agree across clients: **%s**" % ("yes" if result["checksum_agree"].get(topic) else "NO"), "",
           "| client | records/s steady | MB/s steady | MB/s from start | CPU s/GB | peak RSS MiB | first record ms (assign) | ok |",
           "|---|---|---|---|---|---|---|---|"]
    for c in order(clients):
        e = clients[c]
        md.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            c, fmt(e["rec_s"]), fmt(e["mb_s"], 1), fmt(e["mb_s_start"], 1), fmt(e["cpu_s_per_gb"], 2),
            fmt(e["rss_mib"]), fmt(e["ttfr_ms"]), "yes" if e["all_ok"] else "NO"))
    md += ["", "| gregor / other (per round) | records/s steady | MB/s from start | CPU s/GB | peak RSS |",
           "|---|---|---|---|---|"]
    for c in order(clients):
        r = clients[c].get("gregor_over")
        if r:
            md.append("| gregor / %s | %s | %s | %s | %s |" % (c, ratio(r["rec_s"]), ratio(r["mb_s_start"]),
                                                              ratio(r["cpu_s_per_gb"]), ratio(r["rss_mib"])))
    md.append("")
if result["group"]:
    md += ["## Time to first record in a group (subscribe, rebalance delay 0)", "",
           "| dataset | client | first record ms | peak RSS MiB |", "|---|---|---|---|"]
    for topic, clients in sorted(result["group"].items()):
        for c in order(clients):
            md.append("| %s | %s | %s | %s |" % (topic, c, fmt(clients[c]["ttfr_ms"]), fmt(clients[c]["rss_mib"])))
    md.append("")
if result["connections"]:
    md += ["## TCP connections opened (connect() calls to broker ports, strace, 1000 records)", "",
           "| client | assign | group |", "|---|---|---|"]
    for c in order(result["connections"]):
        v = result["connections"][c]
        md.append("| %s | %s | %s |" % (c, v.get("assign", "-"), v.get("group", "-")))
    md.append("")
with open(os.path.join(out_dir, "results.md"), "w") as fh:
    fh.write("\n".join(md))
print("\n".join(md))

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(0)
topics = sorted(result["datasets"])
if not topics:
    sys.exit(0)
clients = order({c for t in topics for c in result["datasets"][t]})
fig, axes = plt.subplots(2, 1, figsize=(12, 8))
w = 0.8 / max(len(clients), 1)
for ax, metric, label in [(axes[0], "mb_s", "MB/s (steady, median; bars = min–max)"),
                          (axes[1], "cpu_s_per_gb", "CPU seconds per GB (median)")]:
    for i, c in enumerate(clients):
        xs, ys, lo, hi = [], [], [], []
        for k, t in enumerate(topics):
            s = result["datasets"][t].get(c, {}).get(metric)
            if s:
                xs.append(k + i * w)
                ys.append(s["median"])
                lo.append(s["median"] - s["min"])
                hi.append(s["max"] - s["median"])
        ax.bar(xs, ys, w, yerr=[lo, hi], label=c, capsize=2)
    ax.set_xticks([k + w * (len(clients) - 1) / 2 for k in range(len(topics))])
    ax.set_xticklabels([t.replace("bench-", "") for t in topics], fontsize=8)
    ax.set_ylabel(label)
    ax.grid(axis="y", alpha=0.3)
axes[0].legend(ncol=len(clients), fontsize=8)
axes[0].set_title("gregor vs Java kafka-clients 4.3.1, librdkafka, franz-go (3 brokers, 12 partitions)")
fig.tight_layout()
fig.savefig(chart, dpi=90)
