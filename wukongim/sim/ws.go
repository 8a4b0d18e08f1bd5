package sim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// conn is one WebSocket connection. Its fields are guarded by Server.mu.
type conn struct {
	s  *Server
	ws *websocket.Conn
	id int64

	out    chan []byte   // frames to write; full means a stalled reader
	done   chan struct{} // closed by closeLocked
	closed bool

	authed   bool
	uid      string
	flag     int
	deviceID string
	routed   bool // gets pushes and has its inbound frames processed

	lastInbound time.Time
	refusedAt   time.Time // a refused connect: closed AuthCloseDelay later
	kickedAt    time.Time // a kick notified: unrouted KickGrace later
	wedged      []byte    // the error frame every later inbound frame gets

	pending map[string]*pendingPush // messageId → un-acked push
	order   []string                // pending ids, oldest first
}

type pendingPush struct {
	frame    []byte
	lastSent time.Time
	retries  int
}

// closeLocked drops the socket without a close frame, as the real server
// does in every case observed (the client reads 1006).
func (c *conn) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	c.routed = false
	if c.authed {
		// Observed for kicked and idle connections alike: the offline
		// entry comes when the socket closes.
		c.s.hookOnlineLocked(c, false)
	}
	close(c.done)
	_ = c.ws.Close()
	c.s.notifyLocked()
}

// writeLocked queues a frame; a connection whose queue is full is dropped.
func (c *conn) writeLocked(frame []byte) {
	if c.closed {
		return
	}
	select {
	case c.out <- frame:
	default:
		c.s.log.Warn("dropping a stalled connection", zap.String("uid", c.uid), zap.Int64("conn", c.id))
		c.closeLocked()
	}
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closed, full := s.closed, len(s.conns) >= s.opts.MaxConnections
	s.mu.Unlock()
	if closed || full {
		http.Error(w, "wksim: unavailable", http.StatusServiceUnavailable)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	ws.SetReadLimit(maxFrame)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.connSeq++
	c := &conn{
		s: s, ws: ws, id: s.connSeq,
		out: make(chan []byte, outQueue), done: make(chan struct{}),
		lastInbound: s.now(), pending: map[string]*pendingPush{},
	}
	s.conns[c] = struct{}{}
	s.wg.Add(2) // the writer, and this handler until its read loop ends
	s.mu.Unlock()
	defer s.wg.Done()
	go c.writer()

	// The real server answers a client's close frame by dropping TCP, with
	// no close frame of its own; WebSocket pings get pongs and count as
	// inbound traffic.
	ws.SetCloseHandler(func(int, string) error { return nil })
	ws.SetPingHandler(func(data string) error {
		s.mu.Lock()
		c.lastInbound = s.now()
		if !c.closed {
			_ = ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeTimeout))
		}
		s.mu.Unlock()
		return nil
	})
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			break
		}
		s.mu.Lock()
		s.handleFrameLocked(c, data)
		s.mu.Unlock()
	}
	s.mu.Lock()
	c.closeLocked()
	delete(s.conns, c)
	s.notifyLocked()
	s.mu.Unlock()
}

// writer owns the socket's data writes.
func (c *conn) writer() {
	defer c.s.wg.Done()
	for {
		select {
		case <-c.done:
			return
		case f := <-c.out:
			_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, f); err != nil {
				c.s.mu.Lock()
				c.closeLocked()
				c.s.mu.Unlock()
				return
			}
		}
	}
}

// frame is a classified inbound JSON-RPC frame.
type frame struct {
	id     string
	method string
	params json.RawMessage
}

