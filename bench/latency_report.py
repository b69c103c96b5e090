"""Report of bench/latency.sh: RAW/points.jsonl (one JSON line per point) -> OUT/latency.{jsonl,md}.
Usage: latency_report.py POINTS_JSONL OUT SECONDS WARMUP PARTITIONS RF"""
import json, os, sys
src, out, secs, warm, parts, rf = sys.argv[1:]
rows = [json.loads(l) for l in open(src) if l.strip()]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "latency.jsonl"), "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
import statistics
ms = lambda us: "—" if us is None or us < 0 else f"{us / 1000:.1f}"
ORDER = ["gregor", "java", "franz-go", "librdkafka"]
key = lambda r: (r.get("rate", 0), r.get("mode", ""), ORDER.index(r["client"]) if r.get("client") in ORDER else 9)
rounds = sorted({r.get("round", 1) for r in rows})
lines = [f"{secs} s measured after {warm} s warm-up per point; {parts} partitions, RF {rf}; "
         "latency = produce call -> record returned by the consumer's poll, ms (nearest rank).", ""]
if len(rounds) > 1:
    lines += [f"Median over {len(rounds)} rounds of each percentile (per round below):", "",
              "| rate/s | settings | client | p50 | p99 | p99.9 | max |", "|---:|---|---|---:|---:|---:|---:|"]
    groups = {}
    for r in rows:
        groups.setdefault((r.get("rate"), r.get("mode"), r.get("client")), []).append(r)
    for k in sorted(groups, key=lambda k: key({"rate": k[0], "mode": k[1], "client": k[2]})):
        med = lambda f: statistics.median([g[f] for g in groups[k] if g.get(f, -1) >= 0] or [-1])
        lines.append("| {} | {} | {} | {} | {} | {} | {} |".format(
            *k, ms(med("p50_us")), ms(med("p99_us")), ms(med("p999_us")), ms(med("max_us"))))
    lines.append("")
lines += ["| round | rate/s | settings | client | p50 | p99 | p99.9 | max | measured | consumer CPU s | RSS MiB | load before/after |",
          "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
for r in sorted(rows, key=lambda r: (r.get("round", 1),) + key(r)):
    lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
        r.get("round", 1), r.get("rate"), r.get("mode", "?"), r.get("client", "(failed)"), ms(r.get("p50_us")),
        ms(r.get("p99_us")), ms(r.get("p999_us")), ms(r.get("max_us")), r.get("measured", 0),
        f"{r['cpu_s']:.1f}" if "cpu_s" in r else "—",
        f"{r['rss_kib'] / 1024:.0f}" if "rss_kib" in r else "—",
        "/".join(f"{x:.1f}" for x in r.get("load", [])) or "—"))
open(os.path.join(out, "latency.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
