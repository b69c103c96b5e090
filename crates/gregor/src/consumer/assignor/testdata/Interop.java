import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.Assignment;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.GroupSubscription;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.Subscription;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.consumer.RoundRobinAssignor;
import org.apache.kafka.clients.consumer.internals.ConsumerProtocol;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

import java.nio.ByteBuffer;
import java.util.*;

/**
 * Emits Java's consumer-protocol encodings and assignor results for generated scenarios, the
 * reference gregor's assignor tests compare against. Regenerate the fixture with:
 *   LIB=~/.cache/gregor/kafka-4.3.1/lib   (scripts/kafka-cluster.sh jars)
 *   javac -cp "$LIB/*" -d /tmp/interop Interop.java
 *   java -cp "$LIB/*:/tmp/interop" Interop 777 240 range,roundrobin 2>/dev/null \
 *     | grep -E '^(SUBHEX|ASSHEX|SCEN|TOPIC|MEMBER|OWNED|GEN|MODE|RESULT|END)' > java_range_roundrobin.txt
 * Arguments: seed, number of scenarios, assignor names to cycle through.
 */
public class Interop {
    static String hex(ByteBuffer b) {
        StringBuilder sb = new StringBuilder();
        ByteBuffer d = b.duplicate();
        while (d.hasRemaining()) sb.append(String.format("%02x", d.get()));
        return sb.toString();
    }

