#!/usr/bin/env python3
"""Markdown tables from gregor-chaos JSON reports (docs/reliability.md is written from these).

    python3 scripts/chaos-report.py target/chaos/suite-gregor.json target/chaos/suite-java.json
    python3 scripts/chaos-report.py target/chaos/rolling-restart-gregor.json

A report file holds one JSON object per run (one line each with --runs N).
"""
import json
import sys


def runs(path):
    with open(path) as f:
        text = f.read()
    dec = json.JSONDecoder()
    i = 0
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        obj, i = dec.raw_decode(text, i)
        yield obj


def client_of(run, path):
    return run.get("client") or ("java" if "java" in path else "gregor")


def summary(path):
    print(f"\n**{path}**\n")
    print("| run | client | protocol | records read / produced | members alive | redeliveries (unexplained) | committed regressions | socket violations | result |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, run in enumerate(runs(path), 1):
        for g in run["groups"]:
            print(
                f"| {n} | {client_of(run, path)} | {g['protocol']} | {g['distinct']:,} / {run['expected']:,} "
                f"| {sum(g['alive_at_end'])}/{len(g['alive_at_end'])} | {g['redeliveries']} ({len(g['unexplained_redeliveries'])}) "
                f"| {len(g['committed_regressions'])} | {len(g.get('socket_violations', []))} | {'ok' if g['ok'] else 'FAILED'} |"
            )


def faults(path):
    for run in runs(path):
        if run.get("scenario") != "suite":
            continue
        print(f"\n**{path}** — per fault (ms): caught up after the fault ended / longest gap in consumption / "
              "longest delay of a record produced during it; max sockets held by one member (and its L)\n")
        groups = run["groups"]
        head = "| fault | " + " | ".join(f"{client_of(run, path)} {g['protocol']}" for g in groups) + " |"
        print(head)
        print("|---" * (len(groups) + 1) + "|")
        names = [f["fault"] for f in groups[0]["faults"]]
        for i, name in enumerate(names):
            cells = []
            for g in groups:
                f = g["faults"][i]
                socks = [s for s in g["sockets"] if s["fault"] == name]
                worst = max(socks, key=lambda s: s["sockets"] - s["leaders"], default=None)
                sock = f"; {worst['sockets']} sockets (L={worst['leaders']})" if worst else ""
                cells.append(f"{f['caught_up_after_ms']} / {f['longest_consumption_gap_ms']} / {f['max_record_delay_ms']}{sock}")
            print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        summary(p)
        faults(p)
