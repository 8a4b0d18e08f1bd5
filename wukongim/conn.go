package wukongim

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

// Bounds of one connection.
const (
	// maxFrame bounds one server frame; a push carries one message.
	maxFrame = 8 << 20
	// outQueue is how many frames (sends, acks) may wait for the writer.
	outQueue = 64
	// maxPending bounds the sends awaiting their result.
	maxPending = 1024
	// maxRefused is how many connects in a row may go unanswered before
	// Run gives up with ErrUnauthorized (fact 10).
	maxRefused = 3
)

// ConnOptions configures a Conn. Zero values mean the documented default.
type ConnOptions struct {
	// URL is the WebSocket address, e.g. ws://127.0.0.1:5210.
	URL string
	// UID and Token authenticate the connection; tokens are per (uid,
	// device flag) (fact 10).
	UID, Token string
	// DeviceFlag is 0 app, 1 web, 2 pc.
	DeviceFlag int
	// DeviceID names this device; another device id with the same uid and
	// flag kicks the older connection (§2.8). Default: a random id per Conn.
	DeviceID string
	// PingInterval is the time between JSON-RPC pings. The server never
	// pings and drops a connection with no inbound frame for ~3 min, so
	// the client must; two intervals without a pong mean the connection
	// is dead. Default 50 s.
	PingInterval time.Duration
	// ConnectTimeout bounds the dial, the wait for the connect result and
	// every frame write. A refused token gets no answer at all (the server
	// closes ~6 s later, fact 10), so no result by then counts as a
	// refusal. Default 10 s.
	ConnectTimeout time.Duration
	// Backoff returns the wait before reconnect number attempt (0-based).
	// Default: 0.5 s doubling to 30 s, with jitter.
	Backoff func(attempt int) time.Duration
	// Log receives connection state changes; nil means none.
	Log *zap.Logger
}

// Conn is the receive connection of one WuKongIM user over JSON-RPC: Run
// owns it; Send and Ack use whichever connection is live. Send and Ack are
// safe for concurrent use; Run must not run twice at once.
type Conn struct {
	url, uid, token string
	deviceFlag      int
	deviceID        string
	ping            time.Duration
	timeout         time.Duration
	backoff         func(int) time.Duration
	log             *zap.Logger

	ids  atomic.Uint64 // request ids, unique over the Conn's life
	gens atomic.Uint64 // session generations, for Ack

	mu  sync.Mutex
	cur *session // the live session; nil when offline
}

