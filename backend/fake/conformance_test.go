package fake_test

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/backend/fake"
	"github.com/yunhu-onebot/yunhu-onebot/conformance"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// TestConformance runs the backend conformance kit against the fake,
// once with the server answering a send before its echo arrives (the
// usual order), once after (the core must then match the echo to the
// pending send by its token), and once with the kit's drops losing the
// next acknowledgement (the core gets again what it already stored and
// reported).
func TestConformance(t *testing.T) {
	t.Run("answer_first", func(t *testing.T) { conformance.Run(t, harness{}) })
	t.Run("echo_first", func(t *testing.T) { conformance.Run(t, harness{echoFirst: true}) })
	t.Run("ack_lost", func(t *testing.T) { conformance.Run(t, harness{ackLost: true}) })
}

// The world every test starts from. The user ids are not numbers, so the
// core's aliases are exercised; the group's is.
const (
	account = "kit-bot"
	peer    = "alice"
	groupID = "100200"
)

// harness is the fake's conformance.Harness.
type harness struct {
	echoFirst bool // fake.Options.AnswerAfterEcho
	ackLost   bool // Drop drops at the next ack (Server.DropAtAck)
}

func (harness) Capabilities() conformance.Capabilities {
	return conformance.Capabilities{History: true, Directory: true, GroupAdmin: true}
}

func (h harness) NewWorld(t *testing.T) conformance.World {
	return &world{srv: newWorld(t, fake.Options{AnswerAfterEcho: h.echoFirst}), ackLost: h.ackLost}
}

// newWorld is a server with the account, the peer (its friend) and a
// group the account owns and the peer is in.
func newWorld(t testing.TB, opts fake.Options) *fake.Server {
	t.Helper()
	srv := fake.NewServer(opts)
	t.Cleanup(srv.Close)
	for _, err := range []error{
		srv.AddUser(fake.User{ID: account, Name: "Kit Bot", Bot: true}),
		srv.AddUser(fake.User{ID: peer, Name: "Alice"}),
		srv.Befriend(account, peer),
		srv.AddGroup(groupID, "Kit Group", account),
		srv.Join(groupID, peer, platform.RoleMember),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return srv
}

// world is the fake's conformance.World.
type world struct {
	srv     *fake.Server
	ackLost bool
}

func (w *world) Backend(_ *store.Store, log *zap.Logger) (platform.Backend, error) {
	return fake.NewBackend(fake.BackendOptions{Server: w.srv, Account: account, Log: log}), nil
}

func (w *world) Account() string { return account }
func (w *world) Peer() string    { return peer }
func (w *world) Group() string   { return groupID }

// asPeer is conv (as the account addresses it) as the peer addresses it.
func asPeer(conv platform.Conv) platform.Conv {
	if conv.Kind == platform.KindPrivate {
		return platform.Conv{Kind: platform.KindPrivate, ID: account}
	}
	return conv
}

func (w *world) Say(_ context.Context, conv platform.Conv, text string) (string, error) {
	return w.srv.Say(asPeer(conv), peer, text)
}

func (w *world) Recall(_ context.Context, _ platform.Conv, msgID string) error {
	return w.srv.Recall(peer, msgID)
}

func (w *world) Messages(_ context.Context, conv platform.Conv) ([]conformance.Held, error) {
	var out []conformance.Held
	for _, m := range w.srv.Messages(account, conv) {
		var text strings.Builder
		for _, p := range m.Content {
			text.WriteString(p.Text)
		}
		out = append(out, conformance.Held{
			ID: m.ID, SenderID: m.From, Text: text.String(), QuoteID: m.QuoteID, Recalled: m.Recalled,
		})
	}
	return out, nil
}

func (w *world) Drop(context.Context) error {
	if w.ackLost {
		w.srv.DropAtAck(account)
	} else {
		w.srv.Drop()
	}
	return nil
}

func (w *world) Hold(context.Context) (func(), error) { return w.srv.Hold(), nil }

func (w *world) FailSends(n int) { w.srv.Fail(account, n, true) }

func (w *world) LoseSendAnswers(n int) { w.srv.Fail(account, n, false) }
