package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// kit is one subtest's world and the daemon running over it.
type kit struct {
	t   *testing.T
	h   Harness
	w   World
	ctx context.Context
	db  string
	d   *daemon

	private, group platform.Conv
	markers        int
	ids            oneBotIDs // known after learnIDs
}

// oneBotIDs are the OneBot numbers of the world's account, peer and group.
type oneBotIDs struct{ self, peer, group int64 }

// newKit starts a fresh world and a daemon over it.
func newKit(t *testing.T, h Harness) *kit {
	t.Helper()
	w := h.NewWorld(t)
	k := &kit{
		t: t, h: h, w: w, ctx: context.Background(), db: dbPath(t),
		private: platform.Conv{Kind: platform.KindPrivate, ID: w.Peer()},
		group:   platform.Conv{Kind: platform.KindGroup, ID: w.Group()},
	}
	k.d = startDaemon(t, h, w, k.db)
	return k
}

// restart stops the daemon and starts another on the same store and
// world; the events of the new one start empty.
func (k *kit) restart() {
	k.t.Helper()
	k.d.stop()
	k.d = startDaemon(k.t, k.h, k.w, k.db)
}

// marker returns a text unique in this subtest, to find a message by;
// no marker is part of another ("(1)" is not in "(10)").
func (k *kit) marker(what string) string {
	k.markers++
	return fmt.Sprintf("conformance %s (%d)", what, k.markers)
}

// say makes the peer say text in conv.
func (k *kit) say(conv platform.Conv, text string) string {
	k.t.Helper()
	id, err := k.w.Say(k.ctx, conv, text)
	if err != nil {
		k.t.Fatalf("the peer says %q in %s %s: %v", text, conv.Kind, conv.ID, err)
	}
	return id
}

// held returns what the platform holds in conv.
func (k *kit) held(conv platform.Conv) []Held {
	k.t.Helper()
	msgs, err := k.w.Messages(k.ctx, conv)
	if err != nil {
		k.t.Fatalf("list the platform's messages in %s %s: %v", conv.Kind, conv.ID, err)
	}
	return msgs
}

// heldWith returns the messages of conv whose text contains marker.
func (k *kit) heldWith(conv platform.Conv, marker string) []Held {
	k.t.Helper()
	var out []Held
	for _, m := range k.held(conv) {
		if strings.Contains(m.Text, marker) {
			out = append(out, m)
		}
	}
	return out
}

// learnIDs makes the peer say something privately and in the group, and
// learns the OneBot numbers of the account, the peer and the group from
// the events and get_login_info, checking that they agree.
func (k *kit) learnIDs() oneBotIDs {
	k.t.Helper()
	privText, groupText := k.marker("hello"), k.marker("hello everyone")
	k.say(k.private, privText)
	k.say(k.group, groupText)
	priv := k.waitMessage(privText)
	grp := k.waitMessage(groupText)
	self := k.d.must("get_login_info", nil).Get("user_id").Int()
	got := oneBotIDs{self: self, peer: priv.Get("user_id").Int(), group: grp.Get("group_id").Int()}
	switch {
	case self == 0 || got.peer == 0 || got.group == 0:
		k.t.Fatalf("ids: account %d, peer %d, group %d; want all non-zero", self, got.peer, got.group)
	case priv.Get("message_type").Str != "private" || grp.Get("message_type").Str != "group":
		k.t.Fatalf("message_type: %q and %q; want private and group", priv.Get("message_type").Str, grp.Get("message_type").Str)
	case grp.Get("user_id").Int() != got.peer:
		k.t.Fatalf("the peer is user_id %d in the group and %d privately; want one number", grp.Get("user_id").Int(), got.peer)
	case priv.Get("self_id").Int() != self || grp.Get("self_id").Int() != self:
		k.t.Fatalf("self_id %d and %d; get_login_info says %d", priv.Get("self_id").Int(), grp.Get("self_id").Int(), self)
	case got.peer == self:
		k.t.Fatalf("the peer and the account are both user_id %d", self)
	}
	k.ids = got
	return got
}

// isMessage reports whether ev is a message event in conv.
func (k *kit) isMessage(ev gjson.Result, conv platform.Conv) bool {
	if ev.Get("post_type").Str != "message" {
		return false
	}
	if conv.Kind == platform.KindGroup {
		return ev.Get("message_type").Str == "group" && (k.ids.group == 0 || ev.Get("group_id").Int() == k.ids.group)
	}
	return ev.Get("message_type").Str == "private" && (k.ids.peer == 0 || ev.Get("user_id").Int() == k.ids.peer)
}

// plainText is the text of a message event's or get_msg's segments.
func plainText(v gjson.Result) string {
	var b strings.Builder
	for _, s := range v.Get("message").Array() {
		if s.Get("type").Str == "text" {
			b.WriteString(s.Get("data.text").Str)
		}
	}
	return b.String()
}

// messagesWith returns the message (and message_sent) events whose text
// contains marker.
func messagesWith(list []gjson.Result, marker string) []gjson.Result {
	var out []gjson.Result
	for _, ev := range list {
		post := ev.Get("post_type").Str
		if (post == "message" || post == "message_sent") && strings.Contains(plainText(ev), marker) {
			out = append(out, ev)
		}
	}
	return out
}

