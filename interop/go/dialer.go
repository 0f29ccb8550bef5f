package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
	msmux "github.com/multiformats/go-multistream"
	"github.com/redis/go-redis/v9"
)

const (
	echoProto  = protocol.ID("/weft/echo/1.0.0")
	resetProto = protocol.ID("/weft/reset/1.0.0")
	perfProto  = protocol.ID("/perf/1.0.0")

	echoStreams   = 64
	echoSize      = 1 << 20
	perfBytes     = 64 << 20
	identifyWait  = 10 * time.Second
	resetWaitTime = 10 * time.Second
)

func runDialer(ctx context.Context, cfg config, h host.Host, rdb *redis.Client) error {
	res, err := rdb.BLPop(ctx, cfg.timeout, "listenerAddr").Result()
	if err != nil {
		return fmt.Errorf("BLPOP listenerAddr: %w", err)
	}
	ai, dialed := mustPeerFromAddr(res[1])
	log.Printf("dialing %s", res[1])

	// Subscribe before dialing so the identify event for this connection cannot be missed.
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted), eventbusBuf)
	if err != nil {
		return err
	}
	defer sub.Close()

	start := time.Now()
	if err := h.Connect(ctx, ai); err != nil {
		return fmt.Errorf("dial %s: %w", res[1], err)
	}
	var raw <-chan rawResult
	if cfg.scenario == "identify" {
		raw = startRawIdentify(ctx, h, ai.ID)
	}
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	r, ok := <-ping.Ping(pctx, h, ai.ID)
	pcancel()
	if !ok {
		return errors.New("ping: no result")
	}
	if r.Error != nil {
		return fmt.Errorf("ping: %w", r.Error)
	}
	handshake := time.Since(start)
	rtt := r.RTT
	log.Printf("connected via %s; handshake+1RTT %.3f ms, ping RTT %.3f ms", connAddr(h, ai.ID), ms(handshake), ms(rtt))

	switch cfg.scenario {
	case "ping":
	case "identify":
		ev, err := waitIdentify(ctx, sub, ai.ID, identifyWait)
		if err != nil {
			return err
		}
		if err := checkIdentify(h, ev, dialed, raw); err != nil {
			return fmt.Errorf("identify check: %w", err)
		}
		log.Printf("identify checks passed")
	case "streams":
		if err := dialerStreams(ctx, h, ai.ID); err != nil {
			return err
		}
	case "perf":
		if err := dialerPerf(ctx, h, ai.ID, nil); err != nil {
			return err
		}
	case "ping-load":
		med, err := dialerPingLoad(ctx, h, ai.ID)
		if err != nil {
			return err
		}
		rtt = med
	}
	if cfg.scenario != "ping" {
		waitListenerResult(ctx, rdb, 10*time.Second)
	}
	printDialerResult(handshake, rtt)
	return nil
}

