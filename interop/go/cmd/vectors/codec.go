package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"
	"github.com/miekg/dns"
)

// plain turns decoded CBOR/JSON into JSON-printable values: byte strings as "0x<hex>".
func plain(v any) any {
	switch x := v.(type) {
	case []byte:
		return "0x" + hex.EncodeToString(x)
	case map[string]any:
		o := map[string]any{}
		for k, e := range x {
			o[k] = plain(e)
		}
		return o
	case []any:
		o := make([]any, len(x))
		for i, e := range x {
			o[i] = plain(e)
		}
		return o
	}
	return v
}

// bytesBack is plain's inverse for re-encoding: "0x<hex>" strings become byte strings.
func bytesBack(v any) any {
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "0x") {
			if b, err := hex.DecodeString(x[2:]); err == nil {
				return b
			}
		}
	case map[string]any:
		o := map[string]any{}
		for k, e := range x {
			o[k] = bytesBack(e)
		}
		return o
	case []any:
		o := make([]any, len(x))
		for i, e := range x {
			o[i] = bytesBack(e)
		}
		return o
	case json.Number:
		if n, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return n
		}
	}
	return v
}

// cborCheck decodes with fxamacker/cbor and, when given a value, encodes it in RFC 8949 core
// deterministic form (sorted keys), the "canonical" encoding.
func cborCheck(raw []byte, value json.RawMessage) (any, error) {
	dm, err := cbor.DecOptions{DefaultMapType: reflect.TypeOf(map[string]any{})}.DecMode()
	if err != nil {
		return nil, err
	}
	var v any
	if err := dm.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	out := map[string]any{"value": plain(v)}
	if len(value) > 0 {
		d := json.NewDecoder(bytes.NewReader(value))
		d.UseNumber()
		var in any
		if err := d.Decode(&in); err != nil {
			return nil, err
		}
		em, err := cbor.CoreDetEncOptions().EncMode()
		if err != nil {
			return nil, err
		}
		b, err := em.Marshal(bytesBack(in))
		if err != nil {
			return nil, err
		}
		out["deterministic"] = hex.EncodeToString(b)
	}
	return out, nil
}

func jsonCheck(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return map[string]any{"value": v}, nil
}

// dnsCheck unpacks a DNS message with miekg/dns (the library under go-libp2p's mDNS, via zeroconf).
func dnsCheck(raw []byte) (any, error) {
	var m dns.Msg
	if err := m.Unpack(raw); err != nil {
		return nil, err
	}
	h := m.MsgHdr
	b := func(x bool, shift uint) int {
		if x {
			return 1 << shift
		}
		return 0
	}
	flags := b(h.Response, 15) | h.Opcode<<11 | b(h.Authoritative, 10) | b(h.Truncated, 9) | b(h.RecursionDesired, 8) |
		b(h.RecursionAvailable, 7) | b(h.Zero, 6) | b(h.AuthenticatedData, 5) | b(h.CheckingDisabled, 4) | (h.Rcode & 0xf)
	qs := []any{}
	for _, q := range m.Question {
		qs = append(qs, map[string]any{"name": name(q.Name), "type": int(q.Qtype), "class": int(q.Qclass & 0x7fff), "unicastResponse": q.Qclass&0x8000 != 0})
	}
	return map[string]any{"id": int(h.Id), "flags": flags, "questions": qs, "answers": rrs(m.Answer), "authorities": rrs(m.Ns), "additionals": rrs(m.Extra)}, nil
}

func name(n string) string { return strings.TrimSuffix(n, ".") }

func rrs(list []dns.RR) []any {
	out := []any{}
	for _, rr := range list {
		hd := rr.Header()
		o := map[string]any{"name": name(hd.Name), "class": int(hd.Class & 0x7fff), "cacheFlush": hd.Class&0x8000 != 0, "ttl": int(hd.Ttl), "type": dns.TypeToString[hd.Rrtype]}
		switch r := rr.(type) {
		case *dns.PTR:
			o["target"] = name(r.Ptr)
		case *dns.SRV:
			o["priority"], o["weight"], o["port"], o["target"] = int(r.Priority), int(r.Weight), int(r.Port), name(r.Target)
		case *dns.TXT:
			ss := make([]any, len(r.Txt))
			for i, s := range r.Txt {
				ss[i] = unescape(s)
			}
			o["strings"] = ss
		case *dns.A:
			o["address"] = hex.EncodeToString(r.A.To4())
		case *dns.AAAA:
			o["address"] = hex.EncodeToString(r.AAAA.To16())
		default:
			o["rr"] = rr.String()
		}
		out = append(out, o)
	}
	return out
}

// unescape undoes miekg/dns's presentation escaping of a TXT string (\DDD and \X) and returns
// {text} when the bytes are UTF-8, else {hex}.
func unescape(s string) map[string]string {
	var buf []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && isDigits(s[i+1:i+4]) {
			n, _ := strconv.Atoi(s[i+1 : i+4])
			buf = append(buf, byte(n))
			i += 3
		} else if s[i] == '\\' && i+1 < len(s) {
			buf = append(buf, s[i+1])
			i++
		} else {
			buf = append(buf, s[i])
		}
	}
	if bytes.ContainsRune(buf, 0xfffd) || !utf8Valid(buf) {
		return map[string]string{"hex": hex.EncodeToString(buf)}
	}
	return map[string]string{"text": string(buf)}
}

func isDigits(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
