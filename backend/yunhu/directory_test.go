package yunhu

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	yh "github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// TestMembersRoles: roles come from the permission level; the account's
// own card is its group nickname.
func TestMembersRoles(t *testing.T) {
	_, e := encoder(t)
	if err := e.b.SetCard(e.ctx, sim.GroupOwnedID, sim.SelfID, "boss"); err != nil {
		t.Fatal(err)
	}
	members, err := e.b.Members(e.ctx, sim.GroupOwnedID)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]platform.Role{}
	for _, m := range members {
		roles[m.UserID] = m.Role
		if m.Name == "" {
			t.Errorf("member without a name: %+v", m)
		}
		if card := m.Card; (m.UserID == sim.SelfID) != (card == "boss") {
			t.Errorf("card of %s: %q", m.UserID, card)
		}
	}
	want := map[string]platform.Role{
		sim.SelfID: platform.RoleOwner, sim.AliceID: platform.RoleAdmin, sim.BobID: platform.RoleMember, sim.CarolID: platform.RoleMember,
	}
	if len(roles) != len(want) {
		t.Fatalf("members %+v", members)
	}
	for id, r := range want {
		if roles[id] != r {
			t.Errorf("role of %s: %q, want %q", id, roles[id], r)
		}
	}
	// Another member's card cannot be set.
	var ue *platform.UnsupportedError
	if err := e.b.SetCard(e.ctx, sim.GroupOwnedID, sim.BobID, "x"); !errors.As(err, &ue) || ue.Why == "" {
		t.Errorf("another member's card: %v", err)
	}
}

// TestMuteRounding: a mute rounds up to a length Yunhu offers, beyond
// 12 hours to permanent; 0 lifts it; a negative one is refused.
func TestMuteRounding(t *testing.T) {
	w, e := encoder(t)
	cases := []struct {
		d    time.Duration
		want int64
	}{
		{0, 0}, {time.Second, 600}, {10 * time.Minute, 600}, {30 * time.Minute, 3600},
		{3*time.Hour + time.Millisecond, 21600}, {12 * time.Hour, 43200}, {13 * time.Hour, -1}, {time.Millisecond, 600},
	}
	for _, tc := range cases {
		if err := e.b.Mute(e.ctx, sim.GroupOwnedID, sim.BobID, tc.d); err != nil {
			t.Fatalf("mute %v: %v", tc.d, err)
		}
		reqs := w.sim.Requests()
		var last sim.Request
		for _, r := range reqs {
			if r.Path == yh.PathGroupGagMember {
				last = r
			}
		}
		var body struct {
			Gag    int64  `json:"gag"`
			UserID string `json:"userId"`
		}
		if err := json.Unmarshal(last.Body, &body); err != nil || body.Gag != tc.want || body.UserID != sim.BobID || last.Code != yh.CodeOK {
			t.Errorf("mute %v: sent %s (code %d), want gag %d", tc.d, last.Body, last.Code, tc.want)
		}
	}
	if err := e.b.Mute(e.ctx, sim.GroupOwnedID, sim.BobID, -time.Second); !badParam(err, "duration") {
		t.Errorf("negative: %v", err)
	}
	// Yunhu's refusal is passed on: the owner cannot be muted.
	var pe *platform.Error
	if err := e.b.Mute(e.ctx, sim.GroupAdminID, sim.AliceID, time.Hour); !errors.As(err, &pe) || pe.Msg == "" {
		t.Errorf("muting the owner: %v", err)
	}
}

// TestDirectory: users (bots from the address book), friends and bots,
// groups, a group's info, renaming and leaving.
func TestDirectory(t *testing.T) {
	w, e := encoder(t)
	u, err := e.b.User(e.ctx, sim.AliceID)
	if err != nil || u.Name != "Alice" || u.Bot || u.Sex == "" || u.Extra["login_days"] == nil {
		t.Errorf("Alice: %+v, %v", u, err)
	}
	bot, err := e.b.User(e.ctx, sim.BotID) // never met: Yunhu has no such user
	if err != nil || !bot.Bot || bot.Name != "EchoBot" || !e.b.isBot(sim.BotID) {
		t.Errorf("bot: %+v, %v", bot, err)
	}
	if _, err := e.b.User(e.ctx, "9999999"); err == nil {
		t.Error("a user that does not exist")
	}

	friends, err := e.b.Friends(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, f := range friends {
		ids = append(ids, f.ID)
	}
	if !slices.Equal(ids, []string{sim.AliceID, sim.BobID, sim.BotID}) || !friends[2].Bot || friends[1].Remark != "Bobby" {
		t.Errorf("friends %+v", friends)
	}
	groups, err := e.b.Groups(e.ctx)
	if err != nil || len(groups) != 3 {
		t.Fatalf("groups %+v, %v", groups, err)
	}
	g, err := e.b.Group(e.ctx, sim.GroupOwnedID)
	if err != nil || g.Name != "Sim Owned" || g.MemberCount != 4 || g.Extra["group_create_time"].(int64) == 0 {
		t.Errorf("group %+v, %v", g, err)
	}
	if err := e.b.SetGroupName(e.ctx, sim.GroupOwnedID, "Renamed"); err != nil {
		t.Fatal(err)
	}
	if g, _ := w.sim.GroupInfo(sim.GroupOwnedID); g.Name != "Renamed" {
		t.Errorf("renamed to %q", g.Name)
	}
	if err := e.b.Kick(e.ctx, sim.GroupOwnedID, sim.CarolID, true); err != nil {
		t.Fatal(err)
	}
	if err := e.b.Leave(e.ctx, sim.GroupBigID); err != nil {
		t.Fatal(err)
	}
	if g, _ := w.sim.GroupInfo(sim.GroupBigID); slices.ContainsFunc(g.Members, func(m sim.Member) bool { return m.UserID == sim.SelfID }) {
		t.Error("still in the group after leaving")
	}
	if err := e.b.MarkRead(e.ctx, aliceConv); err != nil {
		t.Error(err)
	}
}

func TestGagDuration(t *testing.T) {
	for in, want := range map[int64]int{-5: 0, 0: 0, 1: 600, 600: 600, 601: 3600, 43200: 43200, 43201: -1, 1 << 40: -1} {
		if got := gagDuration(in); got != want {
			t.Errorf("gagDuration(%d) = %d, want %d", in, got, want)
		}
	}
}

// TestConvFromV2: schema 2 chat types fold into the two kinds; a bot
// chat's peer is remembered as a bot.
func TestConvFromV2(t *testing.T) {
	b, _ := New(Options{Client: nopPlatform{}, KV: newMemKV()})
	for _, tc := range []struct {
		typ  int32
		want platform.Kind
	}{{1, platform.KindPrivate}, {2, platform.KindGroup}, {3, platform.KindPrivate}} {
		if c := b.ConvFromV2(tc.typ, "x"); c != (platform.Conv{Kind: tc.want, ID: "x"}) {
			t.Errorf("type %d: %v", tc.typ, c)
		}
	}
	if !b.isBot("x") {
		t.Error("the bot chat's peer is not remembered")
	}
	if b.Name() != "yunhu" || b.Referer("https://chat-img.jwznb.com/a.png") != yh.Referer {
		t.Error("name or referer")
	}
	if why := b.Unsupported()["send_like"]; why == "" {
		t.Error("no reason for send_like")
	}
}
