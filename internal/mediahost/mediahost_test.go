package mediahost

import (
	"bytes"
	"crypto/sha256"
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

	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

func pngBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
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

func TestPutServesContentAddressedFiles(t *testing.T) {
	dir := t.TempDir()
	var h *Host
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.Handler().ServeHTTP(w, r) }))
	defer srv.Close()
	h, err := New(Options{Dir: dir, PublicURL: srv.URL + "/", Address: "127.0.0.1:0"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Enabled() || h.Address() != "127.0.0.1:0" {
		t.Errorf("Enabled %v, Address %q", h.Enabled(), h.Address())
	}
	img := pngBytes(t)
	sum := sha256.Sum256(img)
	name := hex.EncodeToString(sum[:]) + ".png"
	url, err := h.Put(img, "whatever.jpg")
	if err != nil || url != srv.URL+"/"+name {
		t.Fatalf("Put = %q, %v; want %s/%s (named by content and format, public-url's slash trimmed)", url, err, srv.URL, name)
	}
	if again, err := h.Put(img, ""); err != nil || again != url {
		t.Errorf("second Put = %q, %v; want the same file", again, err)
	}
	if code, body := get(t, http.MethodGet, url); code != http.StatusOK || !bytes.Equal(body, img) {
		t.Errorf("GET = %d, %d bytes; want 200 and the image", code, len(body))
	}
	if code, _ := get(t, http.MethodHead, srv.URL+"/prefix/"+name); code != http.StatusOK {
		t.Errorf("HEAD under a proxy prefix = %d, want 200", code)
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
}

func TestPruneRemovesOnlyOldHostedFiles(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	h, err := New(Options{Dir: dir, PublicURL: "http://127.0.0.1:1", Retention: time.Hour}, nil, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	url, err := h.Put(pngBytes(t), "")
	if err != nil {
		t.Fatal(err)
	}
	hosted := filepath.Join(dir, url[strings.LastIndex(url, "/")+1:])
	other := filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(other, []byte("no"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := now.Add(-2 * time.Hour)
	if err := os.Chtimes(other, old, old); err != nil {
		t.Fatal(err)
	}
	h.Prune()
	if _, err := os.Stat(hosted); err != nil {
		t.Errorf("a fresh file was pruned: %v", err)
	}
	now = now.Add(2 * time.Hour)
	h.Prune()
	if _, err := os.Stat(hosted); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old file kept: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file that is not hosted was pruned: %v", err)
	}
}

func TestCheckRefusesWrongKindAndSize(t *testing.T) {
	h, err := New(Options{Dir: t.TempDir(), PublicURL: "http://127.0.0.1:1", MaxBytes: 4}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Check(segment.TypeImage, "image.file", []byte("plain text")); err == nil {
		t.Error("text accepted as an image")
	}
	if err := h.Check(segment.TypeFile, "file.file", []byte("12345")); err == nil || !strings.Contains(err.Error(), "5 bytes") || !strings.Contains(err.Error(), "file.file") {
		t.Errorf("Check = %v, want the size and param named", err)
	}
	if err := h.Check(segment.TypeFile, "file.file", []byte("1234")); err != nil {
		t.Errorf("Check within the cap = %v", err)
	}
}

func TestNewAndDisabled(t *testing.T) {
	if _, err := New(Options{Dir: "x"}, nil, nil); err == nil {
		t.Error("New accepted a dir without a public URL")
	}
	h, err := New(Options{Address: "127.0.0.1:0"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.Enabled() || h.Address() != "" {
		t.Errorf("without Dir: Enabled %v, Address %q", h.Enabled(), h.Address())
	}
	if _, err := h.Put([]byte("x"), ""); err == nil {
		t.Error("Put without Dir succeeded")
	}
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	if code, _ := get(t, http.MethodGet, srv.URL+"/"+strings.Repeat("a", 64)+".png"); code != http.StatusNotFound {
		t.Errorf("GET without Dir = %d, want 404", code)
	}
}

func TestExtension(t *testing.T) {
	for _, c := range []struct {
		data []byte
		name string
		want string
	}{
		{[]byte("\xff\xd8\xff\xe0"), "a.png", "jpg"},
		{[]byte("plain"), "Report.PDF", "pdf"},
		{[]byte("plain"), "x.tar.g!z", "bin"},
		{[]byte("plain"), "", "bin"},
	} {
		if got := Extension(c.data, c.name); got != c.want {
			t.Errorf("Extension(%q, %q) = %q, want %q", c.data, c.name, got, c.want)
		}
	}
}
