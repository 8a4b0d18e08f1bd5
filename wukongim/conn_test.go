package wukongim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// wait bounds every wait of these tests; nothing here takes near as long.
const wait = 10 * time.Second

// loadFrames reads testdata/ws.txt: name → (direction, frame).
func loadFrames(t *testing.T) map[string][2]string {
	t.Helper()
	raw, err := os.ReadFile("testdata/ws.txt")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]string{}
	for _, l := range strings.Split(string(raw), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.SplitN(l, " ", 3)
		if len(f) != 3 || (f[1] != ">>>" && f[1] != "<<<") {
			t.Fatalf("bad frame line %q", l)
		}
		out[f[0]] = [2]string{f[1], f[2]}
	}
	return out
}

var (
	reID        = regexp.MustCompile(`"id":"[^"]*"`)
	reTimestamp = regexp.MustCompile(`"clientTimestamp":[0-9]+`)
)

// normalize blanks what differs from run to run: string request ids (a
// numeric id would not match and so fails the comparison) and the connect
// clientTimestamp.
func normalize(frame string) string {
	return reTimestamp.ReplaceAllString(reID.ReplaceAllString(frame, `"id":"?"`), `"clientTimestamp":0`)
}

// wsServer is a WebSocket server scripted, frame by frame, from the
// transcript.
type wsServer struct {
	t      *testing.T
	url    string
	frames map[string][2]string
	conns  chan *peer

	mu    sync.Mutex
	peers []*websocket.Conn
}

func newWSServer(t *testing.T) *wsServer {
	s := &wsServer{t: t, frames: loadFrames(t), conns: make(chan *peer, 16)}
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.peers = append(s.peers, ws)
		s.mu.Unlock()
		s.conns <- &peer{s: s, ws: ws}
	}))
	s.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	t.Cleanup(func() {
		srv.Close()
		s.mu.Lock()
		for _, ws := range s.peers {
			ws.Close()
		}
		s.mu.Unlock()
	})
	return s
}

// accept waits for the client's next connection.
func (s *wsServer) accept() *peer {
	s.t.Helper()
	select {
	case p := <-s.conns:
		return p
	case <-time.After(wait):
		s.t.Fatal("no connection")
		return nil
	}
}

// noConn checks no further connection has been made so far.
func (s *wsServer) noConn() {
	s.t.Helper()
	select {
	case <-s.conns:
		s.t.Fatal("unexpected reconnect")
	default:
	}
}

func (s *wsServer) frame(name, dir string) string {
	s.t.Helper()
	f, ok := s.frames[name]
	if !ok || f[0] != dir {
		s.t.Fatalf("no %s frame %s", dir, name)
	}
	return f[1]
}

// peer is the server side of one connection.
type peer struct {
	s  *wsServer
	ws *websocket.Conn
}

// next reads the client's next frame, which must be a text frame.
func (p *peer) next() string {
	p.s.t.Helper()
	_ = p.ws.SetReadDeadline(time.Now().Add(wait))
	typ, data, err := p.ws.ReadMessage()
	if err != nil {
		p.s.t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage {
		p.s.t.Fatalf("frame type %d", typ)
	}
	return string(data)
}

// expect reads the client's next frame, checks it is the transcript's frame
// name, and returns its id.
func (p *peer) expect(name string) string {
	p.s.t.Helper()
	want := p.s.frame(name, ">>>")
	got := p.next()
	if normalize(got) != normalize(want) {
		p.s.t.Fatalf("client frame\n got %s\nwant %s", got, want)
	}
	var f struct{ ID string }
	_ = json.Unmarshal([]byte(got), &f)
	return f.ID
}

// send writes the transcript's frame name, answering request id when the
// frame is a response.
func (p *peer) send(name, id string) {
	p.s.t.Helper()
	f := p.s.frame(name, "<<<")
	if id != "" {
		f = reID.ReplaceAllString(f, `"id":"`+id+`"`)
	}
	if err := p.ws.WriteMessage(websocket.TextMessage, []byte(f)); err != nil {
		p.s.t.Fatalf("write %s: %v", name, err)
	}
}

// handshake answers the connect request as the server does (§2.1).
func (p *peer) handshake() {
	p.s.t.Helper()
	p.send("connect_result", p.expect("connect"))
}

// closedByClient reads until the client closes the socket, checking every
// frame read meanwhile is the transcript's frame allowed (if any).
func (p *peer) closedByClient(allowed string) (frames int) {
	p.s.t.Helper()
	_ = p.ws.SetReadDeadline(time.Now().Add(wait))
	for {
		_, data, err := p.ws.ReadMessage()
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				p.s.t.Fatal("the client did not close the connection")
			}
			return frames
		}
		if allowed == "" || normalize(string(data)) != normalize(p.s.frame(allowed, ">>>")) {
			p.s.t.Fatalf("unexpected client frame %s", data)
		}
		frames++
	}
}

