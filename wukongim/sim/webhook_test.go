package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

type gotHook struct {
	event, contentType string
	body               []byte
}

// hookSample returns the compacted JSON block that follows the line
// "Received <at>" in testdata/webhooks.md.
func hookSample(t *testing.T, at string) string {
	t.Helper()
	data, err := os.ReadFile("testdata/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "Received "+at)
	if i < 0 {
		t.Fatalf("no webhook received at %s", at)
	}
	s = s[i:]
	start := strings.Index(s, "```json\n") + len("```json\n")
	end := start + strings.Index(s[start:], "```")
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s[start:end])); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestWebhooksMatchTranscript sends the transcript's first group message
// with bot1 online and bob offline, at the transcript's clock, and compares
// the msg.notify and msg.offline bodies with §3.2 and §3.3.
func TestWebhooksMatchTranscript(t *testing.T) {
	hooks := make(chan gotHook, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hooks <- gotHook{event: r.URL.Query().Get("event"), contentType: r.Header.Get("Content-Type"), body: b}
	}))
	defer recv.Close()
	clk := &fakeClock{t: transcriptMidnight.Add(parseClock(t, "07:33:40"))}
	o := fastOptions()
	o.Now = clk.Now
	o.WebhookURL = recv.URL + "/hook"
	e := newEnv(t, o)
	e.s.RegisterToken("bot1", "bot1tok", 2, 1)
	e.s.CreateGroup("g1", "bot1", "alice", "bob")
	e.login(t, "bot1", "bot1tok", 2, "dev-A")

	next := func(event string) string {
		t.Helper()
		select {
		case h := <-hooks:
			if h.event != event || h.contentType != "application/json" {
				t.Fatalf("post %q (%s), want %q: %s", h.event, h.contentType, event, h.body)
			}
			return string(h.body)
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s post", event)
		}
		return ""
	}
	if got := next("user.onlinestatus"); !regexp.MustCompile(`^\["bot1-2-1-\d+-1-1"\]$`).MatchString(got) {
		t.Fatalf("onlinestatus %s", got)
	}
	clk.Set(transcriptMidnight.Add(parseClock(t, "07:33:47")))
	call := parseHTTPCalls(t, "testdata/http.md")["send: group text alice -> g1 (full header)"]
	if st, body := e.post(t, "/message/send", string(call.body)); st != 200 {
		t.Fatalf("send: %d %s", st, body)
	}
	exp, act := newNormalizer(), newNormalizer()
	for _, c := range []struct{ event, at string }{
		{"msg.notify", "07:33:47.622"},
		{"msg.offline", "07:33:47.322"},
	} {
		want, got := exp.norm(hookSample(t, c.at)), act.norm(next(c.event))
		if want != got {
			t.Errorf("%s:\n got: %s\nwant: %s", c.event, got, want)
		}
	}
}
