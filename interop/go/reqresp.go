package main

// Scenario request-response (../CONTRACT.md, section request-response). go-libp2p has no
// request-response framework, so this speaks rust-libp2p's stream format by hand: one stream per
// request; the requester writes the request, CloseWrite, reads the response to EOF; the responder
// reads the request to EOF (io.LimitReader at 1 MiB + 1: past 1 MiB it resets the stream), writes
// the response and closes, or closes with no bytes to omit it. CBOR with fxamacker/cbor (payload a
// byte string), JSON with encoding/json (payload an array of numbers, as serde_json writes a
// serde_bytes field; encoding/json's own []byte form would be base64 text).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/redis/go-redis/v9"
)

const (
	rrCbor        = protocol.ID("/weft-interop/rr/cbor/1.0.0")
	rrJSON        = protocol.ID("/weft-interop/rr/json/1.0.0")
	rrMaxRequest  = 1 << 20  // rust's request_size_maximum
	rrMaxResponse = 10 << 20 // rust's response_size_maximum
	rrTimeout     = 10 * time.Second
	rrShort       = 2 * time.Second // the dialer's timeout in sub-check (d)
	rrDelayMs     = 4000
	rrConcurrent  = 64

	idACbor    = uint64(1<<40 + 1)
	idAJSON    = uint64(1<<40 + 2)
	idB0       = uint64(1000)
	idOversize = uint64(2000)
	idAfter    = uint64(2001)
	idDelay    = uint64(3000)
	idOmitCbor = uint64(4000)
	idOmitJSON = uint64(4001)
)

type rrReq struct {
	ID      uint64 `cbor:"id"`
	Payload []byte `cbor:"payload"`
	DelayMs uint32 `cbor:"delay_ms"`
	RespLen uint32 `cbor:"resp_len"`
	Omit    bool   `cbor:"omit"`
}

type rrResp struct {
	ID      uint64 `cbor:"id"`
	Payload []byte `cbor:"payload"`
}

// JSON forms: payload as an array of numbers.
type rrReqJSON struct {
	ID      uint64   `json:"id"`
	Payload []uint16 `json:"payload"`
	DelayMs uint32   `json:"delay_ms"`
	RespLen uint32   `json:"resp_len"`
	Omit    bool     `json:"omit"`
}

type rrRespJSON struct {
	ID      uint64   `json:"id"`
	Payload []uint16 `json:"payload"`
}

func toNums(b []byte) []uint16 {
	n := make([]uint16, len(b))
	for i, x := range b {
		n[i] = uint16(x)
	}
	return n
}

func fromNums(n []uint16) ([]byte, error) {
	b := make([]byte, len(n))
	for i, x := range n {
		if x > 255 {
			return nil, fmt.Errorf("payload[%d] = %d is not a byte", i, x)
		}
		b[i] = byte(x)
	}
	return b, nil
}

func encodeReq(proto protocol.ID, r rrReq) ([]byte, error) {
	if proto == rrJSON {
		return json.Marshal(rrReqJSON{r.ID, toNums(r.Payload), r.DelayMs, r.RespLen, r.Omit})
	}
	return cbor.Marshal(r)
}

func decodeReq(proto protocol.ID, b []byte) (rrReq, error) {
	if proto == rrJSON {
		var j rrReqJSON
		if err := json.Unmarshal(b, &j); err != nil {
			return rrReq{}, err
		}
		p, err := fromNums(j.Payload)
		return rrReq{j.ID, p, j.DelayMs, j.RespLen, j.Omit}, err
	}
	var r rrReq
	err := cbor.Unmarshal(b, &r)
	return r, err
}

func encodeResp(proto protocol.ID, r rrResp) ([]byte, error) {
	if proto == rrJSON {
		return json.Marshal(rrRespJSON{r.ID, toNums(r.Payload)})
	}
	return cbor.Marshal(r)
}

