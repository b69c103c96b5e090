// franz-go side of gregor's consumer benchmark (bench/run.sh). Same per-record work as every
// other bench client: FNV-1a 64 over key then value, per-record hashes summed (order-independent,
// so every client prints the same checksum for a topic), offsets checked contiguous per partition.
// Usage: bench-franz BOOTSTRAP TOPIC RECORDS [GROUP]   (prints one JSON line)
// A TOPIC starting with ^ is a regular expression (librdkafka's convention): a group subscription
// to every matching topic (ConsumeRegex), offsets then checked per topic and partition.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func fnv1a(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= 0x100000001b3
	}
	return h
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: bench-franz BOOTSTRAP TOPIC RECORDS [GROUP]")
		os.Exit(2)
	}
	bootstrap, topic := os.Args[1], os.Args[2]
	want, _ := strconv.ParseUint(os.Args[3], 10, 64)
	opts := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
		// The fetch settings shared by every client (Java's defaults).
		kgo.FetchMaxBytes(52428800),
		kgo.FetchMaxPartitionBytes(1048576),
		kgo.FetchMinBytes(1),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
	regex := strings.HasPrefix(topic, "^")
	if regex {
		opts = append(opts, kgo.ConsumeRegex())
	}
	if len(os.Args) > 4 {
		opts = append(opts, kgo.ConsumerGroup(os.Args[4]), kgo.DisableAutoCommit(), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	} else {
		// Direct (group-less) consumption of every partition from the start = assign.
		opts = append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Second)
	defer cancel()
	var n, nbytes, sum, gaps uint64
	next := map[int32]int64{}
	type tp struct {
		t string
		p int32
	}
	nextTP := map[tp]int64{}
	var firstUs int64
	for n < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(t string, p int32, err error) {
			if err != context.DeadlineExceeded {
				fmt.Fprintf(os.Stderr, "bench-franz: %s[%d]: %v\n", t, p, err)
			}
		})
		if firstUs == 0 && fs.NumRecords() > 0 {
			firstUs = time.Now().UnixMicro()
		}
		fs.EachRecord(func(r *kgo.Record) {
			h := uint64(0xcbf29ce484222325)
			h = fnv1a(h, r.Key)
			h = fnv1a(h, r.Value)
			nbytes += uint64(len(r.Key) + len(r.Value))
			sum += h
			if regex {
				k := tp{r.Topic, r.Partition}
				if e, ok := nextTP[k]; ok && e != r.Offset {
					gaps++
				}
				nextTP[k] = r.Offset + 1
			} else {
				e, ok := next[r.Partition]
				if ok && e != r.Offset {
					gaps++
				}
				next[r.Partition] = r.Offset + 1
			}
			n++
		})
	}
	lastUs := time.Now().UnixMicro()
	fmt.Printf("{\"client\":\"franz-go\",\"records\":%d,\"bytes\":%d,\"checksum\":\"%016x\",\"gaps\":%d,\"partitions\":%d,\"first_us\":%d,\"last_us\":%d}\n",
		n, nbytes, sum, gaps, len(next)+len(nextTP), firstUs, lastUs)
	cl.Close()
}