// runner runs a Conn and collects its events.
type runner struct {
	c      *Conn
	events chan Event
	done   chan error
}

func testOptions(url string) ConnOptions {
	return ConnOptions{
		URL: url, UID: "bot1", Token: "bot1tok", DeviceFlag: 2, DeviceID: "dev-A",
		PingInterval: time.Hour, ConnectTimeout: wait,
		Backoff: func(int) time.Duration { return time.Millisecond },
	}
}

func startConn(t *testing.T, o ConnOptions) *runner {
	t.Helper()
	r := &runner{c: NewConn(o), events: make(chan Event, 256), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- r.c.Run(ctx, func(ev Event) { r.events <- ev }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil && !errors.Is(err, ErrUnauthorized) {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(wait):
			t.Error("Run did not return")
		}
	})
	return r
}

func nextEvent[T Event](t *testing.T, r *runner) T {
	t.Helper()
	select {
	case ev := <-r.events:
		got, ok := ev.(T)
		if !ok {
			var want T
			t.Fatalf("event %#v, want %T", ev, want)
		}
		return got
	case <-time.After(wait):
		var want T
		t.Fatalf("no %T event", want)
	}
	panic("unreachable")
}

func (r *runner) noEvent(t *testing.T) {
	t.Helper()
	select {
	case ev := <-r.events:
		t.Fatalf("unexpected event %#v", ev)
	default:
	}
}

// connected starts a Conn against s and completes the first handshake.
func connected(t *testing.T, s *wsServer, o ConnOptions) (*runner, *peer) {
	t.Helper()
	r := startConn(t, o)
	p := s.accept()
	p.handshake()
	nextEvent[Connected](t, r)
	return r, p
}

func TestConnGoldenConnect(t *testing.T) {
	s := newWSServer(t)
	r := startConn(t, testOptions(s.url))
	p := s.accept()
	got := p.next()
	want := s.frame("connect", ">>>")
	if normalize(got) != normalize(want) {
		t.Fatalf("connect\n got %s\nwant %s", got, want)
	}
	var f struct {
		ID     string
		Params struct{ ClientTimestamp int64 }
	}
	if err := json.Unmarshal([]byte(got), &f); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(time.UnixMilli(f.Params.ClientTimestamp)); d < -time.Minute || d > time.Minute {
		t.Errorf("clientTimestamp %d is not now in ms", f.Params.ClientTimestamp)
	}
	r.noEvent(t) // no Connected before the result
	p.send("connect_result", f.ID)
	nextEvent[Connected](t, r)
}