// waitListenerResult keeps the connection up until the listener has pushed its result (it may still
// be identifying us), without consuming it (the orchestrator reads it). CONTRACT.md, "Dialer output".
func waitListenerResult(ctx context.Context, rdb *redis.Client, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if n, err := rdb.LLen(ctx, "listenerResult").Result(); err == nil && n > 0 {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	log.Printf("listenerResult did not appear within %s; exiting anyway", d)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func connAddr(h host.Host, p peer.ID) string {
	for _, c := range h.Network().ConnsToPeer(p) {
		return c.RemoteMultiaddr().String()
	}
	return "?"
}

func pattern(i, j int) byte { return byte((j*31 + i) & 0xff) }

func dialerStreams(ctx context.Context, h host.Host, p peer.ID) error {
	// 1. 64 concurrent echo streams of 1 MiB.
	t0 := time.Now()
	errs := make(chan error, echoStreams)
	var wg sync.WaitGroup
	for i := 0; i < echoStreams; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- echoOnce(ctx, h, p, i)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	log.Printf("streams: %d echoes of %d bytes OK in %s", echoStreams, echoSize, time.Since(t0))

	// 2. reset protocol: expect a reset error, not EOF.
	sctx, cancel := context.WithTimeout(ctx, resetWaitTime)
	defer cancel()
	s, err := h.NewStream(sctx, p, resetProto)
	if err != nil {
		return fmt.Errorf("open %s: %w", resetProto, err)
	}
	if _, err := s.Write([]byte{0x42}); err != nil {
		return fmt.Errorf("%s write: %w", resetProto, err)
	}
	_ = s.SetReadDeadline(time.Now().Add(resetWaitTime))
	buf := make([]byte, 16)
	n, err := s.Read(buf)
	switch {
	case err == nil:
		return fmt.Errorf("%s: read returned %d bytes, expected a reset", resetProto, n)
	case errors.Is(err, io.EOF) && isQUIC(s.Conn()):
		// rust-libp2p over QUIC cannot reset a stream: dropping it finishes the send side (FIN)
		// and stops the receive side (STOP_SENDING). Our read sees EOF; the reset shows on write.
		if werr := writeUntilReset(s, resetWaitTime); werr != nil {
			return fmt.Errorf("%s: read returned clean EOF, and writing after it %v (expected a reset)", resetProto, werr)
		}
		log.Printf("streams: EOF on read, then STOP_SENDING on write: the remote aborted the stream (QUIC, README.md Known quirks)")
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%s: read returned clean EOF, expected a reset", resetProto)
	case !isStreamReset(err):
		return fmt.Errorf("%s: read error is not a stream reset: %v", resetProto, err)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		log.Printf("streams: reset observed as expected (%v)", err)
	}
	s.Reset()

	// 3. echo stream written to and then reset by us. Negotiate eagerly (wait for the
	// listener's multistream ack) so the listener's handler runs before the reset arrives;
	// go-yamux discards buffered data on reset, which would otherwise race with negotiation.
	ns, err := h.Network().NewStream(sctx, p)
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	if err := msmux.SelectProtoOrFail(echoProto, ns); err != nil {
		ns.Reset()
		return fmt.Errorf("negotiate %s: %w", echoProto, err)
	}
	_ = ns.SetProtocol(echoProto)
	if _, err := ns.Write(make([]byte, 1000)); err != nil {
		return fmt.Errorf("echo-reset write: %w", err)
	}
	if err := ns.Reset(); err != nil {
		return fmt.Errorf("echo-reset reset: %w", err)
	}
	log.Printf("streams: wrote 1000 bytes on %s and reset it", echoProto)
	// One more ping round trip on the same connection: its reply proves the listener has
	// read our RST frame (frames are processed in order) before we exit and drop the connection.
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	defer pcancel()
	if r, ok := <-ping.Ping(pctx, h, p); !ok || r.Error != nil {
		return fmt.Errorf("ping after reset failed: %v", r.Error)
	}
	return nil
}

// isQUIC tells whether c runs over QUIC v1.
func isQUIC(c network.Conn) bool {
	_, err := c.RemoteMultiaddr().ValueForProtocol(ma.P_QUIC_V1)
	return err == nil
}

// writeUntilReset writes one byte at a time to s (whose read side has ended) until a write
// fails with a stream reset (the remote's STOP_SENDING), at most for d. It returns nil on
// such a reset and a description otherwise.
func writeUntilReset(s network.Stream, d time.Duration) error {
	deadline := time.Now().Add(d)
	_ = s.SetWriteDeadline(deadline)
	for time.Now().Before(deadline) {
		if _, err := s.Write([]byte{0x43}); err != nil {
			if isStreamReset(err) {
				return nil
			}
			return fmt.Errorf("failed with %v, not a stream reset", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("kept succeeding for %s", d)
}

func isStreamReset(err error) bool {
	var ce *network.ConnError
	if errors.As(err, &ce) {
		return false
	}
	return errors.Is(err, network.ErrReset)
}

func echoOnce(ctx context.Context, h host.Host, p peer.ID, i int) error {
	s, err := h.NewStream(ctx, p, echoProto)
	if err != nil {
		return fmt.Errorf("echo %d: open: %w", i, err)
	}
	defer s.Close()
	data := make([]byte, echoSize)
	for j := range data {
		data[j] = pattern(i, j)
	}
	werr := make(chan error, 1)
	go func() {
		if _, err := s.Write(data); err != nil {
			werr <- err
			return
		}
		werr <- s.CloseWrite()
	}()
	got, err := io.ReadAll(s)
	if err != nil {
		return fmt.Errorf("echo %d: read: %w (got %d bytes)", i, err, len(got))
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("echo %d: write: %w", i, err)
	}
	if len(got) != len(data) {
		return fmt.Errorf("echo %d: got %d bytes, want %d", i, len(got), len(data))
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("echo %d: content mismatch", i)
	}
	return nil
}

func dialerPerf(ctx context.Context, h host.Host, p peer.ID, c *perfCounters) error {
	t0 := time.Now()
	s, err := h.NewStream(ctx, p, perfProto)
	if err != nil {
		return fmt.Errorf("open %s: %w", perfProto, err)
	}
	up, down, err := perfClient(s, perfBytes, perfBytes, c)
	if err != nil {
		return fmt.Errorf("perf: %w (uploaded %d, downloaded %d)", err, up, down)
	}
	if down != perfBytes {
		return fmt.Errorf("perf: downloaded %d bytes, want %d", down, perfBytes)
	}
	d := time.Since(t0).Seconds()
	log.Printf("perf: uploaded %d and downloaded %d bytes in %.3f s (%.1f MiB/s each way, %.1f MiB/s total)",
		up, down, d, float64(perfBytes)/d/(1<<20), float64(up+down)/d/(1<<20))
	return nil
}

func dialerPingLoad(ctx context.Context, h host.Host, p peer.ID) (time.Duration, error) {
	done := make(chan error, 1)
	go func() { done <- dialerPerf(ctx, h, p, nil) }()

	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := ping.Ping(pctx, h, p)
	var rtts []time.Duration
	var perfErr error
	perfDone := false
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !perfDone || len(rtts) < 5 {
		select {
		case perfErr = <-done:
			perfDone = true
			if perfErr != nil {
				return 0, perfErr
			}
			continue
		case <-tick.C:
		}
		// ping.Ping sends the next ping as soon as the previous result is consumed,
		// so taking one result per tick paces the pings at ~100 ms.
		select {
		case r, ok := <-results:
			if !ok {
				return 0, errors.New("ping-load: ping stream ended")
			}
			if r.Error != nil {
				return 0, fmt.Errorf("ping-load: ping: %w", r.Error)
			}
			rtts = append(rtts, r.RTT)
		case perfErr = <-done:
			perfDone = true
			if perfErr != nil {
				return 0, perfErr
			}
		}
	}
	sort.Slice(rtts, func(a, b int) bool { return rtts[a] < rtts[b] })
	var med time.Duration
	if n := len(rtts); n%2 == 1 {
		med = rtts[n/2]
	} else {
		med = (rtts[n/2-1] + rtts[n/2]) / 2
	}
	log.Printf("ping-load: %d pings during transfer, min %.3f ms, median %.3f ms, max %.3f ms",
		len(rtts), ms(rtts[0]), ms(med), ms(rtts[len(rtts)-1]))
	return med, nil
}
