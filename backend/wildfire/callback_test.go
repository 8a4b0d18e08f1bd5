package wildfire

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wf "github.com/yunhu-onebot/yunhu-onebot/wildfire"
)

var tMsg = time.UnixMilli(1796196800123)

func TestCallbackDeliversMessagesInOrder(t *testing.T) {
	b := newBackend(t, newClient(), nil)
	s := newSink()
	url := running(t, b, s) + "/" + secret + "/message"
	bodies := [][]byte{
		callback(101, alice, convPrivate, robot, text("hello")),
		callback(102, bob, convGroup, g1, text("in the group")),
		callback(103, bob, 2, "room", text("a chatroom: nothing for OneBot, still 200")),
		callback(104, bob, convGroup, g1, wf.Payload{Type: typeTyping}),
		callback(bigUID, alice, convPrivate, robot, text("big")),
	}
	for _, body := range bodies {
		if code, msg := post(t, url, body); code != http.StatusOK {
			t.Fatalf("POST = %d %s", code, msg)
		}
	}
	want := []platform.Event{
		platform.Received{Message: platform.Message{Conv: platform.Conv{Kind: platform.KindPrivate, ID: alice}, ID: "101", Time: tMsg,
			Sender: platform.Sender{ID: alice}, Content: text("hello")}},
		platform.Received{Message: platform.Message{Conv: platform.Conv{Kind: platform.KindGroup, ID: g1}, ID: "102", Time: tMsg,
			Sender: platform.Sender{ID: bob}, Content: text("in the group")}},
		platform.Received{Message: platform.Message{Conv: platform.Conv{Kind: platform.KindPrivate, ID: alice}, ID: "9007199254740993", Time: tMsg,
			Sender: platform.Sender{ID: alice}, Content: text("big")}},
	}
	got := s.all()[1:] // after Online
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events:\n%#v\nwant\n%#v", got, want)
	}
}

func TestCallbackPrivatePeerIsTheSenderAndOwnMessagesTheTarget(t *testing.T) {
	b := newBackend(t, newClient(), nil)
	for _, c := range []struct {
		sender, target string
		want           string
		ok             bool
	}{
		{alice, robot, alice, true},
		{robot, bob, bob, true},
		{alice, bob, "", false}, // a server-wide forward between two others
	} {
		conv, ok := b.convOf(&wf.Message{Sender: c.sender, Conv: wf.Conversation{Type: convPrivate, Target: c.target}})
		if ok != c.ok || conv.ID != c.want || (ok && conv.Kind != platform.KindPrivate) {
			t.Errorf("%s → %s: conv %+v %v, want %q %v", c.sender, c.target, conv, ok, c.want, c.ok)
		}
	}
	if _, ok := b.convOf(&wf.Message{Sender: alice, Conv: wf.Conversation{Type: 2, Target: "room"}}); ok {
		t.Error("a chatroom message was given a conversation")
	}
}

func TestCallbackAnswersOnlyAfterDeliver(t *testing.T) {
	b := newBackend(t, newClient(), nil)
	s := newSink()
	s.entered, s.gate = make(chan []platform.Event, 1), make(chan error)
	url := running(t, b, s) + "/" + secret + "/message"
	answered := make(chan int, 1)
	go func() {
		code, _ := post(t, url, callback(7, alice, convPrivate, robot, text("x")))
		answered <- code
	}()
	batch := <-s.entered
	if len(batch) != 1 {
		t.Fatalf("batch = %#v", batch)
	}
	select {
	case code := <-answered:
		t.Fatalf("answered %d while Deliver was still running", code)
	default:
	}
	s.gate <- nil
	if code := <-answered; code != http.StatusOK {
		t.Errorf("after Deliver returned: %d, want 200", code)
	}

	// A Deliver that fails is answered 503.
	go func() {
		code, _ := post(t, url, callback(8, alice, convPrivate, robot, text("y")))
		answered <- code
	}()
	<-s.entered
	s.gate <- errors.New("disk full")
	if code := <-answered; code != http.StatusServiceUnavailable {
		t.Errorf("after a failed Deliver: %d, want 503", code)
	}
}

