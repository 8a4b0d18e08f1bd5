package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// Fault tests: the pipeline under a broken Yunhu, broken OneBot peers and
// a broken disk. Every wait is bounded (WaitTimeout); nothing asserts on
// how fast anything happened.

// inbox collects message events by the first word of their text, which
// names the stream; the second word is the message's number in it.
type inbox struct {
	mu      sync.Mutex
	streams map[string][]int
	total   atomic.Int64
}

func newInbox() *inbox { return &inbox{streams: map[string][]int{}} }

func (b *inbox) onEvent(raw []byte) {
	if !IsMessageEvent(raw) {
		return
	}
	stream, n, _ := strings.Cut(gjson.GetBytes(raw, "raw_message").Str, " ")
	i, err := strconv.Atoi(n)
	if err != nil {
		i = -1
	}
	b.mu.Lock()
	b.streams[stream] = append(b.streams[stream], i)
	b.mu.Unlock()
	b.total.Add(1)
}

func (b *inbox) stream(name string) []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.streams[name])
}

func (b *inbox) has(name string, i int) bool {
	return slices.Contains(b.stream(name), i)
}

// exactly reports how a stream differs from 0, 1, ..., n-1 received once
// each in order; "" if it does not.
func exactly(got []int, n int) string {
	if len(got) == n {
		ok := true
		for i, v := range got {
			if v != i {
				ok = false
				break
			}
		}
		if ok {
			return ""
		}
	}
	seen := map[int]int{}
	for _, v := range got {
		seen[v]++
	}
	var missing, dup []int
	for i := range n {
		switch seen[i] {
		case 0:
			missing = append(missing, i)
		case 1:
		default:
			dup = append(dup, i)
		}
	}
	outOfOrder := 0
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			outOfOrder++
		}
	}
	return "received " + strconv.Itoa(len(got)) + " of " + strconv.Itoa(n) +
		"; missing " + shortList(missing) + "; duplicated " + shortList(dup) +
		"; " + strconv.Itoa(outOfOrder) + " out of order"
}

func shortList(v []int) string {
	if len(v) > 20 {
		return fmtInts(v[:20]) + " … (" + strconv.Itoa(len(v)) + ")"
	}
	return fmtInts(v)
}

func fmtInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// TestPushSocketDropped drops the push socket 50 times during a steady
// stream of messages in four chats (two groups, two private chats): every
// message reaches the OneBot client exactly once, in order per chat; what
// was pushed while the socket was down comes from the backfill.
func TestPushSocketDropped(t *testing.T) {
	const drops = 50
	s := Start(t, Options{})
	in := newInbox()
	c, err := DialWS(s.WSURL+"/", in.onEvent)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	chats := []struct{ name, from, chat string }{
		{"owned", sim.AliceID, sim.GroupOwnedID},
		{"admin", sim.BobID, sim.GroupAdminID},
		{"alice", sim.AliceID, sim.SelfID},
		{"bob", sim.BobID, sim.SelfID},
	}

	stop := make(chan struct{})
	var sent atomic.Int64 // messages per chat
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			for _, ch := range chats {
				if _, err := s.Sim.Inject(sim.Message{From: ch.from, ChatID: ch.chat, Text: ch.name + " " + strconv.Itoa(i)}); err != nil {
					t.Errorf("inject: %v", err)
					return
				}
			}
			sent.Store(int64(i + 1))
			time.Sleep(time.Millisecond) // a steady stream, not a flood
		}
	}()

	logins := s.Sim.Logins(sim.SelfID)
	delivered := in.total.Load()
	for range drops {
		// Drop only a logged-in session that has delivered since the last
		// drop, so that every drop cuts a stream in progress.
		WaitFor(t, "a login and new events", func() bool {
			return s.Sim.Logins(sim.SelfID) >= logins && s.Sim.Online(sim.SelfID) == 1 && in.total.Load() >= delivered+4
		})
		if n := s.Sim.DropAll(); n == 0 {
			t.Fatal("DropAll closed no socket")
		}
		logins++
		delivered = in.total.Load()
	}
	close(stop)
	<-produced
	n := int(sent.Load())
	for _, ch := range chats {
		WaitFor(t, ch.name+"'s last message", func() bool { return in.has(ch.name, n-1) })
	}
	// A marker per chat, after which no late duplicate can be in flight.
	for _, ch := range chats {
		s.Inject(sim.Message{From: ch.from, ChatID: ch.chat, Text: ch.name + " " + strconv.Itoa(n)})
	}
	for _, ch := range chats {
		WaitFor(t, ch.name+"'s marker", func() bool { return in.has(ch.name, n) })
		if diff := exactly(in.stream(ch.name), n+1); diff != "" {
			t.Errorf("%s: %s", ch.name, diff)
		}
	}
	backfills := 0
	for _, r := range s.Sim.Requests() {
		if r.Path == yunhu.PathListMessage {
			backfills++
		}
	}
	if backfills == 0 {
		t.Error("no list-message request: the drops never needed a backfill, so the test proved nothing")
	}
	if got := s.Sim.Logins(sim.SelfID); got != drops+1 {
		t.Errorf("%d logins, want %d (one per drop, and the first)", got, drops+1)
	}
	t.Logf("%d messages in each of %d chats through %d drops; %d backfill pages read", n+1, len(chats), drops, backfills)
}

