package sim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
)

// notice decodes a group notification callback: its payload type and the
// JSON behind base64edData.
func notice(t *testing.T, c Callback) (int, string) {
	t.Helper()
	var v struct {
		Conv    Conversation `json:"conv"`
		Payload Payload      `json:"payload"`
	}
	if err := json.Unmarshal(c.Body, &v); err != nil {
		t.Fatal(err)
	}
	if v.Conv.Type != 1 {
		t.Fatalf("notification in conv %+v", v.Conv)
	}
	data, err := base64.StdEncoding.DecodeString(v.Payload.Base64edData)
	if err != nil {
		t.Fatal(err)
	}
	return v.Payload.Type, string(data)
}

func TestGroupNotificationsReachRobotMembers(t *testing.T) {
	e := newEnv(t, Options{})
	k, k2 := newSink(t), newSink(t)
	e.world(k, k2)
	steps := []struct {
		name     string
		do       func() error
		typ      int
		data     string
		toRobots []string
	}{
		{"add", func() error { return e.s.AddMembers("g1", "alice", "carol") }, 105, `{"g":"g1","o":"alice","ms":["carol"]}`, []string{"bot1", "bot2"}},
		{"rename", func() error { return e.s.Rename("alice", "g1", "New </name>") }, 110, `{"g":"g1","o":"alice","n":"New </name>","m":""}`, []string{"bot1", "bot2"}},
		{"mute", func() error { return e.s.MuteAll("alice", "g1", true) }, 113, `{"g":"g1","o":"alice","n":"1","m":""}`, []string{"bot1", "bot2"}},
		{"unmute", func() error { return e.s.MuteAll("alice", "g1", false) }, 113, `{"g":"g1","o":"alice","n":"0","m":""}`, []string{"bot1", "bot2"}},
		// The kick notice goes out before the removal: the kicked robot gets it.
		{"kick", func() error { return e.s.Kick("alice", "g1", "bot2") }, 106, `{"g":"g1","o":"alice","ms":["bot2"]}`, []string{"bot1", "bot2"}},
		{"quit", func() error { return e.s.Quit("bob", "g1") }, 107, `{"g":"g1","o":"bob","m":""}`, []string{"bot1"}},
	}
	total := 0
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		total += len(st.toRobots)
		cbs := waitCallbacks(t, e.s, total)
		got := cbs[total-len(st.toRobots):]
		for i, c := range got {
			if c.Robot != st.toRobots[i] {
				t.Errorf("%s: callback %d to %s, want %s", st.name, i, c.Robot, st.toRobots[i])
			}
			typ, data := notice(t, c)
			if typ != st.typ || data != st.data {
				t.Errorf("%s: type %d data %s, want %d %s", st.name, typ, data, st.typ, st.data)
			}
			if !bytes.Contains(c.Body, []byte(`"sender":"`+map[bool]string{true: "bob", false: "alice"}[st.name == "quit"]+`"`)) {
				t.Errorf("%s: sender in %s", st.name, c.Body)
			}
		}
	}
	if n := len(e.s.Callbacks()); n != total {
		t.Fatalf("%d callbacks, want %d", n, total)
	}
	g, _ := e.s.GroupInfo("g1")
	if g.Name != "New </name>" || g.Mute != 0 || len(g.Members) != 3 {
		t.Fatalf("group %+v", g)
	}
}

