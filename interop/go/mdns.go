// Scenario "mdns" (../CONTRACT.md, section mdns): the go side, run in its own network namespace by
// ../lib/mdns-case.mjs. go-libp2p's p2p/discovery/mdns (zeroconf v2) with its defaults.
//
// Both roles listen on /ip4/<ip>/tcp/0: go's mDNS server announces the host's interface listen
// addresses and refuses to start without one. Each side publishes its peer id (RPUSH
// <role>PeerId) and learns the other's (BLPOP), so discovering that peer is told apart from
// anything else on the group. Listener: pushes listenerResult ok once mDNS reported the dialer
// (15 s). Dialer: waits for mDNS to report the listener (15 s), dials a discovered address, pings
// once, prints the result line, then waits for listenerResult (20 s) while mDNS keeps running.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
)

const (
	mdnsDiscovery  = 15 * time.Second // the budget for each side
	mdnsResultWait = 20 * time.Second // the dialer's wait for listenerResult
)

// mdnsFound records every peer mDNS reported and wakes whoever waits for one.
type mdnsFound struct {
	mu    sync.Mutex
	peers map[peer.ID][]ma.Multiaddr
	wake  chan struct{}
}

func (f *mdnsFound) HandlePeerFound(ai peer.AddrInfo) {
	log.Printf("mdns: discovered %s at %v", ai.ID, ai.Addrs)
	f.mu.Lock()
	f.peers[ai.ID] = append(f.peers[ai.ID], ai.Addrs...)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// wait returns the addresses of p once mDNS reported it, or nil when the deadline passes.
func (f *mdnsFound) wait(p peer.ID, deadline time.Time) []ma.Multiaddr {
	for {
		f.mu.Lock()
		addrs := f.peers[p]
		f.mu.Unlock()
		if len(addrs) > 0 {
			return addrs
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		select {
		case <-f.wake:
		case <-time.After(min(left, 100*time.Millisecond)):
		}
	}
}

func (f *mdnsFound) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []string{}
	for p := range f.peers {
		out = append(out, p.String())
	}
	return out
}

func runMdns() int {
	isDialer := env("is_dialer", "") == "true"
	if t := env("transport", "tcp"); t != "tcp" {
		fail("scenario mdns runs over tcp only, got transport %q", t)
	}
	ip := env("ip", "")
	secs := 60
	fmt.Sscanf(env("test_timeout_seconds", "60"), "%d", &secs)
	time.AfterFunc(time.Duration(secs)*time.Second, func() { fail("test timeout (%ds) reached", secs) })
	started := time.Now()
	ctx := context.Background()
	rdb := natRedis(env("redis_addr", "redis:6379"))

	la, err := listenAddr(ip, "tcp", 0)
	if err != nil {
		fail("listen addr: %v", err)
	}
	h, err := newHost(nil, la)
	if err != nil {
		fail("creating host: %v", err)
	}
	found := &mdnsFound{peers: map[peer.ID][]ma.Multiaddr{}, wake: make(chan struct{}, 1)}
	svc := mdns.NewMdnsService(h, "", found)
	if err := svc.Start(); err != nil {
		fail("mdns start: %v", err)
	}
	log.Printf("mdns: peer id %s, dialer=%v, listening on %v", h.ID(), isDialer, h.Addrs())

	mine, theirs := "listenerPeerId", "dialerPeerId"
	if isDialer {
		mine, theirs = theirs, mine
	}
	if err := rdb.RPush(ctx, mine, h.ID().String()).Err(); err != nil {
		fail("RPUSH %s: %v", mine, err)
	}
	res, err := rdb.BLPop(ctx, mdnsDiscovery, theirs).Result()
	if err != nil {
		fail("BLPOP %s: %v", theirs, err)
	}
	other, err := peer.Decode(strings.TrimSpace(res[1]))
	if err != nil {
		fail("bad %s %q: %v", theirs, res[1], err)
	}
	log.Printf("mdns: the other side is %s", other)
	addrs := found.wait(other, started.Add(mdnsDiscovery))
	role := "listener"
	if isDialer {
		role = "dialer"
	}
	if addrs == nil {
		msg := fmt.Sprintf("go %s did not discover %s by mDNS within %s (discovered: %v)", role, other, mdnsDiscovery, found.ids())
		if isDialer {
			fail("%s", msg)
		}
		pushListenerResult(rdb, errors.New(msg))
		select {} // serve until killed
	}
	log.Printf("mdns: discovered the %s side %s in %.0f ms: %v", map[bool]string{true: "listener", false: "dialer"}[isDialer], other, ms(time.Since(started)), addrs)
	if !isDialer {
		pushListenerResult(rdb, nil)
		select {} // serve until killed
	}

	ai := peer.AddrInfo{ID: other, Addrs: addrs[:1]}
	log.Printf("mdns: dialing %s/p2p/%s", addrs[0], other)
	start := time.Now()
	if err := h.Connect(ctx, ai); err != nil {
		fail("dial %s: %v", addrs[0], err)
	}
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	r, ok := <-ping.Ping(pctx, h, other)
	pcancel()
	if !ok || r.Error != nil {
		fail("ping: %v", r.Error)
	}
	printDialerResult(time.Since(start), r.RTT)
	waitListenerResult(ctx, rdb, mdnsResultWait)
	svc.Close()
	return 0
}
