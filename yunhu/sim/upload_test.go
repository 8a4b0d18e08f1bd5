package sim

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

func uploadToken(t *testing.T, e *env, path string) string {
	t.Helper()
	r := e.json(http.MethodGet, path, DefaultToken, nil)
	var d struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(r.Data, &d); err != nil || r.Code != 1 || strings.Count(d.Token, ":") != 2 {
		t.Fatalf("%s: %+v", path, r)
	}
	return d.Token
}

// upload posts the Qiniu form (token, key, file — in that order, §5.3).
func upload(t *testing.T, e *env, token, key string, data []byte) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("token", token)
	_ = mw.WriteField("key", key)
	fw, _ := mw.CreateFormFile("file", key)
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.urls.Upload, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("User-Agent", yunhu.QiniuUserAgent)
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("upload reply %q", b)
	}
	return resp.StatusCode, out
}

func pngBytes(w, h int) []byte {
	var buf bytes.Buffer
	_ = png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h)))
	return buf.Bytes()
}

func get(t *testing.T, e *env, url, referer string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if referer != "" {
		req.Header.Set(yunhu.HeaderReferer, referer)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestUploadRoundTrip(t *testing.T) {
	e := newEnv(t, Options{})
	data := pngBytes(3, 2)
	sum := md5.Sum(data)
	key := hex.EncodeToString(sum[:]) + ".png"
	tok := uploadToken(t, e, yunhu.PathQiniuTokenImage)

	code, out := upload(t, e, tok, key, data)
	sha := sha1.Sum(data)
	wantHash := base64.URLEncoding.EncodeToString(append([]byte{0x16}, sha[:]...))
	if code != http.StatusOK || out["key"] != key || out["hash"] != wantHash || out["fsize"] != float64(len(data)) {
		t.Fatalf("upload: %d %v (want hash %s)", code, out, wantHash)
	}
	// Same bytes again: fine (content-addressed keys); other bytes: 614.
	if code, _ := upload(t, e, tok, key, data); code != http.StatusOK {
		t.Errorf("re-upload: %d", code)
	}
	if code, out := upload(t, e, tok, key, []byte("other")); code != 614 || out["error"] == nil {
		t.Errorf("overwrite: %d %v", code, out)
	}

	// The CDN wants the app's Referer.
	url := e.urls.ImageCDN + key
	if code, _ := get(t, e, url, ""); code != http.StatusForbidden {
		t.Errorf("no referer: %d", code)
	}
	if code, _ := get(t, e, url, "https://evil.example"); code != http.StatusForbidden {
		t.Errorf("foreign referer: %d", code)
	}
	code, b := get(t, e, url, yunhu.Referer)
	if code != http.StatusOK || !bytes.Equal(b, data) {
		t.Errorf("download: %d %d bytes", code, len(b))
	}
	if code, _ := get(t, e, e.urls.ImageCDN+"missing.png", yunhu.Referer); code != http.StatusNotFound {
		t.Errorf("missing object: %d", code)
	}

	// Send the key as an image: records and pushes carry the CDN URL and
	// the size the upload revealed.
	ws := e.dial()
	ws.loginAndWait(SelfID, DefaultToken)
	e.mustOK(yunhu.PathSendMessage, DefaultToken, &yunhupb.SendMessageRequest{
		MsgId: hexID(1), ChatId: AliceID, ChatType: 1, ContentType: yunhu.ContentImage,
		Content: &yunhupb.MsgContent{Image: key},
		Media:   &yunhupb.Media{FileKey: key, FileKey2: key, FileType: "image/png", FileSuffix: "png"},
	}, nil)
	pm := ws.push(yunhu.WSCmdPushMessage)
	if pm.Content.GetImageUrl() != url || pm.Content.GetWidth() != 3 || pm.Content.GetHeight() != 2 ||
		pm.Content.GetFileSize() != int64(len(data)) || pm.Content.GetImage() != "" {
		t.Errorf("image push content %v", pm.Content)
	}
	if rec := e.list(DefaultToken, AliceID, 1, "", 1)[0]; rec.Content.GetImageUrl() != url {
		t.Errorf("image record content %v", rec.Content)
	}

	// A file in its own bucket and CDN path.
	ftok := uploadToken(t, e, yunhu.PathQiniuTokenFile)
	fkey := "disk/" + hex.EncodeToString(sum[:]) + ".txt"
	if code, _ := upload(t, e, ftok, fkey, []byte("file body")); code != http.StatusOK {
		t.Fatalf("file upload %d", code)
	}
	e.mustOK(yunhu.PathSendMessage, DefaultToken, &yunhupb.SendMessageRequest{
		MsgId: hexID(2), ChatId: AliceID, ChatType: 1, ContentType: yunhu.ContentFile,
		Content: &yunhupb.MsgContent{FileUrl: fkey, FileName: "a.txt"},
	}, nil)
	fpm := ws.push(yunhu.WSCmdPushMessage)
	if fpm.Content.GetFileUrl() != e.urls.FileCDN+fkey || fpm.Content.GetFileSize() != 9 {
		t.Errorf("file push %v", fpm.Content)
	}
	if code, b := get(t, e, fpm.Content.GetFileUrl(), "http://myapp.jwznb.com"); code != 200 || string(b) != "file body" {
		t.Errorf("file download %d %q", code, b)
	}
}

func TestUploadTokenChecks(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, Options{Now: clock})
	tok := uploadToken(t, e, yunhu.PathQiniuTokenVideo)

	if code, out := upload(t, e, "ak:sig:policy", "k.mp4", []byte("v")); code != http.StatusUnauthorized || out["error"] != "bad token" {
		t.Errorf("bad token: %d %v", code, out)
	}
	parts := strings.Split(tok, ":")
	forged := parts[0] + ":" + parts[1] + ":" + base64.URLEncoding.EncodeToString([]byte(`{"scope":"chat68-video","deadline":9999999999}`))
	if code, _ := upload(t, e, forged, "k.mp4", []byte("v")); code != http.StatusUnauthorized {
		t.Errorf("forged policy: %d", code)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if code, out := upload(t, e, tok, "k.mp4", []byte("v")); code != http.StatusUnauthorized || out["error"] != "expired token" {
		t.Errorf("expired: %d %v", code, out)
	}
	fresh := uploadToken(t, e, yunhu.PathQiniuTokenVideo)
	if code, _ := upload(t, e, fresh, "k.mp4", []byte("v")); code != http.StatusOK {
		t.Errorf("fresh token: %d", code)
	}
	if b, ok := e.s.Object(yunhu.BucketVideo, "k.mp4"); !ok || string(b) != "v" {
		t.Errorf("stored object %q %v", b, ok)
	}
}

func TestQiniuEtagLarge(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 4<<20+10)
	a := sha1.Sum(data[:4<<20])
	b := sha1.Sum(data[4<<20:])
	all := sha1.Sum(append(a[:], b[:]...))
	want := base64.URLEncoding.EncodeToString(append([]byte{0x96}, all[:]...))
	if got := QiniuEtag(data); got != want {
		t.Errorf("etag %s, want %s", got, want)
	}
}

func TestConfigureAndAvatars(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.json(http.MethodGet, pathConfigure, DefaultToken, nil)
	var d map[string]string
	if err := json.Unmarshal(r.Data, &d); err != nil || d["websocketUrl"] != e.urls.WS || d["imageUrl"] != e.urls.ImageCDN {
		t.Fatalf("configure: %+v", r)
	}
	info := &yunhupb.UserInfoResponse{}
	e.mustOK(yunhu.PathUserInfo, DefaultToken, nil, info)
	if code, b := get(t, e, info.Data.GetAvatarUrl(), yunhu.Referer); code != 200 || len(b) == 0 {
		t.Errorf("avatar %s: %d", info.Data.GetAvatarUrl(), code)
	}
	// With PublicURL the media URLs use it instead of the request host.
	e2 := newEnv(t, Options{PublicURL: "https://sandbox.example/"})
	e2.s.PutObject(yunhu.BucketImage, "x.png", pngBytes(1, 1))
	e2.inject(Message{From: AliceID, ChatID: SelfID, ContentType: yunhu.ContentImage,
		Content: &yunhupb.MsgContent{Image: "x.png"}})
	rec := e2.list(DefaultToken, AliceID, 1, "", 1)[0]
	if want := fmt.Sprintf("https://sandbox.example%simg/x.png", PathCDN); rec.Content.GetImageUrl() != want || rec.Content.GetWidth() != 1 {
		t.Errorf("public url %v, want %q", rec.Content, want)
	}
}
