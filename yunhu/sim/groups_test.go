package sim

import (
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

func TestWorldSeed(t *testing.T) {
	e := newEnv(t, Options{})
	levels := map[string]int32{GroupOwnedID: yunhu.PermissionOwner, GroupAdminID: yunhu.PermissionAdmin, GroupBigID: yunhu.PermissionMember}
	groups := e.s.Groups()
	if len(groups) != 3 {
		t.Fatalf("Groups() = %v", groups)
	}
	for _, g := range groups {
		resp := &yunhupb.GroupInfoResponse{}
		e.mustOK(yunhu.PathGroupInfo, DefaultToken, &yunhupb.GroupInfoRequest{GroupId: g.ID}, resp)
		if resp.Group.GetPermissionLevel() != levels[g.ID] || resp.Group.GetGroupId() != g.ID || resp.Group.GetOwner() != g.Owner {
			t.Errorf("group %s info %v", g.ID, resp.Group)
		}
	}
	if f := e.s.Friends(); len(f) != 2 || f[0].ID != AliceID || f[1].ID != BobID {
		t.Errorf("Friends() = %v", f)
	}
	if f := e.s.FriendsOf(AliceID); len(f) != 3 || f[0].ID != SelfID || f[1].ID != BobID || f[2].ID != CarolID {
		t.Errorf("FriendsOf(Alice) = %v", f)
	}
	if f := e.s.FriendsOf(DaveID); len(f) != 0 {
		t.Errorf("FriendsOf(Dave) = %v", f)
	}
	if r := e.s.Remark(BobID); r != "Bobby" {
		t.Errorf("Remark(Bob) = %q", r)
	}
	if e.s.Bot().ID != BotID || e.s.Describe() == "" {
		t.Error("bot / describe")
	}

	ab := &yunhupb.AddressBookListResponse{}
	e.mustOK(yunhu.PathAddressBookList, DefaultToken, &yunhupb.AddressBookListRequest{Md5: "x"}, ab)
	if len(ab.Sections) != 3 || ab.Sections[0].ChatType != 1 || ab.Sections[1].ChatType != 2 || ab.Sections[2].ChatType != 3 {
		t.Fatalf("address book %v", ab)
	}
	if bob := ab.Sections[0].Entries[1]; bob.ChatId != BobID || bob.Remark != "Bobby" || bob.Name != "Bob" {
		t.Errorf("remark entry %v", bob)
	}
	if ab.Sections[1].Entries[0].ChatId != GroupOwnedID || ab.Sections[1].Entries[0].PermissionLevel != 100 {
		t.Errorf("group entries %v", ab.Sections[1].Entries)
	}
	again := &yunhupb.AddressBookListResponse{}
	e.mustOK(yunhu.PathAddressBookList, DefaultToken, &yunhupb.AddressBookListRequest{Md5: ab.Md5}, again)
	if len(again.Sections) != 0 || again.Md5 != ab.Md5 {
		t.Errorf("cached address book %v", again)
	}

	lm := &yunhupb.ListMemberResponse{}
	e.mustOK(yunhu.PathGroupListMember, DefaultToken, &yunhupb.ListMemberRequest{GroupId: GroupBigID, Page: &yunhupb.Page{Size: 2, Page: 1}}, lm)
	if lm.Total != 4 || len(lm.Members) != 2 || lm.Members[0].User.GetUserId() != BobID || lm.Members[0].PermissionLevel != 100 ||
		lm.Members[1].PermissionLevel != 2 {
		t.Errorf("list-member page 1 %v", lm)
	}
}

func TestGroupAdminErrors(t *testing.T) {
	e := newEnv(t, Options{})
	type req = map[string]any
	for _, tc := range []struct {
		name  string
		token string
		path  string
		body  req
		msg   string
	}{
		{"member kicks", TokenFor(CarolID), yunhu.PathGroupRemoveMember, req{"groupId": GroupBigID, "userId": AliceID}, msgNoPermission},
		{"unknown group", DefaultToken, yunhu.PathGroupRemoveMember, req{"groupId": "nope", "userId": AliceID}, msgNoPermission},
		{"kick owner", DefaultToken, yunhu.PathGroupRemoveMember, req{"groupId": GroupAdminID, "userId": AliceID}, msgRemoveOwner},
		{"kick outsider", DefaultToken, yunhu.PathGroupRemoveMember, req{"groupId": GroupOwnedID, "userId": DaveID}, msgNotInGroup},
		{"gag owner", DefaultToken, yunhu.PathGroupGagMember, req{"groupId": GroupAdminID, "userId": AliceID, "gag": 600}, msgGagOwner},
		{"gag bad value", DefaultToken, yunhu.PathGroupGagMember, req{"groupId": GroupOwnedID, "userId": BobID, "gag": 60}, msgBadGag},
		{"gag 1 (MD3)", DefaultToken, yunhu.PathGroupGagMember, req{"groupId": GroupOwnedID, "userId": BobID, "gag": 1}, msgBadGag},
		{"gag outsider", DefaultToken, yunhu.PathGroupGagMember, req{"groupId": GroupOwnedID, "userId": DaveID, "gag": 600}, msgNotInGroup},
	} {
		r := e.post(tc.path, tc.token, tc.body)
		if r.Code != yunhu.CodeFailed || r.Msg != tc.msg {
			t.Errorf("%s: %+v, want %q", tc.name, r, tc.msg)
		}
	}

	// Permanent gag, visible in list-member; unmute.
	if r := e.post(yunhu.PathGroupGagMember, DefaultToken, req{"groupId": GroupOwnedID, "userId": BobID, "gag": -1}); r.Code != 1 {
		t.Fatalf("gag: %+v", r)
	}
	lm := &yunhupb.ListMemberResponse{}
	e.mustOK(yunhu.PathGroupListMember, DefaultToken, &yunhupb.ListMemberRequest{GroupId: GroupOwnedID, Keywords: "Bob"}, lm)
	if len(lm.Members) != 1 || !lm.Members[0].IsGag || lm.Members[0].GagTime != -1 {
		t.Errorf("gagged member %v", lm.Members)
	}
	if st := e.send(TokenFor(BobID), newMsgID(), GroupOwnedID, 2, "x"); st.GetMsg() != msgGagged {
		t.Errorf("gagged send %v", st)
	}
	e.post(yunhu.PathGroupGagMember, DefaultToken, req{"groupId": GroupOwnedID, "userId": BobID, "gag": 0})
	if st := e.send(TokenFor(BobID), newMsgID(), GroupOwnedID, 2, "x"); st.GetCode() != 1 {
		t.Errorf("unmuted send %v", st)
	}

	// Remove as owner; the removed member can no longer post.
	if r := e.post(yunhu.PathGroupRemoveMember, DefaultToken, req{"groupId": GroupOwnedID, "userId": CarolID}); r.Code != 1 {
		t.Fatalf("remove: %+v", r)
	}
	if st := e.send(TokenFor(CarolID), newMsgID(), GroupOwnedID, 2, "x"); st.GetCode() != yunhu.CodeFailed {
		t.Errorf("removed member posted: %v", st)
	}
}

func TestEditGroupAndNickname(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustOK(yunhu.PathGroupEditGroup, DefaultToken, &yunhupb.EditGroupRequest{GroupId: GroupOwnedID, Name: "Renamed", DirectJoin: true}, nil)
	resp := &yunhupb.GroupInfoResponse{}
	e.mustOK(yunhu.PathGroupInfo, DefaultToken, &yunhupb.GroupInfoRequest{GroupId: GroupOwnedID}, resp)
	// Every field is overwritten: history_msg and category were not sent.
	if g := resp.Group; g.Name != "Renamed" || !g.DirectJoin || g.HistoryMsg || g.CategoryName != "" {
		t.Errorf("after edit-group %v", g)
	}
	if st := e.proto(yunhu.PathGroupEditGroup, DefaultToken, &yunhupb.EditGroupRequest{GroupId: GroupBigID, Name: "x"}, nil); st.GetMsg() != msgNoPermission {
		t.Errorf("member edit-group %v", st)
	}

	r := e.post(yunhu.PathGroupEditMyNickname, DefaultToken, map[string]any{"groupId": GroupBigID, "nickname": "me in big"})
	if r.Code != 1 || r.Msg != yunhu.MsgSuccess {
		t.Fatalf("nickname: %+v", r)
	}
	e.mustOK(yunhu.PathGroupInfo, DefaultToken, &yunhupb.GroupInfoRequest{GroupId: GroupBigID}, resp)
	if resp.Group.MyGroupNickname != "me in big" {
		t.Errorf("my_group_nickname %q", resp.Group.MyGroupNickname)
	}
	e.send(DefaultToken, newMsgID(), GroupBigID, 2, "hi")
	if rec := e.list(TokenFor(BobID), GroupBigID, 2, "", 1)[0]; rec.Sender.GetName() != "me in big" {
		t.Errorf("sender name %q", rec.Sender.GetName())
	}

	bl := &yunhupb.BotListResponse{}
	e.mustOK(yunhu.PathGroupBotList, DefaultToken, &yunhupb.BotListRequest{GroupId: GroupOwnedID}, bl)
	if len(bl.Bots) != 1 || len(bl.Instructions) != 1 || bl.Instructions[0].Id != BotCommandID {
		t.Errorf("bot-list %v", bl)
	}
}

func TestFriendRequestsAndInvites(t *testing.T) {
	e := newEnv(t, Options{})
	ws := e.dial()
	ws.loginAndWait(SelfID, DefaultToken)

	// Dave asks self to be friends.
	id, err := e.s.Apply(DaveID, SelfID, yunhu.ChatTypeUser, "let's talk")
	if err != nil {
		t.Fatal(err)
	}
	if f := ws.frame(); f.Info.GetCmd() != yunhu.WSCmdInviteApply {
		t.Fatalf("want invite_apply, got %v", f)
	}
	rl := &yunhupb.RequestListResponse{}
	e.mustOK(yunhu.PathRequestList, DefaultToken, nil, rl)
	if rl.Total != 1 || rl.Pending != 1 || rl.Requests[0].RequestId != id || rl.Requests[0].InviterId != DaveID ||
		rl.Requests[0].Note != "let's talk" || rl.Requests[0].TargetType != 1 {
		t.Fatalf("request-list %v", rl)
	}
	if r := e.post(yunhu.PathAgreeApply, DefaultToken, map[string]any{"id": id, "agree": 1}); r.Code != 1 {
		t.Fatalf("agree: %+v", r)
	}
	if r := e.post(yunhu.PathAgreeApply, DefaultToken, map[string]any{"id": id, "agree": 1}); r.Code != yunhu.CodeFailed {
		t.Errorf("second agree: %+v", r)
	}
	if st := e.send(DefaultToken, newMsgID(), DaveID, 1, "welcome"); st.GetCode() != 1 {
		t.Errorf("send to new friend: %v", st)
	}
	if pm := ws.push(yunhu.WSCmdPushMessage); pm.ChatId != DaveID {
		t.Errorf("echo %v", pm)
	}

	// Applying to an existing friend is -9; to nobody is -1.
	if r := e.post(yunhu.PathApply, DefaultToken, map[string]any{"chatId": AliceID, "chatType": 1}); r.Code != yunhu.CodeAlreadyAdded || r.Msg != msgAlreadyAdded {
		t.Errorf("apply to friend: %+v", r)
	}
	if r := e.post(yunhu.PathApply, DefaultToken, map[string]any{"chatId": "7777777", "chatType": 1}); r.Code != yunhu.CodeFailed {
		t.Errorf("apply to nobody: %+v", r)
	}
	// Self asks Carol; Carol accepts through the Go API.
	if r := e.post(yunhu.PathApply, DefaultToken, map[string]any{"chatId": CarolID, "chatType": 1, "remark": "hi"}); r.Code != 1 {
		t.Fatalf("apply to carol: %+v", r)
	}
	e.mustOK(yunhu.PathRequestList, TokenFor(CarolID), nil, rl)
	if err := e.s.Agree(CarolID, rl.Requests[0].RequestId, yunhu.AgreeAccept); err != nil {
		t.Fatal(err)
	}
	if len(e.s.Friends()) != 4 {
		t.Errorf("friends %v", e.s.Friends())
	}

	// Leave "big" (direct join group), get invited back by Bob, accept.
	if r := e.post(yunhu.PathDeleteFriend, DefaultToken, map[string]any{"chatId": GroupBigID, "chatType": 2}); r.Code != 1 {
		t.Fatalf("leave: %+v", r)
	}
	if r := e.post(yunhu.PathDeleteFriend, DefaultToken, map[string]any{"chatId": GroupOwnedID, "chatType": 2}); r.Msg != msgOwnerCantLeave {
		t.Errorf("owner leaving: %+v", r)
	}
	inv, err := e.s.Invite(BobID, SelfID, GroupBigID)
	if err != nil {
		t.Fatal(err)
	}
	if f := ws.frame(); f.Info.GetCmd() != yunhu.WSCmdInviteApply {
		t.Fatalf("want invite_apply, got %v", f)
	}
	e.mustOK(yunhu.PathRequestList, DefaultToken, nil, rl)
	if rl.Requests[0].RequestId != inv || rl.Requests[0].TargetId != GroupBigID || rl.Requests[0].GroupName != "Big Group" {
		t.Errorf("invite entry %v", rl.Requests[0])
	}
	if r := e.post(yunhu.PathAgreeApply, DefaultToken, map[string]any{"id": inv, "agree": 1}); r.Code != 1 {
		t.Fatalf("accept invite: %+v", r)
	}
	if g, _ := e.s.GroupInfo(GroupBigID); len(g.Members) != 4 {
		t.Errorf("big members %v", g.Members)
	}
	// A group with approvals: Dave's join request reaches the owner.
	if _, err := e.s.Apply(DaveID, GroupOwnedID, yunhu.ChatTypeGroup, ""); err != nil {
		t.Fatal(err)
	}
	if f := ws.frame(); f.Info.GetCmd() != yunhu.WSCmdInviteApply {
		t.Errorf("owner not notified: %v", f)
	}
}

func TestConversationList(t *testing.T) {
	e := newEnv(t, Options{})
	e.inject(Message{From: AliceID, ChatID: SelfID, Text: "one"})
	e.inject(Message{From: BobID, ChatID: GroupBigID, Text: "@Sim Self hi", Content: &yunhupb.MsgContent{
		Text: "@Sim Self hi", MentionedId: []string{SelfID}}})
	cl := &yunhupb.ConversationListResponse{}
	e.mustOK(yunhu.PathConversationList, DefaultToken, nil, cl)
	if cl.Total != 2 || len(cl.Conversations) != 2 {
		t.Fatalf("conversations %v", cl)
	}
	var big *yunhupb.Conversation
	for _, c := range cl.Conversations {
		if c.ChatId == GroupBigID {
			big = c
		}
	}
	if big == nil || big.UnreadMsg != 1 || !big.At || big.AtData.GetMentionerId() != BobID || big.ChatContent != "@Sim Self hi" {
		t.Fatalf("big conversation %v", big)
	}
	if r := e.post(yunhu.PathDismissNotification, DefaultToken, map[string]any{"chatId": GroupBigID}); r.Code != 1 {
		t.Fatal(r)
	}
	e.mustOK(yunhu.PathConversationList, DefaultToken, nil, cl)
	for _, c := range cl.Conversations {
		if c.ChatId == GroupBigID && (c.UnreadMsg != 0 || c.At) {
			t.Errorf("after dismiss %v", c)
		}
		if c.ChatId == AliceID && c.UnreadMsg != 1 {
			t.Errorf("alice conversation %v", c)
		}
	}
}
