// Limits mode (../README.md "Limits"): connection-manager and resource-limit scenarios against
// weft, driven by interop/limits.mjs through Redis. Selected by the env var limits_scenario:
//
//   - go-trims: one listener with connmgr.NewConnManager(2, 4, grace 1 s, silence 1 s) that
//     Protects the peer id in env protect_peer; it RPUSHes its address to goAddr. Until the key
//     release is set it also protects every peer that connects (tag "setup"), so that a slow dial
//     on a loaded machine cannot make it trim before all dialers are in; then it unprotects them
//     and its connmgr trims (ConnGarbageCollected) on its next silence-period tick. Once the key
//     report is set, it RPUSHes to status the peers it still has.
//   - weft-trims: env hosts (default 3) hosts in this process; each RPUSHes "go <peer id>" to peers,
//     waits for the key start, dials the address in weftAddr, opens one /weft/hold/1.0.0 stream
//     (writes one byte, reads one byte back: the hold is in place), RPUSHes {"event":"held"} to
//     events, then blocks reading it. When the read fails it RPUSHes {"event":"closed"} with what
//     go-libp2p surfaced (network.ConnError: Remote, ErrorCode). Once report is set, every host
//     still connected RPUSHes {"event":"open"} to status. With env hold_proto=/ipfs/ping/1.0.0
//     (a weft node that serves no hold protocol: the weft CLI) the held stream is a ping stream
//     that pings every 500 ms instead.
//   - ping-limit: one listener with go-libp2p's default resource manager (ping: 2 inbound streams
//     per peer; a third is reset with StreamResourceLimitExceeded 0x1002); RPUSHes goAddr.
//   - ping-dial: one host dials the address in weftAddr and opens 3 /ipfs/ping/1.0.0 streams at
//     once, pinging twice on each; it RPUSHes one {"event":"stream"} per stream to events with
//     what go-libp2p surfaced (network.StreamError: Remote, ErrorCode), then {"event":"done"}.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"strconv"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/redis/go-redis/v9"
)

const holdProto = protocol.ID("/weft/hold/1.0.0")

type limitsCtx struct {
	ctx context.Context
	rdb *redis.Client
}

func (l *limitsCtx) push(key string, v map[string]any) {
	s := jsonLine(v)
	log.Printf("%s <- %s", key, s)
	if err := l.rdb.RPush(l.ctx, key, s).Err(); err != nil {
		log.Printf("RPUSH %s: %v", key, err)
	}
}

