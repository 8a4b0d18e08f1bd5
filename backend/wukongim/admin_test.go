package wukongim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wk "github.com/yunhu-onebot/yunhu-onebot/wukongim"
)

// nextCall waits for the fake's next HTTP API call.
func nextCall(t *testing.T, f *fakeWK) string {
	t.Helper()
	select {
	case c := <-f.callCh:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a call")
		return ""
	}
}

func TestMuteUnbanSurvivesRestart(t *testing.T) {
	kv := newKV()
	f1 := newFake()
	b1 := newBackend(t, f1, kv, nil)
	ctx := context.Background()
	seen := msg(1, 1, alice, g1, 2, text("hi"))
	b1.event(&seen)

	if err := b1.Mute(ctx, g1, alice, 90*time.Second+time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if c := nextCall(t, f1); c != "blacklist_add g1/2 [alice]" {
		t.Fatalf("call = %q, want the blacklist_add", c)
	}
	end := t0.Add(91 * time.Second) // rounded up to whole seconds
	if got, want := kv.value(unbansKey), fmt.Sprintf(`[{"group":"g1","user":"alice","at":%d}]`, end.Unix()); got != want {
		t.Fatalf("KV %s = %s, want %s", unbansKey, got, want)
	}
	members, err := b1.Members(ctx, g1)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if m.UserID == alice && !m.MutedUntil.Equal(end) {
			t.Errorf("alice muted until %v, want %v", m.MutedUntil, end)
		}
	}

	// A restart after the mute's end: the new backend's Run lifts it.
	f2 := newFake()
	b2 := newBackend(t, f2, kv, func(o *Options) { o.Now = func() time.Time { return t0.Add(2 * time.Minute) } })
	startRun(t, b2, &recordingSink{})
	if c := nextCall(t, f2); c != "blacklist_remove g1/2 [alice]" {
		t.Fatalf("call = %q, want the blacklist_remove", c)
	}
	waitFor(t, "the schedule emptied", func() bool { return kv.value(unbansKey) == "[]" })
	if !b2.unbans.until(g1, alice).IsZero() {
		t.Error("the unban is still scheduled")
	}
}

func TestMuteZeroLiftsAndCancels(t *testing.T) {
	kv := newKV()
	f := newFake()
	b := newBackend(t, f, kv, nil)
	ctx := context.Background()
	if err := b.Mute(ctx, g1, alice, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := b.Mute(ctx, g1, alice, 0); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.calls, "; "); got != "blacklist_add g1/2 [alice]; blacklist_remove g1/2 [alice]" {
		t.Errorf("calls = %s", got)
	}
	if got := kv.value(unbansKey); got != "[]" {
		t.Errorf("schedule = %s, want []", got)
	}
	var bp *platform.BadParamError
	if err := b.Mute(ctx, g1, alice, -time.Second); !errors.As(err, &bp) {
		t.Errorf("negative mute = %v, want a bad parameter", err)
	}
}

func TestMuteRefusedByServerSchedulesNothing(t *testing.T) {
	kv := newKV()
	f := newFake()
	f.apiErr = errBoom
	b := newBackend(t, f, kv, nil)
	if err := b.Mute(context.Background(), g1, alice, time.Hour); !errors.Is(err, errBoom) {
		t.Errorf("Mute = %v, want the server's failure", err)
	}
	if got := kv.value(unbansKey); got != "" {
		t.Errorf("schedule = %q, want none", got)
	}
}

func TestKickLeaveAndNames(t *testing.T) {
	kv := newKV()
	f := newFake()
	b := newBackend(t, f, kv, func(o *Options) {
		o.Groups = []Named{{ID: g1, Name: "Group One"}}
		o.Users = []Named{{ID: alice, Name: "Alice"}}
	})
	ctx := context.Background()
	for _, m := range []struct {
		from string
		seq  int64
	}{{alice, 1}, {bob, 2}} {
		w := msg(m.seq, m.seq, m.from, g1, 2, text("x"))
		b.event(&w)
	}
	if err := b.Kick(ctx, g1, bob, true); err != nil {
		t.Fatal(err)
	}
	members, _ := b.Members(ctx, g1)
	if got := fmt.Sprint(memberIDs(members)); got != "[alice bot1]" {
		t.Errorf("members after the kick = %s, want [alice bot1]", got)
	}
	if err := b.Leave(ctx, g1); err != nil {
		t.Fatal(err)
	}
	want := "subscriber_remove g1/2 [bob]; subscriber_remove g1/2 [bot1]"
	if got := strings.Join(f.calls, "; "); got != want {
		t.Errorf("calls = %s, want %s", got, want)
	}
	var ue *platform.UnsupportedError
	if err := b.SetGroupName(ctx, g1, "x"); !errors.As(err, &ue) {
		t.Errorf("SetGroupName = %v, want unsupported", err)
	}
	if err := b.SetCard(ctx, g1, alice, "x"); !errors.As(err, &ue) {
		t.Errorf("SetCard = %v, want unsupported", err)
	}
	if _, ok := b.Unsupported()["set_group_whole_ban"]; !ok {
		t.Error("set_group_whole_ban has no reason")
	}
}

