#!/usr/bin/env python3
"""Report of bench/producer.sh: RAW_DIR -> OUT_DIR/results.{json,md}.

Per run (RAW_DIR/<round>.<size>.<codec>.<acks>.<client>.{time,out,err}):
  records/s (wall)   records / process wall time (/usr/bin/time %e: start-up, connect, send,
                     every acknowledgement, close)
  records/s (client) records / first send -> last acknowledgement, on the client's own clock
                     (the library clients print it; ProducerPerformance prints its own figure)
  CPU s/GB           (user + sys) of the whole process / GB (10^9 bytes) of values sent
  RSS MB             peak resident set size (%M)
Medians over rounds with (min-max); the ratios gregor/other are computed per round, then the
median of those is given (the clients of one round ran minutes apart on the same machine).
"""
import json
import os
import re
import statistics
import sys

raw, out = sys.argv[1], sys.argv[2]
runs = {}
for name in os.listdir(raw):
    if not name.endswith(".time"):
        continue
    base = name[: -len(".time")]
    r, size, codec, acks, client = base.split(".", 4)
    with open(os.path.join(raw, name)) as f:
        fields = f.read().split()
    try:
        wall, user, sys_, rss_kb = (float(x) for x in fields[-4:])
    except ValueError:
        continue
    text = open(os.path.join(raw, base + ".out"), errors="replace").read()
    err = open(os.path.join(raw, base + ".err"), errors="replace").read()
    size_i = int(size)
    rec, errors, client_rate = None, 0, None
    m = re.search(r"^\{.*\}$", text, re.M)
    if m:
        j = json.loads(m.group(0))
        rec, errors = j["records"], j["errors"]
        client_rate = rec / max(1e-6, (j["last_us"] - j["start_us"]) / 1e6)
    m = re.search(r"(\d+) records sent, ([\d.]+) records/sec", text)
    if m:  # ProducerPerformance's final line
        rec, client_rate = int(m.group(1)), float(m.group(2))
    m = re.search(r"produced (\d+) records .*; (\d+) failed", err)
    if m:  # gregor produce's summary
        rec, errors = int(m.group(1)), int(m.group(2))
    if client == "kcat":
        # kcat -P prints nothing on success; a delivery failure is reported on stderr.
        errors = len(re.findall(r"(?i)delivery failed|error", err))
        rec = None
    runs[(int(r), size_i, codec, acks, client)] = {
        "wall_s": wall, "cpu_s": user + sys_, "user_s": user, "sys_s": sys_, "rss_mb": rss_kb / 1024,
        "records": rec, "errors": errors, "client_rate": client_rate,
    }

counts = {}
for name in os.listdir(raw):
    if name.endswith(".count"):
        r, size, codec, _ = name.split(".")
        have, expect = open(os.path.join(raw, name)).read().split()
        counts[f"{r}.{size}.{codec}"] = {"have": int(have), "expect": int(expect)}

def records_of(size):
    # The records each run sent: the count the clients report (all agree when complete).
    vals = [v["records"] for k, v in runs.items() if k[1] == size and v["records"]]
    return max(vals) if vals else None


datasets = sorted({(k[1], k[2], k[3]) for k in runs}, key=lambda d: (d[0], ["none", "lz4", "zstd", "gzip", "snappy"].index(d[1]), d[2]))
clients = []
for c in ["gregor", "gregor-before", "gregor-cli", "librdkafka", "kcat", "franz-go", "java"]:
    if any(k[4] == c for k in runs):
        clients.append(c)
rounds = sorted({k[0] for k in runs})


def med(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return (statistics.median(xs), min(xs), max(xs))


def fmt(t, digits=0):
    if t is None:
        return "–"
    m, lo, hi = t
    f = f"{{:,.{digits}f}}"
    return f"{f.format(m)} ({f.format(lo)}–{f.format(hi)})"


result = {"datasets": [], "counts": counts}
lines = [
    "# gregor producer benchmark (bench/producer.sh)",
    "",
    "Medians over rounds, (min–max). records/s (wall) = records / process wall time; records/s"
    " (client) = first send → last acknowledgement on the client's clock (– where the client has"
    " none); CPU s/GB = user+sys of the process per GB of values; ratios gregor/other computed per"
    " round (median). CPU ratio < 1 means gregor used less CPU.",
    "",
]
for size, codec, acks in datasets:
    n = records_of(size)
    gb = n * size / 1e9 if n else None
    lines.append(f"## {size} B × {n:,} records, {codec}, acks={acks}" if n else f"## {size} B, {codec}, acks={acks}")
    lines.append("")
    lines.append("| client | records/s (wall) | records/s (client) | CPU s/GB | user+sys s | peak RSS MB | errors | gregor CPU ratio | gregor wall ratio |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    ds = {"size": size, "codec": codec, "acks": acks, "records": n, "clients": {}}
    for c in clients:
        rs = [runs.get((r, size, codec, acks, c)) for r in rounds]
        rs_ok = [x for x in rs if x]
        if not rs_ok:
            continue
        wall_rate = med([n / x["wall_s"] for x in rs_ok]) if n else None
        client_rate = med([x["client_rate"] for x in rs_ok])
        cpu_gb = med([x["cpu_s"] / gb for x in rs_ok]) if gb else None
        cpu = med([x["cpu_s"] for x in rs_ok])
        rss = med([x["rss_mb"] for x in rs_ok])
        errors = sum(x["errors"] or 0 for x in rs_ok)
        short = [x["records"] for x in rs_ok if x["records"] is not None and x["records"] != n]
        cpu_ratio = wall_ratio = None
        if c != "gregor":
            cr, wr = [], []
            for r in rounds:
                g, o = runs.get((r, size, codec, acks, "gregor")), runs.get((r, size, codec, acks, c))
                if g and o:
                    cr.append(g["cpu_s"] / o["cpu_s"])
                    wr.append(g["wall_s"] / o["wall_s"])
            cpu_ratio, wall_ratio = med(cr), med(wr)
        lines.append(
            f"| {c} | {fmt(wall_rate)} | {fmt(client_rate)} | {fmt(cpu_gb, 2)} | {fmt(cpu, 2)} | {fmt(rss)} | "
            f"{errors}{' short: ' + str(short) if short else ''} | {fmt(cpu_ratio, 2) if cpu_ratio else '–'} | "
            f"{fmt(wall_ratio, 2) if wall_ratio else '–'} |"
        )
        ds["clients"][c] = {
            "records_per_s_wall": wall_rate, "records_per_s_client": client_rate, "cpu_s_per_gb": cpu_gb,
            "cpu_s": cpu, "rss_mb": rss, "errors": errors, "gregor_cpu_ratio": cpu_ratio,
            "gregor_wall_ratio": wall_ratio,
            "rounds": {r: runs.get((r, size, codec, acks, c)) for r in rounds},
        }
    lines.append("")
    result["datasets"].append(ds)

bad = {k: v for k, v in counts.items() if v["have"] != v["expect"]}
lines.append(
    "Records in each topic after its runs = records the clients sent: "
    + ("yes, every topic" if not bad else f"NO: {bad}")
)
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "results.json"), "w") as f:
    json.dump(result, f, indent=1, default=str)
with open(os.path.join(out, "results.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
