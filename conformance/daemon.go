package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/app"
	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// waitTimeout bounds every wait of the kit: a wait that runs out fails
// the test instead of hanging it. It bounds; it asserts nothing about
// speed.
const waitTimeout = 30 * time.Second

// maxEvents bounds the events one daemon's recorder keeps; a subtest
// causes a few dozen.
const maxEvents = 10_000

// daemon is one running daemon (package app) around a World's backend,
// with an HTTP API client and a forward WebSocket that records every
// event.
type daemon struct {
	t       *testing.T
	backend platform.Backend
	httpURL string
	http    *http.Client
	events  *recorder

	cancel   context.CancelFunc
	done     chan struct{}
	runErr   error
	stopOnce sync.Once
}

// daemonConfig is the daemon's default configuration with the database
// at dbPath, the HTTP API and forward WebSocket on loopback ports of the
// system's choosing, no heartbeat (a test's event stream carries only
// what it caused), events in array form (segments compare as data), and
// media allowed from loopback (the kit serves its images there) but not
// from files.
func daemonConfig(dbPath string) *config.Config {
	cfg := config.Default()
	cfg.Database.Path = dbPath
	cfg.Heartbeat.Interval = 0
	cfg.Message.PostFormat = "array"
	cfg.Message.Media.AllowPrivateNetworks = true
	cfg.Message.Media.FileRoots = nil
	cfg.Servers = config.DefaultServers() // the HTTP API, then the forward WebSocket
	cfg.Servers[0].HTTP.Address = "127.0.0.1:0"
	cfg.Servers[1].WS.Address = "127.0.0.1:0"
	return &cfg
}

// startDaemon builds and runs a daemon on the store file dbPath around
// the backend w builds, connects its event recorder, and returns once the
// backend is online. It is stopped when the test ends, or earlier by
// stop.
func startDaemon(t *testing.T, h Harness, w World, dbPath string) *daemon {
	t.Helper()
	d := &daemon{t: t, done: make(chan struct{})}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, daemonConfig(dbPath), app.Options{
		Log:     log,
		Version: "conformance",
		Backend: func(db *store.Store, log *zap.Logger) (platform.Backend, error) {
			b, err := w.Backend(db, log)
			d.backend = b
			return b, err
		},
	})
	if err != nil {
		cancel()
		t.Fatalf("build the daemon: %v", err)
	}
	if d.backend == nil {
		cancel()
		_ = a.Close()
		t.Fatal("the daemon was built without asking the harness for its backend")
	}
	if got, want := capabilitiesOf(d.backend), h.Capabilities(); got != want {
		cancel()
		_ = a.Close()
		t.Fatalf("the %s backend implements %+v; the harness claims %+v", d.backend.Name(), got, want)
	}
	addrs := a.Addrs() // the HTTP API, then the forward WebSocket
	d.httpURL = "http://" + addrs[0].String()
	d.http = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	d.cancel = cancel
	go func() {
		defer close(d.done)
		d.runErr = a.Run(ctx)
	}()
	t.Cleanup(d.stop)

	d.events, err = record("ws://" + addrs[1].String())
	if err != nil {
		t.Fatalf("connect the event WebSocket: %v", err)
	}
	d.waitOnline(true)
	return d
}

// stop stops the daemon and its clients, failing the test if the daemon
// ended with an error. Calls after the first do nothing.
func (d *daemon) stop() {
	d.stopOnce.Do(func() {
		d.cancel()
		select {
		case <-d.done:
		case <-time.After(waitTimeout):
			d.t.Errorf("the daemon did not stop within %v", waitTimeout)
		}
		if d.runErr != nil {
			d.t.Errorf("daemon: %v", d.runErr)
		}
		if d.events != nil {
			d.events.close()
		}
		d.http.CloseIdleConnections()
	})
}

// reply is a OneBot action response.
type reply struct {
	Status  string          `json:"status"`
	Retcode int             `json:"retcode"`
	Data    json.RawMessage `json:"data"`
	Message string          `json:"message"`
	Wording string          `json:"wording"`
}

