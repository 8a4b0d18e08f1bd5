// Package app builds the daemon's whole pipeline from a config.Config:
// the store, the chat backend config's backend key names (Yunhu: its
// client too), the OneBot router with its limits, the hub, the bridge
// (the OneBot core) with its media rules, the transports and their
// webhook workers, the heartbeat, the backend's callback listener and
// the monitoring listener. Package main runs it (and keeps flags,
// signals, the sandbox, sd_notify and exit codes); packages e2e, bench,
// interop and the backend conformance kit run the same build around a
// simulated platform, so that the pipeline under test is configured by
// the same code and the same defaults (config.Default) as the daemon.
//
// New opens and binds everything, so that a bad path or a port in use
// fails the start before anything runs; Run runs it until its context
// ends and then releases it.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	yunhubackend "github.com/yunhu-onebot/yunhu-onebot/backend/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/metrics"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

const (
	// ShutdownGrace is what each HTTP server gets to finish its requests
	// at a stop, leaving the rest of the daemon's stop timeout for the
	// store to flush.
	ShutdownGrace = 3 * time.Second
	// pruneInterval is how often expired messages are removed.
	pruneInterval = 10 * time.Minute
)

// Component is a long-running part of the pipeline; Run returns when ctx
// is done.
type Component interface {
	Run(ctx context.Context) error
}

// Options are what New needs besides the config: where to log, and the
// few things only its caller knows. Every hook is optional.
type Options struct {
	Log *zap.Logger
	// Version is reported by get_version_info and in the User-Agent of
	// the reverse WebSocket and the webhooks.
	Version string
	// ConfigPath is the file the config came from, "" when built in code:
	// media are never read from it (the systemd unit's environment file,
	// with the token, lives in the same directory).
	ConfigPath string
	// Yunhu, when set, edits the client's options before the client is
	// made; it is given the open store. The sandbox points the client at
	// its simulator here; tests shorten the reconnect backoff.
	Yunhu func(db *store.Store, o *yunhu.Options) error
	// WuKongIM, when set, edits the wukongim section before its clients
	// are made; it is given the open store. The sandbox points them at
	// its simulator here.
	WuKongIM func(db *store.Store, c *config.WuKongIM) error
	// Wildfire, when set, edits the wildfire section before its client
	// is made; it is given the open store. The sandbox points it at its
	// simulator here.
	Wildfire func(db *store.Store, c *config.Wildfire) error
	// Backend, when set, makes the backend instead of the one config's
	// backend key names: the conformance kit runs a backend under test
	// through the daemon's wiring this way. It is given the open store.
	Backend func(db *store.Store, log *zap.Logger) (platform.Backend, error)
	// WS and Post, when set, edit each forward WebSocket's and each
	// webhook's options: tests use them for what the config cannot say
	// (sub-second timeouts, connection tuning).
	WS   func(o *onebot.WSOptions)
	Post func(o *onebot.HTTPPostOptions)
	// RunBridge, when set, runs the bridge in place of its Run and maps
	// the error that ends it (the daemon turns a rejected token into
	// advice for the operator). It should return nil once ctx is done.
	RunBridge func(ctx context.Context, br *bridge.Bridge) error
	// OnReady, when set, is called by Run once every component runs and
	// every listener serves, with Addrs.
	OnReady func(addrs []net.Addr)
	// OnStop, when set, is called by Run when the stop begins (ctx done
	// or a component failed).
	OnStop func()
}

// App is one built pipeline. Its fields are the components New made, for
// callers that drive or inspect them (tests); they are set once New
// returns and must not be replaced.
type App struct {
	Store *store.Store
	// Backend is the chat backend; Client its Yunhu client when the
	// backend is Yunhu's (nil otherwise).
	Backend platform.Backend
	Client  *yunhu.Client
	Hub     *onebot.Hub
	Router  *onebot.Router
	Bridge  *bridge.Bridge
	Metrics *metrics.Metrics // nil when metrics.address is empty
	// Settings are the values handed to the components.
	Settings Settings

	opts       Options
	log        *zap.Logger
	listeners  []listener
	components []Component
	addrs      []net.Addr
	selfID     atomic.Int64
	closeOnce  sync.Once
	closeErr   error
}

