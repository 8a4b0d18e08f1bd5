package yunhu

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	yh "github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

func isRequest(ev platform.Event) bool { _, ok := ev.(platform.Request); return ok }

// TestRequestsOnce: each pending request is reported once, with a flag
// Decide takes back; what was reported survives a restart in the KV.
func TestRequestsOnce(t *testing.T) {
	w := newWorld(t)
	first := w.backend()
	s := newSink()
	run := first.run(s)

	friendID, err := w.sim.Apply(sim.DaveID, sim.SelfID, yh.ChatTypeUser, "hi")
	if err != nil {
		t.Fatal(err)
	}
	joinID, err := w.sim.Apply(sim.DaveID, sim.GroupOwnedID, yh.ChatTypeGroup, "let me in")
	if err != nil {
		t.Fatal(err)
	}
	got := s.wait(t, "two requests", 2, isRequest)
	friend, join := got[0].(platform.Request), got[1].(platform.Request)
	if friend.Kind != platform.FriendRequest || friend.Flag != fmt.Sprint("friend:", friendID) || friend.UserID != sim.DaveID ||
		friend.Comment != "hi" || friend.GroupID != "" || friend.Time.IsZero() {
		t.Errorf("friend request %+v", friend)
	}
	if join.Kind != platform.GroupJoinRequest || join.Flag != fmt.Sprint("group_add:", joinID) || join.UserID != sim.DaveID ||
		join.GroupID != sim.GroupOwnedID || join.Comment != "let me in" {
		t.Errorf("join request %+v", join)
	}
	var kept []string
	if v, err := w.kv.Get(requestsKey); err != nil || json.Unmarshal(v, &kept) != nil || len(kept) != 2 {
		t.Fatalf("reported requests in the KV: %q, %v", v, err)
	}
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}

	// A restart on the same KV: the pending requests are not reported
	// again; a new one is.
	second := w.backend()
	s2 := newSink()
	second.run(s2)
	carolID, err := w.sim.Apply(sim.CarolID, sim.SelfID, yh.ChatTypeUser, "")
	if err != nil {
		t.Fatal(err)
	}
	got = s2.wait(t, "Carol's request", 1, func(ev platform.Event) bool {
		r, ok := ev.(platform.Request)
		return ok && r.UserID == sim.CarolID
	})
	all := s2.events()
	for _, ev := range all {
		if r, ok := ev.(platform.Request); ok && r.UserID == sim.DaveID {
			t.Errorf("reported again after the restart: %+v", r)
		}
	}
	carol := got[0].(platform.Request)
	if carol.Flag != fmt.Sprint("friend:", carolID) {
		t.Errorf("Carol's request %+v", carol)
	}

	// Decide by flag.
	if err := second.b.Decide(second.ctx, carol.Flag, true, "remark"); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(w.sim.Friends(), func(u sim.User) bool { return u.ID == sim.CarolID }) {
		t.Error("Carol is no friend after approval")
	}
	if err := second.b.Decide(second.ctx, join.Flag, false, ""); err != nil {
		t.Fatal(err)
	}
	if g, _ := w.sim.GroupInfo(sim.GroupOwnedID); slices.ContainsFunc(g.Members, func(m sim.Member) bool { return m.UserID == sim.DaveID }) {
		t.Error("Dave joined although rejected")
	}
	for _, flag := range []string{"", "friend", "friend:x", "friend:-1", "group:1", "friend:1:2"} {
		if err := second.b.Decide(second.ctx, flag, true, ""); !badParam(err, "flag:") {
			t.Errorf("flag %q: %v", flag, err)
		}
	}
}
