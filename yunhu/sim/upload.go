package sim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // DecodeConfig for uploaded GIFs
	_ "image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// Uploads and downloads (§5, §1.1, §8.5): upload tokens from /v1/misc,
// a fake Qiniu form-upload host, and a CDN that, like the real one, refuses
// downloads without the app's Referer.

// object is one stored upload.
type object struct {
	data          []byte
	mime          string
	hash          string
	width, height int64 // for decodable images, 0 otherwise
}

// qiniuPolicy is the put-policy inside an upload token.
type qiniuPolicy struct {
	Scope      string `json:"scope"`
	Deadline   int64  `json:"deadline"`
	ReturnBody string `json:"returnBody,omitempty"`
}

// uploadTokenTTL is how long an upload token stays valid [I: the real
// deadline is not documented].
const uploadTokenTTL = 3600

func (s *Server) qiniuToken(bucket string) func(*call) (any, error) {
	return func(c *call) (any, error) {
		return map[string]string{"token": s.makeUploadToken(bucket)}, nil
	}
}

// makeUploadToken builds a standard Qiniu upload token:
// AK ":" urlsafe-b64(hmac-sha1(SK, encodedPolicy)) ":" encodedPolicy.
func (s *Server) makeUploadToken(bucket string) string {
	pol, _ := json.Marshal(qiniuPolicy{
		Scope:      bucket,
		Deadline:   s.now().Unix() + uploadTokenTTL,
		ReturnBody: `{"key":"$(key)","hash":"$(etag)","fsize":$(fsize),"avinfo":$(avinfo)}`,
	})
	enc := base64.URLEncoding.EncodeToString(pol)
	mac := hmac.New(sha1.New, s.qiniuSK)
	mac.Write([]byte(enc))
	return s.qiniuAK + ":" + base64.URLEncoding.EncodeToString(mac.Sum(nil)) + ":" + enc
}

// checkUploadToken returns the token's bucket, or the Qiniu error text.
func (s *Server) checkUploadToken(tok string) (string, string) {
	parts := strings.Split(tok, ":")
	if len(parts) != 3 || parts[0] != s.qiniuAK {
		return "", "bad token"
	}
	mac := hmac.New(sha1.New, s.qiniuSK)
	mac.Write([]byte(parts[2]))
	if !hmac.Equal([]byte(base64.URLEncoding.EncodeToString(mac.Sum(nil))), []byte(parts[1])) {
		return "", "bad token"
	}
	raw, err := base64.URLEncoding.DecodeString(parts[2])
	var pol qiniuPolicy
	if err != nil || json.Unmarshal(raw, &pol) != nil {
		return "", "bad token"
	}
	if pol.Deadline < s.now().Unix() {
		return "", "expired token"
	}
	bucket, _, _ := strings.Cut(pol.Scope, ":")
	return bucket, ""
}

// QiniuEtag returns Qiniu's content hash of data: for up to 4 MiB,
// urlsafe-b64(0x16 ‖ sha1(data)); above, urlsafe-b64(0x96 ‖ sha1 of the
// concatenated sha1s of each 4 MiB block).
func QiniuEtag(data []byte) string {
	const block = 4 << 20
	if len(data) <= block {
		sum := sha1.Sum(data)
		return base64.URLEncoding.EncodeToString(append([]byte{0x16}, sum[:]...))
	}
	var all []byte
	for off := 0; off < len(data); off += block {
		sum := sha1.Sum(data[off:min(off+block, len(data))])
		all = append(all, sum[:]...)
	}
	sum := sha1.Sum(all)
	return base64.URLEncoding.EncodeToString(append([]byte{0x96}, sum[:]...))
}

func qiniuError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set(yunhu.HeaderContentType, yunhu.ContentTypeJSON)
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"error": msg})
	_, _ = w.Write(b)
}