func memberIDs(ms []platform.Member) []string {
	var out []string
	for _, m := range ms {
		if m.Role != platform.RoleMember {
			return []string{"role " + string(m.Role)}
		}
		out = append(out, m.UserID)
	}
	return out
}

func TestDirectoryLearnsPersistsAndReloads(t *testing.T) {
	kv := newKV()
	f := newFake()
	conf := func(o *Options) {
		o.Groups = []Named{{ID: "g0", Name: "Configured"}}
		o.Users = []Named{{ID: alice, Name: "Alice"}}
	}
	b := newBackend(t, f, kv, conf)
	ctx := context.Background()
	for i, m := range []struct{ from, channel string }{{alice, g1}, {bob, g1}, {bob, bob}, {"carol", self}} {
		typ := uint8(2)
		if m.channel != g1 {
			typ = 1
		}
		w := msg(int64(i+1), int64(i+1), m.from, m.channel, typ, text("x"))
		b.event(&w)
	}
	if err := b.dir.flush(ctx); err != nil {
		t.Fatal(err)
	}

	b2 := newBackend(t, newFake(), kv, conf) // a restart
	groups, _ := b2.Groups(ctx)
	if got := fmt.Sprint(groups); got != fmt.Sprint([]platform.Group{{ID: "g0", Name: "Configured", MemberCount: 1}, {ID: g1, Name: g1, MemberCount: 3}}) {
		t.Errorf("groups = %s", got)
	}
	members, _ := b2.Members(ctx, g1)
	if got := fmt.Sprint(memberIDs(members)); got != "[alice bob bot1]" {
		t.Errorf("members = %s", got)
	}
	if members[0].Name != "Alice" || members[1].Name != bob {
		t.Errorf("names = %q, %q; want the configured one, else the uid", members[0].Name, members[1].Name)
	}
	friends, _ := b2.Friends(ctx)
	var ids []string
	for _, u := range friends {
		ids = append(ids, u.ID)
	}
	if got := fmt.Sprint(ids); got != "[alice bob carol]" {
		t.Errorf("friends = %s, want [alice bob carol]", got)
	}
	if u, err := b2.User(ctx, "carol"); err != nil || u.Name != "carol" || !u.Friend {
		t.Errorf("User(carol) = %+v, %v", u, err)
	}
	if _, err := b2.User(ctx, "nobody"); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("User(nobody) = %v, want ErrNotFound", err)
	}
	if _, err := b2.Group(ctx, "g9"); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("Group(g9) = %v, want ErrNotFound", err)
	}
	if acc, _ := b2.Self(ctx); acc != (platform.Account{ID: self, Name: "Bot"}) {
		t.Errorf("Self = %+v", acc)
	}
}

func TestDirectoryIsBounded(t *testing.T) {
	b := newBackend(t, newFake(), nil, nil)
	for i := range maxMembers + 10 {
		w := msg(int64(i+1), int64(i+1), fmt.Sprint("u", i), g1, 2, text("x"))
		b.event(&w)
	}
	members, _ := b.Members(context.Background(), g1)
	if len(members) != maxMembers+1 { // the bot is always listed
		t.Errorf("%d members, want %d", len(members), maxMembers+1)
	}
}

func TestAdminRefusalIsDefinite(t *testing.T) {
	f := newFake()
	f.apiErr = &wk.APIError{Status: 400, Msg: "频道不存在", Path: "/channel/subscriber_remove"}
	b := newBackend(t, f, nil, nil)
	err := b.Kick(context.Background(), "nope", alice, false)
	var pe *platform.Error
	if !errors.As(err, &pe) || !pe.Definite || !strings.Contains(pe.Msg, "频道不存在") {
		t.Errorf("Kick = %v, want a definite error with the server's text", err)
	}
	f.apiErr = fmt.Errorf("wrapped: %w", wk.ErrNotFound)
	if err := b.Leave(context.Background(), "nope"); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("Leave = %v, want ErrNotFound", err)
	}
}
