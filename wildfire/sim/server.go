package sim

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Defaults for Options fields left zero, from the server's code defaults.
const (
	// DefaultAdminSecret is http.admin.secret_key's default.
	DefaultAdminSecret = "123456"
	// DefaultRobotRateLimit is http.robot.rate_limit: requests per rid per
	// 10 s.
	DefaultRobotRateLimit = 1000
	// DefaultAdminRateLimit is http.admin.rate_limit: admin requests per
	// 10 s, all callers together.
	DefaultAdminRateLimit = 10000
	// DefaultRecallTimeLimit is message.recall_time_limit: how long a
	// sender may recall its own message.
	DefaultRecallTimeLimit = 300 * time.Second
	// DefaultCallbackQueue bounds the callback posts waiting for delivery;
	// beyond it a post is dropped and recorded as failed.
	DefaultCallbackQueue = 1024
	// DefaultCallbackWorkers is how many posts are in flight at once. One
	// keeps them in order, which the real thread pool does not promise.
	DefaultCallbackWorkers = 1
	// DefaultCallbackTimeout bounds one callback post (OkHttp's default
	// timeouts are 10 s).
	DefaultCallbackTimeout = 10 * time.Second
	// DefaultMaxMessages caps the stored messages; the oldest go first.
	DefaultMaxMessages = 10000
	// DefaultMaxCallbackRecords caps the kept callback records.
	DefaultMaxCallbackRecords = 4096

	signWindow    = 2 * time.Hour
	maxBody       = 8 << 20
	maxLimiterKey = 10000
)

// Options configures a Server. The zero value gives the server's defaults.
type Options struct {
	// Log receives diagnostics; nil discards them.
	Log *zap.Logger
	// Now is the server clock (signature window, timestamps, rate limits);
	// nil: time.Now.
	Now func() time.Time
	// AdminSecret is http.admin.secret_key; "": DefaultAdminSecret.
	AdminSecret string
	// NoCheckTime is http.admin.no_check_time: the admin signature's
	// timestamp is not checked. The robot check has no such option.
	NoCheckTime bool
	// RobotRateLimit: requests per rid per 10 s; 0: DefaultRobotRateLimit.
	RobotRateLimit int
	// AdminRateLimit: admin requests per 10 s; 0: DefaultAdminRateLimit.
	AdminRateLimit int
	// RecallTimeLimit: 0 means DefaultRecallTimeLimit.
	RecallTimeLimit time.Duration
	// RecallForwardURL is message.recallmsg.forward.url: every recall is
	// posted there as OutputRecallMessageData. "": none.
	RecallForwardURL string
	// CallbackClient posts the callbacks; nil: a client with
	// DefaultCallbackTimeout.
	CallbackClient *http.Client
	// CallbackQueue: 0 means DefaultCallbackQueue.
	CallbackQueue int
	// CallbackWorkers: 0 means DefaultCallbackWorkers.
	CallbackWorkers int
	// MaxMessages: 0 means DefaultMaxMessages.
	MaxMessages int
	// MaxCallbackRecords: 0 means DefaultMaxCallbackRecords.
	MaxCallbackRecords int
}

// Server is an in-process WildfireChat community server. Serve
// RobotHandler() and AdminHandler() (e.g. with two httptest servers) and
// Close it when done. All methods are safe for concurrent use.
type Server struct {
	log  *zap.Logger
	now  func() time.Time
	opts Options

	wg     sync.WaitGroup
	ctx    context.Context // cancelled by Close: aborts callback posts
	cancel context.CancelFunc
	jobs   chan cbJob

	mu      sync.Mutex // guards everything below
	closed  bool
	changed chan struct{}

	users    map[string]*user
	robots   map[string]*robot
	groups   map[string]*group
	friends  map[string][]friend
	msgs     map[int64]*Message
	order    []int64 // message ids, oldest first, for the cap
	lastID   int64
	friendTS int64
	robotSeq int64

	robotLimit *limiter
	adminLimit *limiter
	faults     []*fault

	callbacks []*Callback
	cbSeq     int64
	cbDone    int64
}

