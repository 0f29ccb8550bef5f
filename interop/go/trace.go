package main

// Trace mode (../CONTRACT.md "trace"): a listener for `weft trace`, on TCP with the secure channel
// `security` names (noise or tls) or on QUIC v1 (transport quic-v1, TLS inside QUIC). It serves ping, identify,
// kad (server mode) and gossipsub, prints on stdout ONE JSON line with what its identify sends
// (agent and protocol version, protocols, listen addresses, peer id, public key), publishes
// listenerAddr and serves until killed. The orchestrator (lib/trace-case.mjs) compares that line
// with the identify message weft's tracer decoded.

import (
	"context"
	"encoding/hex"
	"fmt"
	"log"
	"os"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/redis/go-redis/v9"
)

const traceAgent = "go-libp2p-interop/0.48.0 (trace)"
const traceTopic = "weft-trace"

func traceMode() int {
	failAfterTestTimeout("60")
	transport, security := env("transport", ""), env("security", "noise")
	if env("is_dialer", "") != "false" || (transport != "tcp" && transport != "quic-v1") {
		fail("scenario trace: only a listener (is_dialer=false) on tcp or quic-v1")
	}
	if transport == "quic-v1" && security != "tls" {
		fail("unsupported security %q for quic-v1 (want tls)", security)
	}
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: env("redis_addr", "redis:6379"), DisableIdentity: true})
	la, err := listenAddr(env("ip", "127.0.0.1"), transport, 0)
	if err != nil {
		fail("listen addr: %v", err)
	}
	stack := libp2p.Transport(tcp.NewTCPTransport)
	if transport == "quic-v1" {
		stack = libp2p.Transport(libp2pquic.NewTransport)
	}
	h, err := libp2p.New(
		stack,
		securityOption(security),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.DisableRelay(),
		libp2p.ProtocolVersion(protocolVersion),
		libp2p.UserAgent(traceAgent),
		libp2p.ListenAddrs(la),
	)
	if err != nil {
		fail("creating host: %v", err)
	}
	if _, err := dht.New(ctx, h, dht.Mode(dht.ModeServer)); err != nil {
		fail("kad: %v", err)
	}
	ps, err := pubsub.NewGossipSub(ctx, h)
	if err != nil {
		fail("gossipsub: %v", err)
	}
	topic, err := ps.Join(traceTopic)
	if err != nil {
		fail("join: %v", err)
	}
	if _, err := topic.Subscribe(); err != nil {
		fail("subscribe: %v", err)
	}
	// Identify answers from a snapshot refreshed when the protocols change: let it settle.
	time.Sleep(200 * time.Millisecond)
	protocols := []string{}
	for _, p := range h.Mux().Protocols() {
		protocols = append(protocols, string(p))
	}
	sort.Strings(protocols)
	addrs := []string{}
	for _, a := range h.Addrs() {
		addrs = append(addrs, a.String())
	}
	pub, err := crypto.MarshalPublicKey(h.Peerstore().PubKey(h.ID()))
	if err != nil {
		fail("public key: %v", err)
	}
	fmt.Println(jsonLine(map[string]any{"identify": map[string]any{
		"agentVersion": traceAgent, "protocolVersion": protocolVersion, "protocols": protocols,
		"listenAddrs": addrs, "peerId": h.ID().String(), "publicKey": hex.EncodeToString(pub),
		"topic": traceTopic,
	}}))
	os.Stdout.Sync()
	full := publishListenerAddr(ctx, h, rdb)
	log.Printf("trace listener %s", full)
	// A message on the topic every 500 ms, so a gossipsub subscriber sees one decoded.
	go func() {
		for i := 0; ; i++ {
			time.Sleep(500 * time.Millisecond)
			_ = topic.Publish(ctx, []byte(fmt.Sprintf("go trace %d", i)))
		}
	}()
	select {}
}