// TestYunhuRESTFailing makes the simulator answer send-message with HTTP
// 500 (on every retry), then hang: the action fails with retcode 100 and
// a message that says why, within the configured Yunhu timeout (the HTTP
// API's own timeout is a minute, so the test would take that long if the
// Yunhu timeout did not end the call); while a call hangs, the same
// WebSocket connection keeps answering; afterwards the pipeline works.
func TestYunhuRESTFailing(t *testing.T) {
	const yunhuTimeout = time.Second
	var sending atomic.Int32 // send-message requests the simulator is serving
	s := Start(t, Options{YunhuTimeout: yunhuTimeout, WrapSim: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == yunhu.PathSendMessage {
				sending.Add(1)
				defer sending.Add(-1)
			}
			h.ServeHTTP(w, r)
		})
	}})
	in := newInbox()
	c, err := DialWS(s.WSURL+"/", in.onEvent)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := `{"group_id":` + sim.GroupOwnedID + `,"message":"hello"}`

	t.Run("500", func(t *testing.T) {
		s.Sim.FailNext(3, http.StatusInternalServerError, yunhu.PathSendMessage) // the call and its 2 retries
		status, r := s.HTTP("send_group_msg", send)
		if status != http.StatusOK || r.Retcode != 100 || !strings.Contains(r.Message, "Internal Server Error") {
			t.Errorf("send_group_msg with Yunhu answering 500: HTTP %d %+v; want retcode 100 naming the failure", status, r)
		}
		s.Sim.FailNext(3, http.StatusInternalServerError, yunhu.PathGroupInfo)
		status, r = s.HTTP("get_group_info", `{"group_id":`+sim.GroupOwnedID+`,"no_cache":true}`)
		if status != http.StatusOK || r.Retcode != 100 || !strings.Contains(r.Message, "Internal Server Error") {
			t.Errorf("get_group_info with Yunhu answering 500: HTTP %d %+v", status, r)
		}
	})

	t.Run("hang", func(t *testing.T) {
		s.Sim.HangNext(1, yunhu.PathSendMessage)
		type result struct {
			raw     []byte
			err     error
			elapsed time.Duration
		}
		done := make(chan result, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
			defer cancel()
			start := time.Now()
			raw, err := c.Call(ctx, "send_group_msg", []byte(send))
			done <- result{raw, err, time.Since(start)}
		}()
		// The hung call does not hold the connection up.
		WaitFor(t, "the request to hang at the simulator", func() bool { return sending.Load() == 1 })
		raw, err := c.Call(context.Background(), "get_login_info", []byte(`{}`))
		if err != nil || gjson.GetBytes(raw, "retcode").Int() != 0 {
			t.Errorf("get_login_info beside a hung call: %s, %v", raw, err)
		}
		res := <-done
		if res.err != nil {
			t.Fatalf("hung send_group_msg: %v", res.err)
		}
		r, err := ParseReply(res.raw)
		if err != nil || r.Retcode != 100 || !(strings.Contains(r.Message, "deadline") || strings.Contains(r.Message, "timeout")) {
			t.Errorf("send_group_msg with Yunhu hanging: %s; want retcode 100 naming the timeout", res.raw)
		}
		t.Logf("the hung call failed after %v (yunhu.timeout %v): %s", res.elapsed.Round(time.Millisecond), yunhuTimeout, r.Message)
	})

	t.Run("healthy after", func(t *testing.T) {
		s.MustHTTP("send_group_msg", send)
		r := s.MustHTTP("get_status", `{}`)
		if !gjson.GetBytes(r.Data, "good").Bool() {
			t.Errorf("get_status after the faults: %s", r.Data)
		}
		s.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "after 0"})
		WaitFor(t, "an event after the faults", func() bool { return in.has("after", 0) })
	})
}

