package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// Media through the whole pipeline, as a framework sends it over HTTP:
// the rules on where media come from (file roots, denied paths, the
// daemon's own listeners), also for quick operations, and media far
// larger than a store record sent whole without growing the database.

func pngOf(t *testing.T, pad int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	// Bytes after IEND are ignored by decoders: a PNG of any size.
	return append(buf.Bytes(), make([]byte, pad)...)
}

func b64URI(data []byte) string { return "base64://" + base64.StdEncoding.EncodeToString(data) }

// imageMsg is a send_private_msg body to Alice with one image segment.
func imageMsg(ref string) string {
	seg, _ := json.Marshal([]any{map[string]any{"type": "image", "data": map[string]any{"file": ref}}})
	return `{"user_id":` + sim.AliceID + `,"message":` + string(seg) + `}`
}

func uploads(s *Stack) int {
	n := 0
	for _, r := range s.Sim.Requests() {
		if r.Path == sim.PathUpload {
			n++
		}
	}
	return n
}

// TestMediaSourcesRefused: every forbidden source answers 1400 over the
// HTTP API and uploads nothing, with and without private networks
// allowed; the database is refused although it lies in the temp
// directory, the default root.
func TestMediaSourcesRefused(t *testing.T) {
	for _, allow := range []bool{false, true} {
		db := filepath.Join(t.TempDir(), "yunhu-onebot.db")
		s := Start(t, Options{DBPath: db, AllowPrivateMedia: allow})
		ok := filepath.Join(t.TempDir(), "ok.png")
		if err := os.WriteFile(ok, pngOf(t, 0), 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(t.TempDir(), "db.png")
		if err := os.Symlink(db, link); err != nil {
			t.Fatal(err)
		}
		// An allowed file in the default root goes out.
		before := uploads(s)
		s.MustHTTP("send_private_msg", imageMsg("file://"+ok))
		if uploads(s) != before+1 {
			t.Fatalf("allow=%v: the file in the temp directory was not uploaded", allow)
		}
		refused := map[string]string{
			"file:///etc/passwd":                         "no such file under message.media.file-roots",
			"file:///proc/self/environ":                  "no such file under message.media.file-roots",
			"file://" + db:                               "no such file under message.media.file-roots",
			"file://" + link:                             "no such file under message.media.file-roots",
			"file://" + filepath.Dir(ok) + "/../../..":   "no such file under message.media.file-roots",
			s.HTTPURL + "/get_login_info?access_token=x": "refused",
			strings.Replace(s.HTTPURL, "127.0.0.1", "localhost", 1) + "/get_status": "refused",
			"http://169.254.169.254/latest/meta-data/":                              "refused",
		}
		for ref, want := range refused {
			before := uploads(s)
			status, r := s.HTTP("send_private_msg", imageMsg(ref))
			if status != http.StatusOK || r.Retcode != 1400 || !strings.Contains(r.Message, "image.file") || !strings.Contains(r.Message, want) {
				t.Errorf("allow=%v %s: HTTP %d %+v, want 1400 saying %q", allow, ref, status, r, want)
			}
			if uploads(s) != before {
				t.Errorf("allow=%v %s: uploaded", allow, ref)
			}
		}
		// The simulator's own media, on loopback, only when allowed.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(pngOf(t, 0)) }))
		status, r := s.HTTP("send_private_msg", imageMsg(srv.URL+"/pic.png"))
		srv.Close()
		if allow != (r.Retcode == 0) {
			t.Errorf("allow=%v: a loopback media server answered HTTP %d %+v", allow, status, r)
		}
	}
}

// TestMediaQuickOperation: a webhook's quick-operation reply goes through
// the same rules, both when the daemon posts the event and through
// .handle_quick_operation.
func TestMediaQuickOperation(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "yunhu-onebot.db")
	good := b64URI(pngOf(t, 0))
	var posts atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev := gjson.ParseBytes(body)
		if ev.Get("post_type").String() != "message" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		posts.Add(1)
		ref := good
		if ev.Get("raw_message").String() == "steal" {
			ref = "file://" + db
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"reply": "[CQ:image,file=" + ref + "]"})
	}))
	defer hook.Close()
	s := Start(t, Options{DBPath: db, Posts: []string{hook.URL + "/"}})

	before := len(s.Sim.Sent())
	s.Inject(sim.Message{From: sim.AliceID, ChatID: sim.SelfID, Text: "steal"})
	s.Inject(sim.Message{From: sim.AliceID, ChatID: sim.SelfID, Text: "fine"})
	// One worker posts the events in order and carries out each reply
	// before the next: once the second reply's image is out, the first
	// reply has been refused or sent.
	s.WaitFor("the second reply", func() bool { return countImages(s, before) >= 1 })
	if n := countImages(s, before); n != 1 {
		t.Errorf("%d images sent for two replies, one naming the database", n)
	}
	if posts.Load() != 2 {
		t.Errorf("%d events posted", posts.Load())
	}

	op := `{"context":{"post_type":"message","message_type":"private","user_id":` + sim.AliceID +
		`,"message_id":1},"operation":{"reply":"[CQ:image,file=file:///proc/self/environ]"}}`
	status, r := s.HTTP(".handle_quick_operation", op)
	if r.Retcode == 0 || !strings.Contains(r.Message, "image.file: /proc/self/environ: no such file under message.media.file-roots") {
		t.Errorf(".handle_quick_operation: HTTP %d %+v", status, r)
	}
}