// NewConn returns a Conn for o. It does not connect; Run does.
func NewConn(o ConnOptions) *Conn {
	c := &Conn{
		url: o.URL, uid: o.UID, token: o.Token, deviceFlag: o.DeviceFlag, deviceID: o.DeviceID,
		ping: o.PingInterval, timeout: o.ConnectTimeout, backoff: o.Backoff, log: o.Log,
	}
	if c.deviceID == "" {
		var b [16]byte
		_, _ = crand.Read(b[:])
		c.deviceID = hex.EncodeToString(b[:])
	}
	if c.ping <= 0 {
		c.ping = 50 * time.Second
	}
	if c.timeout <= 0 {
		c.timeout = 10 * time.Second
	}
	if c.backoff == nil {
		c.backoff = defaultBackoff
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	c.log = c.log.Named("wukongim")
	return c
}

// DeviceID is the device id the connect frame carries.
func (c *Conn) DeviceID() string { return c.deviceID }

// defaultBackoff is exponential from 500 ms, capped at 30 s, with jitter in
// [d/2, d): a dropped client retries within half a second, and many of them
// do not reconnect in lockstep.
func defaultBackoff(attempt int) time.Duration {
	const base, ceiling = 500 * time.Millisecond, 30 * time.Second
	d := ceiling
	if attempt < 6 {
		d = min(base<<attempt, ceiling)
	}
	return d/2 + rand.N(d/2)
}

// Event is what Run reports: Connected, Recv, Kicked or Disconnected.
type Event interface{ event() }

// Connected reports a connect result with reason code 1: the connection is
// live and Send works. Nothing is pushed on (re)connect (fact 12): the
// caller catches up over HTTP.
type Connected struct{}

// Disconnected reports the end of a live connection; Run reconnects after
// Backoff. Err says why (ErrKicked, a server error frame, no pong, a read
// error…).
type Disconnected struct{ Err error }

// Recv is a pushed message. The receiver must Ack it once it is durable;
// unacknowledged pushes come again identically after about a minute (fact
// 12), and are reported again: receivers deduplicate by MessageID.
type Recv struct {
	Message Message
	Ack     Ack
}

// Kicked reports a disconnect notification with reason code 12: another
// device took over the uid and device flag, or the token was registered
// again. The server leaves the socket open but dead (fact 11), so Conn
// closes it itself; Disconnected follows, and the reconnect waits for a
// backoff that keeps growing while kicks repeat.
type Kicked struct {
	ReasonCode int
	Reason     string // "login in other device" or "账号在其他设备上登录"
}

func (Connected) event()    {}
func (Disconnected) event() {}
func (Recv) event()         {}
func (Kicked) event()       {}

// Ack identifies a push for Conn.Ack: the connection it came on, its
// messageId exactly as the server wrote it, and its seq.
type Ack struct {
	gen        uint64
	messageID  string
	messageSeq int64
}

// errRefused marks a connect that got no result (or a reason code other than
// 1); maxRefused of them in a row mean the token is refused.
var errRefused = errors.New("connect refused")

// Run connects and reconnects until ctx is done, calling on(ev) from its
// reader goroutine, in order. on must return promptly and must not call Send
// (Send waits for a result only this goroutine reads): frames, pongs
// included, are read only between its calls, and a call longer than two
// ping intervals gets the connection declared dead. Run returns nil once
// ctx is done, or an error wrapping ErrUnauthorized after 3 consecutive
// connects got no connect result; dial failures neither count nor reset
// that tally (they say nothing about the token).
func (c *Conn) Run(ctx context.Context, on func(Event)) error {
	refused := 0
	for attempt := 0; ctx.Err() == nil; {
		live, err := c.session(ctx, on)
		if live {
			refused = 0
			on(Disconnected{Err: err})
			if !errors.Is(err, ErrKicked) {
				// A kick is not a recovery: two devices that kick
				// each other must not do so twice a second.
				attempt = 0
			}
		} else if errors.Is(err, errRefused) && ctx.Err() == nil {
			refused++
			if refused >= maxRefused {
				c.log.Warn("wukongim connect refused: check uid, token and device flag", zap.String("uid", c.uid),
					zap.Int("device_flag", c.deviceFlag), zap.Int("tries", refused), zap.Error(err))
				return fmt.Errorf("%w: %d connects in a row got no connect result (last: %v)", ErrUnauthorized, refused, err)
			}
		}
		if ctx.Err() != nil {
			break
		}
		d := c.backoff(attempt)
		attempt++
		c.log.Warn("wukongim connection down", zap.Error(err), zap.Duration("retry_in", d))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	return nil
}

// session is one live connection. After the connect handshake only its
// writer goroutine writes to ws.
type session struct {
	gen  uint64
	ws   *websocket.Conn
	out  chan *outFrame
	done chan struct{} // closed when the session ends

	mu      sync.Mutex // guards pending
	pending map[string]chan json.RawMessage

	// unanswered counts the pings written since the last pong (the
	// writer adds, the reader clears). dead is set by the writer when a
	// ping went a whole interval without its pong; it closes the socket
	// and the reader reports why.
	unanswered atomic.Int32
	dead       atomic.Bool
}

// Frame states: the writer and a giving-up sender race for a queued frame;
// whoever moves it out of queued decides whether it goes on the wire.
const (
	frameQueued int32 = iota
	frameWritten
	frameAbandoned
)

type outFrame struct {
	data  []byte
	state atomic.Int32
}

func (c *Conn) nextID(prefix string) string {
	return prefix + strconv.FormatUint(c.ids.Add(1), 10)
}

func (c *Conn) live() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// session dials, authenticates and then reads until the connection fails.
// live reports whether the connect result came.
func (c *Conn) session(ctx context.Context, on func(Event)) (live bool, err error) {
	dialer := websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: c.timeout}
	dctx, cancel := context.WithTimeout(ctx, c.timeout)
	ws, _, err := dialer.DialContext(dctx, c.url, nil)
	cancel()
	if err != nil {
		return false, fmt.Errorf("dial: %w", err)
	}
	ws.SetReadLimit(maxFrame)
	// Until the writer starts, a cancelled ctx must still unblock the
	// handshake read.
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	err = c.handshake(ws)
	stop()
	if err != nil {
		ws.Close()
		return false, err
	}

	s := &session{
		gen: c.gens.Add(1), ws: ws, out: make(chan *outFrame, outQueue),
		done: make(chan struct{}), pending: make(map[string]chan json.RawMessage),
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writeLoop(ctx, s)
	}()
	defer func() {
		c.mu.Lock()
		if c.cur == s {
			c.cur = nil
		}
		c.mu.Unlock()
		close(s.done)
		ws.Close()
		wg.Wait()
	}()
	c.mu.Lock()
	c.cur = s
	c.mu.Unlock()
	c.log.Info("wukongim connected", zap.String("uid", c.uid), zap.String("device_id", c.deviceID))
	on(Connected{})
	return true, c.readLoop(ctx, s, on)
}

// handshake writes the connect request and waits for its result.
func (c *Conn) handshake(ws *websocket.Conn) error {
	id := c.nextID("c")
	b, err := json.Marshal(outRPC{JSONRPC: jsonrpcVersion, Method: "connect", ID: id, Params: connectParams{
		UID: c.uid, Token: c.token, DeviceFlag: c.deviceFlag, DeviceID: c.deviceID,
		Version: protoVersion, ClientTimestamp: time.Now().UnixMilli(),
	}})
	if err != nil {
		return fmt.Errorf("connect: encode: %w", err)
	}
	deadline := time.Now().Add(c.timeout)
	_ = ws.SetWriteDeadline(deadline)
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("connect: write: %w", err)
	}
	_ = ws.SetReadDeadline(deadline)
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			// Silence, then a close without a close frame, is how
			// the server refuses a token (fact 10).
			return fmt.Errorf("%w: no connect result within %s: %v", errRefused, c.timeout, err)
		}
		var f inRPC
		if typ != websocket.TextMessage || json.Unmarshal(data, &f) != nil {
			c.log.Debug("frame before connect result skipped", zap.ByteString("frame", data))
			continue
		}
		switch {
		case f.Error != nil:
			return fmt.Errorf("connect: server error frame: code %d: %s", f.Error.Code, f.Error.Message)
		case f.ID != id || !f.hasResult():
			c.log.Debug("frame before connect result skipped", zap.ByteString("frame", data))
			continue
		}
		var r connectResult
		if err := json.Unmarshal(f.Result, &r); err != nil {
			return fmt.Errorf("connect: decode result: %w", err)
		}
		if r.ReasonCode != reasonSuccess {
			return fmt.Errorf("%w: %w", errRefused, &ReasonError{Code: r.ReasonCode})
		}
		return nil
	}
}

