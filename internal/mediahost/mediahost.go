// Package mediahost keeps media for platforms that store no files: a
// medium a bot sends from a local file or base64 is written under a
// directory with a content-addressed name and served from there by an
// HTTP handler, so that the platform's clients can fetch it by URL.
// Files older than the retention are pruned. It knows no platform: the
// WuKongIM and WildfireChat backends both use it.
package mediahost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/internal/mediakind"
)

// Options configure the hosting. Without Dir nothing is hosted, and media
// given by http(s) URL need none of it.
type Options struct {
	// Dir is where the files are written ("" disables hosting).
	Dir string
	// PublicURL is how the platform's clients reach Address, without a
	// trailing slash (e.g. https://bot.example.com/media).
	PublicURL string
	// Address is the host:port the handler is served on ("" means the
	// operator serves Dir some other way).
	Address string
	// MaxBytes caps one file (0: no cap beyond the core's media limit).
	MaxBytes int64
	// Retention is how long files are kept (0: forever).
	Retention time.Duration
}

// Host writes, serves and prunes hosted media. Create it with New; its
// methods may be called from many goroutines.
type Host struct {
	opts Options
	log  *zap.Logger
	now  func() time.Time
}

// New returns a Host. log nil means no logging, now nil time.Now. It
// refuses a Dir without a PublicURL: files nobody can fetch would be
// linked as broken URLs.
func New(opts Options, log *zap.Logger, now func() time.Time) (*Host, error) {
	if opts.Dir != "" && opts.PublicURL == "" {
		return nil, errors.New("media.dir needs media.public-url, the address the platform's clients fetch the files from")
	}
	if log == nil {
		log = zap.NewNop()
	}
	if now == nil {
		now = time.Now
	}
	opts.PublicURL = strings.TrimSuffix(opts.PublicURL, "/")
	return &Host{opts: opts, log: log, now: now}, nil
}

// Enabled reports whether files are hosted (Dir is set).
func (h *Host) Enabled() bool { return h.opts.Dir != "" }

// Address is the host:port to serve Handler on, "" when nothing is
// hosted or the operator serves Dir some other way.
func (h *Host) Address() string {
	if h.opts.Dir == "" {
		return ""
	}
	return h.opts.Address
}

// Check verifies that data is what a segment of type typ says (an image
// is an image) and within MaxBytes; its errors name param.
func (h *Host) Check(typ, param string, data []byte) error {
	if err := mediakind.Check(typ, param, data); err != nil {
		return err
	}
	if h.opts.MaxBytes > 0 && int64(len(data)) > h.opts.MaxBytes {
		return fmt.Errorf("%s: %d bytes, more than the %d allowed", param, len(data), h.opts.MaxBytes)
	}
	return nil
}

// hostedName matches the names of hosted files: the SHA-256 of the bytes
// and an extension. The handler serves nothing else.
var hostedName = regexp.MustCompile(`^[0-9a-f]{64}\.[0-9a-z]{1,8}$`)

// Put writes data under Dir, named by its hash, and returns the URL it
// is served at. A file already there is kept, its time renewed so that
// pruning counts from its last send.
func (h *Host) Put(data []byte, name string) (string, error) {
	if h.opts.Dir == "" {
		return "", errors.New("media hosting is not configured")
	}
	sum := sha256.Sum256(data)
	file := hex.EncodeToString(sum[:]) + "." + Extension(data, name)
	dst := filepath.Join(h.opts.Dir, file)
	now := h.now()
	if _, err := os.Stat(dst); err == nil {
		return h.opts.PublicURL + "/" + file, os.Chtimes(dst, now, now)
	}
	if err := os.MkdirAll(h.opts.Dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(h.opts.Dir, ".upload-*")
	if err != nil {
		return "", err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return "", err
	}
	_ = os.Chtimes(dst, now, now)
	return h.opts.PublicURL + "/" + file, nil
}

// Extension is a hosted file's extension: from its format when the bytes
// tell, else from its name when that is plain, else "bin". Clients pick
// a viewer by it.
func Extension(data []byte, name string) string {
	if f, ok := mediakind.Sniff(data); ok {
		_, sub, _ := strings.Cut(f.MIME, "/")
		switch sub {
		case "jpeg":
			return "jpg"
		case "mpeg":
			if strings.HasPrefix(f.MIME, "audio/") {
				return "mp3"
			}
			return "mpg"
		case "x-icon":
			return "ico"
		case "x-flv":
			return "flv"
		case "quicktime":
			return "mov"
		}
		if ext := strings.TrimPrefix(sub, "x-"); isPlainExt(ext) {
			return ext
		}
	}
	if ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(name), ".")); isPlainExt(ext) {
		return ext
	}
	return "bin"
}

func isPlainExt(ext string) bool {
	if ext == "" || len(ext) > 8 {
		return false
	}
	for _, r := range ext {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// Handler serves the hosted media: GET and HEAD of a hosted file's name,
// nothing else. Only the last element of the path counts: a reverse
// proxy may serve the files under a prefix of public-url and pass it on.
func (h *Host) Handler() http.Handler {
	return http.HandlerFunc(h.serve)
}

func (h *Host) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := path.Base(r.URL.Path)
	if h.opts.Dir == "" || !hostedName.MatchString(name) || strings.Contains(r.URL.Path, "..") {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(filepath.Join(h.opts.Dir, name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=86400, immutable")
	http.ServeContent(w, r, name, st.ModTime(), f)
}

// pruneEvery is how often Run prunes.
const pruneEvery = time.Hour

// maxPruneScan bounds the entries one pruning pass looks at.
const maxPruneScan = 100000

// Run prunes at start and every hour until ctx is done; it returns at
// once when nothing is hosted or files are kept forever.
func (h *Host) Run(ctx context.Context) {
	if h.opts.Dir == "" || h.opts.Retention <= 0 {
		return
	}
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		h.Prune()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Prune removes hosted files (and abandoned partial writes) older than
// the retention; other files in Dir are left alone.
func (h *Host) Prune() {
	if h.opts.Dir == "" || h.opts.Retention <= 0 {
		return
	}
	d, err := os.Open(h.opts.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		h.log.Warn("media: prune", zap.Error(err))
		return
	}
	defer d.Close()
	entries, err := d.ReadDir(maxPruneScan)
	if err != nil && len(entries) == 0 {
		return
	}
	cut := h.now().Add(-h.opts.Retention)
	removed := 0
	for _, e := range entries {
		n := e.Name()
		if !hostedName.MatchString(n) && !strings.HasPrefix(n, ".upload-") {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || !info.ModTime().Before(cut) {
			continue
		}
		if os.Remove(filepath.Join(h.opts.Dir, n)) == nil {
			removed++
		}
	}
	if removed > 0 {
		h.log.Info("media: pruned old files", zap.Int("files", removed))
	}
}
