"""Test data for crates/gregor/tests/compat_real.rs through librdkafka (confluent-kafka).

One Python process instead of two or three JVM tool launches per topic: on a loaded 2-core
machine that is most of a compatibility check's time. librdkafka talks to every broker from 0.8
on (and to the other Kafka-protocol servers), so every target gets the same data.

    python data.py create BOOTSTRAP TOPIC PARTITIONS RF   -> prints the leader of each partition
    python data.py produce BOOTSTRAP TOPIC COUNT SIZE CODEC   (CODEC: none gzip snappy lz4 zstd)
"""
import os
import sys
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic


def create(bootstrap, topic, partitions, rf):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, partitions, rf)]).values():
        f.result(60)
    deadline = time.time() + 60
    while time.time() < deadline:
        t = admin.list_topics(topic, timeout=30).topics.get(topic)
        if t is not None and t.error is None and len(t.partitions) == partitions and all(
            p.leader >= 0 for p in t.partitions.values()
        ):
            print(" ".join(str(t.partitions[p].leader) for p in sorted(t.partitions)))
            return
        time.sleep(0.2)
    sys.exit(f"topic {topic} has no leader for every partition after 60 s")


def produce(bootstrap, topic, count, size, codec):
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "compression.type": codec,
            "linger.ms": 10,
            "acks": "all",
            "enable.idempotence": False,
        }
    )
    failed = []

    def report(err, _msg):
        if err is not None:
            failed.append(err)

    payload = os.urandom(size)
    for _ in range(count):
        while True:
            try:
                p.produce(topic, value=payload, on_delivery=report)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(60)
    if left or failed:
        sys.exit(f"{left} records not delivered, {len(failed)} failed: {failed[:3]}")


if __name__ == "__main__":
    cmd, bootstrap, topic = sys.argv[1:4]
    if cmd == "create":
        create(bootstrap, topic, int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "produce":
        produce(bootstrap, topic, int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    else:
        sys.exit(f"unknown command {cmd}")
