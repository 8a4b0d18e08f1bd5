// Package e2e runs the daemon's whole pipeline in one process, wired the
// way package main wires it (daemon.go): the Yunhu simulator on a loopback
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
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/metrics"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// The daemon's defaults (config.Default and daemon.go), so that the
// pipeline under test is configured as a fresh install is.
const (
	defaultYunhuTimeout = 15 * time.Second
	defaultHTTPTimeout  = 60 * time.Second
	defaultMaxMedia     = 30 << 20
	defaultRetention    = 30 * 24 * time.Hour
	defaultMaxMessages  = 1_000_000
	pruneInterval       = 10 * time.Minute
	// maxRequest is daemon.listen's bound on one request: one media file
	// of max-media-size as base64 plus the rest of the message.
	maxRequest = defaultMaxMedia*4/3 + 1<<20
	// defaultMaxWSConns is limits.max-ws-connections.
	defaultMaxWSConns = 128
	// defaultWSBuffer is servers[].ws.buffer-size.
	defaultWSBuffer = 1024

	// WaitTimeout bounds every wait of the helpers: a wait that runs out
	// fails the test instead of hanging it.
	WaitTimeout = 30 * time.Second
)

// Options configures Start. Zero values take the daemon's defaults.
type Options struct {
	// DBPath is the store file; "" means one in tb.TempDir().
	DBPath string
	// PostFormat is "string" or "array"; "" means "string".
	PostFormat string
	// YunhuTimeout bounds each Yunhu REST call (yunhu.timeout); 0 means
	// 15 s.
	YunhuTimeout time.Duration
	// HTTPTimeout bounds one HTTP API action (servers[].http.timeout);
	// 0 means 60 s.
	HTTPTimeout time.Duration
	// WSQueue is the forward-WS queue per connection; 0 means the default.
	WSQueue int
	// WSBuffer is the forward-WS buffer-size (events kept while no event
	// client is connected); 0 means the daemon's default, 1024, and a
	// negative value none.
	WSBuffer int
	// ReverseWS, when set, is a universal reverse-WS URL the pipeline
	// dials, reconnecting every ReverseInterval (0 means 50 ms).
	ReverseWS       string
	ReverseInterval time.Duration
	// ReverseQueue is the reverse-WS buffer-size; 0 means the default.
	ReverseQueue int
	// Posts are HTTP POST webhook URLs, each tried with PostTimeout (0
	// means 1 s) and PostRetries retries (negative means none).
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
	// default, the OS temp directory.
	MediaRoots []string
	// AllowPrivateMedia is message.media.allow-private-networks: media URLs
	// on loopback (the simulator's, a test server's) need it.
	AllowPrivateMedia bool
	// Limits are the router's shared limits (config limits:); zero values
	// are the daemon's defaults.
	Limits onebot.LimitsOptions
	// WSConn tunes the forward WebSocket's connections beyond the
	// daemon's settings (e.g. a smaller MaxUnreadBytes).
	WSConn onebot.ConnOptions
	// Log, when set, receives the pipeline's log instead of the test log
	// (tests that assert on a log line).
	Log *zap.Logger
	// Metrics serves the monitoring handler (metrics.address) on its own
	// loopback server at Stack.MetricsURL, with every component's hooks
	// wired as daemon.go wires them.
	Metrics bool
	// LogMessages is log.messages: one info line per message received
	// and sent.
	LogMessages bool
	// NoWait returns from Start at once instead of once the push socket
	// has logged in (tests of what happens before login).
	NoWait bool
}

