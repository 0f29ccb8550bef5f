// Metrics mode (../README.md "Limits", case metrics-parity): go-libp2p's own Prometheus metrics
// for the scenario weft runs too, so interop/limits.mjs can compare the two expositions family by
// family. Selected by env metrics_scenario=parity:
//
//   - one host as go-libp2p builds it by default (metrics on prometheus.DefaultRegisterer, the
//     default resource manager with its stats reporter, identify, ping), restricted to the stack
//     weft has: TCP, Noise, yamux, no relay, no listen address;
//   - promhttp.Handler() on 127.0.0.1:0, its URL SET as goMetrics;
//   - waits for listeners (a JSON array of 3 multiaddrs with /p2p/) and refused (a multiaddr with
//     /p2p/ whose TCP port is closed); connects to the 3 (N=3 outbound connections), waits until
//     each is identified, closes the first peer's connection, then dials refused once (it fails);
//   - SETs goDone {"closed": <peer id>, "dialError": <what Connect returned>}, then serves the
//     metrics until killed.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

func metricsMode(scenario string) int {
	log.SetPrefix("[go-metrics " + scenario + "] ")
	failAfterTestTimeout("60")
	if scenario != "parity" {
		fail("unsupported metrics_scenario %q", scenario)
	}
	l := &limitsCtx{ctx: context.Background(), rdb: redis.NewClient(&redis.Options{Addr: env("redis_addr", "redis:6379"), DisableIdentity: true})}
	if err := l.metricsParity(); err != nil {
		fail("%v", err)
	}
	select {} // serve the metrics until killed
}

func (l *limitsCtx) metricsParity() error {
	// Metrics and the resource manager are left as libp2p.New sets them up by default.
	h, err := libp2p.New(
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.DisableRelay(),
		libp2p.NoListenAddrs,
		libp2p.ProtocolVersion(protocolVersion),
	)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/debug/metrics/prometheus", promhttp.Handler())
	go func() { _ = http.Serve(ln, mux) }()
	url := fmt.Sprintf("http://%s/debug/metrics/prometheus", ln.Addr())
	log.Printf("peer id %s, metrics on %s", h.ID(), url)
	if err := l.rdb.Set(l.ctx, "goMetrics", url, 0).Err(); err != nil {
		return err
	}

	identified, err := h.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		return err
	}
	var addrs []string
	if err := json.Unmarshal([]byte(l.waitKey("listeners")), &addrs); err != nil {
		return fmt.Errorf("listeners: %w", err)
	}
	var peers []peer.ID
	for _, s := range addrs {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return err
		}
		ai, err := peer.AddrInfoFromP2pAddr(m)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
		err = h.Connect(ctx, *ai)
		cancel()
		if err != nil {
			return fmt.Errorf("connect %s: %w", s, err)
		}
		peers = append(peers, ai.ID)
	}
	// Identify runs on each new connection; closing one before it finishes would make the identify
	// counts depend on timing.
	seen := map[peer.ID]bool{}
	timeout := time.After(10 * time.Second)
	for len(seen) < len(peers) {
		select {
		case e := <-identified.Out():
			seen[e.(event.EvtPeerIdentificationCompleted).Peer] = true
		case <-timeout:
			return fmt.Errorf("identified %d of %d peers", len(seen), len(peers))
		}
	}
	identified.Close()
	log.Printf("3 connections, identified; closing the one to %s", peers[0])
	if err := h.Network().ClosePeer(peers[0]); err != nil {
		return err
	}
	refused, err := l.waitPeer("refused")
	if err != nil {
		return fmt.Errorf("refused: %w", err)
	}
	ctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
	dialErr := h.Connect(ctx, *refused)
	cancel()
	if dialErr == nil {
		return fmt.Errorf("the dial of %s succeeded", refused)
	}
	log.Printf("refused dial: %v", dialErr)
	done, _ := json.Marshal(map[string]any{"closed": peers[0].String(), "dialError": dialErr.Error()})
	return l.rdb.Set(l.ctx, "goDone", string(done), 0).Err()
}