// writeLoop owns the socket's writes: queued frames and the pings.
func (c *Conn) writeLoop(ctx context.Context, s *session) {
	t := time.NewTicker(c.ping)
	defer t.Stop()
	write := func(b []byte) bool {
		_ = s.ws.SetWriteDeadline(time.Now().Add(c.timeout))
		if err := s.ws.WriteMessage(websocket.TextMessage, b); err != nil {
			c.log.Debug("wukongim write failed", zap.Error(err))
			s.ws.Close() // the reader sees it and ends the session
			return false
		}
		return true
	}
	for {
		select {
		case <-s.done:
			return
		case <-ctx.Done():
			s.ws.Close()
			return
		case f := <-s.out:
			select {
			case <-s.done:
				return
			default:
			}
			if !f.state.CompareAndSwap(frameQueued, frameWritten) {
				continue // its sender gave up first
			}
			if !write(f.data) {
				return
			}
		case <-t.C:
			// The ping of the last tick is still unanswered a whole
			// interval later: the connection is dead (a kicked socket
			// goes silent without closing, fact 11; so may a dead
			// route). Judged here, where the pings are written, so a
			// slow writer cannot make a live connection look dead.
			if s.unanswered.Load() > 0 {
				s.dead.Store(true)
				s.ws.Close()
				return
			}
			// Always with a string id: a ping without one wedges the
			// connection (fact 8).
			b, _ := json.Marshal(outRPC{JSONRPC: jsonrpcVersion, Method: "ping", ID: c.nextID("p")})
			// Counted before the write: its pong may be read before
			// the write returns.
			s.unanswered.Add(1)
			if !write(b) {
				return
			}
		}
	}
}

