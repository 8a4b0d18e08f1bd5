// Package e2e runs the daemon's whole pipeline in one process, built by
// the daemon's own wiring (package app) from the daemon's default
// configuration: the Yunhu simulator on a loopback
// httptest server, a yunhu.Client logged in to it, the store, the OneBot
// router and hub, the bridge, and the OneBot transports (HTTP API, forward
// WebSocket, and optionally reverse WebSocket and HTTP POST) on 127.0.0.1.
//
// The package's tests break that pipeline on purpose (faults_test.go,
// badinput_test.go, process_test.go); bench/ measures it. Start and the
// clients in client.go are their shared scaffolding and are meant for
// tests only.
package e2e

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/app"
	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/metrics"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// WaitTimeout bounds every wait of the helpers: a wait that runs out
// fails the test instead of hanging it.
const WaitTimeout = 30 * time.Second

// Options configures Start. Each is an edit of the daemon's default
// configuration (config.Default); zero values leave the daemon's default.
type Options struct {
	// DBPath is the store file (database.path); "" means one in
	// tb.TempDir().
	DBPath string
	// PostFormat is message.post-format, "string" or "array".
	PostFormat string
	// YunhuTimeout bounds each Yunhu REST call (yunhu.timeout, whole
	// seconds).
	YunhuTimeout time.Duration
	// HTTPTimeout bounds one HTTP API action (servers[].http.timeout,
	// whole seconds).
	HTTPTimeout time.Duration
	// WSBuffer is the forward-WS buffer-size (events kept while no event
	// client is connected); a negative value means none.
	WSBuffer int
	// ReverseWS, when set, is a universal reverse-WS URL the pipeline
	// dials, reconnecting every ReverseInterval (0 means 50 ms).
	ReverseWS       string
	ReverseInterval time.Duration
	// Posts are HTTP POST webhook URLs, each tried with PostTimeout (0
	// means 1 s, shorter than the daemon's default so that a failing
	// webhook does not hold a test) and PostRetries retries (negative
	// means none).
	Posts       []string
	PostTimeout time.Duration
	PostRetries int
	// IgnoreInvalidCQCode drops malformed CQ codes instead of sending them
	// as text (message.ignore-invalid-cqcode).
	IgnoreInvalidCQCode bool
	// WrapSim wraps the simulator's handler, e.g. to time it.
	WrapSim func(http.Handler) http.Handler
	// Sim, when set, is a simulator from NewSim that the stack uses
	// instead of its own and leaves running when it stops: a restart is
	// a second stack on the same Sim and DBPath. WrapSim is ignored then.
	Sim *SharedSim
	// Quiet logs nothing (benchmarks); otherwise warnings and errors go to
	// the test log.
	Quiet bool
	// MediaRoots are message.media.file-roots; nil means the daemon's
	// default.
	MediaRoots []string
	// AllowPrivateMedia is message.media.allow-private-networks: media URLs
	// on loopback (the simulator's, a test server's) need it.
	AllowPrivateMedia bool
	// WSConn tunes the forward WebSocket's connections beyond the
	// daemon's settings (e.g. a smaller MaxUnreadBytes).
	WSConn onebot.ConnOptions
	// Log, when set, receives the pipeline's log instead of the test log
	// (tests that assert on a log line).
	Log *zap.Logger
	// Metrics serves the monitoring handler (metrics.address) on its own
	// loopback listener at Stack.MetricsURL.
	Metrics bool
	// Config, when set, edits the configuration last, for settings the
	// fields above do not name (e.g. log.messages).
	Config func(c *config.Config)
	// NoWait returns from Start at once instead of once the push socket
	// has logged in (tests of what happens before login).
	NoWait bool
}

// Stack is one running pipeline: the daemon's (package app) around a
// simulated Yunhu.
type Stack struct {
	tb   testing.TB
	Log  *zap.Logger
	Sim  *sim.Server
	URLs sim.URLs // the simulator's endpoints

	App    *app.App
	Store  *store.Store
	Client *yunhu.Client
	Hub    *onebot.Hub
	Router *onebot.Router
	Bridge *bridge.Bridge

	// HTTPURL is the HTTP API's base (http://127.0.0.1:port) and WSURL
	// the forward WebSocket's (ws://127.0.0.1:port).
	HTTPURL string
	WSURL   string
	// Metrics and MetricsURL (http://127.0.0.1:port) are set with
	// Options.Metrics.
	Metrics    *metrics.Metrics
	MetricsURL string

	simSrv *httptest.Server

	cancel   context.CancelFunc
	done     chan struct{}
	runErr   error
	stopOnce sync.Once
}

