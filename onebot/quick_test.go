package onebot

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

func TestQuickCalls(t *testing.T) {
	const group = `{"post_type":"message","message_type":"group","sub_type":"normal","message_id":42,"group_id":100,"user_id":7,"anonymous":null,"sender":{"user_id":7}}`
	const anon = `{"post_type":"message","message_type":"group","message_id":42,"group_id":100,"user_id":80000000,"anonymous":{"id":1,"name":"x","flag":"f|x"}}`
	const private = `{"post_type":"message","message_type":"private","message_id":3,"user_id":7}`
	const temp = `{"post_type":"message","message_type":"private","sub_type":"group","message_id":3,"user_id":7,"group_id":100}`
	const friendReq = `{"post_type":"request","request_type":"friend","user_id":7,"flag":"f1"}`
	const groupReq = `{"post_type":"request","request_type":"group","sub_type":"invite","group_id":100,"user_id":7,"flag":"g1"}`
	for _, tc := range []struct {
		name, ev, op string
		want         []string
	}{
		{"group reply ats the sender by default", group, `{"reply":"hi"}`,
			[]string{`send_msg {"message_type":"group","group_id":100,"message":"[CQ:at,qq=7] hi","auto_escape":false}`}},
		{"at_sender false", group, `{"reply":"hi","at_sender":false}`,
			[]string{`send_msg {"message_type":"group","group_id":100,"message":"hi","auto_escape":false}`}},
		{"auto_escape keeps the text literal and the at an at", group, `{"reply":"[x]","auto_escape":true}`,
			[]string{`send_msg {"message_type":"group","group_id":100,"message":[{"type":"at","data":{"qq":"7"}},{"type":"text","data":{"text":" "}},{"type":"text","data":{"text":"[x]"}}],"auto_escape":false}`}},
		{"array reply", group, `{"reply":[{"type":"face","data":{"id":"1"}}]}`,
			[]string{`send_msg {"message_type":"group","group_id":100,"message":[{"type":"at","data":{"qq":"7"}},{"type":"text","data":{"text":" "}},{"type":"face","data":{"id":"1"}}],"auto_escape":false}`}},
		{"private reply", private, `{"reply":"hi","auto_escape":"1"}`,
			[]string{`send_msg {"message_type":"private","user_id":7,"message":"hi","auto_escape":true}`}},
		{"temporary session keeps the group", temp, `{"reply":"hi"}`,
			[]string{`send_msg {"message_type":"private","user_id":7,"group_id":100,"message":"hi","auto_escape":false}`}},
		{"delete kick ban", group, `{"delete":true,"kick":true,"reject_add_request":true,"ban":true}`,
			[]string{
				`delete_msg {"message_id":42}`,
				`set_group_kick {"group_id":100,"user_id":7,"reject_add_request":true}`,
				`set_group_ban {"group_id":100,"user_id":7,"duration":1800}`,
			}},
		{"ban duration", group, `{"ban":1,"ban_duration":"60"}`,
			[]string{`set_group_ban {"group_id":100,"user_id":7,"duration":"60"}`}},
		{"anonymous: no at, no kick, anonymous ban", anon, `{"reply":"hi","kick":true,"ban":true}`,
			[]string{
				`send_msg {"message_type":"group","group_id":100,"message":"hi","auto_escape":false}`,
				`set_group_anonymous_ban {"group_id":100,"anonymous_flag":"f|x","duration":1800}`,
			}},
		{"private ignores group operations", private, `{"kick":true,"ban":true,"delete":true}`, nil},
		{"friend request", friendReq, `{"approve":true,"remark":"pal"}`,
			[]string{`set_friend_add_request {"flag":"f1","approve":true,"remark":"pal"}`}},
		{"group invite refused", groupReq, `{"approve":false,"reason":"no"}`,
			[]string{`set_group_add_request {"flag":"g1","sub_type":"invite","type":"invite","approve":false,"reason":"no"}`}},
		{"request without approve", friendReq, `{"remark":"pal"}`, nil},
		{"empty operation", group, `{}`, nil},
		{"notice events take none", `{"post_type":"notice","notice_type":"group_increase"}`, `{"reply":"hi"}`, nil},
	} {
		calls, err := quickCalls([]byte(tc.ev), []byte(tc.op))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []string
		for _, c := range calls {
			if !json.Valid(c.params) {
				t.Errorf("%s: invalid params %s", tc.name, c.params)
			}
			got = append(got, c.action+" "+string(c.params))
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, strings.Join(got, "\n     "), strings.Join(tc.want, "\n     "))
		}
	}
	if _, err := quickCalls([]byte(group), []byte(`[1]`)); err == nil {
		t.Error("an array operation was accepted")
	}
}

// recorder registers actions that record their calls.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (rc *recorder) register(r *Router, actions ...string) {
	for _, a := range actions {
		r.Register(a, func(_ context.Context, req *Request) (any, error) {
			rc.mu.Lock()
			defer rc.mu.Unlock()
			rc.calls = append(rc.calls, req.Action+" "+string(req.Params))
			return map[string]int{"message_id": 9}, nil
		})
	}
}

func (rc *recorder) get() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.calls...)
}

func TestHandleQuickOperationAction(t *testing.T) {
	r := testRouter(t, nil)
	var rc recorder
	rc.register(r, "send_msg")
	resp := r.Handle(context.Background(), ".handle_quick_operation",
		json.RawMessage(`{"context":{"post_type":"message","message_type":"private","user_id":5},"operation":{"reply":"pong"}}`))
	if resp.Status != StatusOK {
		t.Fatalf("%+v", resp)
	}
	if got := rc.get(); len(got) != 1 || got[0] != `send_msg {"message_type":"private","user_id":5,"message":"pong","auto_escape":false}` {
		t.Fatalf("calls = %q", got)
	}
	// A sub-action nobody provides fails the whole operation, as a failure
	// (100) of this action, not a 1404 of it.
	resp = r.Handle(context.Background(), ".handle_quick_operation",
		json.RawMessage(`{"context":{"post_type":"message","message_type":"group","group_id":1,"user_id":5,"message_id":1},"operation":{"delete":true}}`))
	if resp.Retcode != RetcodeFailed || !strings.Contains(resp.Message, "delete_msg: unknown action") {
		t.Fatalf("%+v", resp)
	}
	resp = r.Handle(context.Background(), ".handle_quick_operation", json.RawMessage(`{"context":{}}`))
	if resp.Retcode != RetcodeBadParams || resp.Message != "operation: required" {
		t.Fatalf("%+v", resp)
	}
}
