package conformance

import (
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
)

// maxProbe bounds the message_ids send_failure probes between two good
// sends.
const maxProbe = 64

// testSendFailure: a send the platform refuses answers a failure, the
// platform holds nothing, and no message_id reads the message back.
func testSendFailure(t *testing.T, h Harness) {
	k := newKit(t, h)
	k.learnIDs()
	before := k.send(k.group, []params{text(k.marker("before the failure"))})
	failed := k.marker("refused")
	k.w.FailSends(1)
	action, p := k.sendParams(k.group, []params{text(failed)})
	r := k.d.call(action, p)
	if r.Retcode == 0 || r.Status != "failed" {
		t.Fatalf("%s the platform refused: %s (retcode %d) %s; want a failure", action, r.Status, r.Retcode, r.Data)
	}
	after := k.send(k.group, []params{text(k.marker("after the failure"))})
	if held := k.heldWith(k.group, failed); len(held) != 0 {
		t.Errorf("the platform holds the refused message: %+v", held)
	}
	// message_ids need not be dense; where they are, the refused send's
	// would lie between its neighbours'.
	lo, hi := min(before, after), max(before, after)
	for id := lo + 1; id < hi && id-lo <= maxProbe; id++ {
		r := k.d.call("get_msg", params{"message_id": id})
		if r.Retcode == 0 && strings.Contains(plainText(gjson.ParseBytes(r.Data)), failed) {
			t.Errorf("get_msg %d answers the refused message: %s", id, r.Data)
		}
	}
	if k.h.Capabilities().History {
		for _, m := range k.history(k.group, 50) {
			if strings.Contains(plainText(m), failed) {
				t.Errorf("get_group_msg_history lists the refused message: %s", m.Raw)
			}
		}
	}
}

// testSendAnswerLost: a send whose answer is lost went out: the
// platform holds it once; the action answers a failure, or (a backend
// that retries a send the platform cannot duplicate) the message_id that
// get_msg reads it back by; it is not reported; history (with History)
// lists it once; and the next send is not disturbed.
func testSendAnswerLost(t *testing.T, h Harness) {
	k := newKit(t, h)
	k.learnIDs()
	lost := k.marker("answer lost")
	k.w.LoseSendAnswers(1)
	action, p := k.sendParams(k.group, []params{text(lost)})
	r := k.d.call(action, p)
	var lostID int64
	switch {
	case r.Retcode == 0:
		lostID = gjson.GetBytes(r.Data, "message_id").Int()
		if got := k.getMsg(lostID); !strings.Contains(plainText(got), lost) {
			t.Errorf("%s answered message_id %d, whose get_msg is %s", action, lostID, got.Raw)
		}
	case r.Status != "failed":
		t.Fatalf("%s whose answer was lost: status %q retcode %d; want ok or failed", action, r.Status, r.Retcode)
	}
	if held := k.heldWith(k.group, lost); len(held) != 1 || held[0].SenderID != k.w.Account() {
		t.Fatalf("the platform holds %+v; want the message, once, from the account", held)
	}
	next := k.marker("after the lost answer")
	id := k.send(k.group, []params{text(next)})
	k.sentinel(k.group, nil)
	if evs := messagesWith(k.d.events.snapshot(), lost); len(evs) != 0 {
		t.Errorf("the account's own message was reported:\n%s", dump(evs))
	}
	if !h.Capabilities().History {
		return
	}
	var lostIDs, nextIDs []int64
	for _, m := range k.history(k.group, 20) {
		switch text := plainText(m); {
		case strings.Contains(text, lost):
			lostIDs = append(lostIDs, m.Get("message_id").Int())
		case strings.Contains(text, next):
			nextIDs = append(nextIDs, m.Get("message_id").Int())
		}
	}
	if len(lostIDs) != 1 || len(nextIDs) != 1 || nextIDs[0] != id || lostIDs[0] == id || (lostID != 0 && lostIDs[0] != lostID) {
		t.Errorf("history lists the message whose answer was lost as %v and the next as %v; want one each, the next as %d",
			lostIDs, nextIDs, id)
	}
}