// classify decodes a frame the way the server's codec does (§4): a
// request needs a string id and a request method; a notification (no id)
// may only be recv, recvack, disconnect or event. errID is the id to put
// on the error frame, when one parsed.
func classify(data []byte) (f frame, errMsg, errID string) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return f, "jsonrpc decode: " + err.Error(), ""
	}
	if v, ok := raw["jsonrpc"]; ok && !isJSONNull(v) {
		var ver string
		if json.Unmarshal(v, &ver) != nil || ver != "2.0" {
			return f, "jsonrpc decode: invalid jsonrpc version", ""
		}
	}
	if v, ok := raw["id"]; ok && !isJSONNull(v) {
		if err := json.Unmarshal(v, &f.id); err != nil {
			return f, "jsonrpc: failed to unmarshal field: request ID: " + err.Error(), ""
		}
	}
	if v, ok := raw["method"]; ok {
		if err := json.Unmarshal(v, &f.method); err != nil {
			return f, "jsonrpc: failed to unmarshal field: method: " + err.Error(), f.id
		}
	}
	f.params = raw["params"]
	switch {
	case f.method == "":
		return f, "jsonrpc decode: missing method", f.id
	case f.id != "":
		switch f.method {
		case "connect", "send", "ping", "disconnect":
		case "subscribe":
			return f, "unknown packet type: jsonrpc.SubscribeRequest", f.id
		case "unsubscribe":
			return f, "unknown packet type: jsonrpc.UnsubscribeRequest", f.id
		default:
			return f, "jsonrpc decode: unknown request method '" + f.method + "'", f.id
		}
	default:
		switch f.method {
		case "recvack", "disconnect":
		case "recv":
			return f, "unknown packet type: jsonrpc.RecvNotification", ""
		case "event":
			return f, "unknown packet type: jsonrpc.EventNotification", ""
		default:
			return f, "jsonrpc decode: unknown notification method '" + f.method + "'", ""
		}
		f.method += "!" // marks a notification
	}
	return f, "", ""
}

type connectParams struct {
	UID             string `json:"uid"`
	Token           string `json:"token"`
	DeviceFlag      int    `json:"deviceFlag"`
	DeviceID        string `json:"deviceId"`
	Version         int    `json:"version"`
	ClientTimestamp int64  `json:"clientTimestamp"`
}

type rpcSendParams struct {
	Header      rpcHeader `json:"header"`
	ClientMsgNo string    `json:"clientMsgNo"`
	ChannelID   string    `json:"channelId"`
	ChannelType uint8     `json:"channelType"`
	Payload     []byte    `json:"payload"`
}

type recvackParams struct {
	MessageID  string `json:"messageId"`
	MessageSeq int64  `json:"messageSeq"`
}

// wedgeLocked answers a bad frame and wedges the inbound side: the real
// server never discards the bad bytes, so every later frame fails again
// with the same error (§5 fact 9).
func (c *conn) wedgeLocked(msg, id string) {
	c.wedged = errorFrame(id, msg)
	c.writeLocked(c.wedged)
}

func (s *Server) handleFrameLocked(c *conn, data []byte) {
	if c.closed {
		return
	}
	s.inbound++
	defer s.notifyLocked()
	c.lastInbound = s.now()
	if c.authed && !c.routed {
		return // kicked or idle-dropped: frames go unanswered
	}
	if c.wedged != nil {
		c.writeLocked(c.wedged)
		return
	}
	f, errMsg, errID := classify(data)
	if errMsg != "" {
		c.wedgeLocked(errMsg, errID)
		return
	}
	if !c.authed {
		if f.method == "connect" && c.refusedAt.IsZero() {
			s.connectLocked(c, f)
		}
		return // anything before a successful connect goes unanswered
	}
	switch f.method {
	case "ping":
		c.writeLocked(pongFrame(f.id))
	case "send":
		var p rpcSendParams
		if err := json.Unmarshal(f.params, &p); err != nil {
			c.wedgeLocked("jsonrpc: failed to unmarshal field: params: "+err.Error(), f.id)
			return
		}
		s.rpcSendLocked(c, f.id, p)
	case "recvack!":
		var p recvackParams
		if err := json.Unmarshal(f.params, &p); err != nil {
			c.wedgeLocked("jsonrpc: failed to unmarshal field: params: "+err.Error(), "")
			return
		}
		c.ackLocked(p.MessageID)
	}
	// connect again, disconnect (request or notification): no answer, no
	// effect — the server's user handler acts on SEND, RECVACK and PING.
}

