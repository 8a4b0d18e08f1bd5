package yunhu

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/encoding/protowire"
)

// pb builds protobuf bytes by field number, independent of the generated
// code, so that a wrong number in yunhu.proto makes the golden tests fail.
type pb []byte

func (b pb) str(num protowire.Number, s string) pb {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func (b pb) msg(num protowire.Number, m pb) pb {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func (b pb) varint(num protowire.Number, v int64) pb {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func (b pb) double(num protowire.Number, f float64) pb {
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(f))
}

// status is Status{1 request_id, 2 code, 3 msg} (§1.4).
func status(code int64, msg string) pb {
	return pb{}.varint(1, 114514).varint(2, code).str(3, msg)
}

// fields parses one message level into number → raw values (varints as
// uint64, LEN as []byte, fixed64 as uint64), failing on malformed input.
func fields(t *testing.T, b []byte) map[protowire.Number][]any {
	t.Helper()
	out := map[protowire.Number][]any{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		var v any
		switch typ {
		case protowire.VarintType:
			x, m := protowire.ConsumeVarint(b)
			v, n = x, m
		case protowire.BytesType:
			x, m := protowire.ConsumeBytes(b)
			v, n = x, m
		case protowire.Fixed64Type:
			x, m := protowire.ConsumeFixed64(b)
			v, n = x, m
		case protowire.Fixed32Type:
			x, m := protowire.ConsumeFixed32(b)
			v, n = x, m
		default:
			t.Fatalf("unexpected wire type %d for field %d", typ, num)
		}
		if n < 0 {
			t.Fatalf("bad field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		out[num] = append(out[num], v)
	}
	return out
}

func fstr(t *testing.T, f map[protowire.Number][]any, num protowire.Number) string {
	t.Helper()
	vs := f[num]
	if len(vs) != 1 {
		t.Fatalf("field %d: %d values, want 1", num, len(vs))
	}
	return string(vs[0].([]byte))
}

func fint(t *testing.T, f map[protowire.Number][]any, num protowire.Number) int64 {
	t.Helper()
	vs := f[num]
	if len(vs) != 1 {
		t.Fatalf("field %d: %d values, want 1", num, len(vs))
	}
	return int64(vs[0].(uint64))
}

// recorder is a fake REST server answering each path with canned bytes and
// remembering what the client sent.
type recorder struct {
	mu      sync.Mutex
	bodies  map[string][]byte
	headers map[string]http.Header
	methods map[string]string
	replies map[string][]byte
}

func newRecorder() *recorder {
	return &recorder{bodies: map[string][]byte{}, headers: map[string]http.Header{}, methods: map[string]string{}, replies: map[string][]byte{}}
}

func (r *recorder) reply(path string, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.replies[path] = b
}

func (r *recorder) body(path string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[path]
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies[req.URL.Path] = b
	r.headers[req.URL.Path] = req.Header.Clone()
	r.methods[req.URL.Path] = req.Method
	rep, ok := r.replies[req.URL.Path]
	r.mu.Unlock()
	if !ok {
		http.NotFound(w, req)
		return
	}
	_, _ = w.Write(rep)
}

// newTestClient returns a client for a server running h, with fast retries.
func newTestClient(t *testing.T, h http.Handler, mod func(*Options)) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	opts := Options{
		APIURL: srv.URL, WSURL: "ws" + srv.URL[len("http"):] + "/ws", UploadURL: srv.URL + "/upload",
		Token: "tok-1", Timeout: 5 * time.Second, Log: zaptest.NewLogger(t),
		Backoff: func(int) time.Duration { return 5 * time.Millisecond },
	}
	if mod != nil {
		mod(&opts)
	}
	c := New(opts)
	t.Cleanup(func() {
		c.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	return c
}
