// NAT mode, role autonat-client: a go-only control (not a role of the shared contract; weft's
// peer is the contract's AutoNAT client). It asks the server in <TEST_KEY>_autonat_multiaddr with
// go's own clients, so the harness can tell a broken topology from a weft client bug:
//   - AutoNAT v2 GetReachability for our listen address when it is public, else for the address
//     the server observed (our NAT mapping);
//   - then AutoNAT v1 DialBack (the server dials the observed IP with our listen port).
//
// Result line: {"ok":..,"reachability":<v1 and v2 verdict, or "mixed">,"v1":"public|private|refused|error",
// "v2":"public|private|unknown|error","v2Addr":..,"observed":..}; with env EXPECT=public|private, ok = both verdicts equal EXPECT,
// otherwise ok = both exchanges completed (no "error").
package main

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/autonat"
	"github.com/libp2p/go-libp2p/p2p/protocol/autonatv2"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

func reachabilityName(r network.Reachability) string {
	switch r {
	case network.ReachabilityPublic:
		return "public"
	case network.ReachabilityPrivate:
		return "private"
	}
	return "unknown"
}

func (n *natCtx) runAutonatClient() {
	if m := env("AUTONAT_MODE", "probe"); m != "probe" {
		n.failResult("AUTONAT_MODE %q: the go control client only probes", m)
	}
	opts := append(n.natBaseOpts(), libp2p.DisableRelay())
	h, err := libp2p.New(opts...)
	if err != nil {
		n.failResult("creating host: %v", err)
	}
	logConns(h)
	// A standalone v2 client (autonatv2.New wants a dial-back host for its server half; unused).
	an, err := autonatv2.New(h)
	if err != nil {
		n.failResult("autonatv2: %v", err)
	}
	if err := an.Start(h); err != nil {
		n.failResult("autonatv2 start: %v", err)
	}
	// No server half: the server (itself a v2 client) would ask us, and our dial-back through h
	// would then close h's connection to it (the v2 server closes its dial-back connection).
	h.RemoveStreamHandler(autonatv2.DialProtocol)
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		n.failResult("subscribe: %v", err)
	}
	s := n.get("autonat_multiaddr")
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		n.failResult("bad autonat address %q: %v", s, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		n.failResult("autonat address %q has no /p2p: %v", s, err)
	}
	if _, err := n.connectIdentified(h, *ai); err != nil {
		n.failResult("connecting to the AutoNAT server: %v", err)
	}
	var observed ma.Multiaddr
	for observed == nil {
		e := (<-sub.Out()).(event.EvtPeerIdentificationCompleted)
		if e.Peer == ai.ID {
			observed = e.ObservedAddr
		}
	}
	listen, err := publishedAddr(h)
	if err != nil {
		n.failResult("%v", err)
	}
	log.Printf("listening on %s, observed by the server as %s", listen, observed)

	res := map[string]any{"observed": observed.String()}
	// v2 first. With v1 first the rust server answered go's v2 dial request with "protocols not
	// supported" in 2 runs of 8 (autonat/rust/go/public): v1's dial-back leaves a second connection,
	// one the server opened, and the v2 request apparently went out on it, where rust-libp2p's v2
	// server does not serve dial requests.
	v2Addr := listen
	if !manet.IsPublicAddr(listen) {
		v2Addr = observed
	}
	res["v2Addr"] = v2Addr.String()
	req := []autonatv2.Request{{Addr: v2Addr, SendDialData: true}}
	ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
	r, err := an.GetReachability(ctx, req)
	// the v2 client learns that the server speaks v2 from identify, asynchronously: wait for it
	for deadline := time.Now().Add(10 * time.Second); errors.Is(err, autonatv2.ErrNoPeers) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		r, err = an.GetReachability(ctx, req)
	}
	cancel()
	if err != nil {
		res["v2"], res["v2Error"] = "error", err.Error()
	} else {
		res["v2"] = reachabilityName(r.Reachability)
	}
	log.Printf("v2 reachability of %s: %v (%v)", v2Addr, res["v2"], err)

	// v1: the server replaces the IP of each address we send with the IP it observed.
	cli := autonat.NewAutoNATClient(h, func() []ma.Multiaddr { return []ma.Multiaddr{listen} }, nil)
	ctx, cancel = context.WithTimeout(n.ctx, 30*time.Second)
	err = cli.DialBack(ctx, ai.ID)
	cancel()
	switch {
	case err == nil:
		res["v1"] = "public"
	case autonat.IsDialError(err):
		res["v1"] = "private"
	case autonat.IsDialRefused(err):
		res["v1"] = "refused"
	default:
		res["v1"], res["v1Error"] = "error", err.Error()
	}
	log.Printf("v1 dial-back: %v (%v)", res["v1"], err)

	if res["v1"] == res["v2"] {
		res["reachability"] = res["v2"]
	} else {
		res["reachability"] = "mixed"
	}
	if want := env("EXPECT", ""); want != "" {
		res["ok"] = res["v1"] == want && res["v2"] == want
	} else {
		res["ok"] = res["v1"] != "error" && res["v2"] != "error"
	}
	n.result(res)
}
