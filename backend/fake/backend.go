package fake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
)

// Name is the backend's name (config's backend key, and the name 1404
// wordings give).
const Name = "fake"

// Limits of one Backend.
const (
	// maxBatch bounds the events of one Deliver.
	maxBatch = 64
	// maxMissed bounds the messages one History.Missed returns.
	maxMissed = 500
	// maxBefore bounds the messages one History.Before returns.
	maxBefore = 100
)

// BackendOptions configure a Backend.
type BackendOptions struct {
	Server *Server
	// Account is the user the backend is logged in as.
	Account string
	Log     *zap.Logger
	// Backoff is the wait before reconnect attempt n (1, 2, …); nil
	// means 5 ms times n, at most a second.
	Backoff func(attempt int) time.Duration
}

// Backend is a platform.Backend over a Server, with History, Directory
// and GroupAdmin. It lacks Requests, Friends, Editor and Reader on
// purpose.
type Backend struct {
	srv     *Server
	account string
	log     *zap.Logger
	backoff func(int) time.Duration
	// session prefixes the send tokens, so that tokens of two runs (a
	// restart) never collide.
	session string
	tokens  atomic.Uint64
}

var (
	_ platform.Backend    = (*Backend)(nil)
	_ platform.History    = (*Backend)(nil)
	_ platform.Directory  = (*Backend)(nil)
	_ platform.GroupAdmin = (*Backend)(nil)
)

// NewBackend returns a Backend logged in to opts.Server as opts.Account.
func NewBackend(opts BackendOptions) *Backend {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Backoff == nil {
		opts.Backoff = func(n int) time.Duration { return min(time.Duration(n)*5*time.Millisecond, time.Second) }
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Backend{
		srv: opts.Server, account: opts.Account, log: opts.Log, backoff: opts.Backoff,
		session: hex.EncodeToString(b[:]),
	}
}

// Name returns "fake".
func (b *Backend) Name() string { return Name }

// Self returns the account.
func (b *Backend) Self(ctx context.Context) (platform.Account, error) {
	u, ok := b.srv.User(b.account)
	if !ok {
		return platform.Account{}, fmt.Errorf("fake: account %q: %w", b.account, platform.ErrUnauthorized)
	}
	return platform.Account{ID: u.ID, Name: u.Name}, nil
}

// Run connects, delivers what the server pushes, acknowledges each batch
// once Deliver has returned, and reconnects after a drop, until ctx is
// done.
func (b *Backend) Run(ctx context.Context, sink platform.Sink) error {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(b.backoff(attempt))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		c, err := b.srv.Connect(b.account)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var r *Refusal
			if errors.As(err, &r) {
				return fmt.Errorf("fake: connect as %q: %w", b.account, platform.ErrUnauthorized)
			}
			b.log.Debug("connect failed", zap.Int("attempt", attempt), zap.Error(err))
			continue
		}
		attempt = 0
		err = b.receive(ctx, c, sink)
		c.Close()
		if ctx.Err() != nil {
			return nil
		}
		b.log.Info("connection lost", zap.Error(err))
		if err := sink.Deliver(ctx, []platform.Event{platform.Offline{Err: err}}); err != nil {
			return nil // ctx is done
		}
	}
}

// receive reports Online, then delivers the connection's pushes in
// batches until it ends, acknowledging each batch after Deliver.
func (b *Backend) receive(ctx context.Context, c *Conn, sink platform.Sink) error {
	if err := sink.Deliver(ctx, []platform.Event{platform.Online{}}); err != nil {
		return err
	}
	for {
		pushes, err := c.Receive(ctx, maxBatch)
		if err != nil {
			return err
		}
		events := make([]platform.Event, 0, len(pushes))
		ids := make([]uint64, len(pushes))
		for i, p := range pushes {
			ids[i] = p.ID
			if ev := b.event(p); ev != nil {
				events = append(events, ev)
			}
		}
		if len(events) > 0 {
			// A failed Deliver (the core stopping, or failing to store)
			// acknowledges nothing: the server pushes it all again after
			// the reconnect.
			if err := sink.Deliver(ctx, events); err != nil {
				return err
			}
		}
		if err := c.Ack(ids...); err != nil {
			return err // the pushes come again after the reconnect
		}
	}
}

