package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/redis/go-redis/v9"
)

const streamsTimeout = 60 * time.Second

type listener struct {
	h        host.Host
	rdb      *redis.Client
	once     sync.Once
	scenario string

	echoes    atomic.Int64
	resetSeen atomic.Bool
}

// push sends the listener result once.
func (l *listener) push(err error) {
	l.once.Do(func() { pushListenerResult(l.rdb, err) })
}

func runListener(ctx context.Context, cfg config, h host.Host, rdb *redis.Client) {
	l := &listener{h: h, rdb: rdb, scenario: cfg.scenario}
	h.SetStreamHandler(echoProto, l.handleEcho)
	h.SetStreamHandler(resetProto, l.handleReset)
	h.SetStreamHandler(perfProto, l.handlePerf)
	if cfg.scenario == "streams" {
		// go-yamux drops unread data when an RST arrives, so if a dialer writes its step-3
		// bytes and resets before our multistream negotiation has read the protocol header,
		// the negotiation fails and no handler ever runs. Wrap go-libp2p's own inbound stream
		// handler to notice that case and count it as the step-3 reset.
		sw, ok := h.Network().(interface {
			StreamHandler() network.StreamHandler
		})
		if ok {
			orig := sw.StreamHandler()
			h.Network().SetStreamHandler(func(s network.Stream) {
				orig(s)
				if s.Protocol() == "" && !s.Conn().IsClosed() {
					log.Printf("inbound stream reset/failed before protocol negotiation completed: counted as the echo-stream reset")
					l.resetSeen.Store(true)
					l.checkStreamsDone()
				}
			})
		}
	}

	sub, err := h.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted), eventbusBuf)
	if err != nil {
		fail("subscribe: %v", err)
	}
	type connInfo struct {
		c   network.Conn
		raw <-chan rawResult
	}
	firstConn := make(chan connInfo, 1)
	var seen atomic.Bool
	h.Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		if seen.Swap(true) {
			return
		}
		ci := connInfo{c: c}
		if cfg.scenario == "identify" {
			// Start the raw identify cross-check at once, before the dialer can leave.
			ci.raw = startRawIdentify(ctx, h, c.RemotePeer())
		}
		firstConn <- ci
	}})

	full := publishListenerAddr(ctx, h, rdb)
	log.Printf("listening on %v, published %s", h.Network().ListenAddresses(), full)

	switch cfg.scenario {
	case "identify":
		ci := <-firstConn
		ev, err := waitIdentify(ctx, sub, ci.c.RemotePeer(), identifyWait)
		if err == nil {
			err = checkIdentify(h, ev, nil, ci.raw)
		}
		l.push(err)
	case "streams":
		<-firstConn
		go func() {
			time.Sleep(streamsTimeout)
			l.push(fmt.Errorf("timeout: %d/%d echoes completed, reset seen on echo stream: %v",
				l.echoes.Load(), echoStreams, l.resetSeen.Load()))
		}()
	}
	sub.Close()
	select {} // serve until killed (or the test timeout fires)
}

func (l *listener) checkStreamsDone() {
	if l.echoes.Load() >= echoStreams && l.resetSeen.Load() {
		l.push(nil)
	}
}

func (l *listener) handleEcho(s network.Stream) {
	data, err := io.ReadAll(s)
	if err != nil {
		s.Reset()
		if isStreamReset(err) && !s.Conn().IsClosed() {
			log.Printf("echo: stream reset by remote after %d bytes (%v)", len(data), err)
			l.resetSeen.Store(true)
			l.checkStreamsDone()
			return
		}
		log.Printf("echo: read failed: %v", err)
		if l.scenario == "streams" {
			l.push(fmt.Errorf("echo read failed (not a reset): %v", err))
		}
		return
	}
	if _, err := s.Write(data); err != nil {
		s.Reset()
		if isStreamReset(err) && isQUIC(s.Conn()) && len(data) < echoSize {
			// rust-libp2p over QUIC cannot reset a stream: dropping it sends FIN and STOP_SENDING,
			// so the step-3 reset reads as EOF here and shows when we write (README.md Known quirks).
			log.Printf("echo: EOF after %d bytes, then the write was stopped by the remote (%v): counted as the reset", len(data), err)
			l.resetSeen.Store(true)
			l.checkStreamsDone()
			return
		}
		log.Printf("echo: write failed: %v", err)
		if l.scenario == "streams" {
			l.push(fmt.Errorf("echo write failed: %v", err))
		}
		return
	}
	if err := s.Close(); err != nil {
		log.Printf("echo: close failed: %v", err)
		if l.scenario == "streams" {
			l.push(fmt.Errorf("echo close failed: %v", err))
		}
		return
	}
	n := l.echoes.Add(1)
	if n == echoStreams {
		log.Printf("echo: %d echoes completed", n)
	}
	l.checkStreamsDone()
}

func (l *listener) handleReset(s network.Stream) {
	var b [1]byte
	if _, err := io.ReadFull(s, b[:]); err != nil {
		log.Printf("reset: read failed: %v", err)
	}
	s.Reset()
}

func (l *listener) handlePerf(s network.Stream) {
	t0 := time.Now()
	recv, sent, err := perfServe(s)
	if err != nil {
		log.Printf("perf: stream failed: %v (received %d, sent %d)", err, recv, sent)
		if l.scenario == "perf" || l.scenario == "ping-load" {
			l.push(fmt.Errorf("perf stream failed after receiving %d bytes: %v", recv, err))
		}
		return
	}
	log.Printf("perf: received %d, sent %d in %s", recv, sent, time.Since(t0))
	if l.scenario == "perf" || l.scenario == "ping-load" {
		if recv != perfBytes {
			l.push(fmt.Errorf("perf: received %d bytes, want %d", recv, perfBytes))
		} else {
			l.push(nil)
		}
	}
}
