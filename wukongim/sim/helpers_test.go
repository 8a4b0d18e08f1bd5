package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeClock is the simulator's clock in tests that replay the transcript
// at its own times.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// httpCall is one HTTP exchange of testdata/http.md.
type httpCall struct {
	title  string
	method string
	path   string
	at     string // hh:mm:ss
	body   []byte
	status int
	raw    []byte
}

var (
	callLine   = regexp.MustCompile("^`(GET|POST) ([^`]+)` \\(at (\\d\\d:\\d\\d:\\d\\d)\\)")
	statusLine = regexp.MustCompile(`^Response: HTTP (\d+)`)
)

// parseHTTPCalls reads every "#### title" exchange of the transcript's §1.
func parseHTTPCalls(t *testing.T, path string) map[string]*httpCall {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]*httpCall{}
	var cur *httpCall
	var title string
	var block *bytes.Buffer
	var blockFor string
	var pretty []byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	finish := func() {
		if cur != nil && cur.raw == nil && pretty != nil {
			var b bytes.Buffer
			if err := json.Compact(&b, pretty); err != nil {
				t.Fatalf("%s: response is not JSON: %v", cur.title, err)
			}
			cur.raw = b.Bytes()
		}
	}
	for sc.Scan() {
		line := sc.Text()
		if block != nil {
			if line == "```" {
				switch blockFor {
				case "req":
					cur.body = bytes.TrimSpace(block.Bytes())
				case "resp":
					pretty = append([]byte(nil), block.Bytes()...)
				}
				block = nil
				continue
			}
			block.WriteString(line + "\n")
			continue
		}
		switch {
		case strings.HasPrefix(line, "#### "):
			finish()
			cur, pretty = nil, nil
			title = strings.TrimPrefix(line, "#### ")
		case callLine.MatchString(line):
			m := callLine.FindStringSubmatch(line)
			cur = &httpCall{title: title, method: m[1], path: m[2], at: m[3]}
			if calls[title] != nil {
				t.Fatalf("duplicate title %q", title)
			}
			calls[title] = cur
		case cur != nil && line == "Request body:":
			blockFor = "req"
		case cur != nil && statusLine.MatchString(line):
			cur.status, _ = strconv.Atoi(statusLine.FindStringSubmatch(line)[1])
			blockFor = "resp"
		case cur != nil && strings.HasPrefix(line, "```"):
			block = &bytes.Buffer{}
		case cur != nil && strings.HasPrefix(line, "Raw response bytes: `"):
			s := strings.TrimPrefix(line, "Raw response bytes: `")
			cur.raw = []byte(s[:strings.LastIndex(s, "`")])
		}
	}
	finish()
	return calls
}

// wsEvent is one line of a WebSocket log in testdata/ws.md.
type wsEvent struct {
	at    time.Duration // since midnight
	label string
	kind  string // dial, send, recv, close, ping, readend
	data  string
}

var wsLine = regexp.MustCompile(`^(\d\d):(\d\d):(\d\d)\.(\d{3}) \[([^\]]+)\] (.*)$`)

func parseWSEvents(t *testing.T, path string) []wsEvent {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []wsEvent
	for _, line := range strings.Split(string(data), "\n") {
		m := wsLine.FindStringSubmatch(line)
		if m == nil || seen[line] {
			continue
		}
		seen[line] = true // §2.5 and §2.9 show some sessions twice
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		s, _ := strconv.Atoi(m[3])
		ms, _ := strconv.Atoi(m[4])
		ev := wsEvent{
			at:    time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(s)*time.Second + time.Duration(ms)*time.Millisecond,
			label: m[5],
		}
		rest := m[6]
		switch {
		case strings.HasPrefix(rest, "DIAL OK"):
			ev.kind = "dial"
		case strings.HasPrefix(rest, ">>> TEXT "):
			ev.kind, ev.data = "send", strings.TrimPrefix(rest, ">>> TEXT ")
		case strings.HasPrefix(rest, "<<< TEXT "):
			ev.kind, ev.data = "recv", strings.TrimPrefix(rest, "<<< TEXT ")
		case rest == ">>> WS-CLOSE":
			ev.kind = "close"
		case strings.HasPrefix(rest, ">>> WS-PING control "):
			ev.kind, ev.data = "ping", strings.Trim(strings.TrimPrefix(rest, ">>> WS-PING control "), `"`)
		case strings.HasPrefix(rest, "<<< WS-PONG control "):
			ev.kind, ev.data = "recv", "WS-PONG "+strings.Trim(strings.TrimPrefix(rest, "<<< WS-PONG control "), `"`)
		case strings.HasPrefix(rest, "<<< READ END"):
			ev.kind, ev.data = "readend", rest
		default:
			t.Fatalf("unparsed WebSocket line %q", line)
		}
		out = append(out, ev)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at < out[j].at })
	return out
}