// waitMessage waits for the message event carrying marker and returns
// it, failing if there are several.
func (k *kit) waitMessage(marker string) gjson.Result {
	k.t.Helper()
	list := k.d.events.wait(k.t, "the message "+marker, func(l []gjson.Result) bool {
		return len(messagesWith(l, marker)) > 0
	})
	evs := messagesWith(list, marker)
	if len(evs) != 1 {
		k.t.Fatalf("%d message events carry %q; want exactly one:\n%s", len(evs), marker, dump(evs))
	}
	return evs[0]
}

// expectInOrder waits for the message events of markers in conv and
// checks that each came exactly once and in the order given. It returns
// their message_ids.
func (k *kit) expectInOrder(conv platform.Conv, markers []string) []int64 {
	k.t.Helper()
	list := k.d.events.wait(k.t, fmt.Sprintf("%d messages in %s", len(markers), conv.Kind), func(l []gjson.Result) bool {
		for _, m := range markers {
			if len(messagesWith(l, m)) == 0 {
				return false
			}
		}
		return true
	})
	return k.checkOnceInOrder(list, conv, markers)
}

// checkOnceInOrder checks that list holds exactly one message event in
// conv for each marker, in the order of markers, and returns their
// message_ids (which must differ).
func (k *kit) checkOnceInOrder(list []gjson.Result, conv platform.Conv, markers []string) []int64 {
	k.t.Helper()
	var order []string
	var msgIDs []int64
	for _, ev := range list {
		if !k.isMessage(ev, conv) {
			continue
		}
		text := plainText(ev)
		for _, m := range markers {
			if strings.Contains(text, m) {
				order = append(order, m)
				msgIDs = append(msgIDs, ev.Get("message_id").Int())
			}
		}
	}
	if !slices.Equal(order, markers) {
		k.t.Fatalf("messages in %s reported as\n  %q\nwant each exactly once, in order:\n  %q\nevents:\n%s",
			conv.Kind, order, markers, dump(list))
	}
	seen := map[int64]bool{}
	for _, id := range msgIDs {
		if id == 0 || seen[id] {
			k.t.Fatalf("message_ids %v: want distinct and non-zero", msgIDs)
		}
		seen[id] = true
	}
	return msgIDs
}

// params are an action's parameters.
type params = map[string]any

// getMsg calls get_msg for id and checks the answer names id.
func (k *kit) getMsg(id int64) gjson.Result {
	k.t.Helper()
	data := k.d.must("get_msg", params{"message_id": id})
	if got := data.Get("message_id").Int(); got != id {
		k.t.Fatalf("get_msg %d answers message_id %d", id, got)
	}
	return data
}

// checkSameMessage checks that get_msg answers what the event ev
// reported: the same body, sender and conversation.
func (k *kit) checkSameMessage(ev gjson.Result) {
	k.t.Helper()
	id := ev.Get("message_id").Int()
	got := k.getMsg(id)
	for _, field := range []string{"message_type", "user_id", "group_id", "sender.user_id"} {
		if a, b := got.Get(field), ev.Get(field); a.Raw != b.Raw && !(a.Int() == b.Int() && a.Int() != 0) {
			k.t.Errorf("get_msg %d: %s %s; the event said %s", id, field, a.Raw, b.Raw)
		}
	}
	if a, b := segments(k.t, got.Get("message")), segments(k.t, ev.Get("message")); a != b {
		k.t.Errorf("get_msg %d: message %s; the event said %s", id, a, b)
	}
}

// segments is a message in array form as canonical CQ text, for
// comparing bodies whatever the JSON spelling of their values.
func segments(t *testing.T, v gjson.Result) string {
	t.Helper()
	m, err := segment.DecodeJSON([]byte(v.Raw), false)
	if err != nil {
		t.Fatalf("message %s: %v", shorten([]byte(v.Raw)), err)
	}
	return segment.FormatCQ(m)
}

// sentSegments is a message the kit sends, as segments renders it.
func sentSegments(t *testing.T, message ...params) string {
	t.Helper()
	raw, err := json.Marshal(message)
	if err != nil {
		t.Fatalf("marshal %v: %v", message, err)
	}
	return segments(t, gjson.ParseBytes(raw))
}

// send sends message (array form) to conv and returns its message_id.
func (k *kit) send(conv platform.Conv, message []params) int64 {
	k.t.Helper()
	action, p := k.sendParams(conv, message)
	id := k.d.must(action, p).Get("message_id").Int()
	if id == 0 {
		k.t.Fatalf("%s answered message_id 0", action)
	}
	return id
}

func (k *kit) sendParams(conv platform.Conv, message []params) (string, params) {
	if conv.Kind == platform.KindGroup {
		return "send_group_msg", params{"group_id": k.ids.group, "message": message}
	}
	return "send_private_msg", params{"user_id": k.ids.peer, "message": message}
}

func text(s string) params { return params{"type": "text", "data": params{"text": s}} }

func at(n int64) params { return params{"type": "at", "data": params{"qq": fmt.Sprint(n)}} }
