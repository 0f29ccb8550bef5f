package main

// Browser mode (env scenario=browser; ../CONTRACT.md "browser"): the go node a weft page running in
// Chromium talks to (test/browser/). No Redis: it listens on /ip4/<ip>/tcp/0/ws and prints ONE JSON
// line on stdout (address, peer id, agent version, protocols, the gossipsub topic, the kad keys it
// holds, its kad neighbours), then serves until stdin closes (the test owns it) or the timeout.
//
// It serves identify, ping, `/weft/echo/1.0.0` (every byte back until EOF, then close),
// gossipsub on `weft-browser` (each message from another peer is re-published as
// "go echo: <data>"), and kad in server mode holding its own /pk record and a provider record
// for sha256("provide/browser-go"); two neighbour hosts in this process (WebSocket, kad server)
// sit in its routing table, so a FIND_NODE lookup for a neighbour has somewhere to go.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
	ma "github.com/multiformats/go-multiaddr"
)

const browserAgent = "go-libp2p-interop/0.48.0 (browser)"
const browserTopic = "weft-browser"
const browserEcho = "/weft/echo/1.0.0"

func browserHost(ip string) (host.Host, *dht.IpfsDHT) {
	la := ma.StringCast(fmt.Sprintf("/ip4/%s/tcp/0/ws", ip))
	h, err := libp2p.New(
		libp2p.Transport(websocket.New),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.DisableRelay(),
		libp2p.ProtocolVersion(protocolVersion),
		libp2p.UserAgent(browserAgent),
		libp2p.ListenAddrs(la),
	)
	if err != nil {
		fail("creating host: %v", err)
	}
	d, err := dht.New(context.Background(), h, dht.Mode(dht.ModeServer))
	if err != nil {
		fail("kad: %v", err)
	}
	return h, d
}

func browserMode() int {
	failAfterTestTimeout("300")
	ip := env("ip", "127.0.0.1")
	ctx := context.Background()
	h, d := browserHost(ip)
	h.SetStreamHandler(browserEcho, func(s network.Stream) {
		n, err := io.Copy(s, s)
		if err != nil {
			log.Printf("echo: %v after %d bytes", err, n)
			_ = s.Reset()
			return
		}
		log.Printf("echo: %d bytes", n)
		_ = s.Close()
	})
	ps, err := pubsub.NewGossipSub(ctx, h)
	if err != nil {
		fail("gossipsub: %v", err)
	}
	topic, err := ps.Join(browserTopic)
	if err != nil {
		fail("join: %v", err)
	}
	sub, err := topic.Subscribe()
	if err != nil {
		fail("subscribe: %v", err)
	}
	go func() {
		for {
			m, err := sub.Next(ctx)
			if err != nil {
				return
			}
			if m.ReceivedFrom == h.ID() {
				continue
			}
			log.Printf("gossipsub: %q from %s", m.Data, m.ReceivedFrom)
			if err := topic.Publish(ctx, append([]byte("go echo: "), m.Data...)); err != nil {
				log.Printf("publish: %v", err)
			}
		}
	}()
	// Two neighbours in the routing table (kad servers on WebSocket too).
	neighbours := []string{}
	for i := 0; i < 2; i++ {
		nh, _ := browserHost(ip)
		if err := h.Connect(ctx, peer.AddrInfo{ID: nh.ID(), Addrs: nh.Addrs()}); err != nil {
			fail("connect neighbour: %v", err)
		}
		neighbours = append(neighbours, nh.ID().String())
	}
	if err := until(20*time.Second, "neighbours in the routing table", func() bool { return d.RoutingTable().Size() >= 2 }); err != nil {
		fail("%v", err)
	}
	pub, err := crypto.MarshalPublicKey(h.Peerstore().PubKey(h.ID()))
	if err != nil {
		fail("public key: %v", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := d.PutValue(pctx, "/pk/"+string(h.ID()), pub); err != nil {
		log.Printf("put /pk (stored locally first): %v", err)
	}
	cancel()
	if err := d.Provide(ctx, provideCid("browser-go"), false); err != nil {
		fail("provide: %v", err)
	}
	// Identify answers from a snapshot refreshed when the protocols change: let it settle.
	time.Sleep(200 * time.Millisecond)
	protocols := []string{}
	for _, p := range h.Mux().Protocols() {
		protocols = append(protocols, string(p))
	}
	sort.Strings(protocols)
	var addr ma.Multiaddr
	for _, a := range h.Addrs() {
		if v, err := a.ValueForProtocol(ma.P_IP4); err == nil && v == ip {
			addr = a
		}
	}
	if addr == nil {
		fail("no /ip4/%s address among %v", ip, h.Addrs())
	}
	fmt.Println(jsonLine(map[string]any{
		"addr": addr.String() + "/p2p/" + h.ID().String(), "peerId": h.ID().String(),
		"agentVersion": browserAgent, "protocolVersion": protocolVersion, "protocols": protocols,
		"topic": browserTopic, "echo": browserEcho, "provide": "provide/browser-go", "neighbours": neighbours,
	}))
	os.Stdout.Sync()
	log.Printf("browser peer %s/p2p/%s", addr, h.ID())
	// Serve until whoever started us closes our stdin.
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	log.Printf("stdin closed: exiting")
	return 0
}
