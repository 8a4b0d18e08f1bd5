package onebot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// ActionFunc handles one action. It returns the response data (marshalled
// to JSON; a json.RawMessage is used as is; nil is null) or an error:
// an *ActionError carries its own retcode, anything else is retcode 100.
// It must honour ctx: transports cancel it on timeout and shutdown.
type ActionFunc func(ctx context.Context, req *Request) (any, error)

// RouterOptions configures a Router; zero values take the defaults.
type RouterOptions struct {
	Log *zap.Logger
	// RateLimitInterval is the gap between two _rate_limited calls
	// (api/README.md); 0 means DefaultRateLimitInterval, negative none.
	RateLimitInterval time.Duration
	// RateLimitQueue is how many _rate_limited calls may wait; beyond it a
	// call fails at once with 1429. 0 means 1024. Their params also count
	// against Limits (at most half of MaxRequestBytes for all background
	// calls together).
	RateLimitQueue int
	// MaxAsync caps the _async calls running at once; beyond it a call
	// fails at once with 1429. 0 means 256. Their params count against
	// Limits as for RateLimitQueue.
	MaxAsync int
	// ActionTimeout bounds each _async and _rate_limited call; 0 means
	// DefaultActionTimeout.
	ActionTimeout time.Duration
	// Limits bounds the actions and request memory of every transport
	// serving this Router together (limits.go).
	Limits LimitsOptions
	// OnAction, when set, is told of every call once it has run (an
	// _async or _rate_limited one when it ran in the background): the
	// registered name without suffix, or "" for a name that is not
	// registered (so what it reports is bounded by the table, whatever
	// clients send), the retcode and how long the handler took. It must
	// be quick; the daemon feeds its metrics from it.
	OnAction func(action string, retcode int, took time.Duration)
}

// Router is the action table shared by every transport. Register actions,
// start Run (it owns the background work of _async and _rate_limited
// calls), and hand the Router to the transports.
type Router struct {
	log      *zap.Logger
	onAction func(string, int, time.Duration) // nil = nobody

	rateInterval  time.Duration
	actionTimeout time.Duration

	// actions is replaced whole by Register (copy on write), so Handle
	// reads it without a lock.
	actions atomic.Pointer[map[string]ActionFunc]
	regMu   sync.Mutex // serialises Register

	// limits is shared by every transport; the background calls hold
	// their params' bytes in it until they have run.
	limits    *limiter
	rateQueue chan rateJob
	asyncSem  chan struct{}

	// bgCtx is what _async calls run under; Run's exit cancels it.
	bgCtx    context.Context
	bgCancel context.CancelFunc

	mu      sync.Mutex // guards the flags below, and wg.Add against Run's wg.Wait
	running bool
	stopped bool
	wg      sync.WaitGroup // _async calls
}

type rateJob struct {
	fn  ActionFunc
	req *Request
	g   *grant // the bytes of req.Params
}

// NewRouter returns a Router holding only the built-in
// .handle_quick_operation (api/hidden.md).
func NewRouter(opts RouterOptions) *Router {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.RateLimitInterval == 0 {
		opts.RateLimitInterval = DefaultRateLimitInterval
	}
	if opts.RateLimitQueue <= 0 {
		opts.RateLimitQueue = 1024
	}
	if opts.MaxAsync <= 0 {
		opts.MaxAsync = 256
	}
	if opts.ActionTimeout <= 0 {
		opts.ActionTimeout = DefaultActionTimeout
	}
	r := &Router{
		log:           opts.Log,
		onAction:      opts.OnAction,
		rateInterval:  opts.RateLimitInterval,
		actionTimeout: opts.ActionTimeout,
		limits:        newLimiter(opts.Limits),
		rateQueue:     make(chan rateJob, opts.RateLimitQueue),
		asyncSem:      make(chan struct{}, opts.MaxAsync),
	}
	r.bgCtx, r.bgCancel = context.WithCancel(context.Background())
	r.actions.Store(&map[string]ActionFunc{})
	r.Register(".handle_quick_operation", r.handleQuickOperation)
	return r
}

