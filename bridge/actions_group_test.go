package bridge_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

type groupData struct {
	GroupID        int64  `json:"group_id"`
	GroupName      string `json:"group_name"`
	GroupMemo      string `json:"group_memo"`
	MemberCount    int64  `json:"member_count"`
	MaxMemberCount int64  `json:"max_member_count"`
}

type memberData struct {
	GroupID         int64  `json:"group_id"`
	UserID          int64  `json:"user_id"`
	Nickname        string `json:"nickname"`
	Card            string `json:"card"`
	Role            string `json:"role"`
	Sex             string `json:"sex"`
	CardChangeable  bool   `json:"card_changeable"`
	ShutUpTimestamp int64  `json:"shut_up_timestamp"`
}

func TestGroupInfoActions(t *testing.T) {
	e := newActEnv(t)
	big := e.groupN(sim.GroupBigID)
	list := decode[[]groupData](t, e.ok("get_group_list", nil))
	i := slices.IndexFunc(list, func(g groupData) bool { return g.GroupID == big })
	if len(list) != 3 || i < 0 || list[i].GroupName != "Big Group" {
		t.Fatalf("group list %+v", list)
	}
	info := decode[groupData](t, e.ok("get_group_info", map[string]any{"group_id": big}))
	if info.GroupID != big || info.GroupName != "Big Group" || info.MemberCount != 4 {
		t.Errorf("group info %+v", info)
	}
	e.fail("get_group_info", map[string]any{"group_id": 4503599627370999}, 1400)
	e.fail("get_group_info", map[string]any{}, 1400)

	owned := e.groupN(sim.GroupOwnedID)
	members := decode[[]memberData](t, e.ok("get_group_member_list", map[string]any{"group_id": owned}))
	roles := map[int64]string{}
	for _, m := range members {
		roles[m.UserID] = m.Role
		if m.GroupID != owned || m.Sex != "unknown" {
			t.Errorf("member %+v", m)
		}
	}
	want := map[int64]string{
		userN(t, sim.SelfID): "owner", userN(t, sim.AliceID): "admin",
		userN(t, sim.BobID): "member", userN(t, sim.CarolID): "member",
	}
	if len(roles) != len(want) {
		t.Fatalf("roles %v", roles)
	}
	for id, r := range want {
		if roles[id] != r {
			t.Errorf("role of %d: %q, want %q", id, roles[id], r)
		}
	}
	m := decode[memberData](t, e.ok("get_group_member_info", map[string]any{"group_id": owned, "user_id": userN(t, sim.AliceID)}))
	if m.Role != "admin" || m.Nickname != "Alice" || m.CardChangeable {
		t.Errorf("member info %+v", m)
	}
	r := e.fail("get_group_member_info", map[string]any{"group_id": owned, "user_id": userN(t, sim.DaveID)}, 100)
	if !strings.Contains(r.Message, "not a member") {
		t.Errorf("non-member: %s", r.Message)
	}
}

func TestSetGroupKickAndBan(t *testing.T) {
	e := newActEnv(t)
	owned := e.groupN(sim.GroupOwnedID)
	bob := userN(t, sim.BobID)

	gags := func() []string {
		var out []string
		for _, r := range e.sim.Requests() {
			if r.Path == yunhu.PathGroupGagMember && r.Code == yunhu.CodeOK {
				var body struct {
					Gag json.Number `json:"gag"`
				}
				_ = json.Unmarshal(r.Body, &body)
				out = append(out, body.Gag.String())
			}
		}
		return out
	}
	for _, d := range []any{1, 600, 601, "3600", 7200, 43200, 43201, 86400 * 30, 0} {
		e.ok("set_group_ban", map[string]any{"group_id": owned, "user_id": bob, "duration": d})
	}
	e.ok("set_group_ban", map[string]any{"group_id": owned, "user_id": bob}) // default 30 minutes
	if got, want := strings.Join(gags(), ","), "600,600,3600,3600,21600,43200,-1,-1,0,3600"; got != want {
		t.Errorf("gag durations sent %s, want %s", got, want)
	}
	m := decode[memberData](t, e.ok("get_group_member_info", map[string]any{"group_id": owned, "user_id": bob}))
	if m.ShutUpTimestamp == 0 {
		t.Errorf("muted member shows no mute: %+v", m)
	}
	e.ok("set_group_ban", map[string]any{"group_id": owned, "user_id": bob, "duration": 0})
	e.fail("set_group_ban", map[string]any{"group_id": owned, "user_id": bob, "duration": -5}, 1400)
	// Yunhu's refusal: the owner cannot be muted.
	r := e.fail("set_group_ban", map[string]any{"group_id": e.groupN(sim.GroupAdminID), "user_id": userN(t, sim.AliceID), "duration": 60}, 100)
	if !strings.Contains(r.Message, "禁言") && !strings.Contains(r.Message, "权") {
		t.Errorf("refusal %q", r.Message)
	}

	e.ok("set_group_kick", map[string]any{"group_id": owned, "user_id": userN(t, sim.CarolID), "reject_add_request": true})
	g, _ := e.sim.GroupInfo(sim.GroupOwnedID)
	if slices.ContainsFunc(g.Members, func(m sim.Member) bool { return m.UserID == sim.CarolID }) {
		t.Error("Carol still a member")
	}
	e.fail("set_group_kick", map[string]any{"group_id": e.groupN(sim.GroupBigID), "user_id": bob}, 100)
}

