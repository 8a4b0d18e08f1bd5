package yunhu_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"

	yunhubackend "github.com/yunhu-onebot/yunhu-onebot/backend/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/conformance"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// TestConformance runs the backend conformance kit over the simulator:
// the same suite every backend passes, through the daemon's own wiring.
func TestConformance(t *testing.T) { conformance.Run(t, simHarness{}) }

// simHarness is the kit's view of a simulated Yunhu: the account is
// sim.SelfID, its peer Alice (a friend) and its group one it owns.
type simHarness struct{}

func (simHarness) Capabilities() conformance.Capabilities {
	return conformance.Capabilities{History: true, Directory: true, GroupAdmin: true, Requests: true, Friends: true, Editor: true, Reader: true}
}

func (simHarness) NewWorld(t *testing.T) conformance.World {
	sm := sim.New(sim.Options{Log: zap.NewNop()})
	srv := httptest.NewServer(sm.Handler())
	w := &simWorld{sim: sm, urls: sim.Endpoints(srv.URL)}
	t.Cleanup(func() {
		for _, c := range w.clients {
			c.Close()
		}
		sm.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	return w
}

type simWorld struct {
	sim     *sim.Server
	urls    sim.URLs
	clients []*yunhu.Client
}

func (w *simWorld) Backend(db *store.Store, log *zap.Logger) (platform.Backend, error) {
	c := yunhu.New(yunhu.Options{
		APIURL: w.urls.API, WSURL: w.urls.WS, UploadURL: w.urls.Upload,
		Token: sim.DefaultToken, Platform: "windows", DeviceID: "conformance",
		Timeout: 10 * time.Second, MaxUploadSize: 30 << 20, Log: log.Named("yunhu"),
		Backoff: func(int) time.Duration { return 5 * time.Millisecond },
	})
	w.clients = append(w.clients, c)
	return yunhubackend.New(yunhubackend.Options{Client: c, KV: bridge.NewBackendState(db), Log: log.Named("yunhu"), PostFormat: "array"})
}

func (w *simWorld) Account() string { return sim.SelfID }
func (w *simWorld) Peer() string    { return sim.AliceID }
func (w *simWorld) Group() string   { return sim.GroupOwnedID }

// chatOf is the simulator's chat of a conversation as the account
// addresses it.
func chatOf(conv platform.Conv) (string, int32) {
	if conv.Kind == platform.KindGroup {
		return conv.ID, yunhu.ChatTypeGroup
	}
	return conv.ID, yunhu.ChatTypeUser
}

func (w *simWorld) Say(_ context.Context, conv platform.Conv, text string) (string, error) {
	chatID, typ := chatOf(conv)
	if typ == yunhu.ChatTypeUser {
		chatID = sim.SelfID // the peer addresses the account
	}
	rec, err := w.sim.Inject(sim.Message{From: sim.AliceID, ChatID: chatID, ChatType: typ, Text: text})
	return rec.MsgID, err
}

func (w *simWorld) Recall(_ context.Context, _ platform.Conv, msgID string) error {
	return w.sim.Recall(sim.AliceID, msgID)
}

func (w *simWorld) Messages(_ context.Context, conv platform.Conv) ([]conformance.Held, error) {
	chatID, typ := chatOf(conv)
	var out []conformance.Held
	for _, r := range w.sim.History(sim.SelfID, chatID, typ) {
		out = append(out, conformance.Held{ID: r.MsgID, SenderID: r.SenderID, Text: r.Content.GetText(), QuoteID: r.QuoteMsgID, Recalled: r.RecallTime != 0})
	}
	return out, nil
}

func (w *simWorld) Drop(context.Context) error { w.sim.DropAll(); return nil }

// Hold refuses the push socket's reconnects until released.

func (w *simWorld) Hold(context.Context) (func(), error) {
	w.sim.FailNext(1<<30, 503, sim.PathWS)
	w.sim.DropAll()
	return w.sim.ClearFaults, nil
}

// FailSends makes Yunhu refuse the next n sends; LoseSendAnswers makes it
// send them and fail the answer.
func (w *simWorld) FailSends(n int) { w.sim.FailNext(n, 400, yunhu.PathSendMessage) }

func (w *simWorld) LoseSendAnswers(n int) { w.sim.FailNextAfterCommit(n, 500, yunhu.PathSendMessage) }
