package wukongim_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"

	wkbackend "github.com/yunhu-onebot/yunhu-onebot/backend/wukongim"
	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/conformance"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	wk "github.com/yunhu-onebot/yunhu-onebot/wukongim"
	"github.com/yunhu-onebot/yunhu-onebot/wukongim/sim"
)

// TestConformance runs the backend conformance kit over the simulator:
// the same suite every backend passes, through the daemon's own wiring.
func TestConformance(t *testing.T) { conformance.Run(t, simHarness{}) }

// The simulated world: the bot, its peer Alice and a group of both.
const (
	botUID   = "bot1"
	botToken = "bot1tok"
	peerUID  = "alice"
	groupID  = "g1"
)

type simHarness struct{}

func (simHarness) Capabilities() conformance.Capabilities {
	return conformance.Capabilities{History: true, Directory: true, GroupAdmin: true}
}

func (simHarness) NewWorld(t *testing.T) conformance.World {
	s := sim.New(sim.Options{Log: zap.NewNop()})
	api := httptest.NewServer(s.Handler())
	ws := httptest.NewServer(s.WSHandler())
	t.Cleanup(func() {
		s.Close()
		api.CloseClientConnections()
		ws.CloseClientConnections()
		api.Close()
		ws.Close()
	})
	s.RegisterToken(botUID, botToken, 2, 1)
	s.RegisterToken(peerUID, "alicetok", 0, 1)
	s.CreateGroup(groupID, botUID, peerUID)
	return &simWorld{sim: s, urls: sim.Endpoints(api.URL, ws.URL)}
}

type simWorld struct {
	sim  *sim.Server
	urls sim.URLs
}

func (w *simWorld) Backend(db *store.Store, log *zap.Logger) (platform.Backend, error) {
	conn := wk.NewConn(wk.ConnOptions{
		URL: w.urls.WS, UID: botUID, Token: botToken, DeviceFlag: 2, DeviceID: "conformance",
		PingInterval: time.Second, ConnectTimeout: 2 * time.Second,
		Backoff: func(int) time.Duration { return 10 * time.Millisecond },
		Log:     log.Named("wukongim"),
	})
	return wkbackend.New(wkbackend.Options{
		API:      wk.NewHTTP(wk.HTTPOptions{BaseURL: w.urls.API, Timeout: 5 * time.Second, Log: log.Named("wukongim")}),
		Receiver: conn,
		Self:     botUID,
		Name:     "Bot",
		KV:       bridge.NewBackendState(db),
		Log:      log.Named("backend"),
	})
}

func (w *simWorld) Account() string { return botUID }
func (w *simWorld) Peer() string    { return peerUID }
func (w *simWorld) Group() string   { return groupID }

// channel is the channel the peer addresses for conv: the group, or the
// bot for their private chat.
func channel(conv platform.Conv) (string, uint8) {
	if conv.Kind == platform.KindGroup {
		return conv.ID, wk.ChannelGroup
	}
	return botUID, wk.ChannelPerson
}

func (w *simWorld) Say(_ context.Context, conv platform.Conv, text string) (string, error) {
	id, typ := channel(conv)
	payload, _ := json.Marshal(map[string]any{"type": 1, "content": text})
	m := w.sim.Say(peerUID, id, typ, "", payload)
	return strconv.FormatInt(m.ID, 10), nil
}

// Recall is the SDKs' convention: a messageRevoke command from the author.
func (w *simWorld) Recall(_ context.Context, conv platform.Conv, msgID string) error {
	id, typ := channel(conv)
	param, _ := json.Marshal(map[string]any{"message_id": msgID, "channel_id": id, "channel_type": typ})
	payload, _ := json.Marshal(map[string]any{"type": 99, "cmd": "messageRevoke", "param": json.RawMessage(param)})
	w.sim.Say(peerUID, id, typ, "", payload)
	return nil
}

// Messages lists the channel as the bot reads it, with the recall
// commands applied to the messages they name and left out themselves.
func (w *simWorld) Messages(_ context.Context, conv platform.Conv) ([]conformance.Held, error) {
	id, typ := conv.ID, uint8(wk.ChannelGroup)
	if conv.Kind == platform.KindPrivate {
		typ = wk.ChannelPerson
	}
	var out []conformance.Held
	index := map[string]int{}
	for _, m := range w.sim.Messages(botUID, id, typ) {
		var p struct {
			Type    int    `json:"type"`
			Content string `json:"content"`
			Cmd     string `json:"cmd"`
			Param   struct {
				MessageID json.Number `json:"message_id"`
			} `json:"param"`
			Reply *struct {
				MessageID json.Number `json:"message_id"`
			} `json:"reply"`
		}
		_ = json.Unmarshal(m.Payload, &p)
		if p.Type == 99 {
			if i, ok := index[p.Param.MessageID.String()]; ok && p.Cmd == "messageRevoke" {
				out[i].Recalled = true
			}
			continue
		}
		h := conformance.Held{ID: strconv.FormatInt(m.ID, 10), SenderID: m.FromUID, Text: p.Content}
		if p.Reply != nil {
			h.QuoteID = p.Reply.MessageID.String()
		}
		index[h.ID] = len(out)
		out = append(out, h)
	}
	return out, nil
}

func (w *simWorld) Drop(context.Context) error { w.sim.DropAll(); return nil }

// Hold refuses connects (silently, as a wrong token is) until released.
func (w *simWorld) Hold(context.Context) (func(), error) {
	release := w.sim.HoldConnects()
	w.sim.DropAll()
	return release, nil
}

// FailSends makes the server refuse the bot's next n sends as it refuses
// a blacklisted member's (reasonCode 4); LoseSendAnswers makes it store
// and push them but drop the connection instead of answering.
func (w *simWorld) FailSends(n int)       { w.sim.RefuseSends(botUID, n, 4) }
func (w *simWorld) LoseSendAnswers(n int) { w.sim.LoseSendAnswers(botUID, n) }