// serveUpload is the Qiniu form upload (§5.3): multipart parts token, key
// and file. Replies are Qiniu's, not Yunhu's: JSON {key,hash,fsize,avinfo?}
// on success, a non-200 status with {"error"} otherwise. Qiniu's default
// policy is insert-only, so re-uploading identical bytes to a key succeeds
// and different bytes get 614 "file exists".
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		qiniuError(w, http.StatusMethodNotAllowed, "only allow POST method")
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		qiniuError(w, http.StatusBadRequest, "invalid multipart form")
		return
	}
	var tok, key, mime string
	var data []byte
	haveFile := false
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			qiniuError(w, http.StatusBadRequest, "invalid multipart form")
			return
		}
		limit := int64(64 << 10)
		if p.FormName() == "file" {
			limit = s.maxUpload
		}
		b, err := io.ReadAll(io.LimitReader(p, limit+1))
		if err != nil {
			qiniuError(w, http.StatusBadRequest, "invalid multipart form")
			return
		}
		if int64(len(b)) > limit {
			qiniuError(w, http.StatusRequestEntityTooLarge, "file exceeds the size limit")
			return
		}
		switch p.FormName() {
		case "token":
			tok = string(b)
		case "key":
			key = string(b)
		case "file":
			data, haveFile, mime = b, true, p.Header.Get(yunhu.HeaderContentType)
		}
	}
	bucket, bad := s.checkUploadToken(tok)
	if bad != "" {
		qiniuError(w, http.StatusUnauthorized, bad)
		return
	}
	if !haveFile {
		qiniuError(w, http.StatusBadRequest, "file is empty")
		return
	}
	hash := QiniuEtag(data)
	if key == "" {
		key = hash // Qiniu names keyless uploads by their hash
	}
	if mime == "" || mime == "application/octet-stream" {
		mime = http.DetectContentType(data)
	}
	s.mu.Lock()
	old := s.objects[bucket+"/"+key]
	if old != nil && old.hash != hash {
		s.mu.Unlock()
		qiniuError(w, 614, "file exists")
		return
	}
	obj := newObject(data, mime, hash)
	s.objects[bucket+"/"+key] = obj
	s.mu.Unlock()

	reply := map[string]any{"key": key, "hash": hash, "fsize": len(data)}
	if obj.width > 0 {
		reply["avinfo"] = map[string]any{"video": map[string]int64{"width": obj.width, "height": obj.height}}
	}
	b, _ := json.Marshal(reply)
	w.Header().Set(yunhu.HeaderContentType, yunhu.ContentTypeJSON)
	_, _ = w.Write(b)
}

func newObject(data []byte, mime, hash string) *object {
	obj := &object{data: data, mime: mime, hash: hash}
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
		obj.width, obj.height = int64(cfg.Width), int64(cfg.Height)
	}
	return obj
}

// PutObject stores bytes in a bucket as if uploaded, so tests can inject
// media messages whose URLs download. It returns the Qiniu hash.
func (s *Server) PutObject(bucket, key string, data []byte) string {
	hash := QiniuEtag(data)
	obj := newObject(append([]byte(nil), data...), http.DetectContentType(data), hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[bucket+"/"+key] = obj
	return hash
}

// Object returns a stored upload's bytes.
func (s *Server) Object(bucket, key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj := s.objects[bucket+"/"+key]
	if obj == nil {
		return nil, false
	}
	return append([]byte(nil), obj.data...), true
}

// refererOK accepts the Referer the real CDN requires (§1.1): the app's
// origin over http or https.
func refererOK(ref string) bool {
	u, err := url.Parse(ref)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host == "myapp.jwznb.com"
}

// serveCDN serves /cdn/<kind>/<key>. Like every real CDN host it answers
// 403 without the app's Referer (hot-link protection).
func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !refererOK(r.Header.Get(yunhu.HeaderReferer)) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	kind, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, PathCDN), "/")
	s.mu.Lock()
	var obj *object
	for _, b := range cdnBuckets(kind) {
		if obj = s.objects[b+"/"+key]; obj != nil {
			break
		}
	}
	s.mu.Unlock()
	if obj == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set(yunhu.HeaderContentType, obj.mime)
	w.Header().Set("Content-Length", fmt.Sprint(len(obj.data)))
	w.Header().Set("Etag", `"`+obj.hash+`"`)
	if r.Method == http.MethodGet {
		_, _ = w.Write(obj.data)
	}
}

// seedAvatars stores a tiny PNG per account, bot and group so avatar URLs
// resolve on the simulator's CDN.
func (s *Server) seedAvatars() {
	img := image.NewRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.RGBA{R: 0x21, G: 0x96, B: 0xF3, A: 0xFF})
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	data := buf.Bytes()
	obj := newObject(data, "image/png", QiniuEtag(data))
	for id := range s.w.users {
		s.objects[yunhu.BucketImage+"/"+avatarKey(id)] = obj
	}
	for id := range s.w.bots {
		s.objects[yunhu.BucketImage+"/"+avatarKey(id)] = obj
	}
	for id := range s.w.groups {
		s.objects[yunhu.BucketImage+"/"+avatarKey(id)] = obj
	}
}

// configure answers /v1/misc/configure-distribution with the simulator's
// own URLs in place of the real hosts (§1.1).
func (s *Server) configure(c *call) (any, error) {
	e := Endpoints(c.base)
	return map[string]string{
		"audioUrl":     e.AudioCDN,
		"fileUrl":      e.FileCDN,
		"imageUrl":     e.ImageCDN,
		"videoUrl":     e.VideoCDN,
		"serverUrl":    e.API + "/",
		"shareUrl":     e.API + "/share/",
		"websocketUrl": e.WS,
	}, nil
}
