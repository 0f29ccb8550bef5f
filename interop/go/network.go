// Network mode (../NETWORK.md): one node of a mixed weft/go/rust network, coordinated through
// Redis by interop/network.mjs. Selected by the env var network_scenario (gossip-content,
// gossip-seqno, gossip-badsig, kad); the result is RPUSHed to "results" as JSON.
package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/redis/go-redis/v9"
)

const netTopic = "weft-interop"

type netNode struct {
	name, addr string
	id         peer.ID
	info       peer.AddrInfo
}

type netCtx struct {
	ctx      context.Context
	name     string
	scenario string
	count    int
	messages int
	rdb      *redis.Client
	h        host.Host
}

// failAfterTestTimeout exits the process (fail) once env test_timeout_seconds (default def) have
// passed; a malformed value fails at once. Used by the network and limits modes.
func failAfterTestTimeout(def string) {
	secs, err := strconv.Atoi(env("test_timeout_seconds", def))
	if err != nil || secs <= 0 {
		fail("bad test_timeout_seconds")
	}
	time.AfterFunc(time.Duration(secs)*time.Second, func() { fail("test timeout reached") })
}

func until(d time.Duration, what string, f func() bool) error {
	end := time.Now().Add(d)
	for !f() {
		if time.Now().After(end) {
			return fmt.Errorf("%s: timed out after %s", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// join registers our address, waits for all nodes and dials every node listed before us.
func (n *netCtx) join() ([]netNode, error) {
	own, err := publishedAddr(n.h)
	if err != nil {
		return nil, err
	}
	me := fmt.Sprintf("%s %s/p2p/%s", n.name, own, n.h.ID())
	if err := n.rdb.RPush(n.ctx, "nodes", me).Err(); err != nil {
		return nil, err
	}
	var list []string
	if err := until(30*time.Second, "all nodes registered", func() bool {
		list, _ = n.rdb.LRange(n.ctx, "nodes", 0, -1).Result()
		return len(list) >= n.count
	}); err != nil {
		return nil, err
	}
	var nodes []netNode
	mine := -1
	for i, l := range list {
		parts := strings.SplitN(l, " ", 2)
		m, err := ma.NewMultiaddr(parts[1])
		if err != nil {
			return nil, err
		}
		ai, err := peer.AddrInfoFromP2pAddr(m)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, netNode{name: parts[0], addr: parts[1], id: ai.ID, info: *ai})
		if l == me {
			mine = i
		}
	}
	for _, o := range nodes[:mine] {
		log.Printf("dialing %s %s", o.name, o.addr)
		ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
		err := n.h.Connect(ctx, o.info)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", o.name, err)
		}
	}
	return nodes, nil
}

func (n *netCtx) barrier(key string) error {
	if err := n.rdb.RPush(n.ctx, key, n.name).Err(); err != nil {
		return err
	}
	return until(30*time.Second, "barrier "+key, func() bool {
		l, _ := n.rdb.LLen(n.ctx, key).Result()
		return int(l) >= n.count
	})
}

func (n *netCtx) pushResult(r map[string]any) {
	r["name"] = n.name
	r["impl"] = "go"
	s := jsonLine(r)
	log.Printf("result %s", s)
	if err := n.rdb.RPush(n.ctx, "results", s).Err(); err != nil {
		log.Printf("pushing result: %v", err)
	}
}

func networkMode(scenario string) int {
	log.SetPrefix("[" + env("node_name", "go") + "] ")
	n := &netCtx{ctx: context.Background(), name: env("node_name", "go"), scenario: scenario}
	var err error
	if n.count, err = strconv.Atoi(env("node_count", "0")); err != nil || n.count < 2 {
		fail("node_count must be an integer >= 2")
	}
	if n.messages, err = strconv.Atoi(env("messages", "100")); err != nil {
		fail("bad messages")
	}
	failAfterTestTimeout("120")
	n.rdb = redis.NewClient(&redis.Options{Addr: env("redis_addr", "redis:6379"), DisableIdentity: true})
	// transport (tcp | quic-v1) and security (noise | tls): the network's channel (NETWORK.md).
	transport, security := env("transport", "tcp"), env("security", "noise")
	la, err := listenAddr(env("ip", "127.0.0.1"), transport, 0)
	if err != nil {
		fail("listen addr: %v", err)
	}
	if n.h, err = newHostWith(nil, hostStack{security: security, quic: transport == "quic-v1"}, la); err != nil {
		fail("creating host: %v", err)
	}
	log.Printf("peer id %s scenario %s transport %s security %s", n.h.ID(), scenario, transport, security)
	switch scenario {
	case "gossip-content", "gossip-seqno", "gossip-badsig":
		err = n.runGossip()
	case "kad":
		err = n.runKad()
	default:
		fail("unsupported network_scenario %q", scenario)
	}
	if err != nil {
		log.Printf("error: %v", err)
		n.pushResult(map[string]any{"ok": false, "error": err.Error()})
	}
	select {} // keep serving until killed
}

func (n *netCtx) runGossip() error {
	opts := []pubsub.Option{pubsub.WithMessageSignaturePolicy(pubsub.StrictSign)}
	if n.scenario != "gossip-seqno" {
		opts = append(opts, pubsub.WithMessageIdFn(func(m *pb.Message) string {
			h := sha256.Sum256(m.Data)
			return string(h[:])
		}))
	}
	ps, err := pubsub.NewGossipSub(n.ctx, n.h, opts...)
	if err != nil {
		return err
	}
	topic, err := ps.Join(netTopic)
	if err != nil {
		return err
	}
	sub, err := topic.Subscribe()
	if err != nil {
		return err
	}
	var mu sync.Mutex
	got := map[string]int{}
	go func() {
		for {
			m, err := sub.Next(n.ctx)
			if err != nil {
				return
			}
			mu.Lock()
			got[string(m.Data)]++
			mu.Unlock()
		}
	}()
	nodes, err := n.join()
	if err != nil {
		return err
	}
	if err := until(30*time.Second, "all peers subscribed", func() bool { return len(topic.ListPeers()) >= n.count-1 }); err != nil {
		return err
	}
	if err := n.barrier("ready"); err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	for i := 0; i < n.messages; i++ {
		if err := topic.Publish(n.ctx, []byte(fmt.Sprintf("%s/%d", n.name, i))); err != nil {
			return fmt.Errorf("publish %d: %w", i, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	log.Printf("published %d", n.messages)
	var expected []string
	for _, o := range nodes {
		if o.name == n.name {
			continue
		}
		for i := 0; i < n.messages; i++ {
			expected = append(expected, fmt.Sprintf("%s/%d", o.name, i))
		}
	}
	missing := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, d := range expected {
			if got[d] == 0 {
				out = append(out, d)
			}
		}
		return out
	}
	if err := until(30*time.Second, "all messages", func() bool { return len(missing()) == 0 }); err != nil {
		log.Printf("%v", err)
	}
	time.Sleep(2 * time.Second)
	miss := missing()
	mu.Lock()
	dups, invalid := []string{}, []string{}
	for d, c := range got {
		if c > 1 {
			dups = append(dups, fmt.Sprintf("%sx%d", d, c))
		}
		if strings.HasSuffix(d, "/invalid") {
			invalid = append(invalid, d)
		}
	}
	received := len(got)
	mu.Unlock()
	if len(miss) > 10 {
		miss = miss[:10]
	}
	if len(dups) > 10 {
		dups = dups[:10]
	}
	n.pushResult(map[string]any{"ok": len(miss) == 0 && len(dups) == 0 && len(invalid) == 0, "received": received,
		"expected": len(expected), "missing": miss, "duplicates": dups, "invalidDelivered": invalid})
	return nil
}

var _ = os.Stderr