// Register adds the action name. It may be called at any time, also while
// transports serve; registering a name twice panics, as it is a bug.
func (r *Router) Register(name string, fn ActionFunc) {
	if name == "" || fn == nil {
		panic("onebot: Register needs a name and a func")
	}
	r.regMu.Lock()
	defer r.regMu.Unlock()
	old := *r.actions.Load()
	if _, dup := old[name]; dup {
		panic("onebot: action registered twice: " + name)
	}
	m := make(map[string]ActionFunc, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[name] = fn
	r.actions.Store(&m)
}

// Actions returns the registered action names, sorted. Each also answers
// with an _async and a _rate_limited suffix.
func (r *Router) Actions() []string {
	m := *r.actions.Load()
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

type callMode int

const (
	modeSync callMode = iota
	modeAsync
	modeRateLimited
)

// Handle runs one action call and returns its response (without echo,
// which the transport adds). A name registered as is wins; otherwise an
// _async suffix answers "async" at once and runs the call in the
// background, and _rate_limited queues it to run one call per interval.
// A panicking handler is recovered, logged with its stack and answered as
// a failure.
//
// Handle takes no action slot of the shared limits: its callers (the
// quick operations of HTTP POST, tests) bound their own concurrency. An
// _async or _rate_limited call still charges its params to the limits
// while it waits and runs.
func (r *Router) Handle(ctx context.Context, action string, params json.RawMessage) Response {
	g := r.limits.grant()
	defer g.release()
	return r.handle(ctx, action, params, g)
}

// handle is Handle for a transport, whose request holds g. An _async or
// _rate_limited call takes g over (its params live in the request's
// bytes); otherwise g stays the caller's to release.
func (r *Router) handle(ctx context.Context, action string, params json.RawMessage, g *grant) Response {
	actions := *r.actions.Load()
	name, mode := action, modeSync
	fn := actions[name]
	if fn == nil {
		if base, ok := strings.CutSuffix(action, "_async"); ok {
			name, mode, fn = base, modeAsync, actions[base]
		} else if base, ok := strings.CutSuffix(action, "_rate_limited"); ok {
			name, mode, fn = base, modeRateLimited, actions[base]
		}
	}
	if fn == nil {
		r.log.Debug("unknown action", zap.String("action", action))
		if r.onAction != nil {
			r.onAction("", RetcodeUnknownAction, 0)
		}
		return failure(ErrUnknownAction(action))
	}
	params, perr := normalizeParams(params)
	if perr != nil {
		if r.onAction != nil {
			r.onAction(name, perr.Retcode, 0)
		}
		return failure(perr)
	}
	req := &Request{Action: name, Params: params}
	switch mode {
	case modeAsync:
		return r.startAsync(fn, req, g)
	case modeRateLimited:
		return r.enqueue(fn, req, g)
	}
	return r.call(ctx, fn, req)
}

// normalizeParams makes params a JSON object: absent or null is {}.
func normalizeParams(p json.RawMessage) (json.RawMessage, *ActionError) {
	p = bytes.TrimSpace(p)
	if len(p) == 0 || string(p) == "null" {
		return json.RawMessage("{}"), nil
	}
	if p[0] != '{' {
		return nil, ErrBadParams("params: expected an object, got %s", describe(p))
	}
	return p, nil
}

func (r *Router) call(ctx context.Context, fn ActionFunc, req *Request) (resp Response) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("action panicked", zap.String("action", req.Action),
				zap.String("panic", fmt.Sprint(p)), zap.ByteString("stack", debug.Stack()))
			resp = failure(&ActionError{
				Retcode: RetcodeFailed,
				Msg:     "internal error",
				Wording: "the action failed unexpectedly; the OneBot log has the details",
			})
		}
		if r.onAction != nil {
			r.onAction(req.Action, resp.Retcode, time.Since(start))
		}
		if ce := r.log.Check(zap.DebugLevel, "action"); ce != nil {
			ce.Write(zap.String("action", req.Action), zap.Int("retcode", resp.Retcode),
				zap.Duration("took", time.Since(start)))
		}
	}()
	data, err := fn(ctx, req)
	if err != nil {
		resp = toResponse(nil, err)
		if resp.Retcode == RetcodeFailed {
			r.log.Warn("action failed", zap.String("action", req.Action), zap.Error(err))
		}
		return resp
	}
	raw, err := encodeData(data)
	if err != nil {
		r.log.Error("action result cannot be encoded", zap.String("action", req.Action), zap.Error(err))
		return failure(ErrFailed("internal error: result not encodable", err))
	}
	return toResponse(raw, nil)
}