// event is p as a platform event, nil for none.
func (b *Backend) event(p Push) platform.Event {
	switch {
	case p.Message != nil:
		return platform.Received{Message: b.message(p.Message)}
	case p.Recall != nil:
		m := &p.Recall.Message
		return platform.Recalled{
			Conv: m.ConvFor(b.account), MsgID: m.ID, Seq: m.Seq,
			Sender: b.sender(m.From), Operator: p.Recall.Operator, Time: m.RecallTime,
		}
	case p.Member != nil:
		mc := p.Member
		switch {
		case mc.Joined:
			return platform.MemberJoined{GroupID: mc.Group, UserID: mc.User, Operator: mc.Operator, Time: mc.Time}
		case mc.Left:
			return platform.MemberLeft{GroupID: mc.Group, UserID: mc.User, Operator: mc.Operator, Time: mc.Time}
		default:
			return platform.MemberMuted{GroupID: mc.Group, UserID: mc.User, Operator: mc.Operator, Duration: mc.Muted, Time: mc.Time}
		}
	}
	return nil
}

func (b *Backend) message(m *Message) platform.Message {
	return platform.Message{
		Conv:       m.ConvFor(b.account),
		ID:         m.ID,
		Seq:        m.Seq,
		Sender:     b.sender(m.From),
		Time:       m.Time,
		QuoteID:    m.QuoteID,
		Recalled:   m.Recalled,
		RecallTime: m.RecallTime,
		Token:      m.Token,
		Content:    m.Content,
	}
}

func (b *Backend) sender(id string) platform.Sender {
	u, _ := b.srv.User(id)
	return platform.Sender{ID: id, Name: u.Name, Bot: u.Bot}
}

// payload is an Outgoing's Payload.
type payload struct {
	content Content
	quote   string
}

// Send sends one encoded message; the server assigns its id.
func (b *Backend) Send(ctx context.Context, out *platform.Outgoing) (platform.Sent, error) {
	p, ok := out.Payload.(payload)
	if !ok {
		return platform.Sent{}, fmt.Errorf("fake: send: payload %T is not the fake's", out.Payload)
	}
	m, err := b.srv.Send(ctx, b.account, out.Conv, p.content, p.quote, out.Token)
	if err != nil {
		return platform.Sent{}, serverError("send", err)
	}
	return platform.Sent{ID: m.ID, Seq: m.Seq, Time: m.Time}, nil
}

// Recall recalls messages one by one, stopping at the first failure.
func (b *Backend) Recall(ctx context.Context, conv platform.Conv, msgIDs []string) error {
	for _, id := range msgIDs {
		m, err := b.srv.Message(b.account, id)
		if err == nil && m.ConvFor(b.account) != conv {
			err = fmt.Errorf("message %q is not in %s %s: %w", id, conv.Kind, conv.ID, ErrNoMessage)
		}
		if err == nil {
			err = b.srv.Recall(b.account, id)
		}
		if err != nil {
			return serverError("recall "+id, err)
		}
	}
	return nil
}

// serverError maps the server's errors onto the contract's.
func serverError(what string, err error) error {
	if err == nil {
		return nil
	}
	var r *Refusal
	switch {
	case errors.As(err, &r):
		return &platform.Error{Msg: r.Reason, Definite: true, Err: err}
	case errors.Is(err, ErrNoMessage):
		return fmt.Errorf("fake: %s: %w: %w", what, platform.ErrNotFound, err)
	}
	return fmt.Errorf("fake: %s: %w", what, err)
}

// Missed returns the messages of conv after seq after, or since since.
func (b *Backend) Missed(ctx context.Context, conv platform.Conv, after int64, since time.Time) ([]platform.Message, error) {
	var out []platform.Message
	for _, m := range b.srv.Messages(b.account, conv) {
		if (after > 0 && m.Seq <= after) || (after == 0 && m.Time.Before(since)) {
			continue
		}
		if len(out) == maxMissed {
			b.log.Warn("missed messages cut", zap.String("conv", conv.ID), zap.Int("limit", maxMissed))
			break
		}
		out = append(out, b.message(&m))
	}
	return out, nil
}

// Active lists the conversations with a message since since.
func (b *Backend) Active(ctx context.Context, since time.Time) ([]platform.Conv, error) {
	return b.srv.Conversations(b.account, since), nil
}

