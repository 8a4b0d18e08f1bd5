package sim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"
)

func textPayload(s string) Payload { return Payload{Type: 1, SearchableContent: s} }

// emptyPayload is how the server shows a payload with only type and text.
func textJSON(typ int, text string) string {
	return fmt.Sprintf(`{"type":%d,"searchableContent":%q,"pushContent":"","pushData":"","content":"","mediaType":0,"remoteMediaUrl":"","persistFlag":0,"expireDuration":0,"mentionedType":0,"mentionedTarget":[],"extra":""}`, typ, text)
}

func TestPrivateMessageToRobotIsPostedToItsCallback(t *testing.T) {
	e := newEnv(t, Options{})
	k := newSink(t)
	e.world(k, nil)
	m, err := e.s.Say("alice", Conversation{Type: 0, Target: "bot1"}, textPayload("hi </b> & /x"))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID <= 1<<53 {
		t.Fatalf("message id %d does not exceed 2^53", m.ID)
	}
	cbs := waitCallbacks(t, e.s, 1)
	want := fmt.Sprintf(`{"messageId":%d,"sender":"alice","conv":{"type":0,"target":"bot1","line":0},"payload":%s,"toUsers":[],"timestamp":%d}`,
		m.ID, `{"type":1,"searchableContent":"hi </b> & /x","pushContent":"","pushData":"","content":"","mediaType":0,"remoteMediaUrl":"","persistFlag":0,"expireDuration":0,"mentionedType":0,"mentionedTarget":[],"extra":""}`, base.UnixMilli())
	if len(cbs) != 1 || cbs[0].Kind != KindMessage || cbs[0].Robot != "bot1" || cbs[0].URL != k.srv.URL+"/cb" || cbs[0].Status != 200 {
		t.Fatalf("callbacks %+v", cbs)
	}
	wantBody(t, "callback", cbs[0].Body, want)
	got := k.received()
	if len(got) != 1 {
		t.Fatalf("target received %d posts", len(got))
	}
	wantBody(t, "received", got[0], want)
}

func TestRobotSendAnswersIncreasingLargeUIDs(t *testing.T) {
	e := newEnv(t, Options{})
	k2 := newSink(t)
	e.world(nil, k2)
	var last int64
	for i := 0; i < 3; i++ {
		r := e.robotCall("/robot/message/send", `{"conv":{"type":0,"target":"bot2","line":0},"payload":{"type":1,"searchableContent":"x`+strconv.Itoa(i)+`"}}`)
		code, _, res := r.env(t)
		if code != 0 {
			t.Fatalf("send: code %d", code)
		}
		var v struct {
			MessageUID json.Number `json:"messageUid"`
			Timestamp  int64       `json:"timestamp"`
		}
		d := json.NewDecoder(bytes.NewReader(res))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		uid, err := strconv.ParseInt(v.MessageUID.String(), 10, 64)
		if err != nil || uid <= 1<<53 || uid <= last || v.Timestamp != base.UnixMilli() {
			t.Fatalf("result %s: uid %d (last %d), err %v", res, uid, last, err)
		}
		last = uid
		wantBody(t, "result", res, fmt.Sprintf(`{"messageUid":%d,"timestamp":%d}`, uid, base.UnixMilli()))
	}
	// The robot is the sender, whatever the body says; bot2 got all three.
	cbs := waitCallbacks(t, e.s, 3)
	for _, c := range cbs {
		if c.Robot != "bot2" || !bytes.Contains(c.Body, []byte(`"sender":"bot1"`)) {
			t.Errorf("callback %s to %s", c.Body, c.Robot)
		}
	}
	if n := len(e.s.Messages(Conversation{Type: 0, Target: "bot2"})); n != 3 {
		t.Errorf("stored %d messages, want 3", n)
	}
}

