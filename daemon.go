package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

const (
	// stopTimeout bounds a graceful stop; past it the process exits anyway.
	stopTimeout = 5 * time.Second
	// shutdownGrace is what each HTTP server gets to finish its requests,
	// leaving the rest of stopTimeout for the store to flush.
	shutdownGrace = 3 * time.Second
	// pruneInterval is how often expired messages are removed.
	pruneInterval = 10 * time.Minute
	// memoryCheckInterval is how often the daemon looks for memory to
	// give back to the system after a burst: at most one
	// debug.FreeOSMemory per interval.
	memoryCheckInterval = 10 * time.Second
	// memorySlack is the freed memory worth giving back at once; below it
	// the runtime's own background scavenger is left to do it.
	memorySlack = 64 << 20
	// recheckTicks is how many memoryCheckIntervals pass before a quiet
	// heap that was found live is looked at again.
	recheckTicks = 6
)

// runUntilSignalled runs d until SIGINT or SIGTERM. The first signal stops
// it gracefully; a second one, or a stop that overruns stopTimeout, exits
// at once.
func runUntilSignalled(d *daemon, log *zap.Logger) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)

	done := make(chan struct{})
	watcherDone := make(chan struct{})
	go func() {
		defer close(watcherDone)
		select {
		case sig := <-signals:
			log.Info("stopping; send the signal again to exit at once", zap.Stringer("signal", sig))
			cancel()
		case <-done:
			return
		}
		select {
		case sig := <-signals:
			log.Warn("second signal: exiting without a graceful stop", zap.Stringer("signal", sig))
		case <-time.After(stopTimeout):
			log.Error("graceful stop took too long: exiting", zap.Duration("timeout", stopTimeout))
		case <-done:
			return
		}
		_ = log.Sync()
		os.Exit(exitError)
	}()
	err := d.run(ctx)
	close(done)
	<-watcherDone
	return err
}

// daemon wires the components together and owns their lifetime.
type daemon struct {
	cfg     *config.Config
	log     *zap.Logger
	sandbox bool
	// configPath is the file cfg came from ("" when built in code): media
	// are never read from its directory, where the systemd unit's
	// environment file (the token) lives too.
	configPath string
	getenv     func(string) string
	// onReady, when set, is told the bound listener addresses once the
	// daemon is ready (tests use it to learn ports chosen for :0).
	onReady func(addrs []net.Addr)
	// setupOneBot, when set, is called with the OneBot action router and
	// event hub after the bridge has registered its actions and before
	// anything serves (tests use it to add actions and publish events).
	setupOneBot func(r *onebot.Router, hub *onebot.Hub)
	// banner, when set, receives the sandbox's human-readable start-up
	// block (where to connect, how to make a simulated user talk).
	banner io.Writer
	// onSandbox, when set, is given the sandbox's simulator and base URL
	// once the daemon is ready (tests use it to act as other users).
	onSandbox func(s *sim.Server, base string)
	// selfID is the account's OneBot id, 0 until the platform session has
	// logged in; meta events and reverse WebSocket headers carry it.
	selfID atomic.Int64
}