// Settings are the effective values New handed to the components, after
// the hooks, as plain values: what two builds are compared by to show
// they are configured alike. It holds no secret.
type Settings struct {
	DBPath        string
	Retention     time.Duration
	MaxMessages   int
	PruneInterval time.Duration

	YunhuTimeout  time.Duration
	MaxUploadSize int64

	Limits onebot.LimitsOptions

	PostFormat           string
	ReportSelfMessage    bool
	IgnoreInvalidCQCode  bool
	LogMessages          bool
	MaxMediaBytes        int64
	FetchTimeout         time.Duration
	FileRoots            []string
	DenyPaths            []string
	AllowPrivateNetworks bool
	BackfillWindow       time.Duration

	Heartbeat time.Duration
	// MaxRequest bounds one request on every transport.
	MaxRequest int64
	Servers    []ServerSettings
}

// ServerSettings are one servers entry's effective values.
type ServerSettings struct {
	Kind       string // http, ws, ws-reverse
	Timeout    time.Duration
	MaxConns   int
	BufferSize int
	QueueSize  int
	Reconnect  time.Duration
	Posts      []PostSettings
}

// PostSettings are one webhook's effective values.
type PostSettings struct {
	Timeout       time.Duration
	MaxRetries    int
	RetryInterval time.Duration
}

type listener struct {
	ln      net.Listener
	handler http.Handler
	log     *zap.Logger
}

