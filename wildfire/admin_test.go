package wildfire

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// getOneAnswer is OutputMessageData as Gson writes it: every payload field
// present, base64edData left out when empty, no client.
const getOneAnswer = `{"code":0,"msg":"success","result":{"messageId":590123456789012345,"sender":"alice","conv":{"type":1,"target":"g1","line":0},"payload":{"type":1,"searchableContent":"hello / world","pushContent":"","pushData":"","content":"","mediaType":0,"remoteMediaUrl":"","persistFlag":3,"expireDuration":0,"mentionedType":1,"mentionedTarget":["bot1"],"extra":""},"toUsers":[],"timestamp":1795447738123}}`

func TestAdminCalls(t *testing.T) {
	a := newFakeIM(t, "123456", "",
		// /admin/message/recall answers the recalled content as a JSON
		// string, with / escaped (B.5.2).
		exchange{path: "/admin/message/recall", body: `{"operator":"bot1","messageUid":9223372036854775807}`,
			answer: `{"code":0,"msg":"success","result":"{\"sc\":\"a\\/b\",\"t\":1}"}`},
		exchange{path: "/admin/message/recall", body: `{"operator":"bot1","messageUid":590123456789012345}`,
			answer: `{"code":0,"msg":"success","result":""}`},
		exchange{path: "/admin/message/get_one", body: `{"messageUid":590123456789012345}`, answer: getOneAnswer},
		exchange{path: "/admin/friend/list", body: `{"userId":"bot1"}`,
			answer: `{"code":0,"msg":"success","result":{"list":["alice","bob"]}}`},
		exchange{path: "/admin/group/of_user", body: `{"userId":"bot1"}`,
			answer: `{"code":0,"msg":"success","result":{"groupIds":["g1","g2"]}}`},
		exchange{path: "/admin/message/recall", body: `{"operator":"bot1","messageUid":1}`,
			answer: `{"code":253,"msg":"not exist"}`},
	)
	c := adminClient(a)
	if !c.HasAdmin() {
		t.Fatal("HasAdmin false with an admin URL and secret")
	}
	ctx := context.Background()
	if err := c.Recall(ctx, "bot1", 9223372036854775807); err != nil {
		t.Fatal(err)
	}
	if err := c.Recall(ctx, "bot1", 590123456789012345); err != nil {
		t.Fatal(err)
	}
	m, err := c.GetMessage(ctx, 590123456789012345)
	if err != nil {
		t.Fatal(err)
	}
	want := Message{MessageID: 590123456789012345, Sender: "alice", Conv: Conversation{Type: 1, Target: "g1"},
		Payload: Payload{Type: 1, SearchableContent: "hello / world", PersistFlag: 3, MentionedType: 1, MentionedTarget: []string{"bot1"}},
		ToUsers: []string{}, Timestamp: 1795447738123}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("message\n got %+v\nwant %+v", m, want)
	}
	if ids, err := c.FriendIDs(ctx, "bot1"); err != nil || !reflect.DeepEqual(ids, []string{"alice", "bob"}) {
		t.Fatalf("friends %v %v", ids, err)
	}
	if ids, err := c.GroupIDsOf(ctx, "bot1"); err != nil || !reflect.DeepEqual(ids, []string{"g1", "g2"}) {
		t.Fatalf("groups %v %v", ids, err)
	}
	if err := c.Recall(ctx, "bot1", 1); !errors.Is(err, ErrNotExist) {
		t.Fatalf("err %v", err)
	}
}

func TestAdminAndRobotUseTheirOwnPortAndSecret(t *testing.T) {
	r := newFakeIM(t, "robot-secret", "bot1", exchange{path: "/robot/delete_callback", body: `{}`, answer: okEmpty})
	a := newFakeIM(t, "123456", "", exchange{path: "/admin/friend/list", body: `{"userId":"bot1"}`,
		answer: `{"code":0,"msg":"success","result":{"list":[]}}`})
	c := robotClient(r, a)
	if err := c.DeleteCallback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ids, err := c.FriendIDs(context.Background(), "bot1"); err != nil || len(ids) != 0 {
		t.Fatalf("%v %v", ids, err)
	}
}

func TestAdminCallsRefusedWhenUnconfigured(t *testing.T) {
	// A server that must see no request at all.
	a := newFakeIM(t, "123456", "")
	for name, o := range map[string]Options{
		"no url":    {AdminSecret: "123456"},
		"no secret": {AdminURL: a.srv.URL},
		"neither":   {},
	} {
		o.RobotURL, o.RobotID, o.RobotSecret = "http://127.0.0.1:1", "bot1", "s"
		c := New(o)
		if c.HasAdmin() {
			t.Errorf("%s: HasAdmin true", name)
		}
		ctx := context.Background()
		errs := []error{c.Recall(ctx, "bot1", 5)}
		_, err := c.GetMessage(ctx, 5)
		errs = append(errs, err)
		_, err = c.FriendIDs(ctx, "bot1")
		errs = append(errs, err)
		_, err = c.GroupIDsOf(ctx, "bot1")
		errs = append(errs, err)
		for i, err := range errs {
			if !errors.Is(err, ErrNoAdmin) {
				t.Errorf("%s: call %d: err %v, want ErrNoAdmin", name, i, err)
			}
		}
	}
	if p := a.paths(); len(p) != 0 {
		t.Fatalf("the admin port was called: %v", p)
	}
}

func TestGetMessageRefusesAnIncompleteResult(t *testing.T) {
	a := newFakeIM(t, "123456", "", exchange{path: "/admin/message/get_one", body: `{"messageUid":7}`,
		answer: `{"code":0,"msg":"success","result":{"messageId":7,"sender":"alice"}}`})
	if _, err := adminClient(a).GetMessage(context.Background(), 7); err == nil {
		t.Fatal("a message without conv and payload was accepted")
	}
}