// run starts every component and blocks until ctx is cancelled or one of
// them fails; then it stops the rest and flushes the store.
func (d *daemon) run(ctx context.Context) (err error) {
	log := d.log
	log.Info("starting", zap.String("version", versionString()), zap.Bool("sandbox", d.sandbox))
	defer d.setMemoryLimit()()

	mon := newMonitor(d.cfg.Metrics.Address) // nil when off (monitor.go)
	dbPath := d.cfg.Database.Path
	if d.sandbox {
		dbPath = sandboxPath(dbPath)
		// The simulated world is new on every start; so is its database.
		if err := resetSandboxDB(dbPath); err != nil {
			return fmt.Errorf("database.path %s: %w", dbPath, err)
		}
	}
	db, err := store.Open(store.Options{
		Path:          dbPath,
		Retention:     d.cfg.Database.Retention(),
		MaxMessages:   d.cfg.Database.MaxMessages,
		PruneInterval: pruneInterval,
		Log:           log.Named("store"),
		OnCommit:      mon.onCommit(),
	})
	if err != nil {
		// store's error names the file already.
		return fmt.Errorf("database.path: %w", err)
	}
	defer func() {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close database: %w", cerr))
		}
	}()

	deviceID, err := d.deviceID(ctx, db)
	if err != nil {
		return err
	}
	log.Info("account", zap.String("platform", d.cfg.Account.Platform), zap.String("device-id", deviceID))

	clientOpts := yunhu.Options{
		APIURL:        d.cfg.Yunhu.APIURL,
		WSURL:         d.cfg.Yunhu.WSURL,
		UploadURL:     d.cfg.Yunhu.UploadURL,
		Token:         d.cfg.Account.Token,
		Platform:      d.cfg.Account.Platform,
		DeviceID:      deviceID,
		Timeout:       d.cfg.Yunhu.TimeoutDuration(),
		MaxUploadSize: d.cfg.Message.MaxMediaBytes(),
		Log:           log.Named("yunhu"),
		OnCall:        mon.onCall(),
		OnReconnect:   mon.onReconnect(),
	}
	var sb *sandbox
	if d.sandbox {
		if sb, err = newSandbox(log.Named("sandbox"), sandboxOptions{DB: dbPath, IDs: db, Address: sandboxAddress}); err != nil {
			return err
		}
		clientOpts = sb.clientOptions(clientOpts)
		sb.log.Info("the simulated Yunhu listens on loopback", zap.String("url", sb.base))
	}
	started := false
	defer func() {
		if sb != nil && !started {
			sb.close()
		}
	}()

	client := yunhu.New(clientOpts)
	defer client.Close()

	hub := onebot.NewHub(onebot.HubOptions{Log: log.Named("onebot"), SelfID: d.selfID.Load})
	router := onebot.NewRouter(onebot.RouterOptions{Log: log.Named("action"), Limits: onebot.LimitsOptions{
		MaxActions:      d.cfg.Limits.MaxActions,
		MaxRequestBytes: d.cfg.Limits.MaxRequestBytes(),
	}, OnAction: mon.onAction()})
	br, err := bridge.New(bridge.Options{
		Platform:            client,
		Store:               db,
		Hub:                 hub,
		Router:              router,
		Log:                 log.Named("bridge"),
		PostFormat:          d.cfg.Message.PostFormat,
		ReportSelfMessage:   d.cfg.Message.ReportSelfMessage,
		IgnoreInvalidCQCode: d.cfg.Message.IgnoreInvalidCQCode,
		MaxMediaBytes:       d.cfg.Message.MaxMediaBytes(),
		FetchTimeout:        d.cfg.Message.FetchTimeoutDuration(),
		Media: bridge.MediaOptions{
			FileRoots: d.cfg.Message.Media.FileRoots,
			DenyPaths: []string{d.configPath, dbPath},
			// The sandbox's simulated Yunhu serves its media on loopback.
			AllowPrivateNetworks: d.cfg.Message.Media.AllowPrivateNetworks || d.sandbox,
		},
		SetSelfID:      d.selfID.Store,
		Version:        versionString(),
		BackfillWindow: d.cfg.Database.Retention(),
		LogMessages:    d.cfg.Log.Messages,
		OnPush:         mon.onPush(),
		OnBackfill:     mon.onBackfill(),
	})
	if err != nil {
		return err
	}
	if d.setupOneBot != nil {
		d.setupOneBot(router, hub)
	}
	listeners, components, err := d.listen(router, hub)
	if err != nil {
		return err
	}
	if mon != nil {
		ready := readiness(d.selfID.Load, func() bool { on, _ := br.Status(); return on })
		l, err := mon.listen(d.cfg.Metrics.Address, hub, ready, log.Named("metrics"))
		if err != nil {
			for _, l := range listeners {
				_ = l.ln.Close()
			}
			return err
		}
		listeners = append(listeners, l) // last: onReady's addresses of the servers keep their indices
	}
	components = append(components, router, onebot.NewHeartbeat(onebot.HeartbeatOptions{
		Hub:      hub,
		Log:      log.Named("heartbeat"),
		Interval: d.cfg.Heartbeat.IntervalDuration(),
		Status:   br.Status,
	}), memoryReturner{log: log.Named("memory"), every: memoryCheckInterval})
	if sb != nil {
		components = append(components, sb)
	}
	started = true

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return db.Run(gctx) })
	g.Go(func() error { return runBridge(gctx, br) })
	for _, c := range components {
		g.Go(func() error { return c.Run(gctx) })
	}
	addrs := make([]net.Addr, len(listeners))
	for i, l := range listeners {
		addrs[i] = l.ln.Addr()
	}
	br.DenyMediaListeners(addrs)
	for _, l := range listeners {
		g.Go(func() error { return serveHTTP(gctx, l.ln, l.handler, l.log) })
	}

	if err := sdNotify(d.getenv, "READY=1"); err != nil {
		log.Warn("could not tell systemd the daemon is ready", zap.Error(err))
	}
	log.Info("ready", zap.Int("listeners", len(listeners)))
	if sb != nil {
		sb.log.Info("make a simulated user talk",
			zap.String("say", sb.base+"/sandbox/say?from=alice&group="+sim.GroupOwnedID+"&text=hello"),
			zap.String("help", sb.base+"/sandbox/"))
		if d.banner != nil {
			_, _ = io.WriteString(d.banner, sb.banner(d.cfg.Servers, addrs))
		}
		if d.onSandbox != nil {
			d.onSandbox(sb.sim, sb.base)
		}
	}
	if d.onReady != nil {
		d.onReady(addrs)
	}

	g.Go(func() error {
		<-gctx.Done()
		if err := sdNotify(d.getenv, "STOPPING=1"); err != nil {
			log.Warn("could not tell systemd the daemon is stopping", zap.Error(err))
		}
		return nil
	})
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// runBridge runs the bridge. It returns an error only when the daemon
// cannot go on by itself: the account's token was rejected, which no
// retry fixes (systemd restarts the daemon after an operator fixes it).
func runBridge(ctx context.Context, br *bridge.Bridge) error {
	err := br.Run(ctx)
	switch {
	case err == nil || ctx.Err() != nil:
		return nil
	case errors.Is(err, yunhu.ErrUnauthorized):
		return fmt.Errorf("%w: sign in again with -login, or put a valid token in account.token or YUNHU_TOKEN (a token stops working when the account logs out)", err)
	default:
		return fmt.Errorf("bridge: %w", err)
	}
}

