package config_test

import (
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/config"
)

// TestGoCQHTTPKeysGetHints: the keys a go-cqhttp config.yml brings along
// are explained, not answered with the nearest key name.
func TestGoCQHTTPKeysGetHints(t *testing.T) {
	src := `account:
  uin: 1233456
  password: ''
output:
  log-level: warn
servers:
  - http:
      host: 0.0.0.0
      port: 5700
      middlewares:
        access-token: abc
  - ws-reverse:
      universal: ws://127.0.0.1:8080/onebot/v11/ws
      middlewares:
        access-token: abc
message:
  fix-url: false
heartbeat:
  interval: -1
`
	_, err := config.Parse("c.yaml", []byte(src), noEnv)
	if err == nil {
		t.Fatal("a go-cqhttp config passed")
	}
	got := err.Error()
	for _, want := range []string{
		"c.yaml:2: account.uin: unknown key (go-cqhttp's QQ number: a Yunhu account is known by its token alone",
		"c.yaml:3: account.password: unknown key (go-cqhttp's QQ login",
		"c.yaml:4: output: unknown key (go-cqhttp's output: write log.level",
		"c.yaml:8: servers[0].http.host: unknown key (go-cqhttp's host/port: write address: host:port)",
		"c.yaml:9: servers[0].http.port: unknown key (go-cqhttp's host/port: write address: host:port)",
		"c.yaml:10: servers[0].http.middlewares: unknown key (access-token sits directly in the server entry here)",
		"c.yaml:14: servers[1].ws-reverse.middlewares: unknown key (access-token sits directly in the server entry here)",
		"c.yaml:17: message.fix-url: unknown key (go-cqhttp's QQ-specific message setting; no equivalent here)",
		`c.yaml:19: heartbeat.interval: -1 is go-cqhttp's "off"; write 0`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "did you mean") {
		t.Errorf("a go-cqhttp key got a guess instead of its hint:\n%s", got)
	}
}

// TestWarnings: valid but likely wrong settings come back as warnings
// with their lines: an exposed listener without a token, an unset ${VAR}.
func TestWarnings(t *testing.T) {
	src := `account:
  token: ${YUNHU_TOKEN_FILE_VAR}
servers:
  - http:
      address: 0.0.0.0:5700
  - ws:
      address: "[::]:6700"
      access-token: set
  - ws:
      address: 127.0.0.1:6701
  - http:
      address: ":5701"
      access-token: ${HTTP_TOKEN:-fallback}
  - ws:
      address: 192.0.2.10:6702
`
	cfg, err := config.Parse("c.yaml", []byte(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range cfg.Warnings {
		got = append(got, w.Error())
	}
	want := []string{
		"c.yaml:2: account.token: ${YUNHU_TOKEN_FILE_VAR} is not set in the environment, so this is empty",
		"c.yaml:5: servers[0].http.address: 0.0.0.0:5700 is reachable beyond this host and has no access-token",
		"c.yaml:15: servers[4].ws.address: 192.0.2.10:6702 is reachable beyond this host and has no access-token",
	}
	if len(got) != len(want) {
		t.Fatalf("warnings:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d:\n got %s\nwant %s…", i, got[i], want[i])
		}
	}

	// The defaults and the sample warn about nothing.
	for _, src := range []string{"", "servers:\n  - http: {}\n  - ws:\n      address: localhost:6700\n"} {
		cfg, err := config.Parse("c.yaml", []byte(src), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Warnings) != 0 {
			t.Errorf("Parse(%q) warns: %v", src, cfg.Warnings)
		}
	}
}
