// Command peer is the go-libp2p interop peer for weft.
//
// Modes:
//   - pubsub-bench (first argument "pubsub-bench"): one side of bench/gossipsub-compare.mjs (pubsub_bench.go);
//   - transport-interop (env vars, see ../CONTRACT.md): when no argument starting with "--" is given;
//   - perf CLI (libp2p test-plans perf contract): when the first argument starts with "--".
//   - NAT (env NAT_ROLE = relay | listener | dialer | autonat-server): ../NAT.md, nat.go.
//   - cert (first argument "cert"): print a go-libp2p TLS certificate and its peer id (secure.go).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/redis/go-redis/v9"
)

func main() {
	log.SetOutput(os.Stderr)
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("[go-peer] ")
	if len(os.Args) > 1 && os.Args[1] == "cert" {
		os.Exit(certMode(os.Args[2:])) // secure.go
	}
	if len(os.Args) > 1 && os.Args[1] == "pubsub-bench" {
		os.Exit(pubsubBench(os.Args[2:]))
	}
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "--") {
		os.Exit(perfCLI(os.Args[1:]))
	}
	if s := env("network_scenario", ""); s != "" {
		os.Exit(networkMode(s))
	}
	if r := env("NAT_ROLE", ""); r != "" {
		os.Exit(natMode(r)) // nat.go
	}
	if s := env("limits_scenario", ""); s != "" {
		os.Exit(limitsMode(s)) // limits.go
	}
	if s := env("metrics_scenario", ""); s != "" {
		os.Exit(metricsMode(s)) // metrics.go
	}
	if env("scenario", "") == "mdns" {
		os.Exit(runMdns()) // mdns.go
	}
	if env("scenario", "") == "browser" {
		os.Exit(browserMode()) // browser_peer.go
	}
	if env("scenario", "") == "trace" {
		os.Exit(traceMode()) // trace.go
	}
	os.Exit(interop())
}

// fail prints one line to stderr and exits 1.
func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[go-peer] error: "+format+"\n", args...)
	os.Exit(1)
}

// newHost builds a libp2p host with exactly TCP + WebSocket, Noise, yamux.
func newHost(priv crypto.PrivKey, listen ...ma.Multiaddr) (host.Host, error) {
	return newHostWith(priv, hostStack{security: "noise"}, listen...)
}

// newHostWith builds a libp2p host with TCP + WebSocket, the secure channel st.security
// ("noise" or "tls", secure.go), yamux, and QUIC v1 when st.quic is set.
// The resource manager is disabled so that the interop load (64 concurrent 1 MiB
// streams, 64 MiB perf) is never throttled by default limits.
func newHostWith(priv crypto.PrivKey, st hostStack, listen ...ma.Multiaddr) (host.Host, error) {
	opts := []libp2p.Option{
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(websocket.New),
		securityOption(st.security),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.DisableRelay(),
		// go-libp2p v0.48 sends an empty identify protocolVersion by default; CONTRACT.md
		// requires a non-empty one, so set the historical default explicitly.
		libp2p.ProtocolVersion(protocolVersion),
	}
	if len(listen) > 0 {
		opts = append(opts, libp2p.ListenAddrs(listen...))
	} else {
		opts = append(opts, libp2p.NoListenAddrs)
	}
	if priv != nil {
		opts = append(opts, libp2p.Identity(priv))
	}
	if st.quic {
		opts = append(opts, libp2p.Transport(libp2pquic.NewTransport))
	}
	return libp2p.New(opts...)
}

func listenAddr(ip, transport string, port int) (ma.Multiaddr, error) {
	if transport == "quic-v1" {
		return ma.NewMultiaddr(fmt.Sprintf("/ip4/%s/udp/%d/quic-v1", ip, port))
	}
	s := fmt.Sprintf("/ip4/%s/tcp/%d", ip, port)
	if transport == "ws" {
		s += "/ws"
	}
	return ma.NewMultiaddr(s)
}

// publishedAddr picks the address to publish: the bound address itself when ip is concrete
// (loopback included), or a non-loopback IPv4 interface address when bound to 0.0.0.0.
func publishedAddr(h host.Host) (ma.Multiaddr, error) {
	for _, a := range h.Network().ListenAddresses() {
		ipStr, err := a.ValueForProtocol(ma.P_IP4)
		if err != nil {
			continue
		}
		if ipStr != "0.0.0.0" {
			return a, nil
		}
		ifaces, err := manet.InterfaceMultiaddrs()
		if err != nil {
			return nil, err
		}
		for _, ia := range ifaces {
			v, err := ia.ValueForProtocol(ma.P_IP4)
			if err != nil || manet.IsIPLoopback(ia) {
				continue
			}
			return ma.NewMultiaddr(strings.Replace(a.String(), "/ip4/0.0.0.0/", "/ip4/"+v+"/", 1))
		}
		return nil, fmt.Errorf("bound to 0.0.0.0 but no non-loopback IPv4 interface found")
	}
	return nil, fmt.Errorf("no IPv4 listen address")
}

const protocolVersion = "ipfs/0.1.0"

