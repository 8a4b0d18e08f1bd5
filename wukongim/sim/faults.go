package sim

import (
	"context"
	"fmt"
	"sort"
)

type fault struct {
	path   string
	status int
	left   int
}

func (s *Server) takeFaultLocked(path string) *fault {
	for i, f := range s.faults {
		if f.path != path {
			continue
		}
		f.left--
		if f.left <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return f
	}
	return nil
}

// FailNext makes the next n requests to the HTTP API path (e.g.
// "/channel/messagesync") fail with status before doing anything: 400
// answers the real error envelope {"msg","status":400}, any other status
// an empty body (the real 500s have none).
func (s *Server) FailNext(n int, path string, status int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	s.faults = append(s.faults, &fault{path: path, status: status, left: n})
	s.mu.Unlock()
}

// sendFault is a fault on the JSON-RPC sends of one uid.
type sendFault struct {
	uid    string
	reason int // refuse with this reason code; 0: lose the answer
	left   int
}

// RefuseSends makes the next n JSON-RPC sends of uid fail with
// reasonCode (e.g. 4, InBlacklist) as the server refuses a send: nothing
// stored, messageSeq 0.
func (s *Server) RefuseSends(uid string, n, reasonCode int) {
	s.addSendFault(&sendFault{uid: uid, reason: reasonCode, left: n})
}

// LoseSendAnswers makes the next n JSON-RPC sends of uid go through
// (stored and pushed) while the connection closes instead of answering,
// as when the connection breaks after the server took the message.
func (s *Server) LoseSendAnswers(uid string, n int) {
	s.addSendFault(&sendFault{uid: uid, left: n})
}

func (s *Server) addSendFault(f *sendFault) {
	if f.left <= 0 {
		return
	}
	s.mu.Lock()
	s.sendFaults = append(s.sendFaults, f)
	s.mu.Unlock()
}

// takeSendFaultLocked takes one refusal for uid, if any is left.
func (s *Server) takeSendFaultLocked(uid string) *sendFault {
	return s.takeUIDFaultLocked(uid, true)
}

// takeLoseFaultLocked takes one lost answer for uid, if any is left.
func (s *Server) takeLoseFaultLocked(uid string) bool {
	return s.takeUIDFaultLocked(uid, false) != nil
}

func (s *Server) takeUIDFaultLocked(uid string, refusal bool) *sendFault {
	for i, f := range s.sendFaults {
		if f.uid != uid || (f.reason != 0) != refusal {
			continue
		}
		if f.left--; f.left <= 0 {
			s.sendFaults = append(s.sendFaults[:i:i], s.sendFaults[i+1:]...)
		}
		return f
	}
	return nil
}

// HoldConnects refuses every connect silently, as a wrong token is
// refused, until the returned release is called. Holds nest.
func (s *Server) HoldConnects() (release func()) {
	s.mu.Lock()
	s.holds++
	s.mu.Unlock()
	released := false
	return func() {
		s.mu.Lock()
		if !released {
			released = true
			s.holds--
		}
		s.mu.Unlock()
	}
}

// DropAll closes every WebSocket connection abruptly (no close frame) and
// returns how many there were.
func (s *Server) DropAll() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if !c.closed {
			c.closeLocked()
			n++
		}
	}
	return n
}

// Connections reports how many connections of uid are online: connected,
// authenticated and still routed (not kicked past the grace, not idle).
func (s *Server) Connections(uid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connectionsLocked(uid)
}

func (s *Server) connectionsLocked(uid string) int {
	n := 0
	for c := range s.conns {
		if c.routed && c.uid == uid {
			n++
		}
	}
	return n
}

// Sockets reports how many WebSocket connections are open, routed or not.
func (s *Server) Sockets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if !c.closed {
			n++
		}
	}
	return n
}

// WaitConnections blocks until uid has exactly n online connections.
func (s *Server) WaitConnections(ctx context.Context, uid string, n int) error {
	err := s.waitFor(ctx, func() bool { return s.connectionsLocked(uid) == n })
	if err != nil {
		return fmt.Errorf("wksim: waiting for %d connections of %q: %w", n, uid, err)
	}
	return nil
}

// Pending reports how many pushes to uid's connections await a recvack.
func (s *Server) Pending(uid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if c.uid == uid && c.routed {
			n += len(c.pending)
		}
	}
	return n
}

// WaitPending blocks until uid's connections have n un-acked pushes.
func (s *Server) WaitPending(ctx context.Context, uid string, n int) error {
	cond := func() bool {
		k := 0
		for c := range s.conns {
			if c.uid == uid && c.routed {
				k += len(c.pending)
			}
		}
		return k == n
	}
	if err := s.waitFor(ctx, cond); err != nil {
		return fmt.Errorf("wksim: waiting for %d pending pushes of %q: %w", n, uid, err)
	}
	return nil
}

