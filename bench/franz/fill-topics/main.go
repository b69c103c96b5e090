// Dataset maker for the many-topics benchmark (bench/run.sh, issue #14 item 4): TOPICS topics
// PREFIX0000..PREFIX<TOPICS-1> of one partition each (RF 1), each holding exactly PER records
// whose values are the lines of PAYLOAD_FILE in turn (the same log-like text as the other
// datasets), uncompressed. One CreateTopics request for all; if every topic already holds PER
// records nothing is written; a topic holding another count is an error (delete it first).
// Usage: fill-topics BOOTSTRAP PREFIX TOPICS PER PAYLOAD_FILE   (prints one JSON line)
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func die(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "fill-topics: "+f+"\n", a...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: fill-topics BOOTSTRAP PREFIX TOPICS PER PAYLOAD_FILE")
		os.Exit(2)
	}
	prefix := os.Args[2]
	topics, _ := strconv.Atoi(os.Args[3])
	per, _ := strconv.ParseInt(os.Args[4], 10, 64)
	var payload [][]byte
	f, err := os.Open(os.Args[5])
	if err != nil {
		die("%v", err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		payload = append(payload, append([]byte(nil), sc.Bytes()...))
	}
	if len(payload) == 0 || topics <= 0 || per <= 0 {
		die("need TOPICS > 0, PER > 0 and a non-empty payload file")
	}
	names := make([]string, topics)
	for i := range names {
		names[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(os.Args[1], ",")...),
		kgo.ProducerLinger(20*time.Millisecond), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(), kgo.MaxBufferedRecords(1<<20))
	if err != nil {
		die("%v", err)
	}
	defer cl.Close()
	ctx := context.Background()

	create := kmsg.NewPtrCreateTopicsRequest()
	create.TimeoutMillis = 120000
	for _, n := range names {
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = n, 1, 1
		create.Topics = append(create.Topics, t)
	}
	cresp, err := create.RequestWith(ctx, cl)
	if err != nil {
		die("CreateTopics: %v", err)
	}
	created := 0
	for _, t := range cresp.Topics {
		switch err := kerr.ErrorForCode(t.ErrorCode); err {
		case nil:
			created++
		case kerr.TopicAlreadyExists:
		default:
			die("CreateTopics %s: %v", t.Topic, err)
		}
	}

	// End offsets of every topic (kgo splits the request by partition leader).
	var have map[string]int64
	for attempt := 0; ; attempt++ {
		have = map[string]int64{}
		lo := kmsg.NewPtrListOffsetsRequest()
		lo.ReplicaID = -1
		for _, n := range names {
			t := kmsg.NewListOffsetsRequestTopic()
			t.Topic = n
			p := kmsg.NewListOffsetsRequestTopicPartition()
			p.Partition, p.Timestamp = 0, -1
			t.Partitions = append(t.Partitions, p)
			lo.Topics = append(lo.Topics, t)
		}
		lresp, err := lo.RequestWith(ctx, cl)
		retry := err != nil
		if err == nil {
			for _, t := range lresp.Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 {
						retry = true
					}
					have[t.Topic] = p.Offset
				}
			}
		}
		if !retry && len(have) == topics {
			break
		}
		if attempt == 30 {
			die("ListOffsets kept failing: %v", err)
		}
		time.Sleep(time.Second) // new topics: leaders are still being elected
	}
	var todo []string
	for _, n := range names {
		switch h := have[n]; {
		case h == per:
		case h == 0:
			todo = append(todo, n)
		default:
			die("%s holds %d records, want %d or 0: delete it first", n, h, per)
		}
	}
	var failed atomic.Int64
	k := 0
	for _, n := range todo {
		for i := int64(0); i < per; i++ {
			cl.Produce(ctx, &kgo.Record{Topic: n, Value: payload[k%len(payload)]}, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Add(1)
				}
			})
			k++
		}
	}
	if err := cl.Flush(ctx); err != nil {
		die("flush: %v", err)
	}
	if n := failed.Load(); n > 0 {
		die("%d records failed", n)
	}
	fmt.Printf("{\"topics\":%d,\"created\":%d,\"filled\":%d,\"per_topic\":%d}\n", topics, created, len(todo), per)
}
