package bridge_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// Media sources of outgoing segments: http(s), base64, file:// — and the
// 1400s for each way they go wrong.

// mediaServer serves test files: /img.png, /big (declares its size),
// /stream (no length, too long), /missing (404), /ftp (redirect to ftp),
// /hop (redirect to /img.png), /slow (never answers in time), /referer
// (403 unless Yunhu's Referer is sent, as the Yunhu CDN does) and
// /named (a Content-Disposition file name).
func mediaServer(t *testing.T, img []byte, limit int64) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/img.png", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(img) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.FormatInt(limit+1, 10))
		_, _ = w.Write(make([]byte, limit+1))
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		for i := int64(0); i <= limit; i += 1024 {
			_, _ = w.Write(make([]byte, 1024))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://example.com/img.png", http.StatusFound)
	})
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/img.png", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	mux.HandleFunc("/referer", func(w http.ResponseWriter, r *http.Request) {
		if r.Referer() != yunhu.Referer {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		_, _ = w.Write(img)
	})
	mux.HandleFunc("/named", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Disposition", `attachment; filename="notes.txt"`)
		_, _ = w.Write([]byte("notes"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		close(release)
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

func TestMediaHTTP(t *testing.T) {
	const limit = 64 << 10
	e := newActEnv(t, func(o *bridge.Options) {
		o.MaxMediaBytes = limit
		o.FetchTimeout = 300 * time.Millisecond
		o.Media.AllowPrivateNetworks = true // the test server is on loopback
	})
	img := pngBytes(t, 4, 4)
	srv := mediaServer(t, img, limit)
	u := userN(t, sim.AliceID)
	key := md5Hex(img) + ".png"

	for _, path := range []string{"/img.png", "/hop", "/referer"} {
		e.send("send_private_msg", map[string]any{"user_id": u, "message": "[CQ:image,file=" + srv.URL + path + "]"})
		if got := e.lastSent().Request.Content.GetImage(); got != key {
			t.Errorf("%s: sent image %q, want %q", path, got, key)
		}
	}
	// A received segment sent back: file is a name, url the source.
	e.send("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("image", map[string]any{"file": "picture", "url": srv.URL + "/img.png"})}})
	if got := e.lastSent().Request.Content.GetImage(); got != key {
		t.Errorf("url fallback: %q", got)
	}
	e.send("send_private_msg", map[string]any{"user_id": u, "message": "[CQ:file,file=" + srv.URL + "/named]"})
	if got := e.lastSent().Request.Content.GetFileName(); got != "notes.txt" {
		t.Errorf("file name from Content-Disposition: %q", got)
	}

	for path, want := range map[string]string{
		"/missing": "HTTP 404",
		"/big":     "too large",
		"/stream":  "too large",
		"/ftp":     "ftp",
		"/slow":    "no answer within",
	} {
		r := e.fail("send_private_msg", map[string]any{"user_id": u, "message": "[CQ:image,file=" + srv.URL + path + "]"}, 1400)
		if !strings.Contains(r.Message, "image.file") || !strings.Contains(r.Message, want) {
			t.Errorf("%s: %q, want it to name image.file and say %q", path, r.Message, want)
		}
	}
}

func TestMediaBase64(t *testing.T) {
	e := newActEnv(t, func(o *bridge.Options) { o.MaxMediaBytes = 1000 })
	u := userN(t, sim.AliceID)
	data := append([]byte("ID3\x04\x00\x00\x00\x00\x00\x00"), bytes.Repeat([]byte("voice"), 10)...) // an MP3's tag header
	enc := b64(data)[len("base64://"):]
	for _, enc := range []string{
		"base64://" + strings.TrimRight(enc, "="), // unpadded
		"base64://" + enc[:24] + "\n" + enc[24:],  // wrapped
	} {
		e.send("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("record", map[string]any{"file": enc})}})
		if got := e.lastSent().Request.Content.GetFileSize(); got != int64(len(data)) {
			t.Errorf("%q: size %d", enc, got)
		}
	}
	r := e.fail("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("record", map[string]any{"file": "base64://not*base64"})}}, 1400)
	if !strings.Contains(r.Message, "record.file") || !strings.Contains(r.Message, "base64") {
		t.Errorf("bad base64: %s", r.Message)
	}
	r = e.fail("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("record", map[string]any{"file": b64(make([]byte, 2000))})}}, 1400)
	if !strings.Contains(r.Message, "too large") {
		t.Errorf("too large: %s", r.Message)
	}
	r = e.fail("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("record", map[string]any{"file": "base64://"})}}, 1400)
	if !strings.Contains(r.Message, "empty") {
		t.Errorf("empty: %s", r.Message)
	}
}

func TestMediaFile(t *testing.T) {
	dir := t.TempDir()
	e := newActEnv(t, func(o *bridge.Options) {
		o.MaxMediaBytes = 1000
		o.Media.FileRoots = []string{dir}
	})
	u := userN(t, sim.AliceID)
	p := filepath.Join(dir, "clip.mp4")
	if err := os.WriteFile(p, mp4Bytes(2), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(big, make([]byte, 2000), 0o600); err != nil {
		t.Fatal(err)
	}
	e.send("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("video", map[string]any{"file": "file://" + p})}})
	if got := e.lastSent().Request.Content.GetVideoUrl(); !strings.HasSuffix(got, ".mp4") {
		t.Errorf("video key %q", got)
	}
	e.send("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("file", map[string]any{"file": "file://" + p})}})
	if got := e.lastSent().Request.Content.GetFileName(); got != "clip.mp4" {
		t.Errorf("file name %q", got)
	}
	for ref, want := range map[string]string{
		"file://relative/clip.mp4":     "absolute",
		"file:relative.mp4":            "absolute",
		"file://" + dir:                "not a regular file",
		"file://" + dir + "/none.mp4":  "no such file",
		"file://" + big:                "too large",
		"/plain/path.mp4":              "not an http(s)://",
		"ftp://example.com/a.mp4":      "not an http(s)://",
		"file://example.com/etc/hosts": "absolute",
	} {
		r := e.fail("send_private_msg", map[string]any{"user_id": u, "message": []any{seg("video", map[string]any{"file": ref})}}, 1400)
		if !strings.Contains(r.Message, "video.file") || !strings.Contains(r.Message, want) {
			t.Errorf("%s: %q, want %q", ref, r.Message, want)
		}
	}
}