func TestGroupMessageReachesEveryRobotMemberButTheSender(t *testing.T) {
	e := newEnv(t, Options{})
	k, k2 := newSink(t), newSink(t)
	e.world(k, k2)
	m, err := e.s.Say("alice", Conversation{Type: 1, Target: "g1"}, textPayload("all"))
	if err != nil {
		t.Fatal(err)
	}
	cbs := waitCallbacks(t, e.s, 2)
	want := fmt.Sprintf(`{"messageId":%d,"sender":"alice","conv":{"type":1,"target":"g1","line":0},"payload":%s,"toUsers":[],"timestamp":%d}`, m.ID, textJSON(1, "all"), base.UnixMilli())
	robots := map[string]bool{}
	for _, c := range cbs {
		robots[c.Robot] = true
		wantBody(t, "group callback to "+c.Robot, c.Body, want)
	}
	if !robots["bot1"] || !robots["bot2"] {
		t.Fatalf("callbacks went to %v", robots)
	}
	// bot1 sends: only bot2 hears it.
	if code, _, _ := e.robotCall("/robot/message/send", `{"conv":{"type":1,"target":"g1","line":0},"payload":{"type":1,"searchableContent":"from bot1"}}`).env(t); code != 0 {
		t.Fatalf("robot group send: code %d", code)
	}
	cbs = waitCallbacks(t, e.s, 3)
	if last := cbs[2]; last.Robot != "bot2" || !bytes.Contains(last.Body, []byte(`"sender":"bot1"`)) {
		t.Fatalf("3rd callback %+v", last)
	}
	if n := len(e.s.Callbacks()); n != 3 {
		t.Fatalf("%d callbacks, want 3 (no echo to the sender)", n)
	}
	// toUsers narrows the receivers: alice's and bob's copies are not
	// robots, bot2's is.
	r := e.robotCall("/robot/message/send", `{"conv":{"type":1,"target":"g1","line":0},"payload":{"type":1,"searchableContent":"psst"},"toUsers":["bot2"]}`)
	if code, _, _ := r.env(t); code != 0 {
		t.Fatalf("directed send: code %d", code)
	}
	cbs = waitCallbacks(t, e.s, 4)
	if last := cbs[3]; last.Robot != "bot2" || !bytes.Contains(last.Body, []byte(`"toUsers":["bot2"]`)) {
		t.Fatalf("directed callback %+v", last)
	}
	if _, err := e.s.Say("alice", Conversation{Type: 1, Target: "g1"}, textPayload("x")); err != nil {
		t.Fatal(err)
	}
	e.s.mu.Lock()
	_, code := e.s.sendLocked("alice", Conversation{Type: 1, Target: "g1"}, Payload{Type: 1, MentionedTarget: []string{}}, []string{"bob"}, false)
	e.s.mu.Unlock()
	if code != 0 {
		t.Fatal(code)
	}
	cbs = waitCallbacks(t, e.s, 6)
	if n := len(e.s.Callbacks()); n != 6 {
		t.Fatalf("%d callbacks, want 6: a message directed to bob reaches no robot", n)
	}
}

func TestSendRefusals(t *testing.T) {
	e := newEnv(t, Options{})
	e.world(nil, nil)
	e.s.CreateGroup("g2", "Other", "bob", "alice")
	send := func(conv, payload string) string {
		return string(e.robotCall("/robot/message/send", `{"conv":`+conv+`,"payload":`+payload+`}`).body)
	}
	priv := `{"type":0,"target":"alice","line":0}`
	for _, typ := range []int{80, 81, 100, 105, 199} {
		if got := send(priv, `{"type":`+strconv.Itoa(typ)+`}`); got != `{"code":251,"msg":"Invalid parameter"}` {
			t.Errorf("type %d: %s", typ, got)
		}
	}
	for _, typ := range []int{1, 90, 200} {
		if got := send(priv, `{"type":`+strconv.Itoa(typ)+`}`); !bytes.Contains([]byte(got), []byte(`"code":0`)) {
			t.Errorf("type %d: %s", typ, got)
		}
	}
	if got := send(`{"type":1,"target":"g2","line":0}`, `{"type":1}`); got != `{"code":9,"msg":"not in group"}` {
		t.Errorf("not a member: %s", got)
	}
	if got := send(`{"type":7,"target":"alice","line":0}`, `{"type":1}`); got != `{"code":251,"msg":"Invalid parameter"}` {
		t.Errorf("conv type 7: %s", got)
	}
	if got := send(`{"type":0,"target":"","line":0}`, `{"type":1}`); got != `{"code":251,"msg":"Invalid parameter"}` {
		t.Errorf("no target: %s", got)
	}
	if got := string(e.robotCall("/robot/message/send", `{"conv":`+priv+`}`).body); got != `{"code":251,"msg":"Invalid parameter"}` {
		t.Errorf("no payload: %s", got)
	}
	if err := e.s.MuteAll("alice", "g1", true); err != nil {
		t.Fatal(err)
	}
	if got := send(`{"type":1,"target":"g1","line":0}`, `{"type":1}`); got != `{"code":241,"msg":"group is muted"}` {
		t.Errorf("muted: %s", got)
	}
	e.s.SetMemberType("g1", "bot1", MemberManager)
	if got := send(`{"type":1,"target":"g1","line":0}`, `{"type":1}`); !bytes.Contains([]byte(got), []byte(`"code":0`)) {
		t.Errorf("manager in a muted group: %s", got)
	}
	e.s.SetMemberType("g1", "bot1", MemberSilent)
	if got := send(`{"type":1,"target":"g1","line":0}`, `{"type":1}`); got != `{"code":248,"msg":"no right to operate"}` {
		t.Errorf("silent member: %s", got)
	}
	if _, err := e.s.Say("alice", Conversation{Type: 0, Target: "bob"}, Payload{Type: 80}); err == nil {
		t.Error("a user sent a recall message")
	}
	// Admin sends skip the checks but need the group to exist.
	if got := string(e.adminCall("/admin/message/send", `{"sender":"x","conv":{"type":1,"target":"nope","line":0},"payload":{"type":1}}`).body); got != `{"code":253,"msg":"not exist"}` {
		t.Errorf("admin to a missing group: %s", got)
	}
	if got := string(e.adminCall("/admin/message/send", `{"sender":"x","conv":{"type":1,"target":"g2","line":0},"payload":{"type":105}}`).body); !bytes.Contains([]byte(got), []byte(`"code":0`)) {
		t.Errorf("admin notification into a group it is not in: %s", got)
	}
}

