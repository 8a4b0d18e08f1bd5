package wukongim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // image.DecodeConfig reads the sizes the image payload carries
	_ "image/jpeg"
	_ "image/png"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/internal/mediakind"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// Media. WuKongIM stores no files: a payload carries a URL. A medium given
// by http(s) URL is sent as that URL; one given as a local file or base64
// is read through the core (EncodeEnv.Media, which applies the operator's
// rules and size limit), written under media.dir with a content-addressed
// name, and linked as media.public-url + "/" + name; the backend's
// Callbacks handler serves that directory on media.address. Files older
// than media.Retention are pruned by Run.

// hostedName matches the names of hosted files: the SHA-256 of the bytes
// and an extension. The handler serves nothing else.
var hostedName = regexp.MustCompile(`^[0-9a-f]{64}\.[0-9a-z]{1,8}$`)

// mediaPayload prepares an image, record, video or file segment: the
// payload to send and the segment as the store keeps it (its URL, never
// its bytes).
func (b *Backend) mediaPayload(ctx context.Context, i int, s segment.Segment, env platform.EncodeEnv) (Payload, segment.Segment, error) {
	param := s.Type + ".file"
	ref := s.Value("file")
	if !hasScheme(ref, "http://", "https://", "base64://", "file:") {
		// A received segment sent back: file is a name, url the source.
		if u := s.Value("url"); hasScheme(u, "http://", "https://") {
			ref, param = u, s.Type+".url"
		}
	}
	p := Payload{Type: map[string]int{
		segment.TypeImage: typeImage, segment.TypeRecord: typeVoice,
		segment.TypeVideo: typeVideo, segment.TypeFile: typeFile,
	}[s.Type]}
	name := s.Value("name")
	var data []byte
	if hasScheme(ref, "http://", "https://") {
		p.URL = ref
	} else {
		if b.media.Dir == "" {
			return p, s, platform.BadParamf("message[%d]: %s: WuKongIM stores no files, and sending a local or base64 medium needs wukongim.media (dir and public-url) configured; send an http(s) URL instead", i, param)
		}
		if env.Media == nil {
			return p, s, platform.BadParamf("message[%d]: %s: media cannot be read here", i, param)
		}
		var (
			fetched string
			err     error
		)
		data, fetched, err = env.Media(ctx, param, ref)
		if err != nil {
			return p, s, err
		}
		if err := mediakind.Check(s.Type, param, data); err != nil {
			return p, s, platform.BadParamf("message[%d]: %v", i, err)
		}
		if b.media.MaxBytes > 0 && int64(len(data)) > b.media.MaxBytes {
			return p, s, platform.BadParamf("message[%d]: %s: %d bytes, more than the %d allowed", i, param, len(data), b.media.MaxBytes)
		}
		if name == "" {
			name = fetched
		}
		file, err := b.host(data, name)
		if err != nil {
			return p, s, &platform.Error{Msg: fmt.Sprintf("message[%d]: %s: keep the file for WuKongIM: %v", i, param, err), Definite: true, Err: err}
		}
		p.URL = b.media.PublicURL + "/" + file
	}
	switch s.Type {
	case segment.TypeImage:
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
			p.Width, p.Height = num(cfg.Width), num(cfg.Height)
		}
	case segment.TypeRecord:
		p.TimeTrad = num(seconds(s, data))
	case segment.TypeVideo:
		p.Second = num(seconds(s, data))
	case segment.TypeFile:
		if name == "" {
			name = "file"
		}
		p.Name, p.Size = name, num(len(data))
		if len(data) == 0 {
			if n, ok := s.Int("file_size"); ok && n > 0 {
				p.Size = num(n)
			}
		}
	}
	stored := segment.Segment{Type: s.Type}
	stored.Set("file", p.URL)
	stored.Set("url", p.URL)
	if p.Name != "" {
		stored.Set("name", p.Name)
	}
	if p.Size > 0 {
		stored.Set("file_size", strconv.FormatInt(int64(p.Size), 10))
	}
	if d := max(p.TimeTrad, p.Second); d > 0 {
		stored.Set("duration", strconv.FormatInt(int64(d), 10))
	}
	return p, stored, nil
}

// seconds is a voice or video length: data.duration when the bot gives
// it, else read from the file when its format tells, else 0.
func seconds(s segment.Segment, data []byte) int64 {
	if n, ok := s.Int("duration"); ok && n > 0 {
		return n
	}
	return mediakind.Duration(data)
}

func hasScheme(ref string, schemes ...string) bool {
	l := strings.ToLower(ref)
	for _, s := range schemes {
		if strings.HasPrefix(l, s) {
			return true
		}
	}
	return false
}

// host writes data under the media directory, named by its hash, and
// returns the name. A file already there is kept, its time renewed so
// that pruning counts from its last send.
func (b *Backend) host(data []byte, name string) (string, error) {
	sum := sha256.Sum256(data)
	file := hex.EncodeToString(sum[:]) + "." + extension(data, name)
	path := filepath.Join(b.media.Dir, file)
	now := b.now()
	if _, err := os.Stat(path); err == nil {
		return file, os.Chtimes(path, now, now)
	}
	if err := os.MkdirAll(b.media.Dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(b.media.Dir, ".upload-*")
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
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return "", err
	}
	_ = os.Chtimes(path, now, now)
	return file, nil
}

// extension is a hosted file's extension: from its format when the bytes
// tell, else from its name when that is plain, else "bin". Clients pick
// a viewer by it.
func extension(data []byte, name string) string {
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

// Handler serves the hosted media: GET and HEAD of a hosted file's name
// at the root, nothing else.
func (b *Backend) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		// The last element only: a reverse proxy may serve the files
		// under a prefix of public-url and pass it on.
		name := path.Base(r.URL.Path)
		if b.media.Dir == "" || !hostedName.MatchString(name) || strings.Contains(r.URL.Path, "..") {
			http.NotFound(w, r)
			return
		}
		f, err := os.Open(filepath.Join(b.media.Dir, name))
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
	})
}

// CallbackAddress is where the daemon serves Handler: media.address, and
// "" (no listener) unless media hosting is configured.
func (b *Backend) CallbackAddress() string {
	if b.media.Dir == "" {
		return ""
	}
	return b.media.Address
}

// pruneEvery is how often Run prunes the media directory.
const pruneEvery = time.Hour

// maxPruneScan bounds the entries one pruning pass looks at.
const maxPruneScan = 100000

// pruneMedia removes hosted files (and abandoned partial writes) older
// than the retention.
func (b *Backend) pruneMedia() {
	if b.media.Dir == "" || b.media.Retention <= 0 {
		return
	}
	d, err := os.Open(b.media.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		b.log.Warn("media: prune", zap.Error(err))
		return
	}
	defer d.Close()
	entries, err := d.ReadDir(maxPruneScan)
	if err != nil && len(entries) == 0 {
		return
	}
	cut := b.now().Add(-b.media.Retention)
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
		if os.Remove(filepath.Join(b.media.Dir, n)) == nil {
			removed++
		}
	}
	if removed > 0 {
		b.log.Info("media: pruned old files", zap.Int("files", removed))
	}
}
