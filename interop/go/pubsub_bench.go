// Pubsub throughput mode (`peer pubsub-bench ...`): one role of bench/gossipsub-compare.mjs, which
// pairs a publisher and a subscriber of any implementation (go or weft) over TCP loopback and measures
// messages per second. The line protocol is the same for every implementation:
//
//	subscriber: prints "addr <multiaddr>/p2p/<id>", then "ack <n>" every --ack-every messages and at
//	            --messages; exits when stdin closes.
//	publisher:  dials --addr, waits until the subscriber is a topic peer, publishes --messages messages
//	            of --size bytes, never more than --window ahead of the last "ack <n>" read on stdin (the
//	            orchestrator relays the subscriber's acks); prints "start" just before the first publish
//	            and one JSON line {"messages":..,"seconds":..,"msgPerSec":..} when the last ack arrives.
//
// Policies: nosign = StrictNoSign with a content id (sha256 of data, as weft's 'content-sha256');
// sign = StrictSign with go's default id (from + seqno). Queues that go-libp2p-pubsub would otherwise
// drop from when full (peer outbound queue, validation queue, subscription buffer) are sized above the
// window, so flow control is the window alone, as in weft's bench.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

const benchTopic = "bench"

func pubsubBench(args []string) int {
	fs := flag.NewFlagSet("pubsub-bench", flag.ContinueOnError)
	role := fs.String("role", "", "pub or sub")
	policy := fs.String("policy", "nosign", "nosign (StrictNoSign, content ids) or sign (StrictSign, from+seqno ids)")
	messages := fs.Int("messages", 100000, "messages to publish / expect")
	size := fs.Int("size", 100, "message size, bytes")
	window := fs.Int("window", 4000, "publisher: messages in flight beyond the last ack")
	ackEvery := fs.Int("ack-every", 2000, "subscriber: print an ack every n messages")
	addr := fs.String("addr", "", "publisher: the subscriber's multiaddr with /p2p/")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *messages <= 0 || *size < 8 || *window <= 0 || *ackEvery <= 0 {
		fail("pubsub-bench: --messages, --window and --ack-every must be > 0, --size >= 8")
	}
	queue := *window * 2
	opts := []pubsub.Option{
		pubsub.WithPeerOutboundQueueSize(queue),
		pubsub.WithValidateQueueSize(queue),
	}
	switch *policy {
	case "nosign":
		opts = append(opts, pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign), pubsub.WithNoAuthor(),
			pubsub.WithMessageIdFn(func(m *pb.Message) string {
				h := sha256.Sum256(m.Data)
				return string(h[:])
			}))
	case "sign":
		opts = append(opts, pubsub.WithMessageSignaturePolicy(pubsub.StrictSign))
	default:
		fail("pubsub-bench: --policy must be nosign or sign")
	}
	ctx := context.Background()
	var listen []ma.Multiaddr
	if *role == "sub" {
		la, _ := listenAddr("127.0.0.1", "tcp", 0)
		listen = append(listen, la)
	}
	h, err := newHost(nil, listen...)
	if err != nil {
		fail("creating host: %v", err)
	}
	ps, err := pubsub.NewGossipSub(ctx, h, opts...)
	if err != nil {
		fail("gossipsub: %v", err)
	}
	topic, err := ps.Join(benchTopic)
	if err != nil {
		fail("join: %v", err)
	}
	switch *role {
	case "sub":
		sub, err := topic.Subscribe(pubsub.WithBufferSize(queue))
		if err != nil {
			fail("subscribe: %v", err)
		}
		out := bufio.NewWriter(os.Stdout)
		fmt.Fprintf(out, "addr %s/p2p/%s\n", h.Addrs()[0], h.ID())
		out.Flush()
		go func() {
			// stdin closed: the orchestrator is done with us
			_, _ = bufio.NewReader(os.Stdin).ReadString(0)
			os.Exit(0)
		}()
		for n := 1; ; n++ {
			if _, err := sub.Next(ctx); err != nil {
				fail("next: %v", err)
			}
			if n%*ackEvery == 0 || n == *messages {
				fmt.Fprintf(out, "ack %d\n", n)
				out.Flush()
			}
		}
	case "pub":
		m, err := ma.NewMultiaddr(*addr)
		if err != nil {
			fail("--addr: %v", err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(m)
		if err != nil {
			fail("--addr needs /p2p: %v", err)
		}
		if err := h.Connect(ctx, *ai); err != nil {
			fail("dial: %v", err)
		}
		if err := until(20*time.Second, "subscriber announced", func() bool { return len(topic.ListPeers()) > 0 }); err != nil {
			fail("%v", err)
		}
		var acked atomic.Int64
		ackCh := make(chan struct{}, 1)
		go func() {
			sc := bufio.NewScanner(os.Stdin)
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
					if n, err := strconv.Atoi(v); err == nil {
						acked.Store(int64(n))
						select {
						case ackCh <- struct{}{}:
						default:
						}
					}
				}
			}
			fail("stdin closed before the last ack (%d/%d)", acked.Load(), *messages)
		}()
		fmt.Println("start") // the orchestrator samples both processes' CPU time here
		t0 := time.Now()
		sent := 0
		for int(acked.Load()) < *messages {
			for sent < *messages && sent-int(acked.Load()) < *window {
				// a fresh buffer each time: go keeps a reference until the RPC is written
				data := make([]byte, *size)
				binary.BigEndian.PutUint32(data, uint32(sent)) // distinct content (content ids)
				binary.BigEndian.PutUint32(data[4:], 0x5eed)
				if err := topic.Publish(ctx, data); err != nil {
					fail("publish %d: %v", sent, err)
				}
				sent++
			}
			select {
			case <-ackCh:
			case <-time.After(10 * time.Second):
				fail("stalled at %d/%d acknowledged (%d sent)", acked.Load(), *messages, sent)
			}
		}
		secs := time.Since(t0).Seconds()
		fmt.Println(jsonLine(map[string]any{"messages": *messages, "seconds": secs, "msgPerSec": float64(*messages) / secs}))
		_ = h.Close()
		return 0
	default:
		fail("pubsub-bench: --role must be pub or sub")
	}
	return 0
}