// RegisterToken sets uid's token for deviceFlag, as POST /user/token does
// (level 1 master, 0 slave), kicking live master connections likewise.
func (s *Server) RegisterToken(uid, token string, deviceFlag, deviceLevel int) {
	s.mu.Lock()
	s.registerTokenLocked(uid, token, deviceFlag, deviceLevel)
	s.mu.Unlock()
}

// CreateGroup creates (or extends) group id with the given members.
func (s *Server) CreateGroup(id string, members ...string) {
	s.AddMembers(id, members...)
}

// AddMembers subscribes uids to group id, creating it if needed.
func (s *Server) AddMembers(id string, uids ...string) {
	s.mu.Lock()
	ch := s.channelLocked(chanKey{id, 2}, true)
	for _, u := range uids {
		ch.subscribers[u] = true
	}
	s.mu.Unlock()
}

// RemoveMembers unsubscribes uids from group id.
func (s *Server) RemoveMembers(id string, uids ...string) {
	s.mu.Lock()
	if ch := s.channels[chanKey{id, 2}]; ch != nil {
		for _, u := range uids {
			delete(ch.subscribers, u)
		}
	}
	s.mu.Unlock()
}

// Members lists group id's subscribers, sorted.
func (s *Server) Members(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	if ch := s.channels[chanKey{id, 2}]; ch != nil {
		for u := range ch.subscribers {
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out
}

// SetBlacklisted adds uid to (on) or removes it from group id's blacklist.
func (s *Server) SetBlacklisted(id, uid string, on bool) {
	s.mu.Lock()
	ch := s.channelLocked(chanKey{id, 2}, true)
	if on {
		ch.blacklist[uid] = true
	} else {
		delete(ch.blacklist, uid)
	}
	s.mu.Unlock()
}

// Message is a stored message as tests see it.
type Message struct {
	ID          int64  // the server's message id (snowflake-like, above 2^53)
	Seq         int64  // dense per channel, from 1; a private pair shares one space
	ClientMsgNo string // as given, or generated
	FromUID     string // "" for an HTTP send without from_uid
	ChannelID   string // as the sender addressed it (the recipient, for private)
	ChannelType uint8  // 1 private, 2 group
	Timestamp   int64  // unix seconds
	Payload     []byte // the bytes as sent (the wire carries them base64)
	NoPersist   bool   // header flags as sent
	RedDot      bool
	SyncOnce    bool
}

func exportMessage(m *message) Message {
	return Message{
		ID: m.id, Seq: m.seq, ClientMsgNo: m.clientMsgNo, FromUID: m.from,
		ChannelID: m.channelID, ChannelType: m.channelType, Timestamp: m.ts,
		Payload:   append([]byte(nil), m.payload...),
		NoPersist: m.sent.NoPersist, RedDot: m.sent.RedDot, SyncOnce: m.sent.SyncOnce,
	}
}

// Say sends payload from uid to a channel the way POST /message/send does:
// unchecked, pushed to every recipient's connections including the
// sender's own. channelType 1 is private (channelID the peer), 2 a group.
// clientMsgNo "" is generated.
func (s *Server) Say(from, channelID string, channelType uint8, clientMsgNo string, payload []byte) Message {
	if clientMsgNo == "" {
		clientMsgNo = genClientMsgNo() + "0"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.storeLocked(sendSpec{
		from: from, channelID: channelID, channelType: channelType,
		clientMsgNo: clientMsgNo, payload: append([]byte(nil), payload...),
	})
	return exportMessage(m)
}

// Messages lists a channel's stored messages, ascending. For a private
// channel pass one side as loginUID and the other as channelID.
func (s *Server) Messages(loginUID, channelID string, channelType uint8) []Message {
	k := chanKey{channelID, channelType}
	if channelType == 1 {
		k.id = fakeChannelID(loginUID, channelID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	if ch := s.channels[k]; ch != nil {
		for _, m := range ch.msgs {
			out = append(out, exportMessage(m))
		}
	}
	return out
}

// WaitMessages blocks until the channel holds at least n messages.
func (s *Server) WaitMessages(ctx context.Context, loginUID, channelID string, channelType uint8, n int) ([]Message, error) {
	k := chanKey{channelID, channelType}
	if channelType == 1 {
		k.id = fakeChannelID(loginUID, channelID)
	}
	err := s.waitFor(ctx, func() bool {
		ch := s.channels[k]
		return ch != nil && len(ch.msgs) >= n
	})
	if err != nil {
		return nil, fmt.Errorf("wksim: waiting for %d messages in %q: %w", n, channelID, err)
	}
	return s.Messages(loginUID, channelID, channelType), nil
}