// readLoop reads frames until the connection fails or must be dropped.
func (c *Conn) readLoop(ctx context.Context, s *session, on func(Event)) error {
	for {
		typ, data, err := s.ws.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if s.dead.Load() {
				return fmt.Errorf("no pong within %s of a ping: connection dead", c.ping)
			}
			return fmt.Errorf("read: %w", err)
		}
		var f inRPC
		if typ != websocket.TextMessage {
			c.log.Debug("non-text frame skipped", zap.Int("type", typ))
			continue
		}
		if err := json.Unmarshal(data, &f); err != nil {
			c.log.Warn("undecodable frame skipped", zap.Error(err), zap.ByteString("frame", head(data)))
			continue
		}
		switch {
		case f.Error != nil:
			// The server's decoder keeps failing on the same bytes
			// from now on; nothing sent on this socket is processed
			// any more (fact 9).
			return fmt.Errorf("server error frame (inbound side wedged): code %d: %s", f.Error.Code, f.Error.Message)
		case f.Method == "recv":
			var p recvParams
			if err := json.Unmarshal(f.Params, &p); err != nil {
				c.log.Warn("undecodable push skipped", zap.Error(err), zap.ByteString("frame", head(data)))
				continue
			}
			m, err := p.message()
			if err != nil {
				c.log.Warn("undecodable push skipped", zap.Error(err), zap.ByteString("frame", head(data)))
				continue
			}
			on(Recv{Message: m, Ack: Ack{gen: s.gen, messageID: p.MessageID, messageSeq: p.MessageSeq}})
		case f.Method == "disconnect":
			var p disconnectParams
			_ = json.Unmarshal(f.Params, &p) // a bad body still ends the session
			if p.ReasonCode == reasonConnectKick {
				c.log.Warn("wukongim: another device took over this uid and device flag; closing this connection",
					zap.String("uid", c.uid), zap.Int("device_flag", c.deviceFlag), zap.String("reason", p.Reason))
				on(Kicked{ReasonCode: p.ReasonCode, Reason: p.Reason})
				return fmt.Errorf("%w: %s", ErrKicked, p.Reason)
			}
			return fmt.Errorf("server disconnect (%s): %w", p.Reason, &ReasonError{Code: p.ReasonCode})
		case f.Method != "":
			c.log.Debug("notification skipped", zap.String("method", f.Method))
		case f.ID != "" && f.hasResult():
			s.resolve(f.ID, f.Result)
		case f.ID != "":
			s.unanswered.Store(0) // a pong
		default:
			c.log.Debug("unclassified frame skipped", zap.ByteString("frame", head(data)))
		}
	}
}

func head(b []byte) []byte {
	if len(b) > 512 {
		return b[:512]
	}
	return b
}

// resolve hands a result to the Send waiting for it.
func (s *session) resolve(id string, result json.RawMessage) {
	s.mu.Lock()
	ch := s.pending[id]
	delete(s.pending, id)
	s.mu.Unlock()
	if ch != nil {
		ch <- result // buffered; one result per id
	}
}

func (s *session) register(id string, ch chan json.RawMessage) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) >= maxPending {
		return false
	}
	s.pending[id] = ch
	return true
}

func (s *session) unregister(id string) {
	s.mu.Lock()
	delete(s.pending, id)
	s.mu.Unlock()
}

