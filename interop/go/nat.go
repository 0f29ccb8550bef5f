// NAT mode (../NAT.md, the NAT peer contract of interop/nat.mjs): one peer of a relay / hole-punch /
// AutoNAT case, coordinated through Redis. Selected by env NAT_ROLE:
//
//   - relay: Circuit Relay v2 server (relay.New with an allow-all reservation address filter, so
//     reservations carry the listen address even when it is private); RELAY_LIMIT_DURATION (s) and
//     RELAY_LIMIT_DATA (bytes, per direction) set the circuit limit. SETs <TEST_KEY>_relay_multiaddr.
//   - listener: connects to the relay, waits for identify, reserves a slot, serves /weft/echo/1.0.0
//     (also on limited connections) and DCUtR; SETs <TEST_KEY>_listener_peer_id (nat_peers.go).
//   - dialer: dials <relay>/p2p-circuit/p2p/<listener> and runs SCENARIO = relay | hole-punch | limit |
//     no-reservation; the result JSON is the last stdout line (nat_peers.go).
//   - autonat-server: AutoNAT v1 service + AutoNAT v2 server, reachability forced public; SETs
//     <TEST_KEY>_autonat_multiaddr.
//   - autonat-client: a go-only control asking that server with go's v1 and v2 clients (nat_autonat.go).
//
// Common env: REDIS_ADDR (unix:<path> or host:port), TEST_KEY, LISTEN_IP (default 127.0.0.1),
// TIMEOUT_SECONDS (default 60), TRANSPORT = tcp (default) | quic-v1: relay, listener and dialer
// listen and dial on that transport only (TCP + Noise + yamux, Go sets TCP_NODELAY by default; or
// QUIC v1). Circuits are Noise + yamux over either. The AutoNAT roles are TCP only.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/redis/go-redis/v9"
)

const (
	natEchoProto  = protocol.ID("/weft/echo/1.0.0")
	natDCUtRProto = holepunch.Protocol // /libp2p/dcutr
)

type natCtx struct {
	ctx      context.Context
	role     string
	scenario string
	testKey  string
	listenIP string
	quic     bool // TRANSPORT=quic-v1
	timeout  time.Duration
	rdb      *redis.Client

	mu   sync.Mutex
	done bool // the role reached its steady state (published / printed its result)
}

func natMode(role string) int {
	log.SetPrefix("[go-nat " + role + "] ")
	n := &natCtx{ctx: context.Background(), role: role, scenario: env("SCENARIO", ""), testKey: env("TEST_KEY", "weft"),
		listenIP: env("LISTEN_IP", "127.0.0.1")}
	if ip := net.ParseIP(n.listenIP); ip == nil || ip.To4() == nil || ip.IsUnspecified() {
		fail("LISTEN_IP must be a concrete IPv4 address, got %q", n.listenIP)
	}
	switch t := env("TRANSPORT", "tcp"); t {
	case "tcp", "":
	case "quic-v1":
		n.quic = !strings.HasPrefix(role, "autonat") // the AutoNAT roles are TCP only (../NAT.md)
	default:
		fail("unsupported TRANSPORT %q (want tcp or quic-v1)", t)
	}
	secs, err := strconv.Atoi(env("TIMEOUT_SECONDS", "60"))
	if err != nil || secs <= 0 {
		fail("bad TIMEOUT_SECONDS")
	}
	n.timeout = time.Duration(secs) * time.Second
	n.rdb = natRedis(env("REDIS_ADDR", "unix:/tmp/weft-nat/redis.sock"))
	time.AfterFunc(n.timeout, n.onTimeout)
	switch role {
	case "relay":
		err = n.runRelay()
	case "autonat-server":
		err = n.runAutonatServer()
	case "listener":
		err = n.runListener()
	case "dialer":
		n.runDialer() // prints the result and exits
	case "autonat-client":
		n.scenario = "autonat"
		n.runAutonatClient() // go-only control (nat_autonat.go); prints the result and exits
	default:
		fail("unsupported NAT_ROLE %q (want relay, listener, dialer or autonat-server)", role)
	}
	if err != nil {
		fail("%v", err)
	}
	n.setDone()
	select {} // serve until killed
}

