package yunhu

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	yh "github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// world is a simulator on loopback HTTP; backends come and go on it, so
// that a test can restart one on the same KV.
type world struct {
	t    *testing.T
	sim  *sim.Server
	srv  *httptest.Server
	urls sim.URLs
	kv   *memKV
}

func newWorld(t *testing.T, opts ...func(*sim.Options)) *world {
	t.Helper()
	o := sim.Options{Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named("sim")}
	for _, f := range opts {
		f(&o)
	}
	s := sim.New(o)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	return &world{t: t, sim: s, srv: srv, urls: sim.Endpoints(srv.URL), kv: newMemKV()}
}

// env is one backend on the world, with its client.
type env struct {
	w      *world
	b      *Backend
	client *yh.Client
	ctx    context.Context
}

// backend builds a backend (not running) with a client of its own.
func (w *world) backend(mod ...func(*Options)) *env {
	t := w.t
	t.Helper()
	client := yh.New(yh.Options{
		APIURL: w.urls.API, WSURL: w.urls.WS, UploadURL: w.urls.Upload,
		Token: sim.DefaultToken, Platform: "linux", Timeout: 5 * time.Second,
		Log:     zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named("yunhu"),
		Backoff: func(int) time.Duration { return 10 * time.Millisecond },
	})
	t.Cleanup(client.Close)
	opts := Options{Client: client, KV: w.kv, Log: zaptest.NewLogger(t).Named("backend")}
	for _, m := range mod {
		m(&opts)
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &env{w: w, b: b, client: client, ctx: ctx}
}

// running is a backend's Run in progress.
type running struct {
	sink *sink
	stop func() error // cancels Run and returns its result
	done chan struct{}
	err  error
}

// run logs in and runs the backend into a recording sink until stop (or
// the test's end), and waits for the push socket.
func (e *env) run(s *sink) *running {
	t := e.w.t
	t.Helper()
	if _, err := e.b.Self(e.ctx); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	r := &running{sink: s, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = e.b.Run(ctx, s)
	}()
	var once sync.Once
	r.stop = func() error {
		once.Do(func() {
			cancel()
			s.release()
			<-r.done
		})
		return r.err
	}
	t.Cleanup(func() { _ = r.stop() })
	waitFor(t, "the backend online", func() bool { return s.count(isOnline) > 0 })
	return r
}

func isOnline(ev platform.Event) bool { _, ok := ev.(platform.Online); return ok }

// sink records every batch delivered. When gated, Deliver waits for
// release (or the context) before recording, as a slow store would.
type sink struct {
	mu      sync.Mutex
	batches [][]platform.Event
	gate    chan struct{} // nil: not gated
	once    sync.Once
	entered atomic.Int32 // Deliver calls begun
}

func newSink() *sink { return &sink{} }

// gated returns a sink whose Deliver blocks until release.
func gated() *sink { return &sink{gate: make(chan struct{})} }

func (s *sink) release() {
	if s.gate != nil {
		s.once.Do(func() { close(s.gate) })
	}
}

func (s *sink) Deliver(ctx context.Context, events []platform.Event) error {
	s.entered.Add(1)
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, append([]platform.Event(nil), events...))
	return nil
}

// events returns every event delivered, in order.
func (s *sink) events() []platform.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []platform.Event
	for _, b := range s.batches {
		out = append(out, b...)
	}
	return out
}

// count is how many delivered events match.
func (s *sink) count(match func(platform.Event) bool) int {
	n := 0
	for _, ev := range s.events() {
		if match(ev) {
			n++
		}
	}
	return n
}

// wait returns the events once n of them match.
func (s *sink) wait(t *testing.T, what string, n int, match func(platform.Event) bool) []platform.Event {
	t.Helper()
	waitFor(t, what, func() bool { return s.count(match) >= n })
	var out []platform.Event
	for _, ev := range s.events() {
		if match(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// memKV is a KV in memory that answers platform.ErrNotFound for a missing
// key, as the store does.
type memKV struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemKV() *memKV { return &memKV{m: map[string][]byte{}} }

func (k *memKV) Get(key string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[key]
	if !ok {
		return nil, platform.ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

func (k *memKV) Set(_ context.Context, key string, v []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[key] = append([]byte(nil), v...)
	return nil
}

// waitFor polls cond until it holds or the bound passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mediaEnv is an EncodeEnv whose Media reads base64:// data (the only
// form the tests use) and refuses the rest as the core would.
func mediaEnv() platform.EncodeEnv {
	return platform.EncodeEnv{
		Media: func(_ context.Context, param, ref string) ([]byte, string, error) {
			if s, ok := strings.CutPrefix(ref, "base64://"); ok {
				data, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return nil, "", platform.BadParamf("%s: not base64", param)
				}
				return data, "", nil
			}
			return nil, "", platform.BadParamf("%s: %q cannot be read", param, ref)
		},
	}
}

// cq parses a CQ string for comparisons.
func cq(s string) segment.Message {
	m, _ := segment.ParseCQ(s)
	return m
}

// badParam reports whether err is a bad parameter whose text has want.
func badParam(err error, want string) bool {
	var bp *platform.BadParamError
	return errors.As(err, &bp) && strings.Contains(bp.Msg, want)
}
