package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/libp2p/go-libp2p/core/peer"
	autonatpb "github.com/libp2p/go-libp2p/p2p/host/autonat/pb"
	autonatv2pb "github.com/libp2p/go-libp2p/p2p/protocol/autonatv2/pb"
	circuitpb "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/pb"
	holepunchpb "github.com/libp2p/go-libp2p/p2p/protocol/holepunch/pb"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// messages are the go-libp2p protobuf types a check may name.
var messages = map[string]func() proto.Message{
	"autonat.v1.Message":          func() proto.Message { return &autonatpb.Message{} },
	"autonat.v2.Message":          func() proto.Message { return &autonatv2pb.Message{} },
	"autonat.v2.DialBack":         func() proto.Message { return &autonatv2pb.DialBack{} },
	"autonat.v2.DialBackResponse": func() proto.Message { return &autonatv2pb.DialBackResponse{} },
	"holepunch.HolePunch":         func() proto.Message { return &holepunchpb.HolePunch{} },
	"circuit.v2.HopMessage":       func() proto.Message { return &circuitpb.HopMessage{} },
	"circuit.v2.StopMessage":      func() proto.Message { return &circuitpb.StopMessage{} },
}

// pbCheck parses bytes (one message, or uvarint-framed messages) as the named go-libp2p type and
// returns each message's fields (walk) and go's own deterministic re-encoding of what it parsed.
func pbCheck(name string, raw []byte, framed bool) (any, error) {
	mk, ok := messages[name]
	if !ok {
		return nil, fmt.Errorf("unknown message %q", name)
	}
	parts := [][]byte{raw}
	if framed {
		var err error
		if parts, err = frames(raw); err != nil {
			return nil, err
		}
	}
	var fields []any
	var again []byte
	for _, p := range parts {
		m := mk()
		if err := proto.Unmarshal(p, m); err != nil {
			return nil, err
		}
		fields = append(fields, walk(m.ProtoReflect()))
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			return nil, err
		}
		if framed {
			again = binary.AppendUvarint(again, uint64(len(b)))
		}
		again = append(again, b...)
	}
	out := map[string]any{"reencoded": hex.EncodeToString(again)}
	if framed {
		out["messages"] = fields
	} else {
		out["message"] = fields[0]
	}
	return out, nil
}

// walk turns a parsed message into JSON: populated fields by their .proto name; enums as
// {enum, name}; bytes as {hex} plus the multiaddr (ma) and peer id (peer) go-libp2p reads from
// them when they are one; 64-bit integers as decimal strings; unknown fields under $unknown.
func walk(m protoreflect.Message) map[string]any {
	out := map[string]any{}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.IsList() {
			l := v.List()
			arr := make([]any, l.Len())
			for i := range arr {
				arr[i] = scalar(fd, l.Get(i))
			}
			out[string(fd.Name())] = arr
		} else {
			out[string(fd.Name())] = scalar(fd, v)
		}
		return true
	})
	if u := m.GetUnknown(); len(u) > 0 {
		out["$unknown"] = hex.EncodeToString(u)
	}
	return out
}

func scalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return walk(v.Message())
	case protoreflect.EnumKind:
		n := v.Enum()
		name := ""
		if ev := fd.Enum().Values().ByNumber(n); ev != nil {
			name = string(ev.Name())
		}
		return map[string]any{"enum": int(n), "name": name}
	case protoreflect.BytesKind:
		b := v.Bytes()
		o := map[string]any{"hex": hex.EncodeToString(b)}
		if a, err := ma.NewMultiaddrBytes(b); err == nil && len(b) > 0 {
			o["ma"] = a.String()
		}
		if id, err := peer.IDFromBytes(b); err == nil {
			o["peer"] = id.String()
		}
		return o
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.FormatUint(v.Uint(), 10)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.FormatInt(v.Int(), 10)
	}
	return v.Interface()
}