// New builds the pipeline cfg describes: it opens the store, makes the
// client and the bridge, and binds every listener. On error nothing is
// left open. Run the result, or Close it.
func New(ctx context.Context, cfg *config.Config, opts Options) (_ *App, err error) {
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	a := &App{opts: opts, log: log}
	defer func() {
		if err != nil {
			_ = a.Close()
		}
	}()

	mon := newMonitor(cfg.Metrics.Address) // nil when off
	if mon != nil {
		a.Metrics = mon.m
	}
	st := &a.Settings
	st.DBPath, st.Retention, st.MaxMessages, st.PruneInterval =
		cfg.Database.Path, cfg.Database.Retention(), cfg.Database.MaxMessages, pruneInterval
	storeOpts := store.Options{
		Path:          st.DBPath,
		Retention:     st.Retention,
		MaxMessages:   st.MaxMessages,
		PruneInterval: st.PruneInterval,
		Log:           log.Named("store"),
		OnCommit:      mon.onCommit(),
	}
	if opts.Backend == nil && cfg.Backend == config.BackendYunhu {
		// A schema 2 file was written when Yunhu was the only platform,
		// keyed by its chat types.
		storeOpts.ConvFromV2 = func(chatType int32, chatID string) string {
			return bridge.ConvKey(yunhubackend.ConvFromV2(chatType, chatID))
		}
	}
	a.Store, err = store.Open(storeOpts)
	if err != nil {
		// store's error names the file already.
		return nil, fmt.Errorf("database.path: %w", err)
	}

	switch {
	case opts.Backend != nil:
		a.Backend, err = opts.Backend(a.Store, log)
	case cfg.Backend == config.BackendYunhu:
		a.Backend, err = a.yunhuBackend(ctx, cfg, mon)
	case cfg.Backend == config.BackendWuKongIM:
		a.Backend, err = a.wukongimBackend(ctx, cfg)
	case cfg.Backend == config.BackendWildfire:
		a.Backend, err = a.wildfireBackend(cfg)
	default:
		err = fmt.Errorf("backend: %q is not a known backend", cfg.Backend)
	}
	if err != nil {
		return nil, err
	}

	a.Hub = onebot.NewHub(onebot.HubOptions{Log: log.Named("onebot"), SelfID: a.selfID.Load})
	st.Limits = onebot.LimitsOptions{
		MaxActions:      cfg.Limits.MaxActions,
		MaxRequestBytes: cfg.Limits.MaxRequestBytes(),
	}
	a.Router = onebot.NewRouter(onebot.RouterOptions{Log: log.Named("action"), Limits: st.Limits, OnAction: mon.onAction()})
	bo := bridge.Options{
		Backend:             a.Backend,
		Store:               a.Store,
		Hub:                 a.Hub,
		Router:              a.Router,
		Log:                 log.Named("bridge"),
		PostFormat:          cfg.Message.PostFormat,
		ReportSelfMessage:   cfg.Message.ReportSelfMessage,
		IgnoreInvalidCQCode: cfg.Message.IgnoreInvalidCQCode,
		MaxMediaBytes:       cfg.Message.MaxMediaBytes(),
		FetchTimeout:        cfg.Message.FetchTimeoutDuration(),
		Media: bridge.MediaOptions{
			FileRoots:            cfg.Message.Media.FileRoots,
			DenyPaths:            []string{opts.ConfigPath, cfg.Database.Path},
			AllowPrivateNetworks: cfg.Message.Media.AllowPrivateNetworks,
		},
		SetSelfID:      a.selfID.Store,
		Version:        opts.Version,
		BackfillWindow: cfg.Database.Retention(),
		LogMessages:    cfg.Log.Messages,
		OnBackfill:     mon.onBackfill(),
	}
	st.PostFormat, st.ReportSelfMessage, st.IgnoreInvalidCQCode, st.LogMessages =
		bo.PostFormat, bo.ReportSelfMessage, bo.IgnoreInvalidCQCode, bo.LogMessages
	st.MaxMediaBytes, st.FetchTimeout, st.BackfillWindow = bo.MaxMediaBytes, bo.FetchTimeout, bo.BackfillWindow
	st.FileRoots, st.DenyPaths, st.AllowPrivateNetworks = bo.Media.FileRoots, bo.Media.DenyPaths, bo.Media.AllowPrivateNetworks
	if a.Bridge, err = bridge.New(bo); err != nil {
		return nil, err
	}

	if err := a.listen(cfg); err != nil {
		return nil, err
	}
	if err := a.listenCallbacks(); err != nil {
		return nil, err
	}
	if mon != nil {
		ready := readiness(a.selfID.Load, func() bool { on, _ := a.Bridge.Status(); return on })
		l, err := mon.listen(cfg.Metrics.Address, a.Hub, ready, log.Named("metrics"))
		if err != nil {
			return nil, err
		}
		a.listeners = append(a.listeners, l) // last: the servers' addresses keep their indices
	}
	st.Heartbeat = cfg.Heartbeat.IntervalDuration()
	a.components = append(a.components, a.Router, onebot.NewHeartbeat(onebot.HeartbeatOptions{
		Hub:      a.Hub,
		Log:      log.Named("heartbeat"),
		Interval: st.Heartbeat,
		Status:   a.Bridge.Status,
	}))
	a.addrs = make([]net.Addr, len(a.listeners))
	for i, l := range a.listeners {
		a.addrs[i] = l.ln.Addr()
	}
	a.Bridge.DenyMediaListeners(a.addrs)
	return a, nil
}

// yunhuBackend makes the Yunhu client and the backend over it.
func (a *App) yunhuBackend(ctx context.Context, cfg *config.Config, mon *monitor) (platform.Backend, error) {
	log, st, opts := a.log, &a.Settings, a.opts
	deviceID, err := DeviceID(ctx, cfg.Account.DeviceID, a.Store)
	if err != nil {
		return nil, err
	}
	log.Info("account", zap.String("platform", cfg.Account.Platform), zap.String("device-id", deviceID))
	clientOpts := yunhu.Options{
		APIURL:        cfg.Yunhu.APIURL,
		WSURL:         cfg.Yunhu.WSURL,
		UploadURL:     cfg.Yunhu.UploadURL,
		Token:         cfg.Account.Token,
		Platform:      cfg.Account.Platform,
		DeviceID:      deviceID,
		Timeout:       cfg.Yunhu.TimeoutDuration(),
		MaxUploadSize: cfg.Message.MaxMediaBytes(),
		Log:           log.Named("yunhu"),
		OnCall:        mon.onCall(),
		OnReconnect:   mon.onReconnect(),
	}
	if opts.Yunhu != nil {
		if err := opts.Yunhu(a.Store, &clientOpts); err != nil {
			return nil, err
		}
	}
	st.YunhuTimeout, st.MaxUploadSize = clientOpts.Timeout, clientOpts.MaxUploadSize
	a.Client = yunhu.New(clientOpts)
	return yunhubackend.New(yunhubackend.Options{
		Client:     a.Client,
		KV:         bridge.NewBackendState(a.Store),
		Log:        log.Named("yunhu"),
		OnPush:     mon.onPush(),
		PostFormat: cfg.Message.PostFormat,
	})
}

