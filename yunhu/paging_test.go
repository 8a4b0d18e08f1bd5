package yunhu

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// TestAllMembersStopsOnRepeatedPage: a server that answers every page with
// the same members (and no total) never sends an empty page; AllMembers
// must stop at the first page of nothing new, not after maxMemberPages
// pages of duplicates.
func TestAllMembersStopsOnRepeatedPage(t *testing.T) {
	resp := &yunhupb.ListMemberResponse{Status: &yunhupb.Status{RequestId: 1, Code: 1, Msg: "success"}}
	for i := range 3 {
		id := fmt.Sprint(2000 + i)
		resp.Members = append(resp.Members, &yunhupb.GroupMember{GroupId: "g", User: &yunhupb.MemberUser{UserId: id, Name: "m" + id}})
	}
	b, err := proto.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	r.reply(PathGroupListMember, b)
	c := newTestClient(t, r, nil)
	ms, err := c.AllMembers(context.Background(), "g")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 {
		t.Errorf("%d members, want the 3 distinct ones", len(ms))
	}
}
