package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// TestDaemonMediaRules runs the daemon as an operator does, in sandbox
// mode (which lets media come from loopback, where its simulated Yunhu
// serves them), with the whole test directory as the media root, and
// sends what a bot holding the access token could send to read the
// daemon's secrets. Each is refused; the sandbox's own media still work.
func TestDaemonMediaRules(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Message.Media.FileRoots = []string{dir}
	etc := filepath.Join(dir, "etc")
	if err := os.Mkdir(etc, 0o700); err != nil {
		t.Fatal(err)
	}
	cfgFile, envFile, ok := filepath.Join(etc, "config.yaml"), filepath.Join(etc, "env"), filepath.Join(dir, "notes.txt")
	for p, body := range map[string]string{cfgFile: "account:\n  token: tok-123456789\n", envFile: "YUNHU_TOKEN=tok-123456789\n", ok: "notes\n"} {
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addrs := make(chan []net.Addr, 1)
	sandboxes := make(chan string, 1)
	d := &daemon{
		cfg: cfg, log: zaptest.NewLogger(t), sandbox: true, configPath: cfgFile,
		getenv:    func(string) string { return "" },
		onReady:   func(a []net.Addr) { addrs <- a },
		onSandbox: func(_ *sim.Server, base string) { sandboxes <- base },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	var bound []net.Addr
	select {
	case bound = <-addrs:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	base := <-sandboxes
	waitLoggedIn(t, d)
	api := "http://" + bound[0].String()
	_, port, _ := net.SplitHostPort(bound[0].String())

	send := func(typ, ref string) (int, string) {
		t.Helper()
		msg, _ := json.Marshal([]any{map[string]any{"type": typ, "data": map[string]any{"file": ref}}})
		body := `{"user_id":` + sim.AliceID + `,"message":` + string(msg) + `}`
		req, _ := http.NewRequest(http.MethodPost, api+"/send_private_msg", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer http-secret-abc")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var r struct {
			Retcode int    `json:"retcode"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("%s: %s", ref, raw)
		}
		if strings.Contains(string(raw), "tok-123456789") || strings.Contains(string(raw), "http-secret-abc") {
			t.Errorf("%s: the answer carries a secret: %s", ref, raw)
		}
		return r.Retcode, r.Message
	}

	// A file segment takes any bytes, so each refusal is the rules'.
	for _, ref := range []string{
		"file://" + cfgFile,
		"file://" + envFile,
		"file://" + sandboxPath(cfg.Database.Path),
		"file:///proc/self/environ",
		"file://" + filepath.Join(dir, "etc", "..", "etc", "env"),
	} {
		if code, msg := send("file", ref); code != 1400 || !strings.HasSuffix(msg, "no such file under message.media.file-roots") {
			t.Errorf("%s: %d %q", ref, code, msg)
		}
	}
	for _, ref := range []string{
		api + "/get_login_info?access_token=http-secret-abc",
		"http://localhost:" + port + "/get_login_info?access_token=http-secret-abc",
		"http://" + bound[1].String() + "/",
	} {
		if code, msg := send("file", ref); code != 1400 || !strings.Contains(msg, "this daemon's own listener") {
			t.Errorf("%s: %d %q", ref, code, msg)
		}
	}
	if code, msg := send("file", base+"/sandbox/world"); code != 1400 || !strings.Contains(msg, "HTTP 403") {
		t.Errorf("the sandbox's control API: %d %q", code, msg)
	}

	// What is allowed goes out: a file in the root, and the sandbox's own
	// media by URL (an image sent, then sent again from its CDN URL).
	if code, msg := send("file", "file://"+ok); code != 0 {
		t.Errorf("a file in the root: %d %q", code, msg)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	if code, msg := send("image", "base64://"+base64.StdEncoding.EncodeToString(buf.Bytes())); code != 0 {
		t.Fatalf("an image: %d %q", code, msg)
	}
	key := md5PNGKey(buf.Bytes())
	if code, msg := send("image", sim.Endpoints(base).ImageCDN+key); code != 0 {
		t.Errorf("the sandbox's own media: %d %q", code, msg)
	}
}

func md5PNGKey(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:]) + ".png"
}
