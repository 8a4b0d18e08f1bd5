package wildfire

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wf "github.com/yunhu-onebot/yunhu-onebot/wildfire"
)

const (
	robot  = "robot1"
	alice  = "alice"
	bob    = "bob"
	g1     = "g1"
	secret = "s3cret"
	// bigUID is above 2^53: a float64 cannot hold it.
	bigUID int64 = 1<<53 + 1
)

// fakeClient is the WildfireChat client as the backend sees it: it
// records every call and answers from what a test set.
type fakeClient struct {
	mu      sync.Mutex
	admin   bool
	calls   []string
	sent    []sendRequest
	nextUID int64
	errs    map[string]error // by method name
	profile wf.User
	users   map[string]wf.User
	groups  map[string]wf.Group
	members map[string][]wf.Member
	friends []string
	ofUser  []string
	recalls []string
	// seen receives every call as it is made (dropped when full).
	seen chan string
}

func newClient() *fakeClient {
	return &fakeClient{
		nextUID: bigUID,
		errs:    map[string]error{},
		profile: wf.User{UserID: robot, DisplayName: "Robot"},
		users:   map[string]wf.User{},
		groups:  map[string]wf.Group{},
		members: map[string][]wf.Member{},
		seen:    make(chan string, 100),
	}
}

func (f *fakeClient) call(name string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := fmt.Sprint(append([]any{name}, args...)...)
	f.calls = append(f.calls, c)
	select {
	case f.seen <- c:
	default:
	}
	return f.errs[name]
}

func (f *fakeClient) callList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeClient) HasAdmin() bool { return f.admin }

func (f *fakeClient) Send(_ context.Context, conv wf.Conversation, p wf.Payload) (wf.SendResult, error) {
	if err := f.call("Send"); err != nil {
		return wf.SendResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, sendRequest{conv, p})
	uid := f.nextUID
	f.nextUID++
	return wf.SendResult{MessageUID: uid, Timestamp: 1796196800123}, nil
}

func (f *fakeClient) Profile(context.Context) (wf.User, error) {
	return f.profile, f.call("Profile")
}

func (f *fakeClient) UserInfo(_ context.Context, id string) (wf.User, error) {
	if err := f.call("UserInfo", " ", id); err != nil {
		return wf.User{}, err
	}
	u, ok := f.users[id]
	if !ok {
		return wf.User{}, &wf.APIError{Code: 253, Msg: "Not exist", Path: "/robot/user_info"}
	}
	return u, nil
}

func (f *fakeClient) GroupInfo(_ context.Context, id string) (wf.Group, error) {
	if err := f.call("GroupInfo", " ", id); err != nil {
		return wf.Group{}, err
	}
	g, ok := f.groups[id]
	if !ok {
		return wf.Group{}, &wf.APIError{Code: 253, Msg: "Not exist", Path: "/robot/group/get_info"}
	}
	return g, nil
}

func (f *fakeClient) GroupMembers(_ context.Context, id string) ([]wf.Member, error) {
	return f.members[id], f.call("GroupMembers", " ", id)
}

func (f *fakeClient) KickMembers(_ context.Context, g string, uids []string) error {
	return f.call("KickMembers", " ", g, " ", uids)
}

func (f *fakeClient) QuitGroup(_ context.Context, g string) error { return f.call("QuitGroup", " ", g) }

func (f *fakeClient) ModifyGroup(_ context.Context, g string, typ int, v string) error {
	return f.call("ModifyGroup", " ", g, " ", typ, " ", v)
}

func (f *fakeClient) SetAlias(_ context.Context, g, alias string) error {
	return f.call("SetAlias", " ", g, " ", alias)
}

func (f *fakeClient) SetCallback(_ context.Context, url string) error {
	return f.call("SetCallback", " ", url)
}

