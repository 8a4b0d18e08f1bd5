package conformance

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
)

// Run runs the conformance suite against the backend h builds. Each
// subtest has its own world and daemon; they run one after the other.
func Run(t *testing.T, h Harness) {
	for _, c := range []struct {
		name string
		run  func(*testing.T, Harness)
	}{
		{"peer_message", testPeerMessage},
		{"send_private_msg", testSendPrivate},
		{"send_group_msg", testSendGroup},
		{"reply", testReply},
		{"send_image", testSendImage},
		{"delete_msg", testDeleteMsg},
		{"peer_recall", testPeerRecall},
		{"send_failure", testSendFailure},
		{"send_answer_lost", testSendAnswerLost},
		{"history", testHistory},
		{"dropped_connection", testDroppedConnection},
		{"restart", testRestart},
		{"missing_capabilities", testMissingCapabilities},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, h) })
	}
}

// testPeerMessage: a peer's message, private or in the group, becomes
// exactly one message event; its ids are the same numbers in every event
// and in get_msg, which answers the same body.
func testPeerMessage(t *testing.T, h Harness) {
	k := newKit(t, h)
	k.learnIDs()
	priv, grp := k.marker("private"), k.marker("group")
	k.say(k.private, priv)
	k.say(k.group, grp)
	pe, ge := k.waitMessage(priv), k.waitMessage(grp)
	if pe.Get("user_id").Int() != k.ids.peer || ge.Get("user_id").Int() != k.ids.peer || ge.Get("group_id").Int() != k.ids.group {
		t.Fatalf("ids changed between messages: private user_id %d, group user_id %d group_id %d; want %d, %d, %d",
			pe.Get("user_id").Int(), ge.Get("user_id").Int(), ge.Get("group_id").Int(), k.ids.peer, k.ids.peer, k.ids.group)
	}
	if got := plainText(pe); got != priv {
		t.Errorf("private message text %q; the peer said %q", got, priv)
	}
	k.checkSameMessage(pe)
	k.checkSameMessage(ge)
	if pe.Get("message_id").Int() == ge.Get("message_id").Int() {
		t.Errorf("two messages share message_id %d", pe.Get("message_id").Int())
	}
	// Nothing is reported twice, even later.
	k.sentinel(k.group, []string{grp})
	k.sentinel(k.private, []string{priv})
}

// sentinel makes the peer say one more message in conv and, once it is
// reported, checks that the messages of markers and it were each
// reported exactly once, in order: a duplicate reported before the
// sentinel is caught. It returns their message_ids.
func (k *kit) sentinel(conv platform.Conv, markers []string) []int64 {
	k.t.Helper()
	last := k.marker("sentinel")
	k.say(conv, last)
	return k.expectInOrder(conv, append(slices.Clone(markers), last))
}

// testSendPrivate: send_private_msg lands on the platform once, from
// the account, and get_msg answers it with the same message_id and body.
func testSendPrivate(t *testing.T, h Harness) {
	k := newKit(t, h)
	k.learnIDs()
	m := k.marker("sent privately")
	id := k.send(k.private, []params{text(m)})
	k.checkSent(k.private, m)
	got := k.getMsg(id)
	if a, b := segments(t, got.Get("message")), sentSegments(t, text(m)); a != b {
		t.Errorf("get_msg %d: message %s; sent %s", id, a, b)
	}
	if got.Get("message_type").Str != "private" || got.Get("sender.user_id").Int() != k.ids.self {
		t.Errorf("get_msg %d: message_type %q sender %d; want private from the account %d",
			id, got.Get("message_type").Str, got.Get("sender.user_id").Int(), k.ids.self)
	}
}