func decodeResp(proto protocol.ID, b []byte) (rrResp, error) {
	if proto == rrJSON {
		var j rrRespJSON
		if err := json.Unmarshal(b, &j); err != nil {
			return rrResp{}, err
		}
		p, err := fromNums(j.Payload)
		return rrResp{j.ID, p}, err
	}
	var r rrResp
	err := cbor.Unmarshal(b, &r)
	return r, err
}

// rrReqPayload: byte j = (id + j) & 0xff. Never nil: fxamacker encodes a nil slice as CBOR null.
func rrReqPayload(id uint64, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte((id + uint64(j)) & 0xff)
	}
	return b
}

func rrRespPayload(n uint32) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(j & 0xff)
	}
	return b
}

func rrNormal(id uint64, respLen uint32) rrReq {
	return rrReq{ID: id, Payload: rrReqPayload(id, 16), RespLen: respLen}
}

// runReqResp runs the scenario on the host and Redis interop() made (main.go).
func runReqResp(ctx context.Context, cfg config, h host.Host, rdb *redis.Client) int {
	// Any transport and secure channel main.go built the host with (tcp or quic-v1: run.mjs SCENARIO_SCOPE).
	if cfg.isDialer {
		if err := rrDialer(ctx, cfg, h, rdb); err != nil {
			fail("request-response: %v", err)
		}
		return 0
	}
	rrListener(ctx, h, rdb)
	return 0
}

// ---- listener ---------------------------------------------------------------------------------

type rrServed struct {
	mu       sync.Mutex
	sent     map[uint64]bool
	omitted  map[uint64]bool
	delayed  bool
	oversize int
	once     sync.Once
	rdb      *redis.Client
}

func (s *rrServed) push(err error) {
	s.once.Do(func() { pushListenerResult(s.rdb, err) })
}

func (s *rrServed) summary() string {
	return fmt.Sprintf("%d of %d responses sent, omissions %d, delayed request %v, oversize failures %d",
		len(s.sent), rrConcurrent+3, len(s.omitted), s.delayed, s.oversize)
}

// check pushes ok once everything expected happened; call with mu held.
func (s *rrServed) check() {
	want := []uint64{idACbor, idAJSON, idAfter}
	for i := uint64(0); i < rrConcurrent; i++ {
		want = append(want, idB0+i)
	}
	for _, id := range want {
		if !s.sent[id] {
			return
		}
	}
	if s.omitted[idOmitCbor] && s.omitted[idOmitJSON] && s.delayed && s.oversize >= 1 {
		go s.push(nil)
	}
}

func rrListener(ctx context.Context, h host.Host, rdb *redis.Client) {
	st := &rrServed{sent: map[uint64]bool{}, omitted: map[uint64]bool{}, rdb: rdb}
	for _, proto := range []protocol.ID{rrCbor, rrJSON} {
		proto := proto
		h.SetStreamHandler(proto, func(s network.Stream) { rrServe(proto, s, st) })
	}
	var first atomic.Bool
	h.Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		if first.Swap(true) {
			return
		}
		time.AfterFunc(60*time.Second, func() {
			st.mu.Lock()
			msg := st.summary()
			st.mu.Unlock()
			st.push(fmt.Errorf("after 60 s: %s", msg))
		})
	}})
	log.Printf("listening; published %s", publishListenerAddr(ctx, h, rdb))
	select {}
}

