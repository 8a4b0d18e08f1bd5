package sim

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Defaults for Options fields left zero. The real values come from the
// server's defaults (connIdleTime 3 min, message retry 60 s scanned every
// 30 s, at most 5 tries) and from what the transcript observed.
const (
	// DefaultAuthCloseDelay is how long a refused connect waits before the
	// socket is closed (observed: ~6 s, the pre-auth idle limit).
	DefaultAuthCloseDelay = 6 * time.Second
	// DefaultKickGrace is how long a kicked connection keeps being routed
	// after its disconnect frame (observed: it answered a ping 2 s later).
	DefaultKickGrace = 2 * time.Second
	// DefaultRetryInterval is the age at which an un-acked push is sent
	// again (observed: 60-90 s).
	DefaultRetryInterval = 60 * time.Second
	// DefaultRetryScan is the period of the redelivery scan.
	DefaultRetryScan = 30 * time.Second
	// DefaultMaxRetries bounds how often one push is sent again.
	DefaultMaxRetries = 5
	// DefaultIdleTimeout drops a connection from routing when it sent no
	// frame for this long (observed: 3 min 2 s).
	DefaultIdleTimeout = 3 * time.Minute
	// DefaultIdleClose closes the socket of a connection silent this long
	// (observed: 3 min 57 s to 4 min 30 s).
	DefaultIdleClose = 4*time.Minute + 30*time.Second
	// DefaultTick is the period of the housekeeping scan (retries, idle
	// checks, delayed closes).
	DefaultTick = time.Second
	// DefaultMaxMessagesPerChannel caps the messages kept per channel; the
	// oldest are forgotten first.
	DefaultMaxMessagesPerChannel = 10000
	// DefaultMaxConnections caps concurrent WebSocket connections.
	DefaultMaxConnections = 1024
	// DefaultMaxPending caps un-acked pushes tracked per connection.
	DefaultMaxPending = 1024

	writeTimeout = 10 * time.Second
	outQueue     = 1024    // frames queued per connection before it counts as stalled
	maxBody      = 8 << 20 // HTTP request body limit
	maxFrame     = 1 << 20 // WebSocket frame limit
	maxSyncOnce  = 1024    // sync_once messages kept per uid
)

// Options configures a Server. The zero value gives the real server's
// timings; tests shorten them.
type Options struct {
	// Log receives diagnostics; nil discards them.
	Log *zap.Logger
	// Now is the clock for message timestamps and timers; nil: time.Now.
	Now func() time.Time
	// AuthCloseDelay: 0 means DefaultAuthCloseDelay.
	AuthCloseDelay time.Duration
	// KickGrace: 0 means DefaultKickGrace, negative means none.
	KickGrace time.Duration
	// RetryInterval: 0 means DefaultRetryInterval.
	RetryInterval time.Duration
	// RetryScan: 0 means DefaultRetryScan.
	RetryScan time.Duration
	// MaxRetries: 0 means DefaultMaxRetries, negative disables redelivery.
	MaxRetries int
	// IdleTimeout: 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// IdleClose: 0 means DefaultIdleClose. It is measured, like
	// IdleTimeout, from the connection's last inbound frame.
	IdleClose time.Duration
	// Tick: 0 means DefaultTick. Timers fire with this granularity.
	Tick time.Duration
	// MaxMessagesPerChannel: 0 means DefaultMaxMessagesPerChannel.
	MaxMessagesPerChannel int
	// MaxConnections: 0 means DefaultMaxConnections.
	MaxConnections int
	// MaxPending: 0 means DefaultMaxPending.
	MaxPending int
	// WebhookURL, when set, receives webhook posts (POST WebhookURL?event=…):
	// msg.notify, msg.offline and user.onlinestatus, unsigned like the
	// real ones.
	WebhookURL string
	// WebhookClient posts them; nil means a client with a 5 s timeout.
	WebhookClient *http.Client
}

