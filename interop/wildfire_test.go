package interop

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"
)

// wfRecord is a WildfireChat message as the WildfireChat sandbox shows it.
type wfRecord struct {
	MessageID string `json:"message_id"`
	Sender    string `json:"sender"`
	Conv      struct {
		Type   int    `json:"type"`
		Target string `json:"target"`
	} `json:"conv"`
	Payload struct {
		Type              int      `json:"type"`
		SearchableContent string   `json:"searchableContent"`
		Content           string   `json:"content"`
		Base64edData      string   `json:"base64edData"`
		RemoteMediaURL    string   `json:"remoteMediaUrl"`
		MentionedTarget   []string `json:"mentionedTarget"`
	} `json:"payload"`
}

// quoted is the message a WildfireChat text quotes (the SDKs' quote in
// base64edData), "" if none.
func (r wfRecord) quoted() string {
	raw, err := base64.StdEncoding.DecodeString(r.Payload.Base64edData)
	if err != nil {
		return ""
	}
	var q struct {
		Quote struct {
			U json.Number `json:"u"`
		} `json:"quote"`
	}
	_ = json.Unmarshal(raw, &q)
	return q.Quote.U.String()
}

// TestZeroBotWildfire: the same ZeroBot bot, unchanged, as a WildfireChat
// robot (the -sandbox simulator posting its callbacks to the daemon) over
// forward WebSocket: it answers in the group and in private, replies
// with a quote, a mention and an image other clients can fetch, and
// recalls through the admin API.
func TestZeroBotWildfire(t *testing.T) {
	d := startDaemonConfig(t, "backend: wildfire\n", "  - ws:\n      address: 127.0.0.1:0\n      access-token: wf-token\n")
	addr := d.addrs["ws"]
	if addr == "" {
		t.Fatal("the daemon did not log its ws address")
	}
	startBot(t, "forward", "ws://"+addr+"/", "wf-token")
	d.waitLog("ZeroBot to connect", func(e map[string]any) bool {
		return e["logger"] == "ws" && e["msg"] == "client connected"
	})
	const group = "g1"
	sent := func() []wfRecord {
		var s []wfRecord
		d.control("/sandbox/sent", nil, &s)
		return s
	}
	waitSent := func(what string, n int) []wfRecord {
		var s []wfRecord
		waitUntil(t, what, func() bool { s = sent(); return len(s) >= n })
		return s
	}
	say := func(params url.Values) wfRecord {
		var r wfRecord
		d.control("/sandbox/say", params, &r)
		return r
	}
	n := 0

	say(url.Values{"from": {"alice"}, "group": {group}, "text": {"ping"}})
	s := waitSent("pong in the group", n+1)
	if m := s[n]; m.Conv.Type != 1 || m.Conv.Target != group || m.Payload.Type != 1 || m.Payload.SearchableContent != "pong" {
		t.Fatalf("WildfireChat received %+v, want pong in %s", m, group)
	}
	n++
	say(url.Values{"from": {"bob"}, "private": {"1"}, "text": {"ping"}})
	s = waitSent("pong in private", n+1)
	if m := s[n]; m.Conv.Type != 0 || m.Conv.Target != "bob" || m.Payload.SearchableContent != "pong" {
		t.Fatalf("WildfireChat received %+v, want pong to bob", m)
	}
	n++

	quoted := say(url.Values{"from": {"alice"}, "group": {group}, "text": {"quote me"}})
	var text, picture *wfRecord
	waitUntil(t, "the quote, mention and image to reach WildfireChat", func() bool {
		s = sent()
		for i := n; i < len(s); i++ {
			m := &s[i]
			switch {
			case m.Payload.Type == 1 && text == nil:
				text = m
			case m.Payload.Type == 3 && picture == nil:
				picture = m
			}
		}
		return text != nil && picture != nil
	})
	if got := text.quoted(); got != quoted.MessageID {
		t.Errorf("the reply quotes %q, want message %s", got, quoted.MessageID)
	}
	if !slices.Contains(text.Payload.MentionedTarget, "alice") {
		t.Errorf("the reply mentions %v, want alice", text.Payload.MentionedTarget)
	}
	if got := fetch(t, picture.Payload.RemoteMediaURL); !bytes.Equal(got, testPNG()) {
		t.Errorf("the image at %s (%d bytes) is not the bot's (%d bytes)", picture.Payload.RemoteMediaURL, len(got), len(testPNG()))
	}
	n = len(s)

	say(url.Values{"from": {"alice"}, "group": {group}, "text": {"recall me"}})
	waitUntil(t, "the bot's message to be recalled on WildfireChat", func() bool {
		s = sent()
		return len(s) > n && s[n].Payload.Type == 80
	})
	n++

	time.Sleep(300 * time.Millisecond)
	if s = sent(); len(s) != n {
		t.Errorf("WildfireChat received %d messages from the robot, want %d: %+v", len(s), n, s)
	}
}
