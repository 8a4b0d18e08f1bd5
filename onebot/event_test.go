package onebot

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestHeartbeat(t *testing.T) {
	hub, _ := newHub(nil, 42)
	s := hub.subscribe("s", 8, dropOldest)
	defer hub.unsubscribe(s)
	s.online.Store(true)
	start(t, NewHeartbeat(HeartbeatOptions{Hub: hub, Interval: 20 * time.Millisecond,
		Status: func() (bool, bool) { return true, false }}).Run)
	var e event
	select {
	case e = <-s.ch:
	case <-time.After(wait):
		t.Fatal("no heartbeat")
	}
	var hb map[string]any
	_ = json.Unmarshal(e.data, &hb)
	status, _ := hb["status"].(map[string]any)
	if !e.heartbeat || hb["post_type"] != "meta_event" || hb["meta_event_type"] != "heartbeat" ||
		hb["self_id"] != 42.0 || hb["interval"] != 20.0 || status["online"] != true || status["good"] != false {
		t.Errorf("heartbeat %s", e.data)
	}
}

func TestHeartbeatOff(t *testing.T) {
	hub, _ := newHub(nil, 42)
	s := hub.subscribe("s", 8, dropOldest)
	defer hub.unsubscribe(s)
	s.online.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := NewHeartbeat(HeartbeatOptions{Hub: hub}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(s.ch) != 0 {
		t.Fatal("a heartbeat with interval 0")
	}
}

// TestDefaultStatusFollowsLogin: without a Status func, online and good
// follow whether the account id is known.
func TestDefaultStatusFollowsLogin(t *testing.T) {
	hub, id := newHub(nil, 0)
	h := NewHeartbeat(HeartbeatOptions{Hub: hub})
	if on, good := h.opts.Status(); on || good {
		t.Error("online before login")
	}
	id.set(5)
	if on, good := h.opts.Status(); !on || !good {
		t.Error("offline after login")
	}
}

// TestImports: onebot is platform-neutral; it must never import the
// platform client, the store or the bridge.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v: %s", err, out)
	}
	const mod = "github.com/yunhu-onebot/yunhu-onebot/"
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"yunhu", "store", "bridge", "config"} {
			if dep == mod+bad || strings.HasPrefix(dep, mod+bad+"/") {
				t.Errorf("onebot depends on %s", dep)
			}
		}
	}
}
