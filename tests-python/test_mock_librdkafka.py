#!/usr/bin/env python3
"""Third-party proof: librdkafka (via confluent-kafka) against `gregor mock`.

Starts `$GREGOR_BIN mock --brokers 3 --topic t:6` (default target/debug/gregor), reads the
`bootstrap.servers=` line, then for each compression codec: produces 1000 keyed records,
consumes them back in a group with synchronous commits, and checks that a second consumer in
the same group resumes from the committed offsets (it sees only a sentinel produced later).
Also: two consumers sharing a group, and (when Kafka 4.3.1 jars are present, see java_lib) the
Java console producer/consumer.

Run: python3 tests-python/test_mock_librdkafka.py   (re-executes itself in the venv made by
scripts/setup-python.sh if confluent_kafka is not importable). Last line: "N passed, N failed".
"""
import os
import subprocess
import sys
import time
import traceback

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

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

N = 1000
TIMEOUT = 60.0
DEBUG = os.environ.get("RDKAFKA_DEBUG")  # e.g. "protocol,broker"


def conf(bootstrap, **extra):
    c = {"bootstrap.servers": bootstrap}
    if DEBUG:
        c["debug"] = DEBUG
    c.update(extra)
    return c


def start_mock():
    binary = os.environ.get("GREGOR_BIN", os.path.join(ROOT, "target", "debug", "gregor"))
    args = [binary, "mock", "--brokers", "3", "--topic", "t:6"]
    if os.path.basename(binary).startswith("standalone"):
        args.remove("mock")  # the gregor-mock example takes the same flags without a subcommand
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("bootstrap.servers="):
        proc.kill()
        raise RuntimeError(f"unexpected first line from mock: {line!r}")
    return proc, line.split("=", 1)[1]


def produce(bootstrap, topic, records, compression):
    p = Producer(conf(bootstrap, **{"compression.type": compression, "linger.ms": 5, "acks": "all"}))
    errors = []
    delivered = []

    def report(err, msg):
        if err is not None:
            errors.append(err)
        else:
            delivered.append((msg.partition(), msg.offset()))

    for k, v in records:
        p.produce(topic, key=k, value=v, on_delivery=report)
        p.poll(0)
    remaining = p.flush(TIMEOUT)
    assert remaining == 0, f"{remaining} messages not delivered"
    assert not errors, f"delivery errors: {errors[:5]}"
    assert len(delivered) == len(records), (len(delivered), len(records))
    return delivered


def consume(bootstrap, topic, group, want, stop=None):
    """Consumes until `want` messages (or the `stop` value) arrived; commits synchronously."""
    c = Consumer(conf(bootstrap, **{
        "group.id": group, "enable.auto.commit": False, "auto.offset.reset": "earliest",
        "session.timeout.ms": 10000, "heartbeat.interval.ms": 500,
    }))
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"consumer error: {m.error()}")
            got.append((m.key(), m.value(), m.partition(), m.offset()))
            if (stop is not None and m.value() == stop) or (stop is None and len(got) >= want):
                break
        c.commit(asynchronous=False)
        committed = c.committed([TopicPartition(topic, p) for p in range(6)], timeout=10)
    finally:
        c.close()
    return got, committed


def check_codec(bootstrap, admin, codec):
    topic = "t" if codec == "none" else f"t-{codec}"
    if topic != "t":
        fs = admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
        fs[topic].result(timeout=30)
    records = [(f"k{i % 97}".encode(), f"v{i}-{codec}".encode()) for i in range(N)]
    produce(bootstrap, topic, records, codec)
    group = f"g-{codec}"
    got, committed = consume(bootstrap, topic, group, N)
    assert len(got) == N, f"got {len(got)} records, want {N}"
    assert sorted((k, v) for k, v, _, _ in got) == sorted(records), "records differ"
    # Keyed records keep their per-key order (same partition).
    per_key = {}
    for k, v, _, _ in got:
        per_key.setdefault(k, []).append(int(v.split(b"-")[0][1:]))
    assert all(seq == sorted(seq) for seq in per_key.values()), "per-key order broken"
    total = sum(tp.offset for tp in committed if tp.offset >= 0)
    assert total == N, f"committed offsets sum to {total}, want {N}"
    # A second consumer in the same group must resume from the commits: the only record it
    # sees is a sentinel produced after everything was committed.
    produce(bootstrap, topic, [(b"sentinel", b"sentinel")], codec)
    got2, _ = consume(bootstrap, topic, group, 1, stop=b"sentinel")
    assert [(k, v) for k, v, _, _ in got2] == [(b"sentinel", b"sentinel")], f"second consumer got {got2[:5]}"