func rrServe(proto protocol.ID, s network.Stream, st *rrServed) {
	_ = s.SetDeadline(time.Now().Add(rrTimeout))
	data, err := io.ReadAll(io.LimitReader(s, rrMaxRequest+1))
	if err != nil {
		s.Reset()
		log.Printf("%s: reading the request: %v", proto, err)
		return
	}
	if len(data) > rrMaxRequest {
		s.Reset()
		log.Printf("%s: request over %d bytes: stream reset (the oversize request)", proto, rrMaxRequest)
		st.mu.Lock()
		st.oversize++
		st.check()
		st.mu.Unlock()
		return
	}
	req, err := decodeReq(proto, data)
	if err != nil {
		s.Reset()
		st.push(fmt.Errorf("%s: request does not decode: %v", proto, err))
		return
	}
	if !bytes.Equal(req.Payload, rrReqPayload(req.ID, 16)) {
		s.Reset()
		st.push(fmt.Errorf("request %d: payload (%d bytes) is not the 16-byte pattern", req.ID, len(req.Payload)))
		return
	}
	if req.Omit {
		log.Printf("request %d: omit (close without a byte)", req.ID)
		s.Close()
		st.mu.Lock()
		st.omitted[req.ID] = true
		st.check()
		st.mu.Unlock()
		return
	}
	if req.DelayMs > 0 {
		log.Printf("request %d: answering after %d ms", req.ID, req.DelayMs)
		st.mu.Lock()
		st.delayed = true
		st.mu.Unlock()
		time.Sleep(time.Duration(req.DelayMs) * time.Millisecond)
	}
	b, err := encodeResp(proto, rrResp{ID: req.ID, Payload: rrRespPayload(req.RespLen)})
	if err == nil {
		_, err = s.Write(b)
	}
	if err == nil {
		err = s.Close()
	}
	if err != nil {
		s.Reset()
		log.Printf("request %d: writing the response: %v", req.ID, err)
		return
	}
	if req.ID != idDelay {
		st.mu.Lock()
		st.sent[req.ID] = true
		st.check()
		st.mu.Unlock()
	}
}

// ---- dialer -----------------------------------------------------------------------------------

var errNoResponse = errors.New("no response (EOF with zero bytes)")

// rrRequest: one exchange; the error is errNoResponse, os.ErrDeadlineExceeded (timeout), a stream
// reset (isStreamReset) or another failure.
func rrRequest(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, req rrReq, timeout time.Duration) (rrResp, error) {
	s, err := h.NewStream(ctx, p, proto)
	if err != nil {
		return rrResp{}, fmt.Errorf("new stream: %w", err)
	}
	_ = s.SetDeadline(time.Now().Add(timeout))
	b, err := encodeReq(proto, req)
	if err != nil {
		s.Reset()
		return rrResp{}, err
	}
	if _, err := s.Write(b); err != nil {
		s.Reset()
		return rrResp{}, fmt.Errorf("write: %w", err)
	}
	if err := s.CloseWrite(); err != nil {
		s.Reset()
		return rrResp{}, fmt.Errorf("close write: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(s, rrMaxResponse+1))
	if err != nil {
		s.Reset()
		return rrResp{}, fmt.Errorf("read: %w", err)
	}
	if len(data) > rrMaxResponse {
		s.Reset()
		return rrResp{}, fmt.Errorf("response over %d bytes", rrMaxResponse)
	}
	s.Close()
	if len(data) == 0 {
		return rrResp{}, errNoResponse
	}
	return decodeResp(proto, data)
}

func rrKind(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, errNoResponse):
		return "no-response"
	case errors.Is(err, os.ErrDeadlineExceeded), isNetTimeout(err):
		return "timeout"
	case isStreamReset(err):
		return "reset"
	}
	return "other"
}