func TestRecallRepublishesTheRewrittenMessage(t *testing.T) {
	fwd := newSink(t)
	e := newEnv(t, Options{RecallForwardURL: fwd.srv.URL + "/recall"})
	k := newSink(t)
	e.world(k, nil)
	m, err := e.s.Say("alice", Conversation{Type: 0, Target: "bot1"}, Payload{Type: 3, SearchableContent: "pic", Base64edData: "AQID", MediaType: 1, RemoteMediaURL: "http://h/a.png", Extra: `{"k":"v"}`})
	if err != nil {
		t.Fatal(err)
	}
	waitCallbacks(t, e.s, 1)
	r := e.adminCall("/admin/message/recall", fmt.Sprintf(`{"operator":"alice","messageUid":%d}`, m.ID))
	summary := fmt.Sprintf(`{"sc":"pic","b":"AQID","s":"alice","c":"","t":3,"e":"{\"k\":\"v\"}","mt":1,"mu":"http:\/\/h\/a.png","ts":%d}`, base.UnixMilli())
	code, _, res := r.env(t)
	var got string
	if err := json.Unmarshal(res, &got); code != 0 || err != nil || got != summary {
		t.Fatalf("recall: code %d result %s (%v), want the string %s", code, res, err, summary)
	}
	cbs := waitCallbacks(t, e.s, 3)
	uid := strconv.FormatInt(m.ID, 10)
	sumJSON, _ := json.Marshal(summary)
	wantPayload := `{"type":80,"searchableContent":"","pushContent":"","pushData":"{\"messageUid\":` + uid + `}","content":"alice","base64edData":"` +
		base64.StdEncoding.EncodeToString([]byte(uid)) + `","mediaType":0,"remoteMediaUrl":"","persistFlag":1,"expireDuration":0,"mentionedType":0,"mentionedTarget":[],"extra":` + string(sumJSON) + `}`
	var toBot, toFwd *Callback
	for i := range cbs[1:] {
		c := &cbs[1+i]
		switch c.Kind {
		case KindMessage:
			toBot = c
		case KindRecall:
			toFwd = c
		}
	}
	if toBot == nil || toFwd == nil {
		t.Fatalf("callbacks %+v", cbs)
	}
	wantBody(t, "recall callback", toBot.Body, fmt.Sprintf(`{"messageId":%d,"sender":"alice","conv":{"type":0,"target":"bot1","line":0},"payload":%s,"toUsers":[],"timestamp":%d}`, m.ID, wantPayload, base.UnixMilli()))
	origPayload := `{"type":3,"searchableContent":"pic","pushContent":"","pushData":"","content":"","base64edData":"AQID","mediaType":1,"remoteMediaUrl":"http://h/a.png","persistFlag":0,"expireDuration":0,"mentionedType":0,"mentionedTarget":[],"extra":"{\"k\":\"v\"}"}`
	wantBody(t, "recall forward", toFwd.Body, fmt.Sprintf(`{"message":{"messageId":%d,"sender":"alice","conv":{"type":0,"target":"bot1","line":0},"payload":%s,"toUsers":[],"timestamp":%d},"userId":"alice","timestamp":%d,"isAdmin":true}`, m.ID, origPayload, base.UnixMilli(), base.UnixMilli()))
	// get_one shows the rewritten message.
	_, _, res = e.adminCall("/admin/message/get_one", fmt.Sprintf(`{"messageUid":%d}`, m.ID)).env(t)
	wantBody(t, "get_one", res, fmt.Sprintf(`{"messageId":%d,"sender":"alice","conv":{"type":0,"target":"bot1","line":0},"payload":%s,"toUsers":[],"timestamp":%d}`, m.ID, wantPayload, base.UnixMilli()))
	// A second recall answers "" and publishes the type-80 message again.
	wantBody(t, "second recall", e.adminCall("/admin/message/recall", fmt.Sprintf(`{"operator":"alice","messageUid":%d}`, m.ID)).body, `{"code":0,"msg":"success","result":""}`)
	cbs = waitCallbacks(t, e.s, 4)
	if cbs[3].Kind != KindMessage || !bytes.Equal(cbs[3].Body, toBot.Body) {
		t.Fatalf("second recall callback %+v", cbs[3])
	}
	wantBody(t, "unknown uid", e.adminCall("/admin/message/recall", `{"operator":"alice","messageUid":12345}`).body, `{"code":253,"msg":"not exist"}`)
}

