package main

import (
	"encoding/hex"
	"fmt"
	"time"

	kb "github.com/libp2p/go-libp2p-kbucket"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	cryptopb "github.com/libp2p/go-libp2p/core/crypto/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/record"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"
	relayproto "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
)

func privFromSeed(seedHex string) (crypto.PrivKey, error) {
	k, err := seedKey(seedHex)
	if err != nil {
		return nil, err
	}
	return crypto.UnmarshalEd25519PrivateKey(k)
}

// peerIDFromSeed: the protobuf-encoded keys, the peer id and its CID (libp2p-key, base32).
func peerIDFromSeed(seedHex string) (any, error) {
	sk, err := privFromSeed(seedHex)
	if err != nil {
		return nil, err
	}
	pub, err := crypto.MarshalPublicKey(sk.GetPublic())
	if err != nil {
		return nil, err
	}
	priv, err := crypto.MarshalPrivateKey(sk)
	if err != nil {
		return nil, err
	}
	id, err := peer.IDFromPrivateKey(sk)
	if err != nil {
		return nil, err
	}
	return map[string]any{"publicKeyHex": hex.EncodeToString(pub), "privateKeyHex": hex.EncodeToString(priv),
		"peerId": id.String(), "cid": peer.ToCid(id).String()}, nil
}

// kadDistance: kbucket's keys (sha256), their XOR and common prefix length.
func kadDistance(aHex, bHex string) (any, error) {
	a, err := hex.DecodeString(aHex)
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(bHex)
	if err != nil {
		return nil, err
	}
	ka, kb2 := kb.ConvertKey(string(a)), kb.ConvertKey(string(b))
	return map[string]any{"kadKeyA": hex.EncodeToString(ka), "kadKeyB": hex.EncodeToString(kb2),
		"distance": hex.EncodeToString(kb.Xor(ka, kb2)), "commonPrefixLength": kb.CommonPrefixLen(ka, kb2)}, nil
}

// rawRecord is a record.Record of any domain and payload type (go's Seal and ConsumeTypedEnvelope
// take a Record; this one carries the payload bytes as they are).
type rawRecord struct {
	domain  string
	codec   []byte
	payload []byte
}

func (r *rawRecord) Domain() string                 { return r.domain }
func (r *rawRecord) Codec() []byte                  { return r.codec }
func (r *rawRecord) MarshalRecord() ([]byte, error) { return r.payload, nil }
func (r *rawRecord) UnmarshalRecord(b []byte) error {
	r.payload = append([]byte(nil), b...)
	return nil
}

func envelopeView(env *record.Envelope) (map[string]any, error) {
	pub, err := crypto.MarshalPublicKey(env.PublicKey)
	if err != nil {
		return nil, err
	}
	again, err := env.Marshal()
	if err != nil {
		return nil, err
	}
	return map[string]any{"keyType": cryptopb.KeyType_name[int32(env.PublicKey.Type())], "publicKeyHex": hex.EncodeToString(pub),
		"payloadTypeHex": hex.EncodeToString(env.PayloadType), "payloadHex": hex.EncodeToString(env.RawPayload),
		"reencoded": hex.EncodeToString(again)}, nil
}

// reseal signs rec again with the Ed25519 key of seedHex (Ed25519 signatures are deterministic).
func reseal(out map[string]any, rec record.Record, seedHex string) {
	if seedHex == "" {
		return
	}
	sk, err := privFromSeed(seedHex)
	if err != nil {
		out["resealError"] = err.Error()
		return
	}
	env, err := record.Seal(rec, sk)
	if err != nil {
		out["resealError"] = err.Error()
		return
	}
	b, err := env.Marshal()
	if err != nil {
		out["resealError"] = err.Error()
		return
	}
	out["resealed"] = hex.EncodeToString(b)
}

