package sim

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// The push socket (§6, §8.2). Clients send JSON text frames (login,
// heartbeat, inputInfo); the server sends binary PushFrames. Each socket
// has two goroutines: the handler goroutine reads, a writer goroutine it
// owns is the only one writing, and the handler waits for the writer before
// returning. Pushes reach the writer through a bounded queue so that the
// code holding Server.mu never blocks on a slow client.

type wsFrame struct {
	text bool // a text frame (the 数据不合法 reply); binary otherwise
	data []byte
}

// session is one push socket.
type session struct {
	s    *Server
	conn *websocket.Conn
	log  *zap.Logger
	base string // public base URL the socket was reached at, for media URLs

	send      chan wsFrame
	done      chan struct{} // closed once the session is over
	closeOnce sync.Once

	// Guarded by Server.mu:
	userID   string // set by a successful login
	deviceID string
	token    string // the token of that login, for RevokeToken
	rejected bool   // failed or missing login: answer 数据不合法 forever
	muted    bool   // SilenceAll: write nothing more
}

// clientFrame is what clients send (§6.1).
type clientFrame struct {
	Seq  string          `json:"seq"`
	Cmd  string          `json:"cmd"`
	Data json.RawMessage `json:"data"`
}

type loginData struct {
	UserID   string `json:"userId"`
	Token    string `json:"token"`
	Platform string `json:"platform"`
	DeviceID string `json:"deviceId"`
}

type inputData struct {
	ChatID   string `json:"chatId"`
	Input    string `json:"input"`
	DeviceID string `json:"deviceId"`
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	// The real endpoint needs no subprotocol or special headers (§1.1), and
	// browsers' origins are irrelevant to an in-process fake.
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		s.log.Debug("ws upgrade failed", zap.Error(err))
		return
	}
	sess := &session{
		s:    s,
		conn: conn,
		log:  s.log.With(zap.String("remote", r.RemoteAddr)),
		base: s.publicBase(r),
		send: make(chan wsFrame, sendQueueDepth),
		done: make(chan struct{}),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		sess.writeLoop()
	}()
	sess.readLoop()
	sess.close()
	<-writerDone

	s.mu.Lock()
	delete(s.sessions, sess)
	if set := s.online[sess.userID]; set != nil {
		delete(set, sess)
		if len(set) == 0 {
			delete(s.online, sess.userID)
		}
	}
	s.notifyLocked()
	s.mu.Unlock()
	sess.log.Debug("ws session ended", zap.String("user", sess.userID))
}

// close ends the session: the reader and writer both see it. It reports
// whether this call was the one that closed it. Safe from any goroutine,
// with or without Server.mu held (it never blocks).
func (sess *session) close() bool {
	closed := false
	sess.closeOnce.Do(func() {
		closed = true
		close(sess.done)
		// Closing the conn unblocks the reader; gorilla allows Close
		// concurrently with a reader and a writer.
		sess.conn.Close()
	})
	return closed
}

// enqueue hands a frame to the writer without blocking. A session whose
// queue is full is dropped rather than silently losing a push: the client
// then reconnects and backfills from history, as after any disconnect.
// Callers hold Server.mu (which guards muted).
func (sess *session) enqueue(f wsFrame) {
	if sess.muted {
		return
	}
	select {
	case sess.send <- f:
	case <-sess.done:
	default:
		sess.log.Warn("push queue full, dropping session", zap.String("user", sess.userID))
		sess.close()
	}
}

func (sess *session) writeLoop() {
	for {
		select {
		case <-sess.done:
			return
		case f := <-sess.send:
			typ := websocket.BinaryMessage
			if f.text {
				typ = websocket.TextMessage
			}
			_ = sess.conn.SetWriteDeadline(time.Now().Add(sess.s.writeTimeout))
			if err := sess.conn.WriteMessage(typ, f.data); err != nil {
				sess.log.Debug("ws write failed", zap.Error(err))
				sess.close()
				return
			}
		}
	}
}

func (sess *session) readLoop() {
	for {
		if sess.s.idleTimeout > 0 {
			_ = sess.conn.SetReadDeadline(time.Now().Add(sess.s.idleTimeout))
		}
		typ, data, err := sess.conn.ReadMessage()
		if err != nil {
			return
		}
		sess.handle(typ, data)
	}
}

// handle processes one client frame under Server.mu.
func (sess *session) handle(typ int, data []byte) {
	s := sess.s
	s.mu.Lock()
	defer s.mu.Unlock()
	var f clientFrame
	if typ != websocket.TextMessage || json.Unmarshal(data, &f) != nil {
		sess.invalidLocked()
		return
	}
	if sess.userID == "" {
		// The first frame must be a valid login; anything else, or a bad
		// login, poisons the socket (§6.1, §8.2).
		if sess.rejected || f.Cmd != yunhu.WSCmdLogin || !sess.loginLocked(f.Data) {
			sess.invalidLocked()
		}
		return
	}
	switch f.Cmd {
	case yunhu.WSCmdHeartbeat:
		sess.enqueue(wsFrame{data: s.frameLocked(f.Seq, yunhu.WSCmdHeartbeatAck, "", nil)})
	case yunhu.WSCmdInputInfo:
		var in inputData
		if json.Unmarshal(f.Data, &in) != nil {
			return
		}
		// Drafts sync to the account's other devices (§6.8).
		for other := range s.online[sess.userID] {
			if other == sess {
				continue
			}
			other.enqueue(wsFrame{data: s.frameLocked(s.nextSeqLocked(), yunhu.WSCmdDraftInput, yunhu.TypeURLMsgInput,
				&yunhupb.DraftInput{ChatId: in.ChatID, Input: in.Input})})
		}
	default:
		// A second login or an unknown cmd on a live session is ignored [I].
	}
}

// invalidLocked answers 数据不合法 as a text frame and marks the session
// as never able to log in (§8.2).
func (sess *session) invalidLocked() {
	sess.rejected = true
	sess.enqueue(wsFrame{text: true, data: []byte(yunhu.WSInvalid)})
}

// loginLocked checks a login frame (§6.1): a known token whose owner is
// userId, and a platform from the case-sensitive allowed list. The real
// server sends no acknowledgement, so neither does the simulator (§7 #30).
func (sess *session) loginLocked(raw json.RawMessage) bool {
	s := sess.s
	var d loginData
	if json.Unmarshal(raw, &d) != nil {
		return false
	}
	if s.rejectLogins > 0 {
		s.rejectLogins--
		sess.log.Debug("ws login rejected by fault injection", zap.String("user", d.UserID))
		return false
	}
	u := s.w.tokens[d.Token]
	if d.Token == "" || u == nil || u.id != d.UserID || !contains(yunhu.Platforms(), d.Platform) {
		sess.log.Debug("ws login invalid", zap.String("user", d.UserID), zap.String("platform", d.Platform))
		return false
	}
	sess.userID, sess.deviceID, sess.token = u.id, d.DeviceID, d.Token
	if s.online[u.id] == nil {
		s.online[u.id] = make(map[*session]struct{})
	}
	s.online[u.id][sess] = struct{}{}
	u.logins++
	s.notifyLocked()
	sess.log.Debug("ws login", zap.String("user", u.id), zap.String("device", d.DeviceID))
	return true
}
