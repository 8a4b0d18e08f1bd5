package migrate_test

import (
	"os"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/migrate"
)

func noEnv(string) string { return "" }

func convert(t *testing.T, src []byte) (*config.Config, []migrate.Note, string) {
	t.Helper()
	out, notes, err := migrate.GoCQHTTP(src)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("migrated.yaml", out, noEnv)
	if err != nil {
		t.Fatalf("the converted configuration is invalid: %v\n%s", err, out)
	}
	return cfg, notes, string(out)
}

// TestTypicalConfig converts a go-cqhttp config.yml as go-cqhttp writes it
// (default-middlewares merged into each server, host+port and address,
// posts with and without a scheme, a disabled entry, a pprof server) into
// a valid configuration with the same listeners, tokens, post URLs and
// secrets, and names what has no equivalent.
func TestTypicalConfig(t *testing.T) {
	src, err := os.ReadFile("testdata/gocq-config.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, notes, out := convert(t, src)

	if len(cfg.Servers) != 3 {
		t.Fatalf("%d servers, want 3 (http, ws, ws-reverse; the disabled ws and pprof left out):\n%s", len(cfg.Servers), out)
	}
	h := cfg.Servers[0].HTTP
	if h == nil || h.Address != "127.0.0.1:5700" || h.AccessToken != "gocq-shared-token" {
		t.Errorf("servers[0] = %+v, want http on 127.0.0.1:5700 with the default-middlewares token", h)
	} else {
		if len(h.Post) != 2 {
			t.Fatalf("http posts = %+v, want 2", h.Post)
		}
		if p := h.Post[0]; p.URL != "http://127.0.0.1:8080/onebot/post" || p.Secret != "post-secret-1" || p.MaxRetries != 5 || p.Timeout != 8 {
			t.Errorf("post[0] = %+v", p)
		}
		if p := h.Post[1]; p.URL != "http://127.0.0.1:5701" || p.Secret != "" || p.MaxRetries != 3 || p.Timeout != 8 {
			t.Errorf("post[1] = %+v", p)
		}
	}
	if w := cfg.Servers[1].WS; w == nil || w.Address != "0.0.0.0:6700" || w.AccessToken != "ws-own-token" {
		t.Errorf("servers[1] = %+v, want ws on 0.0.0.0:6700 with its own token", w)
	}
	r := cfg.Servers[2].WSReverse
	if r == nil || r.Universal != "ws://127.0.0.1:8081/onebot/v11/ws" || r.API != "" || r.Event != "" ||
		r.ReconnectInterval != 5000 || r.AccessToken != "gocq-shared-token" {
		t.Errorf("servers[2] = %+v, want ws-reverse to universal alone", r)
	}
	if cfg.Message.PostFormat != "array" || !cfg.Message.ReportSelfMessage || cfg.Log.Level != "warn" || cfg.Heartbeat.Interval != 5 {
		t.Errorf("message/log/heartbeat not carried over: %+v %+v %+v", cfg.Message, cfg.Log, cfg.Heartbeat)
	}
	if cfg.Account.Token != "" {
		t.Errorf("token = %q, want empty (go-cqhttp has none)", cfg.Account.Token)
	}

	keys := map[string]bool{}
	for _, n := range notes {
		keys[n.Key] = true
		for _, secret := range []string{"gocq-shared-token", "ws-own-token", "post-secret-1", "114514"} {
			if strings.Contains(n.String(), secret) {
				t.Errorf("note shows a secret: %v", n)
			}
		}
	}
	for _, want := range []string{"account", "database", "message.remove-reply-at", "output.log-colorful",
		"servers[0].http.post[0].retries-interval", "servers[0].http.post[1].url",
		"servers[1].ws.middlewares.rate-limit", "servers[2].ws-reverse.api", "servers[3].ws", "servers[4].pprof"} {
		if !keys[want] {
			t.Errorf("no note for %s; notes: %v", want, notes)
		}
	}
	// Settings left off in go-cqhttp lose nothing and are not named.
	for _, quiet := range []string{"message.fix-url", "default-middlewares.filter", "servers[0].http.long-polling",
		"servers[0].http.middlewares.rate-limit"} {
		if keys[quiet] {
			t.Errorf("note for %s, which was off", quiet)
		}
	}
}

// TestForms covers go-cqhttp's other spellings: host and port, an IPv6
// host, heartbeat -1, no servers at all.
func TestForms(t *testing.T) {
	cfg, notes, out := convert(t, []byte(`heartbeat:
  interval: -1
servers:
  - ws:
      host: "::1"
      port: 6800
      middlewares:
        access-token: t1
  - http:
      port: 5800
`))
	if cfg.Heartbeat.Interval != 0 {
		t.Errorf("heartbeat.interval = %d, want 0 (off)", cfg.Heartbeat.Interval)
	}
	if len(notes) == 0 || notes[0].Key != "heartbeat" {
		t.Errorf("notes = %v, want the heartbeat change named", notes)
	}
	if len(cfg.Servers) != 2 || cfg.Servers[0].WS.Address != "[::1]:6800" || cfg.Servers[0].WS.AccessToken != "t1" ||
		cfg.Servers[1].HTTP.Address != "127.0.0.1:5800" {
		t.Errorf("servers:\n%s", out)
	}

	cfg, _, _ = convert(t, []byte("account:\n  uin: 1\n"))
	if len(cfg.Servers) != 2 || cfg.Servers[0].HTTP.Address != "127.0.0.1:5700" || cfg.Servers[1].WS.Address != "127.0.0.1:6700" {
		t.Errorf("no go-cqhttp servers: got %+v, want the defaults", cfg.Servers)
	}

	if _, _, err := migrate.GoCQHTTP([]byte("servers: [\n")); err == nil {
		t.Error("broken YAML converted without an error")
	}
}
