package main

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

const perfChunk = 64 << 10

var zeroChunk = make([]byte, perfChunk)

type perfReport struct {
	Type          string  `json:"type"`
	TimeSeconds   float64 `json:"timeSeconds"`
	UploadBytes   uint64  `json:"uploadBytes"`
	DownloadBytes uint64  `json:"downloadBytes"`
	Streams       int     `json:"streams,omitempty"` // the final line of --streams N > 1, as weft's
}

type perfCounters struct{ up, down atomic.Int64 }

// perfClient runs the client side of /perf/1.0.0 on s: u64 BE download size, upload, close
// write, read to EOF. It returns the bytes uploaded (excluding the 8-byte header) and downloaded.
func perfClient(s network.Stream, upload, download uint64, c *perfCounters) (up, down uint64, err error) {
	defer s.Close()
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], download)
	if _, err := s.Write(hdr[:]); err != nil {
		s.Reset()
		return 0, 0, fmt.Errorf("writing header: %w", err)
	}
	for up < upload {
		n := min(upload-up, perfChunk)
		w, err := s.Write(zeroChunk[:n])
		up += uint64(w)
		if c != nil {
			c.up.Add(int64(w))
		}
		if err != nil {
			s.Reset()
			return up, 0, fmt.Errorf("upload: %w", err)
		}
	}
	if err := s.CloseWrite(); err != nil {
		s.Reset()
		return up, 0, fmt.Errorf("close write: %w", err)
	}
	buf := make([]byte, perfChunk)
	for {
		n, err := s.Read(buf)
		down += uint64(n)
		if c != nil {
			c.down.Add(int64(n))
		}
		if errors.Is(err, io.EOF) {
			return up, down, nil
		}
		if err != nil {
			s.Reset()
			return up, down, fmt.Errorf("download: %w", err)
		}
	}
}

// perfServe runs the server side of /perf/1.0.0 and returns how many bytes it received
// (excluding the header) and sent.
func perfServe(s network.Stream) (recv, sent uint64, err error) {
	var hdr [8]byte
	if _, err := io.ReadFull(s, hdr[:]); err != nil {
		s.Reset()
		return 0, 0, fmt.Errorf("reading header: %w", err)
	}
	want := binary.BigEndian.Uint64(hdr[:])
	buf := make([]byte, perfChunk)
	for {
		n, err := s.Read(buf)
		recv += uint64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.Reset()
			return recv, 0, fmt.Errorf("reading upload: %w", err)
		}
	}
	for sent < want {
		n := min(want-sent, perfChunk)
		w, err := s.Write(zeroChunk[:n])
		sent += uint64(w)
		if err != nil {
			s.Reset()
			return recv, sent, fmt.Errorf("sending: %w", err)
		}
	}
	if err := s.Close(); err != nil {
		return recv, sent, fmt.Errorf("close: %w", err)
	}
	return recv, sent, nil
}

// perfServerKey is the fixed identity of the perf CLI server: Ed25519 with a seed of
// 32 zero bytes, so that clients know its peer id in advance.
func perfServerKey() crypto.PrivKey {
	sk := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	k, err := crypto.UnmarshalEd25519PrivateKey(sk)
	if err != nil {
		panic(err)
	}
	return k
}

