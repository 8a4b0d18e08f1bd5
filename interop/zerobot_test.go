package interop

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"slices"
	"testing"
	"time"

	zero "github.com/wdvxdr1123/ZeroBot"
	"github.com/wdvxdr1123/ZeroBot/driver"
	"github.com/wdvxdr1123/ZeroBot/message"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// What the bot says, and to what.
const (
	recallText = "this message will be recalled"
	photoText  = " here is your picture"
)

// runBot is the child process: a ZeroBot bot as a bot author would write
// it, connected over forward WebSocket (mode "forward", url of the daemon)
// or serving reverse WebSocket (mode "reverse", url to listen on). It runs
// until the parent kills it.
func runBot(mode, url, token string) int {
	var drv zero.Driver
	switch mode {
	case "forward":
		drv = driver.NewWebSocketClient(url, token)
	case "reverse":
		drv = driver.NewWebSocketServer(16, url, token)
	default:
		return 2
	}
	zero.OnFullMatch("ping").Handle(func(ctx *zero.Ctx) {
		ctx.Send("pong")
	})
	zero.OnFullMatch("quote me").Handle(func(ctx *zero.Ctx) {
		ctx.Send(message.Message{
			message.Reply(ctx.Event.MessageID),
			message.At(ctx.Event.UserID),
			message.Text(photoText),
			message.Image("base64://" + base64.StdEncoding.EncodeToString(testPNG())),
		})
	})
	zero.OnFullMatch("recall me").Handle(func(ctx *zero.Ctx) {
		id := ctx.Send(recallText)
		if id.ID() == 0 {
			ctx.Send("send_msg answered without a message_id")
			return
		}
		ctx.DeleteMessage(id)
	})
	zero.RunAndBlock(&zero.Config{NickName: []string{"interop"}, CommandPrefix: "/", Driver: []zero.Driver{drv}}, nil)
	return 0
}

