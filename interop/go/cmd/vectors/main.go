// vectors is the go-libp2p side of interop/vectors.mjs: it reads a JSON array of checks on stdin,
// answers each with go-libp2p's own code (its protobuf packages, record.Seal / ConsumeEnvelope, the
// peerstore's peer record checks, kbucket, go-multiaddr, go-multistream, miekg/dns, fxamacker/cbor)
// and prints a JSON array of answers {ref, out} or {ref, error}. It knows nothing about weft's
// vectors' expected values: it gets inputs (bytes, seeds, keys) and returns what go computes.
//
//	cd interop/go && go run ./cmd/vectors < checks.json
package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

type check struct {
	Ref    string          `json:"ref"`
	Op     string          `json:"op"`
	Hex    string          `json:"hex,omitempty"`
	Msg    string          `json:"msg,omitempty"`
	Frames bool            `json:"frames,omitempty"`
	Seed   string          `json:"seed,omitempty"`
	Domain string          `json:"domain,omitempty"`
	A      string          `json:"a,omitempty"`
	B      string          `json:"b,omitempty"`
	Value  uint64          `json:"value,omitempty"`
	Value2 json.RawMessage `json:"decoded,omitempty"`
	Args   json.RawMessage `json:"args,omitempty"`
}

type answer struct {
	Ref   string `json:"ref"`
	Out   any    `json:"out,omitempty"`
	Error string `json:"error,omitempty"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Println(versions())
		return
	}
	var checks []check
	if err := json.NewDecoder(os.Stdin).Decode(&checks); err != nil {
		fmt.Fprintln(os.Stderr, "vectors: bad input:", err)
		os.Exit(2)
	}
	answers := make([]answer, 0, len(checks))
	for _, c := range checks {
		out, err := run(c)
		a := answer{Ref: c.Ref, Out: out}
		if err != nil {
			a.Error = err.Error()
		}
		answers = append(answers, a)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(answers); err != nil {
		panic(err)
	}
}

// versions names the modules that answer, as "go-libp2p v0.48.0".
func versions() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "go-libp2p (unknown version)"
	}
	for _, d := range info.Deps {
		if d.Path == "github.com/libp2p/go-libp2p" {
			return "go-libp2p " + d.Version
		}
	}
	return "go-libp2p (unknown version)"
}

func run(c check) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	raw, err := hex.DecodeString(c.Hex)
	if err != nil {
		return nil, err
	}
	switch c.Op {
	case "pb":
		return pbCheck(c.Msg, raw, c.Frames)
	case "peer-id-seed":
		return peerIDFromSeed(c.Seed)
	case "kad-distance":
		return kadDistance(c.A, c.B)
	case "uvarint":
		return hex.EncodeToString(binary.AppendUvarint(nil, c.Value)), nil
	case "envelope":
		return envelope(raw, c.Domain, c.Seed)
	case "peer-record":
		return peerRecord(raw, c.Seed)
	case "voucher":
		return voucher(raw, c.Seed)
	case "pubsub-rpc":
		return pubsubRPC(raw)
	case "cbor":
		return cborCheck(raw, c.Value2)
	case "json":
		return jsonCheck(raw)
	case "dns":
		return dnsCheck(raw)
	case "ms-listener":
		return msListener(c.Args)
	case "ms-dialer":
		return msDialer(c.Args)
	case "yamux":
		return yamuxCheck(c.Args)
	}
	return nil, fmt.Errorf("unknown op %q", c.Op)
}

// frames splits uvarint-length-prefixed messages (the framing every libp2p protobuf stream uses).
func frames(b []byte) ([][]byte, error) {
	var out [][]byte
	r := bytes.NewReader(b)
	for r.Len() > 0 {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, err
		}
		m := make([]byte, n)
		if _, err := io.ReadFull(r, m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func seedKey(seedHex string) (ed25519.PrivateKey, error) {
	seed, err := hex.DecodeString(seedHex)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("bad seed %q", seedHex)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
