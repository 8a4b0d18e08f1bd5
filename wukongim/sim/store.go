package sim

import (
	"crypto/rand"
	"encoding/hex"
	"hash/crc32"
	"sort"
)

// tokenKey identifies a token: tokens are per (uid, device_flag).
type tokenKey struct {
	uid  string
	flag int
}

type tokenInfo struct {
	token string
	level int // 1 master: one device per flag; 0 slave: several
}

// chanKey is a channel as the server keys it: private channels use the
// internal "A@B" id.
type chanKey struct {
	id  string
	typ uint8
}

type channel struct {
	subscribers map[string]bool
	blacklist   map[string]bool
	msgs        []*message // ascending, dense; the oldest are trimmed at the cap
	lastSeq     int64
}

// header is the three flags both surfaces carry.
type header struct {
	NoPersist, RedDot, SyncOnce bool
}

func (h header) any() bool { return h.NoPersist || h.RedDot || h.SyncOnce }

type message struct {
	id          int64
	seq         int64
	clientMsgNo string
	from        string
	channelID   string // as the sender addressed it
	channelType uint8
	ts          int64
	payload     []byte
	sent        header // as sent: pushes carry this
	storedRed   bool   // what red_dot reads back as (§5 fact 15)
}

type conversation struct {
	key     chanKey
	shown   string // channel_id as this user sees it (the peer for private)
	typ     uint8
	readed  int64
	updated int64 // order of last change, for a stable listing
}

// fakeChannelID is the internal id of a private pair: the uid with the
// larger crc32-IEEE first (options.GetFakeChannelIDWith).
func fakeChannelID(a, b string) string {
	ha, hb := crc32.ChecksumIEEE([]byte(a)), crc32.ChecksumIEEE([]byte(b))
	if ha > hb || (ha == hb && a > b) {
		return a + "@" + b
	}
	return b + "@" + a
}

// twitterEpochMs is the snowflake epoch the real ids decode with.
const twitterEpochMs = 1288834974657

// nextIDLocked allocates a snowflake-like message id: increasing, above
// 2^53 (so a client parsing it as a float64 would lose precision).
func (s *Server) nextIDLocked() int64 {
	id := (s.now().UnixMilli()-twitterEpochMs)<<22 | 1<<12
	if id <= s.lastID {
		id = s.lastID + 1
	}
	s.lastID = id
	return id
}

// genClientMsgNo returns 32 hex characters, the JSON-RPC form; HTTP sends
// append "0".
func genClientMsgNo() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) channelLocked(k chanKey, create bool) *channel {
	ch := s.channels[k]
	if ch == nil && create {
		ch = &channel{subscribers: map[string]bool{}, blacklist: map[string]bool{}}
		s.channels[k] = ch
	}
	return ch
}

// onlineLocked reports whether uid has a routed connection.
func (s *Server) onlineLocked(uid string) bool {
	for c := range s.conns {
		if c.routed && c.uid == uid {
			return true
		}
	}
	return false
}

// sendSpec is one message to store, from either surface.
type sendSpec struct {
	from        string
	channelID   string
	channelType uint8
	clientMsgNo string
	payload     []byte
	hdr         header
	id          int64 // preallocated (JSON-RPC allocates before checking)
	origin      *conn // the sending connection, which gets no push
}

