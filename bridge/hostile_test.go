package bridge_test

import (
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// TestOutboundManyMentions sends a private message of thousands of
// mentions of the same two users: each name is looked up at Yunhu once,
// not once per mention, and each id is listed once, so the work is one
// pass over the segments rather than a lookup (a round trip to Yunhu) or a
// scan of the mention list per segment.
func TestOutboundManyMentions(t *testing.T) {
	const n = 2000
	e := newActEnv(t)
	alice, bob := userN(t, sim.AliceID), userN(t, sim.BobID)
	msg := strings.Repeat("[CQ:at,qq="+itoa(alice)+"][CQ:at,qq="+itoa(bob)+"]", n)
	lookups := func() int {
		c := 0
		for _, r := range e.sim.Requests() {
			if r.Path == yunhu.PathGetUser {
				c++
			}
		}
		return c
	}
	before := lookups()
	e.send("send_private_msg", map[string]any{"user_id": alice, "message": msg})
	if got := lookups() - before; got > 2 {
		t.Errorf("%d user look-ups for %d mentions of 2 users; want at most 2", got, 2*n)
	}
	r := e.lastSent().Request
	if got := strings.Join(r.Content.GetMentionedId(), ","); got != sim.AliceID+","+sim.BobID {
		t.Errorf("mentions %s", got)
	}
	if got, want := r.Content.GetText(), strings.Repeat("@Alice @Bob ", n); got != want {
		t.Errorf("text %.60q…, want %.60q…", got, want)
	}
}
