package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/config"
)

// TestWuKongIMSection: the wukongim section is checked only when it is
// the backend, its mistakes are named by path, the token comes from the
// environment when set there, and an HTTP API reached beyond loopback
// without TLS is warned about (it has no authentication).
func TestWuKongIMSection(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	// Not the backend: the section is not read.
	if _, err := config.Parse("c.yaml", []byte("wukongim:\n  device-flag: 9\n"), env(nil)); err != nil {
		t.Fatalf("an unused section was checked: %v", err)
	}

	cfg, err := config.Parse("c.yaml", []byte("backend: wukongim\nwukongim:\n  uid: bot1\n  token: file\n"), env(map[string]string{"WUKONGIM_TOKEN": "from-env"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WuKongIM.Token != "from-env" || cfg.WuKongIM.DeviceFlag != 2 || cfg.WuKongIM.APIURL != "http://127.0.0.1:5011" || len(cfg.Warnings) != 0 {
		t.Errorf("section %+v, warnings %v", cfg.WuKongIM, cfg.Warnings)
	}

	_, err = config.Parse("c.yaml", []byte(`backend: wukongim
wukongim:
  api-url: ftp://x
  device-flag: 3
  media:
    address: 127.0.0.1:5790
  groups:
    - name: nameless
`), env(nil))
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("bad section accepted: %v", err)
	}
	for _, want := range []string{"wukongim.api-url", "wukongim.device-flag", "wukongim.media.public-url", "wukongim.groups[0].id"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}

	cfg, err = config.Parse("c.yaml", []byte("backend: wukongim\nwukongim:\n  uid: bot1\n  api-url: http://user:pw@10.0.0.5:5011\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].Msg, "no authentication") || strings.Contains(cfg.Warnings[0].Msg, "pw") {
		t.Errorf("warnings %v: want one about the unauthenticated API, with the password masked", cfg.Warnings)
	}
}

// TestWildfireSection: the wildfire section is checked when it is the
// backend, secrets come from the environment, and mistakes are named by
// path.
func TestWildfireSection(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := config.Parse("c.yaml", []byte("backend: wildfire\nwildfire:\n  robot-id: robot1\n"), env(map[string]string{
		"WILDFIRE_ROBOT_SECRET": "rs", "WILDFIRE_ADMIN_SECRET": "as", "WILDFIRE_CALLBACK_SECRET": "0123456789abcdef0123",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Wildfire; w.RobotSecret != "rs" || w.AdminSecret != "as" || w.Callback.PathSecret != "0123456789abcdef0123" || w.Callback.Address != "127.0.0.1:5791" {
		t.Errorf("section %+v", w)
	}
	_, err = config.Parse("c.yaml", []byte(`backend: wildfire
wildfire:
  robot-url: ftp://x
  callback:
    address: nowhere
    path-secret: short
    allow: [10.0.0.0/8, not-an-ip]
    set-url: http://10.0.0.2:5791/elsewhere/message
`), env(nil))
	if err == nil {
		t.Fatal("bad section accepted")
	}
	for _, want := range []string{"wildfire.robot-url", "wildfire.callback.address", "wildfire.callback.path-secret", "wildfire.callback.allow[1]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}
