// The one producer of gregor's end-to-end latency benchmark (bench/latency.sh, issue #14 item 5).
// Writes RECORDS records of 100 bytes at a steady RATE records/s, round-robin over the topic's
// partitions. Each value starts with its sequence number and the wall-clock time of the produce
// call (both u64 big-endian: seq, then Unix nanoseconds), so every consumer measures
// "produce call -> record handed to the application" on the same clock (one machine), as the
// OpenMessaging Benchmark does.
// Usage: latency-produce BOOTSTRAP TOPIC RATE RECORDS   (prints one JSON line)
package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: latency-produce BOOTSTRAP TOPIC RATE RECORDS")
		os.Exit(2)
	}
	bootstrap, topic := os.Args[1], os.Args[2]
	rate, _ := strconv.ParseInt(os.Args[3], 10, 64)
	want, _ := strconv.ParseInt(os.Args[4], 10, 64)
	if rate <= 0 || want <= 0 {
		fmt.Fprintln(os.Stderr, "latency-produce: RATE and RECORDS must be positive")
		os.Exit(2)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
		kgo.DefaultProduceTopic(topic),
		// No producer-side batching delay: what is measured is the consumer's side.
		kgo.ProducerLinger(0),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	var failed atomic.Int64
	start := time.Now()
	var sent int64
	for sent < want {
		// Records due by now at a steady rate; the loop never bursts more than what is late.
		due := int64(time.Since(start).Seconds()*float64(rate)) + 1
		if due > want {
			due = want
		}
		for ; sent < due; sent++ {
			v := make([]byte, 100)
			binary.BigEndian.PutUint64(v[0:8], uint64(sent))
			binary.BigEndian.PutUint64(v[8:16], uint64(time.Now().UnixNano()))
			for i := 16; i < len(v); i++ {
				v[i] = 'a' + byte(i%26)
			}
			cl.Produce(ctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Add(1)
				}
			})
		}
		next := start.Add(time.Duration(float64(sent) / float64(rate) * float64(time.Second)))
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	elapsed := time.Since(start).Seconds()
	fmt.Printf("{\"producer\":\"franz-go\",\"records\":%d,\"failed\":%d,\"seconds\":%.3f,\"rate\":%.1f}\n",
		sent, failed.Load(), elapsed, float64(sent)/elapsed)
	cl.Close()
	if failed.Load() > 0 {
		os.Exit(1)
	}
}
