// Java (kafka-clients 4.3.1) side of gregor's consumer benchmark (bench/run.sh). Same per-record
// work as every other bench client: FNV-1a 64 over key then value, per-record hashes summed
// (order-independent, so every client prints the same checksum for a topic), offsets checked
// contiguous per partition. Kept apart from scripts/kafka/ConnHarness.java (subscribe-only,
// relative clock) because the bench needs assign() and absolute first/last-record timestamps.
// Usage: BenchConsumer BOOTSTRAP TOPIC RECORDS [GROUP]   (prints one JSON line)
// A TOPIC starting with ^ is a regular expression (librdkafka's convention): a group subscription
// to every matching topic (subscribe(Pattern)), offsets then checked per topic and partition.
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class BenchConsumer {
    static long nowUs() {
        java.time.Instant i = java.time.Instant.now();
        return i.getEpochSecond() * 1_000_000L + i.getNano() / 1000;
    }

    public static void main(String[] a) {
        if (a.length < 3) {
            System.err.println("usage: BenchConsumer BOOTSTRAP TOPIC RECORDS [GROUP]");
            System.exit(2);
        }
        String topic = a[1];
        long want = Long.parseLong(a[2]);
        String group = a.length > 3 ? a[3] : null;
        Properties p = new Properties();
        p.put("bootstrap.servers", a[0]);
        // The fetch settings shared by every client (these are Java's defaults, set explicitly).
        p.put("fetch.max.bytes", "52428800");
        p.put("max.partition.fetch.bytes", "1048576");
        p.put("fetch.min.bytes", "1");
        p.put("fetch.max.wait.ms", "500");
        p.put("check.crcs", "true");
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        if (group != null) p.put("group.id", group);
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        long n = 0, bytes = 0, sum = 0, gaps = 0, firstUs = 0;
        Map<Integer, Long> next = new HashMap<>();
        Map<TopicPartition, Long> nextTp = new HashMap<>();
        boolean regex = topic.startsWith("^");
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            if (regex) {
                c.subscribe(java.util.regex.Pattern.compile(topic.substring(1)));
            } else if (group != null) {
                c.subscribe(List.of(topic));
            } else {
                List<TopicPartition> tps = new ArrayList<>();
                for (PartitionInfo pi : c.partitionsFor(topic, Duration.ofSeconds(30)))
                    tps.add(new TopicPartition(topic, pi.partition()));
                c.assign(tps);
                c.seekToBeginning(tps);
            }
            long deadline = System.nanoTime() + 600_000_000_000L;
            while (n < want && System.nanoTime() < deadline) {
                ConsumerRecords<byte[], byte[]> recs = c.poll(Duration.ofMillis(100));
                if (firstUs == 0 && !recs.isEmpty()) firstUs = nowUs();
                for (ConsumerRecord<byte[], byte[]> r : recs) {
                    long h = 0xcbf29ce484222325L;
                    byte[] k = r.key(), v = r.value();
                    if (k != null) {
                        for (byte b : k) h = (h ^ (b & 0xff)) * 0x100000001b3L;
                        bytes += k.length;
                    }
                    if (v != null) {
                        for (byte b : v) h = (h ^ (b & 0xff)) * 0x100000001b3L;
                        bytes += v.length;
                    }
                    sum += h;
                    if (regex) {
                        TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                        Long e = nextTp.get(tp);
                        if (e != null && e != r.offset()) gaps++;
                        nextTp.put(tp, r.offset() + 1);
                    } else {
                        Long e = next.get(r.partition());
                        if (e != null && e != r.offset()) gaps++;
                        next.put(r.partition(), r.offset() + 1);
                    }
                    n++;
                }
            }
            long lastUs = nowUs();
            System.out.printf(Locale.ROOT,
                    "{\"client\":\"java\",\"records\":%d,\"bytes\":%d,\"checksum\":\"%016x\",\"gaps\":%d,"
                            + "\"partitions\":%d,\"first_us\":%d,\"last_us\":%d}%n",
                    n, bytes, sum, gaps, next.size() + nextTp.size(), firstUs, lastUs);
            System.out.flush();
        }
    }
}