// stackConfig is the configuration Start runs: the daemon's default, on
// loopback ports of the system's choosing, logged in to the simulator at
// urls, edited as opts say.
func stackConfig(tb testing.TB, opts Options, urls sim.URLs) *config.Config {
	tb.Helper()
	cfg := config.Default()
	cfg.Account.Token = sim.DefaultToken
	cfg.Yunhu.APIURL, cfg.Yunhu.WSURL, cfg.Yunhu.UploadURL = urls.API, urls.WS, urls.Upload
	cfg.Database.Path = opts.DBPath
	// No heartbeat: a test's event stream carries only what it caused.
	cfg.Heartbeat.Interval = 0
	cfg.Servers = config.DefaultServers() // the HTTP API, then the forward WebSocket
	httpSrv, wsSrv := cfg.Servers[0].HTTP, cfg.Servers[1].WS
	httpSrv.Address, wsSrv.Address = "127.0.0.1:0", "127.0.0.1:0"
	if opts.Metrics {
		cfg.Metrics.Address = "127.0.0.1:0"
	}
	if opts.PostFormat != "" {
		cfg.Message.PostFormat = opts.PostFormat
	}
	if opts.YunhuTimeout != 0 {
		cfg.Yunhu.Timeout = wholeSeconds(tb, "YunhuTimeout", opts.YunhuTimeout)
	}
	if opts.HTTPTimeout != 0 {
		httpSrv.Timeout = wholeSeconds(tb, "HTTPTimeout", opts.HTTPTimeout)
	}
	if opts.WSBuffer != 0 {
		wsSrv.BufferSize = max(opts.WSBuffer, 0)
	}
	for _, u := range opts.Posts {
		// Timeout is set by Start's hook: the config counts whole seconds.
		httpSrv.Post = append(httpSrv.Post, config.HTTPPost{URL: u, MaxRetries: max(opts.PostRetries, 0)})
	}
	if opts.ReverseWS != "" {
		interval := cmp.Or(opts.ReverseInterval, 50*time.Millisecond)
		cfg.Servers = append(cfg.Servers, config.Server{WSReverse: &config.WSReverse{
			Universal: opts.ReverseWS, ReconnectInterval: int(interval / time.Millisecond),
		}})
	}
	cfg.Message.IgnoreInvalidCQCode = opts.IgnoreInvalidCQCode
	if opts.MediaRoots != nil {
		cfg.Message.Media.FileRoots = opts.MediaRoots
	}
	cfg.Message.Media.AllowPrivateNetworks = opts.AllowPrivateMedia
	if opts.Config != nil {
		opts.Config(&cfg)
	}
	return &cfg
}

// wholeSeconds is d in the config's unit, failing tb if d is not a whole
// number of seconds.
func wholeSeconds(tb testing.TB, what string, d time.Duration) int {
	tb.Helper()
	if d%time.Second != 0 || d < 0 {
		tb.Fatalf("%s %v: the config counts whole seconds", what, d)
	}
	return int(d / time.Second)
}

// appOptions are the hooks Start gives package app: the test's logger,
// and what the config cannot say.
func appOptions(opts Options, log *zap.Logger) app.Options {
	return app.Options{
		Log:     log,
		Version: "e2e",
		Yunhu: func(_ *store.Store, o *yunhu.Options) error {
			// Reconnect at once: fault tests drop the socket many times.
			o.Backoff = func(int) time.Duration { return 5 * time.Millisecond }
			return nil
		},
		WS: func(o *onebot.WSOptions) {
			c := opts.WSConn
			c.MaxMessageBytes = o.Conn.MaxMessageBytes
			o.Conn = c
		},
		Post: func(o *onebot.HTTPPostOptions) {
			o.Timeout = cmp.Or(opts.PostTimeout, time.Second)
			o.RetryInterval = 10 * time.Millisecond
		},
	}
}

// Start assembles and runs a pipeline and returns once its push socket is
// logged in. It is stopped when the test ends, or earlier by Stop.
func Start(tb testing.TB, opts Options) *Stack {
	tb.Helper()
	log := zap.NewNop()
	switch {
	case opts.Log != nil:
		log = opts.Log
	case !opts.Quiet:
		log = zaptest.NewLogger(tb, zaptest.Level(zap.WarnLevel))
	}
	if opts.DBPath == "" {
		opts.DBPath = filepath.Join(tb.TempDir(), "yunhu-onebot.db")
	}
	s := &Stack{tb: tb, Log: log, done: make(chan struct{})}
	if opts.Sim != nil {
		s.Sim, s.URLs = opts.Sim.Sim, opts.Sim.URLs
	} else {
		s.Sim = sim.New(sim.Options{Log: log.Named("sim")})
		var h http.Handler = s.Sim.Handler()
		if opts.WrapSim != nil {
			h = opts.WrapSim(h)
		}
		s.simSrv = httptest.NewServer(h)
		s.URLs = sim.Endpoints(s.simSrv.URL)
	}

	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, stackConfig(tb, opts, s.URLs), appOptions(opts, log))
	if err != nil {
		cancel()
		s.closeSim()
		tb.Fatalf("build the pipeline: %v", err)
	}
	s.App, s.Store, s.Client, s.Hub, s.Router, s.Bridge, s.Metrics =
		a, a.Store, a.Client, a.Hub, a.Router, a.Bridge, a.Metrics
	addrs := a.Addrs() // the HTTP API, the forward WebSocket, then metrics
	s.HTTPURL = "http://" + addrs[0].String()
	s.WSURL = "ws://" + addrs[1].String()
	if opts.Metrics {
		s.MetricsURL = "http://" + addrs[2].String()
	}
	s.cancel = cancel
	go func() {
		defer close(s.done)
		s.runErr = a.Run(ctx)
	}()
	tb.Cleanup(s.Stop)
	if !opts.NoWait {
		s.WaitFor("the push socket to log in", func() bool { on, _ := s.Bridge.Status(); return on })
	}
	return s
}

