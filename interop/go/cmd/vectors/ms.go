package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"

	"github.com/multiformats/go-multistream"
)

func utf8Valid(b []byte) bool { return utf8.Valid(b) }

// script is an io.ReadWriteCloser that hands go-multistream the vector's inbound bytes and
// records what it writes.
type script struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (s *script) Read(p []byte) (int, error)  { return s.in.Read(p) }
func (s *script) Write(p []byte) (int, error) { return s.out.Write(p) }
func (s *script) Close() error                { return nil }

type msArgs struct {
	Protocols []string `json:"protocols"`
	In        string   `json:"in"`
}

func msScript(args json.RawMessage) (*msArgs, *script, error) {
	var a msArgs
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, nil, err
	}
	in, err := hex.DecodeString(a.In)
	if err != nil {
		return nil, nil, err
	}
	return &a, &script{in: bytes.NewReader(in)}, nil
}

// msListener runs go-multistream's MultistreamMuxer.Negotiate over the inbound bytes and returns
// what it wrote, the protocol it chose and the bytes it left unread.
func msListener(args json.RawMessage) (any, error) {
	a, s, err := msScript(args)
	if err != nil {
		return nil, err
	}
	mux := multistream.NewMultistreamMuxer[string]()
	for _, p := range a.Protocols {
		mux.AddHandler(p, nil)
	}
	proto, _, err := mux.Negotiate(s)
	out := map[string]any{"out": hex.EncodeToString(s.out.Bytes()), "protocol": proto}
	if err != nil {
		out["failed"] = err.Error()
	}
	rest, _ := io.ReadAll(s.in)
	out["remainder"] = hex.EncodeToString(rest)
	return out, nil
}

// msDialer runs go-multistream's SelectOneOf (the header and first proposal in one flight).
func msDialer(args json.RawMessage) (any, error) {
	a, s, err := msScript(args)
	if err != nil {
		return nil, err
	}
	proto, err := multistream.SelectOneOf(a.Protocols, s)
	out := map[string]any{"out": hex.EncodeToString(s.out.Bytes()), "protocol": proto}
	if err != nil {
		var nse multistream.ErrNotSupported[string]
		if errors.As(err, &nse) {
			out["failed"] = "not supported"
		} else {
			out["failed"] = err.Error()
		}
	}
	rest, _ := io.ReadAll(s.in)
	out["remainder"] = hex.EncodeToString(rest)
	return out, nil
}
