// The Java reference consumer for gregor's connection measurements and benchmarks.
//
// A KafkaConsumer (kafka-clients 4.3.1) in a consumer group, subscribed to one topic. It
// consumes for a duration / a record count / up to the topic's end offsets, optionally stays
// open afterwards (so sockets can be watched from outside, see scripts/connections/measure.sh),
// and reports what it did. Built and run by `scripts/kafka-cluster.sh harness ARGS...`.
//
// Per-record work (always on, so both modes do the same work): every key and value byte is
// folded into a checksum, and offsets are checked to be contiguous per partition.
//   record hash = FNV-1a 64 over the key bytes then the value bytes (null = no bytes)
//                 (offset basis 0xcbf29ce484222325, prime 0x100000001b3)
//   checksum    = wrapping 64-bit sum of the record hashes, so it does not depend on the order
//                 in which partitions are interleaved; printed as 16 lowercase hex digits.
// A Rust consumer that reads the same topic must print the same checksum.
import java.io.FileReader;
import java.io.IOException;
import java.io.Reader;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class ConnHarness {
    private static final long FNV_BASIS = 0xcbf29ce484222325L;
    private static final long FNV_PRIME = 0x100000001b3L;

    private static final String USAGE = String.join("\n",
            "usage: ConnHarness --bootstrap HOST:PORT[,...] --topic TOPIC [options]",
            "  --group ID            consumer group (default conn-harness-<pid>-<millis>)",
            "  -X key=value          consumer property (repeatable; wins over --config)",
            "  --config FILE         consumer properties file",
            "  --duration-ms N       consume phase length in ms",
            "  --records N           end the consume phase after N records",
            "  --until-end           end the consume phase once every partition reached the end",
            "                        offset it had when the harness started (ListOffsets first)",
            "                        (with none of the three: --duration-ms 10000)",
            "  --linger-s N          then keep the consumer open N more seconds (default 0)",
            "  --linger-mode M       poll (default: keep calling poll, as an app would) | sleep",
            "  --events              timeline on stderr: assignment, first record, and every",
            "                        change of Java's connection-count/-creation/-close metrics",
            "  --json                print one JSON stats line on stdout (benchmark mode)",
            "Text mode prints 'records=N' (and the checksum) on stdout when done.",
            "Timestamps (t=) are ms since MEASURE_T0_MS (epoch ms) if set, else since the JVM started.");

    private final long processStartMs;
    private boolean events;

    private ConnHarness(long processStartMs) {
        this.processStartMs = processStartMs;
    }

    private long now() {
        return System.currentTimeMillis() - processStartMs;
    }

    private void event(String msg) {
        if (events) System.err.printf(Locale.ROOT, "t=%d %s%n", now(), msg);
    }

    public static void main(String[] args) throws Exception {
        // Time origin: MEASURE_T0_MS (epoch ms, exported by scripts/connections/measure.sh when it
        // launches the command) so harness and socket timelines share one clock; otherwise the
        // JVM's own start time (ms precision; ProcessHandle's startInstant is derived from
        // /proc's boot time in whole seconds and can be off by up to a second).
        long start = ManagementFactory.getRuntimeMXBean().getStartTime();
        String t0 = System.getenv("MEASURE_T0_MS");
        if (t0 != null && t0.matches("[0-9]{1,18}")) start = Long.parseLong(t0);
        System.exit(new ConnHarness(start).run(args));
    }

    private int run(String[] args) throws IOException, InterruptedException {
        String bootstrap = null, topic = null, group = null, config = null, lingerMode = "poll";
        long durationMs = -1, maxRecords = -1, lingerS = 0;
        boolean untilEnd = false, json = false;
        Properties cli = new Properties();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "-h", "--help" -> { System.out.println(USAGE); return 0; }
                case "--events" -> events = true;
                case "--json" -> json = true;
                case "--until-end" -> untilEnd = true;
                default -> {
                    if (i + 1 >= args.length) return usage("missing value for " + a);
                    String v = args[++i];
                    switch (a) {
                        case "--bootstrap" -> bootstrap = v;
                        case "--topic" -> topic = v;
                        case "--group" -> group = v;
                        case "--config" -> config = v;
                        case "--duration-ms" -> durationMs = Long.parseLong(v);
                        case "--records" -> maxRecords = Long.parseLong(v);
                        case "--linger-s" -> lingerS = Long.parseLong(v);
                        case "--linger-mode" -> lingerMode = v;
                        case "-X" -> {
                            int eq = v.indexOf('=');
                            if (eq <= 0) return usage("-X wants key=value, got " + v);
                            cli.setProperty(v.substring(0, eq), v.substring(eq + 1));
                        }
                        default -> { return usage("unknown option " + a); }
                    }
                }
            }
        }
        if (bootstrap == null || topic == null) return usage("--bootstrap and --topic are required");
        if (!lingerMode.equals("poll") && !lingerMode.equals("sleep")) return usage("bad --linger-mode");
        if (durationMs < 0 && maxRecords < 0 && !untilEnd) durationMs = 10_000;

        Properties props = new Properties();
        props.setProperty(ConsumerConfig.GROUP_ID_CONFIG,
                group != null ? group : "conn-harness-" + ProcessHandle.current().pid() + "-" + System.currentTimeMillis());
        props.setProperty(ConsumerConfig.CLIENT_ID_CONFIG, "conn-harness");
        // Fresh groups must read what was produced before they joined.
        props.setProperty(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        if (config != null) {
            try (Reader r = new FileReader(config)) { props.load(r); }
        }
        props.putAll(cli);
        props.setProperty(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());

        event("constructing KafkaConsumer group.protocol=" + props.getProperty("group.protocol", "classic"));
        long constructedAt;
        Stats stats = new Stats();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            constructedAt = now();
            event("constructed");
            ConnMetrics metrics = new ConnMetrics(consumer);
            metrics.report(this);

            Map<TopicPartition, Long> end = null;
            if (untilEnd) {
                List<TopicPartition> tps = new ArrayList<>();
                for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofSeconds(60)))
                    tps.add(new TopicPartition(p.topic(), p.partition()));
                if (tps.isEmpty()) throw new IllegalStateException("topic " + topic + " has no partitions");
                end = new HashMap<>(consumer.endOffsets(tps, Duration.ofSeconds(60)));
                event("end offsets " + new TreeMap<>(end.entrySet().stream().collect(
                        java.util.stream.Collectors.toMap(e -> e.getKey().partition(), Map.Entry::getValue))));
                end.values().removeIf(v -> v == 0);
            }

            consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                @Override public void onPartitionsRevoked(Collection<TopicPartition> parts) {
                    if (!parts.isEmpty()) event("revoked " + names(parts));
                }
                @Override public void onPartitionsAssigned(Collection<TopicPartition> parts) {
                    event("assigned " + names(parts));
                }
            });

            long deadline = durationMs >= 0 ? now() + durationMs : Long.MAX_VALUE;
            while (now() < deadline) {
                if (maxRecords >= 0 && stats.records >= maxRecords) break;
                if (end != null && reachedEnd(consumer, end, stats)) break;
                ConsumerRecords<byte[], byte[]> recs = consumer.poll(Duration.ofMillis(
                        Math.max(1, Math.min(500, deadline - now()))));
                stats.add(recs, this);
                metrics.report(this);
            }
            stats.doneAt = now();
            event("consume phase done records=" + stats.records);
            if (!json) System.out.println("records=" + stats.records);
            System.out.flush();

            long lingerUntil = now() + lingerS * 1000;
            if (lingerS > 0) event("lingering " + lingerS + "s mode=" + lingerMode);
            while (now() < lingerUntil) {
                if (lingerMode.equals("poll")) {
                    stats.add(consumer.poll(Duration.ofMillis(Math.max(1, Math.min(500, lingerUntil - now())))), this);
                } else {
                    Thread.sleep(Math.max(1, Math.min(500, lingerUntil - now())));
                }
                metrics.report(this);
            }
            metrics.report(this);
            event("java node metrics: " + metrics.nodes());
            event("closing consumer");
        }
        event("closed");

        if (json) {
            long elapsed = stats.doneAt - constructedAt;
            System.out.printf(Locale.ROOT,
                    "{\"client\":\"java-kafka-clients-4.3.1\",\"group_protocol\":\"%s\",\"records\":%d,"
                            + "\"bytes\":%d,\"elapsed_ms\":%d,\"process_ms\":%d,\"time_to_first_record_ms\":%d,"
                            + "\"records_per_s\":%.1f,\"mb_per_s\":%.2f,\"checksum\":\"%016x\",\"partitions\":%d,"
                            + "\"offset_gaps\":%d}%n",
                    props.getProperty("group.protocol", "classic"), stats.records, stats.bytes, elapsed,
                    stats.doneAt, stats.firstRecordAt, stats.records * 1000.0 / Math.max(1, elapsed),
                    stats.bytes / 1e6 * 1000.0 / Math.max(1, elapsed), stats.checksum,
                    stats.lastOffset.size(), stats.gaps);
        } else {
            System.out.printf(Locale.ROOT, "records=%d bytes=%d checksum=%016x offset_gaps=%d%n",
                    stats.records, stats.bytes, stats.checksum, stats.gaps);
        }
        return stats.gaps == 0 ? 0 : 2;
    }

    private static int usage(String why) {
        System.err.println("ConnHarness: " + why + "\n" + USAGE);
        return 64;
    }

    private static String names(Collection<TopicPartition> parts) {
        TreeSet<String> s = new TreeSet<>();
        for (TopicPartition tp : parts) s.add(tp.toString());
        return s.toString();
    }

    /** True once every partition with data has been consumed up to its end offset. */
    private static boolean reachedEnd(KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> end, Stats stats) {
        Set<TopicPartition> assigned = consumer.assignment();
        end.entrySet().removeIf(e -> {
            Long last = stats.lastOffset.get(e.getKey());
            if (last != null && last + 1 >= e.getValue()) return true;
            // Position also moves past control records (transaction markers) that poll() hides.
            return assigned.contains(e.getKey())
                    && consumer.position(e.getKey(), Duration.ofSeconds(30)) >= e.getValue();
        });
        return end.isEmpty();
    }

    private static final class Stats {
        long records, bytes, checksum, gaps, firstRecordAt = -1, doneAt;
        final Map<TopicPartition, Long> lastOffset = new HashMap<>();

        void add(ConsumerRecords<byte[], byte[]> recs, ConnHarness h) {
            if (recs.isEmpty()) return;
            if (firstRecordAt < 0) {
                firstRecordAt = h.now();
                h.event("first record");
            }
            for (ConsumerRecord<byte[], byte[]> r : recs) {
                long hash = FNV_BASIS;
                byte[] k = r.key(), v = r.value();
                if (k != null) {
                    for (byte b : k) hash = (hash ^ (b & 0xff)) * FNV_PRIME;
                    bytes += k.length;
                }
                if (v != null) {
                    for (byte b : v) hash = (hash ^ (b & 0xff)) * FNV_PRIME;
                    bytes += v.length;
                }
                checksum += hash;
                records++;
                TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                Long prev = lastOffset.put(tp, r.offset());
                if (prev != null && r.offset() != prev + 1) {
                    gaps++;
                    System.err.printf("offset gap on %s: %d -> %d%n", tp, prev, r.offset());
                }
            }
        }
    }

    /** Java's own view of its connections (group consumer-metrics), printed when it changes. */
    private static final class ConnMetrics {
        private final KafkaConsumer<byte[], byte[]> consumer;
        private String last = "";

        ConnMetrics(KafkaConsumer<byte[], byte[]> consumer) {
            this.consumer = consumer;
        }

        private double value(String name) {
            for (Map.Entry<MetricName, ? extends Metric> e : consumer.metrics().entrySet()) {
                MetricName n = e.getKey();
                if (n.group().equals("consumer-metrics") && n.name().equals(name)) {
                    Object v = e.getValue().metricValue();
                    if (v instanceof Number num) return num.doubleValue();
                }
            }
            return Double.NaN;
        }

        void report(ConnHarness h) {
            if (!h.events) return;
            String now = String.format(Locale.ROOT, "java metrics connection-count=%.0f creation-total=%.0f close-total=%.0f",
                    value("connection-count"), value("connection-creation-total"), value("connection-close-total"));
            if (!now.equals(last)) {
                h.event(now);
                last = now;
            }
        }

        /** node-id -> request-total, from the per-node metrics: which node ids Java used. */
        String nodes() {
            TreeMap<String, Long> out = new TreeMap<>();
            for (Map.Entry<MetricName, ? extends Metric> e : consumer.metrics().entrySet()) {
                MetricName n = e.getKey();
                if (n.group().equals("consumer-node-metrics") && n.name().equals("request-total")) {
                    Object v = e.getValue().metricValue();
                    out.put(n.tags().get("node-id"), v instanceof Number num ? num.longValue() : -1L);
                }
            }
            return out.toString();
        }
    }
}
