package wildfire

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	wf "github.com/yunhu-onebot/yunhu-onebot/wildfire"
)

func TestSendReturnsTheServersUIDExactly(t *testing.T) {
	c := newClient()
	b := newBackend(t, c, nil)
	outs, err := b.Encode(context.Background(), platform.Conv{Kind: platform.KindPrivate, ID: alice}, segment.Message{segment.Text("hi")}, platform.EncodeEnv{})
	if err != nil {
		t.Fatal(err)
	}
	sent, err := b.Send(context.Background(), &outs[0])
	if err != nil {
		t.Fatal(err)
	}
	if sent.ID != "9007199254740993" || !sent.Time.Equal(time.UnixMilli(1796196800123)) {
		t.Errorf("Sent = %+v, want uid 9007199254740993 exactly and the server's time", sent)
	}
	if len(c.sent) != 1 || c.sent[0].Conv != (wf.Conversation{Type: convPrivate, Target: alice}) || c.sent[0].Payload.SearchableContent != "hi" {
		t.Errorf("sent = %+v", c.sent)
	}
	if _, err := b.Send(context.Background(), &platform.Outgoing{Payload: "junk"}); err == nil {
		t.Error("Send accepted a payload it did not encode")
	}
}

func TestSendErrors(t *testing.T) {
	for _, c := range []struct {
		name     string
		err      error
		definite bool
		notFound bool
		says     string
	}{
		{"no right", &wf.APIError{Code: 248, Msg: "No right", Path: "/robot/message/send"}, true, false, "not a member"},
		{"rate", &wf.APIError{Code: 250, Msg: "Over frequency", Path: "/robot/message/send"}, true, false, "1000 calls per 10 s"},
		{"not exist", &wf.APIError{Code: 253, Msg: "Not exist", Path: "/robot/message/send"}, true, true, "253"},
		{"transport", errors.New("connection reset"), false, false, "connection reset"},
	} {
		fc := newClient()
		fc.errs["Send"] = c.err
		b := newBackend(t, fc, nil)
		outs, _ := b.Encode(context.Background(), platform.Conv{Kind: platform.KindGroup, ID: g1}, segment.Message{segment.Text("x")}, platform.EncodeEnv{})
		_, err := b.Send(context.Background(), &outs[0])
		if err == nil || isDefinite(err) != c.definite || errors.Is(err, platform.ErrNotFound) != c.notFound || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v (definite %v, not found %v)", c.name, err, isDefinite(err), errors.Is(err, platform.ErrNotFound))
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%s: %v does not wrap the client's error", c.name, err)
		}
	}
}

func TestRecall(t *testing.T) {
	c := newClient()
	b := newBackend(t, c, nil)
	conv := platform.Conv{Kind: platform.KindGroup, ID: g1}
	err := b.Recall(context.Background(), conv, []string{"5"})
	var ue *platform.UnsupportedError
	if !errors.As(err, &ue) || !strings.Contains(ue.Why, "wildfire.admin-secret") {
		t.Errorf("without admin: %v, want unsupported naming wildfire.admin-secret", err)
	}
	if why := b.Unsupported()["delete_msg"]; !strings.Contains(why, "wildfire.admin-secret") {
		t.Errorf("Unsupported delete_msg = %q", why)
	}

	c.admin = true
	if err := b.Recall(context.Background(), conv, []string{"9007199254740993", "6"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.recalls, ","); got != "9007199254740993,6" {
		t.Errorf("recalled %s", got)
	}
	if calls := c.callList(); calls[len(calls)-2] != "Recall robot1 9007199254740993" {
		t.Errorf("calls = %q, want the robot as operator", calls)
	}
	if _, listed := b.Unsupported()["delete_msg"]; listed {
		t.Error("delete_msg listed unsupported with the admin API configured")
	}
	c.errs["Recall"] = &wf.APIError{Code: 24, Msg: "Recall time expired", Path: "/admin/message/recall"}
	if err := b.Recall(context.Background(), conv, []string{"7"}); !isDefinite(err) || !errors.Is(err, wf.ErrRecallExpired) {
		t.Errorf("expired: %v", err)
	}
	var bp *platform.BadParamError
	if err := b.Recall(context.Background(), conv, []string{"abc"}); !errors.As(err, &bp) {
		t.Errorf("bad id: %v", err)
	}
}

func TestUnsupportedReasons(t *testing.T) {
	b := newBackend(t, newClient(), nil)
	u := b.Unsupported()
	for action, says := range map[string]string{
		"set_friend_add_request":  "community edition",
		"set_group_add_request":   "community edition",
		"edit_msg":                "community edition",
		"send_like":               "likes",
		"set_group_special_title": "titles",
	} {
		if !strings.Contains(u[action], says) {
			t.Errorf("%s: %q, want it to say %q", action, u[action], says)
		}
	}
	for _, action := range []string{"set_group_ban", "set_group_kick", "send_msg", "get_msg", "set_group_whole_ban"} {
		if _, ok := u[action]; ok {
			t.Errorf("%s listed unsupported", action)
		}
	}
}