// listenCallbacks binds the listener of a backend the platform calls
// (platform.Callbacks), beside the OneBot listeners.
func (a *App) listenCallbacks() error {
	cb, ok := a.Backend.(platform.Callbacks)
	if !ok || cb.CallbackAddress() == "" {
		return nil
	}
	ln, err := net.Listen("tcp", cb.CallbackAddress())
	if err != nil {
		return fmt.Errorf("%s callback address: %w", a.Backend.Name(), err)
	}
	l := a.log.Named("callback").With(zap.Stringer("address", ln.Addr()))
	a.listeners = append(a.listeners, listener{ln: ln, handler: cb.Handler(), log: l})
	l.Info("listening")
	return nil
}

// Addrs are the bound listener addresses: one per http and ws servers
// entry, in the config's order, then the backend's callback listener's
// if it has one, then the monitoring listener's.
func (a *App) Addrs() []net.Addr { return a.addrs }

// SelfID is the account's OneBot id, 0 until the platform session has
// logged in; meta events and reverse WebSocket headers carry it.
func (a *App) SelfID() int64 { return a.selfID.Load() }

// Add adds a component that Run runs and stops with the others. Call it
// before Run.
func (a *App) Add(c Component) { a.components = append(a.components, c) }

// Run starts every component and serves every listener, and blocks until
// ctx is cancelled or one of them fails; then it stops the rest, closes
// the client and flushes and closes the store.
func (a *App) Run(ctx context.Context) (err error) {
	defer func() {
		if cerr := a.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	runBridge := a.opts.RunBridge
	if runBridge == nil {
		runBridge = func(ctx context.Context, br *bridge.Bridge) error {
			if err := br.Run(ctx); err != nil && ctx.Err() == nil {
				return fmt.Errorf("bridge: %w", err)
			}
			return nil
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.Store.Run(gctx) })
	g.Go(func() error { return runBridge(gctx, a.Bridge) })
	for _, c := range a.components {
		g.Go(func() error { return c.Run(gctx) })
	}
	for _, l := range a.listeners {
		g.Go(func() error { return ServeHTTP(gctx, l.ln, l.handler, l.log) })
	}
	a.listeners = nil // served: ServeHTTP closes them
	if a.opts.OnReady != nil {
		a.opts.OnReady(a.addrs)
	}
	g.Go(func() error {
		<-gctx.Done()
		if a.opts.OnStop != nil {
			a.opts.OnStop()
		}
		return nil
	})
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Close releases what New opened without running it: the listeners not
// yet served, the client and the store. Run calls it when it returns;
// calls after the first return the first's result.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		for _, l := range a.listeners {
			_ = l.ln.Close()
		}
		if a.Client != nil {
			a.Client.Close()
		}
		if a.Store != nil {
			if err := a.Store.Close(); err != nil {
				a.closeErr = fmt.Errorf("close database: %w", err)
			}
		}
	})
	return a.closeErr
}

