package onebot

// Fuzz targets for what a client controls in an action call: its params
// (Request.Decode into the shapes the bridge declares, and Router.Handle)
// and a whole forward-WS frame. Nothing a client sends may panic; every
// refusal is a 1400 with a message. The seed corpora live in
// testdata/fuzz/<target>/ and run with every go test; a crasher found by
// fuzzing belongs there as a regression seed.

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// Parameter structs shaped like the bridge's (bridge/actions_*.go): every
// field type and tag combination it uses.
type (
	fuzzSendParams struct {
		MessageType string          `json:"message_type"`
		UserID      *Int64          `json:"user_id"`
		GroupID     *Int64          `json:"group_id"`
		Message     json.RawMessage `json:"message" onebot:"required"`
		AutoEscape  Bool            `json:"auto_escape"`
	}
	fuzzMemberParams struct {
		GroupID  Int64  `json:"group_id" onebot:"required"`
		UserID   Int64  `json:"user_id" onebot:"required"`
		Duration *Int64 `json:"duration"`
		Card     String `json:"card"`
	}
	fuzzMessageID struct {
		MessageID Int32 `json:"message_id" onebot:"required"`
	}
	fuzzBatch struct {
		MessageIDs []Int32 `json:"message_ids" onebot:"required"`
		Targets    []struct {
			GroupID *Int64 `json:"group_id"`
			UserID  *Int64 `json:"user_id"`
		} `json:"targets"`
	}
	fuzzRequestParams struct {
		Flag    String `json:"flag" onebot:"required"`
		SubType string `json:"sub_type"`
		Approve *Bool  `json:"approve"`
	}
	fuzzEmbedded struct {
		fuzzMessageID
		Value String `json:"value" onebot:"required"`
		Odd   Int64  `json:"a.b*c" onebot:"required"` // a key gjson would read as a path
	}
)

// fuzzShapes makes a fresh value of each shape.
var fuzzShapes = map[string]func() any{
	"send":    func() any { return new(fuzzSendParams) },
	"member":  func() any { return new(fuzzMemberParams) },
	"id":      func() any { return new(fuzzMessageID) },
	"batch":   func() any { return new(fuzzBatch) },
	"request": func() any { return new(fuzzRequestParams) },
	"embed":   func() any { return new(fuzzEmbedded) },
	"map":     func() any { return new(map[string]any) },
}

// checkRefusal fails unless err is nil or a 1400 with a message.
func checkRefusal(t *testing.T, what string, params []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ae *ActionError
	if !errors.As(err, &ae) || ae.Retcode != RetcodeBadParams || ae.Msg == "" {
		t.Fatalf("%s: Decode(%q) = %#v; want nil or a 1400 with a message", what, params, err)
	}
}

// FuzzDecodeParams decodes arbitrary params into every shape.
func FuzzDecodeParams(f *testing.F) {
	f.Fuzz(func(t *testing.T, params []byte) {
		for name, mk := range fuzzShapes {
			checkRefusal(t, name, params, (&Request{Action: "x", Params: params}).Decode(mk()))
		}
	})
}

// fuzzRouter is a running Router whose actions decode into each shape;
// the fuzz process stops it when the target ends.
func fuzzRouter(f *testing.F) *Router {
	r := NewRouter(RouterOptions{Log: zap.NewNop(), RateLimitInterval: -1})
	for name, mk := range fuzzShapes {
		r.Register(name, func(_ context.Context, req *Request) (any, error) {
			v := mk()
			if err := req.Decode(v); err != nil {
				return nil, err
			}
			return v, nil
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.Run(ctx)
	}()
	f.Cleanup(func() {
		cancel()
		<-done
	})
	return r
}

// checkResponse fails on a response that only a bug gives: a recovered
// panic, a retcode outside the protocol's, or JSON that does not parse.
func checkResponse(t *testing.T, action string, params []byte, resp Response) {
	t.Helper()
	switch resp.Retcode {
	case RetcodeOK, RetcodeAsync, RetcodeBadParams, RetcodeUnknownAction:
	case RetcodeFailed:
		// Only the router's own limits, and a quick operation naming an
		// action the fuzz router lacks, may fail a call here.
		if !strings.Contains(resp.Message, "_async") && !strings.Contains(resp.Message, "queue full") &&
			!strings.HasPrefix(resp.Message, "quick operation failed") {
			t.Fatalf("Handle(%q, %q): %+v", action, params, resp)
		}
	default:
		t.Fatalf("Handle(%q, %q): retcode %d", action, params, resp.Retcode)
	}
	if resp.Retcode >= RetcodeBadParams && resp.Message == "" {
		t.Fatalf("Handle(%q, %q): %d without a message", action, params, resp.Retcode)
	}
	if out := resp.appendJSON(nil); !json.Valid(out) {
		t.Fatalf("Handle(%q, %q): response is not JSON: %q", action, params, out)
	}
}

// FuzzRouterHandle calls arbitrary actions (registered ones, their _async
// and _rate_limited forms, and anything else) with arbitrary params.
func FuzzRouterHandle(f *testing.F) {
	r := fuzzRouter(f)
	f.Fuzz(func(t *testing.T, action string, params []byte) {
		checkResponse(t, action, params, r.Handle(context.Background(), action, params))
	})
}

// FuzzWSFrame parses an arbitrary forward-WS frame as a connection does
// and runs the call it names.
func FuzzWSFrame(f *testing.F) {
	r := fuzzRouter(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		action, params, echo, perr := parseFrame(frame)
		var resp Response
		if perr != nil {
			if perr.Retcode != RetcodeBadParams || perr.Msg == "" {
				t.Fatalf("parseFrame(%q): %#v", frame, perr)
			}
			resp = failure(perr)
		} else {
			if action == "" {
				t.Fatalf("parseFrame(%q): no error and no action", frame)
			}
			resp = r.Handle(context.Background(), action, params)
			checkResponse(t, action, params, resp)
		}
		if echo != nil && !json.Valid(echo) {
			t.Fatalf("parseFrame(%q): echo %q is not JSON", frame, echo)
		}
		resp.Echo = echo
		if out := resp.appendJSON(nil); !json.Valid(out) {
			t.Fatalf("frame %q: response is not JSON: %q", frame, out)
		}
	})
}