func TestConnGoldenRecv(t *testing.T) {
	s := newWSServer(t)
	r, p := connected(t, s, testOptions(s.url))
	cases := []struct {
		frame string
		want  Message
	}{
		{"recv_group_reddot", Message{Header: Header{RedDot: true}, MessageID: 2128029847266529280, MessageSeq: 1, ClientMsgNo: "cmn-g-1",
			FromUID: "alice", ChannelID: "g1", ChannelType: 2, Timestamp: 1796196827, Payload: []byte(`{"type":1,"content":"hello group from alice"}`)}},
		// A private push names the peer as channelId (fact 5).
		{"recv_private", Message{Header: Header{RedDot: true}, MessageID: 2128029849879580672, MessageSeq: 1, ClientMsgNo: "cmn-p-1",
			FromUID: "alice", ChannelID: "alice", ChannelType: 1, Timestamp: 1796196827, Payload: []byte(`{"type":1,"content":"hi bot1, private from alice"}`)}},
		{"recv_image", Message{MessageID: 2128029852534575104, MessageSeq: 2, ClientMsgNo: "cmn-g-img", FromUID: "alice", ChannelID: "g1",
			ChannelType: 2, Timestamp: 1796196828, Payload: []byte(`{"type":2,"url":"http://127.0.0.1/img/cat.png","width":640,"height":480}`)}},
		{"recv_mention", Message{MessageID: 2128029855156015104, MessageSeq: 3, ClientMsgNo: "cmn-g-at", FromUID: "alice", ChannelID: "g1",
			ChannelType: 2, Timestamp: 1796196829, Payload: []byte(`{"type":1,"content":"@bob hi","mention":{"uids":["bob"]}}`)}},
		// The bot's own HTTP send comes back to its connection (fact 12).
		{"recv_self_http", Message{MessageID: 2128030008667541504, MessageSeq: 4, ClientMsgNo: "cmn-p-2", FromUID: "bot1", ChannelID: "alice",
			ChannelType: 1, Timestamp: 1796196865, Payload: []byte(`{"type":1,"content":"http private bot1 -> alice"}`)}},
		{"recv_no_from", Message{MessageID: 2128030193913171968, MessageSeq: 9, ClientMsgNo: "cmn-nofrom", FromUID: "", ChannelID: "g1",
			ChannelType: 2, Timestamp: 1796196909, Payload: []byte(`{"type":1,"content":"x"}`)}},
	}
	for _, tc := range cases {
		p.send(tc.frame, "")
		ev := nextEvent[Recv](t, r)
		if ev.Message.Header != tc.want.Header || ev.Message.MessageID != tc.want.MessageID || ev.Message.MessageSeq != tc.want.MessageSeq ||
			ev.Message.ClientMsgNo != tc.want.ClientMsgNo || ev.Message.FromUID != tc.want.FromUID || ev.Message.ChannelID != tc.want.ChannelID ||
			ev.Message.ChannelType != tc.want.ChannelType || ev.Message.Timestamp != tc.want.Timestamp || string(ev.Message.Payload) != string(tc.want.Payload) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.frame, ev.Message, tc.want)
		}
	}

	// §2.4: the ack of a push is exactly the captured recvack.
	p.send("recv_e2", "")
	ev := nextEvent[Recv](t, r)
	if err := r.c.Ack(ev.Ack); err != nil {
		t.Fatal(err)
	}
	p.expect("recvack_e2")
}

// TestConnUndecodablePushSkipped: a push the client cannot decode (here an
// object payload, which the real server never sends) is skipped, not fatal:
// the connection stays and later pushes arrive.
func TestConnUndecodablePushSkipped(t *testing.T) {
	s := newWSServer(t)
	r, p := connected(t, s, testOptions(s.url))
	bad := strings.Replace(s.frame("recv_image", "<<<"), `"payload":"`, `"payload":{"x":"`, 1)
	bad = strings.Replace(bad, `"}}`, `"}}}`, 1)
	if err := p.ws.WriteMessage(websocket.TextMessage, []byte(bad)); err != nil {
		t.Fatal(err)
	}
	p.send("recv_e2", "")
	if ev := nextEvent[Recv](t, r); ev.Message.MessageSeq != 15 {
		t.Errorf("message = %+v", ev.Message)
	}
}

