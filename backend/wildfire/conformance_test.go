package wildfire_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	wfbackend "github.com/yunhu-onebot/yunhu-onebot/backend/wildfire"
	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/conformance"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	wf "github.com/yunhu-onebot/yunhu-onebot/wildfire"
	"github.com/yunhu-onebot/yunhu-onebot/wildfire/sim"
)

// TestConformance runs the backend conformance kit over the simulator:
// the same suite every backend passes, through the daemon's own wiring.
func TestConformance(t *testing.T) { conformance.Run(t, simHarness{}) }

// The simulated world: the robot, its peer Alice and a group of both.
const (
	robotID     = "robot1"
	robotSecret = "robot-secret"
	peerID      = "alice"
	groupID     = "g1"
	pathSecret  = "conformance-path-secret"
)

type simHarness struct{}

func (simHarness) Capabilities() conformance.Capabilities {
	return conformance.Capabilities{Directory: true, GroupAdmin: true}
}

// NewWorld serves the simulator's robot and admin APIs, and the current
// backend's callback handler on a listener of the world's own, whose URL
// the simulated server posts to: the address is known before any daemon
// runs, and stays the same across a restart.
func (simHarness) NewWorld(t *testing.T) conformance.World {
	s := sim.New(sim.Options{Log: zap.NewNop(), NoCheckTime: true})
	w := &simWorld{sim: s}
	robot := httptest.NewServer(w.loseAnswers(s.RobotHandler()))
	admin := httptest.NewServer(s.AdminHandler())
	callback := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		h := w.handler.Load()
		if h == nil {
			http.Error(rw, "no daemon", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(rw, r)
	}))
	t.Cleanup(func() {
		s.Close()
		for _, srv := range []*httptest.Server{robot, admin, callback} {
			srv.CloseClientConnections()
			srv.Close()
		}
	})
	w.robotURL, w.adminURL = robot.URL, admin.URL
	s.AddUser(peerID, "Alice")
	s.AddRobot(robotID, "Robot", robotSecret, peerID)
	s.AddFriend(peerID, robotID)
	s.AddFriend(robotID, peerID)
	s.CreateGroup(groupID, "Group", peerID, peerID, robotID)
	s.SetRobotCallback(robotID, callback.URL+"/"+pathSecret+"/message")
	return w
}

type simWorld struct {
	sim                *sim.Server
	robotURL, adminURL string
	handler            atomic.Pointer[http.Handler] // the running daemon's callback handler

	mu   sync.Mutex
	lose int // sends whose answer is lost
}

// listenerless is the backend with its callback handler served by the
// world instead of the daemon's own listener.
type listenerless struct{ *wfbackend.Backend }

func (listenerless) CallbackAddress() string { return "" }

func (w *simWorld) Backend(db *store.Store, log *zap.Logger) (platform.Backend, error) {
	client := wf.New(wf.Options{
		RobotURL: w.robotURL, RobotID: robotID, RobotSecret: robotSecret,
		AdminURL: w.adminURL, AdminSecret: sim.DefaultAdminSecret,
		Timeout: 5 * time.Second, Log: log.Named("wildfire"),
	})
	b, err := wfbackend.New(wfbackend.Options{
		Client: client, Robot: robotID, Name: "Robot", KV: bridge.NewBackendState(db),
		CallbackAddress: "127.0.0.1:0", CallbackPathSecret: pathSecret, Log: log.Named("backend"),
	})
	if err != nil {
		return nil, err
	}
	h := b.Handler()
	w.handler.Store(&h)
	return listenerless{b}, nil
}

func (w *simWorld) Account() string { return robotID }
func (w *simWorld) Peer() string    { return peerID }
func (w *simWorld) Group() string   { return groupID }

// conv is the conversation the peer addresses for c: the group, or the
// robot for their private chat.
func conv(c platform.Conv) sim.Conversation {
	if c.Kind == platform.KindGroup {
		return sim.Conversation{Type: 1, Target: c.ID}
	}
	return sim.Conversation{Type: 0, Target: robotID}
}

func (w *simWorld) Say(_ context.Context, c platform.Conv, text string) (string, error) {
	m, err := w.sim.Say(peerID, conv(c), sim.Payload{Type: 1, SearchableContent: text})
	return strconv.FormatInt(m.ID, 10), err
}

func (w *simWorld) Recall(_ context.Context, _ platform.Conv, msgID string) error {
	uid, err := strconv.ParseInt(msgID, 10, 64)
	if err != nil {
		return err
	}
	_, err = w.sim.Recall(peerID, uid)
	return err
}

// Messages lists the conversation as the server holds it, the robot's
// private chat with the peer included whichever side sent.
func (w *simWorld) Messages(_ context.Context, c platform.Conv) ([]conformance.Held, error) {
	msgs := w.sim.Messages(sim.Conversation{Type: 1, Target: c.ID})
	if c.Kind == platform.KindPrivate {
		msgs = w.sim.Messages(sim.Conversation{Type: 0, Target: c.ID}) // to or from the peer
	}
	out := make([]conformance.Held, 0, len(msgs))
	for _, m := range msgs {
		if c.Kind == platform.KindPrivate && !(m.Sender == c.ID && m.Conv.Target == robotID || m.Sender == robotID && m.Conv.Target == c.ID) {
			continue
		}
		h := conformance.Held{ID: strconv.FormatInt(m.ID, 10), SenderID: m.Sender, Text: m.Payload.SearchableContent}
		if m.Payload.Type == 80 {
			// A recalled message keeps its content in extra (§B.5.1).
			var was struct {
				SC string `json:"sc"`
			}
			_ = json.Unmarshal([]byte(m.Payload.Extra), &was)
			h.Text, h.Recalled = was.SC, true
		}
		// A quote is the SDKs' {"quote":{"u":uid,…}} in base64edData.
		if raw, err := base64.StdEncoding.DecodeString(m.Payload.Base64edData); err == nil && len(raw) > 0 {
			var q struct {
				Quote struct {
					U json.Number `json:"u"`
				} `json:"quote"`
			}
			if json.Unmarshal(raw, &q) == nil {
				h.QuoteID = q.Quote.U.String()
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// Drop and Hold: the server calls the daemon; there is no connection to
// drop, and the kit asks for them only of backends with History.
func (w *simWorld) Drop(context.Context) error           { return nil }
func (w *simWorld) Hold(context.Context) (func(), error) { return func() {}, nil }
func (w *simWorld) FailSends(n int)                      { w.sim.FailNext(n, "/robot/message/send", 251) }
func (w *simWorld) LoseSendAnswers(n int)                { w.mu.Lock(); w.lose += n; w.mu.Unlock() }

// loseAnswers lets the server take a send whose answer then never comes:
// the connection closes instead.
func (w *simWorld) loseAnswers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		lose := r.URL.Path == "/robot/message/send" && w.lose > 0
		if lose {
			w.lose--
		}
		w.mu.Unlock()
		if !lose {
			h.ServeHTTP(rw, r)
			return
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if c, _, err := http.NewResponseController(rw).Hijack(); err == nil {
			c.Close()
		}
	})
}