// Ack acknowledges a push (recvack) on the connection it came on. It is a
// no-op returning nil when that connection is gone: the server does not
// redeliver to a new connection, and the message comes back through the
// caller's catch-up (fact 12).
func (c *Conn) Ack(a Ack) error {
	s := c.live()
	if s == nil || s.gen != a.gen {
		return nil
	}
	b, err := json.Marshal(outRPC{JSONRPC: jsonrpcVersion, Method: "recvack",
		Params: recvackParams{MessageID: a.messageID, MessageSeq: a.messageSeq}})
	if err != nil {
		return fmt.Errorf("wukongim: recvack: encode: %w", err)
	}
	select {
	case s.out <- &outFrame{data: b}:
	case <-s.done:
	}
	return nil
}

// RPCSendRequest is one message for Conn.Send; the sender is the Conn's uid.
type RPCSendRequest struct {
	Header      Header
	ChannelID   string // for a private message: the recipient uid
	ChannelType uint8
	ClientMsgNo string // "" lets the server generate one
	Payload     []byte // must not be empty
}

// RPCSendResult is the server's answer to a JSON-RPC send.
type RPCSendResult struct {
	MessageID  int64
	MessageSeq int64 // 0 when refused
	ReasonCode int
}

// Send sends a message on the live connection and waits for its result. The
// server checks membership and the blacklist here (fact 13): a reason code
// other than 1 returns the result together with a *ReasonError (3 not a
// member, 4 blacklisted). With no live connection it returns ErrOffline;
// if the connection drops after the frame was written, ErrConnLost (the
// outcome is unknown).
func (c *Conn) Send(ctx context.Context, r RPCSendRequest) (RPCSendResult, error) {
	if len(r.Payload) == 0 {
		return RPCSendResult{}, errors.New("wukongim: send: empty payload")
	}
	s := c.live()
	if s == nil {
		return RPCSendResult{}, ErrOffline
	}
	id := c.nextID("s")
	b, err := json.Marshal(outRPC{JSONRPC: jsonrpcVersion, Method: "send", ID: id, Params: sendParams{
		Header: r.Header.toRPC(), ClientMsgNo: r.ClientMsgNo, ChannelID: r.ChannelID,
		ChannelType: r.ChannelType, Payload: r.Payload,
	}})
	if err != nil {
		return RPCSendResult{}, fmt.Errorf("wukongim: send: encode: %w", err)
	}
	ch := make(chan json.RawMessage, 1)
	if !s.register(id, ch) {
		return RPCSendResult{}, fmt.Errorf("wukongim: send: %d sends already await their result", maxPending)
	}
	defer s.unregister(id)
	f := &outFrame{data: b}
	select {
	case s.out <- f:
	case <-s.done:
		return RPCSendResult{}, ErrOffline
	case <-ctx.Done():
		return RPCSendResult{}, fmt.Errorf("wukongim: send: not sent: %w", ctx.Err())
	}
	var raw json.RawMessage
	select {
	case raw = <-ch:
	case <-s.done:
		select {
		case raw = <-ch: // the result came just before the end
		default:
			if f.state.CompareAndSwap(frameQueued, frameAbandoned) {
				return RPCSendResult{}, ErrOffline
			}
			return RPCSendResult{}, ErrConnLost
		}
	case <-ctx.Done():
		if f.state.CompareAndSwap(frameQueued, frameAbandoned) {
			return RPCSendResult{}, fmt.Errorf("wukongim: send: not sent: %w", ctx.Err())
		}
		return RPCSendResult{}, fmt.Errorf("wukongim: send: sent, no result yet: %w", ctx.Err())
	}
	var sr sendResult
	if err := json.Unmarshal(raw, &sr); err != nil {
		return RPCSendResult{}, fmt.Errorf("wukongim: send: decode result: %w", err)
	}
	res := RPCSendResult{MessageSeq: sr.MessageSeq, ReasonCode: sr.ReasonCode}
	if sr.MessageID != "" {
		if res.MessageID, err = strconv.ParseInt(sr.MessageID, 10, 64); err != nil {
			return res, fmt.Errorf("wukongim: send: result messageId %q: %w", sr.MessageID, err)
		}
	}
	if sr.ReasonCode != reasonSuccess {
		return res, &ReasonError{Code: sr.ReasonCode}
	}
	return res, nil
}
