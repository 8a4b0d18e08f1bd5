package bridge_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

func TestFriendActions(t *testing.T) {
	e := newActEnv(t)
	type friend struct {
		UserID   int64  `json:"user_id"`
		Nickname string `json:"nickname"`
		Remark   string `json:"remark"`
	}
	list := decode[[]friend](t, e.ok("get_friend_list", nil))
	want := []friend{
		{userN(t, sim.AliceID), "Alice", "Alice"},
		{userN(t, sim.BobID), "Bob", "Bobby"},
		{userN(t, sim.BotID), "EchoBot", "EchoBot"},
	}
	if !slices.Equal(list, want) {
		t.Errorf("friends %+v, want %+v", list, want)
	}

	type stranger struct {
		UserID   int64  `json:"user_id"`
		Nickname string `json:"nickname"`
		Sex      string `json:"sex"`
		Age      int32  `json:"age"`
		Remark   string `json:"remark"`
	}
	s := decode[stranger](t, e.ok("get_stranger_info", map[string]any{"user_id": userN(t, sim.BobID)}))
	if s != (stranger{userN(t, sim.BobID), "Bob", "unknown", 0, "Bobby"}) {
		t.Errorf("stranger %+v", s)
	}
	e.fail("get_stranger_info", map[string]any{"user_id": 9999999}, 100)
	e.fail("get_stranger_info", map[string]any{"user_id": "abc"}, 1400)
}

func TestSetFriendAddRequest(t *testing.T) {
	e := newActEnv(t)
	id, err := e.sim.Apply(sim.DaveID, sim.SelfID, yunhu.ChatTypeUser, "hi")
	if err != nil {
		t.Fatal(err)
	}
	flag := "friend:" + itoa(int64(id))
	e.fail("set_group_add_request", map[string]any{"flag": flag}, 1400)
	e.ok("set_friend_add_request", map[string]any{"flag": flag, "approve": "true", "remark": "ignored"})
	if !slices.ContainsFunc(e.sim.Friends(), func(u sim.User) bool { return u.ID == sim.DaveID }) {
		t.Error("Dave not a friend")
	}
	id, err = e.sim.Apply(sim.CarolID, sim.SelfID, yunhu.ChatTypeUser, "me too")
	if err != nil {
		t.Fatal(err)
	}
	e.ok("set_friend_add_request", map[string]any{"flag": "friend:" + itoa(int64(id)), "approve": false})
	if slices.ContainsFunc(e.sim.Friends(), func(u sim.User) bool { return u.ID == sim.CarolID }) {
		t.Error("Carol became a friend although rejected")
	}
	r := e.fail("set_friend_add_request", map[string]any{"flag": "friend:x"}, 1400)
	if !strings.Contains(r.Message, "flag") {
		t.Errorf("bad flag: %s", r.Message)
	}
}

// TestDeleteFriend: delete_friend removes a friend (and a bot) on Yunhu,
// which the friend list then shows; a second delete is Yunhu's refusal.
func TestDeleteFriend(t *testing.T) {
	e := newActEnv(t)
	e.ok("delete_friend", map[string]any{"user_id": userN(t, sim.BobID)})
	e.ok("delete_friend", map[string]any{"user_id": userN(t, sim.BotID)})
	type friend struct {
		UserID int64 `json:"user_id"`
	}
	list := decode[[]friend](t, e.ok("get_friend_list", nil))
	if !slices.Equal(list, []friend{{userN(t, sim.AliceID)}}) {
		t.Errorf("friends after deleting Bob and the bot: %+v", list)
	}
	if r := e.fail("delete_friend", map[string]any{"user_id": userN(t, sim.BobID)}, 100); !strings.Contains(r.Message, "delete friend") {
		t.Errorf("second delete: %+v", r)
	}
	e.fail("delete_friend", nil, 1400)
}
