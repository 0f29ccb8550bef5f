// Scenario "mdns" (../CONTRACT.md, section mdns): the go side, run in its own network namespace by
// ../lib/mdns-case.mjs. go-libp2p's p2p/discovery/mdns (zeroconf v2) with its defaults.
//
// Both roles listen on /ip4/<ip>/tcp/0 (TCP with the runner's security, noise or tls) or on
// /ip4/<ip>/udp/0/quic-v1 (transport quic-v1): go's mDNS server announces the host's interface
// listen addresses and refuses to start without one. The dialer dials a discovered address of
// that transport and checks that the connection runs over it. Each side publishes its peer id (RPUSH
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

// mdnsTransportAddr tells whether a (without /p2p) is an address of transport: /ip4/<ip>/tcp/<port>
// for tcp, /ip4/<ip>/udp/<port>/quic-v1 for quic-v1.
func mdnsTransportAddr(a ma.Multiaddr, transport string) bool {
	codes := []int{}
	for _, p := range a.Protocols() {
		if p.Code != ma.P_P2P {
			codes = append(codes, p.Code)
		}
	}
	if transport == "quic-v1" {
		return len(codes) == 3 && codes[1] == ma.P_UDP && codes[2] == ma.P_QUIC_V1
	}
	return len(codes) == 2 && codes[1] == ma.P_TCP
}

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
	transport, security := env("transport", "tcp"), env("security", "noise")
	if transport != "tcp" && transport != "quic-v1" {
		fail("scenario mdns runs over tcp or quic-v1, got transport %q", transport)
	}
	if transport == "quic-v1" && security != "tls" {
		fail("unsupported security %q for quic-v1 (want tls)", security)
	}
	ip := env("ip", "")
	secs := 60
	fmt.Sscanf(env("test_timeout_seconds", "60"), "%d", &secs)
	time.AfterFunc(time.Duration(secs)*time.Second, func() { fail("test timeout (%ds) reached", secs) })
	started := time.Now()
	ctx := context.Background()
	rdb := natRedis(env("redis_addr", "redis:6379"))

	la, err := listenAddr(ip, transport, 0)
	if err != nil {
		fail("listen addr: %v", err)
	}
	h, err := newHostWith(nil, hostStack{security: security, quic: transport == "quic-v1"}, la)
	if err != nil {
		fail("creating host: %v", err)
	}
	found := &mdnsFound{peers: map[peer.ID][]ma.Multiaddr{}, wake: make(chan struct{}, 1)}
	svc := mdns.NewMdnsService(h, "", found)
	if err := svc.Start(); err != nil {
		fail("mdns start: %v", err)
	}
	log.Printf("mdns: peer id %s, dialer=%v, transport %s, security %s, listening on %v", h.ID(), isDialer, transport, security, h.Addrs())

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

	var dial ma.Multiaddr
	for _, a := range addrs {
		if mdnsTransportAddr(a, transport) {
			dial = a
			break
		}
	}
	if dial == nil {
		fail("discovered the listener at %v: no %s address", addrs, transport)
	}
	ai := peer.AddrInfo{ID: other, Addrs: []ma.Multiaddr{dial}}
	log.Printf("mdns: dialing %s/p2p/%s", dial, other)
	start := time.Now()
	if err := h.Connect(ctx, ai); err != nil {
		fail("dial %s: %v", dial, err)
	}
	for _, c := range h.Network().ConnsToPeer(other) {
		if !mdnsTransportAddr(c.RemoteMultiaddr(), transport) {
			fail("connected to the listener via %s, not a %s address", c.RemoteMultiaddr(), transport)
		}
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