func encodeData(data any) (json.RawMessage, error) {
	switch d := data.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return d, nil
	}
	return marshal(data)
}

// background adds an _async call to wg; ok is false once Run has ended.
func (r *Router) background() (ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return false
	}
	r.wg.Add(1)
	return true
}

var errNotRunning = &ActionError{
	Retcode: RetcodeFailed,
	Msg:     "not running",
	Wording: "OneBot is stopping: background calls are not accepted",
}

func (r *Router) startAsync(fn ActionFunc, req *Request, g *grant) Response {
	select {
	case r.asyncSem <- struct{}{}:
	default:
		return failure(&ActionError{Retcode: RetcodeTooManyRequests, Msg: "too many requests",
			Wording: fmt.Sprintf("%d _async calls are already running; retry later", cap(r.asyncSem))})
	}
	if !g.toBackground(len(req.Params)) {
		<-r.asyncSem
		return failure(r.limits.tooMany(boundBackground))
	}
	if !r.background() {
		<-r.asyncSem
		return failure(errNotRunning) // g is still the caller's to release
	}
	held := g.handOff()
	go func() {
		defer r.wg.Done()
		defer func() { <-r.asyncSem }()
		defer held.release()
		r.runBackground(r.bgCtx, fn, req)
	}()
	return asyncResponse()
}

func (r *Router) enqueue(fn ActionFunc, req *Request, g *grant) Response {
	r.mu.Lock()
	stopped := r.stopped
	r.mu.Unlock()
	if stopped {
		return failure(errNotRunning)
	}
	if !g.toBackground(len(req.Params)) {
		return failure(r.limits.tooMany(boundBackground))
	}
	held := g.handOff()
	select {
	case r.rateQueue <- rateJob{fn: fn, req: req, g: held}:
		return asyncResponse()
	default:
		held.release()
		return failure(&ActionError{Retcode: RetcodeTooManyRequests, Msg: "too many requests",
			Wording: fmt.Sprintf("%d _rate_limited calls are already waiting; retry later", cap(r.rateQueue))})
	}
}

func (r *Router) runBackground(ctx context.Context, fn ActionFunc, req *Request) {
	ctx, cancel := context.WithTimeout(ctx, r.actionTimeout)
	defer cancel()
	resp := r.call(ctx, fn, req)
	if resp.Retcode != RetcodeOK && resp.Retcode != RetcodeFailed { // 100 was logged by call
		r.log.Warn("background action failed", zap.String("action", req.Action),
			zap.Int("retcode", resp.Retcode), zap.String("message", resp.Message))
	}
}

// Run runs the _rate_limited queue until ctx is done, then cancels the
// _async calls, waits for them and returns nil. _async calls start at once
// even before Run; _rate_limited calls wait for it. Once Run has ended,
// both fail at once. Run runs once.
func (r *Router) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running || r.stopped {
		r.mu.Unlock()
		return fmt.Errorf("onebot router: Run called twice")
	}
	r.running = true
	r.mu.Unlock()

	defer func() {
		r.mu.Lock()
		r.running, r.stopped = false, true
		r.mu.Unlock()
		r.bgCancel()
		r.wg.Wait()
		dropped := 0
		for {
			select {
			case job := <-r.rateQueue:
				job.g.release()
				dropped++
				continue
			default:
			}
			break
		}
		if dropped > 0 {
			r.log.Warn("shutting down: _rate_limited calls not run", zap.Int("calls", dropped))
		}
	}()

	for {
		select {
		case <-ctx.Done():
			return nil
		case job := <-r.rateQueue:
			r.runBackground(ctx, job.fn, job.req)
			job.g.release()
			if !sleep(ctx, r.rateInterval) {
				return nil
			}
		}
	}
}