func perfCLI(args []string) int {
	fs := flag.NewFlagSet("peer", flag.ContinueOnError)
	runServer := fs.Bool("run-server", false, "run a perf server")
	serverAddr := fs.String("server-address", "", "ip:port of the perf server (TCP on port, WebSocket on port+1, QUIC v1 on UDP port)")
	transport := fs.String("transport", "tcp", "tcp, ws or quic-v1")
	security := fs.String("security", "noise", "secure channel on tcp and ws: noise or tls (quic-v1 is always TLS 1.3)")
	uploadBytes := fs.Uint64("upload-bytes", 0, "bytes to upload")
	downloadBytes := fs.Uint64("download-bytes", 0, "bytes to download")
	streams := fs.Int("streams", 1, "client: N concurrent perf streams on one connection (1-16), bytes split evenly")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	hostStr, portStr, err := net.SplitHostPort(*serverAddr)
	if err != nil {
		fail("--server-address must be ip:port: %v", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port >= 65535 {
		fail("bad port in --server-address %q", *serverAddr)
	}
	if *streams < 1 || *streams > 16 {
		fail("--streams must be an integer from 1 to 16")
	}
	ip := net.ParseIP(hostStr)
	if ip == nil || ip.To4() == nil {
		fail("--server-address needs an IPv4 address, got %q", hostStr)
	}
	tcpAddr, _ := listenAddr(hostStr, "tcp", port)
	wsAddr, _ := listenAddr(hostStr, "ws", port+1)
	quicAddr, _ := listenAddr(hostStr, "quic-v1", port) // UDP: the same number as TCP's port
	serverKey := perfServerKey()
	serverID, _ := peer.IDFromPrivateKey(serverKey)

	if *runServer {
		h, err := newHostWith(serverKey, hostStack{security: *security, quic: true}, tcpAddr, wsAddr, quicAddr)
		if err != nil {
			fail("creating host: %v", err)
		}
		h.SetStreamHandler(perfProto, func(s network.Stream) {
			recv, sent, err := perfServe(s)
			if err != nil {
				log.Printf("perf stream from %s failed: %v", s.Conn().RemotePeer(), err)
				return
			}
			log.Printf("perf stream from %s: received %d, sent %d", s.Conn().RemotePeer(), recv, sent)
		})
		for _, a := range h.Network().ListenAddresses() {
			log.Printf("listening on %s/p2p/%s", a, h.ID())
		}
		select {}
	}

	var target ma.Multiaddr
	switch *transport {
	case "tcp":
		target = tcpAddr
	case "ws":
		target = wsAddr
	case "quic-v1":
		target = quicAddr
	default:
		fail("unsupported --transport %q (want tcp, ws or quic-v1)", *transport)
	}
	h, err := newHostWith(nil, hostStack{security: *security, quic: *transport == "quic-v1"})
	if err != nil {
		fail("creating host: %v", err)
	}
	defer h.Close()
	ctx := context.Background()
	start := time.Now()
	if err := h.Connect(ctx, peer.AddrInfo{ID: serverID, Addrs: []ma.Multiaddr{target}}); err != nil {
		fail("dial %s/p2p/%s: %v", target, serverID, err)
	}
	var c perfCounters
	stop := make(chan struct{})
	reporterDone := make(chan struct{})
	go func() {
		defer close(reporterDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := time.Now()
		var lastUp, lastDown int64
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				u, d := c.up.Load(), c.down.Load()
				fmt.Println(jsonLine(perfReport{"intermediary", now.Sub(last).Seconds(), uint64(u - lastUp), uint64(d - lastDown), 0}))
				last, lastUp, lastDown = now, u, d
			}
		}
	}()
	up, down, err := perfStreams(ctx, h, serverID, *streams, *uploadBytes, *downloadBytes, &c)
	close(stop)
	<-reporterDone
	if err != nil {
		fail("perf: %v", err)
	}
	if down != *downloadBytes {
		fail("perf: downloaded %d bytes, requested %d", down, *downloadBytes)
	}
	report := perfReport{"final", time.Since(start).Seconds(), up, down, 0}
	if *streams > 1 {
		report.Streams = *streams
	}
	fmt.Println(jsonLine(report))
	return 0
}

// perfStreams runs n perf streams at once on the connection to p, each with its share of the
// bytes (the first streams take the remainder), as `weft perf --streams n` does, and returns the
// totals. The first error wins; the other streams still run to their end.
func perfStreams(ctx context.Context, h host.Host, p peer.ID, n int, upload, download uint64, c *perfCounters) (up, down uint64, err error) {
	share := func(total uint64, i int) uint64 {
		s := total / uint64(n)
		if uint64(i) < total%uint64(n) {
			s++
		}
		return s
	}
	type result struct {
		up, down uint64
		err      error
	}
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			s, err := h.NewStream(ctx, p, perfProto)
			if err != nil {
				results <- result{err: fmt.Errorf("open %s: %w", perfProto, err)}
				return
			}
			u, d, err := perfClient(s, share(upload, i), share(download, i), c)
			results <- result{u, d, err}
		}(i)
	}
	for i := 0; i < n; i++ {
		r := <-results
		up, down = up+r.up, down+r.down
		if err == nil {
			err = r.err
		}
	}
	return up, down, err
}
