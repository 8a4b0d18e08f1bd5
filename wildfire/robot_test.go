package wildfire

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func TestSignGolden(t *testing.T) {
	// The fixed example of the server's admin API documentation.
	if got := Sign("76616", "123456", 1558350862502); got != "b98f9b0717f59febccf1440067a7f50d9b31bdde" {
		t.Fatalf("Sign = %s", got)
	}
	if Sign("76616", "123457", 1558350862502) == Sign("76616", "123456", 1558350862502) {
		t.Fatal("the secret does not change the signature")
	}
}

func TestSendPrivateAndGroup(t *testing.T) {
	f := newFakeIM(t, "robot-secret", "bot1",
		exchange{path: "/robot/message/send",
			body:   `{"sender":"bot1","conv":{"type":0,"target":"alice","line":0},"payload":{"type":1,"searchableContent":"hi / <b>"}}`,
			answer: `{"code":0,"msg":"success","result":{"messageUid":590123456789012345,"timestamp":1795447738123}}`},
		exchange{path: "/robot/message/send",
			body:   `{"sender":"bot1","conv":{"type":1,"target":"g1","line":0},"payload":{"type":3,"searchableContent":"[图片]","mediaType":1,"remoteMediaUrl":"http://127.0.0.1/a.png","persistFlag":3,"mentionedType":1,"mentionedTarget":["alice","bob"]}}`,
			answer: `{"code":0,"msg":"success","result":{"messageUid":9007199254740993,"timestamp":1795447738124}}`},
	)
	c := robotClient(f, nil)
	ctx := context.Background()
	r, err := c.Send(ctx, Conversation{Type: 0, Target: "alice"}, Payload{Type: 1, SearchableContent: "hi / <b>"})
	if err != nil {
		t.Fatal(err)
	}
	if r != (SendResult{MessageUID: 590123456789012345, Timestamp: 1795447738123}) {
		t.Fatalf("result %+v", r)
	}
	r, err = c.Send(ctx, Conversation{Type: 1, Target: "g1"}, Payload{Type: 3, SearchableContent: "[图片]", MediaType: 1,
		RemoteMediaURL: "http://127.0.0.1/a.png", PersistFlag: 3, MentionedType: 1, MentionedTarget: []string{"alice", "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	// 2^53+1 is the first integer a float64 cannot hold.
	if r.MessageUID != 9007199254740993 {
		t.Fatalf("messageUid %d, want 9007199254740993", r.MessageUID)
	}
}

func TestSendWithoutMessageUIDIsAnError(t *testing.T) {
	f := newFakeIM(t, "robot-secret", "bot1", exchange{path: "/robot/message/send",
		body:   `{"sender":"bot1","conv":{"type":0,"target":"alice","line":0},"payload":{"type":1,"searchableContent":"x"}}`,
		answer: `{"code":0,"msg":"success","result":{}}`})
	_, err := robotClient(f, nil).Send(context.Background(), Conversation{Target: "alice"}, Payload{Type: 1, SearchableContent: "x"})
	if err == nil {
		t.Fatal("a send answer without messageUid was accepted")
	}
}

func TestRobotReads(t *testing.T) {
	f := newFakeIM(t, "robot-secret", "bot1",
		exchange{path: "/robot/profile", body: `{}`,
			answer: `{"code":0,"msg":"success","result":{"userId":"bot1","name":"bot1","displayName":"Bot","portrait":"http://p/1","gender":0,"mobile":"","email":"","address":"","company":"","social":"","extra":"","updateDt":1700000000000,"owner":"admin","secret":"robot-secret","callback":"http://127.0.0.1:9/cb","robotExtra":""}}`},
		exchange{path: "/robot/user_info", body: `{"userId":"alice"}`,
			answer: `{"code":0,"msg":"success","result":{"userId":"alice","name":"alice","displayName":"Alice","portrait":"","gender":2,"mobile":"","email":"","address":"","company":"","social":"","extra":"{\"k\":1}","type":0,"updateDt":1700000000000}}`},
		exchange{path: "/robot/group/get_info", body: `{"groupId":"g1"}`,
			answer: `{"code":0,"msg":"success","result":{"target_id":"g1","name":"Group One","portrait":"","owner":"alice","type":2,"extra":"","mute":1,"join_type":0,"private_chat":0,"searchable":0,"max_member_count":0,"history_message":0,"super_group":false}}`},
		exchange{path: "/robot/group/member/list", body: `{"groupId":"g1"}`,
			answer: `{"code":0,"msg":"success","result":{"members":[{"member_id":"alice","alias":"","type":2,"extra":"","createDt":1700000000001},{"member_id":"bot1","alias":"Helper","type":0,"extra":"x","createDt":1700000000002}]}}`},
		exchange{path: "/robot/group/member/list", body: `{"groupId":"g2"}`,
			answer: `{"code":0,"msg":"success","result":{"members":[]}}`},
		exchange{path: "/robot/get_callback", body: `{}`,
			answer: `{"code":0,"msg":"success","result":{"url":"http://127.0.0.1:9/cb"}}`},
		exchange{path: "/robot/get_callback", body: `{}`,
			answer: `{"code":0,"msg":"success","result":{}}`},
	)
	c := robotClient(f, nil)
	ctx := context.Background()
	p, err := c.Profile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (User{UserID: "bot1", Name: "bot1", DisplayName: "Bot", Portrait: "http://p/1", Type: 1}); p != want {
		t.Fatalf("profile %+v, want %+v", p, want)
	}
	u, err := c.UserInfo(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if want := (User{UserID: "alice", Name: "alice", DisplayName: "Alice", Gender: 2, Extra: `{"k":1}`}); u != want {
		t.Fatalf("user %+v, want %+v", u, want)
	}
	g, err := c.GroupInfo(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Group{TargetID: "g1", Name: "Group One", Owner: "alice", Type: 2, Mute: 1}); g != want {
		t.Fatalf("group %+v, want %+v", g, want)
	}
	ms, err := c.GroupMembers(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	want := []Member{{MemberID: "alice", Type: 2, CreateDt: 1700000000001}, {MemberID: "bot1", Alias: "Helper", Extra: "x", CreateDt: 1700000000002}}
	if !reflect.DeepEqual(ms, want) {
		t.Fatalf("members %+v", ms)
	}
	if ms, err = c.GroupMembers(ctx, "g2"); err != nil || len(ms) != 0 {
		t.Fatalf("members of a group without the robot: %v %v", ms, err)
	}
	if url, err := c.Callback(ctx); err != nil || url != "http://127.0.0.1:9/cb" {
		t.Fatalf("callback %q %v", url, err)
	}
	if url, err := c.Callback(ctx); err != nil || url != "" {
		t.Fatalf("no callback: %q %v", url, err)
	}
}

func TestRobotGroupWrites(t *testing.T) {
	f := newFakeIM(t, "robot-secret", "bot1",
		exchange{path: "/robot/group/member/del", body: `{"group_id":"g1","members":["alice","bob"]}`, answer: okEmpty},
		exchange{path: "/robot/group/member/quit", body: `{"group_id":"g1"}`, answer: okEmpty},
		exchange{path: "/robot/group/modify", body: `{"group_id":"g1","type":0,"value":"New name"}`, answer: okEmpty},
		exchange{path: "/robot/group/modify", body: `{"group_id":"g1","type":3,"value":"1"}`, answer: okEmpty},
		exchange{path: "/robot/group/member/set_alias", body: `{"group_id":"g1","memberId":"bot1","alias":"Card"}`, answer: okEmpty},
	)
	c := robotClient(f, nil)
	ctx := context.Background()
	if err := c.KickMembers(ctx, "g1", []string{"alice", "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := c.QuitGroup(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	if err := c.ModifyGroup(ctx, "g1", ModifyGroupName, "New name"); err != nil {
		t.Fatal(err)
	}
	if err := c.ModifyGroup(ctx, "g1", ModifyGroupMute, "1"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetAlias(ctx, "g1", "Card"); err != nil {
		t.Fatal(err)
	}
}

func TestSetCallbackDeletesFirst(t *testing.T) {
	f := newFakeIM(t, "robot-secret", "bot1",
		exchange{path: "/robot/delete_callback", body: `{}`, answer: okEmpty},
		exchange{path: "/robot/set_callback", body: `{"url":"http://127.0.0.1:8/s3cret/message"}`, answer: okEmpty},
		// A failed delete stops before set_callback, which the server
		// would answer with success while keeping the old URL.
		exchange{path: "/robot/delete_callback", body: `{}`, answer: `{"code":250,"msg":"over frequency"}`},
	)
	c := robotClient(f, nil)
	if err := c.SetCallback(context.Background(), "http://127.0.0.1:8/s3cret/message"); err != nil {
		t.Fatal(err)
	}
	err := c.SetCallback(context.Background(), "http://127.0.0.1:8/other")
	if !errors.Is(err, ErrOverFrequency) {
		t.Fatalf("err %v", err)
	}
	want := []string{"/robot/delete_callback", "/robot/set_callback", "/robot/delete_callback"}
	if got := f.paths(); !reflect.DeepEqual(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
}