// isNetTimeout: go-yamux reports a passed stream deadline as its own ErrTimeout ("i/o deadline
// reached"), a net.Error with Timeout() true, not os.ErrDeadlineExceeded.
func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func rrDialer(ctx context.Context, cfg config, h host.Host, rdb *redis.Client) error {
	res, err := rdb.BLPop(ctx, cfg.timeout, "listenerAddr").Result()
	if err != nil {
		return fmt.Errorf("BLPOP listenerAddr: %w", err)
	}
	ai, _ := mustPeerFromAddr(res[1])
	var closed atomic.Bool
	h.Network().Notify(&network.NotifyBundle{DisconnectedF: func(_ network.Network, c network.Conn) {
		log.Printf("connection to %s closed", c.RemotePeer())
		closed.Store(true)
	}})
	log.Printf("dialing %s", res[1])
	start := time.Now()
	if err := h.Connect(ctx, ai); err != nil {
		return fmt.Errorf("dial %s: %w", res[1], err)
	}
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	r, ok := <-ping.Ping(pctx, h, ai.ID)
	pcancel()
	if !ok || r.Error != nil {
		return fmt.Errorf("ping: %v", r.Error)
	}
	handshake := time.Since(start)
	log.Printf("handshake+1RTT %.3f ms, ping RTT %.3f ms", ms(handshake), ms(r.RTT))

	p := ai.ID
	expectOK := func(proto protocol.ID, req rrReq) error {
		resp, err := rrRequest(ctx, h, p, proto, req, rrTimeout)
		if err != nil {
			return fmt.Errorf("request %d (%s) failed: %s: %v", req.ID, proto, rrKind(err), err)
		}
		if resp.ID != req.ID {
			return fmt.Errorf("request %d (%s): response id %d", req.ID, proto, resp.ID)
		}
		if !bytes.Equal(resp.Payload, rrRespPayload(req.RespLen)) {
			return fmt.Errorf("request %d (%s): response payload (%d bytes) is not the %d-byte pattern", req.ID, proto, len(resp.Payload), req.RespLen)
		}
		return nil
	}
	expectFail := func(proto protocol.ID, req rrReq, timeout time.Duration, kinds ...string) error {
		resp, err := rrRequest(ctx, h, p, proto, req, timeout)
		want := strings.Join(kinds, " or ")
		if err == nil {
			return fmt.Errorf("request %d (%s): got a response (%d payload bytes), want %s", req.ID, proto, len(resp.Payload), want)
		}
		if !slices.Contains(kinds, rrKind(err)) {
			return fmt.Errorf("request %d (%s): failed with %s (%v), want %s", req.ID, proto, rrKind(err), err, want)
		}
		log.Printf("request %d (%s) failed as expected: %v", req.ID, proto, err)
		return nil
	}
	alive := func(step string) error {
		if closed.Load() {
			return fmt.Errorf("%s: the connection closed", step)
		}
		return nil
	}
	steps := []struct {
		name string
		run  func() error
	}{
		{"(a) one request per codec", func() error {
			if err := expectOK(rrCbor, rrNormal(idACbor, 100_000)); err != nil {
				return err
			}
			return expectOK(rrJSON, rrNormal(idAJSON, 10_000))
		}},
		{"(b) 64 concurrent", func() error {
			errs := make(chan error, rrConcurrent)
			for i := uint64(0); i < rrConcurrent; i++ {
				go func(i uint64) { errs <- expectOK(rrCbor, rrNormal(idB0+i, uint32(i*16))) }(i)
			}
			var first error
			for i := 0; i < rrConcurrent; i++ {
				if err := <-errs; err != nil && first == nil {
					first = err
				}
			}
			return first
		}},
		{"(c) oversize", func() error {
			big := rrNormal(idOversize, 10)
			big.Payload = rrReqPayload(idOversize, rrMaxRequest+1)
			// weft and go reset past the cap; rust reads 1 MiB, fails to decode it and closes
			// the stream without a byte (EOF, no response).
			if err := expectFail(rrCbor, big, rrTimeout, "reset", "no-response"); err != nil {
				return err
			}
			if err := expectOK(rrCbor, rrNormal(idAfter, 10)); err != nil {
				return err
			}
			return alive("(c) oversize")
		}},
		{"(d) timeout", func() error {
			slow := rrNormal(idDelay, 10)
			slow.DelayMs = rrDelayMs
			return expectFail(rrCbor, slow, rrShort, "timeout")
		}},
		{"(e) omit", func() error {
			for _, c := range []struct {
				proto protocol.ID
				id    uint64
			}{{rrCbor, idOmitCbor}, {rrJSON, idOmitJSON}} {
				req := rrNormal(c.id, 10)
				req.Omit = true
				if err := expectFail(c.proto, req, rrTimeout, "no-response"); err != nil {
					return err
				}
			}
			return alive("(e) omit")
		}},
	}
	for _, s := range steps {
		t := time.Now()
		if err := s.run(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		log.Printf("%s: ok in %s", s.name, time.Since(t).Round(time.Millisecond))
	}
	waitListenerResult(ctx, rdb, 10*time.Second)
	printDialerResult(handshake, r.RTT)
	return nil
}