// Stack is one running pipeline.
type Stack struct {
	tb   testing.TB
	Log  *zap.Logger
	Sim  *sim.Server
	URLs sim.URLs // the simulator's endpoints

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
	metricsSrv *httptest.Server

	simSrv  *httptest.Server
	httpSrv *httptest.Server
	wsSrv   *httptest.Server

	cancel   context.CancelFunc
	done     chan struct{}
	runErr   error
	stopOnce sync.Once
	selfID   atomic.Int64
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
	if opts.PostFormat == "" {
		opts.PostFormat = "string"
	}
	if opts.YunhuTimeout == 0 {
		opts.YunhuTimeout = defaultYunhuTimeout
	}
	if opts.HTTPTimeout == 0 {
		opts.HTTPTimeout = defaultHTTPTimeout
	}
	roots := opts.MediaRoots
	if roots == nil {
		roots = []string{os.TempDir()} // config.Default
	}
	s := &Stack{tb: tb, Log: log, done: make(chan struct{})}
	// The hooks daemon.go's monitor passes; nil funcs when off.
	var (
		onCommit    func(int, time.Duration, error)
		onCall      func(string, time.Duration, error)
		onReconnect func()
		onAction    func(string, int, time.Duration)
		onPush      func(string)
		onBackfill  func(int)
	)
	if opts.Metrics {
		m := metrics.New()
		s.Metrics = m
		onCommit, onCall, onReconnect, onAction, onPush, onBackfill = m.OnCommit, m.OnCall, m.OnReconnect, m.OnAction, m.OnPush, m.OnBackfill
	}

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

	st, err := store.Open(store.Options{
		Path: opts.DBPath, Retention: defaultRetention, MaxMessages: defaultMaxMessages,
		PruneInterval: pruneInterval, Log: log.Named("store"), OnCommit: onCommit,
	})
	if err != nil {
		s.closeSim()
		tb.Fatalf("open store: %v", err)
	}
	s.Store = st
	s.Client = yunhu.New(yunhu.Options{
		APIURL: s.URLs.API, WSURL: s.URLs.WS, UploadURL: s.URLs.Upload,
		Token: sim.DefaultToken, Platform: "linux",
		Timeout: opts.YunhuTimeout, MaxUploadSize: defaultMaxMedia,
		// Reconnect at once: fault tests drop the socket many times.
		Backoff:     func(int) time.Duration { return 5 * time.Millisecond },
		Log:         log.Named("yunhu"),
		OnCall:      onCall,
		OnReconnect: onReconnect,
	})
	s.Hub = onebot.NewHub(onebot.HubOptions{Log: log.Named("onebot"), SelfID: s.selfID.Load})
	s.Router = onebot.NewRouter(onebot.RouterOptions{Log: log.Named("action"), Limits: opts.Limits, OnAction: onAction})
	s.Bridge, err = bridge.New(bridge.Options{
		Platform: s.Client, Store: st, Hub: s.Hub, Router: s.Router, Log: log.Named("bridge"),
		PostFormat: opts.PostFormat, MaxMediaBytes: defaultMaxMedia, FetchTimeout: 30 * time.Second,
		Media:     bridge.MediaOptions{FileRoots: roots, DenyPaths: []string{opts.DBPath}, AllowPrivateNetworks: opts.AllowPrivateMedia},
		SetSelfID: s.selfID.Store, Version: "e2e", BackfillWindow: defaultRetention,
		IgnoreInvalidCQCode: opts.IgnoreInvalidCQCode,
		LogMessages:         opts.LogMessages, OnPush: onPush, OnBackfill: onBackfill,
	})
	if err != nil {
		s.Client.Close()
		_ = st.Close()
		s.closeSim()
		tb.Fatalf("bridge: %v", err)
	}

	// Bound first, so that each transport is told its listen address as
	// daemon.listen tells it (the Host rules without a token depend on it).
	s.wsSrv = httptest.NewUnstartedServer(nil)
	wsConn := opts.WSConn
	wsConn.QueueSize, wsConn.MaxMessageBytes = opts.WSQueue, maxRequest
	wsBuffer := max(cmp.Or(opts.WSBuffer, defaultWSBuffer), 0)
	ws := onebot.NewWSServer(onebot.WSOptions{
		Router: s.Router, Hub: s.Hub, Log: log.Named("ws"), Address: s.wsSrv.Listener.Addr().String(),
		Conn: wsConn, MaxConns: defaultMaxWSConns, BufferSize: wsBuffer,
	})
	s.wsSrv.Config.Handler = ws
	s.wsSrv.Start()
	s.WSURL = "ws" + strings.TrimPrefix(s.wsSrv.URL, "http")
	s.httpSrv = httptest.NewUnstartedServer(nil)
	s.httpSrv.Config.Handler = onebot.NewHTTP(onebot.HTTPOptions{
		Router: s.Router, Log: log.Named("http"), Address: s.httpSrv.Listener.Addr().String(),
		Timeout: opts.HTTPTimeout, MaxBodyBytes: maxRequest,
	})
	s.httpSrv.Start()
	s.HTTPURL = s.httpSrv.URL
	denied := []net.Addr{s.httpSrv.Listener.Addr(), s.wsSrv.Listener.Addr()}
	if s.Metrics != nil {
		// As daemon.go's monitor.listen and readiness.
		s.Metrics.WatchHub(s.Hub)
		ready := func() error {
			switch {
			case s.selfID.Load() == 0:
				return errors.New("not logged in to Yunhu yet")
			case !s.Online():
				return errors.New("the Yunhu push socket is not connected")
			}
			return nil
		}
		s.Metrics.WatchReady(ready)
		s.metricsSrv = httptest.NewServer(s.Metrics.Handler(metrics.HandlerOptions{Ready: ready, Log: log.Named("metrics")}))
		s.MetricsURL = s.metricsSrv.URL
		denied = append(denied, s.metricsSrv.Listener.Addr())
	}
	s.Bridge.DenyMediaListeners(denied)

	components := []interface{ Run(context.Context) error }{s.Router, ws}
	if opts.ReverseWS != "" {
		interval := opts.ReverseInterval
		if interval == 0 {
			interval = 50 * time.Millisecond
		}
		components = append(components, onebot.NewWSReverse(onebot.WSReverseOptions{
			Router: s.Router, Hub: s.Hub, Log: log.Named("ws-reverse"),
			Universal: opts.ReverseWS, ReconnectInterval: interval, UserAgent: "yunhu-onebot/e2e",
			Conn: onebot.ConnOptions{QueueSize: opts.ReverseQueue, MaxMessageBytes: maxRequest},
		}))
	}
	for _, u := range opts.Posts {
		timeout := opts.PostTimeout
		if timeout == 0 {
			timeout = time.Second
		}
		retries := max(opts.PostRetries, 0)
		components = append(components, onebot.NewHTTPPost(onebot.HTTPPostOptions{
			Router: s.Router, Hub: s.Hub, Log: log.Named("http-post"), URL: u,
			Timeout: timeout, MaxRetries: retries, RetryInterval: 10 * time.Millisecond,
			UserAgent: "yunhu-onebot/e2e",
		}))
	}

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	var wg sync.WaitGroup
	errs := make(chan error, len(components)+2)
	run := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				errs <- err
			}
		}()
	}
	run(st.Run)
	run(s.Bridge.Run)
	for _, c := range components {
		run(c.Run)
	}
	go func() {
		wg.Wait()
		close(errs)
		for err := range errs {
			s.runErr = errors.Join(s.runErr, err)
		}
		close(s.done)
	}()
	tb.Cleanup(s.Stop)
	if !opts.NoWait {
		s.WaitFor("the push socket to log in", func() bool { on, _ := s.Bridge.Status(); return on })
	}
	return s
}

// Stop stops the pipeline in the daemon's order (components, then the
// store) and closes the servers. It fails the test if a component ended
// with an error. Calls after the first do nothing.
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
		s.httpSrv.CloseClientConnections()
		s.httpSrv.Close()
		s.wsSrv.Close()
		if s.metricsSrv != nil {
			s.metricsSrv.Close()
		}
		s.Client.Close()
		if err := s.Store.Close(); err != nil {
			s.tb.Errorf("close store: %v", err)
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