func TestRobotGroupOperations(t *testing.T) {
	e := newEnv(t, Options{})
	k2 := newSink(t)
	e.world(nil, k2)
	// A normal member of a restricted group may not kick, rename or mute.
	wantBody(t, "kick as member", e.robotCall("/robot/group/member/del", `{"group_id":"g1","members":["bob"]}`).body, `{"code":248,"msg":"no right to operate"}`)
	wantBody(t, "rename as member", e.robotCall("/robot/group/modify", `{"group_id":"g1","type":0,"value":"x"}`).body, `{"code":248,"msg":"no right to operate"}`)
	wantBody(t, "kick without members", e.robotCall("/robot/group/member/del", `{"group_id":"g1","members":[]}`).body, `{"code":251,"msg":"Invalid parameter"}`)
	wantBody(t, "kick in a missing group", e.robotCall("/robot/group/member/del", `{"group_id":"nope","members":["bob"]}`).body, `{"code":253,"msg":"not exist"}`)
	e.s.SetMemberType("g1", "bot1", MemberManager)
	wantBody(t, "kick the owner", e.robotCall("/robot/group/member/del", `{"group_id":"g1","members":["alice"]}`).body, `{"code":248,"msg":"no right to operate"}`)
	wantBody(t, "mute not a number", e.robotCall("/robot/group/modify", `{"group_id":"g1","type":3,"value":"yes"}`).body, `{"code":4,"msg":"server error"}`)
	wantBody(t, "modify type 9", e.robotCall("/robot/group/modify", `{"group_id":"g1","type":9,"value":"1"}`).body, `{"code":251,"msg":"Invalid parameter"}`)
	wantBody(t, "rename", e.robotCall("/robot/group/modify", `{"group_id":"g1","type":0,"value":"Renamed"}`).body, `{"code":0,"msg":"success"}`)
	wantBody(t, "mute", e.robotCall("/robot/group/modify", `{"group_id":"g1","type":3,"value":"1"}`).body, `{"code":0,"msg":"success"}`)
	wantBody(t, "kick", e.robotCall("/robot/group/member/del", `{"group_id":"g1","members":["bob"]}`).body, `{"code":0,"msg":"success"}`)
	cbs := waitCallbacks(t, e.s, 3)
	wantNotices := []string{`{"g":"g1","o":"bot1","n":"Renamed","m":""}`, `{"g":"g1","o":"bot1","n":"1","m":""}`, `{"g":"g1","o":"bot1","ms":["bob"]}`}
	for i, c := range cbs {
		if _, data := notice(t, c); c.Robot != "bot2" || data != wantNotices[i] {
			t.Errorf("notice %d to %s: %s, want %s", i, c.Robot, data, wantNotices[i])
		}
	}
	g, _ := e.s.GroupInfo("g1")
	if g.Name != "Renamed" || g.Mute != 1 || len(g.Members) != 3 {
		t.Fatalf("group %+v", g)
	}
	// Alias: memberId is required on the wire; "" means the robot itself.
	wantBody(t, "alias", e.robotCall("/robot/group/member/set_alias", `{"group_id":"g1","memberId":"","alias":"Helper"}`).body, `{"code":0,"msg":"success"}`)
	cbs = waitCallbacks(t, e.s, 4)
	if typ, data := notice(t, cbs[3]); typ != 111 || data != `{"g":"g1","o":"bot1","n":"Helper","m":"bot1"}` {
		t.Errorf("alias notice %d %s", typ, data)
	}
	g, _ = e.s.GroupInfo("g1")
	for _, m := range g.Members {
		if m.ID == "bot1" && m.Alias != "Helper" {
			t.Errorf("alias %q", m.Alias)
		}
	}
	// Quit: the robot leaves; a quit is not checked against membership.
	wantBody(t, "quit", e.robotCall("/robot/group/member/quit", `{"group_id":"g1"}`).body, `{"code":0,"msg":"success"}`)
	wantBody(t, "quit again", e.robotCall("/robot/group/member/quit", `{"group_id":"g1"}`).body, `{"code":0,"msg":"success"}`)
	wantBody(t, "quit a missing group", e.robotCall("/robot/group/member/quit", `{"group_id":"nope"}`).body, `{"code":253,"msg":"not exist"}`)
	cbs = waitCallbacks(t, e.s, 6)
	for _, c := range cbs[4:] {
		if typ, data := notice(t, c); typ != 107 || data != `{"g":"g1","o":"bot1","m":""}` {
			t.Errorf("quit notice %d %s", typ, data)
		}
	}
	wantBody(t, "modify after leaving", e.robotCall("/robot/group/modify", `{"group_id":"g1","type":0,"value":"x"}`).body, `{"code":9,"msg":"not in group"}`)
}