func TestCallbackUnavailableOutsideRun(t *testing.T) {
	b := newBackend(t, newClient(), nil)
	body := callback(9, alice, convPrivate, robot, text("early"))
	srv := httptestServer(t, b)
	if code, _ := post(t, srv+"/"+secret+"/message", body); code != http.StatusServiceUnavailable {
		t.Errorf("before Run: %d, want 503", code)
	}
	s := newSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, s) }()
	s.wait(t) // Online
	if code, _ := post(t, srv+"/"+secret+"/message", body); code != http.StatusOK {
		t.Errorf("while running: %d, want 200", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if code, _ := post(t, srv+"/"+secret+"/message", body); code != http.StatusServiceUnavailable {
		t.Errorf("after Run: %d, want 503", code)
	}
	for _, ev := range s.all() {
		if _, off := ev.(platform.Offline); off {
			t.Errorf("Offline reported: %#v", ev)
		}
	}
}

func TestCallbackRefusals(t *testing.T) {
	b := newBackend(t, newClient(), nil)
	s := newSink()
	base := running(t, b, s)
	good := callback(10, alice, convPrivate, robot, text("x"))
	for _, c := range []struct {
		name   string
		method string
		path   string
		body   string
		want   int
		says   string
	}{
		{"malformed", http.MethodPost, "/" + secret + "/message", `{"messageId":`, http.StatusBadRequest, "bad request"},
		{"wrong shape", http.MethodPost, "/" + secret + "/message", `[1,2]`, http.StatusBadRequest, "bad request"},
		{"too large", http.MethodPost, "/" + secret + "/message", `{"x":"` + strings.Repeat("a", maxCallbackBody) + `"}`, http.StatusBadRequest, "over"},
		{"malformed recall", http.MethodPost, "/" + secret + "/recall", `{}`, http.StatusBadRequest, "bad request"},
		{"wrong secret", http.MethodPost, "/wrong/message", string(good), http.StatusNotFound, ""},
		{"no secret", http.MethodPost, "/message", string(good), http.StatusNotFound, ""},
		{"unknown kind", http.MethodPost, "/" + secret + "/other", string(good), http.StatusNotFound, ""},
		{"GET", http.MethodGet, "/" + secret + "/message", "", http.StatusMethodNotAllowed, ""},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 512)
		n, _ := resp.Body.Read(buf)
		resp.Body.Close()
		if resp.StatusCode != c.want || !strings.Contains(string(buf[:n]), c.says) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, resp.StatusCode, buf[:n], c.want, c.says)
		}
	}
	if got := s.all(); len(got) != 1 {
		t.Errorf("refused callbacks delivered events: %#v", got[1:])
	}
}

