package bridge_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// The media rules (mediarules.go), each attack sent as a bot would send
// it: a send_private_msg through the router, the bridge fetching or
// reading for real, the simulator receiving whatever is uploaded.

// mediaFixture is a file tree: root is the only media root; conf holds a
// config file and an env file (as under /etc/yunhu-onebot), data a
// database; secret lies outside every root.
type mediaFixture struct {
	root, conf, config, env, data, db, secret string
}

func newMediaFixture(t *testing.T) mediaFixture {
	t.Helper()
	base := t.TempDir()
	f := mediaFixture{
		root: filepath.Join(base, "root"), conf: filepath.Join(base, "etc"), data: filepath.Join(base, "data"),
	}
	f.config, f.env = filepath.Join(f.conf, "config.yaml"), filepath.Join(f.conf, "env")
	f.db, f.secret = filepath.Join(f.data, "yunhu-onebot.db"), filepath.Join(base, "secret.png")
	for _, d := range []string{f.root, f.conf, f.data} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// Every forbidden file is a valid PNG: a refusal must come from the
	// rules, not from the kind check.
	png := pngBytes(t, 2, 2)
	for _, p := range []string{f.config, f.env, f.db, f.secret, filepath.Join(f.root, "ok.png")} {
		if err := os.WriteFile(p, png, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f mediaFixture) options(o *bridge.Options) {
	o.Media.FileRoots = []string{f.root}
	o.Media.DenyPaths = []string{f.config, f.db}
}

// sendImage sends an image segment naming ref; it returns the response
// message ("" on success) and whether anything was uploaded.
func sendImage(e *actEnv, ref string) (msg string, uploaded bool) {
	e.t.Helper()
	before := countRequests(e, sim.PathUpload)
	r := e.call("send_private_msg", map[string]any{"user_id": userN(e.t, sim.AliceID), "message": []any{seg("image", map[string]any{"file": ref})}})
	if r.Retcode != 0 && r.Retcode != 1400 {
		e.t.Fatalf("%s: retcode %d %s", ref, r.Retcode, r.Message)
	}
	return r.Message, countRequests(e, sim.PathUpload) != before
}

func TestMediaFileRoots(t *testing.T) {
	f := newMediaFixture(t)
	e := newActEnv(t, f.options)
	mustSymlink(t, "/etc/passwd", filepath.Join(f.root, "passwd.png"))
	mustSymlink(t, f.secret, filepath.Join(f.root, "secret.png"))
	mustSymlink(t, f.conf, filepath.Join(f.root, "etc"))
	mustSymlink(t, "/proc/self", filepath.Join(f.root, "self"))

	if msg, up := sendImage(e, "file://"+filepath.Join(f.root, "ok.png")); msg != "" || !up {
		t.Fatalf("a file in the root: %q, uploaded %v", msg, up)
	}

	forbidden := map[string]string{
		"/etc/passwd":                     "/etc/passwd",
		"/proc/self/environ":              "/proc/self/environ",
		"a file outside the roots":        f.secret,
		"the config file":                 f.config,
		"the env file beside the config":  f.env,
		"the database":                    f.db,
		"a symlink to /etc/passwd":        filepath.Join(f.root, "passwd.png"),
		"a symlink to a file outside":     filepath.Join(f.root, "secret.png"),
		"a symlink to the config dir":     filepath.Join(f.root, "etc", "config.yaml"),
		"a symlink to /proc/self":         filepath.Join(f.root, "self", "environ"),
		"the root, then ..":               f.root + "/../secret.png",
		"the root, then .. to /etc":       f.root + strings.Repeat("/..", 20) + "/etc/passwd",
		"a missing file outside":          filepath.Join(filepath.Dir(f.root), "missing.png"),
		"a missing file in a denied dir":  filepath.Join(f.conf, "missing.png"),
		"a missing file beyond a symlink": filepath.Join(f.root, "etc", "missing.png"),
	}
	for name, p := range forbidden {
		msg, up := sendImage(e, "file://"+p)
		// The same words for a missing file and a forbidden one, so that
		// the answer says nothing about what exists outside the roots.
		want := "image.file: " + p + ": no such file under message.media.file-roots"
		if msg != want || up {
			t.Errorf("%s: %q (uploaded %v), want %q", name, msg, up, want)
		}
	}
	// Inside the roots a missing file reads the same too.
	if msg, _ := sendImage(e, "file://"+filepath.Join(f.root, "none.png")); !strings.Contains(msg, "no such file under message.media.file-roots") {
		t.Errorf("missing file in the root: %q", msg)
	}
}

// TestMediaFileDeniedWhateverTheRoots: with / as the root, the pseudo
// file systems and the daemon's own directories stay out of reach, and a
// hard link to the database inside a root is refused as the database.
func TestMediaFileDeniedWhateverTheRoots(t *testing.T) {
	f := newMediaFixture(t)
	e := newActEnv(t, func(o *bridge.Options) {
		f.options(o)
		o.Media.FileRoots = []string{"/"}
	})
	link := filepath.Join(f.root, "db.png")
	linked := os.Link(f.db, link) == nil
	for _, p := range []string{"/proc/self/environ", "/proc/1/cmdline", "/sys/kernel/hostname", "/dev/zero", "/dev/stdin",
		f.config, f.env, f.db, filepath.Join(f.data, "yunhu-onebot.db-lock")} {
		if msg, up := sendImage(e, "file://"+p); !strings.HasSuffix(msg, "no such file under message.media.file-roots") || up {
			t.Errorf("%s: %q (uploaded %v)", p, msg, up)
		}
	}
	if linked {
		if msg, up := sendImage(e, "file://"+link); !strings.HasSuffix(msg, "no such file under message.media.file-roots") || up {
			t.Errorf("hard link to the database: %q (uploaded %v)", msg, up)
		}
	}
	if msg, _ := sendImage(e, "file://"+f.secret); msg != "" {
		t.Errorf("an ordinary file under /: %q", msg)
	}
}

// TestMediaFileSpecial: inside a root only regular files are read; a FIFO
// is refused without waiting for a writer.
func TestMediaFileSpecial(t *testing.T) {
	f := newMediaFixture(t)
	e := newActEnv(t, f.options)
	fifo := filepath.Join(f.root, "fifo.png")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for _, p := range []string{fifo, f.root} {
		if msg, up := sendImage(e, "file://"+p); !strings.Contains(msg, "not a regular file") || up {
			t.Errorf("%s: %q (uploaded %v)", p, msg, up)
		}
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// hitServer serves a PNG and counts its requests.
func hitServer(t *testing.T, body []byte) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestMediaURLRules(t *testing.T) {
	img := pngBytes(t, 2, 2)
	// own stands for the daemon's HTTP API: its answers (get_login_info
	// with the access token in the URL, say) must never become media.
	own, ownHits := hitServer(t, img)
	other, otherHits := hitServer(t, img)
	ownURL, _ := url.Parse(own.URL)
	_, ownPort, _ := net.SplitHostPort(ownURL.Host)

	strict := newActEnv(t)
	strict.bridge.DenyMediaListeners([]net.Addr{own.Listener.Addr()})
	open := newActEnv(t, func(o *bridge.Options) { o.Media.AllowPrivateNetworks = true })
	open.bridge.DenyMediaListeners([]net.Addr{own.Listener.Addr()})

	refusedBoth := map[string]string{
		"the daemon's listener":              own.URL + "/get_login_info?access_token=secret",
		"the daemon's listener by name":      "http://localhost:" + ownPort + "/get_login_info",
		"the daemon's listener on 127.0.0.2": "http://127.0.0.2:" + ownPort + "/",
		"cloud metadata":                     "http://169.254.169.254/latest/meta-data/",
		"link-local":                         "http://169.254.1.1/",
		"Alibaba metadata":                   "http://100.100.100.200/latest/meta-data/",
		"AWS IPv6 metadata":                  "http://[fd00:ec2::254]/",
		"IPv6 link-local":                    "http://[fe80::1]/",
		"IPv4-mapped metadata":               "http://[::ffff:169.254.169.254]/",
		"NAT64 metadata":                     "http://[64:ff9b::a9fe:a9fe]/",
		"unspecified":                        "http://0.0.0.0:" + ownPort + "/",
		"IPv6 unspecified":                   "http://[::]:" + ownPort + "/",
		"redirect to the listener":           other.URL + "/?to=" + url.QueryEscape(own.URL+"/get_login_info"),
		"redirect to metadata":               other.URL + "/?to=" + url.QueryEscape("http://169.254.169.254/"),
	}
	for name, u := range refusedBoth {
		for _, e := range []*actEnv{strict, open} {
			if msg, up := sendImage(e, u); !strings.Contains(msg, "refused") || up {
				t.Errorf("%s (%s): %q (uploaded %v)", name, u, msg, up)
			}
		}
	}
	if n := ownHits.Load(); n != 0 {
		t.Errorf("the daemon's listener was reached %d times", n)
	}

	// Loopback and private addresses: refused unless allowed.
	for name, u := range map[string]string{
		"a loopback server":            other.URL + "/pic.png",
		"a name resolving to loopback": strings.Replace(other.URL, "127.0.0.1", "localhost", 1) + "/pic.png",
		"RFC 1918":                     "http://10.0.0.1/pic.png",
		"CGNAT":                        "http://100.64.0.1/pic.png",
		"IPv6 unique local":            "http://[fd12::1]/pic.png",
	} {
		msg, up := sendImage(strict, u)
		if !strings.Contains(msg, "allow-private-networks") || up {
			t.Errorf("%s: %q (uploaded %v)", name, msg, up)
		}
	}
	before := otherHits.Load()
	if msg, up := sendImage(open, other.URL+"/pic.png"); msg != "" || !up {
		t.Errorf("loopback with allow-private-networks: %q (uploaded %v)", msg, up)
	}
	if otherHits.Load() != before+1 {
		t.Errorf("the allowed server was not asked once")
	}
}

// TestMediaKind: image, record and video bytes must be of their kind; a
// file takes anything; a reused key is not checked.
func TestMediaKind(t *testing.T) {
	e := newActEnv(t)
	png := pngBytes(t, 2, 2)
	text := []byte("just some text, not a picture\n")
	for _, c := range []struct {
		typ  string
		data []byte
		want string
	}{
		{"image", text, "image.file: the data is not an image (looks like text/plain)"},
		{"image", wavBytes(1), "image.file: the data is not an image (looks like audio/wav)"},
		{"image", mp4Bytes(1), "image.file: the data is not an image (looks like video/mp4)"},
		{"record", png, "record.file: the data is not audio (looks like image/png)"},
		{"record", text, "record.file: the data is not audio (looks like text/plain)"},
		{"video", png, "video.file: the data is not a video (looks like image/png)"},
		{"video", wavBytes(1), "video.file: the data is not a video (looks like audio/wav)"},
		{"video", []byte("%PDF-1.7\n"), "video.file: the data is not a video (looks like application/pdf)"},
	} {
		before := countRequests(e, sim.PathUpload)
		r := e.fail("send_private_msg", map[string]any{"user_id": userN(t, sim.AliceID), "message": []any{seg(c.typ, map[string]any{"file": b64(c.data)})}}, 1400)
		if r.Message != c.want {
			t.Errorf("%s: %q, want %q", c.typ, r.Message, c.want)
		}
		if countRequests(e, sim.PathUpload) != before {
			t.Errorf("%s: uploaded anyway", c.want)
		}
	}
	// Each kind's own bytes go through; a file takes text.
	for _, c := range []struct {
		typ  string
		data []byte
	}{{"image", png}, {"record", wavBytes(1)}, {"record", mp4Bytes(1)}, {"record", silkBytes()}, {"video", mp4Bytes(1)}, {"file", text}} {
		e.send("send_private_msg", map[string]any{"user_id": userN(t, sim.AliceID), "message": []any{seg(c.typ, map[string]any{"file": b64(c.data), "name": "x"})}})
	}
	// A wrong part anywhere fails the whole message before any part is sent.
	before := len(e.sim.Sent())
	e.fail("send_private_msg", map[string]any{"user_id": userN(t, sim.AliceID), "message": []any{
		seg("text", map[string]any{"text": "first"}), seg("image", map[string]any{"file": b64(png)}),
		seg("record", map[string]any{"file": b64(png)}),
	}}, 1400)
	if n := len(e.sim.Sent()); n != before {
		t.Errorf("%d parts sent of a message that failed", n-before)
	}
}

// TestMediaStoredAsSent: the store keeps the uploaded key, not the bytes,
// before and after the echo push completes the record; get_msg returns a
// segment that sends the same medium again.
func TestMediaStoredAsSent(t *testing.T) {
	e := newActEnv(t, func(o *bridge.Options) {
		o.Media.AllowPrivateNetworks = true // the simulator serves its media on loopback
	})
	img := append(pngBytes(t, 2, 2), make([]byte, 3<<20)...) // 3 MiB: thrice a record's limit
	key := md5Hex(img) + ".png"
	first := e.send("send_private_msg", map[string]any{"user_id": userN(t, sim.AliceID), "message": []any{
		seg("text", map[string]any{"text": "look"}), seg("image", map[string]any{"file": b64(img)}),
	}})
	last := e.lastSent().Request
	if last.Content.GetImage() != key {
		t.Fatalf("sent image %q, want %q", last.Content.GetImage(), key)
	}
	rec0, err := e.store.Message(first)
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.store.MessageID(rec0.Conv, last.MsgId)
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		rec, err := e.store.Message(id)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Body) > 4<<10 || !strings.Contains(string(rec.Body), key) {
			t.Errorf("%s: stored body is %d bytes: %.300s", when, len(rec.Body), rec.Body)
		}
	}
	check("as sent")
	waitFor(t, "the echo push", func() bool { rec, err := e.store.Message(id); return err == nil && rec.Seq != 0 })
	check("after the echo")

	info := decode[struct {
		Message []struct {
			Type string            `json:"type"`
			Data map[string]string `json:"data"`
		} `json:"message"`
	}](t, e.ok("get_msg", map[string]any{"message_id": id}))
	if len(info.Message) != 1 || info.Message[0].Type != "image" || !strings.Contains(info.Message[0].Data["file"], key) {
		t.Fatalf("get_msg: %+v", info.Message)
	}
	back, _ := json.Marshal(info.Message)
	e.send("send_private_msg", map[string]any{"user_id": userN(t, sim.AliceID), "message": json.RawMessage(back)})
	if got := e.lastSent().Request.Content.GetImage(); got != key {
		t.Errorf("sent back as get_msg gave it: image %q, want %q", got, key)
	}
}

// TestMediaStoredKeyReused: the record as sent names the key, which sends
// the medium again without an upload.
func TestMediaStoredKeyReused(t *testing.T) {
	e := newActEnv(t)
	img := pngBytes(t, 3, 3)
	key := md5Hex(img) + ".png"
	e.send("send_private_msg", map[string]any{"user_id": userN(t, sim.AliceID), "message": []any{seg("image", map[string]any{"file": b64(img)})}})
	before := countRequests(e, sim.PathUpload)
	e.send("send_private_msg", map[string]any{"user_id": userN(t, sim.AliceID), "message": []any{seg("image", map[string]any{"file": key})}})
	if got := e.lastSent().Request.Content.GetImage(); got != key || countRequests(e, sim.PathUpload) != before {
		t.Errorf("key reuse: image %q, uploads %d → %d", got, before, countRequests(e, sim.PathUpload))
	}
}
