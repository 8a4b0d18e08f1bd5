package wildfire

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wf "github.com/yunhu-onebot/yunhu-onebot/wildfire"
)

func TestSelf(t *testing.T) {
	c := newClient()
	c.profile = wf.User{UserID: robot, Name: "robo", DisplayName: "Robo"}
	b := newBackend(t, c, nil)
	if acc, err := b.Self(context.Background()); err != nil || acc != (platform.Account{ID: robot, Name: "Robo"}) {
		t.Errorf("Self = %+v, %v", acc, err)
	}
	c.errs["Profile"] = &wf.APIError{Code: 244, Msg: "Auth failure", Path: "/robot/profile"}
	if _, err := b.Self(context.Background()); !errors.Is(err, platform.ErrUnauthorized) || !strings.Contains(err.Error(), "robot-secret") {
		t.Errorf("refused: %v, want ErrUnauthorized naming the setting", err)
	}
	c.errs["Profile"] = errors.New("connection refused")
	if acc, err := b.Self(context.Background()); err != nil || acc != (platform.Account{ID: robot, Name: "Robot"}) {
		t.Errorf("unreachable: %+v, %v; want the configured account", acc, err)
	}
	c.errs["Profile"] = &wf.APIError{Code: 243, Msg: "Sign expired", Path: "/robot/profile"}
	if _, err := b.Self(context.Background()); err == nil || errors.Is(err, platform.ErrUnauthorized) {
		t.Errorf("clock skew: %v, want an error that is not ErrUnauthorized", err)
	}
}

func TestDirectory(t *testing.T) {
	c := newClient()
	c.users[alice] = wf.User{UserID: alice, Name: "alice", DisplayName: "Alice", Gender: 2, Portrait: "https://x/a.png"}
	c.users[bob] = wf.User{UserID: bob, Name: "Bob", Type: 1}
	c.groups[g1] = wf.Group{TargetID: g1, Name: "Group", Owner: alice, MemberCount: 3, Mute: 1}
	c.members[g1] = []wf.Member{
		{MemberID: alice, Type: memberOwner, CreateDt: 1796196800000},
		{MemberID: bob, Alias: "bobby", Type: memberManager},
		{MemberID: "carol", Type: memberSilent},
		{MemberID: "dave", Type: memberRemoved},
	}
	b := newBackend(t, c, nil)
	ctx := context.Background()
	u, err := b.User(ctx, alice)
	if err != nil || !reflect.DeepEqual(*u, platform.User{ID: alice, Name: "Alice", Sex: "female", Avatar: "https://x/a.png"}) {
		t.Errorf("User = %+v, %v", u, err)
	}
	if _, err := b.User(ctx, "nobody"); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
	g, err := b.Group(ctx, g1)
	if err != nil || g.Name != "Group" || g.MemberCount != 3 || g.Extra["mute"] != true {
		t.Errorf("Group = %+v, %v", g, err)
	}
	ms, err := b.Members(ctx, g1)
	if err != nil || len(ms) != 3 {
		t.Fatalf("Members = %+v, %v", ms, err)
	}
	if ms[0].Role != platform.RoleOwner || ms[0].Name != "Alice" || !ms[0].JoinTime.Equal(time.UnixMilli(1796196800000)) {
		t.Errorf("owner = %+v", ms[0])
	}
	if ms[1].Role != platform.RoleAdmin || ms[1].Card != "bobby" || ms[2].Role != platform.RoleMember || ms[2].MutedUntil.IsZero() {
		t.Errorf("manager, silent = %+v, %+v", ms[1], ms[2])
	}

	// Without the admin API, friend and group lists are empty, not errors.
	if fs, err := b.Friends(ctx); err != nil || len(fs) != 0 {
		t.Errorf("Friends without admin = %+v, %v", fs, err)
	}
	if gs, err := b.Groups(ctx); err != nil || len(gs) != 0 {
		t.Errorf("Groups without admin = %+v, %v", gs, err)
	}
	c.admin = true
	c.friends = []string{alice, "gone", bob}
	c.ofUser = []string{g1}
	fs, err := b.Friends(ctx)
	if err != nil || len(fs) != 2 || fs[0].ID != alice || !fs[0].Friend || fs[1].ID != bob || !fs[1].Bot {
		t.Errorf("Friends = %+v, %v (an id without a profile skipped)", fs, err)
	}
	if gs, err := b.Groups(ctx); err != nil || len(gs) != 1 || gs[0].ID != g1 {
		t.Errorf("Groups = %+v, %v", gs, err)
	}
	calls := strings.Join(c.callList(), "\n")
	if !strings.Contains(calls, "FriendIDs robot1") || !strings.Contains(calls, "GroupIDsOf robot1") {
		t.Errorf("calls:\n%s", calls)
	}
}