func TestCallbackOutsideAllowListIsForbidden(t *testing.T) {
	b := newBackend(t, newClient(), func(o *Options) { o.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	s := newSink()
	base := running(t, b, s)
	if code, _ := post(t, base+"/"+secret+"/message", callback(11, alice, convPrivate, robot, text("x"))); code != http.StatusForbidden {
		t.Errorf("from 127.0.0.1 with allow 10/8: %d, want 403", code)
	}
	for _, c := range []struct {
		addr string
		want bool
	}{{"10.1.2.3:5", true}, {"[::ffff:10.1.2.3]:5", true}, {"11.0.0.1:5", false}, {"junk", false}} {
		if got := b.allowed(c.addr); got != c.want {
			t.Errorf("allowed(%s) = %v", c.addr, got)
		}
	}
	def := newBackend(t, newClient(), nil)
	for _, c := range []struct {
		addr string
		want bool
	}{{"127.0.0.1:5", true}, {"[::1]:5", true}, {"192.168.1.1:5", false}} {
		if got := def.allowed(c.addr); got != c.want {
			t.Errorf("default allow-list: allowed(%s) = %v, want %v", c.addr, got, c.want)
		}
	}
}

func TestCallbackRecalls(t *testing.T) {
	b := newBackend(t, newClient(), nil)
	s := newSink()
	base := running(t, b, s)
	// The server's rewrite of a recalled message: same messageId, type 80,
	// content the operator.
	rewritten := wf.Payload{Type: typeRecall, Content: bob, Base64edData: "OTAwNzE5OTI1NDc0MDk5Mw==", PushData: `{"messageUid":9007199254740993}`}
	if code, msg := post(t, base+"/"+secret+"/message", callback(bigUID, alice, convGroup, g1, rewritten)); code != http.StatusOK {
		t.Fatalf("POST = %d %s", code, msg)
	}
	want := platform.Recalled{Conv: platform.Conv{Kind: platform.KindGroup, ID: g1}, MsgID: "9007199254740993", Operator: bob, Sender: platform.Sender{ID: alice}}
	if got := s.wait(t); !reflect.DeepEqual(got, []platform.Event{want}) {
		t.Errorf("type 80: %#v\nwant %#v", got, want)
	}
	// The server-wide recall forward (OutputRecallMessageData).
	fwd := `{"message":` + string(callback(bigUID+1, alice, convPrivate, robot, text("oops"))) + `,"userId":"alice","timestamp":1796196900000,"isAdmin":false}`
	if code, msg := post(t, base+"/"+secret+"/recall", []byte(fwd)); code != http.StatusOK {
		t.Fatalf("POST recall = %d %s", code, msg)
	}
	want = platform.Recalled{Conv: platform.Conv{Kind: platform.KindPrivate, ID: alice}, MsgID: "9007199254740994", Operator: alice,
		Sender: platform.Sender{ID: alice}, Time: time.UnixMilli(1796196900000)}
	if got := s.wait(t); !reflect.DeepEqual(got, []platform.Event{want}) {
		t.Errorf("recall forward: %#v\nwant %#v", got, want)
	}
}

func TestCallbackGroupNotifications(t *testing.T) {
	b := newBackend(t, newClient(), nil)
	s := newSink()
	base := running(t, b, s) + "/" + secret + "/message"
	cases := []struct {
		p    wf.Payload
		want []platform.Event
	}{
		{notice(typeGroupAdd, groupNotification{G: g1, O: bob, Ms: []string{alice, "carol"}}), []platform.Event{
			platform.MemberJoined{GroupID: g1, UserID: alice, Operator: bob, Invited: true, Time: tMsg},
			platform.MemberJoined{GroupID: g1, UserID: "carol", Operator: bob, Invited: true, Time: tMsg}}},
		{notice(typeGroupKick, groupNotification{G: g1, O: bob, Ms: []string{alice}}), []platform.Event{
			platform.MemberLeft{GroupID: g1, UserID: alice, Operator: bob, Time: tMsg}}},
		{notice(typeGroupQuit, groupNotification{G: g1, O: alice}), []platform.Event{
			platform.MemberLeft{GroupID: g1, UserID: alice, Time: tMsg}}},
		{notice(typeGroupMute, groupNotification{G: g1, O: bob, N: "1"}), []platform.Event{
			platform.MemberMuted{GroupID: g1, Operator: bob, Duration: mutedIndefinitely, Time: tMsg}}},
		{notice(typeGroupMute, groupNotification{G: g1, O: bob, N: "0"}), []platform.Event{
			platform.MemberMuted{GroupID: g1, Operator: bob, Time: tMsg}}},
		{notice(typeGroupMuteMem, groupNotification{G: g1, O: bob, N: "1", Ms: []string{alice}}), []platform.Event{
			platform.MemberMuted{GroupID: g1, UserID: alice, Operator: bob, Duration: mutedIndefinitely, Time: tMsg}}},
		{notice(110, groupNotification{G: g1, O: bob, N: "new name"}), []platform.Event{platform.MembersChanged{GroupID: g1}}},
		{wf.Payload{Type: typeGroupKick, Base64edData: "%%%"}, []platform.Event{platform.MembersChanged{GroupID: g1}}},
	}
	for i, c := range cases {
		if code, msg := post(t, base, callback(int64(200+i), bob, convGroup, g1, c.p)); code != http.StatusOK {
			t.Fatalf("case %d: POST = %d %s", i, code, msg)
		}
		if got := s.wait(t); !reflect.DeepEqual(got, c.want) {
			t.Errorf("case %d (type %d):\n%#v\nwant\n%#v", i, c.p.Type, got, c.want)
		}
	}
	for _, ev := range s.all() {
		if _, ok := ev.(platform.Received); ok {
			t.Errorf("a group notification was delivered as a message: %#v", ev)
		}
	}
}

func TestCallbackSenderNamedFromLearntProfiles(t *testing.T) {
	c := newClient()
	c.users[alice] = wf.User{UserID: alice, DisplayName: "Alice"}
	kv := newKV()
	b := newBackend(t, c, func(o *Options) { o.KV = kv })
	if _, err := b.User(context.Background(), alice); err != nil {
		t.Fatal(err)
	}
	// A new backend over the same KV names her without asking.
	b2 := newBackend(t, newClient(), func(o *Options) { o.KV = kv })
	s := newSink()
	base := running(t, b2, s)
	post(t, base+"/"+secret+"/message", callback(300, alice, convPrivate, robot, text("hi")))
	got := s.wait(t)
	if r, ok := got[0].(platform.Received); !ok || r.Message.Sender.Name != "Alice" {
		t.Errorf("event = %#v, want the sender named Alice", got)
	}
}