func TestRobotGroupReads(t *testing.T) {
	e := newEnv(t, Options{})
	e.world(nil, nil)
	e.s.CreateGroup("g2", "Other", "bob", "alice")
	ms := base.UnixMilli()
	wantBody(t, "get_info", e.robotCall("/robot/group/get_info", `{"groupId":"g1"}`).body,
		`{"code":0,"msg":"success","result":{"target_id":"g1","name":"Group One","portrait":"","owner":"alice","type":2,"extra":"","mute":0,"join_type":0,"private_chat":0,"searchable":0,"max_member_count":0,"history_message":0,"super_group":false}}`)
	// No membership check for get_info.
	if code, _, _ := e.robotCall("/robot/group/get_info", `{"groupId":"g2"}`).env(t); code != 0 {
		t.Errorf("get_info of a group the robot is not in: code %d", code)
	}
	wantBody(t, "get_info missing", e.robotCall("/robot/group/get_info", `{"groupId":"nope"}`).body, `{"code":253,"msg":"not exist"}`)
	member := func(id string, typ int) string {
		return fmt.Sprintf(`{"member_id":%q,"alias":"","type":%d,"extra":"","createDt":%d}`, id, typ, ms)
	}
	wantBody(t, "member/list", e.robotCall("/robot/group/member/list", `{"groupId":"g1"}`).body,
		`{"code":0,"msg":"success","result":{"members":[`+member("alice", 2)+","+member("bob", 0)+","+member("bot1", 0)+","+member("bot2", 0)+`]}}`)
	wantBody(t, "member/list not a member", e.robotCall("/robot/group/member/list", `{"groupId":"g2"}`).body, `{"code":0,"msg":"success","result":{"members":[]}}`)
	wantBody(t, "member/list missing", e.robotCall("/robot/group/member/list", `{"groupId":"nope"}`).body, `{"code":253,"msg":"not exist"}`)
	wantBody(t, "member/get", e.robotCall("/robot/group/member/get", `{"groupId":"g1","memberId":"alice"}`).body, `{"code":0,"msg":"success","result":`+member("alice", 2)+`}`)
	wantBody(t, "member/get not a member", e.robotCall("/robot/group/member/get", `{"groupId":"g2","memberId":"bob"}`).body, `{"code":9,"msg":"not in group"}`)
	wantBody(t, "member/get unknown member", e.robotCall("/robot/group/member/get", `{"groupId":"g1","memberId":"zed"}`).body, `{"code":253,"msg":"not exist"}`)
	wantBody(t, "member/get without memberId", e.robotCall("/robot/group/member/get", `{"groupId":"g1"}`).body, `{"code":251,"msg":"Invalid parameter"}`)
}

func TestRobotProfileAndUserInfo(t *testing.T) {
	e := newEnv(t, Options{})
	e.world(nil, nil)
	ms := base.UnixMilli()
	wantBody(t, "profile", e.robotCall("/robot/profile", "").body, fmt.Sprintf(
		`{"code":0,"msg":"success","result":{"userId":"bot1","name":"Bot One","displayName":"Bot One","portrait":"","gender":0,"mobile":"","email":"","address":"","company":"","social":"","extra":"","updateDt":%d,"owner":"alice","callback":"","robotExtra":""}}`, ms))
	userJSON := fmt.Sprintf(`{"userId":"alice","name":"Alice","displayName":"Alice","portrait":"","gender":0,"mobile":"","email":"","address":"","company":"","social":"","extra":"","type":0,"updateDt":%d}`, ms)
	wantBody(t, "user_info", e.robotCall("/robot/user_info", `{"userId":"alice"}`).body, `{"code":0,"msg":"success","result":`+userJSON+`}`)
	wantBody(t, "user_info by name", e.robotCall("/robot/user_info", `{"name":"Alice"}`).body, `{"code":0,"msg":"success","result":`+userJSON+`}`)
	wantBody(t, "admin user/get_info", e.adminCall("/admin/user/get_info", `{"userId":"alice"}`).body, `{"code":0,"msg":"success","result":`+userJSON+`}`)
	if _, _, res := e.robotCall("/robot/user_info", `{"userId":"bot2"}`).env(t); !bytes.Contains(res, []byte(`"type":1`)) {
		t.Errorf("a robot's type: %s", res)
	}
	wantBody(t, "user_info unknown", e.robotCall("/robot/user_info", `{"userId":"zed"}`).body, `{"code":253,"msg":"not exist"}`)
	wantBody(t, "user_info empty", e.robotCall("/robot/user_info", `{}`).body, `{"code":251,"msg":"Invalid parameter"}`)
}

