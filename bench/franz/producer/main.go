// franz-go side of gregor's producer benchmark (bench/producer.sh). Same work as every other
// bench producer: RECORDS records with a null key, values taken in turn from the lines of
// PAYLOAD_FILE, every promise (delivery) counted.
// Usage: bench-franz-producer BOOTSTRAP TOPIC RECORDS PAYLOAD_FILE ACKS CODEC  (one JSON line)
// Shared settings: linger 20 ms, batch max 262144 bytes, idempotent writes with acks=all only
// (franz-go's default is idempotent, which requires acks=all); otherwise franz-go's defaults.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	if len(os.Args) < 7 {
		fmt.Fprintln(os.Stderr, "usage: bench-franz-producer BOOTSTRAP TOPIC RECORDS PAYLOAD_FILE ACKS CODEC")
		os.Exit(2)
	}
	bootstrap, topic, acks, codec := os.Args[1], os.Args[2], os.Args[5], os.Args[6]
	want, _ := strconv.ParseUint(os.Args[3], 10, 64)
	data, err := os.ReadFile(os.Args[4])
	if err != nil {
		panic(err)
	}
	var lines [][]byte
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(l) > 0 {
			lines = append(lines, l)
		}
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
		kgo.ProducerLinger(20 * time.Millisecond),
		kgo.ProducerBatchMaxBytes(262144),
	}
	if acks == "all" {
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	} else {
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	}
	switch codec {
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		panic(err)
	}
	start := time.Now().UnixMicro()
	var acked, errs atomic.Uint64
	var once sync.Once
	var nbytes uint64
	ctx := context.Background()
	for i := uint64(0); i < want; i++ {
		v := lines[i%uint64(len(lines))]
		nbytes += uint64(len(v))
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				errs.Add(1)
				once.Do(func() { fmt.Fprintln(os.Stderr, "bench-franz-producer: first error:", err) })
			} else {
				acked.Add(1)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		panic(err)
	}
	last := time.Now().UnixMicro()
	cl.Close()
	fmt.Printf("{\"client\":\"franz-go\",\"records\":%d,\"bytes\":%d,\"errors\":%d,\"start_us\":%d,\"last_us\":%d}\n",
		acked.Load(), nbytes, errs.Load(), start, last)
}