// deviceID returns the configured device id, or the one generated on an
// earlier start, or generates and keeps a new one.
func (d *daemon) deviceID(ctx context.Context, db *store.Store) (string, error) {
	if id := d.cfg.Account.DeviceID; id != "" {
		return id, nil
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

type listener struct {
	ln      net.Listener
	handler http.Handler
	log     *zap.Logger
}

// component is a long-running part of the daemon; Run returns when ctx
// is done.
type component interface {
	Run(ctx context.Context) error
}

// listen binds every configured server address before anything starts,
// so that a port in use fails the start at once, and so that READY=1 is
// only sent once clients can connect. It maps each servers entry onto its
// OneBot transport: http serves the HTTP API and posts to its webhooks,
// ws serves forward WebSocket, ws-reverse dials out.
func (d *daemon) listen(router *onebot.Router, hub *onebot.Hub) ([]listener, []component, error) {
	var out []listener
	var comps []component
	fail := func(err error) ([]listener, []component, error) {
		for _, l := range out {
			_ = l.ln.Close()
		}
		return nil, nil, err
	}
	userAgent := "yunhu-onebot/" + versionString()
	// A request carries at most one media file of max-media-size, as
	// base64 (4/3 larger), plus the rest of the message.
	maxRequest := d.cfg.Message.MaxMediaBytes()*4/3 + 1<<20
	for i, s := range d.cfg.Servers {
		var kind, addr string
		switch {
		case s.HTTP != nil:
			kind, addr = "http", s.HTTP.Address
		case s.WS != nil:
			kind, addr = "ws", s.WS.Address
		case s.WSReverse != nil:
			r := s.WSReverse
			comps = append(comps, onebot.NewWSReverse(onebot.WSReverseOptions{
				Router:            router,
				Hub:               hub,
				Log:               d.log.Named("ws-reverse").With(zap.Int("server", i)),
				Universal:         r.Universal,
				API:               r.API,
				Event:             r.Event,
				AccessToken:       r.AccessToken,
				ReconnectInterval: r.ReconnectDuration(),
				UserAgent:         userAgent,
				Conn:              onebot.ConnOptions{QueueSize: r.BufferSize, MaxMessageBytes: maxRequest},
			}))
			continue
		default:
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fail(fmt.Errorf("servers[%d].%s.address: %w", i, kind, err))
		}
		l := d.log.Named(kind).With(zap.Stringer("address", ln.Addr()))
		var h http.Handler
		if s.HTTP != nil {
			h = onebot.NewHTTP(onebot.HTTPOptions{
				Router:       router,
				Log:          l,
				AccessToken:  s.HTTP.AccessToken,
				Address:      s.HTTP.Address,
				Timeout:      s.HTTP.TimeoutDuration(),
				MaxBodyBytes: maxRequest,
			})
			for _, p := range s.HTTP.Post {
				comps = append(comps, onebot.NewHTTPPost(onebot.HTTPPostOptions{
					Router:     router,
					Hub:        hub,
					Log:        d.log.Named("http-post"),
					URL:        p.URL,
					Secret:     p.Secret,
					Timeout:    p.TimeoutDuration(),
					MaxRetries: p.MaxRetries,
					UserAgent:  userAgent,
				}))
			}
		} else {
			ws := onebot.NewWSServer(onebot.WSOptions{
				Router:      router,
				Hub:         hub,
				Log:         l,
				AccessToken: s.WS.AccessToken,
				Address:     s.WS.Address,
				Conn:        onebot.ConnOptions{MaxMessageBytes: maxRequest},
				MaxConns:    d.cfg.Limits.MaxWSConnections,
				BufferSize:  s.WS.BufferSize,
			})
			h = ws
			comps = append(comps, ws)
		}
		out = append(out, listener{ln: ln, handler: h, log: l})
		l.Info("listening")
	}
	return out, comps, nil
}

// serveHTTP serves h on ln until ctx is done, then gives open requests
// shutdownGrace to finish before closing what is left.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, log *zap.Logger) error {
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
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still open at shutdown; closing them", zap.Error(err))
		_ = srv.Close()
	}
	<-errc
	return nil
}

