package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/config"
)

func noEnv(string) string { return "" }

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// TestSampleConfig loads the annotated sample at the repository root: it
// must be valid and must spell out exactly the defaults.
func TestSampleConfig(t *testing.T) {
	cfg, err := config.Load(filepath.Join("..", "config.yaml"), noEnv)
	if err != nil {
		t.Fatalf("sample config rejected:\n%v", err)
	}
	want := config.Default()
	got := *cfg
	if len(got.Servers) != 2 || got.Servers[0].HTTP == nil || got.Servers[1].WS == nil {
		t.Fatalf("sample servers = %+v, want one http and one ws entry", got.Servers)
	}
	if a := got.Servers[0].HTTP.Address; a != "127.0.0.1:5700" {
		t.Errorf("sample http address = %q", a)
	}
	if a := got.Servers[1].WS.Address; a != "127.0.0.1:6700" {
		t.Errorf("sample ws address = %q", a)
	}
	got.Servers = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sample differs from the defaults:\n got %+v\nwant %+v", got, want)
	}
}

// TestSampleDocumentsEveryKey keeps the sample honest: every key of the
// schema appears in it (commented out or not).
func TestSampleDocumentsEveryKey(t *testing.T) {
	data, err := readFile(filepath.Join("..", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	collectKeys(reflect.TypeFor[config.Config](), &keys)
	for _, k := range keys {
		if !strings.Contains(data, k+":") {
			t.Errorf("config.yaml does not mention key %q", k)
		}
	}
}

func collectKeys(t reflect.Type, keys *[]string) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "-" {
			continue // not read from the file (Config.Warnings)
		}
		*keys = append(*keys, name)
		collectKeys(t.Field(i).Type, keys)
	}
}

// TestEmptyFileIsDefaults: a file that says nothing gets every default,
// including the README's two listeners on loopback (HTTP 5700, WS 6700).
func TestEmptyFileIsDefaults(t *testing.T) {
	want := config.Default()
	want.Servers = config.DefaultServers()
	for _, src := range []string{"", "# nothing\n", "---\n", "servers:\n", "servers: ~\n"} {
		cfg, err := config.Parse("c.yaml", []byte(src), noEnv)
		if err != nil {
			t.Fatalf("Parse(%q): %v", src, err)
		}
		if len(cfg.Servers) != 2 || cfg.Servers[0].HTTP.Address != "127.0.0.1:5700" || cfg.Servers[1].WS.Address != "127.0.0.1:6700" {
			t.Errorf("Parse(%q) servers = %+v, want http 127.0.0.1:5700 and ws 127.0.0.1:6700", src, cfg.Servers)
		}
		if !reflect.DeepEqual(*cfg, want) {
			t.Errorf("Parse(%q) = %+v, want defaults", src, *cfg)
		}
	}
}

