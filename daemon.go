package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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

	"github.com/yunhu-onebot/yunhu-onebot/app"
	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

const (
	// stopTimeout bounds a graceful stop; past it the process exits anyway.
	stopTimeout = 5 * time.Second
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

// daemon runs the pipeline package app builds, with what only the
// process has: the memory limit, the sandbox, systemd notifications.
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
	// app is the pipeline once built (tests read its account id).
	app atomic.Pointer[app.App]
}

// selfID is the account's OneBot id, 0 until the pipeline is built and
// the platform session has logged in.
func (d *daemon) selfID() int64 {
	if a := d.app.Load(); a != nil {
		return a.SelfID()
	}
	return 0
}

// run builds the pipeline (package app) and runs it until ctx is
// cancelled or one of its components fails; then it stops the rest and
// flushes the store. What is the daemon's own is here: the memory limit
// and its returner, the sandbox and its banner, sd_notify.
func (d *daemon) run(ctx context.Context) error {
	log := d.log
	log.Info("starting", zap.String("version", versionString()), zap.Bool("sandbox", d.sandbox))
	defer d.setMemoryLimit()()

	cfg := *d.cfg // the sandbox edits its copy
	if d.sandbox {
		cfg.Database.Path = sandboxPath(cfg.Database.Path)
		// The simulated world is new on every start; so is its database.
		if err := resetSandboxDB(cfg.Database.Path); err != nil {
			return fmt.Errorf("database.path %s: %w", cfg.Database.Path, err)
		}
		// The sandbox's simulated Yunhu serves its media on loopback.
		cfg.Message.Media.AllowPrivateNetworks = true
	}
	var sb *sandbox
	var wsb *wkSandbox // the sandbox of backend: wukongim
	var fsb *wfSandbox // the sandbox of backend: wildfire
	a, err := app.New(ctx, &cfg, app.Options{
		Log:        log,
		Version:    versionString(),
		ConfigPath: d.configPath,
		Yunhu: func(db *store.Store, o *yunhu.Options) error {
			if !d.sandbox {
				return nil
			}
			var err error
			if sb, err = newSandbox(log.Named("sandbox"), sandboxOptions{DB: cfg.Database.Path, IDs: db, Address: sandboxAddress}); err != nil {
				return err
			}
			*o = sb.clientOptions(*o)
			sb.log.Info("the simulated Yunhu listens on loopback", zap.String("url", sb.base))
			return nil
		},
		WuKongIM: func(db *store.Store, c *config.WuKongIM) error {
			if !d.sandbox {
				return nil
			}
			var err error
			if wsb, err = newWKSandbox(log.Named("sandbox"), sandboxOptions{DB: cfg.Database.Path, IDs: db, Address: sandboxAddress}); err != nil {
				return err
			}
			wsb.configure(c)
			wsb.log.Info("the simulated WuKongIM listens on loopback", zap.String("url", wsb.base))
			return nil
		},
		Wildfire: func(db *store.Store, c *config.Wildfire) error {
			if !d.sandbox {
				return nil
			}
			var err error
			if fsb, err = newWFSandbox(log.Named("sandbox"), sandboxOptions{DB: cfg.Database.Path, IDs: db, Address: sandboxAddress}); err != nil {
				return err
			}
			fsb.configure(c)
			fsb.log.Info("the simulated WildfireChat listens on loopback", zap.String("url", fsb.base))
			return nil
		},
		RunBridge: func(ctx context.Context, br *bridge.Bridge) error { return runBridge(ctx, br, cfg.Backend) },
		OnReady: func(addrs []net.Addr) {
			if err := sdNotify(d.getenv, "READY=1"); err != nil {
				log.Warn("could not tell systemd the daemon is ready", zap.Error(err))
			}
			log.Info("ready", zap.Int("listeners", len(addrs)))
			if sb != nil {
				sb.log.Info("make a simulated user talk",
					zap.String("say", sb.base+"/sandbox/say?from=alice&group="+sim.GroupOwnedID+"&text=hello"),
					zap.String("help", sb.base+"/sandbox/"))
				if d.banner != nil {
					_, _ = io.WriteString(d.banner, sb.banner(cfg.Servers, addrs))
				}
				if d.onSandbox != nil {
					d.onSandbox(sb.sim, sb.base)
				}
			}
			if fsb != nil {
				fsb.log.Info("make a simulated user talk",
					zap.String("say", fsb.base+"/sandbox/say?from=alice&group="+wfSandboxGroup+"&text=hello"),
					zap.String("help", fsb.base+"/sandbox/"))
				if d.banner != nil {
					_, _ = io.WriteString(d.banner, fsb.banner(cfg.Servers, addrs))
				}
			}
			if wsb != nil {
				wsb.log.Info("make a simulated user talk",
					zap.String("say", wsb.base+"/sandbox/say?from=alice&group="+wkSandboxGroup+"&text=hello"),
					zap.String("help", wsb.base+"/sandbox/"))
				if d.banner != nil {
					_, _ = io.WriteString(d.banner, wsb.banner(cfg.Servers, addrs))
				}
			}
			if d.onReady != nil {
				d.onReady(addrs)
			}
		},
		OnStop: func() {
			if err := sdNotify(d.getenv, "STOPPING=1"); err != nil {
				log.Warn("could not tell systemd the daemon is stopping", zap.Error(err))
			}
		},
	})
	if err != nil {
		if sb != nil {
			sb.close()
		}
		if wsb != nil {
			wsb.close()
		}
		if fsb != nil {
			fsb.close()
		}
		return err
	}
	if d.setupOneBot != nil {
		d.setupOneBot(a.Router, a.Hub)
	}
	d.app.Store(a)
	a.Add(memoryReturner{log: log.Named("memory"), every: memoryCheckInterval})
	if sb != nil {
		a.Add(sb)
	}
	if wsb != nil {
		a.Add(wsb)
	}
	if fsb != nil {
		// The callback listener follows the OneBot listeners (app.Addrs).
		bound := 0
		for _, srv := range cfg.Servers {
			if srv.HTTP != nil || srv.WS != nil {
				bound++
			}
		}
		fsb.attach(a.Backend, a.Addrs()[bound])
		a.Add(fsb)
	}
	return a.Run(ctx)
}

// runBridge runs the bridge. It returns an error only when the daemon
// cannot go on by itself: the account's token was rejected, which no
// retry fixes (systemd restarts the daemon after an operator fixes it).
func runBridge(ctx context.Context, br *bridge.Bridge, backend string) error {
	err := br.Run(ctx)
	switch {
	case err == nil || ctx.Err() != nil:
		return nil
	case errors.Is(err, platform.ErrUnauthorized) && backend == config.BackendWuKongIM:
		return fmt.Errorf("%w: register the token for wukongim.uid and wukongim.device-flag on the server (POST /user/token, or wukongim.register-token), or fix wukongim.token or WUKONGIM_TOKEN", err)
	case errors.Is(err, platform.ErrUnauthorized):
		return fmt.Errorf("%w: sign in again with -login, or put a valid token in account.token or YUNHU_TOKEN (a token stops working when the account logs out)", err)
	default:
		return fmt.Errorf("bridge: %w", err)
	}
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