func (s *Server) connectLocked(c *conn, f frame) {
	var p connectParams
	if err := json.Unmarshal(f.params, &p); err != nil {
		c.wedgeLocked("jsonrpc: failed to unmarshal field: params: "+err.Error(), f.id)
		return
	}
	tk, ok := s.tokens[tokenKey{p.UID, p.DeviceFlag}]
	if !ok || tk.token != p.Token || p.Token == "" || s.holds > 0 {
		// Silent refusal: no frame; the socket closes later, no close frame.
		c.refusedAt = s.now()
		s.log.Debug("connect refused", zap.String("uid", p.UID), zap.Int("device_flag", p.DeviceFlag))
		return
	}
	now := s.now()
	if tk.level == 1 {
		for o := range s.conns {
			if o == c || !o.routed || o.uid != p.UID || o.flag != p.DeviceFlag {
				continue
			}
			if o.deviceID == p.DeviceID {
				o.routed = false // same device: replaced without a frame
				continue
			}
			if o.kickedAt.IsZero() {
				o.writeLocked(disconnectFrame(kickOtherDevice))
				o.kickedAt = now
			}
		}
	}
	c.authed, c.routed = true, true
	c.uid, c.flag, c.deviceID = p.UID, p.DeviceFlag, p.DeviceID
	version := p.Version
	if version <= 0 || version > 5 {
		version = 5
	}
	var diff int64
	if p.ClientTimestamp != 0 {
		diff = now.UnixMilli() - p.ClientTimestamp
	}
	c.writeLocked(marshal(response{JSONRPC: "2.0", ID: f.id, Result: connectResult{
		ServerVersion: version, TimeDiff: diff, ReasonCode: reasonSuccess, NodeID: 1,
	}}))
	s.hookOnlineLocked(c, true)
	s.notifyLocked()
}

// registerTokenLocked stores a token; a master token re-registered while
// that uid and flag are connected kicks those connections.
func (s *Server) registerTokenLocked(uid, token string, flag, level int) {
	s.tokens[tokenKey{uid, flag}] = tokenInfo{token: token, level: level}
	if level != 1 {
		return
	}
	now := s.now()
	for o := range s.conns {
		if o.routed && o.uid == uid && o.flag == flag && o.kickedAt.IsZero() {
			o.writeLocked(disconnectFrame(kickTokenReissued))
			o.kickedAt = now
		}
	}
}

func (s *Server) rpcSendLocked(c *conn, id string, p rpcSendParams) {
	msgID := s.nextIDLocked() // allocated even when the send is refused
	hdr := header{NoPersist: p.Header.NoPersist, RedDot: p.Header.RedDot, SyncOnce: p.Header.SyncOnce}
	reply := func(seq int64, code int) {
		c.writeLocked(marshal(response{JSONRPC: "2.0", ID: id, Result: sendResult{
			Header: rpcHdr(hdr), MessageID: strconv.FormatInt(msgID, 10), MessageSeq: seq, ReasonCode: code,
		}}))
	}
	if f := s.takeSendFaultLocked(c.uid); f != nil && f.reason != 0 {
		reply(0, f.reason)
		return
	}
	lose := s.takeLoseFaultLocked(c.uid)
	if p.ChannelType != 1 {
		ch := s.channels[chanKey{p.ChannelID, p.ChannelType}]
		switch {
		case ch != nil && ch.blacklist[c.uid]:
			reply(0, reasonInBlacklist)
			return
		case ch == nil || !ch.subscribers[c.uid]:
			reply(0, reasonSubscriberNotExist)
			return
		}
	}
	cmn := p.ClientMsgNo
	if cmn == "" {
		cmn = genClientMsgNo()
	}
	m := s.storeLocked(sendSpec{
		from: c.uid, channelID: p.ChannelID, channelType: p.ChannelType,
		clientMsgNo: cmn, payload: p.Payload, hdr: hdr, id: msgID, origin: c,
	})
	if lose {
		c.closeLocked() // stored and pushed; the answer never comes
		return
	}
	reply(m.seq, reasonSuccess)
}