func TestDecodesEveryKind(t *testing.T) {
	src := `
account:
  token: abc
  platform: android
yunhu:
  timeout: 7
heartbeat:
  interval: 0
message:
  post-format: array
  report-self-message: yes
servers:
  - http:
      address: 127.0.0.1:5701
      access-token: s3cret
      post:
        - url: http://127.0.0.1:9000/hook
          secret: k
        - url: https://example.com/x
          max-retries: 0
  - ws:
      address: "[::1]:6701"
  - ws-reverse:
      universal: ws://127.0.0.1:8080/ws
      reconnect-interval: 500
`
	cfg, err := config.Parse("c.yaml", []byte(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Account.Token != "abc" || cfg.Account.Platform != "android" {
		t.Errorf("account = %+v", cfg.Account)
	}
	if cfg.Yunhu.TimeoutDuration() != 7*time.Second || cfg.Yunhu.APIURL != "https://chat-go.jwzhd.com" {
		t.Errorf("yunhu = %+v", cfg.Yunhu)
	}
	if cfg.Heartbeat.IntervalDuration() != 0 {
		t.Errorf("heartbeat 0 must stay 0 (off), got %v", cfg.Heartbeat.Interval)
	}
	if cfg.Message.PostFormat != "array" || !cfg.Message.ReportSelfMessage {
		t.Errorf("message = %+v", cfg.Message)
	}
	h := cfg.Servers[0].HTTP
	if h == nil || h.Address != "127.0.0.1:5701" || h.AccessToken != "s3cret" || h.Timeout != 60 {
		t.Fatalf("http = %+v", h)
	}
	if len(h.Post) != 2 {
		t.Fatalf("post = %+v", h.Post)
	}
	if p := h.Post[0]; p.URL != "http://127.0.0.1:9000/hook" || p.Secret != "k" || p.Timeout != 5 || p.MaxRetries != 3 {
		t.Errorf("post[0] = %+v, want defaults for timeout and retries", p)
	}
	if p := h.Post[1]; p.MaxRetries != 0 {
		t.Errorf("post[1].max-retries = %d, want the explicit 0", p.MaxRetries)
	}
	if w := cfg.Servers[1].WS; w == nil || w.Address != "[::1]:6701" || w.BufferSize != 1024 {
		t.Errorf("ws = %+v, want buffer-size's default 1024", w)
	}
	off, err := config.Parse("c.yaml", []byte("servers:\n  - ws:\n      buffer-size: 0\n"), noEnv)
	if err != nil || off.Servers[0].WS.BufferSize != 0 {
		t.Errorf("ws buffer-size 0 must stay 0 (off): %+v %v", off.Servers[0].WS, err)
	}
	r := cfg.Servers[2].WSReverse
	if r == nil || r.Universal != "ws://127.0.0.1:8080/ws" || r.ReconnectDuration() != 500*time.Millisecond || r.BufferSize != 1024 {
		t.Errorf("ws-reverse = %+v", r)
	}
}

func TestEnvironment(t *testing.T) {
	src := `
account:
  token: ${TOKEN}
yunhu:
  api-url: ${API:-http://127.0.0.1:1}
  timeout: ${TIMEOUT}
servers:
  - ws:
      access-token: "${WS_TOKEN:fallback}"
`
	cfg, err := config.Parse("c.yaml", []byte(src), env(map[string]string{"TOKEN": "from-env", "TIMEOUT": "9"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Account.Token != "from-env" || cfg.Yunhu.APIURL != "http://127.0.0.1:1" || cfg.Yunhu.Timeout != 9 {
		t.Errorf("expansion: account=%+v yunhu=%+v", cfg.Account, cfg.Yunhu)
	}
	if got := cfg.Servers[0].WS.AccessToken; got != "fallback" {
		t.Errorf("default expansion = %q", got)
	}

	cfg, err = config.Parse("c.yaml", []byte(src), env(map[string]string{"TOKEN": "a", "TIMEOUT": "9", "YUNHU_TOKEN": "override"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Account.Token != "override" {
		t.Errorf("YUNHU_TOKEN must override account.token, got %q", cfg.Account.Token)
	}
}

// TestProblems checks that each kind of mistake is reported with its path,
// its line and a reason.
func TestProblems(t *testing.T) {
	cases := []struct {
		name, src string
		want      string // expected complete first problem
	}{
		{"misspelt key", "account:\n  tokn: x\n", "c.yaml:2: account.tokn: unknown key (did you mean token?)"},
		{"unknown section", "acount:\n  token: x\n", "c.yaml:1: acount: unknown key (did you mean account?)"},
		{"unknown deep key", "servers:\n  - http:\n      adress: 127.0.0.1:1\n", "c.yaml:3: servers[0].http.adress: unknown key (did you mean address?)"},
		{"wrong type int", "yunhu:\n  timeout: soon\n", `c.yaml:2: yunhu.timeout: expected a whole number, got "soon"`},
		{"wrong type bool", "message:\n  report-self-message: maybe\n", `c.yaml:2: message.report-self-message: expected true or false, got "maybe"`},
		{"mapping for scalar", "account:\n  token:\n    a: b\n", "c.yaml:3: account.token: expected a single value, got a mapping"},
		{"scalar for list", "servers: http\n", `c.yaml:1: servers: expected a list, got "http"`},
		{"post-format", "message:\n  post-format: xml\n", `c.yaml:2: message.post-format: "xml" is not string or array`},
		{"port range", "servers:\n  - ws:\n      address: 127.0.0.1:70000\n", "c.yaml:3: servers[0].ws.address: port 70000 out of range (0 to 65535)"},
		{"no port", "servers:\n  - ws:\n      address: localhost\n", `c.yaml:3: servers[0].ws.address: "localhost" is not host:port`},
		{"ws buffer", "servers:\n  - ws:\n      buffer-size: -1\n", "c.yaml:3: servers[0].ws.buffer-size: -1 is out of range (0 to 1000000 events)"},
		{"two kinds", "servers:\n  - http: {}\n    ws: {}\n", "c.yaml:2: servers[0]: holds http and ws; each entry holds exactly one kind"},
		{"empty entry", "servers:\n  - {}\n", "c.yaml:2: servers[0]: needs one of http, ws or ws-reverse"},
		{"reverse scheme", "servers:\n  - ws:\n      address: 127.0.0.1:1\n  - http:\n      address: 127.0.0.1:2\n  - ws-reverse:\n      universal: http://x/ws\n",
			`c.yaml:7: servers[2].ws-reverse.universal: "http://x/ws" is not a ws:// or wss:// URL`},
		{"reverse both", "servers:\n  - ws-reverse:\n      universal: ws://a/\n      api: ws://b/\n", "c.yaml:2: servers[0].ws-reverse: set universal, or api and event, not both"},
		{"reverse none", "servers:\n  - ws-reverse:\n      reconnect-interval: 1000\n", "c.yaml:2: servers[0].ws-reverse: needs universal, or api and/or event"},
		{"reconnect too fast", "servers:\n  - ws-reverse:\n      universal: ws://a/\n      reconnect-interval: 5\n", "c.yaml:4: servers[0].ws-reverse.reconnect-interval: 5 is out of range (100 to 3600000 milliseconds)"},
		{"post url", "servers:\n  - http:\n      post:\n        - url: ftp://x/\n", `c.yaml:4: servers[0].http.post[0].url: "ftp://x/" is not a http:// or https:// URL`},
		{"post no url", "servers:\n  - http:\n      post:\n        - secret: x\n", "c.yaml:4: servers[0].http.post[0].url: must be set"},
		{"same address", "servers:\n  - http:\n      address: 127.0.0.1:5000\n  - ws:\n      address: 127.0.0.1:5000\n", "c.yaml:5: servers[1].ws.address: 127.0.0.1:5000 is already used by servers[0].http.address"},
		{"metrics address", "metrics:\n  address: nope\n", `c.yaml:2: metrics.address: "nope" is not host:port`},
		{"metrics on a server's address", "servers:\n  - ws:\n      address: 127.0.0.1:6700\nmetrics:\n  address: 127.0.0.1:6700\n",
			"c.yaml:5: metrics.address: 127.0.0.1:6700 is already used by servers[0].ws.address"},
		{"platform", "account:\n  platform: Windows\n", `c.yaml:2: account.platform: "Windows" is not one of windows, macos, android, linux, ios, fuchsia, Web`},
		{"log level", "log:\n  level: verbose\n", `c.yaml:2: log.level: "verbose" is not debug, info, warn or error`},
		{"negative", "heartbeat:\n  interval: -1\n", `c.yaml:2: heartbeat.interval: -1 is go-cqhttp's "off"; write 0 to turn heartbeats off here`},
		{"above range", "heartbeat:\n  interval: 100000\n", "c.yaml:2: heartbeat.interval: 100000 is out of range (0 to 86400 seconds)"},
		{"servers: []", "servers: []\n", "c.yaml:1: servers: is empty, so no bot could connect"},
		{"duplicate key", "log:\n  level: info\n  level: debug\n", "c.yaml:3: log.level: key given twice"},
		{"bad yaml", "account: [\n", "c.yaml: not valid YAML"},
		{"unterminated var", "account:\n  token: ${X\n", `c.yaml:2: account.token: unterminated ${ in "${X"`},
		{"api url", "yunhu:\n  api-url: chat-go.jwzhd.com\n", `c.yaml:2: yunhu.api-url: "chat-go.jwzhd.com" is not a http:// or https:// URL`},
		{"max-actions", "limits:\n  max-actions: 0\n", "c.yaml:2: limits.max-actions: 0 is out of range (1 to 1000000 actions)"},
		{"request memory below one media request", "limits:\n  max-request-memory: 64\n",
			"c.yaml:2: limits.max-request-memory: 64 MiB cannot hold one request with a 30 MiB media file (message.max-media-size) as a WebSocket frame; need at least 84 MiB"},
		{"request memory follows max-media-size", "message:\n  max-media-size: 100\n",
			"c.yaml: limits.max-request-memory: 128 MiB cannot hold one request with a 100 MiB media file (message.max-media-size) as a WebSocket frame; need at least 270 MiB"},
		{"ws connections", "limits:\n  max-ws-connections: -1\n", "c.yaml:2: limits.max-ws-connections: -1 is out of range (1 to 100000 connections)"},
		{"memory below requests", "limits:\n  memory: 100\n",
			"c.yaml:2: limits.memory: 100 MiB leaves no room beside limits.max-request-memory (128 MiB); use 0 (derived) or at least 192 MiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("c.yaml", []byte(tc.src), noEnv)
			var cerr *config.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse error = %v (%T), want *config.Error", err, err)
			}
			first := cerr.Problems[0].Error()
			if !strings.HasPrefix(first, tc.want) {
				t.Errorf("first problem:\n got %s\nwant %s", first, tc.want)
			}
		})
	}
}

// TestAllProblemsAtOnce: an operator fixes a file in one pass, not one
// error per restart.
func TestAllProblemsAtOnce(t *testing.T) {
	src := "log:\n  level: loud\n  formt: json\nmessage:\n  post-format: xml\n"
	_, err := config.Parse("c.yaml", []byte(src), noEnv)
	var cerr *config.Error
	if !errors.As(err, &cerr) || len(cerr.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
	lines := []int{cerr.Problems[0].Line, cerr.Problems[1].Line, cerr.Problems[2].Line}
	if !reflect.DeepEqual(lines, []int{2, 3, 5}) {
		t.Errorf("problems not in file order: lines %v\n%v", lines, err)
	}
}

func TestMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"), noEnv)
	if !errors.Is(err, config.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestValidateInCode(t *testing.T) {
	cfg := config.Default()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	cfg.Servers = []config.Server{{WSReverse: &config.WSReverse{Universal: "ws://x/", ReconnectInterval: 1}}}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "servers[0].ws-reverse.reconnect-interval") {
		t.Errorf("Validate = %v", err)
	}
}

// TestLimits: the limits section decodes, and the memory limit is derived
// from the request memory unless it is set.
func TestLimits(t *testing.T) {
	def := config.Default().Limits
	if def.MaxRequestBytes() != 128<<20 || def.MemoryBytes() != 512<<20 {
		t.Errorf("defaults: request %d, memory %d bytes", def.MaxRequestBytes(), def.MemoryBytes())
	}
	src := "limits:\n  max-actions: 64\n  max-request-memory: 200\n  max-ws-connections: 8\n"
	cfg, err := config.Parse("c.yaml", []byte(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Limits{MaxActions: 64, MaxRequestMemory: 200, MaxWSConnections: 8}
	if cfg.Limits != want {
		t.Fatalf("limits = %+v, want %+v", cfg.Limits, want)
	}
	if got := cfg.Limits.MemoryBytes(); got != (2*200+256)<<20 {
		t.Errorf("derived memory = %d MiB, want 656", got>>20)
	}
	cfg, err = config.Parse("c.yaml", []byte("limits:\n  memory: 1024\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Limits.MemoryBytes(); got != 1024<<20 {
		t.Errorf("memory = %d MiB, want 1024", got>>20)
	}
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// TestMediaKeys: message.media decodes, defaults to the temp directory as
// the only root, takes [] to refuse file:/// media, and wants absolute
// roots.
func TestMediaKeys(t *testing.T) {
	if got := config.Default().Message.Media; !reflect.DeepEqual(got.FileRoots, []string{os.TempDir()}) || got.AllowPrivateNetworks {
		t.Errorf("default media = %+v", got)
	}
	cfg, err := config.Parse("c.yaml", []byte("message:\n  media:\n    file-roots: [/srv/pics, /var/tmp]\n    allow-private-networks: true\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.Message.Media; !reflect.DeepEqual(m.FileRoots, []string{"/srv/pics", "/var/tmp"}) || !m.AllowPrivateNetworks {
		t.Errorf("media = %+v", m)
	}
	cfg, err = config.Parse("c.yaml", []byte("message:\n  media:\n    file-roots: []\n"), noEnv)
	if err != nil || len(cfg.Message.Media.FileRoots) != 0 {
		t.Errorf("file-roots: [] = %v, %v", cfg, err)
	}
	_, err = config.Parse("c.yaml", []byte("message:\n  media:\n    file-roots:\n      - /ok\n      - pics\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), `c.yaml:5: message.media.file-roots[1]: "pics" is not an absolute path`) {
		t.Errorf("relative root: %v", err)
	}
}
