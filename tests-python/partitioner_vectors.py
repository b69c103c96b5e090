#!/usr/bin/env python3
"""Where librdkafka puts keyed records, for gregor's `partitioner` choices (issue #17).

Starts `$GREGOR_BIN mock` (default target/debug/gregor) with topics of 1, 2, 3, 7, 12 and 100
partitions, produces a fixed set of keys (empty, ASCII, UTF-8, binary, long) with confluent-kafka
(librdkafka) under each of its partitioners, and records the partition of every delivery report.

  --write FILE   writes the vectors (JSON) to FILE
  --check FILE   fails (exit 1) when librdkafka's placement differs from FILE's

The committed file, crates/gregor/src/producer/librdkafka_partitions.json, is what gregor's
unit test `partitioner_matches_librdkafka` checks `Partitioner::partition_for_key` against;
scripts/test.sh runs `--check` so the file stays librdkafka's own answer. Last line:
"N passed, N failed".
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

try:
    import confluent_kafka  # noqa: F401
except ImportError:
    if os.environ.get("GREGOR_PY_REEXEC"):
        raise
    py = subprocess.run([os.path.join(ROOT, "scripts", "setup-python.sh")], check=True,
                        stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]
    os.environ["GREGOR_PY_REEXEC"] = "1"
    os.execv(py, [py] + sys.argv)

from confluent_kafka import Producer  # noqa: E402

PARTITIONERS = ["consistent", "consistent_random", "murmur2", "murmur2_random", "fnv1a", "fnv1a_random"]
COUNTS = [1, 2, 3, 7, 12, 100]


def keys():
    out = [b"", b"a", b"k", b"abc", b"foobar", "clé-ünïcødé".encode(), b"\x00", b"\xff\xfe\xfd\xfc",
           b"a-little-bit-longer-string", b"x" * 1000]
    out += [f"key-{i}".encode() for i in range(40)]
    out += [f"order-{i:08d}".encode() for i in range(0, 4000, 397)]
    # Deterministic pseudo-random binary keys (xorshift32), lengths 1..32.
    s = 2463534242
    for n in range(1, 33):
        b = bytearray()
        for _ in range(n):
            s ^= (s << 13) & 0xFFFFFFFF
            s ^= s >> 17
            s ^= (s << 5) & 0xFFFFFFFF
            b.append(s & 0xFF)
        out.append(bytes(b))
    return out


def start_mock():
    binary = os.environ.get("GREGOR_BIN", os.path.join(ROOT, "target", "debug", "gregor"))
    args = [binary, "mock", "--brokers", "1"]
    for n in COUNTS:
        args += ["--topic", f"p{n}:{n}"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("bootstrap.servers="):
        proc.kill()
        raise RuntimeError(f"unexpected first line from mock: {line!r}")
    return proc, line.split("=", 1)[1]


def placements(bootstrap):
    ks = keys()
    vectors = []
    for name in PARTITIONERS:
        p = Producer({"bootstrap.servers": bootstrap, "partitioner": name, "linger.ms": 5})
        got = {}

        def report(err, msg, got=got):
            if err is not None:
                raise RuntimeError(f"delivery failed: {err}")
            got[(msg.topic(), msg.key())] = msg.partition()

        for n in COUNTS:
            for k in ks:
                p.produce(f"p{n}", key=k, value=b"v", on_delivery=report)
                p.poll(0)
        left = p.flush(60)
        if left:
            raise RuntimeError(f"{left} records not delivered")
        for k in ks:
            if name == "consistent_random" and not k:
                # librdkafka places an empty key at random under consistent_random (as a null
                # one): no vector to record (gregor's unit test checks it is random there too).
                continue
            vectors.append({"partitioner": name, "key_hex": k.hex(),
                            "by_count": {str(n): got[(f"p{n}", k)] for n in COUNTS}})
    return vectors


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("--write", "--check"):
        print(__doc__)
        sys.exit(2)
    proc, bootstrap = start_mock()
    try:
        vectors = placements(bootstrap)
    finally:
        proc.kill()
        proc.wait()
    doc = {"librdkafka": confluent_kafka.libversion()[0], "vectors": vectors}
    if sys.argv[1] == "--write":
        with open(sys.argv[2], "w") as f:
            f.write('{"librdkafka": %s, "vectors": [\n' % json.dumps(doc["librdkafka"]))
            f.write(",\n".join(json.dumps(v, separators=(",", ":")) for v in vectors))
            f.write("\n]}")
            f.write("\n")
        print(f"wrote {len(vectors)} vectors from librdkafka {doc['librdkafka']}")
        print("1 passed, 0 failed")
        return
    with open(sys.argv[2]) as f:
        committed = json.load(f)["vectors"]
    want = {(v["partitioner"], v["key_hex"]): v["by_count"] for v in committed}
    bad = [v for v in vectors if want.get((v["partitioner"], v["key_hex"])) != v["by_count"]]
    missing = len(want) != len(vectors)
    for v in bad[:10]:
        print(f"differs: {v} (file says {want.get((v['partitioner'], v['key_hex']))})")
    if bad or missing:
        print(f"{len(bad)} of {len(vectors)} placements differ from {sys.argv[2]}")
        print("0 passed, 1 failed")
        sys.exit(1)
    print(f"librdkafka {doc['librdkafka']} places all {len(vectors)} keys as {sys.argv[2]} says")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