// natRedis accepts "unix:<path>" (a Unix socket; namespaces share the file system) or "host:port".
func natRedis(addr string) *redis.Client {
	opts := &redis.Options{Addr: addr, DisableIdentity: true, ReadTimeout: -1, WriteTimeout: -1}
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		opts.Network, opts.Addr = "unix", p
	}
	return redis.NewClient(opts)
}

func (n *natCtx) key(name string) string { return n.testKey + "_" + name }

func (n *natCtx) setDone() {
	n.mu.Lock()
	n.done = true
	n.mu.Unlock()
}

// onTimeout: a dialer that has not printed its result prints ok:false; other roles exit 1 only
// if they never reached their steady state (published their key).
func (n *natCtx) onTimeout() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done {
		return
	}
	if n.role == "dialer" || n.role == "autonat-client" {
		n.printResultLocked(map[string]any{"ok": false, "scenario": n.scenario, "error": fmt.Sprintf("timeout after %s", n.timeout)})
		os.Exit(1)
	}
	fail("timeout after %s before reaching the published state", n.timeout)
}

func (n *natCtx) set(name, value string) error {
	log.Printf("SET %s %s", n.key(name), value)
	return n.rdb.Set(n.ctx, n.key(name), value, 0).Err()
}

// get polls GET every 200 ms until the key exists (the overall timeout ends the process).
func (n *natCtx) get(name string) string {
	for {
		v, err := n.rdb.Get(n.ctx, n.key(name)).Result()
		if err == nil {
			return strings.TrimSpace(v)
		}
		if err != redis.Nil {
			log.Printf("GET %s: %v", n.key(name), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (n *natCtx) listenMA() ma.Multiaddr {
	s := fmt.Sprintf("/ip4/%s/tcp/0", n.listenIP)
	if n.quic {
		s = fmt.Sprintf("/ip4/%s/udp/0/quic-v1", n.listenIP)
	}
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		fail("listen addr: %v", err)
	}
	return m
}

// natBaseOpts: TCP or QUIC v1 (TRANSPORT), Noise + yamux (TCP and circuits), no resource limits,
// no metrics, listening on LISTEN_IP.
func (n *natCtx) natBaseOpts() []libp2p.Option {
	transport := libp2p.Transport(tcp.NewTCPTransport)
	if n.quic {
		transport = libp2p.Transport(libp2pquic.NewTransport)
	}
	return []libp2p.Option{
		transport,
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.DisableMetrics(),
		libp2p.ProtocolVersion(protocolVersion),
		libp2p.ListenAddrs(n.listenMA()),
	}
}

// ownAddr is "<listen addr>/p2p/<id>".
func ownAddr(h host.Host) (string, error) {
	a, err := publishedAddr(h)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s/p2p/%s", a, h.ID()), nil
}

func (n *natCtx) runRelay() error {
	opts := append(n.natBaseOpts(), libp2p.DisableRelay())
	h, err := libp2p.New(opts...)
	if err != nil {
		return err
	}
	rc := relay.DefaultResources()
	if v := env("RELAY_LIMIT_DURATION", ""); v != "" {
		s, err := strconv.Atoi(v)
		if err != nil || s <= 0 {
			return fmt.Errorf("bad RELAY_LIMIT_DURATION %q", v)
		}
		rc.Limit.Duration = time.Duration(s) * time.Second
	}
	if v := env("RELAY_LIMIT_DATA", ""); v != "" {
		d, err := strconv.ParseInt(v, 10, 64)
		if err != nil || d <= 0 {
			return fmt.Errorf("bad RELAY_LIMIT_DATA %q", v)
		}
		rc.Limit.Data = d
	}
	// go filters reservation addrs with manet.IsPublicAddr by default: a relay on a private or
	// loopback address would send none (rust clients then refuse the reservation).
	if _, err := relay.New(h, relay.WithResources(rc), relay.WithReservationAddressFilter(func(ma.Multiaddr) bool { return true })); err != nil {
		return err
	}
	h.Network().Notify(&network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			log.Printf("connected %s via %s", c.RemotePeer(), c.RemoteMultiaddr())
		},
		DisconnectedF: func(_ network.Network, c network.Conn) { log.Printf("disconnected %s", c.RemotePeer()) },
	})
	addr, err := ownAddr(h)
	if err != nil {
		return err
	}
	log.Printf("relay %s, limit duration %s data %d", addr, rc.Limit.Duration, rc.Limit.Data)
	return n.set("relay_multiaddr", addr)
}

func (n *natCtx) runAutonatServer() error {
	opts := append(n.natBaseOpts(), libp2p.DisableRelay(), libp2p.EnableNATService(), libp2p.EnableAutoNATv2(), libp2p.ForceReachabilityPublic())
	h, err := libp2p.New(opts...)
	if err != nil {
		return err
	}
	h.Network().Notify(&network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			log.Printf("connected %s via %s", c.RemotePeer(), c.RemoteMultiaddr())
		},
	})
	addr, err := ownAddr(h)
	if err != nil {
		return err
	}
	log.Printf("autonat server %s, protocols %v", addr, h.Mux().Protocols())
	return n.set("autonat_multiaddr", addr)
}