// DeviceID returns the configured device id, or the one generated on an
// earlier start and kept in db, or generates and keeps a new one.
func DeviceID(ctx context.Context, configured string, db *store.Store) (string, error) {
	if configured != "" {
		return configured, nil
	}
	const key = "device-id"
	v, err := db.Get(key)
	if err == nil && len(v) > 0 {
		return string(v), nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("read device id: %w", err)
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	if err := db.Set(ctx, key, []byte(id)); err != nil {
		return "", fmt.Errorf("save device id: %w", err)
	}
	return id, nil
}

// listen binds every configured server address before anything starts,
// so that a port in use fails the start at once, and so that the caller
// learns the pipeline is ready only once clients can connect. It maps
// each servers entry onto its OneBot transport: http serves the HTTP API
// and posts to its webhooks, ws serves forward WebSocket, ws-reverse
// dials out.
func (a *App) listen(cfg *config.Config) error {
	log := a.log
	st := &a.Settings
	userAgent := "yunhu-onebot/" + a.opts.Version
	// A request carries at most one media file of max-media-size, as
	// base64 (4/3 larger), plus the rest of the message.
	maxRequest := cfg.Message.MaxMediaBytes()*4/3 + 1<<20
	st.MaxRequest = maxRequest
	for i, s := range cfg.Servers {
		var kind, addr string
		switch {
		case s.HTTP != nil:
			kind, addr = "http", s.HTTP.Address
		case s.WS != nil:
			kind, addr = "ws", s.WS.Address
		case s.WSReverse != nil:
			r := s.WSReverse
			o := onebot.WSReverseOptions{
				Router:            a.Router,
				Hub:               a.Hub,
				Log:               log.Named("ws-reverse").With(zap.Int("server", i)),
				Universal:         r.Universal,
				API:               r.API,
				Event:             r.Event,
				AccessToken:       r.AccessToken,
				ReconnectInterval: r.ReconnectDuration(),
				UserAgent:         userAgent,
				Conn:              onebot.ConnOptions{QueueSize: r.BufferSize, MaxMessageBytes: maxRequest},
			}
			st.Servers = append(st.Servers, ServerSettings{Kind: "ws-reverse", QueueSize: o.Conn.QueueSize, Reconnect: o.ReconnectInterval})
			a.components = append(a.components, onebot.NewWSReverse(o))
			continue
		default:
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("servers[%d].%s.address: %w", i, kind, err)
		}
		a.listeners = append(a.listeners, listener{ln: ln})
		l := log.Named(kind).With(zap.Stringer("address", ln.Addr()))
		var h http.Handler
		if s.HTTP != nil {
			h = onebot.NewHTTP(onebot.HTTPOptions{
				Router:       a.Router,
				Log:          l,
				AccessToken:  s.HTTP.AccessToken,
				Address:      s.HTTP.Address,
				Timeout:      s.HTTP.TimeoutDuration(),
				MaxBodyBytes: maxRequest,
			})
			ss := ServerSettings{Kind: kind, Timeout: s.HTTP.TimeoutDuration()}
			for _, p := range s.HTTP.Post {
				o := onebot.HTTPPostOptions{
					Router:     a.Router,
					Hub:        a.Hub,
					Log:        log.Named("http-post"),
					URL:        p.URL,
					Secret:     p.Secret,
					Timeout:    p.TimeoutDuration(),
					MaxRetries: p.MaxRetries,
					UserAgent:  userAgent,
				}
				if a.opts.Post != nil {
					a.opts.Post(&o)
				}
				ss.Posts = append(ss.Posts, PostSettings{Timeout: o.Timeout, MaxRetries: o.MaxRetries, RetryInterval: o.RetryInterval})
				a.components = append(a.components, onebot.NewHTTPPost(o))
			}
			st.Servers = append(st.Servers, ss)
		} else {
			o := onebot.WSOptions{
				Router:      a.Router,
				Hub:         a.Hub,
				Log:         l,
				AccessToken: s.WS.AccessToken,
				Address:     s.WS.Address,
				Conn:        onebot.ConnOptions{MaxMessageBytes: maxRequest},
				MaxConns:    cfg.Limits.MaxWSConnections,
				BufferSize:  s.WS.BufferSize,
			}
			if a.opts.WS != nil {
				a.opts.WS(&o)
			}
			st.Servers = append(st.Servers, ServerSettings{Kind: kind, MaxConns: o.MaxConns, BufferSize: o.BufferSize, QueueSize: o.Conn.QueueSize})
			ws := onebot.NewWSServer(o)
			h = ws
			a.components = append(a.components, ws)
		}
		a.listeners[len(a.listeners)-1] = listener{ln: ln, handler: h, log: l}
		l.Info("listening")
	}
	return nil
}

// ServeHTTP serves h on ln until ctx is done, then gives open requests
// ShutdownGrace to finish before closing what is left.
func ServeHTTP(ctx context.Context, ln net.Listener, h http.Handler, log *zap.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(log.WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still open at shutdown; closing them", zap.Error(err))
		_ = srv.Close()
	}
	<-errc
	return nil
}