    public static void main(String[] args) {
        StringBuilder out = new StringBuilder();
        for (short v = 0; v <= 3; v++) {
            Subscription s = new Subscription(List.of("t1", "t0"), ByteBuffer.wrap(new byte[]{0, 0, 0, 7}),
                List.of(new TopicPartition("t1", 1), new TopicPartition("t0", 2), new TopicPartition("t0", 0)), 7,
                Optional.of("rack-a"));
            out.append("SUBHEX ").append(v).append(' ').append(hex(ConsumerProtocol.serializeSubscription(s, v))).append('\n');
            Assignment as = new Assignment(List.of(new TopicPartition("b", 1), new TopicPartition("a", 3),
                new TopicPartition("a", 0)), ByteBuffer.wrap("ud".getBytes()));
            out.append("ASSHEX ").append(v).append(' ').append(hex(ConsumerProtocol.serializeAssignment(as, v))).append('\n');
        }
        Random r = new Random(Long.parseLong(args.length > 0 ? args[0] : "12345"));
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 3000;
        Node[] nodes = {new Node(0, "h", 1, "r0"), new Node(1, "h", 2, "r1"), new Node(2, "h", 3, "r2")};
        String[] assignors = (args.length > 2 ? args[2] : "range,roundrobin,cooperative-sticky").split(",");
        for (int sc = 0; sc < n; sc++) {
            String name = assignors[sc % assignors.length];
            boolean racks = name.equals("range") && r.nextBoolean();
            int nt = 1 + r.nextInt(4);
            List<PartitionInfo> parts = new ArrayList<>();
            out.append("SCEN ").append(sc).append(' ').append(name).append('\n');
            List<String> topics = new ArrayList<>();
            for (int t = 0; t < nt; t++) {
                String topic = "t" + t;
                topics.add(topic);
                int np = r.nextInt(9);
                out.append("TOPIC ").append(topic).append(' ').append(np);
                for (int p = 0; p < np; p++) {
                    Node[] reps;
                    if (racks) {
                        int a = r.nextInt(3), b = r.nextInt(3);
                        reps = a == b ? new Node[]{nodes[a]} : new Node[]{nodes[a], nodes[b]};
                    } else {
                        reps = new Node[]{new Node(0, "h", 1)};
                    }
                    parts.add(new PartitionInfo(topic, p, reps[0], reps, reps));
                    if (racks) {
                        out.append(' ').append(p).append('=');
                        for (int k = 0; k < reps.length; k++) out.append(k > 0 ? "+" : "").append(reps[k].rack());
                    }
                }
                out.append('\n');
            }
            Cluster cluster = new Cluster("c", Arrays.asList(nodes), parts, Set.of(), Set.of());
            boolean equal = r.nextBoolean();
            int nm = 1 + r.nextInt(5);
            Map<String, Subscription> subs = new HashMap<>();
            List<String> ids = new ArrayList<>();
            for (int m = 0; m < nm; m++) {
                String id = "m" + r.nextInt(1000) + "-" + m;
                ids.add(id);
            }
            // Prior ownership for the sticky assignor.
            Map<String, List<TopicPartition>> owned = new HashMap<>();
            for (String id : ids) owned.put(id, new ArrayList<>());
            Map<String, Integer> gens = new HashMap<>();
            for (String id : ids) gens.put(id, 1 + r.nextInt(3));
            boolean realistic = name.equals("cooperative-sticky") && r.nextBoolean();
            for (int m = 0; m < nm; m++) {
                String id = ids.get(m);
                List<String> st = new ArrayList<>();
                for (String t : topics) if (equal || r.nextBoolean()) st.add(t);
                if (st.isEmpty()) st.add(topics.get(r.nextInt(topics.size())));
                Optional<String> rack = racks && r.nextInt(3) > 0 ? Optional.of("r" + r.nextInt(4)) : Optional.empty();
                String inst = r.nextInt(3) == 0 ? "i" + r.nextInt(100) + "-" + m : null;
                subs.put(id, null);
                out.append("MEMBER ").append(id).append(' ').append(inst == null ? "-" : inst).append(' ')
                    .append(rack.orElse("-")).append(' ').append(gens.get(id)).append(' ').append(String.join(",", st));
                if (name.equals("cooperative-sticky") && !realistic) {
                    for (PartitionInfo pi : parts) {
                        if (st.contains(pi.topic()) && r.nextInt(4) == 0) owned.get(id).add(new TopicPartition(pi.topic(), pi.partition()));
                    }
                }
                // cross-member duplicates are created below; remember the subscription parts
                Subscription s = new Subscription(st, null, owned.get(id), gens.get(id), rack);
                if (inst != null) s.setGroupInstanceId(Optional.of(inst));
                subs.put(id, s);
                out.append('\n');
            }
            if (realistic) {
                out.append("MODE realistic\n");
                // Ownership from a previous cooperative-sticky round over a different membership:
                // some current members were there, plus members that have since left.
                Map<String, Subscription> prev = new HashMap<>();
                for (String id : ids) if (r.nextInt(3) > 0) prev.put(id, new Subscription(subs.get(id).topics()));
                for (int g = 0; g < r.nextInt(3); g++) prev.put("gone" + g, new Subscription(topics));
                if (!prev.isEmpty()) {
                    Map<String, Assignment> pr = new CooperativeStickyAssignor().assign(cluster, new GroupSubscription(prev)).groupAssignment();
                    for (String id : ids) {
                        if (!pr.containsKey(id)) { gens.put(id, -1); continue; }
                        owned.get(id).addAll(pr.get(id).partitions());
                        gens.put(id, 1);
                    }
                } else for (String id : ids) gens.put(id, -1);
                for (String id : ids) {
                    Subscription old = subs.get(id);
                    Subscription s = new Subscription(old.topics(), null, owned.get(id), gens.get(id), old.rackId());
                    old.groupInstanceId().ifPresent(x -> s.setGroupInstanceId(Optional.of(x)));
                    subs.put(id, s);
                }
            }
            for (String id : ids) {
                out.append("GEN ").append(id).append(' ').append(gens.get(id)).append('\n');
                out.append("OWNED ").append(id);
                for (TopicPartition tp : owned.get(id)) out.append(' ').append(tp.topic()).append(':').append(tp.partition());
                out.append('\n');
            }
            ConsumerPartitionAssignor a = name.equals("range") ? new RangeAssignor()
                : name.equals("roundrobin") ? new RoundRobinAssignor() : new CooperativeStickyAssignor();
            Map<String, Assignment> res = a.assign(cluster, new GroupSubscription(subs)).groupAssignment();
            for (String id : ids) {
                out.append("RESULT ").append(id);
                List<TopicPartition> l = new ArrayList<>(res.get(id).partitions());
                l.sort(Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition));
                for (TopicPartition tp : l) out.append(' ').append(tp.topic()).append(':').append(tp.partition());
                out.append('\n');
            }
            out.append("END\n");
        }
        System.out.print(out);
    }
}
