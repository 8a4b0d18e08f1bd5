package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// Hostile CQ strings over the HTTP API: up to a million unterminated
// codes, the shape that made the CQ parser quadratic (a minute of CPU for
// "[CQ:" a million times, and minutes more after the client had gone).
// Each must be answered as the code's rules say, and the daemon must be
// healthy after:
//
//   - kept as literal text (the default), a message whose stored form
//     fits the store's 1 MiB bound goes to Yunhu byte for byte;
//   - a larger one cannot be recorded, so nothing is sent and the
//     client gets retcode 100 saying so;
//   - with message.ignore-invalid-cqcode every code is dropped, nothing
//     is left to send: retcode 1400.

// hostileBody is a send_group_msg body whose message is unit repeated n
// times; the units used need no JSON escaping.
func hostileBody(unit string, n int) (body, msg string) {
	msg = strings.Repeat(unit, n)
	return `{"group_id":` + sim.GroupOwnedID + `,"message":"` + msg + `"}`, msg
}

func TestHostileCQOverHTTP(t *testing.T) {
	cases := []struct {
		unit string
		n    int
	}{
		{"[CQ:", 200_000},            // 800 KB of text: it fits
		{"[CQ:image,file=", 60_000},  // 900 KB
		{"[CQ:", 1 << 20},            // 4 MiB
		{"[CQ:image,file=", 1 << 20}, // 15 MiB
	}
	for _, drop := range []bool{false, true} {
		name := "kept as text"
		if drop {
			name = "ignore-invalid-cqcode"
		}
		t.Run(name, func(t *testing.T) {
			s := Start(t, Options{IgnoreInvalidCQCode: drop})
			for _, c := range cases {
				body, msg := hostileBody(c.unit, c.n)
				before := len(s.Sim.Sent())
				status, r := s.HTTP("send_group_msg", body)
				sent := s.Sim.Sent()
				switch {
				case drop:
					if status != http.StatusOK || r.Retcode != 1400 || !strings.Contains(r.Message, "nothing to send") {
						t.Errorf("%q x %d: HTTP %d %+v; want retcode 1400, nothing to send", c.unit, c.n, status, r)
					}
				case len(msg) < 1<<20-1<<10: // room for the JSON around the text
					if status != http.StatusOK || r.Retcode != 0 || !gjson.GetBytes(r.Data, "message_id").Exists() {
						t.Fatalf("%q x %d: HTTP %d %+v; want the text sent", c.unit, c.n, status, r)
					}
					if len(sent) != before+1 || sent[len(sent)-1].Request.GetContent().GetText() != msg {
						t.Errorf("%q x %d: Yunhu did not get the message as text (%d sends)", c.unit, c.n, len(sent)-before)
					}
					continue
				default:
					// Too large for one Yunhu message as recorded: refused
					// before anything is sent.
					if status != http.StatusOK || r.Retcode != 1400 || !strings.Contains(r.Message, "too large") {
						t.Errorf("%q x %d (%d bytes): HTTP %d %+v; want retcode 1400, too large", c.unit, c.n, len(msg), status, r)
					}
				}
				if len(sent) != before {
					t.Errorf("%q x %d: %d messages reached Yunhu, want none", c.unit, c.n, len(sent)-before)
				}
			}
			healthy(t, s)
		})
	}
}

// healthy checks that the daemon still sends and reports itself good.
func healthy(t *testing.T, s *Stack) {
	t.Helper()
	s.MustHTTP("send_group_msg", `{"group_id":`+sim.GroupOwnedID+`,"message":"still here [CQ:at,qq=`+sim.AliceID+`]"}`)
	if r := s.MustHTTP("get_status", `{}`); !gjson.GetBytes(r.Data, "good").Bool() {
		t.Errorf("get_status: %s", r.Data)
	}
}

// TestHostileCQClientGone posts a million unterminated codes and hangs up
// while the daemon is sending them on (the simulator holds the send-message
// call): the daemon must cancel its call to Yunhu and the handler's
// goroutine must end, rather than work on for a client that is gone. The
// same with the client staying but the action's timeout passing: the
// answer arrives, naming the timeout.
func TestHostileCQClientGone(t *testing.T) {
	var sending atomic.Int32 // send-message requests the simulator is serving
	start := func(httpTimeout time.Duration) *Stack {
		// The Yunhu timeout is longer than the test waits, so that only
		// the client or the action's own timeout can end the call.
		return Start(t, Options{HTTPTimeout: httpTimeout, YunhuTimeout: 2 * WaitTimeout, WrapSim: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == yunhu.PathSendMessage {
					// A hung call ends when its client goes, which
					// net/http notices only once the body is read.
					body, err := io.ReadAll(r.Body)
					if err != nil {
						return
					}
					r.Body = io.NopCloser(bytes.NewReader(body))
					// Counted only now: a call cancelled while its body
					// was still arriving never reaches the simulator, and
					// so never takes the hang HangNext armed, which the
					// next send would then take instead.
					sending.Add(1)
					defer sending.Add(-1)
				}
				h.ServeHTTP(w, r)
			})
		}})
	}
	// As large as can be recorded and sent (see TestHostileCQOverHTTP).
	body, _ := hostileBody("[CQ:image,file=", 60_000)
	// A client of its own, so that its connection dies with the request.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()

	t.Run("client gone", func(t *testing.T) {
		s := start(0) // the daemon's default, a minute
		s.Sim.HangNext(1, yunhu.PathSendMessage)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.HTTPURL+"/send_group_msg", strings.NewReader(body))
			if err == nil {
				req.Header.Set("Content-Type", "application/json")
				var resp *http.Response
				if resp, err = client.Do(req); err == nil {
					resp.Body.Close()
				}
			}
			done <- err
		}()
		// The message is parsed and on its way to Yunhu, which holds it.
		WaitFor(t, "the send to hang at the simulator", func() bool { return sending.Load() == 1 && handlerRunning() })
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("the request ended with %v, want it cancelled", err)
		}
		// The daemon gives up its call to Yunhu, and the handler ends.
		WaitFor(t, "the daemon to cancel its call to Yunhu", func() bool { return sending.Load() == 0 })
		WaitFor(t, "the handler's goroutine to end", func() bool { return !handlerRunning() })
		healthy(t, s)
	})

	t.Run("timeout", func(t *testing.T) {
		// Any timeout does: the simulator holds the call until it ends.
		s := start(2 * time.Second)
		s.Sim.HangNext(1, yunhu.PathSendMessage)
		status, r := s.HTTP("send_group_msg", body)
		if status != http.StatusOK || r.Retcode != 100 || !(strings.Contains(r.Message, "deadline") || strings.Contains(r.Message, "timeout")) {
			t.Errorf("send_group_msg past its timeout: HTTP %d %+v; want retcode 100 naming the timeout", status, r)
		}
		WaitFor(t, "the daemon to cancel its call to Yunhu", func() bool { return sending.Load() == 0 })
		WaitFor(t, "the handler's goroutine to end", func() bool { return !handlerRunning() })
		healthy(t, s)
	})
}

// handlerRunning reports whether any goroutine is inside the bridge's
// send action: the handler of a send_*_msg request.
func handlerRunning() bool {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Contains(string(buf[:n]), "bridge.(*Bridge).send(")
		}
		buf = make([]byte, 2*len(buf))
	}
}