// TestConnAckOnGoneConnection: an Ack for a push from an earlier connection
// sends nothing (the new connection's next frame is the send).
func TestConnAckOnGoneConnection(t *testing.T) {
	s := newWSServer(t)
	r, p := connected(t, s, testOptions(s.url))
	p.send("recv_e2", "")
	old := nextEvent[Recv](t, r)
	p.ws.Close()
	nextEvent[Disconnected](t, r)
	p2 := s.accept()
	p2.handshake()
	nextEvent[Connected](t, r)
	if err := r.c.Ack(old.Ack); err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() {
		_, err := r.c.Send(context.Background(), RPCSendRequest{ClientMsgNo: "ws-g-1", ChannelID: "g1", ChannelType: 2,
			Payload: []byte(`{"type":1,"content":"hello g1 from bot1 (ws)"}`)})
		res <- err
	}()
	p2.send("send_s1_result", p2.expect("send_s1"))
	if err := <-res; err != nil {
		t.Fatal(err)
	}
}

func TestConnGoldenSend(t *testing.T) {
	s := newWSServer(t)
	r, p := connected(t, s, testOptions(s.url))
	perm := []byte(`{"type":1,"content":"ws perm test"}`)
	cases := []struct {
		frame string
		req   RPCSendRequest
		want  RPCSendResult
		code  int // reason code of the expected *ReasonError; 0 = success
		name  string
	}{
		{"send_s1", RPCSendRequest{ClientMsgNo: "ws-g-1", ChannelID: "g1", ChannelType: 2, Payload: []byte(`{"type":1,"content":"hello g1 from bot1 (ws)"}`)},
			RPCSendResult{MessageID: 2128029900504829952, MessageSeq: 5, ReasonCode: 1}, 0, ""},
		{"send_s2", RPCSendRequest{Header: Header{RedDot: true}, ClientMsgNo: "ws-p-1", ChannelID: "alice", ChannelType: 1,
			Payload: []byte(`{"type":1,"content":"hi alice from bot1 (ws)"}`)},
			RPCSendResult{MessageID: 2128029903445037056, MessageSeq: 2, ReasonCode: 1}, 0, ""},
		{"send_bl", RPCSendRequest{ClientMsgNo: "ws-bl-1", ChannelID: "g1", ChannelType: 2, Payload: perm},
			RPCSendResult{MessageID: 2128030590723690496, MessageSeq: 0, ReasonCode: 4}, 4, "InBlacklist"},
		{"send_nm", RPCSendRequest{ClientMsgNo: "ws-nm-1", ChannelID: "g2", ChannelType: 2, Payload: perm},
			RPCSendResult{MessageID: 2128030594297237504, MessageSeq: 0, ReasonCode: 3}, 3, "SubscriberNotExist"},
	}
	for _, tc := range cases {
		type out struct {
			res RPCSendResult
			err error
		}
		ch := make(chan out, 1)
		go func() {
			res, err := r.c.Send(context.Background(), tc.req)
			ch <- out{res, err}
		}()
		p.send(tc.frame+"_result", p.expect(tc.frame))
		o := <-ch
		if o.res != tc.want {
			t.Errorf("%s: result %+v, want %+v", tc.frame, o.res, tc.want)
		}
		if tc.code == 0 {
			if o.err != nil {
				t.Errorf("%s: %v", tc.frame, o.err)
			}
			continue
		}
		var re *ReasonError
		if !errors.As(o.err, &re) || re.Code != tc.code || re.Name() != tc.name {
			t.Errorf("%s: err = %v, want reason code %d", tc.frame, o.err, tc.code)
		}
	}
}