// Stop stops the pipeline (app.Run: components, then the client and the
// store) and closes the simulator. It fails the test if a component
// ended with an error. Calls after the first do nothing.
func (s *Stack) Stop() {
	s.stopOnce.Do(func() {
		s.cancel()
		select {
		case <-s.done:
		case <-time.After(WaitTimeout):
			s.tb.Errorf("the pipeline did not stop within %v", WaitTimeout)
		}
		if s.runErr != nil {
			s.tb.Errorf("pipeline: %v", s.runErr)
		}
		s.closeSim()
	})
}

func (s *Stack) closeSim() {
	if s.simSrv == nil {
		return // a SharedSim: its owner closes it
	}
	s.Sim.Close()
	s.simSrv.CloseClientConnections()
	s.simSrv.Close()
}

// SharedSim is a simulator that outlives the stacks started on it.
type SharedSim struct {
	Sim  *sim.Server
	URLs sim.URLs
	srv  *httptest.Server
}

// NewSim starts a simulator for Options.Sim; it is closed when the test
// ends.
func NewSim(tb testing.TB) *SharedSim {
	tb.Helper()
	sm := sim.New(sim.Options{Log: zap.NewNop()})
	srv := httptest.NewServer(sm.Handler())
	tb.Cleanup(func() {
		sm.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	return &SharedSim{Sim: sm, URLs: sim.Endpoints(srv.URL), srv: srv}
}

// Online reports whether the bridge's push socket is logged in.
func (s *Stack) Online() bool {
	on, _ := s.Bridge.Status()
	return on
}

// WaitFor polls cond until it holds, failing the test after WaitTimeout.
func (s *Stack) WaitFor(what string, cond func() bool) {
	s.tb.Helper()
	WaitFor(s.tb, what, cond)
}

// WaitFor polls cond every few milliseconds until it holds, failing tb
// after WaitTimeout. It bounds a wait; it asserts nothing about speed.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up after %v waiting for %s", WaitTimeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Receive waits for the next value on ch, failing tb after WaitTimeout.
func Receive[T any](tb testing.TB, what string, ch <-chan T) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(WaitTimeout):
		tb.Fatalf("gave up after %v waiting for %s", WaitTimeout, what)
		var zero T
		return zero
	}
}

// HTTP calls an action over the HTTP API with a JSON body and returns the
// HTTP status and the decoded OneBot response.
func (s *Stack) HTTP(action string, body string) (int, Reply) {
	s.tb.Helper()
	status, raw, err := PostJSON(context.Background(), s.HTTPURL+"/"+action, "application/json", strings.NewReader(body))
	if err != nil {
		s.tb.Fatalf("%s: %v", action, err)
	}
	r, err := ParseReply(raw)
	if err != nil {
		s.tb.Fatalf("%s: HTTP %d, %v: %q", action, status, err, Shorten(raw))
	}
	return status, r
}

// MustHTTP calls an action that must succeed and returns its data.
func (s *Stack) MustHTTP(action string, body string) Reply {
	s.tb.Helper()
	status, r := s.HTTP(action, body)
	if status != http.StatusOK || r.Retcode != 0 {
		s.tb.Fatalf("%s %s: HTTP %d, %+v", action, body, status, r)
	}
	return r
}

// Inject makes another user send a message, failing the test on error.
func (s *Stack) Inject(m sim.Message) sim.Record {
	s.tb.Helper()
	rec, err := s.Sim.Inject(m)
	if err != nil {
		s.tb.Fatalf("inject %+v: %v", m, err)
	}
	return rec
}

// Shorten cuts b for an error message.
func Shorten(b []byte) string {
	const max = 300
	if len(b) > max {
		return fmt.Sprintf("%s… (%d bytes)", b[:max], len(b))
	}
	return string(b)
}