def check_two_consumers_share_a_group(bootstrap, admin):
    """Two librdkafka consumers in one group split the 6 partitions (a real rebalance with a
    parked JoinGroup) and together receive every record exactly once."""
    topic = "t-shared"
    admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])[topic].result(timeout=30)
    records = [(f"k{i}".encode(), f"v{i}".encode()) for i in range(N)]
    cfg = {"group.id": "g-shared", "enable.auto.commit": False, "auto.offset.reset": "earliest",
           "session.timeout.ms": 10000, "heartbeat.interval.ms": 300}
    consumers = [Consumer(conf(bootstrap, **cfg)) for _ in range(2)]
    for c in consumers:
        c.subscribe([topic])
    got = [[], []]
    deadline = time.monotonic() + TIMEOUT
    try:
        # Produce only once the group settled on two disjoint halves, so no record can be
        # delivered twice across a rebalance (there are no commits before it).
        while time.monotonic() < deadline:
            for c in consumers:
                assert c.poll(0.1) is None, "no records yet"
            assigned = [set(p.partition for p in c.assignment()) for c in consumers]
            if all(assigned) and (assigned[0] | assigned[1]) == set(range(6)) and not (assigned[0] & assigned[1]):
                break
        produce(bootstrap, topic, records, "none")
        while time.monotonic() < deadline:
            for i, c in enumerate(consumers):
                m = c.poll(0.1)
                if m is not None and not m.error():
                    got[i].append((m.key(), m.value()))
                elif m is not None and m.error().code() != KafkaError._PARTITION_EOF:
                    raise AssertionError(f"consumer error: {m.error()}")
            assigned = [set(p.partition for p in c.assignment()) for c in consumers]
            if sum(len(g) for g in got) >= N and all(assigned) and not (assigned[0] & assigned[1]) \
                    and (assigned[0] | assigned[1]) == set(range(6)):
                break
        assigned = [set(p.partition for p in c.assignment()) for c in consumers]
        assert all(assigned), f"both consumers must own partitions: {assigned}"
        assert not (assigned[0] & assigned[1]) and (assigned[0] | assigned[1]) == set(range(6)), assigned
        for c in consumers:
            c.commit(asynchronous=False)
    finally:
        for c in consumers:
            c.close()
    assert sorted(got[0] + got[1]) == sorted(records), f"got {len(got[0])}+{len(got[1])} records"


def java_lib():
    """Kafka jars dir for the optional Java-client check (KAFKA_LIB, else the cache that
    scripts/kafka-cluster.sh fills); None when absent."""
    cache = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
    lib = os.environ.get("KAFKA_LIB", os.path.join(cache, "gregor", "kafka-4.3.1", "lib"))
    return lib if os.path.isfile(os.path.join(lib, "kafka-clients-4.3.1.jar")) else None


def check_java_console_clients(bootstrap, admin, lib):
    """The Java 4.x producer (idempotent by default) and consumer against the same mock."""
    topic = "t-java"
    admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])[topic].result(timeout=30)
    cp = ["java", "-cp", os.path.join(lib, "*")]
    lines = "".join(f"k{i}|v{i}\n" for i in range(N))
    subprocess.run(cp + ["org.apache.kafka.tools.ConsoleProducer", "--bootstrap-server", bootstrap, "--topic", topic,
                         "--command-property", "compression.type=zstd", "--reader-property", "parse.key=true",
                         "--reader-property", "key.separator=|"],
                   input=lines, text=True, check=True, timeout=120, capture_output=True)
    out = subprocess.run(cp + ["org.apache.kafka.tools.consumer.ConsoleConsumer", "--bootstrap-server", bootstrap,
                               "--topic", topic, "--group", "g-java", "--from-beginning", "--max-messages", str(N),
                               "--timeout-ms", "30000", "--formatter-property", "print.key=true",
                               "--formatter-property", "key.separator=|"],
                         text=True, check=True, timeout=120, capture_output=True).stdout
    got = sorted(out.split())
    assert got == sorted(f"k{i}|v{i}" for i in range(N)), f"java consumer got {len(got)} records"
    # librdkafka in the same group resumes from the Java consumer's commits.
    produce(bootstrap, topic, [(b"sentinel", b"sentinel")], "none")
    got2, _ = consume(bootstrap, topic, "g-java", 1, stop=b"sentinel")
    assert [(k, v) for k, v, _, _ in got2] == [(b"sentinel", b"sentinel")], f"resumed consumer got {got2[:5]}"


def main():
    proc, bootstrap = start_mock()
    passed = failed = skipped = 0
    try:
        admin = AdminClient(conf(bootstrap))
        md = admin.list_topics(timeout=30)
        tests = [("metadata lists 3 brokers and t:6",
                  lambda: (len(md.brokers) == 3 and len(md.topics["t"].partitions) == 6) or
                  (_ for _ in ()).throw(AssertionError(f"metadata: {md.brokers} {md.topics}")))]
        for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
            tests.append((f"produce/consume/commit with compression={codec}",
                          lambda codec=codec: check_codec(bootstrap, admin, codec)))
        tests.append(("two consumers share one group", lambda: check_two_consumers_share_a_group(bootstrap, admin)))
        lib = java_lib()
        if lib:
            tests.append(("java 4.x console producer and consumer", lambda: check_java_console_clients(bootstrap, admin, lib)))
        else:
            skipped += 1
            print("SKIP java 4.x console clients (no Kafka jars; set KAFKA_LIB)", flush=True)
        for name, fn in tests:
            t0 = time.monotonic()
            try:
                fn()
                passed += 1
                print(f"PASS {name} ({time.monotonic() - t0:.1f}s)", flush=True)
            except Exception:
                failed += 1
                print(f"FAIL {name}", flush=True)
                traceback.print_exc()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
