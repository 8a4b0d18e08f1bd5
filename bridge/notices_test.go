package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// scriptBackend delivers a fixed list of events once online, for the
// core's event building; it cannot send.
type scriptBackend struct{ events []platform.Event }

func (scriptBackend) Name() string { return "script" }
func (scriptBackend) Self(context.Context) (platform.Account, error) {
	return platform.Account{ID: "100", Name: "Self"}, nil
}
func (b scriptBackend) Run(ctx context.Context, sink platform.Sink) error {
	if err := sink.Deliver(ctx, append([]platform.Event{platform.Online{}}, b.events...)); err != nil {
		return nil
	}
	<-ctx.Done()
	return nil
}
func (scriptBackend) Decode(context.Context, platform.Conv, any, func(string) []string) (segment.Message, error) {
	return nil, errors.New("no content")
}
func (scriptBackend) Encode(context.Context, platform.Conv, segment.Message, platform.EncodeEnv) ([]platform.Outgoing, error) {
	return nil, errors.New("cannot send")
}
func (scriptBackend) Send(context.Context, *platform.Outgoing) (platform.Sent, error) {
	return platform.Sent{}, errors.New("cannot send")
}
func (scriptBackend) Recall(context.Context, platform.Conv, []string) error {
	return errors.New("cannot recall")
}

// TestMembershipNoticesAndRequests: the backend's membership events and
// requests become OneBot's group_increase, group_decrease (leave, kick,
// kick_me), group_ban (ban, lift_ban, whole group) and request events,
// with OneBot ids, in order.
func TestMembershipNoticesAndRequests(t *testing.T) {
	at := time.Unix(1700000000, 0)
	events := []platform.Event{
		platform.MemberJoined{GroupID: "200", UserID: "101", Operator: "102", Invited: true, Time: at},
		platform.MemberLeft{GroupID: "200", UserID: "101", Time: at},
		platform.MemberLeft{GroupID: "200", UserID: "101", Operator: "102", Time: at},
		platform.MemberLeft{GroupID: "200", UserID: "100", Operator: "102", Time: at},
		platform.MemberMuted{GroupID: "200", UserID: "101", Operator: "102", Duration: 10 * time.Minute, Time: at},
		platform.MemberMuted{GroupID: "200", Operator: "102", Time: at},
		platform.Request{Kind: platform.FriendRequest, Flag: "f-1", UserID: "103", Comment: "hi", Time: at},
		platform.Request{Kind: platform.GroupJoinRequest, Flag: "g-1", UserID: "103", GroupID: "200", Time: at},
	}
	want := []string{
		`"notice_type":"group_increase","sub_type":"invite","group_id":200,"operator_id":102,"user_id":101`,
		`"notice_type":"group_decrease","sub_type":"leave","group_id":200,"operator_id":101,"user_id":101`,
		`"notice_type":"group_decrease","sub_type":"kick","group_id":200,"operator_id":102,"user_id":101`,
		`"notice_type":"group_decrease","sub_type":"kick_me","group_id":200,"operator_id":102,"user_id":100`,
		`"notice_type":"group_ban","sub_type":"ban","group_id":200,"operator_id":102,"user_id":101,"duration":600`,
		`"notice_type":"group_ban","sub_type":"lift_ban","group_id":200,"operator_id":102,"user_id":0,"duration":0`,
		`"post_type":"request","request_type":"friend","user_id":103,"comment":"hi","flag":"f-1"`,
		`"post_type":"request","request_type":"group","sub_type":"add","group_id":200,"user_id":103,"comment":"","flag":"g-1"`,
	}

	st, err := store.Open(store.Options{Path: filepath.Join(t.TempDir(), "n.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hub := onebot.NewHub(onebot.HubOptions{})
	router := onebot.NewRouter(onebot.RouterOptions{})
	b, err := bridge.New(bridge.Options{Backend: scriptBackend{events}, Store: st, Hub: hub, Router: router, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ws := onebot.NewWSServer(onebot.WSOptions{Router: router, Hub: hub})
	srv := httptest.NewServer(ws)
	defer srv.Close()
	defer ws.Close()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The lifecycle event says the connection receives events; what is
	// published before it would not reach this client.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, _, err := conn.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var got []string
	for len(got) < len(want) {
		_, raw, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("after %d events: %v", len(got), err)
		}
		var head struct {
			PostType string `json:"post_type"`
		}
		_ = json.Unmarshal(raw, &head)
		if head.PostType == "notice" || head.PostType == "request" {
			got = append(got, string(raw))
		}
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) || !strings.Contains(got[i], `"time":1700000000`) {
			t.Errorf("event %d = %s\nwant it to contain %s", i, got[i], w)
		}
	}
}
