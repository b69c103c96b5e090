// Command kfake-server runs franz-go's kfake package — an in-process, in-memory server of the
// Kafka protocol — on loopback ports, so that scripts/compat-servers.sh can point gregor at a
// Kafka-protocol implementation other than Apache Kafka's (issue #13).
//
//	go run . -port 21150 -brokers 3 -topic orders:6
//
// It prints "bootstrap.servers=..." once listening and runs until SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

type topics []string

func (t *topics) String() string     { return strings.Join(*t, ",") }
func (t *topics) Set(v string) error { *t = append(*t, v); return nil }

func main() {
	port := flag.Int("port", 21150, "first port; broker i listens on port+i (127.0.0.1)")
	brokers := flag.Int("brokers", 3, "number of brokers")
	var seed topics
	flag.Var(&seed, "topic", "NAME:PARTITIONS to create at start (repeatable)")
	flag.Parse()

	ports := make([]int, *brokers)
	for i := range ports {
		ports[i] = *port + i
	}
	opts := []kfake.Opt{kfake.Ports(ports...), kfake.NumBrokers(*brokers)}
	for _, t := range seed {
		name, parts, ok := strings.Cut(t, ":")
		n, err := strconv.Atoi(parts)
		if !ok || err != nil {
			fmt.Fprintf(os.Stderr, "bad -topic %q (want NAME:PARTITIONS)\n", t)
			os.Exit(2)
		}
		opts = append(opts, kfake.SeedTopics(int32(n), name))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Printf("bootstrap.servers=%s\n", strings.Join(c.ListenAddrs(), ","))

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	<-sigs
}
