// NAT mode, roles listener and dialer (see nat.go and ../NAT.md).
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	msmux "github.com/multiformats/go-multistream"
)

const (
	natLimitTotal = 16 * 1024 // limit scenario: bytes written in natLimitChunk pieces
	natLimitChunk = 1024
	// natPunchAttempts: DCUtR attempts before the dialer gives up (go and rust make 3).
	natPunchAttempts = 3
)

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (n *natCtx) relayInfo() (*peer.AddrInfo, ma.Multiaddr, error) {
	s := n.get("relay_multiaddr")
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		return nil, nil, fmt.Errorf("bad relay address %q: %w", s, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		return nil, nil, fmt.Errorf("relay address %q has no /p2p: %w", s, err)
	}
	return ai, m, nil
}

func logConns(h host.Host) {
	h.Network().Notify(&network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			log.Printf("connected %s %s via %s (limited %v)", c.Stat().Direction, c.RemotePeer(), c.RemoteMultiaddr(), c.Stat().Limited)
		},
		DisconnectedF: func(_ network.Network, c network.Conn) {
			log.Printf("disconnected %s via %s", c.RemotePeer(), c.RemoteMultiaddr())
		},
	})
}

// runListener: connect to the relay, wait for identify, reserve, (hole punching: wait for the
// DCUtR handler), then publish the peer id. Hole punching: env HOLE_PUNCH=true|false (what
// interop/nat.mjs passes); without it, on unless SCENARIO names another case, and then the
// listener waits for its DCUtR handler only when the relay's address is public.
func (n *natCtx) runListener() error {
	holePunch := n.scenario == "" || n.scenario == "hole-punch"
	mustWait := n.scenario == "hole-punch"
	switch v := env("HOLE_PUNCH", ""); v {
	case "true", "1":
		holePunch, mustWait = true, true
	case "false", "0":
		holePunch = false
	case "":
	default:
		return fmt.Errorf("HOLE_PUNCH must be true or false, got %q", v)
	}
	h, err := n.peerHost(holePunch)
	if err != nil {
		return err
	}
	logConns(h)
	h.SetStreamHandler(natEchoProto, func(s network.Stream) {
		c, err := io.Copy(s, s)
		log.Printf("echo stream from %s (limited %v): %d bytes, %v", s.Conn().RemotePeer(), s.Conn().Stat().Limited, c, err)
		if err != nil {
			s.Reset()
			return
		}
		s.Close()
	})
	log.Printf("listener %s on %v, hole punching %v", h.ID(), h.Network().ListenAddresses(), holePunch)
	relayAI, relayMA, err := n.relayInfo()
	if err != nil {
		return err
	}
	if _, err := n.connectIdentified(h, *relayAI); err != nil {
		return fmt.Errorf("connecting to the relay: %w", err)
	}
	rsvp, err := n.reserve(h, *relayAI)
	if err != nil {
		return err
	}
	// go registers /libp2p/dcutr only once it has a public address (observed by the relay);
	// on loopback / private test nets that never happens, so wait only when it can.
	if holePunch && (mustWait || manet.IsPublicAddr(relayMA)) {
		if err := n.waitProtocol(h, natDCUtRProto); err != nil {
			return err
		}
		log.Printf("DCUtR handler registered")
	}
	go n.renew(h, *relayAI, rsvp)
	return n.set("listener_peer_id", h.ID().String())
}

func (n *natCtx) reserve(h host.Host, relayAI peer.AddrInfo) (*client.Reservation, error) {
	ctx, cancel := context.WithTimeout(n.ctx, n.timeout)
	defer cancel()
	rsvp, err := client.Reserve(ctx, h, relayAI)
	if err != nil {
		return nil, fmt.Errorf("reservation refused: %w", err)
	}
	log.Printf("reservation accepted: expires %s, addrs %v, limit duration %s data %d", rsvp.Expiration.UTC().Format(time.RFC3339),
		rsvp.Addrs, rsvp.LimitDuration, rsvp.LimitData)
	return rsvp, nil
}

// renew refreshes the reservation at 3/4 of its remaining lifetime.
func (n *natCtx) renew(h host.Host, relayAI peer.AddrInfo, rsvp *client.Reservation) {
	for {
		time.Sleep(time.Until(rsvp.Expiration) * 3 / 4)
		r, err := n.reserve(h, relayAI)
		if err != nil {
			log.Printf("renewal: %v", err)
			time.Sleep(10 * time.Second)
			continue
		}
		rsvp = r
	}
}

func (n *natCtx) printResultLocked(v map[string]any) {
	fmt.Fprintln(os.Stdout, jsonLine(v))
	n.done = true
}