func (f *fakeClient) Recall(_ context.Context, op string, uid int64) error {
	if err := f.call("Recall", " ", op, " ", uid); err != nil {
		return err
	}
	f.mu.Lock()
	f.recalls = append(f.recalls, fmt.Sprint(uid))
	f.mu.Unlock()
	return nil
}

func (f *fakeClient) FriendIDs(_ context.Context, uid string) ([]string, error) {
	return f.friends, f.call("FriendIDs", " ", uid)
}

func (f *fakeClient) GroupIDsOf(_ context.Context, uid string) ([]string, error) {
	return f.ofUser, f.call("GroupIDsOf", " ", uid)
}

// memKV is KV in memory.
type memKV struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newKV() *memKV { return &memKV{m: map[string][]byte{}} }

func (k *memKV) Get(key string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[key]
	if !ok {
		return nil, platform.ErrNotFound
	}
	return v, nil
}

func (k *memKV) Set(_ context.Context, key string, v []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[key] = v
	return nil
}

// sink records what is delivered. With gate set, Deliver announces each
// batch on entered and waits for a value on gate (nil or an error to
// return) before returning.
type sink struct {
	mu      sync.Mutex
	events  []platform.Event
	batches chan []platform.Event
	entered chan []platform.Event
	gate    chan error
	fail    error
}

func newSink() *sink { return &sink{batches: make(chan []platform.Event, 100)} }

func (s *sink) Deliver(ctx context.Context, events []platform.Event) error {
	batch := append([]platform.Event(nil), events...)
	if s.entered != nil {
		s.entered <- batch
		select {
		case err := <-s.gate:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	err := s.fail
	if err == nil {
		s.events = append(s.events, batch...)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.batches <- batch
	return nil
}

func (s *sink) all() []platform.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]platform.Event(nil), s.events...)
}

// wait returns the next delivered batch, failing the test after a
// generous deadline.
func (s *sink) wait(t *testing.T) []platform.Event {
	t.Helper()
	select {
	case b := <-s.batches:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no batch delivered")
		return nil
	}
}

func newBackend(t *testing.T, c *fakeClient, tweak func(*Options)) *Backend {
	t.Helper()
	o := Options{Client: c, Robot: robot, Name: "Robot", KV: newKV(), CallbackPathSecret: secret, CallbackAddress: "127.0.0.1:0"}
	if tweak != nil {
		tweak(&o)
	}
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// running starts Run over a real HTTP server for the handler; it stops
// both when the test ends. It returns the server's URL once Online was
// delivered.
func running(t *testing.T, b *Backend, s *sink) string {
	t.Helper()
	srv := httptest.NewServer(b.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, s) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
		srv.Close()
	})
	if s.entered == nil {
		if ev := s.wait(t); len(ev) != 1 || ev[0] != (platform.Online{}) {
			t.Fatalf("first batch = %#v, want Online", ev)
		}
	} else {
		<-s.entered
		s.gate <- nil
		s.wait(t)
	}
	return srv.URL
}

func post(t *testing.T, url string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// callback is an OutputMessageData body as the server writes it (ids as
// JSON numbers).
func callback(id int64, sender string, convType int, target string, p wf.Payload) []byte {
	pj, _ := json.Marshal(p)
	return fmt.Appendf(nil, `{"messageId":%d,"sender":%q,"conv":{"type":%d,"target":%q,"line":0},"payload":%s,"toUsers":[],"timestamp":1796196800123}`,
		id, sender, convType, target, pj)
}

func text(s string) wf.Payload { return wf.Payload{Type: typeText, SearchableContent: s} }

// notice is a group notification payload.
func notice(typ int, n groupNotification) wf.Payload {
	raw, _ := json.Marshal(n)
	return wf.Payload{Type: typ, Base64edData: base64.StdEncoding.EncodeToString(raw)}
}

func isDefinite(err error) bool {
	var pe *platform.Error
	return errors.As(err, &pe) && pe.Definite
}

// httptestServer serves b's handler until the test ends.
func httptestServer(t *testing.T, b *Backend) string {
	t.Helper()
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}
