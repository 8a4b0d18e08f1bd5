package bridge

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	yunhubackend "github.com/yunhu-onebot/yunhu-onebot/backend/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// feedPlatform is a Yunhu client whose push socket delivers prepared
// pushes as fast as the backend takes them; the calls ingest makes on the
// side answer from memory. Everything else is unimplemented (the embedded
// nil interface panics), which a benchmark of ingest never reaches. The
// pushes go through the real Yunhu backend, so the benchmark measures the
// whole path from the socket reader to the OneBot client.
type feedPlatform struct {
	yunhubackend.Platform
	pushes []yunhu.Push
}

func (f *feedPlatform) Self(context.Context) (*yunhu.Self, error) {
	return &yunhu.Self{ID: "1000001", Name: "Self"}, nil
}

func (f *feedPlatform) Run(ctx context.Context, onPush func(yunhu.Push)) error {
	onPush(yunhu.Connected{})
	for _, p := range f.pushes {
		onPush(p)
	}
	<-ctx.Done()
	return ctx.Err()
}

func (f *feedPlatform) AllMembers(context.Context, string) ([]yunhu.Member, error) {
	return []yunhu.Member{{UserID: "1000002", Name: "Alice", PermissionLevel: yunhu.PermissionAdmin}}, nil
}

func (f *feedPlatform) FriendRequests(context.Context) ([]yunhu.FriendRequest, int, error) {
	return nil, 0, nil
}

// BenchmarkIngest measures pushes → durable ids → events on a forward
// WebSocket client, alternating group and private text messages with a
// mention. Each op is one message; events/s is the figure issue 7 asks of
// the pipeline (≥ 20,000 with durable ids).
func BenchmarkIngest(b *testing.B) {
	now := time.Now()
	pushes := make([]yunhu.Push, b.N)
	for i := range pushes {
		m := yunhu.Message{
			ID: fmt.Sprintf("%032x", i+1), Seq: int64(i + 1), Time: now,
			Sender:      yunhu.Sender{ID: "1000002", Type: yunhu.ChatTypeUser, Name: "Alice"},
			ContentType: yunhu.ContentText,
			Content:     yunhu.Content{Text: fmt.Sprintf("@Self hello %d", i), Mentions: []string{"1000001"}},
		}
		if i%2 == 0 {
			m.Chat = yunhu.Chat{ID: "100000001", Type: yunhu.ChatTypeGroup}
			m.RecvID = "1000001"
		} else {
			m.Chat = yunhu.Chat{ID: "1000001", Type: yunhu.ChatTypeUser}
			m.RecvID = "1000001"
		}
		pushes[i] = yunhu.MessagePush{Message: m}
	}
	benchIngest(b, pushes)
}

// BenchmarkIngestNewChats is BenchmarkIngest with every message in a new
// group with a non-numeric id, from a new sender with a non-numeric id:
// each needs two aliases, and each group a member list.
func BenchmarkIngestNewChats(b *testing.B) {
	now := time.Now()
	pushes := make([]yunhu.Push, b.N)
	for i := range pushes {
		pushes[i] = yunhu.MessagePush{Message: yunhu.Message{
			ID: fmt.Sprintf("%032x", i+1), Seq: 1, Time: now,
			Chat:        yunhu.Chat{ID: fmt.Sprintf("grp-%d", i), Type: yunhu.ChatTypeGroup},
			RecvID:      "1000001",
			Sender:      yunhu.Sender{ID: fmt.Sprintf("usr-%d", i), Type: yunhu.ChatTypeUser, Name: "User"},
			ContentType: yunhu.ContentText,
			Content:     yunhu.Content{Text: fmt.Sprintf("hello %d", i)},
		}}
	}
	benchIngest(b, pushes)
}

// benchIngest runs a bridge over pushes and reads their events on a
// forward WebSocket, one op per message event.
func benchIngest(b *testing.B, pushes []yunhu.Push) {
	st, err := store.Open(store.Options{Path: filepath.Join(b.TempDir(), "bench.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	hub := onebot.NewHub(onebot.HubOptions{})
	router := onebot.NewRouter(onebot.RouterOptions{})
	backend, err := yunhubackend.New(yunhubackend.Options{Client: &feedPlatform{pushes: pushes}, KV: NewBackendState(st)})
	if err != nil {
		b.Fatal(err)
	}
	br, err := New(Options{Backend: backend, Store: st, Hub: hub, Router: router, PostFormat: "array"})
	if err != nil {
		b.Fatal(err)
	}
	ws := onebot.NewWSServer(onebot.WSOptions{Router: router, Hub: hub, Conn: onebot.ConnOptions{QueueSize: 1 << 20, PingInterval: -1}})
	srv := httptest.NewServer(ws)
	defer srv.Close()
	defer ws.Close()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if _, _, err := conn.ReadMessage(); err != nil { // lifecycle
		b.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.ResetTimer()
	start := time.Now()
	go func() { done <- br.Run(ctx) }()
	for n := 0; n < b.N; {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if strings.Contains(string(msg), `"post_type":"message"`) {
			n++
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