// result prints the result line (the last stdout line) and exits: 0 when ok.
func (n *natCtx) result(v map[string]any) {
	n.mu.Lock()
	if n.done { // the timeout already printed
		n.mu.Unlock()
		select {}
	}
	v["scenario"] = n.scenario
	n.printResultLocked(v)
	n.mu.Unlock()
	if v["ok"] == true {
		os.Exit(0)
	}
	os.Exit(1)
}

func (n *natCtx) failResult(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	log.Printf("error: %s", msg)
	n.result(map[string]any{"ok": false, "error": msg})
}

var natStatusRe = regexp.MustCompile(`opening relay circuit: ([A-Z_]+) \((\d+)\)`)

func (n *natCtx) runDialer() {
	switch n.scenario {
	case "relay", "hole-punch", "limit", "no-reservation":
	default:
		n.failResult("unsupported SCENARIO %q (want relay, hole-punch, limit or no-reservation)", n.scenario)
	}
	h, err := n.peerHost(n.scenario == "hole-punch")
	if err != nil {
		n.failResult("creating host: %v", err)
	}
	logConns(h)
	log.Printf("dialer %s on %v, scenario %s", h.ID(), h.Network().ListenAddresses(), n.scenario)
	relayAI, relayMA, err := n.relayInfo()
	if err != nil {
		n.failResult("%v", err)
	}
	if _, err := n.connectIdentified(h, *relayAI); err != nil {
		n.failResult("connecting to the relay: %v", err)
	}
	var target peer.ID
	if t := env("TARGET_PEER_ID", ""); n.scenario == "no-reservation" && t != "" {
		target, err = peer.Decode(t)
	} else {
		target, err = peer.Decode(n.get("listener_peer_id"))
	}
	if err != nil {
		n.failResult("bad target peer id: %v", err)
	}
	if n.scenario == "hole-punch" {
		// As A (the side handling /libp2p/dcutr) we need our own handler, registered once the relay observed a public address.
		if err := n.waitProtocol(h, natDCUtRProto); err != nil {
			n.failResult("%v", err)
		}
	}
	circuit := relayMA.Encapsulate(ma.StringCast("/p2p-circuit"))
	log.Printf("dialing %s/p2p/%s", circuit, target)
	ctx, cancel := context.WithTimeout(n.ctx, n.timeout)
	defer cancel()
	err = h.Connect(ctx, peer.AddrInfo{ID: target, Addrs: []ma.Multiaddr{circuit}})
	if n.scenario == "no-reservation" {
		if err == nil {
			n.failResult("the circuit to %s was opened; expected NO_RESERVATION", target)
		}
		m := natStatusRe.FindStringSubmatch(err.Error())
		if m == nil {
			n.failResult("dial failed without a relay status: %v", err)
		}
		log.Printf("dial refused: %s (%s)", m[1], m[2])
		n.result(map[string]any{"ok": m[1] == "NO_RESERVATION", "status": m[1], "code": m[2]})
	}
	if err != nil {
		n.failResult("dialing the circuit: %v", err)
	}
	relayed := n.findConn(h, target, true)
	if relayed == nil {
		n.failResult("connected, but no relayed connection to %s", target)
	}
	switch n.scenario {
	case "relay":
		n.scenarioRelay(h, target, relayed)
	case "hole-punch":
		n.scenarioHolePunch(h, target)
	case "limit":
		n.scenarioLimit(h, target)
	}
}

func (n *natCtx) findConn(h host.Host, p peer.ID, relayed bool) network.Conn {
	for _, c := range h.Network().ConnsToPeer(p) {
		if isRelayed(c) == relayed {
			return c
		}
	}
	return nil
}

// pingOn runs one /ipfs/ping/1.0.0 round trip on exactly this connection.
func (n *natCtx) pingOn(c network.Conn) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(network.WithAllowLimitedConn(n.ctx, "ping"), 20*time.Second)
	defer cancel()
	s, err := c.NewStream(ctx)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(20 * time.Second))
	if err := msmux.SelectProtoOrFail(ping.ID, s); err != nil {
		s.Reset()
		return 0, fmt.Errorf("negotiating ping: %w", err)
	}
	s.SetProtocol(ping.ID)
	out, in := make([]byte, 32), make([]byte, 32)
	rand.Read(out)
	start := time.Now()
	if _, err := s.Write(out); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(s, in); err != nil {
		return 0, err
	}
	rtt := time.Since(start)
	if string(in) != string(out) {
		return 0, errors.New("ping payload mismatch")
	}
	return rtt, nil
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (n *natCtx) scenarioRelay(h host.Host, target peer.ID, c network.Conn) {
	if err := n.identifyOn(h, c); err != nil {
		n.failResult("%v", err)
	}
	rtt, err := n.pingOn(c)
	if err != nil {
		n.failResult("ping over the relayed connection: %v", err)
	}
	log.Printf("ping over %s: %s", c.RemoteMultiaddr(), rtt)
	n.result(map[string]any{"ok": true, "rttMillis": millis(rtt), "limited": c.Stat().Limited})
}