// New returns an empty Server: no users, robots or groups.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AdminSecret == "" {
		o.AdminSecret = DefaultAdminSecret
	}
	if o.RobotRateLimit <= 0 {
		o.RobotRateLimit = DefaultRobotRateLimit
	}
	if o.AdminRateLimit <= 0 {
		o.AdminRateLimit = DefaultAdminRateLimit
	}
	if o.RecallTimeLimit <= 0 {
		o.RecallTimeLimit = DefaultRecallTimeLimit
	}
	if o.CallbackQueue <= 0 {
		o.CallbackQueue = DefaultCallbackQueue
	}
	if o.CallbackWorkers <= 0 {
		o.CallbackWorkers = DefaultCallbackWorkers
	}
	if o.MaxMessages <= 0 {
		o.MaxMessages = DefaultMaxMessages
	}
	if o.MaxCallbackRecords <= 0 {
		o.MaxCallbackRecords = DefaultMaxCallbackRecords
	}
	client := o.CallbackClient
	if client == nil {
		client = &http.Client{Timeout: DefaultCallbackTimeout}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		log:        o.Log.Named("wfsim"),
		now:        o.Now,
		opts:       o,
		ctx:        ctx,
		cancel:     cancel,
		jobs:       make(chan cbJob, o.CallbackQueue),
		changed:    make(chan struct{}),
		users:      make(map[string]*user),
		robots:     make(map[string]*robot),
		groups:     make(map[string]*group),
		friends:    make(map[string][]friend),
		msgs:       make(map[int64]*Message),
		lastID:     590000000000000000, // the real ids are ~5.9e17, far above 2^53
		robotLimit: newLimiter(o.RobotRateLimit),
		adminLimit: newLimiter(o.AdminRateLimit),
	}
	for i := 0; i < o.CallbackWorkers; i++ {
		s.wg.Add(1)
		go s.postLoop(client)
	}
	return s
}

// RobotHandler returns the robot API handler (the server's client
// http_port, routes under /robot/...).
func (s *Server) RobotHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, false) })
}

// AdminHandler returns the admin API handler (http.admin.port, routes
// under /admin/...).
func (s *Server) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, true) })
}

// Close stops the callback workers, aborting posts in flight, and waits for
// them. Later API requests get HTTP 503. Close is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		s.cancel()
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

var errClosed = errors.New("wfsim: server closed")

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

// limiter is the server's leaky bucket (win.liyufan.im.RateLimiter): each
// request adds 1000 units, the bucket leaks limit units per second per
// 1000, and a request is refused when the bucket holds limit*1000. A
// refused request still moves the clock of its key.
type limiter struct {
	rate      float64 // units per ms
	capacity  int64
	count     map[string]int64
	last      map[string]int64
	lastClean int64
}

func newLimiter(perTenSeconds int) *limiter {
	return &limiter{
		rate:     float64(perTenSeconds) / 10,
		capacity: int64(perTenSeconds) * 1000,
		count:    make(map[string]int64),
		last:     make(map[string]int64),
	}
}

// grant reports whether key may make a request at nowMs. The keys are
// bounded: stale (fully leaked) ones are forgotten when the table is full,
// and a new key is refused if it is still full.
func (l *limiter) grant(key string, nowMs int64) bool {
	const expire = int64(2 * time.Hour / time.Millisecond)
	if nowMs-l.lastClean > expire {
		for k, t := range l.last {
			if t < nowMs-expire {
				delete(l.last, k)
				delete(l.count, k)
			}
		}
		l.lastClean = nowMs
	}
	last, ok := l.last[key]
	if !ok {
		if len(l.last) >= maxLimiterKey {
			for k, t := range l.last {
				if l.count[k]-int64(float64(nowMs-t)*l.rate) <= 0 {
					delete(l.last, k)
					delete(l.count, k)
				}
			}
			if len(l.last) >= maxLimiterKey {
				return false
			}
		}
		l.last[key] = nowMs
		l.count[key] = 1000
		return true
	}
	c := l.count[key] - int64(float64(nowMs-last)*l.rate)
	if c < 0 {
		c = 0
	}
	l.last[key] = nowMs
	if c < l.capacity {
		l.count[key] = c + 1000
		return true
	}
	l.count[key] = c
	return false
}