// call calls action over the HTTP API with params (marshalled to JSON).
func (d *daemon) call(action string, params any) reply {
	d.t.Helper()
	if params == nil {
		params = struct{}{}
	}
	body, err := json.Marshal(params)
	if err != nil {
		d.t.Fatalf("%s: marshal params: %v", action, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.httpURL+"/"+action, bytes.NewReader(body))
	if err != nil {
		d.t.Fatalf("%s: %v", action, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.http.Do(req)
	if err != nil {
		d.t.Fatalf("%s: %v", action, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		d.t.Fatalf("%s: read the answer: %v", action, err)
	}
	var r reply
	if err := json.Unmarshal(raw, &r); err != nil || r.Status == "" {
		d.t.Fatalf("%s: HTTP %d, not a OneBot response: %s", action, resp.StatusCode, shorten(raw))
	}
	return r
}

// must calls an action that must succeed and returns its data.
func (d *daemon) must(action string, params any) gjson.Result {
	d.t.Helper()
	r := d.call(action, params)
	if r.Retcode != 0 || r.Status != "ok" {
		d.t.Fatalf("%s %s: %s (retcode %d) %s", action, mustJSON(params), r.Status, r.Retcode, r.Message)
	}
	return gjson.ParseBytes(r.Data)
}

// waitOnline waits until get_status says the backend is online (or
// offline).
func (d *daemon) waitOnline(online bool) {
	d.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for d.must("get_status", nil).Get("online").Bool() != online {
		if time.Now().After(deadline) {
			d.t.Fatalf("gave up after %v waiting for get_status online=%v", waitTimeout, online)
		}
		// get_status is a poll by nature: no event announces the status.
		time.Sleep(5 * time.Millisecond)
	}
}

// recorder keeps every event a forward WebSocket receives, in order.
type recorder struct {
	conn *websocket.Conn

	mu      sync.Mutex
	list    []gjson.Result
	changed chan struct{} // closed and replaced at every change
	err     error         // why the reader stopped

	done chan struct{}
}

// record connects to a forward WebSocket and starts recording its events
// (the lifecycle connect frame is left out).
func record(url string) (*recorder, error) {
	dialer := websocket.Dialer{HandshakeTimeout: waitTimeout}
	conn, _, err := dialer.Dial(url, nil)
	if err != nil {
		return nil, err
	}
	r := &recorder{conn: conn, changed: make(chan struct{}), done: make(chan struct{})}
	go r.read()
	return r, nil
}

func (r *recorder) read() {
	defer close(r.done)
	for {
		_, raw, err := r.conn.ReadMessage()
		r.mu.Lock()
		switch {
		case err != nil:
			r.err = err
		case len(r.list) >= maxEvents:
			r.err = fmt.Errorf("more than %d events", maxEvents)
		default:
			ev := gjson.ParseBytes(raw)
			if ev.Get("meta_event_type").Str != "lifecycle" {
				r.list = append(r.list, ev)
			}
		}
		stopped := r.err != nil
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
		if stopped {
			return
		}
	}
}

// close closes the connection and waits for the reader.
func (r *recorder) close() {
	_ = r.conn.Close()
	<-r.done
}

// wait waits until cond holds for the events so far and returns them,
// failing the test after waitTimeout or if the connection ends first.
func (r *recorder) wait(t *testing.T, what string, cond func([]gjson.Result) bool) []gjson.Result {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		list, changed, err := r.list, r.changed, r.err
		r.mu.Unlock()
		if cond(list) {
			return list
		}
		if err != nil {
			t.Fatalf("waiting for %s: the event WebSocket ended: %v", what, err)
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("gave up after %v waiting for %s; events so far:\n%s", waitTimeout, what, dump(list))
		}
	}
}

// snapshot returns the events so far.
func (r *recorder) snapshot() []gjson.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.list
}

func dump(list []gjson.Result) string {
	var b bytes.Buffer
	for _, ev := range list {
		b.WriteString(shorten([]byte(ev.Raw)))
		b.WriteByte('\n')
	}
	return b.String()
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return shorten(b)
}

// shorten cuts b for an error message.
func shorten(b []byte) string {
	const max = 400
	if len(b) > max {
		return fmt.Sprintf("%s… (%d bytes)", b[:max], len(b))
	}
	return string(b)
}

// dbPath is a fresh store file for one subtest.
func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "onebot.db") }
