package onebot

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/internal/redact"
)

// HTTPPostOptions configures event delivery to one webhook.
type HTTPPostOptions struct {
	Router *Router
	Hub    *Hub
	Log    *zap.Logger
	URL    string
	// Secret, when set, signs each body: X-Signature: sha1=<hex HMAC-SHA1>.
	Secret string
	// Timeout bounds one delivery attempt (request and reply); 0 means
	// none (communication/http-post.md).
	Timeout time.Duration
	// MaxRetries is how many times a failed delivery is tried again
	// (network errors, 5xx and 429; other statuses are the receiver's
	// answer and are not retried).
	MaxRetries int
	// RetryInterval is the wait before the first retry, doubling for each
	// next one up to 8 times; 0 means 500 ms.
	RetryInterval time.Duration
	// QueueSize is how many events wait for the webhook; beyond it the
	// oldest are dropped. 0 means DefaultQueueSize.
	QueueSize int
	// ActionTimeout bounds each quick-operation action; 0 means
	// DefaultActionTimeout.
	ActionTimeout time.Duration
	UserAgent     string
	// Client sends the requests; nil means a client of its own.
	Client *http.Client
}

// HTTPPost delivers every event to one URL (communication/http-post.md)
// from a worker of its own: a slow or dead webhook delays only itself.
// The webhook gets lifecycle "enable" first, once the account id is known
// (after login), and "disable" at shutdown.
type HTTPPost struct {
	opts      HTTPPostOptions
	sub       *subscription
	ownClient bool // opts.Client was made here, so Run closes its connections
}

// maxReplyBytes bounds a webhook's reply (a quick operation).
const maxReplyBytes = 1 << 20