func TestConnSendOffline(t *testing.T) {
	c := NewConn(testOptions("ws://127.0.0.1:1"))
	if _, err := c.Send(context.Background(), RPCSendRequest{ChannelID: "g1", ChannelType: 2, Payload: []byte("x")}); !errors.Is(err, ErrOffline) {
		t.Errorf("err = %v, want ErrOffline", err)
	}
	// An empty payload is refused before anything is written (fact 1).
	if _, err := c.Send(context.Background(), RPCSendRequest{ChannelID: "g1", ChannelType: 2}); err == nil || errors.Is(err, ErrOffline) {
		t.Errorf("empty payload: err = %v", err)
	}
}

// TestConnSendConnLost: the connection drops after the send frame was
// written: the outcome is unknown, which ErrConnLost says.
func TestConnSendConnLost(t *testing.T) {
	s := newWSServer(t)
	r, p := connected(t, s, testOptions(s.url))
	res := make(chan error, 1)
	go func() {
		_, err := r.c.Send(context.Background(), RPCSendRequest{ClientMsgNo: "ws-g-1", ChannelID: "g1", ChannelType: 2,
			Payload: []byte(`{"type":1,"content":"hello g1 from bot1 (ws)"}`)})
		res <- err
	}()
	p.expect("send_s1")
	p.ws.Close()
	if err := <-res; !errors.Is(err, ErrConnLost) {
		t.Errorf("err = %v, want ErrConnLost", err)
	}
	nextEvent[Disconnected](t, r)
}

// TestConnSendContextCancelled: a send whose context ends while it waits
// for the result returns the context's error.
func TestConnSendContextCancelled(t *testing.T) {
	s := newWSServer(t)
	r, p := connected(t, s, testOptions(s.url))
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := r.c.Send(ctx, RPCSendRequest{ClientMsgNo: "ws-g-1", ChannelID: "g1", ChannelType: 2,
			Payload: []byte(`{"type":1,"content":"hello g1 from bot1 (ws)"}`)})
		res <- err
	}()
	id := p.expect("send_s1")
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	// A late result for the abandoned id is dropped; the connection lives on.
	p.send("send_s1_result", id)
	p.send("recv_e2", "")
	nextEvent[Recv](t, r)
}

// TestConnIdleServerPingsKeepAlive: a server that only answers pings keeps
// the connection well past two ping intervals (fact 8).
func TestConnIdleServerPingsKeepAlive(t *testing.T) {
	s := newWSServer(t)
	o := testOptions(s.url)
	o.PingInterval = 200 * time.Millisecond
	r, p := connected(t, s, o)
	for range 4 {
		p.send("pong", p.expect("ping"))
	}
	r.noEvent(t)
	s.noConn()
}

// TestConnDeadServerReconnects: pings go unanswered, as on a kicked socket
// (fact 11): the client closes it and connects again.
func TestConnDeadServerReconnects(t *testing.T) {
	s := newWSServer(t)
	o := testOptions(s.url)
	o.PingInterval = 50 * time.Millisecond
	r, p := connected(t, s, o)
	if n := p.closedByClient("ping"); n == 0 {
		t.Error("no ping before giving up")
	}
	if ev := nextEvent[Disconnected](t, r); ev.Err == nil || !strings.Contains(ev.Err.Error(), "no pong") {
		t.Errorf("Disconnected.Err = %v", ev.Err)
	}
	s.accept().handshake()
	nextEvent[Connected](t, r)
}

// TestConnErrorFrameReconnects: after an error frame nothing more is
// processed on the connection (fact 9), so the client closes it and
// connects again.
func TestConnErrorFrameReconnects(t *testing.T) {
	for _, name := range []string{"error_wedged", "error_with_id"} {
		t.Run(name, func(t *testing.T) {
			s := newWSServer(t)
			r, p := connected(t, s, testOptions(s.url))
			p.send(name, "")
			p.closedByClient("")
			if ev := nextEvent[Disconnected](t, r); ev.Err == nil || !strings.Contains(ev.Err.Error(), "wedged") {
				t.Errorf("Disconnected.Err = %v", ev.Err)
			}
			s.accept().handshake()
			nextEvent[Connected](t, r)
		})
	}
}