// waitKey polls until key exists and returns its value.
func (l *limitsCtx) waitKey(key string) string {
	for {
		v, err := l.rdb.Get(l.ctx, key).Result()
		if err == nil {
			return v
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitPeer waits for key (a multiaddr ending in /p2p/<id>) and parses it.
func (l *limitsCtx) waitPeer(key string) (*peer.AddrInfo, error) {
	m, err := ma.NewMultiaddr(l.waitKey(key))
	if err != nil {
		return nil, err
	}
	return peer.AddrInfoFromP2pAddr(m)
}

// limitsHost builds a TCP/Noise/yamux host. cm nil: go-libp2p's default connection manager (low 160 / high 192, far above these cases' counts);
// defaultRcmgr false: the null resource manager (the load must not hit go's defaults).
func limitsHost(listen ma.Multiaddr, cm *connmgr.BasicConnMgr, defaultRcmgr bool) (host.Host, error) {
	opts := []libp2p.Option{
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(), // several hosts in one process
		libp2p.ProtocolVersion(protocolVersion),
	}
	if listen != nil {
		opts = append(opts, libp2p.ListenAddrs(listen))
	} else {
		opts = append(opts, libp2p.NoListenAddrs)
	}
	if cm != nil {
		opts = append(opts, libp2p.ConnectionManager(cm))
	}
	if !defaultRcmgr {
		opts = append(opts, libp2p.ResourceManager(&network.NullResourceManager{}))
	}
	return libp2p.New(opts...)
}

func limitsMode(scenario string) int {
	log.SetPrefix("[go-limits " + scenario + "] ")
	failAfterTestTimeout("60")
	l := &limitsCtx{ctx: context.Background(), rdb: redis.NewClient(&redis.Options{Addr: env("redis_addr", "redis:6379"), DisableIdentity: true})}
	var err error
	switch scenario {
	case "go-trims":
		err = l.goTrims()
	case "weft-trims":
		err = l.weftTrims()
	case "ping-limit":
		err = l.pingLimit()
	case "ping-dial":
		err = l.pingDial()
	default:
		fail("unsupported limits_scenario %q", scenario)
	}
	if err != nil {
		fail("%v", err)
	}
	select {} // serve until killed
}

func (l *limitsCtx) listen(cm *connmgr.BasicConnMgr, defaultRcmgr bool, connected func(peer.ID)) (host.Host, error) {
	la, err := listenAddr(env("ip", "127.0.0.1"), "tcp", 0)
	if err != nil {
		return nil, err
	}
	h, err := limitsHost(la, cm, defaultRcmgr)
	if err != nil {
		return nil, err
	}
	own, err := publishedAddr(h)
	if err != nil {
		return nil, err
	}
	h.Network().Notify(&network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			log.Printf("connected %s (%d conns)", c.RemotePeer(), len(h.Network().Conns()))
			if connected != nil {
				connected(c.RemotePeer())
			}
		},
		DisconnectedF: func(_ network.Network, c network.Conn) {
			log.Printf("disconnected %s (%d conns)", c.RemotePeer(), len(h.Network().Conns()))
		},
	})
	addr := fmt.Sprintf("%s/p2p/%s", own, h.ID())
	log.Printf("listening on %s", addr)
	return h, l.rdb.RPush(l.ctx, "goAddr", addr).Err()
}

func (l *limitsCtx) goTrims() error {
	cm, err := connmgr.NewConnManager(2, 4, connmgr.WithGracePeriod(time.Second), connmgr.WithSilencePeriod(time.Second))
	if err != nil {
		return err
	}
	if p := env("protect_peer", ""); p != "" {
		id, err := peer.Decode(p)
		if err != nil {
			return fmt.Errorf("protect_peer %q: %w", p, err)
		}
		cm.Protect(id, "weft-interop")
		log.Printf("protecting %s", id)
	}
	var mu sync.Mutex
	released := false
	var setup []peer.ID
	h, err := l.listen(cm, false, func(p peer.ID) {
		mu.Lock()
		defer mu.Unlock()
		if !released {
			cm.Protect(p, "setup")
			setup = append(setup, p)
		}
	})
	if err != nil {
		return err
	}
	l.waitKey("release")
	mu.Lock()
	released = true
	for _, p := range setup {
		cm.Unprotect(p, "setup")
	}
	log.Printf("released %d peers", len(setup))
	mu.Unlock()
	l.waitKey("report")
	var connected []string
	for _, p := range h.Network().Peers() {
		connected = append(connected, p.String())
	}
	l.push("status", map[string]any{"impl": "go", "role": "listener", "connected": connected})
	return nil
}

func (l *limitsCtx) pingLimit() error {
	_, err := l.listen(nil, true, nil)
	return err
}

func (l *limitsCtx) pingDial() error {
	h, err := limitsHost(nil, nil, false)
	if err != nil {
		return err
	}
	target, err := l.waitPeer("weftAddr")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(l.ctx, 20*time.Second)
	defer cancel()
	if err := h.Connect(ctx, *target); err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ev := map[string]any{"impl": "go", "event": "stream", "stream": i, "ok": true}
			if err := pingTwice(ctx, h, target.ID); err != nil {
				ev["ok"] = false
				ev["error"] = err.Error()
				var se *network.StreamError
				if errors.As(err, &se) {
					ev["streamError"] = true
					ev["remote"] = se.Remote
					ev["code"] = uint32(se.ErrorCode)
				}
			}
			l.push("events", ev)
		}(i)
	}
	wg.Wait()
	l.push("events", map[string]any{"impl": "go", "event": "done"})
	return nil
}