// testSendGroup: send_group_msg with a mention lands on the platform
// once, and get_msg answers the mention and the text.
func testSendGroup(t *testing.T, h Harness) {
	k := newKit(t, h)
	k.learnIDs()
	m := k.marker("sent to the group")
	id := k.send(k.group, []params{at(k.ids.peer), text(" " + m)})
	k.checkSent(k.group, m)
	got := k.getMsg(id)
	mentions := false
	for _, s := range got.Get("message").Array() {
		if s.Get("type").Str == "at" && s.Get("data.qq").String() == fmt.Sprint(k.ids.peer) {
			mentions = true
		}
	}
	if !mentions || !strings.Contains(plainText(got), m) {
		t.Errorf("get_msg %d: message %s; want the mention of %d and %q", id, got.Get("message").Raw, k.ids.peer, m)
	}
	if got.Get("message_type").Str != "group" || got.Get("group_id").Int() != k.ids.group || got.Get("sender.user_id").Int() != k.ids.self {
		t.Errorf("get_msg %d: %s; want a group message in %d from the account %d", id, got.Raw, k.ids.group, k.ids.self)
	}
}

// checkSent checks that the platform holds exactly one message carrying
// marker in conv, from the account, and that the daemon did not report
// its own send as a message event (report-self-message is off).
func (k *kit) checkSent(conv platform.Conv, marker string) {
	k.t.Helper()
	held := k.heldWith(conv, marker)
	if len(held) != 1 || held[0].SenderID != k.w.Account() || held[0].Recalled {
		k.t.Fatalf("the platform holds %+v for %q; want one message from the account %q", held, marker, k.w.Account())
	}
	k.sentinel(conv, nil)
	if evs := messagesWith(k.d.events.snapshot(), marker); len(evs) != 0 {
		k.t.Errorf("the account's own send was reported:\n%s", dump(evs))
	}
}

// testDeleteMsg: delete_msg recalls the message on the platform.
func testDeleteMsg(t *testing.T, h Harness) {
	k := newKit(t, h)
	k.learnIDs()
	for _, conv := range []platform.Conv{k.group, k.private} {
		m := k.marker("to be deleted")
		id := k.send(conv, []params{text(m)})
		k.d.must("delete_msg", params{"message_id": id})
		held := k.heldWith(conv, m)
		if len(held) != 1 || !held[0].Recalled {
			t.Errorf("%s: after delete_msg the platform holds %+v; want the message, recalled", conv.Kind, held)
		}
	}
}

// testPeerRecall: a peer's recall becomes group_recall or friend_recall
// naming the message_id its message event had.
func testPeerRecall(t *testing.T, h Harness) {
	k := newKit(t, h)
	k.learnIDs()
	for _, c := range []struct {
		conv   platform.Conv
		notice string
	}{{k.group, "group_recall"}, {k.private, "friend_recall"}} {
		m := k.marker("to be recalled")
		msgID := k.say(c.conv, m)
		id := k.waitMessage(m).Get("message_id").Int()
		if err := k.w.Recall(k.ctx, c.conv, msgID); err != nil {
			t.Fatalf("the peer recalls %s: %v", msgID, err)
		}
		isRecall := func(l []gjson.Result) []gjson.Result {
			var out []gjson.Result
			for _, ev := range l {
				if ev.Get("notice_type").Str == c.notice && ev.Get("message_id").Int() == id {
					out = append(out, ev)
				}
			}
			return out
		}
		k.d.events.wait(t, c.notice+" of "+m, func(l []gjson.Result) bool { return len(isRecall(l)) > 0 })
		k.sentinel(c.conv, []string{m})
		evs := isRecall(k.d.events.snapshot())
		if len(evs) != 1 {
			t.Fatalf("%d %s events for message %d; want one:\n%s", len(evs), c.notice, id, dump(evs))
		}
		ev := evs[0]
		if ev.Get("user_id").Int() != k.ids.peer || (c.conv.Kind == platform.KindGroup && ev.Get("group_id").Int() != k.ids.group) {
			t.Errorf("%s: %s; want user_id %d (and group_id %d)", c.notice, ev.Raw, k.ids.peer, k.ids.group)
		}
		if c.conv.Kind == platform.KindGroup && ev.Get("operator_id").Int() != k.ids.peer {
			t.Errorf("group_recall: operator_id %d; the peer %d recalled", ev.Get("operator_id").Int(), k.ids.peer)
		}
	}
}
