// franz-go side of gregor's end-to-end latency benchmark (bench/latency.sh). Reads every partition
// of TOPIC from the start without a group, and for each record whose sequence number is at least
// WARMUP records the latency now - (produce time in the value); stops after RECORDS records.
// Prints the nearest-rank p50/p99/p99.9/max in microseconds (one JSON line), as every latency
// client does. MODE "low" sets FetchMaxWait to 10 ms (default: franz-go's 5 s).
// Usage: latency-franz BOOTSTRAP TOPIC RECORDS WARMUP MODE
package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func pct(s []int64, q float64) int64 {
	if len(s) == 0 {
		return -1
	}
	i := int(float64(len(s))*q+0.999999) - 1 // nearest rank: ceil(q*n)-1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: latency-franz BOOTSTRAP TOPIC RECORDS WARMUP MODE")
		os.Exit(2)
	}
	bootstrap, topic, mode := os.Args[1], os.Args[2], os.Args[5]
	want, _ := strconv.ParseInt(os.Args[3], 10, 64)
	warm, _ := strconv.ParseUint(os.Args[4], 10, 64)
	opts := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
	if mode == "low" {
		opts = append(opts, kgo.FetchMaxWait(10*time.Millisecond))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	lat := make([]int64, 0, want)
	var n, bad int64
	ready := false
	for n < want && ctx.Err() == nil {
		if !ready {
			// bench/latency.sh starts the producer once every consumer has polled once; franz-go
			// polls until records arrive, so it says so once the client is up.
			if err := cl.Ping(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "latency-franz: ping:", err)
			}
			fmt.Fprintln(os.Stderr, "latency-ready")
			ready = true
		}
		fs := cl.PollFetches(ctx)
		fs.EachError(func(t string, p int32, err error) {
			if err != context.DeadlineExceeded {
				fmt.Fprintf(os.Stderr, "latency-franz: %s[%d]: %v\n", t, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			now := time.Now().UnixNano()
			n++
			if len(r.Value) < 16 {
				bad++
				return
			}
			if binary.BigEndian.Uint64(r.Value[0:8]) >= warm {
				lat = append(lat, (now-int64(binary.BigEndian.Uint64(r.Value[8:16])))/1000)
			}
		})
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("{\"client\":\"franz-go\",\"mode\":\"%s\",\"records\":%d,\"bad\":%d,\"measured\":%d,\"p50_us\":%d,\"p99_us\":%d,\"p999_us\":%d,\"max_us\":%d}\n",
		mode, n, bad, len(lat), pct(lat, 0.5), pct(lat, 0.99), pct(lat, 0.999), pct(lat, 1))
	cl.Close()
}
