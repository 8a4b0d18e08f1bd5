package wildfire

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wf "github.com/yunhu-onebot/yunhu-onebot/wildfire"
)

// Receive: callbacks → platform events.
//
//	POST /<secret>/message ─┐                       ┌─ 200 to each
//	POST /<secret>/recall  ─┴▶ bounded queue ─▶ delivering goroutine:
//	                            take what is queued (a batch) → sink.Deliver
//
// The server POSTs each message once and never retries, and keeps no
// inbox for a robot with a callback: a 200 must mean the events are
// durable, so the handler answers only after the Deliver that carried
// them returned nil, and 503 otherwise (the server logs it; the message
// is lost to the daemon, which is WildfireChat's design). Callbacks that
// arrive while Deliver runs go in the next batch, in arrival order. A
// full queue makes the handlers wait, the only back-pressure there is.

const (
	// callbackQueue bounds the callbacks waiting for the delivering
	// goroutine.
	callbackQueue = 1024
	// maxDeliverBatch bounds one Deliver.
	maxDeliverBatch = 1024
	// maxCallbackBody bounds one callback's body.
	maxCallbackBody = 1 << 20
	// mediaPrefix is where Handler serves hosted media.
	mediaPrefix = "/media/"
)

// pending is one callback's events waiting for their Deliver.
type pending struct {
	events []platform.Event
	done   chan error // buffered: the delivering goroutine never waits
}

// receiver is the state of one Run.
type receiver struct {
	ch   chan *pending
	stop <-chan struct{}
}

// Run delivers Online, then serves the callbacks into sink until ctx is
// done; it never reports Offline, since the server pushes by callback
// and nothing here can tell it is down. It registers
// Options.RegisterCallback first, if set. Its goroutines (delivery, the
// media pruner) end before it returns; it returns nil once ctx is done.
func (b *Backend) Run(ctx context.Context, sink platform.Sink) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &receiver{ch: make(chan *pending, b.queue), stop: ctx.Done()}
	if !b.run.CompareAndSwap(nil, r) {
		return errors.New("wildfire: Run is already running")
	}
	defer b.run.CompareAndSwap(r, nil)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		r.deliver(ctx, sink, b.log)
	}()
	go func() {
		defer wg.Done()
		b.media.Run(ctx)
	}()
	defer wg.Wait()
	defer cancel()
	if b.reg != "" {
		b.registerCallback(ctx)
	}
	<-ctx.Done()
	return nil
}

// registerCallback sets the robot's callback URL, retrying with backoff
// while the server cannot be reached: without it no message arrives.
func (b *Backend) registerCallback(ctx context.Context) {
	wait := time.Second
	for {
		err := b.c.SetCallback(ctx, b.reg)
		if err == nil {
			b.log.Info("callback URL registered with WildfireChat")
			return
		}
		if ctx.Err() != nil {
			return
		}
		b.log.Warn("register the callback URL (wildfire.set-callback-url); retrying", zap.Duration("in", wait), zap.Error(err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, time.Minute)
	}
}

// deliver delivers Online, then takes what is queued, up to
// maxDeliverBatch events, delivers it as one batch and answers each
// callback of it, until ctx is done. Online goes first from here so that
// no callback can overtake it.
func (r *receiver) deliver(ctx context.Context, sink platform.Sink, log *zap.Logger) {
	if err := sink.Deliver(ctx, []platform.Event{platform.Online{}}); err != nil && ctx.Err() == nil {
		log.Warn("deliver online", zap.Error(err))
	}
	var batch []*pending
	var events []platform.Event
	for {
		var p *pending
		select {
		case <-ctx.Done():
			return
		case p = <-r.ch:
		}
		batch, events = append(batch[:0], p), append(events[:0], p.events...)
	more:
		for len(events) < maxDeliverBatch {
			select {
			case p = <-r.ch:
				batch, events = append(batch, p), append(events, p.events...)
			default:
				break more
			}
		}
		err := sink.Deliver(ctx, events)
		if err != nil && ctx.Err() == nil {
			log.Error("deliver callbacks; answering 503", zap.Int("events", len(events)), zap.Error(err))
		}
		for _, p := range batch {
			p.done <- err
		}
		clear(batch)
		clear(events)
	}
}

// Handler serves the server's callbacks: POST /<secret>/message
// (OutputMessageData) and /<secret>/recall (OutputRecallMessageData,
// the server's message.recallmsg.forward.url), from the allowed sources
// only; and the hosted media, to anyone, under /media/.
func (b *Backend) Handler() http.Handler {
	return http.HandlerFunc(b.serve)
}

// CallbackAddress is where the daemon serves Handler.
func (b *Backend) CallbackAddress() string { return b.address }

func (b *Backend) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, mediaPrefix) {
		b.media.Handler().ServeHTTP(w, r)
		return
	}
	if !b.allowed(r.RemoteAddr) {
		http.Error(w, "forbidden: the source is not in wildfire.callback.allow", http.StatusForbidden)
		return
	}
	kind, ok := b.route(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallbackBody))
	if err != nil {
		http.Error(w, "bad request: "+bodyError(err), http.StatusBadRequest)
		return
	}
	var events []platform.Event
	switch kind {
	case "message":
		m, err := wf.ParseMessage(body)
		if err != nil {
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		events = b.messageEvents(&m)
	case "recall":
		n, err := wf.ParseRecallNotice(body)
		if err != nil {
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		if ev := b.recallNotice(&n); ev != nil {
			events = []platform.Event{ev}
		}
	}
	if err := b.handOver(r.Context(), events); err != nil {
		http.Error(w, "unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// errNotReceiving answers callbacks while Run is not running.
var errNotReceiving = errors.New("the daemon is not receiving")

// handOver queues events for Deliver and waits for its outcome. A
// callback without events is answered at once, unless the daemon is not
// receiving at all.
func (b *Backend) handOver(ctx context.Context, events []platform.Event) error {
	r := b.run.Load()
	if r == nil {
		return errNotReceiving
	}
	if len(events) == 0 {
		return nil
	}
	p := &pending{events: events, done: make(chan error, 1)}
	select {
	case r.ch <- p:
	case <-r.stop:
		return errNotReceiving
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.done:
		if err != nil {
			return fmt.Errorf("not stored: %w", err)
		}
		return nil
	case <-r.stop:
		return errNotReceiving
	case <-ctx.Done():
		return ctx.Err()
	}
}

// route returns "message" or "recall" for /<secret>/<kind>.
func (b *Backend) route(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/")
	if !ok {
		return "", false
	}
	secret, kind, ok := strings.Cut(rest, "/")
	if !ok || subtle.ConstantTimeCompare([]byte(secret), []byte(b.secret)) != 1 {
		return "", false
	}
	if kind != "message" && kind != "recall" {
		return "", false
	}
	return kind, true
}

// allowed reports whether a request from addr (host:port) may call back.
func (b *Backend) allowed(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range b.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func bodyError(err error) string {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return fmt.Sprintf("body over %d bytes", mb.Limit)
	}
	return "reading the body: " + err.Error()
}
