package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/record"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify/pb"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/libp2p/go-msgio/pbio"
	ma "github.com/multiformats/go-multiaddr"
	msmux "github.com/multiformats/go-multistream"
	"google.golang.org/protobuf/proto"
)

var eventbusBuf = eventbus.BufSize(64)

// waitIdentify waits for go-libp2p's identify service to report completion for peer p
// (any peer when p is empty).
func waitIdentify(ctx context.Context, sub event.Subscription, p peer.ID, d time.Duration) (event.EvtPeerIdentificationCompleted, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case e, ok := <-sub.Out():
			if !ok {
				return event.EvtPeerIdentificationCompleted{}, errors.New("identify subscription closed")
			}
			ev := e.(event.EvtPeerIdentificationCompleted)
			if p == "" || ev.Peer == p {
				return ev, nil
			}
		case <-t.C:
			return event.EvtPeerIdentificationCompleted{}, fmt.Errorf("identify of %s did not complete within %s", p, d)
		case <-ctx.Done():
			return event.EvtPeerIdentificationCompleted{}, ctx.Err()
		}
	}
}

type rawResult struct {
	msg *pb.Identify
	err error
}

// startRawIdentify runs rawIdentify right away (while the remote is surely still connected).
func startRawIdentify(ctx context.Context, h host.Host, p peer.ID) <-chan rawResult {
	ch := make(chan rawResult, 1)
	go func() {
		m, err := rawIdentify(ctx, h, p)
		ch <- rawResult{m, err}
	}()
	return ch
}

// rawIdentify asks the remote for its identify message directly (a second /ipfs/id/1.0.0
// request) so that we can see exactly what it sends: go-libp2p's identify service silently
// drops an invalid signed peer record and does not expose the public key it received.
func rawIdentify(ctx context.Context, h host.Host, p peer.ID) (*pb.Identify, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// Open on the swarm directly and negotiate eagerly: host.NewStream would first wait for
	// our own identify of the remote, and the remote may exit soon after its checks.
	s, err := h.Network().NewStream(network.WithNoDial(ctx, "raw identify"), p)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := msmux.SelectProtoOrFail(identify.ID, s); err != nil {
		s.Reset()
		return nil, fmt.Errorf("negotiating %s: %w", identify.ID, err)
	}
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := pbio.NewDelimitedReader(s, 64<<10)
	msg := &pb.Identify{}
	for i := 0; ; i++ {
		m := &pb.Identify{}
		if err := r.ReadMsg(m); err != nil {
			if errors.Is(err, io.EOF) && i > 0 {
				break
			}
			return nil, fmt.Errorf("reading identify message %d: %w", i, err)
		}
		proto.Merge(msg, m)
	}
	return msg, nil
}