// NewHTTPPost returns the worker; start it with Run. It subscribes to the
// hub here, so every event published from now on is delivered (or counted
// as dropped), even before Run starts.
func NewHTTPPost(opts HTTPPostOptions) *HTTPPost {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	opts.Log = opts.Log.With(zap.String("url", redactURL(opts.URL)))
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = 500 * time.Millisecond
	}
	if opts.ActionTimeout <= 0 {
		opts.ActionTimeout = DefaultActionTimeout
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "yunhu-onebot"
	}
	own := opts.Client == nil
	if own {
		opts.Client = &http.Client{
			Transport: &http.Transport{
				Proxy:               http.ProxyFromEnvironment,
				MaxIdleConnsPerHost: 2,
				IdleConnTimeout:     90 * time.Second,
			},
			// A redirect would re-send the body unsigned for another URL.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	// Offline (no heartbeats queued) until lifecycle enable is delivered:
	// a heartbeat built before login would carry self_id 0.
	sub := opts.Hub.subscribe("http-post "+redactURL(opts.URL), opts.QueueSize, dropOldest)
	return &HTTPPost{opts: opts, sub: sub, ownClient: own}
}

// Run waits for the account id, posts lifecycle "enable", delivers events
// until ctx is done, then posts lifecycle "disable" (one short attempt) and
// returns nil. Events still queued are dropped; stopped before login, it
// posts nothing at all.
func (p *HTTPPost) Run(ctx context.Context) error {
	sub := p.sub
	defer p.opts.Hub.unsubscribe(sub)
	if p.ownClient {
		// Kept-alive connections would outlive Run by IdleConnTimeout.
		defer p.opts.Client.CloseIdleConnections()
	}
	log := p.opts.Log
	failLog := logLimiter{every: 30 * time.Second}

	deliver := func(data []byte) {
		err := p.deliver(ctx, data)
		switch {
		case err == nil:
			sub.online.Store(true)
		case ctx.Err() != nil:
		default:
			// Offline: heartbeats stop queueing until a delivery works.
			sub.online.Store(false)
			if ok, held := failLog.allow(); ok {
				log.Warn("event not delivered", zap.Error(err), zap.Uint64("failures_not_logged", held))
			}
		}
	}
	// Frameworks key a bot by self_id (NoneBot registers the X-Self-ID it
	// is given), so "enable" waits for the account id, as the forward and
	// reverse WebSocket's connect event does; events published meanwhile
	// wait in the queue, behind it.
	if hub := p.opts.Hub; hub.loginPending && hub.SelfID() == 0 {
		log.Info("waiting for the account id (login) before posting lifecycle enable")
		for !hub.waitSelfID(ctx, time.Hour) {
			if ctx.Err() != nil {
				// Never enabled, so no "disable" either: the webhook hears
				// nothing rather than an event with self_id 0.
				return nil
			}
		}
	}
	deliver(p.opts.Hub.lifecycle(LifecycleEnable))
	for {
		select {
		case <-ctx.Done():
			if n := len(sub.ch); n > 0 {
				log.Warn("shutting down: events not delivered", zap.Int("events", n))
			}
			p.disable()
			return nil
		case e := <-sub.ch:
			deliver(e.data)
		}
	}
}

// disable posts lifecycle "disable" once, briefly: a dead webhook must
// not hold up the shutdown.
func (p *HTTPPost) disable() {
	timeout := time.Second
	if p.opts.Timeout > 0 && p.opts.Timeout < timeout {
		timeout = p.opts.Timeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	data := p.opts.Hub.lifecycle(LifecycleDisable)
	if _, _, err := p.post(ctx, data, p.sign(data)); err != nil {
		p.opts.Log.Debug("lifecycle disable not delivered", zap.Error(err))
	}
}

// deliver posts one event, retrying as configured, and carries out the
// quick operation in a successful reply.
func (p *HTTPPost) deliver(ctx context.Context, data []byte) error {
	sig := p.sign(data)
	backoff := p.opts.RetryInterval
	for attempt := 0; ; attempt++ {
		status, reply, err := p.post(ctx, data, sig)
		if err == nil && status/100 == 2 {
			p.quickOperation(ctx, data, reply)
			return nil
		}
		retry := err != nil || status >= 500 || status == http.StatusTooManyRequests
		if err == nil {
			err = fmt.Errorf("webhook answered HTTP %d", status)
		}
		if !retry || attempt >= p.opts.MaxRetries || ctx.Err() != nil {
			return fmt.Errorf("post event (%d attempts): %w", attempt+1, err)
		}
		p.opts.Log.Debug("post failed; retrying", zap.Error(err), zap.Duration("in", backoff))
		if !sleep(ctx, backoff) {
			return ctx.Err()
		}
		if backoff < 8*p.opts.RetryInterval {
			backoff *= 2
		}
	}
}

func (p *HTTPPost) sign(data []byte) string {
	if p.opts.Secret == "" {
		return ""
	}
	mac := hmac.New(sha1.New, []byte(p.opts.Secret))
	mac.Write(data)
	return "sha1=" + hex.EncodeToString(mac.Sum(nil))
}

// post makes one attempt and returns the status and the (bounded) reply.
func (p *HTTPPost) post(ctx context.Context, data []byte, sig string) (int, []byte, error) {
	if p.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.opts.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.opts.URL, bytes.NewReader(data))
	if err != nil {
		return 0, nil, redact.Error(err)
	}
	// Exactly application/json: ZeroBot's receiver rejects a charset.
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", p.opts.UserAgent)
	req.Header.Set("X-Self-ID", selfIDOf(data, p.opts.Hub))
	if sig != "" {
		req.Header.Set("X-Signature", sig)
	}
	resp, err := p.opts.Client.Do(req)
	if err != nil {
		// *url.Error quotes the URL with its query and user name (net/http
		// hides only the password).
		return 0, nil, redact.Error(err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read reply: %w", err)
	}
	if len(reply) > maxReplyBytes {
		reply = nil // not a quick operation anyone meant; ignore it
	}
	return resp.StatusCode, reply, nil
}

// selfIDOf is the event's own self_id, so that X-Self-ID always matches
// the body (communication/http-post.md).
func selfIDOf(data []byte, hub *Hub) string {
	if v := gjson.GetBytes(data, "self_id"); v.Type == gjson.Number {
		return v.Raw
	}
	return strconv.FormatInt(hub.SelfID(), 10)
}

// quickOperation carries out a webhook's reply to a message or request
// event. An empty reply or 204 means nothing to do.
func (p *HTTPPost) quickOperation(ctx context.Context, ev, reply []byte) {
	reply = bytes.TrimSpace(reply)
	if len(reply) == 0 || string(reply) == "{}" {
		return
	}
	switch gjson.GetBytes(ev, "post_type").String() {
	case "message", "request":
	default:
		return
	}
	if !gjson.ValidBytes(reply) || reply[0] != '{' {
		p.opts.Log.Debug("webhook reply is not a JSON object; ignored")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.ActionTimeout)
	defer cancel()
	if err := p.opts.Router.quickOperation(ctx, ev, reply); err != nil {
		var ae *ActionError
		if !errors.As(err, &ae) { // failed actions were logged by the router
			return
		}
		p.opts.Log.Warn("webhook reply is not a valid quick operation", zap.Error(err))
	}
}
