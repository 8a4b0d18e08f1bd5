package bridge_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// TestLoginInfoNeverHalfPublished: frameworks call get_login_info the
// moment they connect, which may be while Run (and other calls) log in.
// An answer is either a failure or the whole account: never user_id 0
// beside a known account, nor a name without its id.
func TestLoginInfoNeverHalfPublished(t *testing.T) {
	e := newIdleActEnv(t)
	want := userN(t, sim.SelfID)
	const callers, calls = 4, 50
	var wg sync.WaitGroup
	errs := make(chan string, callers*calls)
	start := make(chan struct{})
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range calls {
				r := e.call("get_login_info", nil)
				if r.Status != onebot.StatusOK {
					continue
				}
				info := decode[struct {
					UserID   int64  `json:"user_id"`
					Nickname string `json:"nickname"`
				}](t, r.Data)
				if info.UserID != want || info.Nickname != "Sim Self" {
					errs <- string(r.Data)
				}
			}
		}()
	}
	close(start)
	e.start()
	wg.Wait()
	close(errs)
	for bad := range errs {
		t.Errorf("get_login_info during login answered %s; want user_id %d, nickname Sim Self", bad, want)
	}
}

// TestMemberListPastShortPages: Yunhu may serve fewer members per page
// than asked, and leave total out; a 23-member group must list 23 with
// the server's page at 20 (one short of the client's 50) and at 7.
func TestMemberListPastShortPages(t *testing.T) {
	e := newActEnv(t)
	if _, err := e.sim.AddMembers(sim.GroupOwnedID, 19); err != nil {
		t.Fatal(err)
	}
	g := e.groupN(sim.GroupOwnedID)
	for _, pageMax := range []int{20, 7} {
		e.sim.SetPaging(pageMax, true)
		list := decode[[]struct {
			UserID int64 `json:"user_id"`
		}](t, e.ok("get_group_member_list", map[string]any{"group_id": g, "no_cache": true}))
		ids := map[int64]bool{}
		for _, m := range list {
			ids[m.UserID] = true
		}
		if len(list) != 23 || len(ids) != 23 {
			t.Errorf("page of %d: %d members (%d distinct), want 23", pageMax, len(list), len(ids))
		}
		info := decode[struct {
			MemberCount int `json:"member_count"`
		}](t, e.ok("get_group_info", map[string]any{"group_id": g, "no_cache": true}))
		if info.MemberCount != 23 {
			t.Errorf("page of %d: member_count %d, want 23", pageMax, info.MemberCount)
		}
	}
}

// TestHistoryPastShortPages: a history read of 25 gets 25 messages when
// Yunhu serves 7 a page.
func TestHistoryPastShortPages(t *testing.T) {
	e := newActEnv(t)
	for i := range 30 {
		if _, err := e.sim.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: fmt.Sprint("h", i)}); err != nil {
			t.Fatal(err)
		}
	}
	e.sim.SetPaging(7, true)
	h := decode[struct {
		Messages []struct {
			RawMessage string `json:"raw_message"`
		} `json:"messages"`
	}](t, e.ok("get_group_msg_history", map[string]any{"group_id": e.groupN(sim.GroupOwnedID), "count": 25}))
	if len(h.Messages) != 25 {
		t.Fatalf("%d messages, want 25", len(h.Messages))
	}
	for i, m := range h.Messages {
		if want := fmt.Sprint("h", i+5); m.RawMessage != want {
			t.Errorf("message %d = %q, want %q (oldest first, the newest 25)", i, m.RawMessage, want)
		}
	}
}
