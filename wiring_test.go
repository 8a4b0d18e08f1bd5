package main

import (
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/app"
	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/e2e"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// TestE2EStackIsTheDaemon guards against a second copy of the daemon's
// wiring or defaults in e2e (which bench and interop use too): the daemon
// started from config.Default(), and e2e.Start with no options, hand every
// component the same effective settings. Only what e2e changes on purpose
// differs: the database file (each test has its own) and the heartbeat
// (off, so that a test's event stream carries only what it caused).
func TestE2EStackIsTheDaemon(t *testing.T) {
	s := sim.New(sim.Options{Log: zaptest.NewLogger(t).Named("sim")})
	ts := httptest.NewServer(s.Handler())
	// Cleanups run last first: the daemon stops before its Yunhu.
	t.Cleanup(func() {
		s.Close()
		ts.CloseClientConnections()
		ts.Close()
	})
	urls := sim.Endpoints(ts.URL)

	// A fresh install's config; only where to listen, which Yunhu and
	// which account are the test's.
	cfg := config.Default()
	cfg.Database.Path = filepath.Join(t.TempDir(), "yunhu-onebot.db")
	cfg.Account.Token = sim.DefaultToken
	cfg.Yunhu.APIURL, cfg.Yunhu.WSURL, cfg.Yunhu.UploadURL = urls.API, urls.WS, urls.Upload
	cfg.Servers = config.DefaultServers()
	cfg.Servers[0].HTTP.Address, cfg.Servers[1].WS.Address = "127.0.0.1:0", "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cfg: &cfg, log: zaptest.NewLogger(t)}
	startDaemon(t, d)
	daemonSet := d.app.Load().Settings

	stackSet := e2e.Start(t, e2e.Options{}).App.Settings

	if daemonSet.Heartbeat != cfg.Heartbeat.IntervalDuration() || daemonSet.Heartbeat == 0 {
		t.Errorf("daemon heartbeat %v, want the default %v", daemonSet.Heartbeat, cfg.Heartbeat.IntervalDuration())
	}
	if stackSet.Heartbeat != 0 {
		t.Errorf("e2e heartbeat %v, want off", stackSet.Heartbeat)
	}
	for _, set := range []*app.Settings{&daemonSet, &stackSet} {
		set.DBPath, set.DenyPaths, set.Heartbeat = "", nil, 0
	}
	if !reflect.DeepEqual(daemonSet, stackSet) {
		t.Errorf("e2e's pipeline is configured unlike the daemon's:\ndaemon %+v\ne2e    %+v", daemonSet, stackSet)
	}
	// Not vacuous: the settings carry the defaults.
	if daemonSet.MaxMediaBytes != cfg.Message.MaxMediaBytes() || daemonSet.YunhuTimeout != cfg.Yunhu.TimeoutDuration() ||
		len(daemonSet.Servers) != 2 || daemonSet.Servers[1].MaxConns != cfg.Limits.MaxWSConnections {
		t.Errorf("daemon settings %+v do not reflect config.Default()", daemonSet)
	}
}