// Message reads one message.
func (b *Backend) Message(ctx context.Context, conv platform.Conv, msgID string) (*platform.Message, error) {
	m, err := b.srv.Message(b.account, msgID)
	if err == nil && m.ConvFor(b.account) != conv {
		err = ErrNoMessage
	}
	if err != nil {
		return nil, serverError("read message "+msgID, err)
	}
	pm := b.message(&m)
	return &pm, nil
}

// Before returns up to count messages of conv older than msgID ("" for
// the newest), oldest first.
func (b *Backend) Before(ctx context.Context, conv platform.Conv, msgID string, count int) ([]platform.Message, error) {
	msgs := b.srv.Messages(b.account, conv)
	end := len(msgs)
	if msgID != "" {
		end = -1
		for i := range msgs {
			if msgs[i].ID == msgID {
				end = i
				break
			}
		}
		if end < 0 {
			return nil, serverError("read history before "+msgID, ErrNoMessage)
		}
	}
	count = min(max(count, 0), maxBefore)
	start := max(end-count, 0)
	out := make([]platform.Message, 0, end-start)
	for i := start; i < end; i++ {
		out = append(out, b.message(&msgs[i]))
	}
	return out, nil
}

// User describes a user.
func (b *Backend) User(ctx context.Context, id string) (*platform.User, error) {
	u, ok := b.srv.User(id)
	if !ok {
		return nil, fmt.Errorf("fake: user %q: %w", id, platform.ErrNotFound)
	}
	friend := b.srv.IsFriend(b.account, id)
	return &platform.User{ID: u.ID, Name: u.Name, Bot: u.Bot, Sex: "unknown", Friend: friend, Unfriend: !friend}, nil
}

// Friends lists the account's friends.
func (b *Backend) Friends(ctx context.Context) ([]platform.User, error) {
	var out []platform.User
	for _, id := range b.srv.Friends(b.account) {
		u, _ := b.srv.User(id)
		out = append(out, platform.User{ID: id, Name: u.Name, Bot: u.Bot, Sex: "unknown", Friend: true})
	}
	return out, nil
}

// Groups lists the account's groups.
func (b *Backend) Groups(ctx context.Context) ([]platform.Group, error) {
	var out []platform.Group
	for _, g := range b.srv.Groups(b.account) {
		out = append(out, platform.Group{ID: g.ID, Name: g.Name, MemberCount: int32(len(g.Members))})
	}
	return out, nil
}

// Group describes a group.
func (b *Backend) Group(ctx context.Context, id string) (*platform.Group, error) {
	g, ok := b.srv.Group(id)
	if !ok {
		return nil, fmt.Errorf("fake: group %q: %w", id, platform.ErrNotFound)
	}
	return &platform.Group{ID: g.ID, Name: g.Name, MemberCount: int32(len(g.Members))}, nil
}

// Members lists a group's members.
func (b *Backend) Members(ctx context.Context, groupID string) ([]platform.Member, error) {
	g, ok := b.srv.Group(groupID)
	if !ok {
		return nil, fmt.Errorf("fake: group %q: %w", groupID, platform.ErrNotFound)
	}
	return g.Members, nil
}

// Kick removes a member; the fake has no blacklist, so rejectAgain is
// unsupported.
func (b *Backend) Kick(ctx context.Context, groupID, userID string, rejectAgain bool) error {
	if rejectAgain {
		return platform.Unsupportedf("the fake platform cannot refuse a removed member's return")
	}
	return serverError("kick", b.srv.Kick(b.account, groupID, userID))
}

// Mute mutes a member for d, rounded up to a whole second.
func (b *Backend) Mute(ctx context.Context, groupID, userID string, d time.Duration) error {
	d = (d + time.Second - 1).Truncate(time.Second)
	return serverError("mute", b.srv.Mute(b.account, groupID, userID, d))
}

// SetGroupName renames a group.
func (b *Backend) SetGroupName(ctx context.Context, groupID, name string) error {
	return serverError("rename group", b.srv.Rename(b.account, groupID, name))
}

// SetCard sets a member's card.
func (b *Backend) SetCard(ctx context.Context, groupID, userID, card string) error {
	return serverError("set card", b.srv.SetCard(b.account, groupID, userID, card))
}

// Leave leaves a group.
func (b *Backend) Leave(ctx context.Context, groupID string) error {
	return serverError("leave group", b.srv.Leave(b.account, groupID))
}

// newToken returns a send's correlation token.
func (b *Backend) newToken() string {
	return b.session + "-" + strconv.FormatUint(b.tokens.Add(1), 10)
}