func countImages(s *Stack, skip int) int {
	n := 0
	for _, m := range s.Sim.Sent()[skip:] {
		if m.Code == yunhu.CodeOK && m.Request.ContentType == yunhu.ContentImage {
			n++
		}
	}
	return n
}

// TestMediaLargeBase64: images far beyond a store record (1 MiB) go out
// whole over the HTTP API, get_msg names the uploaded key rather than
// carrying the bytes, and the database grows by a few KiB a message, not
// by the media.
func TestMediaLargeBase64(t *testing.T) {
	db := filepath.Join(t.TempDir(), "yunhu-onebot.db")
	s := Start(t, Options{DBPath: db, AllowPrivateMedia: true})
	s.MustHTTP("send_private_msg", imageMsg(b64URI(pngOf(t, 1)))) // warm the store up
	size := func() int64 {
		st, err := os.Stat(db)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	start := size()

	images := [][]byte{pngOf(t, 21<<20)} // 21 MiB, 28 MiB as base64
	for i := range 20 {
		images = append(images, pngOf(t, 780_000+i)) // as large as a record could hold as base64
	}
	var total int64
	var ids []int64
	for _, img := range images {
		total += int64(len(img))
		r := s.MustHTTP("send_private_msg", imageMsg(b64URI(img)))
		id := gjson.GetBytes(r.Data, "message_id").Int()
		ids = append(ids, id)
		sent := s.Sim.Sent()
		key := md5Key(img)
		if got := sent[len(sent)-1].Request.Content.GetImage(); got != key {
			t.Fatalf("image of %d bytes: sent %q, want %q", len(img), got, key)
		}
		if obj, ok := s.Sim.Object(yunhu.BucketImage, key); !ok || !bytes.Equal(obj, img) {
			t.Fatalf("image of %d bytes: not uploaded whole", len(img))
		}
	}
	// get_msg: the key, not the bytes.
	for i, id := range []int64{ids[0], ids[len(ids)-1]} {
		img := images[0]
		if i == 1 {
			img = images[len(images)-1]
		}
		r := s.MustHTTP("get_msg", `{"message_id":`+strconv.FormatInt(id, 10)+`}`)
		if len(r.Data) > 4<<10 || !strings.Contains(string(r.Data), md5Key(img)) {
			t.Errorf("get_msg %d: %d bytes: %s", id, len(r.Data), Shorten(r.Data))
		}
	}
	// Every echo in, so every record is final.
	s.WaitFor("the echoes", func() bool {
		for _, id := range ids {
			rec, err := s.Store.Message(int32(id))
			if err != nil || rec.Seq == 0 {
				return false
			}
		}
		return true
	})
	grew := size() - start
	if limit := int64(len(images)) * 64 << 10; grew > limit {
		t.Errorf("the database grew by %d bytes for %d images of %d bytes in all; the bound is %d", grew, len(images), total, limit)
	}
	t.Logf("%d images, %d bytes of media: the database grew by %d bytes", len(images), total, grew)
}

func md5Key(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:]) + ".png"
}