// history calls get_group_msg_history for the group's newest count
// messages.
func (k *kit) history(conv platform.Conv, count int) []gjson.Result {
	k.t.Helper()
	return k.d.must("get_group_msg_history", params{"group_id": k.ids.group, "count": count}).Get("messages").Array()
}

// testHistory: get_group_msg_history lists the group's messages, the
// peer's and the account's, oldest first, each once, with the
// message_ids their events and sends had.
func testHistory(t *testing.T, h Harness) {
	// With History the platform lists them; without, the daemon lists
	// what it stored: either way these, received and sent while it ran.
	k := newKit(t, h)
	k.learnIDs()
	var markers []string
	var want []int64
	for i := range 3 {
		m := k.marker("history")
		markers = append(markers, m)
		k.say(k.group, m)
		want = append(want, k.waitMessage(m).Get("message_id").Int())
		if i == 1 {
			mine := k.marker("history, mine")
			markers = append(markers, mine)
			want = append(want, k.send(k.group, []params{text(mine)}))
		}
	}
	var got []int64
	var order []string
	for _, m := range k.history(k.group, 20) {
		for _, marker := range markers {
			if strings.Contains(plainText(m), marker) {
				order = append(order, marker)
				got = append(got, m.Get("message_id").Int())
			}
		}
	}
	if !slices.Equal(order, markers) || !slices.Equal(got, want) {
		t.Fatalf("history lists %q with message_ids %v; want %q with %v", order, got, markers, want)
	}
}

// testDroppedConnection: across a dropped receive connection, every
// message is reported exactly once and in order: those said at the drop
// (pushed again, or caught up), and those said while the platform kept
// the backend away (caught up from History only).
func testDroppedConnection(t *testing.T, h Harness) {
	if !h.Capabilities().History {
		t.Skip("the backend does not claim History: what is said while it is away is lost")
	}
	k := newKit(t, h)
	k.learnIDs()

	var inGroup, inPrivate []string
	sayIn := func(conv platform.Conv, list *[]string, what string) {
		m := k.marker(what)
		*list = append(*list, m)
		k.say(conv, m)
	}
	if err := k.w.Drop(k.ctx); err != nil {
		t.Fatalf("drop the connection: %v", err)
	}
	for range 3 {
		sayIn(k.group, &inGroup, "at the drop")
	}
	k.expectInOrder(k.group, inGroup)

	release, err := k.w.Hold(k.ctx)
	if err != nil {
		t.Fatalf("hold the connection down: %v", err)
	}
	k.d.waitOnline(false)
	for range 2 {
		sayIn(k.group, &inGroup, "while away")
		sayIn(k.private, &inPrivate, "while away")
	}
	release()
	k.d.waitOnline(true)
	k.expectInOrder(k.group, inGroup)
	k.expectInOrder(k.private, inPrivate)
	k.sentinel(k.group, inGroup)
	k.sentinel(k.private, inPrivate)
}

