#!/usr/bin/env python3
"""The newest `rust-version` among the locked normal and build dependencies of the crates meant
for publishing (gregor, gregor-mock, gregor-cli), compared with the workspace's declared MSRV.

Usage: scripts/msrv-deps.py MSRV   -- exits 1, naming the dependencies, if any needs a newer
compiler than MSRV. (Dependencies that declare no rust-version are checked by actually building
with the MSRV toolchain: scripts/check-crates.sh.)
"""
import json
import subprocess
import sys

PUBLISHED = ("gregor", "gregor-mock", "gregor-cli")


def version_key(v):
    # "1.89" and "1.89.0" are the same version.
    parts = [int(x) for x in (v or "0").split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    msrv = sys.argv[1]
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--locked", "--format-version", "1",
         "--filter-platform", "x86_64-unknown-linux-gnu"],
        capture_output=True, text=True, check=True).stdout)
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    stack = [i for i in meta["workspace_members"] if packages[i]["name"] in PUBLISHED]
    seen = set()
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        for d in nodes[i]["deps"]:
            if any(k["kind"] in (None, "build") for k in d["dep_kinds"]):
                stack.append(d["pkg"])
    newest = max((version_key(packages[i].get("rust_version")), packages[i]["name"]) for i in seen)
    too_new = sorted(
        f'{packages[i]["name"]} {packages[i]["version"]} (rust-version {packages[i]["rust_version"]})'
        for i in seen
        if version_key(packages[i].get("rust_version")) > version_key(msrv))
    print(f"msrv-deps: {len(seen)} crates; declared MSRV {msrv}; newest dependency rust-version "
          f"{'.'.join(map(str, newest[0]))} ({newest[1]})")
    if too_new:
        print("msrv-deps: these need a newer compiler than the declared MSRV:\n  " + "\n  ".join(too_new))
        sys.exit(1)


if __name__ == "__main__":
    main()
