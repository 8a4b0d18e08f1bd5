package yunhu

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// fakeQiniu answers the token endpoints and the multipart upload of §5.
type fakeQiniu struct {
	t       *testing.T
	parts   []string // form part names in order
	key     string
	token   string
	file    []byte
	fname   string
	ctype   string
	ua      string
	tokenOf string // token endpoint path used
}

func (f *fakeQiniu) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/misc/qiniu-token"):
		f.tokenOf = r.URL.Path
		_, _ = w.Write([]byte(`{"code":1,"msg":"success","data":{"token":"AK:sig:cG9saWN5"}}`))
	case r.URL.Path == "/upload":
		f.ua = r.Header.Get("User-Agent")
		mr, err := r.MultipartReader()
		if err != nil {
			f.t.Errorf("multipart: %v", err)
			http.Error(w, `{"error":"bad form"}`, 400)
			return
		}
		f.parts = nil
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			f.parts = append(f.parts, p.FormName())
			switch p.FormName() {
			case "token":
				f.token = string(b)
			case "key":
				f.key = string(b)
			case "file":
				f.file, f.fname, f.ctype = b, p.FileName(), p.Header.Get("Content-Type")
			}
		}
		if f.token != "AK:sig:cG9saWN5" {
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"error":"bad token"}`))
			return
		}
		_, _ = w.Write([]byte(`{"key":"` + f.key + `","hash":"FhashX","fsize":1}`))
	default:
		http.NotFound(w, r)
	}
}

func TestUploadImage(t *testing.T) {
	q := &fakeQiniu{t: t}
	c := newTestClient(t, q, nil)
	img := pngBytes(t, 64, 32)
	up, err := c.Upload(context.Background(), UploadImage, "photo.jpeg", img)
	if err != nil {
		t.Fatal(err)
	}
	want := md5hex(img) + ".png" // extension from the sniffed bytes, not the name
	if up.Key != want || q.key != want || up.Hash != "FhashX" || up.MIME != "image/png" || up.Suffix != "png" ||
		up.Width != 64 || up.Height != 32 || up.Size != int64(len(img)) {
		t.Errorf("upload = %+v, form key %q", up, q.key)
	}
	if strings.Join(q.parts, ",") != "token,key,file" || !bytes.Equal(q.file, img) || q.fname != want || q.ctype != "image/png" {
		t.Errorf("form parts %v file %q %q", q.parts, q.fname, q.ctype)
	}
	if q.tokenOf != PathQiniuTokenImage || q.ua != QiniuUserAgent {
		t.Errorf("token path %q, ua %q", q.tokenOf, q.ua)
	}
	o := up.Outgoing(Chat{ID: "big", Type: ChatTypeGroup})
	if o.ContentType != ContentImage || o.Content.Image != want || o.Media == nil || o.Media.Width != 64 || o.Media.Hash != "FhashX" {
		t.Errorf("outgoing = %+v", o)
	}
}

func TestUploadKinds(t *testing.T) {
	q := &fakeQiniu{t: t}
	c := newTestClient(t, q, nil)
	data := []byte("%PDF-1.4 hello")
	for _, tc := range []struct {
		kind      UploadKind
		name      string
		key       string
		tokenPath string
		fname     string
	}{
		{UploadFile, "Report.PDF", "disk/" + md5hex(data) + ".pdf", PathQiniuTokenFile, "Report.PDF"},
		{UploadFile, "noext", "disk/" + md5hex(data) + ".pdf", PathQiniuTokenFile, "noext"},
		{UploadAudio, "voice.m4a", md5hex(data) + ".m4a", PathQiniuTokenAudio, md5hex(data) + ".m4a"},
		{UploadVideo, "", md5hex(data) + ".mp4", PathQiniuTokenVideo, md5hex(data) + ".mp4"},
	} {
		up, err := c.Upload(context.Background(), tc.kind, tc.name, data)
		if err != nil {
			t.Fatal(err)
		}
		if up.Key != tc.key || q.tokenOf != tc.tokenPath || q.fname != tc.fname {
			t.Errorf("%v %q: key %q (want %q), token %q, filename %q", tc.kind, tc.name, up.Key, tc.key, q.tokenOf, q.fname)
		}
	}
}

func TestUploadLimitsAndErrors(t *testing.T) {
	q := &fakeQiniu{t: t}
	c := newTestClient(t, q, func(o *Options) { o.MaxUploadSize = 10 })
	if _, err := c.Upload(context.Background(), UploadFile, "a", make([]byte, 11)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	bad := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/upload" {
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"error":"expired token"}`))
			return
		}
		_, _ = w.Write([]byte(`{"code":1,"msg":"success","data":{"token":"x"}}`))
	})
	c2 := newTestClient(t, bad, nil)
	_, err := c2.Upload(context.Background(), UploadImage, "a.png", []byte("x"))
	var ae *APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 401 || ae.Msg != "expired token" {
		t.Fatalf("err = %#v", err)
	}
}

func TestDownloadSendsReferer(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Referer") != Referer {
			http.Error(w, "forbidden", 403)
			return
		}
		_, _ = w.Write([]byte("GIF89a..."))
	})
	c := newTestClient(t, h, nil)
	data, mimeType, err := c.Download(context.Background(), c.api+"/x.gif")
	if err != nil || string(data) != "GIF89a..." || mimeType != "image/gif" {
		t.Fatalf("download = %q %q %v", data, mimeType, err)
	}
	c2 := newTestClient(t, h, func(o *Options) { o.MaxUploadSize = 4 })
	if _, _, err := c2.Download(context.Background(), c2.api+"/x.gif"); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

// TestOnCallNamesEndpoints: OnCall is told every REST call once, by API
// path, and a media transfer as "upload", never by its URL (which may
// carry credentials and is different for every file).
func TestOnCallNamesEndpoints(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	q := &fakeQiniu{t: t}
	c := newTestClient(t, q, func(o *Options) {
		o.UploadURL += "?secret=s3cr3t"
		o.OnCall = func(endpoint string, took time.Duration, err error) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, fmt.Sprintf("%s %v", endpoint, err != nil))
		}
	})
	if _, err := c.Upload(context.Background(), UploadImage, "photo.png", pngBytes(t, 8, 8)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{UploadImage.tokenPath() + " false", "upload false"}; !slices.Equal(calls, want) {
		t.Fatalf("OnCall saw %q, want %q", calls, want)
	}
}
