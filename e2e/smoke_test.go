package e2e

import (
	"context"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// TestPipeline checks the scaffolding itself: an injected message reaches
// a forward-WS client as an event, and send_group_msg works over HTTP and
// WebSocket.
func TestPipeline(t *testing.T) {
	s := Start(t, Options{})
	events := make(chan []byte, 16)
	c, err := DialWS(s.WSURL, func(raw []byte) {
		if IsMessageEvent(raw) {
			events <- raw
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "hello"})
	ev := Receive(t, "the message event", events)
	if got := gjson.GetBytes(ev, "raw_message").Str; got != "hello" {
		t.Fatalf("event %s", ev)
	}
	r := s.MustHTTP("send_group_msg", `{"group_id":`+sim.GroupOwnedID+`,"message":"hi"}`)
	if gjson.GetBytes(r.Data, "message_id").Int() <= 0 {
		t.Fatalf("send_group_msg data %s", r.Data)
	}
	raw, err := c.Call(context.Background(), "send_group_msg", []byte(`{"group_id":`+sim.GroupOwnedID+`,"message":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	if gjson.GetBytes(raw, "retcode").Int() != 0 {
		t.Fatalf("over WS: %s", raw)
	}
}