// TestConnKicked: a disconnect with reason code 12 is reported, the client
// closes the socket itself (the server leaves it open, fact 11), logs that
// another device took over, and connects again after the backoff.
func TestConnKicked(t *testing.T) {
	for _, tc := range []struct{ frame, reason string }{
		{"kick_other_device", "login in other device"},
		{"kick_token", "账号在其他设备上登录"},
	} {
		t.Run(tc.frame, func(t *testing.T) {
			s := newWSServer(t)
			core, logs := observer.New(zap.InfoLevel)
			o := testOptions(s.url)
			o.Log = zap.New(core)
			r, p := connected(t, s, o)
			p.send(tc.frame, "")
			if ev := nextEvent[Kicked](t, r); ev != (Kicked{ReasonCode: 12, Reason: tc.reason}) {
				t.Errorf("Kicked = %+v", ev)
			}
			p.closedByClient("")
			if ev := nextEvent[Disconnected](t, r); !errors.Is(ev.Err, ErrKicked) {
				t.Errorf("Disconnected.Err = %v", ev.Err)
			}
			found := logs.FilterMessageSnippet("another device took over").FilterField(zap.String("reason", tc.reason)).Len()
			if found != 1 {
				t.Errorf("kick logged %d times: %v", found, logs.All())
			}
			s.accept().handshake()
			nextEvent[Connected](t, r)
		})
	}
}

// TestConnKickBackoffGrows: repeated kicks do not reset the backoff (two
// devices must not kick each other in a tight loop); an ordinary drop of a
// live connection does.
func TestConnKickBackoffGrows(t *testing.T) {
	s := newWSServer(t)
	o := testOptions(s.url)
	attempts := make(chan int, 16)
	o.Backoff = func(a int) time.Duration { attempts <- a; return time.Millisecond }
	r, p := connected(t, s, o)
	for range 2 {
		p.send("kick_other_device", "")
		nextEvent[Kicked](t, r)
		nextEvent[Disconnected](t, r)
		p = s.accept()
		p.handshake()
		nextEvent[Connected](t, r)
	}
	p.ws.Close()
	nextEvent[Disconnected](t, r)
	s.accept().handshake()
	nextEvent[Connected](t, r)
	for i, want := range []int{0, 1, 0} {
		if got := <-attempts; got != want {
			t.Errorf("backoff %d: attempt %d, want %d", i, got, want)
		}
	}
}

// TestConnSilentAuthFailure: a refused token gets no connect result — the
// server stays silent, then drops the socket (fact 10). Three in a row end
// Run with ErrUnauthorized, and no Connected is ever reported.
func TestConnSilentAuthFailure(t *testing.T) {
	for _, closeIt := range []bool{false, true} {
		name := map[bool]string{false: "silent", true: "closed"}[closeIt]
		t.Run(name, func(t *testing.T) {
			s := newWSServer(t)
			o := testOptions(s.url)
			o.ConnectTimeout = 200 * time.Millisecond
			r := startConn(t, o)
			for range maxRefused {
				p := s.accept()
				p.expect("connect")
				if closeIt {
					p.ws.Close()
				}
			}
			select {
			case err := <-r.done:
				if !errors.Is(err, ErrUnauthorized) {
					t.Fatalf("Run = %v, want ErrUnauthorized", err)
				}
				r.done <- err // for the cleanup
			case <-time.After(wait):
				t.Fatal("Run did not give up")
			}
			r.noEvent(t)
			s.noConn()
		})
	}
}

