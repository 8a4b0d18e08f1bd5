// Package conformance is the backend conformance kit: one test suite,
// written against the platform contract (package platform) and the
// OneBot surface, that every backend with a simulator runs. A backend's
// test provides a Harness (a fresh simulated platform per subtest and the
// controls the suite needs, in neutral terms) and calls Run:
//
//	func TestConformance(t *testing.T) { conformance.Run(t, harness{}) }
//
// Run builds the real daemon around the backend, with the daemon's own
// wiring (package app, through app.Options.Backend) and default
// configuration, and talks OneBot to it over real HTTP and a real forward
// WebSocket on 127.0.0.1, as a bot framework would. Its subtests, each
// with its own world and daemon:
//
//   - peer_message: a peer's message becomes exactly one message event,
//     with the same user_id and group_id numbers in every event and in
//     get_msg, which answers the same body.
//   - send_private_msg, send_group_msg, reply, send_image: a send lands
//     on the platform once, from the account (quoting what a reply
//     quotes), is not reported back, and get_msg answers it by the
//     message_id the send returned.
//   - delete_msg: the message is recalled on the platform.
//   - peer_recall: a peer's recall becomes group_recall or friend_recall
//     naming the message_id its message event had.
//   - send_failure: a send the platform refuses answers a failure and
//     leaves nothing that get_msg or history reads back.
//   - send_answer_lost: a send whose answer is lost went out once, and
//     is listed once.
//   - history: get_group_msg_history lists the peer's and the account's
//     messages, in order, once, by their message_ids (from the platform
//     with History, else from what the daemon stored).
//   - dropped_connection (History): across a dropped receive connection,
//     and a longer outage, every message is reported exactly once, in
//     order, whether it was pushed again or caught up.
//   - restart: a second daemon on the same store keeps the ids and the
//     messages, reports nothing again, and (History) catches up on what
//     was said while it was down.
//   - missing_capabilities: each action of a capability the backend
//     lacks answers 1404 with a wording naming the backend (or its
//     Unsupported reason) and changes nothing.
//
// The kit never sleeps to synchronise: it waits for conditions (an event,
// a status) with a deadline, and fails the test when the deadline passes.
// Markers in the texts it sends make every message findable in events,
// get_msg answers and the platform's own records.
package conformance

import (
	"context"
	"testing"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// Harness is what a backend's test gives the kit.
type Harness interface {
	// Capabilities are the optional capabilities the backend claims. The
	// kit checks that the backend it builds implements exactly these (so
	// that a capability lost by accident fails loudly instead of skipping
	// its tests), tests each claimed one, and checks that the actions of
	// each missing one answer 1404.
	Capabilities() Capabilities

	// NewWorld starts a fresh simulated platform for one subtest and
	// registers its teardown with t.Cleanup. The world holds the
	// account, a peer who is the account's friend, and a group both are
	// members of, with the account its owner or an admin and the peer a
	// plain member. Nothing has been said anywhere yet.
	NewWorld(t *testing.T) World
}

// World is one simulated platform as the kit drives it. Every id is the
// platform's own (the kit learns the OneBot numbers from the daemon).
// Conversations are named as the account addresses them:
// platform.Conv{Kind: platform.KindPrivate, ID: w.Peer()} is the private
// chat with the peer, platform.Conv{Kind: platform.KindGroup, ID:
// w.Group()} the group. The kit calls the methods from one goroutine.
type World interface {
	// Backend builds the backend logged in as the account in this world;
	// it has the signature of app.Options.Backend, and gets the daemon's
	// open store and logger. The kit calls it once per daemon start: a
	// second call, after the first daemon stopped, is a restart of the
	// daemon on the same store, and must give a backend that sees the
	// same world. The world releases what the backends hold (clients,
	// connections) in its cleanup.
	Backend(db *store.Store, log *zap.Logger) (platform.Backend, error)

	// Account, Peer and Group are the platform ids of the account, the
	// peer and the group.
	Account() string
	Peer() string
	Group() string

	// Say makes the peer send text into conv (the private chat with the
	// account, or the group) and returns the platform id of the message
	// once the platform holds it. The platform pushes it to the account
	// if the account's receive connection is up.
	Say(ctx context.Context, conv platform.Conv, text string) (msgID string, err error)
	// Recall makes the peer withdraw one of its messages in conv.
	Recall(ctx context.Context, conv platform.Conv, msgID string) error
	// Messages lists what the platform holds in conv, oldest first,
	// recalled messages included (marked).
	Messages(ctx context.Context, conv platform.Conv) ([]Held, error)

	// Drop closes the backend's receive connection from the platform's
	// side, once, now or (a platform whose client acknowledges what it
	// received) when the backend next acknowledges: the backend notices,
	// reconnects by itself, and must catch up on what it missed. What
	// the platform pushed but the backend had not acknowledged may come
	// again (as WuKongIM re-sends unacknowledged messages); what happened
	// while it was away is not pushed at all.
	Drop(ctx context.Context) error
	// Hold closes the backend's receive connection and keeps the
	// platform from accepting a new one until release is called: what
	// the peer says meanwhile reaches the daemon only by catching up
	// (History). The kit calls release at most once, and Hold only for
	// a backend that claims History.
	Hold(ctx context.Context) (release func(), err error)
	// FailSends makes the platform refuse the account's next n sends
	// definitely: it answers with a refusal and stores nothing.
	FailSends(n int)
	// LoseSendAnswers makes the platform take the account's next n sends
	// and lose its answers: each message is stored and pushed as usual,
	// but the send fails as a timeout or a dropped connection would (not
	// definitely), so the backend cannot know it went out.
	LoseSendAnswers(n int)
}

// Held is a message as the platform holds it.
type Held struct {
	ID       string // platform message id
	SenderID string // platform user id of its author
	// Text is the message's text as the platform holds it: for a
	// message of text segments, their text (the kit looks for its
	// markers in it, so mentions may be written in any form).
	Text string
	// QuoteID is the platform id of the message it replies to, "" if
	// none.
	QuoteID  string
	Recalled bool
}

// Capabilities are the optional capabilities of package platform a
// backend implements.
type Capabilities struct {
	History    bool // platform.History: catching up, get_msg of unseen messages, history actions
	Directory  bool // platform.Directory: friend, group and member lists
	GroupAdmin bool // platform.GroupAdmin: kick, mute, rename, card, leave
	Requests   bool // platform.Requests: friend and group requests
	Friends    bool // platform.Friends: delete_friend
	Editor     bool // platform.Editor: edit_msg
	Reader     bool // platform.Reader: mark_msg_as_read
}

// capabilitiesOf reports which capabilities b implements.
func capabilitiesOf(b platform.Backend) Capabilities {
	_, history := b.(platform.History)
	_, dir := b.(platform.Directory)
	_, admin := b.(platform.GroupAdmin)
	_, requests := b.(platform.Requests)
	_, friends := b.(platform.Friends)
	_, editor := b.(platform.Editor)
	_, reader := b.(platform.Reader)
	return Capabilities{
		History: history, Directory: dir, GroupAdmin: admin, Requests: requests,
		Friends: friends, Editor: editor, Reader: reader,
	}
}
