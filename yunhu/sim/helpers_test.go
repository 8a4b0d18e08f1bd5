package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// These tests drive the simulator the way a client would: raw HTTP with
// protobuf or JSON bodies and a raw WebSocket, never the yunhu client.

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout bounds every wait in these tests.
const testTimeout = 5 * time.Second

type env struct {
	t    *testing.T
	s    *Server
	ts   *httptest.Server
	urls URLs
	hc   *http.Client
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	if opts.Log == nil {
		opts.Log = zaptest.NewLogger(t)
	}
	s := New(opts)
	ts := httptest.NewServer(s.Handler()) // listens on 127.0.0.1
	// Cleanups run last-in first-out: close the simulator first so hung
	// requests and sockets end, then the listener.
	t.Cleanup(ts.Close)
	t.Cleanup(s.Close)
	return &env{t: t, s: s, ts: ts, urls: Endpoints(ts.URL), hc: &http.Client{Timeout: testTimeout}}
}

func (e *env) do(method, path, token string, body []byte) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set(yunhu.HeaderToken, token)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// proto posts a protobuf request and decodes the reply into resp; it fails
// the test unless the reply is protobuf (first byte 0x0A, field 1 LEN).
func (e *env) proto(path, token string, req, resp proto.Message) *yunhupb.Status {
	e.t.Helper()
	var body []byte
	if req != nil {
		var err error
		if body, err = proto.Marshal(req); err != nil {
			e.t.Fatal(err)
		}
	}
	method := http.MethodPost
	if path == yunhu.PathUserInfo {
		method = http.MethodGet
	}
	code, b := e.do(method, path, token, body)
	if code != http.StatusOK {
		e.t.Fatalf("%s: HTTP %d %s", path, code, b)
	}
	if len(b) == 0 || b[0] != 0x0A {
		e.t.Fatalf("%s: reply is not protobuf: %q", path, b)
	}
	if resp == nil {
		resp = &yunhupb.StatusResponse{}
	}
	if err := proto.Unmarshal(b, resp); err != nil {
		e.t.Fatalf("%s: decode: %v", path, err)
	}
	st := &yunhupb.StatusResponse{}
	if err := proto.Unmarshal(b, st); err != nil {
		e.t.Fatal(err)
	}
	return st.Status
}

// mustOK is proto() that also requires Status.code 1.
func (e *env) mustOK(path, token string, req, resp proto.Message) {
	e.t.Helper()
	if st := e.proto(path, token, req, resp); st.GetCode() != yunhu.CodeOK {
		e.t.Fatalf("%s: code %d %q", path, st.GetCode(), st.GetMsg())
	}
}

type jsonReply struct {
	Code int32           `json:"code"`
	Msg  string          `json:"msg"`
	Data json.RawMessage `json:"data"`
}

func (e *env) json(method, path, token string, req any) jsonReply {
	e.t.Helper()
	var body []byte
	if req != nil {
		body, _ = json.Marshal(req)
	}
	code, b := e.do(method, path, token, body)
	if code != http.StatusOK {
		e.t.Fatalf("%s: HTTP %d %s", path, code, b)
	}
	var r jsonReply
	if err := json.Unmarshal(b, &r); err != nil {
		e.t.Fatalf("%s: reply is not JSON: %q", path, b)
	}
	return r
}

func (e *env) post(path, token string, req any) jsonReply {
	e.t.Helper()
	return e.json(http.MethodPost, path, token, req)
}

func (e *env) send(token, msgID, chatID string, chatType int32, text string) *yunhupb.Status {
	e.t.Helper()
	return e.proto(yunhu.PathSendMessage, token, &yunhupb.SendMessageRequest{
		MsgId: msgID, ChatId: chatID, ChatType: chatType, ContentType: yunhu.ContentText,
		Content: &yunhupb.MsgContent{Text: text},
	}, nil)
}

func (e *env) list(token, chatID string, chatType int32, anchor string, count int64) []*yunhupb.MessageRecord {
	e.t.Helper()
	resp := &yunhupb.ListMessageResponse{}
	e.mustOK(yunhu.PathListMessage, token, &yunhupb.ListMessageRequest{
		ChatId: chatID, ChatType: chatType, MsgId: anchor, MsgCount: count,
	}, resp)
	return resp.Messages
}