type config struct {
	transport, security, scenario, ip, redisAddr string
	isDialer                                     bool
	timeout                                      time.Duration
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func loadConfig() config {
	var c config
	c.transport = env("transport", "")
	switch c.transport {
	case "tcp", "ws", "quic-v1":
	default:
		fail("unsupported transport %q (want tcp, ws or quic-v1)", c.transport)
	}
	c.security = env("security", "")
	if c.transport == "quic-v1" {
		// QUIC v1 carries TLS 1.3 and its own streams: security must be tls, muxer is not used.
		if c.security != "tls" {
			fail("unsupported security %q for quic-v1 (want tls)", c.security)
		}
	} else {
		if m := env("muxer", ""); m != "yamux" {
			fail("unsupported muxer %q (want yamux)", m)
		}
		if c.security != "noise" && c.security != "tls" {
			fail("unsupported security %q (want noise or tls)", c.security)
		}
	}
	c.scenario = env("scenario", "ping")
	switch c.scenario {
	case "ping", "identify", "streams", "perf", "ping-load", "request-response":
	default:
		fail("unsupported scenario %q", c.scenario)
	}
	switch d := env("is_dialer", ""); d {
	case "true":
		c.isDialer = true
	case "false":
	default:
		fail("is_dialer must be true or false, got %q", d)
	}
	c.ip = env("ip", "0.0.0.0")
	if net.ParseIP(c.ip) == nil || net.ParseIP(c.ip).To4() == nil {
		fail("ip must be an IPv4 address, got %q", c.ip)
	}
	c.redisAddr = env("redis_addr", "redis:6379")
	secs, err := strconv.Atoi(env("test_timeout_seconds", "180"))
	if err != nil || secs <= 0 {
		fail("bad test_timeout_seconds")
	}
	c.timeout = time.Duration(secs) * time.Second
	return c
}

func interop() int {
	cfg := loadConfig()
	time.AfterFunc(cfg.timeout, func() {
		fail("test timeout (%s) reached", cfg.timeout)
	})
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: cfg.redisAddr, DisableIdentity: true})
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := rdb.Ping(ctx).Err()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			fail("redis %s not reachable: %v", cfg.redisAddr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Both roles listen on the selected transport (the dialer too, so that its identify
	// carries listen addresses and a non-empty signed peer record).
	la, err := listenAddr(cfg.ip, cfg.transport, 0)
	if err != nil {
		fail("listen addr: %v", err)
	}
	h, err := newHostWith(nil, hostStack{security: cfg.security, quic: cfg.transport == "quic-v1"}, la)
	if err != nil {
		fail("creating host: %v", err)
	}
	log.Printf("peer id %s, role dialer=%v, transport=%s, security=%s, scenario=%s", h.ID(), cfg.isDialer, cfg.transport, cfg.security, cfg.scenario)

	if cfg.scenario == "request-response" {
		return runReqResp(ctx, cfg, h, rdb) // reqresp.go
	}
	if cfg.isDialer {
		if err := runDialer(ctx, cfg, h, rdb); err != nil {
			fail("%v", err)
		}
		return 0
	}
	runListener(ctx, cfg, h, rdb)
	return 0
}

// publishListenerAddr publishes the listener's address (with /p2p) as listenerAddr (CONTRACT.md).
func publishListenerAddr(ctx context.Context, h host.Host, rdb *redis.Client) ma.Multiaddr {
	addr, err := publishedAddr(h)
	if err != nil {
		fail("%v", err)
	}
	full := addr.Encapsulate(ma.StringCast("/p2p/" + h.ID().String()))
	if err := rdb.RPush(ctx, "listenerAddr", full.String()).Err(); err != nil {
		fail("RPUSH listenerAddr: %v", err)
	}
	return full
}

// pushListenerResult pushes the listener's verdict (nil: ok) as listenerResult, on one line.
// Callers push once (sync.Once).
func pushListenerResult(rdb *redis.Client, err error) {
	res := `{"ok":true}`
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), "\n", " ")
		res = jsonLine(struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}{false, msg})
		log.Printf("listener result: FAIL: %s", msg)
	} else {
		log.Printf("listener result: ok")
	}
	if e := rdb.RPush(context.Background(), "listenerResult", res).Err(); e != nil {
		log.Printf("RPUSH listenerResult: %v", e)
	}
}

// printDialerResult writes the dialer's one stdout line (CONTRACT.md, "Dialer output").
func printDialerResult(handshake, rtt time.Duration) {
	fmt.Printf("{\"handshakePlusOneRTTMillis\": %s, \"pingRTTMilllis\": %s}\n", jsonLine(ms(handshake)), jsonLine(ms(rtt)))
}

func jsonLine(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func mustPeerFromAddr(s string) (peer.AddrInfo, ma.Multiaddr) {
	m, err := ma.NewMultiaddr(strings.TrimSpace(s))
	if err != nil {
		fail("bad listener address %q: %v", s, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		fail("listener address %q has no /p2p: %v", s, err)
	}
	return *ai, ai.Addrs[0]
}