// envelope: ConsumeTypedEnvelope (signature checked against domain) and, with a seed, Seal again.
func envelope(raw []byte, domain, seedHex string) (any, error) {
	rec := &rawRecord{domain: domain}
	env, err := record.ConsumeTypedEnvelope(raw, rec)
	if err != nil {
		return nil, err
	}
	out, err := envelopeView(env)
	if err != nil {
		return nil, err
	}
	reseal(out, &rawRecord{domain: domain, codec: env.PayloadType, payload: env.RawPayload}, seedHex)
	return out, nil
}

// peerRecord: ConsumeEnvelope with the peer record domain, then the memory peerstore's
// ConsumePeerRecord (which checks that the signing key is the record's peer id).
func peerRecord(raw []byte, seedHex string) (any, error) {
	env, r, err := record.ConsumeEnvelope(raw, peer.PeerRecordEnvelopeDomain)
	if err != nil {
		return nil, err
	}
	rec, ok := r.(*peer.PeerRecord)
	if !ok {
		return nil, fmt.Errorf("not a peer record: %T", r)
	}
	ps, err := pstoremem.NewPeerstore()
	if err != nil {
		return nil, err
	}
	defer ps.Close()
	cab, ok := peerstore.GetCertifiedAddrBook(ps)
	if !ok {
		return nil, fmt.Errorf("no certified address book")
	}
	if _, err := cab.ConsumePeerRecord(env, time.Hour); err != nil {
		return nil, err
	}
	out, err := envelopeView(env)
	if err != nil {
		return nil, err
	}
	addrs := make([]string, len(rec.Addrs))
	for i, a := range rec.Addrs {
		addrs[i] = a.String()
	}
	out["peerId"], out["seq"], out["addrs"] = rec.PeerID.String(), fmt.Sprint(rec.Seq), addrs
	reseal(out, rec, seedHex)
	return out, nil
}

// voucher: the relay's reservation voucher (circuitv2 proto.ReservationVoucher).
func voucher(raw []byte, seedHex string) (any, error) {
	rsvp := &relayproto.ReservationVoucher{}
	env, err := record.ConsumeTypedEnvelope(raw, rsvp)
	if err != nil {
		return nil, err
	}
	out, err := envelopeView(env)
	if err != nil {
		return nil, err
	}
	out["relay"], out["peer"], out["expiration"] = rsvp.Relay.String(), rsvp.Peer.String(), fmt.Sprint(rsvp.Expiration.Unix())
	reseal(out, rsvp, seedHex)
	return out, nil
}

// pubsubRPC: go-libp2p-pubsub's RPC type; each message's signature checked as pubsub's
// verifyMessageSignature does (the message without signature and key, "libp2p-pubsub:" prefix) and
// its id by DefaultMsgIdFn.
func pubsubRPC(raw []byte) (any, error) {
	var rpc pubsubpb.RPC
	if err := rpc.Unmarshal(raw); err != nil {
		return nil, err
	}
	msgs := []any{}
	for _, m := range rpc.Publish {
		o := map[string]any{"from": hex.EncodeToString(m.From), "data": hex.EncodeToString(m.Data),
			"seqno": hex.EncodeToString(m.Seqno), "topic": m.GetTopic(), "signature": hex.EncodeToString(m.Signature),
			"msgId": hex.EncodeToString([]byte(pubsub.DefaultMsgIdFn(m)))}
		if len(m.Key) > 0 {
			o["key"] = hex.EncodeToString(m.Key)
		}
		xm := *m
		xm.Signature, xm.Key = nil, nil
		unsigned, err := xm.Marshal()
		if err != nil {
			return nil, err
		}
		from, err := peer.IDFromBytes(m.From)
		if err != nil {
			return nil, err
		}
		pk, err := from.ExtractPublicKey()
		if err != nil {
			return nil, err
		}
		ok, err := pk.Verify(append([]byte("libp2p-pubsub:"), unsigned...), m.Signature)
		o["signatureValid"] = err == nil && ok
		msgs = append(msgs, o)
	}
	again, err := rpc.Marshal()
	if err != nil {
		return nil, err
	}
	return map[string]any{"messages": msgs, "subscriptions": len(rpc.Subscriptions), "control": rpc.Control != nil,
		"reencoded": hex.EncodeToString(again)}, nil
}