func (e *env) inject(m Message) Record {
	e.t.Helper()
	r, err := e.s.Inject(m)
	if err != nil {
		e.t.Fatalf("inject %+v: %v", m, err)
	}
	return r
}

func seqs(recs []*yunhupb.MessageRecord) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.MsgSeq
	}
	return out
}

// wsClient is a raw push-socket client.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

func (e *env) dial() *wsClient {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, resp, err := websocket.DefaultDialer.DialContext(ctx, e.urls.WS, nil)
	if err != nil {
		e.t.Fatalf("dial %s: %v", e.urls.WS, err)
	}
	resp.Body.Close()
	e.t.Cleanup(func() { c.Close() })
	return &wsClient{t: e.t, c: c}
}

func (w *wsClient) sendJSON(seq, cmd string, data any) {
	w.t.Helper()
	b, _ := json.Marshal(map[string]any{"seq": seq, "cmd": cmd, "data": data})
	if err := w.c.WriteMessage(websocket.TextMessage, b); err != nil {
		w.t.Fatalf("ws write: %v", err)
	}
}

func (w *wsClient) login(userID, token string) {
	w.t.Helper()
	w.sendJSON("login-1", yunhu.WSCmdLogin, map[string]string{
		"userId": userID, "token": token, "platform": "linux", "deviceId": "dev-" + userID,
	})
}

// loginAndWait logs in and proves the session live with a heartbeat, the
// way the reference advises (there is no login ack).
func (w *wsClient) loginAndWait(userID, token string) {
	w.t.Helper()
	w.login(userID, token)
	w.sendJSON("hb-login", yunhu.WSCmdHeartbeat, map[string]any{})
	f := w.frame()
	if f.GetInfo().GetCmd() != yunhu.WSCmdHeartbeatAck || f.GetInfo().GetSeq() != "hb-login" {
		w.t.Fatalf("want heartbeat_ack after login, got %v", f)
	}
}

func (w *wsClient) read() (int, []byte, error) {
	_ = w.c.SetReadDeadline(time.Now().Add(testTimeout))
	return w.c.ReadMessage()
}

// frame reads one binary frame and decodes its envelope.
func (w *wsClient) frame() *yunhupb.PushFrame {
	w.t.Helper()
	typ, b, err := w.read()
	if err != nil {
		w.t.Fatalf("ws read: %v", err)
	}
	if typ != websocket.BinaryMessage {
		w.t.Fatalf("want binary frame, got %d %q", typ, b)
	}
	f := &yunhupb.PushFrame{}
	if err := proto.Unmarshal(b, f); err != nil {
		w.t.Fatalf("decode frame: %v", err)
	}
	return f
}

// push reads one frame, requires cmd, and decodes its PushMessage payload.
func (w *wsClient) push(cmd string) *yunhupb.PushMessage {
	w.t.Helper()
	f := w.frame()
	if f.GetInfo().GetCmd() != cmd {
		w.t.Fatalf("want %s, got %s", cmd, f.GetInfo().GetCmd())
	}
	if f.GetData().GetTypeUrl() != yunhu.TypeURLPushMessage {
		w.t.Fatalf("type url %q", f.GetData().GetTypeUrl())
	}
	pm := &yunhupb.PushMessage{}
	if err := proto.Unmarshal(f.GetData().GetValue(), pm); err != nil {
		w.t.Fatal(err)
	}
	return pm
}

// expectText reads a text frame with the given content.
func (w *wsClient) expectText(want string) {
	w.t.Helper()
	typ, b, err := w.read()
	if err != nil {
		w.t.Fatalf("ws read: %v", err)
	}
	if typ != websocket.TextMessage || string(b) != want {
		w.t.Fatalf("want text %q, got %d %q", want, typ, b)
	}
}

// expectSilence asserts nothing arrives for a short while.
func (w *wsClient) expectSilence(d time.Duration) {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(d))
	typ, b, err := w.c.ReadMessage()
	if err == nil {
		w.t.Fatalf("unexpected frame %d %q", typ, b)
	}
	if !strings.Contains(err.Error(), "timeout") {
		w.t.Fatalf("want timeout, got %v", err)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func marshal(m proto.Message) ([]byte, error) { return proto.Marshal(m) }
