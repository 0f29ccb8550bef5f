// relay-vectors encodes the Circuit Relay v2 messages and the reservation voucher of
// spec/vectors/relay.json with go-libp2p's own code (the circuitv2 pb package, proto.Marshal,
// record.Seal) and prints them as JSON {id: hex}. test/relay-message.test.ts does not run it;
// it was run by hand to confirm the derived vectors (see spec/relay.md, Vectors):
//
//	cd interop/go && go run ./cmd/relay-vectors
package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/pb"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	ma "github.com/multiformats/go-multiaddr"
	gproto "google.golang.org/protobuf/proto"
)

func key(fill []byte) crypto.PrivKey {
	k, err := crypto.UnmarshalEd25519PrivateKey(ed25519Expanded(fill))
	if err != nil {
		panic(err)
	}
	return k
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func u32(v uint32) *uint32 { return &v }
func u64(v uint64) *uint64 { return &v }

func main() {
	seedR := make([]byte, 32)
	for i := range seedR {
		seedR[i] = byte(i)
	}
	seedP := make([]byte, 32)
	seedB := make([]byte, 32)
	for i := range seedP {
		seedP[i], seedB[i] = 7, 9
	}
	kR, kP, kB := key(seedR), key(seedP), key(seedB)
	R := must(peer.IDFromPrivateKey(kR))
	P := must(peer.IDFromPrivateKey(kP))
	B := must(peer.IDFromPrivateKey(kB))
	addr := func(s string) []byte { return ma.StringCast(s).Bytes() }
	a1 := addr("/ip4/198.51.100.1/tcp/4001/p2p/" + R.String())
	a2 := addr("/ip6/2001:db8::1/udp/4001/quic-v1/p2p/" + R.String())
	expire := uint64(1767229200)

	rsvp := &proto.ReservationVoucher{Relay: R, Peer: P, Expiration: time.Unix(int64(expire), 0)}
	env := must(record.Seal(rsvp, kR))
	voucher := must(env.Marshal())

	hop := func(t pb.HopMessage_Type) *pb.HopMessage { return &pb.HopMessage{Type: t.Enum()} }
	stop := func(t pb.StopMessage_Type) *pb.StopMessage { return &pb.StopMessage{Type: t.Enum()} }
	limit := &pb.Limit{Duration: u32(120), Data: u64(131072)}
	msgs := map[string]gproto.Message{}
	msgs["hop-reserve"] = hop(pb.HopMessage_RESERVE)
	m := hop(pb.HopMessage_CONNECT)
	m.Peer = &pb.Peer{Id: []byte(P)}
	msgs["hop-connect"] = m
	m = hop(pb.HopMessage_CONNECT)
	m.Peer = &pb.Peer{Id: []byte(P), Addrs: [][]byte{addr("/ip4/198.51.100.2/tcp/4001")}}
	msgs["hop-connect-active-relay-addrs"] = m
	m = hop(pb.HopMessage_STATUS)
	m.Reservation = &pb.Reservation{Expire: u64(expire), Addrs: [][]byte{a1, a2}, Voucher: voucher}
	m.Limit = limit
	m.Status = pb.Status_OK.Enum()
	msgs["hop-status-ok-reservation"] = m
	m = hop(pb.HopMessage_STATUS)
	m.Limit = limit
	m.Status = pb.Status_OK.Enum()
	msgs["hop-status-ok-connect"] = m
	m = hop(pb.HopMessage_STATUS)
	m.Status = pb.Status_NO_RESERVATION.Enum()
	msgs["hop-status-no-reservation"] = m
	m = hop(pb.HopMessage_STATUS)
	m.Limit = &pb.Limit{}
	m.Status = pb.Status_OK.Enum()
	msgs["hop-status-empty-limit"] = m
	s := stop(pb.StopMessage_CONNECT)
	s.Peer = &pb.Peer{Id: []byte(B)}
	s.Limit = limit
	msgs["stop-connect"] = s
	s = stop(pb.StopMessage_STATUS)
	s.Status = pb.Status_OK.Enum()
	msgs["stop-status-ok"] = s
	s = stop(pb.StopMessage_STATUS)
	s.Status = pb.Status_CONNECTION_FAILED.Enum()
	msgs["stop-status-connection-failed"] = s

	out := map[string]string{"voucher-sealed": hex.EncodeToString(voucher)}
	for id, msg := range msgs {
		out[id] = hex.EncodeToString(must(gproto.MarshalOptions{Deterministic: true}.Marshal(msg)))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
}

// ed25519Expanded turns a 32-byte seed into the 64-byte seed||public key form go's
// UnmarshalEd25519PrivateKey takes.
func ed25519Expanded(seed []byte) []byte {
	return ed25519.NewKeyFromSeed(seed)
}