// pingTwice opens a ping stream and makes two round trips on it (the stream stays open meanwhile,
// so three concurrent calls hold three streams).
func pingTwice(ctx context.Context, h host.Host, p peer.ID) error {
	s, err := h.NewStream(ctx, p, ping.ID)
	if err != nil {
		return err
	}
	defer s.Reset()
	for round := 0; round < 2; round++ {
		if err := pingRound(s, round); err != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// pingRound makes one /ipfs/ping/1.0.0 round trip on s: 32 bytes out (the first is round), the
// same 32 back.
func pingRound(s network.Stream, round int) error {
	payload, echo := make([]byte, 32), make([]byte, 32)
	payload[0] = byte(round)
	if _, err := s.Write(payload); err != nil {
		return err
	}
	if _, err := io.ReadFull(s, echo); err != nil {
		return err
	}
	if echo[0] != byte(round) {
		return fmt.Errorf("echo differs")
	}
	return nil
}

func (l *limitsCtx) weftTrims() error {
	n, err := strconv.Atoi(env("hosts", "3"))
	if err != nil || n < 1 {
		return fmt.Errorf("bad hosts %q", env("hosts", ""))
	}
	hosts := make([]host.Host, n)
	for i := range hosts {
		if hosts[i], err = limitsHost(nil, nil, false); err != nil {
			return err
		}
		if err := l.rdb.RPush(l.ctx, "peers", "go "+hosts[i].ID().String()).Err(); err != nil {
			return err
		}
	}
	l.waitKey("start")
	target, err := l.waitPeer("weftAddr")
	if err != nil {
		return err
	}
	var mu sync.Mutex
	open := map[peer.ID]bool{}
	for _, h := range hosts {
		go func(h host.Host) {
			me := h.ID().String()
			err := hold(l.ctx, h, *target, protocol.ID(env("hold_proto", string(holdProto))), func() {
				mu.Lock()
				open[h.ID()] = true
				mu.Unlock()
				l.push("events", map[string]any{"impl": "go", "peer": me, "event": "held"})
			})
			mu.Lock()
			open[h.ID()] = false
			mu.Unlock()
			ev := map[string]any{"impl": "go", "peer": me, "event": "closed", "error": fmt.Sprint(err)}
			var ce *network.ConnError
			if errors.As(err, &ce) {
				ev["connError"] = true
				ev["remote"] = ce.Remote
				ev["code"] = uint32(ce.ErrorCode)
			}
			l.push("events", ev)
		}(h)
	}
	l.waitKey("report")
	mu.Lock()
	defer mu.Unlock()
	for _, h := range hosts {
		if open[h.ID()] && h.Network().Connectedness(target.ID) == network.Connected {
			l.push("status", map[string]any{"impl": "go", "peer": h.ID().String(), "event": "open"})
		}
	}
	l.push("status", map[string]any{"impl": "go", "event": "done"})
	return nil
}

// hold connects, opens a /weft/hold/1.0.0 stream, writes one byte and reads one back (held is
// called then), and then reads until the stream fails; it returns that error (what go-libp2p
// surfaced when the remote closed the connection). On /ipfs/ping/1.0.0 it pings every 500 ms
// until the stream fails.
func hold(ctx context.Context, h host.Host, target peer.AddrInfo, proto protocol.ID, held func()) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h.Connect(cctx, target); err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	s, err := h.NewStream(cctx, target.ID, proto)
	if err != nil {
		return fmt.Errorf("open hold stream: %w", err)
	}
	if proto == ping.ID {
		for i := 0; ; i++ {
			if err := pingRound(s, i); err != nil {
				return err
			}
			if i == 0 {
				held()
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	if _, err := s.Write([]byte{1}); err != nil {
		return fmt.Errorf("hold write: %w", err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(s, b); err != nil {
		return fmt.Errorf("hold read: %w", err)
	}
	held()
	for {
		if _, err := s.Read(b); err != nil {
			return err
		}
	}
}