// checkIdentify applies the CONTRACT.md identify checks to what go-libp2p's identify service
// reported for the remote. dialed is the address we dialed (dialer only; nil for the listener).
func checkIdentify(h host.Host, ev event.EvtPeerIdentificationCompleted, dialed ma.Multiaddr, rawCh <-chan rawResult) error {
	p := ev.Peer
	log.Printf("identify of %s: agentVersion=%q protocolVersion=%q", p, ev.AgentVersion, ev.ProtocolVersion)
	log.Printf("identify of %s: protocols=%v", p, ev.Protocols)
	log.Printf("identify of %s: listenAddrs=%v observedAddr=%v", p, ev.ListenAddrs, ev.ObservedAddr)
	if ev.AgentVersion == "" {
		return errors.New("agentVersion is empty")
	}
	if ev.ProtocolVersion == "" {
		return errors.New("protocolVersion is empty")
	}
	for _, want := range []protocol.ID{identify.ID, ping.ID} {
		if !slices.Contains(ev.Protocols, want) {
			return fmt.Errorf("protocols %v lack %s", ev.Protocols, want)
		}
	}
	// Public key: the one the peerstore holds (from noise and identify) must give the peer id.
	pk := h.Peerstore().PubKey(p)
	if pk == nil {
		return errors.New("no public key for remote in peerstore")
	}
	if id, err := peer.IDFromPublicKey(pk); err != nil || id != p {
		return fmt.Errorf("peerstore public key gives %s (%v), want %s", id, err, p)
	}
	if dialed != nil {
		found := false
		for _, a := range ev.ListenAddrs {
			if a.Equal(dialed) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("listenAddrs %v do not contain the dialed address %s", ev.ListenAddrs, dialed)
		}
	}
	if err := checkObserved(ev.ObservedAddr); err != nil {
		return err
	}
	// Signed peer record as go-libp2p accepted it.
	if ev.SignedPeerRecord != nil {
		if err := checkEnvelope(ev.SignedPeerRecord, p); err != nil {
			return fmt.Errorf("signedPeerRecord (from identify service): %w", err)
		}
	}

	// Cross-check against the raw identify message.
	rr := <-rawCh
	raw, err := rr.msg, rr.err
	if err != nil && h.Network().Connectedness(p) != network.Connected {
		// The remote finished its own checks and left before our cross-check completed;
		// the identify service's view (checked above) is all we have.
		log.Printf("identify of %s: raw cross-check skipped, remote already disconnected (%v); signedPeerRecord per identify service: %v",
			p, err, ev.SignedPeerRecord != nil)
		return nil
	}
	if err != nil {
		return fmt.Errorf("raw identify request: %w", err)
	}
	if len(raw.PublicKey) == 0 {
		return errors.New("identify message carries no publicKey")
	}
	rpk, err := crypto.UnmarshalPublicKey(raw.PublicKey)
	if err != nil {
		return fmt.Errorf("identify publicKey does not decode: %w", err)
	}
	if id, err := peer.IDFromPublicKey(rpk); err != nil || id != p {
		return fmt.Errorf("identify publicKey gives %s (%v), want %s", id, err, p)
	}
	if len(raw.SignedPeerRecord) == 0 {
		if ev.SignedPeerRecord != nil {
			return errors.New("identify service reported a signed peer record but the raw message has none")
		}
		log.Printf("identify of %s: signedPeerRecord NOT sent", p)
		return nil
	}
	env, _, err := record.ConsumeEnvelope(raw.SignedPeerRecord, peer.PeerRecordEnvelopeDomain)
	if err != nil {
		return fmt.Errorf("signedPeerRecord does not verify with domain %q: %w", peer.PeerRecordEnvelopeDomain, err)
	}
	if err := checkEnvelope(env, p); err != nil {
		return fmt.Errorf("signedPeerRecord: %w", err)
	}
	if r, err := env.Record(); err == nil {
		pr := r.(*peer.PeerRecord)
		log.Printf("identify of %s: signedPeerRecord sent and valid: seq=%d addrs=%v", p, pr.Seq, pr.Addrs)
	}
	if ev.SignedPeerRecord == nil {
		return errors.New("signedPeerRecord was sent and verifies, but go-libp2p's identify service rejected it")
	}
	return nil
}

func checkEnvelope(env *record.Envelope, p peer.ID) error {
	if !bytes.Equal(env.PayloadType, []byte{0x03, 0x01}) {
		return fmt.Errorf("payload type %x, want 0301", env.PayloadType)
	}
	if id, err := peer.IDFromPublicKey(env.PublicKey); err != nil || id != p {
		return fmt.Errorf("envelope key gives %s (%v), want %s", id, err, p)
	}
	rec, err := env.Record()
	if err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	pr, ok := rec.(*peer.PeerRecord)
	if !ok {
		return fmt.Errorf("payload is %T, not a peer record", rec)
	}
	if pr.PeerID != p {
		return fmt.Errorf("record peer id %s, want %s", pr.PeerID, p)
	}
	if len(pr.Addrs) == 0 {
		return errors.New("record has no addresses")
	}
	return nil
}

// checkObserved requires /ip4/127.0.0.1/tcp/<port>, optionally followed by /ws, or
// /ip4/127.0.0.1/udp/<port>/quic-v1.
func checkObserved(a ma.Multiaddr) error {
	if a == nil || len(a) == 0 {
		return errors.New("observedAddr missing")
	}
	if len(a) == 3 && a[0].Protocol().Code == ma.P_IP4 && a[0].Value() == "127.0.0.1" &&
		a[1].Protocol().Code == ma.P_UDP && a[2].Protocol().Code == ma.P_QUIC_V1 {
		if strings.TrimSpace(a[1].Value()) == "" || a[1].Value() == "0" {
			return fmt.Errorf("observedAddr %s has no port", a)
		}
		return nil
	}
	if len(a) < 2 || len(a) > 3 ||
		a[0].Protocol().Code != ma.P_IP4 || a[0].Value() != "127.0.0.1" ||
		a[1].Protocol().Code != ma.P_TCP ||
		(len(a) == 3 && a[2].Protocol().Code != ma.P_WS) {
		return fmt.Errorf("observedAddr %s is not /ip4/127.0.0.1/tcp/<port>[/ws] or /ip4/127.0.0.1/udp/<port>/quic-v1", a)
	}
	if strings.TrimSpace(a[1].Value()) == "" {
		return fmt.Errorf("observedAddr %s has no port", a)
	}
	return nil
}