// pushLocked sends m to every routed connection of uid but origin, and
// tracks each push for redelivery until acked.
func (s *Server) pushLocked(uid string, m *message, origin *conn) {
	shown := m.channelID
	if m.channelType == 1 && uid == m.channelID {
		shown = m.from // a private message shows the peer as channelId
	}
	hdr := m.sent
	if uid == m.from {
		hdr.RedDot = false // observed: the sender's own copies carry no red dot
	}
	var f []byte
	now := s.now()
	for c := range s.conns {
		if c == origin || !c.routed || c.uid != uid {
			continue
		}
		if f == nil {
			f = recvFrame(m, shown, hdr)
		}
		c.writeLocked(f)
		if s.opts.MaxRetries > 0 {
			c.trackLocked(strconv.FormatInt(m.id, 10), f, now, s.opts.MaxPending)
		}
	}
}

func (c *conn) trackLocked(id string, f []byte, now time.Time, maxPending int) {
	if _, ok := c.pending[id]; !ok {
		c.order = append(c.order, id)
	}
	c.pending[id] = &pendingPush{frame: f, lastSent: now}
	for len(c.pending) > maxPending && len(c.order) > 0 {
		delete(c.pending, c.order[0])
		c.order = c.order[1:]
	}
}

func (c *conn) ackLocked(id string) {
	if _, ok := c.pending[id]; !ok {
		return
	}
	delete(c.pending, id)
	for i, v := range c.order {
		if v == id {
			c.order = append(c.order[:i:i], c.order[i+1:]...)
			break
		}
	}
}

// tickLocked runs the connection timers: refused connects close, kicked
// connections leave routing, idle ones are dropped then closed.
func (s *Server) tickLocked(now time.Time) {
	for c := range s.conns {
		if c.closed {
			continue
		}
		idle := now.Sub(c.lastInbound)
		switch {
		case !c.refusedAt.IsZero() && now.Sub(c.refusedAt) >= s.opts.AuthCloseDelay,
			!c.authed && idle >= s.opts.AuthCloseDelay,
			idle >= s.opts.IdleClose:
			c.closeLocked()
			continue
		}
		if c.routed && !c.kickedAt.IsZero() && now.Sub(c.kickedAt) >= s.opts.KickGrace {
			c.routed = false
			s.notifyLocked()
		}
		if c.routed && idle >= s.opts.IdleTimeout {
			c.routed = false
			s.hookOnlineLocked(c, false) // posted again at the socket close
			s.notifyLocked()
		}
	}
}

// scanLocked sends again every push un-acked for RetryInterval. The real
// server scans every RetryScan, so a push waits between RetryInterval and
// RetryInterval+RetryScan before its first redelivery.
func (s *Server) scanLocked(now time.Time) {
	for c := range s.conns {
		if c.closed {
			continue
		}
		if !c.routed {
			continue
		}
		kept := c.order[:0]
		for _, id := range c.order {
			p := c.pending[id]
			if now.Sub(p.lastSent) < s.opts.RetryInterval {
				kept = append(kept, id)
				continue
			}
			c.writeLocked(p.frame) // identical bytes, no dup flag
			p.lastSent = now
			p.retries++
			if p.retries >= s.opts.MaxRetries {
				delete(c.pending, id)
				s.notifyLocked()
				continue
			}
			kept = append(kept, id)
		}
		c.order = kept
	}
}
