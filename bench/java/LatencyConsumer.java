// Java (kafka-clients 4.3.1) side of gregor's end-to-end latency benchmark (bench/latency.sh,
// issue #14 item 5). Reads every partition of TOPIC from the start (assign); for each record whose
// sequence number (value bytes 0..8, big-endian) is at least WARMUP, records now - produce time
// (value bytes 8..16, Unix ns) when poll hands it over. Stops after RECORDS records; prints
// nearest-rank p50/p99/p99.9/max in microseconds as one JSON line, as every latency client does.
// MODE "low" sets fetch.max.wait.ms=10 (default 500).
// Usage: LatencyConsumer BOOTSTRAP TOPIC RECORDS WARMUP MODE
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class LatencyConsumer {
    static long nowNs() {
        Instant i = Instant.now();
        return i.getEpochSecond() * 1_000_000_000L + i.getNano();
    }

    static long pct(long[] s, int len, double q) {
        if (len == 0) return -1;
        int rank = (int) Math.ceil(q * len);
        return s[Math.min(Math.max(rank, 1), len) - 1];
    }

    public static void main(String[] a) {
        if (a.length != 5) {
            System.err.println("usage: LatencyConsumer BOOTSTRAP TOPIC RECORDS WARMUP MODE");
            System.exit(2);
        }
        String topic = a[1], mode = a[4];
        long want = Long.parseLong(a[2]), warm = Long.parseLong(a[3]);
        Properties p = new Properties();
        p.put("bootstrap.servers", a[0]);
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        if (mode.equals("low")) p.put("fetch.max.wait.ms", "10");
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        long[] lat = new long[(int) want];
        int len = 0;
        long n = 0, bad = 0;
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo pi : c.partitionsFor(topic, Duration.ofSeconds(30)))
                tps.add(new TopicPartition(topic, pi.partition()));
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.nanoTime() + 300_000_000_000L;
            boolean ready = false;
            while (n < want && System.nanoTime() < deadline) {
                ConsumerRecords<byte[], byte[]> recs = c.poll(Duration.ofMillis(100));
                if (!ready) {
                    // bench/latency.sh starts the producer once every consumer has polled once.
                    System.err.println("latency-ready");
                    ready = true;
                }
                for (ConsumerRecord<byte[], byte[]> r : recs) {
                    long now = nowNs();
                    n++;
                    byte[] v = r.value();
                    if (v == null || v.length < 16) {
                        bad++;
                        continue;
                    }
                    ByteBuffer b = ByteBuffer.wrap(v);
                    long seq = b.getLong(0), sent = b.getLong(8);
                    if (seq >= warm && len < lat.length) lat[len++] = (now - sent) / 1000;
                }
            }
        }
        Arrays.sort(lat, 0, len);
        System.out.printf(Locale.ROOT,
                "{\"client\":\"java\",\"mode\":\"%s\",\"records\":%d,\"bad\":%d,\"measured\":%d,\"p50_us\":%d,"
                        + "\"p99_us\":%d,\"p999_us\":%d,\"max_us\":%d}%n",
                mode, n, bad, len, pct(lat, len, 0.5), pct(lat, len, 0.99), pct(lat, len, 0.999),
                pct(lat, len, 1.0));
        System.out.flush();
    }
}
