package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/libp2p/go-yamux/v5"
)

// yamuxArgs script one go-yamux session (go-libp2p's muxer) over an in-memory pipe: the checker
// feeds `in` (the vector's inbound frames) and records every byte go writes.
type yamuxArgs struct {
	Role   string `json:"role"`   // client (odd stream ids) or server
	Opens  int    `json:"opens"`  // streams go opens first
	In     string `json:"in"`     // bytes fed to go after opening
	Action string `json:"action"` // none | go-away | close-with-error | reset | close-write | accept | accept-write | accept-write-close | read | receive
	Code   uint32 `json:"code"`
	Write  string `json:"write"`
	Read   int    `json:"read"` // bytes to read from the last stream go opened (action read)
}

// settle: a pause for go to act on what it was fed (go-yamux reads and writes from goroutines).
const settle = 150 * time.Millisecond

// quiet waits until go has written nothing new for 250 ms (at most 5 s): its send loop has flushed.
func quiet(mu *sync.Mutex, out *[]byte) {
	last, still := -1, 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && still < 5; {
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		n := len(*out)
		mu.Unlock()
		if n == last {
			still++
		} else {
			last, still = n, 0
		}
	}
}

func yamuxCheck(raw json.RawMessage) (any, error) {
	var a yamuxArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, err
	}
	in, err := hex.DecodeString(a.In)
	if err != nil {
		return nil, err
	}
	goSide, us := net.Pipe()
	var mu sync.Mutex
	var out []byte
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := us.Read(buf)
			mu.Lock()
			out = append(out, buf[:n]...)
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	cfg := yamux.DefaultConfig()
	cfg.EnableKeepAlive = false
	cfg.LogOutput = io.Discard
	var s *yamux.Session
	if a.Role == "server" {
		s, err = yamux.Server(goSide, cfg, nil)
	} else {
		s, err = yamux.Client(goSide, cfg, nil)
	}
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var streams []*yamux.Stream
	for i := 0; i < a.Opens; i++ {
		st, err := s.OpenStream(ctx)
		if err != nil {
			return nil, err
		}
		streams = append(streams, st)
	}
	if len(in) > 0 {
		if _, err := us.Write(in); err != nil {
			return nil, err
		}
	}
	result := map[string]any{}
	switch a.Action {
	case "none": // go answers what it was fed (a Ping) on its own
	case "go-away":
		err = s.GoAway()
	case "close-with-error":
		err = s.CloseWithError(a.Code)
	case "reset": // the last stream go opened, or the one it accepts
		st, e := lastOrAccept(s, streams)
		if e != nil {
			return nil, e
		}
		err = st.ResetWithError(a.Code)
	case "close-write":
		st, e := lastOrAccept(s, streams)
		if e != nil {
			return nil, e
		}
		err = st.CloseWrite()
	case "accept", "accept-write", "accept-write-close":
		st, e := lastOrAccept(s, streams)
		if e != nil {
			return nil, e
		}
		if a.Action != "accept" {
			data, _ := hex.DecodeString(a.Write)
			if _, err = st.Write(data); err == nil && a.Action == "accept-write-close" {
				err = st.CloseWrite()
			}
		}
	case "read":
		st, e := lastOrAccept(s, streams)
		if e != nil {
			return nil, e
		}
		_ = st.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = io.ReadFull(st, make([]byte, a.Read))
	case "receive": // what each stream's read reports, or what accepting reports (a Go Away)
		codes := []any{}
		for _, st := range streams {
			_ = st.SetReadDeadline(time.Now().Add(time.Second))
			_, e := st.Read(make([]byte, 1))
			codes = append(codes, streamErr(e))
		}
		result["streams"] = codes
		if len(streams) == 0 {
			time.Sleep(settle)
			_, e := s.AcceptStream()
			result["accept"] = streamErr(e)
		}
	default:
		return nil, fmt.Errorf("unknown yamux action %q", a.Action)
	}
	if err != nil {
		return nil, err
	}
	quiet(&mu, &out)
	mu.Lock()
	result["out"] = hex.EncodeToString(out)
	mu.Unlock()
	_ = s.Close()
	_ = us.Close()
	<-done
	return result, nil
}

func lastOrAccept(s *yamux.Session, opened []*yamux.Stream) (*yamux.Stream, error) {
	if len(opened) > 0 {
		return opened[len(opened)-1], nil
	}
	return s.AcceptStream()
}

// streamErr names a read or accept error: a reset with its code, a Go Away with its code, EOF.
func streamErr(e error) map[string]any {
	var se *yamux.StreamError
	var ga *yamux.GoAwayError
	switch {
	case e == nil:
		return map[string]any{"kind": "data"}
	case errors.As(e, &se):
		return map[string]any{"kind": "reset", "code": se.ErrorCode, "remote": se.Remote}
	case errors.As(e, &ga):
		return map[string]any{"kind": "go-away", "code": ga.ErrorCode, "remote": ga.Remote}
	case errors.Is(e, yamux.ErrStreamReset):
		return map[string]any{"kind": "reset", "code": 0}
	case errors.Is(e, io.EOF):
		return map[string]any{"kind": "eof"}
	}
	return map[string]any{"kind": "error", "error": e.Error()}
}