// testRestart: across a restart of the daemon on the same store, the
// ids stay the same numbers, get_msg answers what the first daemon
// stored, nothing is reported again, and (with History) what was said
// while the daemon was down is reported once, in order.
func testRestart(t *testing.T, h Harness) {
	k := newKit(t, h)
	first := k.learnIDs()
	heard := k.marker("before the restart")
	k.say(k.group, heard)
	heardEv := k.waitMessage(heard)
	sent := k.marker("sent before the restart")
	sentID := k.send(k.private, []params{text(sent)})
	sentBody := segments(t, k.getMsg(sentID).Get("message"))
	reported := k.d.events.snapshot()

	var missed []string
	if h.Capabilities().History {
		k.d.stop()
		for range 2 {
			m := k.marker("while the daemon was down")
			missed = append(missed, m)
			k.say(k.group, m)
		}
	}
	k.restart()

	if self := k.d.must("get_login_info", nil).Get("user_id").Int(); self != first.self {
		t.Errorf("after the restart the account is user_id %d; it was %d", self, first.self)
	}
	k.checkSameMessage(heardEv)
	if got := segments(t, k.getMsg(sentID).Get("message")); got != sentBody {
		t.Errorf("after the restart get_msg %d answers %s; it answered %s", sentID, got, sentBody)
	}
	for _, id := range k.sentinel(k.group, missed) {
		if id == heardEv.Get("message_id").Int() || id == sentID {
			t.Errorf("a new message reuses message_id %d", id)
		}
	}
	k.sentinel(k.private, nil)
	after := k.d.events.snapshot()
	for _, ev := range after {
		if ev.Get("post_type").Str == "message" && (ev.Get("user_id").Int() != first.peer ||
			(ev.Get("message_type").Str == "group" && ev.Get("group_id").Int() != first.group)) {
			t.Errorf("after the restart the ids changed: %s; the peer is %d, the group %d", ev.Raw, first.peer, first.group)
		}
	}
	for _, ev := range reported {
		if ev.Get("post_type").Str != "message" {
			continue
		}
		if again := messagesWith(after, plainText(ev)); len(again) != 0 {
			t.Errorf("reported again after the restart:\n%s", dump(again))
		}
	}
}

// capabilityAction is an action that needs a capability, with
// parameters it is valid with.
type capabilityAction struct {
	capability string
	has        func(Capabilities) bool
	action     string
	params     func(k *kit, msgID int64) params
}

// capabilityActions are the actions testMissingCapabilities calls, one
// per optional capability.
func capabilityActions() []capabilityAction {
	return []capabilityAction{
		{"Directory", func(c Capabilities) bool { return c.Directory }, "get_friend_list",
			func(*kit, int64) params { return params{} }},
		{"GroupAdmin", func(c Capabilities) bool { return c.GroupAdmin }, "set_group_kick",
			func(k *kit, _ int64) params { return params{"group_id": k.ids.group, "user_id": k.ids.peer} }},
		{"Requests", func(c Capabilities) bool { return c.Requests }, "set_friend_add_request",
			func(*kit, int64) params { return params{"flag": "conformance", "approve": true} }},
		{"Friends", func(c Capabilities) bool { return c.Friends }, "delete_friend",
			func(k *kit, _ int64) params { return params{"user_id": k.ids.peer} }},
		{"Editor", func(c Capabilities) bool { return c.Editor }, "edit_msg",
			func(_ *kit, id int64) params { return params{"message_id": id, "message": "edited"} }},
		{"Reader", func(c Capabilities) bool { return c.Reader }, "mark_msg_as_read",
			func(k *kit, _ int64) params { return params{"group_id": k.ids.group} }},
	}
}

// testMissingCapabilities: an action whose capability the backend lacks
// answers 1404, with a wording that names the backend (or the reason
// its Unsupported map gives), and changes nothing on the platform.
func testMissingCapabilities(t *testing.T, h Harness) {
	k := newKit(t, h)
	k.learnIDs()
	msgID := k.send(k.group, []params{text(k.marker("mine"))})
	name := k.d.backend.Name()
	var reasons map[string]string
	if u, ok := k.d.backend.(platform.Unsupported); ok {
		reasons = u.Unsupported()
	}
	before := len(k.held(k.group))
	for _, c := range capabilityActions() {
		if c.has(h.Capabilities()) {
			continue
		}
		r := k.d.call(c.action, c.params(k, msgID))
		wording := r.Wording + " " + r.Message
		named := strings.Contains(wording, name) || (reasons[c.action] != "" && strings.Contains(wording, reasons[c.action]))
		if r.Retcode != 1404 || !named {
			t.Errorf("%s without %s: retcode %d %q; want 1404 naming the %s backend", c.action, c.capability, r.Retcode, wording, name)
		}
	}
	if after := len(k.held(k.group)); after != before {
		t.Errorf("the platform's group went from %d to %d messages", before, after)
	}
	// The peer is still in the group, and the daemon still reports it.
	k.sentinel(k.group, nil)
}