// storeLocked stores a message, updates conversations and pushes it. It
// applies no permission check: callers do (HTTP sends are unchecked).
func (s *Server) storeLocked(sp sendSpec) *message {
	now := s.now()
	m := &message{
		id:          sp.id,
		clientMsgNo: sp.clientMsgNo,
		from:        sp.from,
		channelID:   sp.channelID,
		channelType: sp.channelType,
		ts:          now.Unix(),
		payload:     sp.payload,
		sent:        sp.hdr,
	}
	if m.id == 0 {
		m.id = s.nextIDLocked()
	}
	if sp.hdr.SyncOnce {
		// The legacy command queue: a separate channel "<from>____cmd"
		// with its own seqs, read through /message/sync only.
		k := chanKey{sp.from + "____cmd", sp.channelType}
		ch := s.channelLocked(k, true)
		ch.lastSeq++
		m.seq = ch.lastSeq
		m.channelID = k.id
		recips := s.recipientsLocked(sp.channelID, sp.channelType, sp.from)
		s.hookMessageLocked(m, sp.channelID, recips)
		for _, uid := range recips {
			if uid == sp.from {
				continue
			}
			q := append(s.syncOnce[uid], m)
			if len(q) > maxSyncOnce {
				q = q[len(q)-maxSyncOnce:]
			}
			s.syncOnce[uid] = q
		}
		s.notifyLocked()
		return m
	}
	k := chanKey{sp.channelID, sp.channelType}
	if sp.channelType == 1 {
		k.id = fakeChannelID(sp.from, sp.channelID)
	}
	ch := s.channelLocked(k, true)
	ch.lastSeq++
	m.seq = ch.lastSeq
	ch.msgs = append(ch.msgs, m)
	if over := len(ch.msgs) - s.opts.MaxMessagesPerChannel; over > 0 {
		ch.msgs = append([]*message(nil), ch.msgs[over:]...)
	}
	recips := s.recipientsLocked(sp.channelID, sp.channelType, sp.from)
	// Observed: a red_dot message reads back red_dot 1 only when no
	// recipient other than the sender was online when it was sent.
	m.storedRed = sp.hdr.RedDot
	for _, uid := range recips {
		if uid != sp.from && s.onlineLocked(uid) {
			m.storedRed = false
		}
	}
	for _, uid := range recips {
		if uid == "" {
			continue
		}
		cv := s.convLocked(uid, k, sp, m)
		if uid == sp.from {
			cv.readed = m.seq // a user's own send marks the channel read
		}
	}
	s.hookMessageLocked(m, sp.channelID, recips)
	if sp.channelType != 0 { // type 0 was stored but pushed to nobody
		for _, uid := range recips {
			s.pushLocked(uid, m, sp.origin)
		}
	}
	s.notifyLocked()
	return m
}

// recipientsLocked lists who a message reaches: the pair for a private
// message, the subscribers (and the sender) for a group.
func (s *Server) recipientsLocked(channelID string, typ uint8, from string) []string {
	if typ == 1 {
		if from == channelID {
			return []string{from}
		}
		return []string{from, channelID}
	}
	seen := map[string]bool{}
	var out []string
	if ch := s.channels[chanKey{channelID, typ}]; ch != nil {
		for uid := range ch.subscribers {
			seen[uid] = true
			out = append(out, uid)
		}
	}
	if from != "" && !seen[from] {
		out = append(out, from)
	}
	sort.Strings(out)
	return out
}

func (s *Server) convLocked(uid string, k chanKey, sp sendSpec, m *message) *conversation {
	byUID := s.convs[uid]
	if byUID == nil {
		byUID = map[chanKey]*conversation{}
		s.convs[uid] = byUID
	}
	cv := byUID[k]
	if cv == nil {
		shown := sp.channelID
		if sp.channelType == 1 && uid == sp.channelID {
			shown = sp.from
		}
		cv = &conversation{key: k, shown: shown, typ: sp.channelType}
		byUID[k] = cv
	}
	cv.updated = m.id
	return cv
}

// window implements /channel/messagesync (§5 fact 4): start inclusive,
// end exclusive (0: unbounded); pull_mode 0 reads older from start, 1
// newer; start 0 means the newest page in both modes. Ascending output.
func window(msgs []*message, start, end int64, limit, mode int) ([]*message, bool) {
	var sel []*message
	if start == 0 || mode == 0 {
		for i := len(msgs) - 1; i >= 0 && len(sel) < limit; i-- {
			m := msgs[i]
			if start != 0 && m.seq > start {
				continue
			}
			if end != 0 && m.seq <= end {
				break
			}
			sel = append(sel, m)
		}
		for i, j := 0, len(sel)-1; i < j; i, j = i+1, j-1 {
			sel[i], sel[j] = sel[j], sel[i]
		}
	} else {
		for _, m := range msgs {
			if len(sel) >= limit {
				break
			}
			if m.seq < start {
				continue
			}
			if end != 0 && m.seq >= end {
				break
			}
			sel = append(sel, m)
		}
	}
	// The real server reports more whenever the page is full, so an empty
	// page follows a page that exactly emptied the window (and limit 0
	// answers more 1).
	return sel, len(sel) >= limit
}
