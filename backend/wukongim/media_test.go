package wukongim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// base64Media is the core's media reader for base64:// only.
func base64Media(_ context.Context, param, ref string) ([]byte, string, error) {
	data, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(ref, "base64://"))
	if err != nil || !strings.HasPrefix(ref, "base64://") {
		return nil, "", platform.BadParamf("%s: not base64", param)
	}
	return data, "", nil
}

func get(t *testing.T, method, url string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func TestMediaBase64IsHostedAndServed(t *testing.T) {
	dir := t.TempDir()
	var b *Backend
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { b.Handler().ServeHTTP(w, r) }))
	defer srv.Close()
	b = newBackend(t, newFake(), nil, func(o *Options) {
		o.Media = MediaOptions{Dir: dir, PublicURL: srv.URL, Address: "127.0.0.1:0", MaxBytes: 1 << 20, Retention: time.Hour}
	})
	if b.CallbackAddress() != "127.0.0.1:0" {
		t.Errorf("CallbackAddress = %q", b.CallbackAddress())
	}
	img := pngBytes(t, 3, 2)
	sum := sha256.Sum256(img)
	name := hex.EncodeToString(sum[:]) + ".png"
	group := platform.Conv{Kind: platform.KindGroup, ID: g1}
	got, outs := encoded(t, b, group, segment.Message{segment.Image("base64://" + base64.StdEncoding.EncodeToString(img))},
		platform.EncodeEnv{Media: base64Media})
	url := srv.URL + "/" + name
	if want := `{"type":2,"url":"` + url + `","width":3,"height":2}`; got[0] != want {
		t.Errorf("payload = %s\nwant %s", got[0], want)
	}
	if f := outs[0].Body[0]; f.Value("file") != url || f.Value("url") != url {
		t.Errorf("stored segment = %s, want the URL, not the bytes", f)
	}
	if code, body := get(t, http.MethodGet, url); code != http.StatusOK || !bytes.Equal(body, img) {
		t.Errorf("GET %s = %d, %d bytes; want 200 and the image", url, code, len(body))
	}
	if code, _ := get(t, http.MethodPost, url); code != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d, want 405", code)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("no"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/secret.txt", "/../" + filepath.Base(dir) + "/" + name, "/" + strings.Repeat("0", 64) + ".png", "/"} {
		if code, _ := get(t, http.MethodGet, srv.URL+p); code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, code)
		}
	}

	// A file sent as an image that is none is refused before anything.
	_, err := b.Encode(context.Background(), group, segment.Message{segment.Image("base64://" + base64.StdEncoding.EncodeToString([]byte("plain text")))},
		platform.EncodeEnv{Media: base64Media})
	var bp *platform.BadParamError
	if !errors.As(err, &bp) {
		t.Errorf("text as an image = %v, want a bad parameter", err)
	}
}

func TestMediaFileTooLargeIsRefused(t *testing.T) {
	b := newBackend(t, newFake(), nil, func(o *Options) {
		o.Media = MediaOptions{Dir: t.TempDir(), PublicURL: "http://127.0.0.1:1", MaxBytes: 4}
	})
	_, err := b.Encode(context.Background(), platform.Conv{Kind: platform.KindGroup, ID: g1},
		segment.Message{segment.File("base64://"+base64.StdEncoding.EncodeToString([]byte("12345")), "a.txt")},
		platform.EncodeEnv{Media: base64Media})
	var bp *platform.BadParamError
	if !errors.As(err, &bp) || !strings.Contains(err.Error(), "5 bytes") {
		t.Errorf("Encode = %v, want a bad parameter naming the size", err)
	}
}

func TestMediaUnconfiguredRefusesLocalMedia(t *testing.T) {
	b := newBackend(t, newFake(), nil, nil)
	if b.CallbackAddress() != "" {
		t.Errorf("CallbackAddress = %q, want none without media", b.CallbackAddress())
	}
	group := platform.Conv{Kind: platform.KindGroup, ID: g1}
	called := false
	env := platform.EncodeEnv{Media: func(ctx context.Context, p, r string) ([]byte, string, error) {
		called = true
		return base64Media(ctx, p, r)
	}}
	_, err := b.Encode(context.Background(), group, segment.Message{segment.Image("base64://" + base64.StdEncoding.EncodeToString(pngBytes(t, 1, 1)))}, env)
	var bp *platform.BadParamError
	if !errors.As(err, &bp) || !strings.Contains(err.Error(), "wukongim.media") {
		t.Errorf("Encode = %v, want a bad parameter naming wukongim.media", err)
	}
	// An http(s) URL needs no hosting and is not fetched.
	got, _ := encoded(t, b, group, segment.Message{segment.Image("https://x/a.png")}, env)
	if got[0] != `{"type":2,"url":"https://x/a.png"}` || called {
		t.Errorf("payload = %s (media read: %v)", got[0], called)
	}
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	if code, _ := get(t, http.MethodGet, srv.URL+"/"+strings.Repeat("a", 64)+".png"); code != http.StatusNotFound {
		t.Errorf("GET without media = %d, want 404", code)
	}
}

func TestNewValidates(t *testing.T) {
	f := newFake()
	for i, o := range []Options{
		{Receiver: f, Self: self, KV: newKV()},
		{API: f, Receiver: f, KV: newKV()},
		{API: f, Receiver: f, Self: self, KV: newKV(), Media: MediaOptions{Dir: "x"}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("case %d: New accepted %+v", i, o)
		}
	}
}