func TestSetGroupSettings(t *testing.T) {
	e := newActEnv(t)
	owned, big := e.groupN(sim.GroupOwnedID), e.groupN(sim.GroupBigID)

	e.ok("set_group_name", map[string]any{"group_id": owned, "group_name": "Renamed"})
	info := decode[groupData](t, e.ok("get_group_info", map[string]any{"group_id": owned}))
	if info.GroupName != "Renamed" {
		t.Errorf("name %q", info.GroupName)
	}
	if g, _ := e.sim.GroupInfo(sim.GroupOwnedID); g.Name != "Renamed" {
		t.Errorf("sim name %q", g.Name)
	}
	e.fail("set_group_name", map[string]any{"group_id": owned, "group_name": ""}, 1400)
	e.fail("set_group_name", map[string]any{"group_id": big, "group_name": "mine now"}, 100) // plain member

	e.ok("set_group_card", map[string]any{"group_id": big, "user_id": userN(t, sim.SelfID), "card": "me in big"})
	me := decode[memberData](t, e.ok("get_group_member_info", map[string]any{"group_id": big, "user_id": userN(t, sim.SelfID)}))
	if me.Card != "me in big" || !me.CardChangeable {
		t.Errorf("own card %+v", me)
	}
	r := e.fail("set_group_card", map[string]any{"group_id": big, "user_id": userN(t, sim.CarolID), "card": "x"}, 1404)
	if !strings.Contains(r.Wording, "own") {
		t.Errorf("wording %q", r.Wording)
	}

	r = e.fail("set_group_whole_ban", map[string]any{"group_id": owned, "enable": true}, 1404)
	if !strings.Contains(r.Wording, "mute") {
		t.Errorf("whole ban wording %q", r.Wording)
	}
	e.fail("set_group_leave", map[string]any{"group_id": owned, "is_dismiss": true}, 1404)
	e.fail("set_group_leave", map[string]any{"group_id": owned}, 100) // the owner cannot leave
	e.ok("set_group_leave", map[string]any{"group_id": big, "is_dismiss": true})
	if slices.ContainsFunc(e.sim.Groups(), func(g sim.Group) bool { return g.ID == sim.GroupBigID }) {
		t.Error("still in big")
	}
}

func TestSetGroupAddRequest(t *testing.T) {
	e := newActEnv(t)
	id, err := e.sim.Apply(sim.DaveID, sim.GroupOwnedID, yunhu.ChatTypeGroup, "let me in")
	if err != nil || id == 0 {
		t.Fatalf("apply: %d %v", id, err)
	}
	flag := "group_add:" + itoa(int64(id))
	e.fail("set_group_add_request", map[string]any{"flag": flag, "sub_type": "invite"}, 1400)
	e.fail("set_friend_add_request", map[string]any{"flag": flag}, 1400)
	e.ok("set_group_add_request", map[string]any{"flag": flag, "sub_type": "add", "approve": true})
	g, _ := e.sim.GroupInfo(sim.GroupOwnedID)
	if !slices.ContainsFunc(g.Members, func(m sim.Member) bool { return m.UserID == sim.DaveID }) {
		t.Error("Dave not admitted")
	}
	e.fail("set_group_add_request", map[string]any{"flag": flag, "approve": false}, 100) // decided already

	// An invitation of the account: leave big, and Bob (its owner) invites
	// the account back.
	e.ok("set_group_leave", map[string]any{"group_id": e.groupN(sim.GroupBigID)})
	inv, err := e.sim.Invite(sim.BobID, sim.SelfID, sim.GroupBigID)
	if err != nil {
		t.Fatal(err)
	}
	e.ok("set_group_add_request", map[string]any{"flag": "group_invite:" + itoa(int64(inv)), "type": "invite"})
	if !slices.ContainsFunc(e.sim.Groups(), func(g sim.Group) bool { return g.ID == sim.GroupBigID }) {
		t.Error("invitation not accepted")
	}
	e.fail("set_group_add_request", map[string]any{"flag": "nonsense"}, 1400)
	e.fail("set_group_add_request", map[string]any{}, 1400)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