// TestReverseWSFlapping stops and restarts the framework a reverse
// WebSocket connects to, 20 times, with events published while it is
// down: the pipeline reconnects each time with one connection (never
// two), events published while it was down arrive after the reconnect,
// and a forward-WS client sees every event in order, unaffected. The
// framework stops cleanly (Framework.Stop): with the close handshake, the
// pipeline knows the connection is over before the next event, so none
// may be lost.
func TestReverseWSFlapping(t *testing.T) {
	const flaps = 20
	rev := newInbox()
	fw, err := NewFramework(rev.onEvent)
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	s := Start(t, Options{ReverseWS: fw.URL(), ReverseInterval: 10 * time.Millisecond})
	fwd := newInbox()
	c, err := DialWS(s.WSURL+"/", fwd.onEvent)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	WaitFor(t, "the reverse WebSocket to connect", func() bool { return fw.Live() == 1 })

	for i := range flaps {
		s.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "up " + strconv.Itoa(i)})
		WaitFor(t, "the event before the flap", func() bool { return rev.has("up", i) })
		fw.Stop()
		s.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "down " + strconv.Itoa(i)})
		WaitFor(t, "the forward client to get the event published while the framework is down", func() bool {
			return fwd.has("down", i)
		})
		if err := fw.Restart(); err != nil {
			t.Fatal(err)
		}
		WaitFor(t, "the reconnect and the event kept for it", func() bool { return rev.has("down", i) })
		if live := fw.Live(); live != 1 {
			t.Fatalf("flap %d: %d live connections, want 1", i, live)
		}
	}
	if got := fw.Accepted(); got != flaps+1 {
		t.Errorf("%d connections accepted, want %d (one per restart)", got, flaps+1)
	}
	for _, stream := range []string{"up", "down"} {
		if diff := exactly(fwd.stream(stream), flaps); diff != "" {
			t.Errorf("forward client, %q events: %s", stream, diff)
		}
		if diff := exactly(rev.stream(stream), flaps); diff != "" {
			t.Errorf("reverse WebSocket, %q events: %s", stream, diff)
		}
	}
}

// TestHTTPPostTargetsDown configures three webhooks, all broken (nothing
// listening, always 500, never answering): every event still reaches a
// forward-WS client in order, and actions keep working.
func TestHTTPPostTargetsDown(t *testing.T) {
	refused := closedPort(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer failing.Close()
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hanging.Close()
	defer close(release)

	s := Start(t, Options{
		Posts:       []string{"http://" + refused + "/", failing.URL + "/", hanging.URL + "/"},
		PostTimeout: 100 * time.Millisecond, PostRetries: 3,
	})
	in := newInbox()
	c, err := DialWS(s.WSURL+"/", in.onEvent)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 300
	for i := range n {
		s.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "m " + strconv.Itoa(i)})
	}
	WaitFor(t, "every event at the forward client", func() bool { return in.has("m", n-1) })
	if diff := exactly(in.stream("m"), n); diff != "" {
		t.Errorf("forward client: %s", diff)
	}
	s.MustHTTP("get_status", `{}`)
	s.MustHTTP("send_group_msg", `{"group_id":`+sim.GroupOwnedID+`,"message":"still here"}`)
}

// closedPort returns a loopback address nothing listens on for the rest
// of the test: the port stays reserved (see reservePort), so the kernel
// cannot hand it to another test's listener meanwhile.
func closedPort(t *testing.T) string {
	fd, addr, err := reservePort()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	return addr
}