// Server is an in-process WuKongIM server. Serve Handler() and WSHandler()
// (e.g. with two httptest servers) and Close it when done. All methods are
// safe for concurrent use.
type Server struct {
	log  *zap.Logger
	now  func() time.Time
	opts Options // normalised, immutable after New

	wg   sync.WaitGroup // janitor, every WebSocket reader and writer
	stop chan struct{}  // closed by Close

	mu      sync.Mutex // guards everything below
	closed  bool
	changed chan struct{} // closed and replaced on every observable change

	tokens   map[tokenKey]tokenInfo
	channels map[chanKey]*channel
	convs    map[string]map[chanKey]*conversation // uid → conversations
	syncOnce map[string][]*message                // uid → sync_once messages
	conns    map[*conn]struct{}
	lastID   int64
	connSeq  int64
	faults   []*fault
	// sendFaults are the RefuseSends and LoseSendAnswers to come.
	sendFaults []*sendFault
	holds      int           // > 0: connects are refused silently
	inbound    int64         // WebSocket data frames handled, for tests to sync on
	hooks      chan hookPost // nil without a webhook URL

	hookCtx    context.Context // cancelled by Close: aborts a post in flight
	hookCancel context.CancelFunc
}

// New returns an empty Server: no tokens, no channels.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.AuthCloseDelay, DefaultAuthCloseDelay)
	def(&o.KickGrace, DefaultKickGrace)
	def(&o.RetryInterval, DefaultRetryInterval)
	def(&o.RetryScan, DefaultRetryScan)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.IdleClose, DefaultIdleClose)
	def(&o.Tick, DefaultTick)
	if o.KickGrace < 0 {
		o.KickGrace = 0
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.MaxMessagesPerChannel <= 0 {
		o.MaxMessagesPerChannel = DefaultMaxMessagesPerChannel
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	s := &Server{
		log:      o.Log.Named("wksim"),
		now:      o.Now,
		opts:     o,
		stop:     make(chan struct{}),
		changed:  make(chan struct{}),
		tokens:   make(map[tokenKey]tokenInfo),
		channels: make(map[chanKey]*channel),
		convs:    make(map[string]map[chanKey]*conversation),
		syncOnce: make(map[string][]*message),
		conns:    make(map[*conn]struct{}),
	}
	s.wg.Add(1)
	go s.janitor()
	if o.WebhookURL != "" {
		client := o.WebhookClient
		if client == nil {
			client = defaultHookClient()
		}
		s.hooks = make(chan hookPost, hookQueue)
		s.hookCtx, s.hookCancel = context.WithCancel(context.Background())
		s.wg.Add(1)
		go s.hookLoop(o.WebhookURL, client)
	}
	return s
}

// Handler returns the HTTP API handler (the real server's port 5011).
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveAPI) }

// WSHandler returns the JSON-RPC WebSocket handler (the real server's
// port 5210); it upgrades on any path.
func (s *Server) WSHandler() http.Handler { return http.HandlerFunc(s.serveWS) }

// URLs are the addresses a client needs.
type URLs struct {
	API string // HTTP API base, e.g. http://127.0.0.1:5011
	WS  string // WebSocket URL, e.g. ws://127.0.0.1:5210
}

// Endpoints derives the client URLs from the base URLs the two handlers are
// served at (http:// or https://; the WebSocket one becomes ws:// or wss://).
func Endpoints(apiBaseURL, wsBaseURL string) URLs {
	return URLs{
		API: strings.TrimSuffix(apiBaseURL, "/"),
		WS:  "ws" + strings.TrimPrefix(strings.TrimSuffix(wsBaseURL, "/"), "http"),
	}
}

// Close closes every WebSocket connection abruptly, stops the timers and
// waits for every goroutine of the Server. Later requests get HTTP 503.
// Close is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
		if s.hookCancel != nil {
			s.hookCancel()
		}
		for c := range s.conns {
			c.closeLocked()
		}
		s.notifyLocked()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// notifyLocked wakes every waiter by closing and replacing the channel.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// errClosed is returned by waits on a closed Server.
var errClosed = errors.New("wksim: server closed")

// waitFor blocks until cond (evaluated under mu) holds or ctx ends.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok, ch, closed := cond(), s.changed, s.closed
		s.mu.Unlock()
		if ok {
			return nil
		}
		if closed {
			return errClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// janitor runs the timers: delayed closes, kick grace, idle drops and
// redelivery. One goroutine for all connections keeps ownership simple.
func (s *Server) janitor() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	lastScan := s.now()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			now := s.now()
			s.tickLocked(now)
			if now.Sub(lastScan) >= s.opts.RetryScan {
				lastScan = now
				s.scanLocked(now)
			}
			s.mu.Unlock()
		}
	}
}