// TestConnRefusedTallyResets: only refusals in a row count; a successful
// connect in between starts the tally again.
func TestConnRefusedTallyResets(t *testing.T) {
	s := newWSServer(t)
	r := startConn(t, testOptions(s.url))
	refuse := func() {
		p := s.accept()
		p.expect("connect")
		p.ws.Close()
	}
	refuse()
	refuse()
	p := s.accept()
	p.handshake()
	nextEvent[Connected](t, r)
	p.ws.Close()
	nextEvent[Disconnected](t, r)
	refuse()
	refuse()
	// Still running: the next connect is answered.
	s.accept().handshake()
	nextEvent[Connected](t, r)
}

// TestConnRunStops: cancelling Run's context ends the live connection with
// a Disconnected and makes Run return nil.
func TestConnRunStops(t *testing.T) {
	s := newWSServer(t)
	o := testOptions(s.url)
	r := &runner{c: NewConn(o), events: make(chan Event, 16), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- r.c.Run(ctx, func(ev Event) { r.events <- ev }) }()
	p := s.accept()
	p.handshake()
	nextEvent[Connected](t, r)
	cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return")
	}
	nextEvent[Disconnected](t, r)
	if _, err := r.c.Send(context.Background(), RPCSendRequest{ChannelID: "g1", ChannelType: 2, Payload: []byte("x")}); !errors.Is(err, ErrOffline) {
		t.Errorf("Send after Run = %v", err)
	}
}

// TestConnJunkFramesSkipped: frames the client cannot use are skipped
// without ending the connection: a binary frame, text that is not JSON, a
// numeric id, an event notification, an unknown method, and a result for a
// request nobody is waiting for.
func TestConnJunkFramesSkipped(t *testing.T) {
	s := newWSServer(t)
	r, p := connected(t, s, testOptions(s.url))
	if err := p.ws.WriteMessage(websocket.BinaryMessage, []byte{0x20, 0x01}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{
		`not json`,
		`{"jsonrpc":"2.0","id":7,"result":{"reasonCode":1}}`,
		`{"jsonrpc":"2.0","method":"event","params":{"id":"e1","type":"x","timestamp":1,"data":""}}`,
		`{"jsonrpc":"2.0","method":"whatever","params":{}}`,
		`{"jsonrpc":"2.0","id":"s999","result":{"messageId":"1","messageSeq":1,"reasonCode":1}}`,
	} {
		if err := p.ws.WriteMessage(websocket.TextMessage, []byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	p.send("recv_e2", "")
	if ev := nextEvent[Recv](t, r); ev.Message.MessageSeq != 15 {
		t.Errorf("message = %+v", ev.Message)
	}
	s.noConn()
}

// TestConnOversizedFrame: a frame over the read limit ends the connection
// instead of being buffered; the client connects again.
func TestConnOversizedFrame(t *testing.T) {
	s := newWSServer(t)
	r, p := connected(t, s, testOptions(s.url))
	big := `{"jsonrpc":"2.0","method":"recv","params":{"payload":"` + strings.Repeat("A", maxFrame) + `"}}`
	_ = p.ws.WriteMessage(websocket.TextMessage, []byte(big)) // the client may close mid-frame
	if ev := nextEvent[Disconnected](t, r); ev.Err == nil {
		t.Error("Disconnected without an error")
	}
	s.accept().handshake()
	nextEvent[Connected](t, r)
}

// TestConnRedelivery: the server re-pushes an unacknowledged message as an
// identical frame (§2.4, fact 12); the client reports it again, with an Ack
// that acknowledges it.
func TestConnRedelivery(t *testing.T) {
	s := newWSServer(t)
	r, p := connected(t, s, testOptions(s.url))
	p.send("recv_e2", "")
	first := nextEvent[Recv](t, r)
	p.send("recv_e2", "")
	again := nextEvent[Recv](t, r)
	if first.Message.MessageID != again.Message.MessageID || first.Message.MessageSeq != again.Message.MessageSeq {
		t.Errorf("redelivered %+v, first %+v", again.Message, first.Message)
	}
	if err := r.c.Ack(again.Ack); err != nil {
		t.Fatal(err)
	}
	p.expect("recvack_e2")
}
