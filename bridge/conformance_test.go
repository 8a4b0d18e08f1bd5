package bridge_test

import (
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
