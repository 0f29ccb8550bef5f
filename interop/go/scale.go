// Scale-server mode (bench/memory.mjs runScale, bench/README.md "Scale"): a go-libp2p host that
// accepts as many idle inbound connections as it is given, for the same-run comparison with weft.
//
//	peer scale-server [--listen 127.0.0.1:0] [--low N --high N]
//
// TCP only, Noise, yamux, identify and ping (go-libp2p's defaults for a host), the null resource
// manager, and no connection manager unless --low/--high are given (go-libp2p would otherwise
// install its default one, low 160 / high 192, and trim). stdout: {"addr": "<multiaddr>/p2p/<id>"}
// once listening, then one JSON line per stdin line:
//
//	stats   -> {"connections": open now, "established": opened since start, "closed": closed since start}
//	measure -> the same plus {"heapInuse", "sys", "goroutines"} after runtime.GC and debug.FreeOSMemory
//
// RSS and CPU time are read by the bench from /proc/<pid>. Selected from init() so that main.go
// (the interop contract's entry point) stays as it is: this mode never returns.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"

	"github.com/libp2p/go-libp2p"
	coreconnmgr "github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "scale-server" {
		os.Exit(scaleServer(os.Args[2:]))
	}
}

func scaleServer(args []string) int {
	fs := flag.NewFlagSet("scale-server", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "TCP host:port to listen on")
	low := fs.Int("low", 0, "connection manager low watermark (0: no connection manager)")
	high := fs.Int("high", 0, "connection manager high watermark")
	_ = fs.Parse(args)

	var cm coreconnmgr.ConnManager = &coreconnmgr.NullConnMgr{}
	if *high > 0 {
		m, err := connmgr.NewConnManager(*low, *high)
		if err != nil {
			fmt.Fprintf(os.Stderr, "scale-server: connmgr: %v\n", err)
			return 1
		}
		cm = m
	}
	host, port, err := splitHostPort(*listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "scale-server: --listen: %v\n", err)
		return 1
	}
	h, err := libp2p.New(
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.ConnectionManager(cm),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.ProtocolVersion(protocolVersion),
		libp2p.ListenAddrStrings(fmt.Sprintf("/ip4/%s/tcp/%d", host, port)),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "scale-server: host: %v\n", err)
		return 1
	}
	var established, closed atomic.Int64
	h.Network().Notify(&network.NotifyBundle{
		ConnectedF:    func(network.Network, network.Conn) { established.Add(1) },
		DisconnectedF: func(network.Network, network.Conn) { closed.Add(1) },
	})
	out := json.NewEncoder(os.Stdout)
	_ = out.Encode(map[string]any{"addr": fmt.Sprintf("%s/p2p/%s", h.Network().ListenAddresses()[0], h.ID())})
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd := in.Text()
		if cmd != "stats" && cmd != "measure" {
			continue
		}
		s := map[string]any{"connections": len(h.Network().Conns()), "established": established.Load(), "closed": closed.Load()}
		if cmd == "measure" {
			runtime.GC()
			debug.FreeOSMemory()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			s["heapInuse"], s["sys"], s["goroutines"] = ms.HeapInuse, ms.Sys, runtime.NumGoroutine()
		}
		_ = out.Encode(s)
	}
	return 0
}

func splitHostPort(s string) (string, int, error) {
	var host string
	var port int
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			host = s[:i]
			if _, err := fmt.Sscanf(s[i+1:], "%d", &port); err != nil {
				return "", 0, err
			}
			return host, port, nil
		}
	}
	return "", 0, fmt.Errorf("expected host:port, got %q", s)
}