// setMemoryLimit sets the process's soft memory limit from limits.memory
// (the GC works harder as the heap nears it, so a burst of requests is
// collected before it doubles in size) unless the operator set
// GOMEMLIMIT, which the runtime has already applied. It returns the
// function that restores the previous limit.
func (d *daemon) setMemoryLimit() (restore func()) {
	getenv := d.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := getenv("GOMEMLIMIT"); v != "" {
		d.log.Info("memory limit from GOMEMLIMIT", zap.String("GOMEMLIMIT", v))
		return func() {}
	}
	limit := d.cfg.Limits.MemoryBytes()
	prev := debug.SetMemoryLimit(limit)
	d.log.Info("memory limit", zap.Int64("MiB", limit>>20),
		zap.Int64("request_MiB", d.cfg.Limits.MaxRequestBytes()>>20))
	return func() { debug.SetMemoryLimit(prev) }
}

// memoryReturner gives memory back to the system after a burst. The Go
// runtime keeps freed heap memory mapped and returns it slowly, so after a
// spike the RSS stays high for minutes; every interval this checks how much
// heap memory is kept beyond what is live, and when it is well beyond (the
// heap has shrunk from its peak), calls debug.FreeOSMemory: a full GC, then
// all free memory goes back at once. Under steady load the heap stays near
// its goal (about twice the live heap) and nothing is done.
type memoryReturner struct {
	log   *zap.Logger
	every time.Duration
}

func (m memoryReturner) Run(ctx context.Context) error {
	samples := []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	read := func() (cycles, live, kept uint64) {
		metrics.Read(samples)
		for _, s := range samples {
			if s.Value.Kind() != metrics.KindUint64 {
				return 0, 0, 0 // not provided by this runtime: never act
			}
		}
		return samples[0].Value.Uint64(), samples[1].Value.Uint64(),
			samples[2].Value.Uint64() + samples[3].Value.Uint64() + samples[4].Value.Uint64()
	}
	t := time.NewTicker(m.every)
	defer t.Stop()
	// base is what was kept after the last FreeOSMemory (or at start),
	// lowered as the heap shrinks by itself; floor is the least ever kept.
	lastCycles, _, base := read()
	lastKept, floor := base, base
	sinceFree := 0 // ticks
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cycles, live, kept := read()
		sinceFree++
		// shrunk: the last GC found far less live than is kept.
		shrunk := kept > 2*live+memorySlack
		// quiet: neither a GC nor heap growth since the last look. With
		// much more kept than after the last release, a burst may have
		// ended and left garbage no GC has found yet (live is from before
		// its end); one GC of a quiet process is cheap. If the GC finds
		// the memory still live, base rises, and it is tried again only
		// after recheckTicks, against the floor. A process that allocates
		// steadily is left to its own GCs.
		quiet := cycles == lastCycles && kept <= lastKept &&
			(kept > base+memorySlack || (sinceFree >= recheckTicks && kept > floor+memorySlack))
		lastCycles, lastKept, base, floor = cycles, kept, min(base, kept), min(floor, kept)
		if shrunk || quiet {
			debug.FreeOSMemory()
			lastCycles, live, base = read()
			lastKept, floor, sinceFree = base, min(floor, base), 0
			m.log.Debug("gave freed memory back to the system",
				zap.Uint64("kept_MiB", kept>>20), zap.Uint64("now_MiB", base>>20), zap.Uint64("live_MiB", live>>20))
		}
	}
}

// sandboxPath keeps the simulator's data apart from a real account's:
// data/yunhu-onebot.db becomes data/yunhu-onebot.sandbox.db.
func sandboxPath(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + ".sandbox" + ext
}