// identifyOn waits for identify on c and checks the remote's protocols arrived.
func (n *natCtx) identifyOn(h host.Host, c network.Conn) error {
	if idh, ok := h.(interface{ IDService() identify.IDService }); ok {
		select {
		case <-idh.IDService().IdentifyWait(c):
		case <-time.After(n.timeout):
		}
	}
	end := time.Now().Add(n.timeout)
	for {
		protos, _ := h.Peerstore().GetProtocols(c.RemotePeer())
		if len(protos) > 0 {
			log.Printf("identify over %s: %d protocols", c.RemoteMultiaddr(), len(protos))
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("identify over the relayed connection did not complete")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (n *natCtx) scenarioHolePunch(h host.Host, target peer.ID) {
	// DCUtR makes at most 3 attempts (go, rust; the spec's retry count): give up 2 s after the
	// third failed one instead of waiting for TIMEOUT_SECONDS.
	var direct network.Conn
	var giveUp <-chan time.Time
	failures, lastErr := 0, ""
	for direct == nil {
		select {
		case lastErr = <-punchFailures:
			if failures++; failures == natPunchAttempts {
				giveUp = time.After(2 * time.Second)
			}
		case <-giveUp:
			n.punchFailed(h, target, failures, lastErr)
		case <-time.After(50 * time.Millisecond):
		}
		direct = n.findConn(h, target, false)
	}
	log.Printf("direct connection %s %s", direct.Stat().Direction, direct.RemoteMultiaddr())
	rtt, err := n.pingOn(direct)
	if err != nil {
		n.failResult("ping over the direct connection %s: %v", direct.RemoteMultiaddr(), err)
	}
	fmt.Fprintln(os.Stdout, jsonLine(map[string]any{"rtt_to_holepunched_peer_millis": rtt.Milliseconds()}))
	n.result(map[string]any{"ok": true, "rttMillis": millis(rtt), "direct": direct.RemoteMultiaddr().String()})
}

// punchFailed ends a hole-punch dialer whose DCUtR attempts all failed: the relayed connection must
// still carry a ping (the orchestrator's symmetric-NAT controls judge exactly that, ../NAT.md), so
// the result line has the failure and relayedPingMillis (null when that ping failed too).
func (n *natCtx) punchFailed(h host.Host, target peer.ID, failures int, lastErr string) {
	var relayedPing any
	if c := n.findConn(h, target, true); c != nil {
		if rtt, err := n.pingOn(c); err == nil {
			relayedPing = millis(rtt)
		} else {
			log.Printf("ping over the relayed connection after DCUtR failed: %v", err)
		}
	}
	msg := fmt.Sprintf("DCUtR failed after %d attempt(s): no direct connection; last: %s", failures, firstLine(lastErr))
	log.Printf("error: %s", msg)
	n.result(map[string]any{"ok": false, "error": msg, "attempts": failures, "relayedPingMillis": relayedPing})
}

// scenarioLimit writes 16 KiB in 1 KiB pieces on /weft/echo/1.0.0 over the relayed connection,
// reading each echo back; the relay's data limit must end the circuit before all came back.
func (n *natCtx) scenarioLimit(h host.Host, target peer.ID) {
	ctx, cancel := context.WithTimeout(network.WithAllowLimitedConn(n.ctx, "echo"), 20*time.Second)
	defer cancel()
	s, err := h.NewStream(ctx, target, natEchoProto)
	if err != nil {
		n.failResult("opening %s: %v", natEchoProto, err)
	}
	log.Printf("echo stream on %s (limited %v)", s.Conn().RemoteMultiaddr(), s.Conn().Stat().Limited)
	// Lock step: each 1 KiB piece is read back before the next is written, so "echoed" counts
	// what crossed the relay in both directions before its data limit ended the circuit.
	s.SetDeadline(time.Now().Add(20 * time.Second))
	out, in := make([]byte, natLimitChunk), make([]byte, natLimitChunk)
	echoed := 0
	var rerr error
	for echoed < natLimitTotal {
		rand.Read(out)
		if _, err := s.Write(out); err != nil {
			rerr = err
			break
		}
		k, err := io.ReadFull(s, in)
		echoed += k
		if err != nil {
			rerr = err
			break
		}
		if string(in) != string(out) {
			n.failResult("echo mismatch after %d bytes", echoed)
		}
	}
	s.Reset()
	ended := "eof"
	if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
		ended = "reset"
	}
	log.Printf("echo ended after %d bytes: %v", echoed, rerr)
	if echoed >= natLimitTotal {
		n.result(map[string]any{"ok": false, "echoed": echoed, "error": "all 16 KiB came back: the relay's data limit did not end the circuit"})
	}
	n.result(map[string]any{"ok": true, "echoed": echoed, "ended": ended})
}