// natTracer logs go's hole-punch events to stderr and counts failed attempts (EndHolePunch with
// Success false) in punchFailures.
type natTracer struct{}

var punchFailures = make(chan string, 64)

func (natTracer) Trace(evt *holepunch.Event) {
	log.Printf("holepunch %s remote %s %s", evt.Type, evt.Remote, jsonLine(evt.Evt))
	if e, ok := evt.Evt.(*holepunch.EndHolePunchEvt); ok && !e.Success {
		select {
		case punchFailures <- e.Error:
		default:
		}
	}
}

// peerHost builds a listener / dialer host: relay client (circuit transport), optionally DCUtR.
func (n *natCtx) peerHost(holePunch bool) (host.Host, error) {
	opts := append(n.natBaseOpts(), libp2p.EnableRelay())
	if holePunch {
		opts = append(opts, libp2p.EnableHolePunching(holepunch.WithTracer(natTracer{})))
	}
	return libp2p.New(opts...)
}

// connectIdentified connects to a peer and waits until identify on that connection completed
// (our observed address is then known).
func (n *natCtx) connectIdentified(h host.Host, ai peer.AddrInfo) (network.Conn, error) {
	ctx, cancel := context.WithTimeout(n.ctx, n.timeout)
	defer cancel()
	if err := h.Connect(ctx, ai); err != nil {
		return nil, err
	}
	conns := h.Network().ConnsToPeer(ai.ID)
	if len(conns) == 0 {
		return nil, fmt.Errorf("connected to %s but no connection is open", ai.ID)
	}
	c := conns[0]
	if idh, ok := h.(interface{ IDService() identify.IDService }); ok {
		select {
		case <-idh.IDService().IdentifyWait(c):
		case <-ctx.Done():
			return nil, fmt.Errorf("identify with %s: %w", ai.ID, ctx.Err())
		}
	}
	return c, nil
}

// hasProtocol reports whether the host has a handler for p (go registers the DCUtR handler only
// once it knows a public address of its own).
func hasProtocol(h host.Host, p protocol.ID) bool {
	for _, q := range h.Mux().Protocols() {
		if q == p {
			return true
		}
	}
	return false
}

func (n *natCtx) waitProtocol(h host.Host, p protocol.ID) error {
	end := time.Now().Add(n.timeout)
	for !hasProtocol(h, p) {
		if time.Now().After(end) {
			return fmt.Errorf("handler %s never registered (no public address observed)", p)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

func isRelayed(c network.Conn) bool {
	_, err := c.RemoteMultiaddr().ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}
