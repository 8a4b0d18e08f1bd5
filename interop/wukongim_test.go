package interop

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"
)

// The WuKongIM sandbox's world (sandbox_wukongim.go).
const (
	wkGroup = "g1"
	wkBot   = "bot1"
)

// wkRecord is a WuKongIM message as the WuKongIM sandbox shows it.
type wkRecord struct {
	MessageID   string `json:"message_id"`
	ChannelID   string `json:"channel_id"`
	ChannelType int    `json:"channel_type"`
	FromUID     string `json:"from_uid"`
	Payload     struct {
		Type    int    `json:"type"`
		Content string `json:"content"`
		URL     string `json:"url"`
		Mention *struct {
			UIDs []string `json:"uids"`
		} `json:"mention"`
		Reply *struct {
			MessageID json.Number `json:"message_id"`
		} `json:"reply"`
		Cmd   string `json:"cmd"`
		Param struct {
			MessageID json.Number `json:"message_id"`
		} `json:"param"`
	} `json:"payload"`
}

// TestZeroBotWuKongIM: the same ZeroBot bot, unchanged, on a WuKongIM
// server (the -sandbox simulator) over forward WebSocket: it answers in
// the group and in private, replies with a quote, a mention and an image
// other clients can fetch, and recalls by the SDKs' convention.
func TestZeroBotWuKongIM(t *testing.T) {
	d := startDaemonConfig(t, "backend: wukongim\n", "  - ws:\n      address: 127.0.0.1:0\n      access-token: wk-token\n")
	addr := d.addrs["ws"]
	if addr == "" {
		t.Fatal("the daemon did not log its ws address")
	}
	startBot(t, "forward", "ws://"+addr+"/", "wk-token")
	d.waitLog("ZeroBot to connect", func(e map[string]any) bool {
		return e["logger"] == "ws" && e["msg"] == "client connected"
	})

	sent := func() []wkRecord {
		var s []wkRecord
		d.control("/sandbox/sent", nil, &s)
		return s
	}
	waitSent := func(what string, n int) []wkRecord {
		var s []wkRecord
		waitUntil(t, what, func() bool { s = sent(); return len(s) >= n })
		return s
	}
	say := func(params url.Values) wkRecord {
		var r wkRecord
		d.control("/sandbox/say", params, &r)
		return r
	}
	n := 0

	// ping → pong, in the group and in private, each exactly once.
	say(url.Values{"from": {"alice"}, "group": {wkGroup}, "text": {"ping"}})
	s := waitSent("pong in the group", n+1)
	if m := s[n]; m.ChannelID != wkGroup || m.ChannelType != 2 || m.Payload.Type != 1 || m.Payload.Content != "pong" {
		t.Fatalf("WuKongIM received %+v, want pong in %s", m, wkGroup)
	}
	n++
	say(url.Values{"from": {"bob"}, "private": {"1"}, "text": {"ping"}})
	s = waitSent("pong in private", n+1)
	if m := s[n]; m.ChannelID != "bob" || m.ChannelType != 1 || m.Payload.Content != "pong" {
		t.Fatalf("WuKongIM received %+v, want pong to bob", m)
	}
	n++

	// A reply quoting the user's message, mentioning them, with an image:
	// the text carries the quote and the mention, the image follows.
	quoted := say(url.Values{"from": {"alice"}, "group": {wkGroup}, "text": {"quote me"}})
	var text, picture *wkRecord
	waitUntil(t, "the quote, mention and image to reach WuKongIM", func() bool {
		s = sent()
		for i := n; i < len(s); i++ {
			m := &s[i]
			switch {
			case m.Payload.Type == 1 && text == nil:
				text = m
			case m.Payload.Type == 2 && picture == nil:
				picture = m
			}
		}
		return text != nil && picture != nil
	})
	if text.Payload.Reply == nil || text.Payload.Reply.MessageID.String() != quoted.MessageID {
		t.Errorf("the reply quotes %+v, want message %s", text.Payload.Reply, quoted.MessageID)
	}
	if text.Payload.Mention == nil || !slices.Contains(text.Payload.Mention.UIDs, "alice") {
		t.Errorf("the reply mentions %+v, want alice", text.Payload.Mention)
	}
	if got := fetch(t, picture.Payload.URL); !bytes.Equal(got, testPNG()) {
		t.Errorf("the image at %s (%d bytes) is not the bot's (%d bytes)", picture.Payload.URL, len(got), len(testPNG()))
	}
	n = len(s)

	// The bot sends a message and recalls it: a messageRevoke command
	// naming that message follows it.
	say(url.Values{"from": {"alice"}, "group": {wkGroup}, "text": {"recall me"}})
	s = waitSent("the message to recall and its recall", n+2)
	if m := s[n]; m.Payload.Type != 1 || m.Payload.Content != recallText {
		t.Fatalf("WuKongIM received %+v, want %q", m, recallText)
	}
	if m := s[n+1]; m.Payload.Type != 99 || m.Payload.Cmd != "messageRevoke" || m.Payload.Param.MessageID.String() != s[n].MessageID {
		t.Fatalf("WuKongIM received %+v, want a messageRevoke of %s", m, s[n].MessageID)
	}
	n += 2

	// Nothing else was sent: no duplicate, no error message from the bot.
	time.Sleep(300 * time.Millisecond)
	if s = sent(); len(s) != n {
		t.Errorf("WuKongIM received %d messages from the bot, want %d: %+v", len(s), n, s)
	}
	for _, m := range s {
		if m.FromUID != wkBot {
			t.Errorf("the sandbox lists %+v as the bot's", m)
		}
	}
}
