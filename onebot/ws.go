package onebot

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

// WSOptions configures the forward WebSocket server.
type WSOptions struct {
	Router *Router
	Hub    *Hub
	Log    *zap.Logger
	// AccessToken, when set, is required at the upgrade (Authorization
	// header or ?access_token=). With a token, any Origin is accepted;
	// without one, a browser page from another origin is refused, so a
	// web page cannot drive a loopback bot, and neither can a Host that is
	// not this server's (DNS rebinding: browser.go).
	AccessToken string
	// Address is the configured listen address (host:port), which tells
	// which Host names are this server's; "" allows loopback and the
	// connection's own IP.
	Address string
	Conn    ConnOptions
	// LoginWait is how long an event-carrying client that connects before
	// the platform has logged in waits for the account id before it is
	// answered 503; 0 means 10 s.
	LoginWait time.Duration
	// MaxConns caps the open connections; one more is answered 503 at
	// the upgrade. 0 means DefaultMaxConns.
	MaxConns int
	// BufferSize is how many events are kept while no event client ("/"
	// or "/event") is connected, for the next one to connect (backlog.go);
	// 0 keeps none. BufferBytes bounds them in bytes (0 means
	// DefaultBacklogBytes) and BufferMaxAge in age (0 means
	// DefaultBacklogMaxAge).
	BufferSize   int
	BufferBytes  int64
	BufferMaxAge time.Duration
}

// WSServer is the forward WebSocket server (communication/ws.md): "/"
// carries actions and events, "/api" actions, "/event" events. It tracks
// the connections it upgraded, because http.Server.Shutdown forgets
// hijacked connections: Run closes them (1001) at shutdown and waits for
// their goroutines and actions.
type WSServer struct {
	opts     WSOptions
	token    accessToken
	guard    *browserGuard
	upgrader websocket.Upgrader

	ctx    context.Context // cancelled by Close; parent of every connection
	cancel context.CancelFunc

	mu     sync.Mutex     // guards closed, conns and wg.Add against Close's wg.Wait
	closed bool           //
	conns  int            // connections being upgraded or served
	wg     sync.WaitGroup // connections and their actions

	refusedLog logLimiter // a client retrying in a loop must not flood the log

	backlog *backlog // nil when BufferSize is 0
}

// NewWSServer returns a forward WebSocket server; serve it as an
// http.Handler and run Run (or call Close) to stop its connections.
func NewWSServer(opts WSOptions) *WSServer {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	opts.Conn = opts.Conn.withDefaults()
	if opts.LoginWait <= 0 {
		opts.LoginWait = loginWait
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &WSServer{opts: opts, token: newAccessToken(opts.AccessToken), ctx: ctx, cancel: cancel,
		guard:      newBrowserGuard(opts.AccessToken != "", opts.Address, opts.Log),
		refusedLog: logLimiter{every: time.Minute}}
	if opts.BufferSize > 0 {
		s.backlog = newBacklog(opts.Address, opts.Log, opts.BufferSize,
			cmp.Or(opts.BufferBytes, DefaultBacklogBytes), cmp.Or(opts.BufferMaxAge, DefaultBacklogMaxAge))
		// From now on, until the first event client connects.
		opts.Hub.addBacklog(s.backlog)
	}
	s.upgrader = websocket.Upgrader{HandshakeTimeout: handshakeTimeout}
	if s.token.set {
		s.upgrader.CheckOrigin = func(*http.Request) bool { return true }
	}
	return s
}

// ServeHTTP authenticates and upgrades the request and serves the
// connection until it ends.
func (s *WSServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.guard.allow(w, r) {
		return
	}
	var ro role
	switch r.URL.Path {
	case "/", "":
		ro = roleUniversal
	case "/api", "/api/":
		ro = roleAPI
	case "/event", "/event/":
		ro = roleEvent
	default:
		http.NotFound(w, r)
		return
	}
	if status := s.token.check(r); status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "this is a OneBot WebSocket endpoint: connect with a WebSocket client", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if s.conns >= s.opts.MaxConns {
		s.mu.Unlock()
		if ok, held := s.refusedLog.allow(); ok {
			s.opts.Log.Warn("refused a connection: too many open", zap.String("remote", r.RemoteAddr),
				zap.Int("max", s.opts.MaxConns), zap.Uint64("refusals_not_logged", held))
		}
		w.Header().Set("Retry-After", "3")
		http.Error(w, "too many WebSocket connections (limits.max-ws-connections); retry later", http.StatusServiceUnavailable)
		return
	}
	s.conns++
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.conns--
		s.mu.Unlock()
		s.wg.Done()
	}()

	// ZeroBot takes self_id from the first frame and keys the bot by it, so
	// a lifecycle frame with self_id 0 would register a phantom bot. A
	// client that connects while the platform is still logging in waits for
	// the id, and is asked to come back if the login takes too long.
	if ro.events() && !s.opts.Hub.waitSelfID(r.Context(), s.opts.LoginWait) {
		w.Header().Set("Retry-After", "3")
		http.Error(w, "the platform account is not logged in yet; retry shortly", http.StatusServiceUnavailable)
		return
	}

	hj := &hijacker{ResponseWriter: w}
	conn, err := s.upgrader.Upgrade(hj, r, nil)
	if err != nil {
		return // the upgrader has answered with the HTTP error
	}
	log := s.opts.Log.With(zap.String("remote", r.RemoteAddr), zap.String("role", ro.header()))
	c := newWSConn(conn, ro, s.opts.Router, log, s.opts.Conn, s.ctx, &s.wg)
	c.fc = hj.conn
	if ro.events() {
		// Subscribe before the lifecycle frame is built, so that no event
		// published after it can be missed. The first event client takes
		// the backlog: written after the lifecycle frame, before the queue.
		// The last one to leave hands back what it may not have delivered.
		c.sub, c.pending = s.opts.Hub.join(s.backlog, "ws "+r.RemoteAddr, s.opts.Conn.QueueSize, disconnect)
		defer func() { s.opts.Hub.leave(s.backlog, c.sub, c.pending) }()
		c.hello = s.opts.Hub.lifecycle(LifecycleConnect)
	}
	log.Info("client connected")
	err = c.serve(s.ctx)
	switch {
	case errors.Is(err, errUnreadReplies):
		log.Warn("disconnected a client that sends calls without reading their replies", zap.Error(err),
			zap.Int64("max_unread_bytes", s.opts.Conn.MaxUnreadBytes))
	case errors.Is(err, errTryLater):
		log.Warn("disconnected a client: no memory left to read its call, and it could not be answered", zap.Error(err))
	case errors.Is(err, errSlowClient):
		var dropped uint64
		if c.sub != nil {
			dropped = c.sub.dropped.Load()
		}
		log.Warn("disconnected a client too slow to keep up", zap.Error(err),
			zap.Int("queue", s.opts.Conn.QueueSize), zap.Uint64("events_dropped", dropped))
	case s.ctx.Err() != nil:
		log.Info("client disconnected: shutting down")
	default:
		log.Info("client disconnected", zap.Error(err))
	}
}

// Run waits for ctx, then closes every connection and returns nil once
// their goroutines and actions have finished.
func (s *WSServer) Run(ctx context.Context) error {
	<-ctx.Done()
	return s.Close()
}

// Close refuses new connections, closes the open ones (after a 1001 close
// frame), cancels their actions and waits for all of it.
func (s *WSServer) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	if s.backlog != nil {
		s.opts.Hub.removeBacklog(s.backlog)
	}
	return nil
}