// testPNG is a small image, the same bytes in both processes.
func testPNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i, c := range []color.RGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}} {
		img.Set(i, 0, c)
		img.Set(i, 1, c)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// TestZeroBotForwardWebSocket: ZeroBot connects to the daemon's forward
// WebSocket with an access token.
func TestZeroBotForwardWebSocket(t *testing.T) {
	d := startDaemon(t, "  - ws:\n      address: 127.0.0.1:0\n      access-token: fwd-token\n")
	addr := d.addrs["ws"]
	if addr == "" {
		t.Fatal("the daemon did not log its ws address")
	}
	startBot(t, "forward", "ws://"+addr+"/", "fwd-token")
	d.waitLog("ZeroBot to connect", func(e map[string]any) bool {
		return e["logger"] == "ws" && e["msg"] == "client connected"
	})
	scenarios(t, d)
}

// TestZeroBotReverseWebSocket: the daemon dials ZeroBot's reverse
// WebSocket server with an access token.
func TestZeroBotReverseWebSocket(t *testing.T) {
	addr := freeLoopbackAddr(t)
	startBot(t, "reverse", "ws://"+addr, "rev-token")
	d := startDaemon(t, "  - ws-reverse:\n      universal: ws://"+addr+"/onebot/v11/ws\n"+
		"      reconnect-interval: 200\n      access-token: rev-token\n")
	d.waitLog("the daemon to connect to ZeroBot", func(e map[string]any) bool {
		return e["logger"] == "ws-reverse" && e["msg"] == "connected"
	})
	scenarios(t, d)
}

// scenarios makes simulated users talk to the bot and checks, on the Yunhu
// side, exactly what the bot sent back.
func scenarios(t *testing.T, d *daemonProc) {
	deadline := time.Now().Add(90 * time.Second)
	n := 0 // messages Yunhu received from the account so far

	// ping → pong, in a group and in private, each exactly once.
	d.say(url.Values{"from": {"alice"}, "group": {sim.GroupOwnedID}, "text": {"ping"}})
	sent := d.waitSent("pong in the group", n+1)
	expectText(t, sent[n], sim.GroupOwnedID, yunhu.ChatTypeGroup, "pong")
	n++
	d.say(url.Values{"from": {"bob"}, "private": {"1"}, "text": {"ping"}})
	sent = d.waitSent("pong in private", n+1)
	expectText(t, sent[n], sim.BobID, yunhu.ChatTypeUser, "pong")
	n++

	// A reply quoting the user's message, mentioning them, with an image.
	// Yunhu may need more than one message for it (an image message holds
	// no mention); together they must carry all three.
	quoted := d.say(url.Values{"from": {"alice"}, "group": {sim.GroupOwnedID}, "text": {"quote me"}})
	var quote, mention, picture *sentMessage
	waitUntil(t, "the quote, mention and image to reach Yunhu", func() bool {
		sent = d.sent()
		for i := n; i < len(sent); i++ {
			m := &sent[i]
			r := m.Request
			if m.Code != 1 || r.ChatID != sim.GroupOwnedID || r.ChatType != yunhu.ChatTypeGroup {
				t.Fatalf("Yunhu refused or misrouted part of the reply: %v", m)
			}
			if r.QuoteMsgID == quoted.MsgID && quote == nil {
				quote = m
			}
			if slices.Contains(r.Content.MentionedID, sim.AliceID) && mention == nil {
				mention = m
			}
			if r.ContentType == yunhu.ContentImage && picture == nil {
				picture = m
			}
		}
		return quote != nil && mention != nil && picture != nil
	})
	// The official clients write a mention as "@name" and one space; text
	// that already starts with a space gets no second one.
	if got, want := mention.Request.Content.Text, "@Alice"+photoText; got != want {
		t.Errorf("the mention's text is %q, want %q", got, want)
	}
	// The image on Yunhu is the bot's image, byte for byte.
	stored, ok := lookup(t, d, picture.Request.MsgID)
	if !ok || stored.Content.ImageURL == "" {
		t.Fatalf("Yunhu has no image URL for %v: %+v", picture, stored)
	}
	if got := fetch(t, stored.Content.ImageURL); !bytes.Equal(got, testPNG()) {
		t.Errorf("the image on Yunhu (%d bytes) is not the bot's (%d bytes)", len(got), len(testPNG()))
	}
	n = len(sent)

	// The bot sends a message and recalls it by the id send_msg gave it.
	d.say(url.Values{"from": {"carol"}, "group": {sim.GroupOwnedID}, "text": {"recall me"}})
	sent = d.waitSent("the message to recall", n+1)
	expectText(t, sent[n], sim.GroupOwnedID, yunhu.ChatTypeGroup, recallText)
	recalled := sent[n].Request.MsgID
	n++
	waitUntil(t, "the bot's recall to reach Yunhu", func() bool {
		r, ok := lookup(t, d, recalled)
		return ok && r.RecallTime != 0
	})

	// Nothing else was sent: no duplicate, no error message from the bot.
	time.Sleep(300 * time.Millisecond)
	sent = d.sent()
	if len(sent) != n {
		t.Errorf("Yunhu received %d messages, want %d", len(sent), n)
	}
	for _, m := range sent {
		t.Logf("Yunhu received %v", m)
	}
	if time.Now().After(deadline) {
		t.Errorf("the scenarios took longer than 90 s")
	}
}

func expectText(t *testing.T, m sentMessage, chatID string, chatType int32, text string) {
	t.Helper()
	r := m.Request
	if m.Code != 1 || r.ChatID != chatID || r.ChatType != chatType || r.ContentType != yunhu.ContentText ||
		r.Content.Text != text {
		t.Fatalf("Yunhu received %v, want text %q to chat %s (type %d)", m, text, chatID, chatType)
	}
}

// lookup returns a message as Yunhu stores it.
func lookup(t *testing.T, d *daemonProc, msgID string) (record, bool) {
	t.Helper()
	var r record
	d.control("/sandbox/message", url.Values{"id": {msgID}}, &r)
	return r, r.MsgID == msgID
}