// normalizer replaces values a simulator cannot reproduce (snowflake ids,
// random client_msg_nos, clock skew) with labels given in order of first
// appearance, so that two texts compare equal only if the same identities
// appear in the same places.
type normalizer struct {
	labels map[string]string
}

var volatile = []*regexp.Regexp{
	regexp.MustCompile(`("message_id":)(\d+)`),
	regexp.MustCompile(`("message_idstr":")(\d+)`),
	regexp.MustCompile(`("messageId":")(\d+)`),
	regexp.MustCompile(`(client_msg_no":")([0-9a-f]{32}0?)"`),
	regexp.MustCompile(`("clientMsgNo":")([0-9a-f]{32}0?)"`),
	regexp.MustCompile(`("timeDiff":)(\d+)`),
}

func newNormalizer() *normalizer { return &normalizer{labels: map[string]string{}} }

func (n *normalizer) norm(s string) string {
	for i, re := range volatile {
		s = re.ReplaceAllStringFunc(s, func(m string) string {
			sub := re.FindStringSubmatch(m)
			v := sub[2]
			if i == len(volatile)-1 {
				return sub[1] + "TD"
			}
			l, ok := n.labels[v]
			if !ok {
				l = fmt.Sprintf("V%d", len(n.labels)+1)
				n.labels[v] = l
			}
			return strings.Replace(m, v, l, 1)
		})
	}
	return s
}

// wsClient is a test WebSocket client that logs every frame it receives.
type wsClient struct {
	c    *websocket.Conn
	mu   sync.Mutex
	got  []string
	pos  int           // frames consumed by next
	more chan struct{} // signalled on every frame and at the end
	done chan struct{}
	err  error
}

func dialWS(t *testing.T, url string) *wsClient {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	_ = resp.Body.Close()
	w := &wsClient{c: c, more: make(chan struct{}, 1), done: make(chan struct{})}
	c.SetPongHandler(func(data string) error {
		w.add("WS-PONG " + data)
		return nil
	})
	go func() {
		defer close(w.done)
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				w.signal()
				return
			}
			w.add(string(data))
		}
	}()
	t.Cleanup(func() {
		_ = c.Close()
		<-w.done
	})
	return w
}

func (w *wsClient) add(f string) {
	w.mu.Lock()
	w.got = append(w.got, f)
	w.mu.Unlock()
	w.signal()
}

func (w *wsClient) signal() {
	select {
	case w.more <- struct{}{}:
	default:
	}
}

func (w *wsClient) frames() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.got...)
}

// waitFrames waits until at least n frames arrived.
func (w *wsClient) waitFrames(t *testing.T, n int, what string) []string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		if f := w.frames(); len(f) >= n {
			return f
		}
		select {
		case <-w.more:
		case <-w.done:
			if f := w.frames(); len(f) >= n {
				return f
			}
			t.Fatalf("%s: connection ended after %d of %d frames: %v", what, len(w.frames()), n, w.err)
		case <-deadline:
			t.Fatalf("%s: got %d of %d frames: %q", what, len(w.frames()), n, w.frames())
		}
	}
}

// next returns the first frame not yet returned by next, waiting for it.
func (w *wsClient) next(t *testing.T) string {
	t.Helper()
	f := w.waitFrames(t, w.pos+1, "next frame")[w.pos]
	w.pos++
	return f
}

func (w *wsClient) send(t *testing.T, s string) {
	t.Helper()
	if err := w.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// waitEnd waits for the server to end the connection and checks that it
// sent no close frame (the client reads 1006).
func (w *wsClient) waitEnd(t *testing.T, what string) {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: the server did not end the connection", what)
	}
	var ce *websocket.CloseError
	if !errors.As(w.err, &ce) || ce.Code != websocket.CloseAbnormalClosure {
		t.Fatalf("%s: read ended with %v, want 1006 (no close frame)", what, w.err)
	}
}

// isOpen reports whether the reader is still running.
func (w *wsClient) isOpen() bool {
	select {
	case <-w.done:
		return false
	default:
		return true
	}
}