func TestUserRecallRights(t *testing.T) {
	e := newEnv(t, Options{})
	k := newSink(t)
	e.world(k, nil)
	m, err := e.s.Say("bob", Conversation{Type: 1, Target: "g1"}, textPayload("x"))
	if err != nil {
		t.Fatal(err)
	}
	var apiE *Error
	if _, err := e.s.Recall("bot2", m.ID); !asError(err, &apiE) || apiE.Code != CodeNoRight {
		t.Fatalf("another member recalls: %v", err)
	}
	e.clock.Add(DefaultRecallTimeLimit + time.Second)
	if _, err := e.s.Recall("bob", m.ID); !asError(err, &apiE) || apiE.Code != CodeRecallExpired {
		t.Fatalf("sender after the limit: %v", err)
	}
	// The owner may recall a member's message at any time.
	if _, err := e.s.Recall("alice", m.ID); err != nil {
		t.Fatalf("owner: %v", err)
	}
	cbs := waitCallbacks(t, e.s, 2)
	if last := cbs[len(cbs)-1]; !bytes.Contains(last.Body, []byte(`"type":80`)) || !bytes.Contains(last.Body, []byte(`"content":"alice"`)) {
		t.Fatalf("recall callback %s", last.Body)
	}
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}

func TestStoredMessagesAreBounded(t *testing.T) {
	e := newEnv(t, Options{MaxMessages: 3})
	e.world(nil, nil)
	var ids []int64
	for i := 0; i < 5; i++ {
		m, err := e.s.Say("alice", Conversation{Type: 0, Target: "bob"}, textPayload("m"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	if got := e.s.Messages(Conversation{Type: 0, Target: "bob"}); len(got) != 3 || got[0].ID != ids[2] {
		t.Fatalf("kept %d messages", len(got))
	}
	if _, ok := e.s.Message(ids[0]); ok {
		t.Fatal("the oldest message is still kept")
	}
}

func TestTransparentMessagesReachRobotsOnlyForType403(t *testing.T) {
	e := newEnv(t, Options{})
	k := newSink(t)
	e.world(k, nil)
	if _, err := e.s.Say("alice", Conversation{Type: 0, Target: "bot1"}, Payload{Type: 91, PersistFlag: 4}); err != nil {
		t.Fatal(err)
	}
	m, err := e.s.Say("alice", Conversation{Type: 0, Target: "bot1"}, Payload{Type: 403, PersistFlag: 4})
	if err != nil {
		t.Fatal(err)
	}
	cbs := waitCallbacks(t, e.s, 1)
	if len(e.s.Callbacks()) != 1 || !bytes.Contains(cbs[0].Body, []byte(fmt.Sprintf(`"messageId":%d`, m.ID))) {
		t.Fatalf("callbacks %+v, want only the type-403 one", e.s.Callbacks())
	}
}
