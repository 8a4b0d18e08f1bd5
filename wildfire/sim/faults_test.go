package sim

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestFailNext(t *testing.T) {
	e := newEnv(t, Options{})
	e.world(nil, nil)
	e.s.FailNext(2, "/robot/message/send", 249)
	body := `{"conv":{"type":0,"target":"alice","line":0},"payload":{"type":1,"searchableContent":"x"}}`
	for i := 0; i < 2; i++ {
		wantBody(t, "failed send", e.robotCall("/robot/message/send", body).body, `{"code":249,"msg":"timeout"}`)
	}
	if code, _, _ := e.robotCall("/robot/message/send", body).env(t); code != 0 {
		t.Fatalf("third send: code %d", code)
	}
	if n := len(e.s.Messages(Conversation{Type: 0, Target: "alice"})); n != 1 {
		t.Fatalf("%d messages stored, want 1: a failed call does nothing", n)
	}
	e.s.FailNextHTTP(1, "/admin/message/recall", http.StatusBadGateway)
	r := e.adminCall("/admin/message/recall", `{"operator":"a","messageUid":1}`)
	if r.status != http.StatusBadGateway || len(r.body) != 0 {
		t.Fatalf("HTTP %d %q, want 502 and no body", r.status, r.body)
	}
	// Other paths are unaffected.
	e.s.FailNext(1, "/robot/profile", 4)
	if code, _, _ := e.robotCall("/robot/get_callback", "").env(t); code != 0 {
		t.Fatalf("get_callback: code %d", code)
	}
}

func TestCallbackFailuresAreRecordedNotRetried(t *testing.T) {
	e := newEnv(t, Options{})
	k := newSink(t)
	k.status = http.StatusServiceUnavailable
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close() // nothing listens there any more
	e.world(k, nil)
	e.s.SetRobotCallback("bot2", downURL+"/cb")
	if _, err := e.s.Say("alice", Conversation{Type: 1, Target: "g1"}, textPayload("x")); err != nil {
		t.Fatal(err)
	}
	cbs := waitCallbacks(t, e.s, 2)
	for _, c := range cbs {
		switch c.Robot {
		case "bot1":
			if c.Status != http.StatusServiceUnavailable || c.Err != "" {
				t.Errorf("bot1: status %d err %q", c.Status, c.Err)
			}
		case "bot2":
			if c.Status != 0 || c.Err == "" {
				t.Errorf("bot2 (down): status %d err %q", c.Status, c.Err)
			}
		}
	}
	if got := len(k.received()); got != 1 {
		t.Fatalf("the 503 target got %d posts, want 1 (no retry)", got)
	}
	if n := len(e.s.Callbacks()); n != 2 {
		t.Fatalf("%d callback records, want 2", n)
	}
}

func TestCloseAbortsASlowCallbackAndQueueOverflowIsRecorded(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // lets the server notice the client leaving
		select {
		case arrived <- struct{}{}:
		default:
		}
		// Hold the post until the client gives up (or the test ends).
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) }) // runs before slow.Close
	e := newEnv(t, Options{CallbackQueue: 1})
	e.world(nil, nil)
	e.s.SetRobotCallback("bot1", slow.URL)
	for i := 0; i < 3; i++ {
		if _, err := e.s.Say("alice", Conversation{Type: 0, Target: "bot1"}, textPayload("x")); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			select {
			case <-arrived:
			case <-time.After(10 * time.Second):
				t.Fatal("the first post never arrived")
			}
		}
	}
	// One post in flight, one queued, the third dropped.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cbs, err := e.s.WaitCallbacks(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(cbs) != 1 || cbs[0].Seq != 3 || cbs[0].Err != "callback queue full" {
		t.Fatalf("finished %+v, want the third dropped", cbs)
	}
	e.s.Close() // must not wait for the slow target
	all := e.s.Callbacks()
	if len(all) != 3 {
		t.Fatalf("%d records", len(all))
	}
	for _, c := range all {
		if !c.Done || c.Status != 0 || c.Err == "" {
			t.Errorf("after Close: %+v", c)
		}
	}
	r := e.robotCall("/robot/get_callback", "")
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("after Close: HTTP %d, want 503", r.status)
	}
}

func TestCallbackRecordsAreBounded(t *testing.T) {
	e := newEnv(t, Options{MaxCallbackRecords: 2})
	k := newSink(t)
	e.world(k, nil)
	for i := 0; i < 5; i++ {
		if _, err := e.s.Say("alice", Conversation{Type: 0, Target: "bot1"}, textPayload("x")); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.s.waitFor(ctx, func() bool { return e.s.cbDone == 2 }); err != nil {
		t.Fatal(err)
	}
	if n := len(k.received()); n != 5 {
		t.Fatalf("target got %d posts, want 5", n)
	}
	cbs := e.s.Callbacks()
	if len(cbs) != 2 || cbs[0].Seq != 4 || cbs[1].Seq != 5 {
		t.Fatalf("kept %+v", cbs)
	}
}