func TestGroupAdmin(t *testing.T) {
	c := newClient()
	b := newBackend(t, c, nil)
	ctx := context.Background()
	if err := b.Kick(ctx, g1, alice, true); err != nil {
		t.Fatal(err)
	}
	if err := b.SetGroupName(ctx, g1, "New"); err != nil {
		t.Fatal(err)
	}
	if err := b.SetCard(ctx, g1, robot, "bot"); err != nil {
		t.Fatal(err)
	}
	if err := b.Leave(ctx, g1); err != nil {
		t.Fatal(err)
	}
	want := []string{"KickMembers g1 [alice]", "ModifyGroup g1 0 New", "SetAlias g1 bot", "QuitGroup g1"}
	if got := c.callList(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %q\nwant %q", got, want)
	}
	var ue *platform.UnsupportedError
	if err := b.Mute(ctx, g1, alice, time.Minute); !errors.As(err, &ue) || !strings.Contains(ue.Why, "community edition has no per-member mute") {
		t.Errorf("Mute = %v", err)
	}
	if err := b.SetCard(ctx, g1, alice, "x"); !errors.As(err, &ue) {
		t.Errorf("SetCard of another = %v, want unsupported", err)
	}
	c.errs["KickMembers"] = &wf.APIError{Code: 248, Msg: "No right", Path: "/robot/group/member/del"}
	if err := b.Kick(ctx, g1, alice, false); !isDefinite(err) || !strings.Contains(err.Error(), "kick") {
		t.Errorf("refused kick = %v", err)
	}
}

func TestMuteAll(t *testing.T) {
	c := newClient()
	b := newBackend(t, c, nil)
	ctx := context.Background()
	if err := b.MuteAll(ctx, g1, true); err != nil {
		t.Fatal(err)
	}
	if err := b.MuteAll(ctx, g1, false); err != nil {
		t.Fatal(err)
	}
	if got, want := c.callList(), []string{"ModifyGroup g1 3 1", "ModifyGroup g1 3 0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
	c.errs["ModifyGroup"] = errors.New("timeout")
	if err := b.MuteAll(ctx, g1, true); err == nil || isDefinite(err) {
		t.Errorf("transport failure = %v, want an error that is not definite", err)
	}
}

func TestNewValidates(t *testing.T) {
	c := newClient()
	addr := "127.0.0.1:0"
	for i, o := range []Options{
		{Robot: robot, KV: newKV(), CallbackPathSecret: secret, CallbackAddress: addr},
		{Client: c, KV: newKV(), CallbackPathSecret: secret, CallbackAddress: addr},
		{Client: c, Robot: robot, CallbackPathSecret: secret, CallbackAddress: addr},
		{Client: c, Robot: robot, KV: newKV(), CallbackAddress: addr},
		{Client: c, Robot: robot, KV: newKV(), CallbackPathSecret: "a/b", CallbackAddress: addr},
		{Client: c, Robot: robot, KV: newKV(), CallbackPathSecret: "..", CallbackAddress: addr},
		{Client: c, Robot: robot, KV: newKV(), CallbackPathSecret: "media", CallbackAddress: addr},
		{Client: c, Robot: robot, KV: newKV(), CallbackPathSecret: secret}, // no callback address
	} {
		if _, err := New(o); err == nil {
			t.Errorf("case %d: New accepted %+v", i, o)
		}
	}
	b, err := New(Options{Client: c, Robot: robot, KV: newKV(), CallbackPathSecret: secret, CallbackAddress: addr})
	if err != nil || b.CallbackAddress() != addr || b.Name() != "wildfire" {
		t.Errorf("New = %v, %v", b, err)
	}
}

func TestRunRegistersTheCallbackURL(t *testing.T) {
	c := newClient()
	b := newBackend(t, c, func(o *Options) { o.RegisterCallback = "http://127.0.0.1:9/" + secret })
	s := newSink()
	running(t, b, s)
	want := "SetCallback http://127.0.0.1:9/" + secret
	timeout := time.After(10 * time.Second)
	for {
		select {
		case call := <-c.seen:
			if call == want {
				return
			}
		case <-timeout:
			t.Fatalf("calls = %q, want %q", c.callList(), want)
		}
	}
}