func TestSetCallbackQuirk(t *testing.T) {
	e := newEnv(t, Options{})
	e.world(nil, nil)
	get := func() string { return string(e.robotCall("/robot/get_callback", "").body) }
	wantBody(t, "initial", []byte(get()), `{"code":0,"msg":"success","result":{"url":""}}`)
	wantBody(t, "set A", e.robotCall("/robot/set_callback", `{"url":"http://a/cb"}`).body, `{"code":0,"msg":"success"}`)
	wantBody(t, "after A", []byte(get()), `{"code":0,"msg":"success","result":{"url":"http://a/cb"}}`)
	// A second change answers success and does nothing.
	wantBody(t, "set B", e.robotCall("/robot/set_callback", `{"url":"http://b/cb"}`).body, `{"code":0,"msg":"success"}`)
	wantBody(t, "after B", []byte(get()), `{"code":0,"msg":"success","result":{"url":"http://a/cb"}}`)
	wantBody(t, "set empty", e.robotCall("/robot/set_callback", `{"url":""}`).body, `{"code":251,"msg":"Invalid parameter"}`)
	wantBody(t, "delete", e.robotCall("/robot/delete_callback", "").body, `{"code":0,"msg":"success"}`)
	wantBody(t, "after delete", []byte(get()), `{"code":0,"msg":"success","result":{"url":""}}`)
	e.robotCall("/robot/set_callback", `{"url":"http://b/cb"}`)
	wantBody(t, "set B after delete", []byte(get()), `{"code":0,"msg":"success","result":{"url":"http://b/cb"}}`)
	if url, state := e.s.RobotCallback("bot1"); url != "http://b/cb" || state != 1 {
		t.Fatalf("callback %q state %d", url, state)
	}
}

func TestAdminDirectoryRoutes(t *testing.T) {
	e := newEnv(t, Options{})
	e.world(nil, nil)
	e.s.CreateGroup("g0", "Zero", "bob", "bot1")
	e.s.AddFriend("bot1", "bob")
	e.s.AddFriend("bot1", "alice")
	wantBody(t, "friend/list", e.adminCall("/admin/friend/list", `{"userId":"bot1"}`).body, `{"code":0,"msg":"success","result":{"list":["bob","alice"]}}`)
	wantBody(t, "friend/list none", e.adminCall("/admin/friend/list", `{"userId":"zed"}`).body, `{"code":0,"msg":"success","result":{"list":[]}}`)
	wantBody(t, "group/of_user", e.adminCall("/admin/group/of_user", `{"userId":"bot1"}`).body, `{"code":0,"msg":"success","result":{"groupIds":["g0","g1"]}}`)
	wantBody(t, "group/of_user empty", e.adminCall("/admin/group/of_user", `{"userId":""}`).body, `{"code":251,"msg":"Invalid parameter"}`)
	wantBody(t, "get_one unknown", e.adminCall("/admin/message/get_one", `{"messageUid":7}`).body, `{"code":253,"msg":"not exist"}`)
	wantBody(t, "get_one zero", e.adminCall("/admin/message/get_one", `{"messageUid":0}`).body, `{"code":251,"msg":"Invalid parameter"}`)
	// robot/create, then the new robot signs with the returned secret.
	code, _, res := e.adminCall("/admin/robot/create", `{"userId":"bot9","name":"Nine","secret":"s9","callback":"http://c/cb"}`).env(t)
	wantBody(t, "robot/create", res, `{"userId":"bot9","secret":"s9"}`)
	if code != 0 {
		t.Fatalf("robot/create: code %d", code)
	}
	r := e.do(e.robot.URL, "/robot/get_callback", e.robotHeaders("bot9", "s9"), "")
	wantBody(t, "new robot", r.body, `{"code":0,"msg":"success","result":{"url":"http://c/cb"}}`)
	code, _, res = e.adminCall("/admin/robot/create", `{"name":"Anon"}`).env(t)
	var created struct{ UserID, Secret string }
	if err := json.Unmarshal(res, &created); code != 0 || err != nil || created.UserID == "" || created.Secret == "" {
		t.Fatalf("robot/create with defaults: code %d %s", code, res)
	}
	// Admin send: any sender, no checks; get_one shows it.
	code, _, res = e.adminCall("/admin/message/send", `{"sender":"alice","conv":{"type":0,"target":"bob","line":0},"payload":{"type":1,"searchableContent":"hey"}}`).env(t)
	var sent struct {
		MessageUID int64 `json:"messageUid"`
	}
	if err := json.Unmarshal(res, &sent); code != 0 || err != nil {
		t.Fatalf("admin send: code %d %s", code, res)
	}
	wantBody(t, "get_one", e.adminCall("/admin/message/get_one", fmt.Sprintf(`{"messageUid":%d}`, sent.MessageUID)).body,
		fmt.Sprintf(`{"code":0,"msg":"success","result":{"messageId":%d,"sender":"alice","conv":{"type":0,"target":"bob","line":0},"payload":%s,"toUsers":[],"timestamp":%d}}`, sent.MessageUID, textJSON(1, "hey"), base.UnixMilli()))
}
