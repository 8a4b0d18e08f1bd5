package yunhu

import (
	"bytes"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
)

// TestRequestFlags: flags made for request events parse back; anything
// else is a 1400 naming the flag.
func TestRequestFlags(t *testing.T) {
	for _, k := range []platform.RequestKind{platform.FriendRequest, platform.GroupJoinRequest, platform.GroupInviteRequest} {
		f := requestFlag(k, 5001)
		id, kind, err := parseRequestFlag(f)
		if err != nil || id != 5001 || kind != k {
			t.Errorf("%s → %d, %q, %v", f, id, kind, err)
		}
	}
	for _, bad := range []string{"", "5001", "friend:", "friend:x", "friend:-1", "friend:0", "bot:1", "group:1", "friend:1:2"} {
		if _, _, err := parseRequestFlag(bad); err == nil || !bytes.Contains([]byte(err.Error()), []byte("flag")) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
