package onebot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/internal/redact"
)

// WSReverseOptions configures the reverse WebSocket client for one
// servers entry: Universal, or API and/or Event.
type WSReverseOptions struct {
	Router *Router
	Hub    *Hub
	Log    *zap.Logger
	// Universal carries actions and events on one connection; API and
	// Event split them over two (communication/ws-reverse.md).
	Universal, API, Event string
	// AccessToken is sent as "Authorization: Bearer <token>".
	AccessToken string
	// ReconnectInterval is the wait after every failure or disconnect
	// before the next attempt; 0 means DefaultReconnectInterval. It stays
	// fixed, as the spec says: the framework is usually on the same host
	// and a refused dial costs nothing, while a growing backoff would keep
	// a restarted framework waiting.
	ReconnectInterval time.Duration
	// UserAgent is sent on the upgrade request.
	UserAgent string
	// Conn tunes the connections; Conn.QueueSize is the number of events
	// kept for a URL while it is disconnected (oldest dropped beyond it).
	Conn ConnOptions
}

// WSReverse dials out to a bot framework and keeps one connection per URL
// alive for as long as Run runs.
type WSReverse struct {
	opts  WSReverseOptions
	loops []*reverseLoop
}

// NewWSReverse returns the client; start it with Run. Event URLs are
// subscribed to the hub here, so that every event published from now on
// is delivered (or counted as dropped), even before the first connection.
func NewWSReverse(opts WSReverseOptions) *WSReverse {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.ReconnectInterval <= 0 {
		opts.ReconnectInterval = DefaultReconnectInterval
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "yunhu-onebot"
	}
	opts.Conn = opts.Conn.withDefaults()
	w := &WSReverse{opts: opts}
	add := func(url string, r role) {
		l := &reverseLoop{w: w, url: url, role: r,
			log: opts.Log.With(zap.String("url", redactURL(url)), zap.String("role", r.header()))}
		if r.events() {
			// One subscription for the loop's whole life: events published
			// while disconnected wait in it, in order.
			l.sub = opts.Hub.subscribe("ws-reverse "+redactURL(url), opts.Conn.QueueSize, dropOldest)
		}
		w.loops = append(w.loops, l)
	}
	if opts.Universal != "" {
		add(opts.Universal, roleUniversal)
	} else {
		if opts.API != "" {
			add(opts.API, roleAPI)
		}
		if opts.Event != "" {
			add(opts.Event, roleEvent)
		}
	}
	return w
}

// Run connects and reconnects every configured URL until ctx is done,
// then closes the connections, waits for their actions, unsubscribes
// from the hub and returns nil.
func (w *WSReverse) Run(ctx context.Context) error {
	defer func() {
		for _, l := range w.loops {
			if l.sub != nil {
				w.opts.Hub.unsubscribe(l.sub)
			}
		}
	}()
	if len(w.loops) == 0 {
		return errors.New("ws-reverse: no url")
	}
	var actions, loops sync.WaitGroup
	for _, l := range w.loops {
		loops.Add(1)
		go func() {
			defer loops.Done()
			l.run(ctx, &actions)
		}()
	}
	loops.Wait()
	actions.Wait()
	return nil
}

// reverseLoop keeps one URL connected. It runs connections one after the
// other, never two at once: a connection is closed and its goroutines are
// gone before the next dial.
type reverseLoop struct {
	w    *WSReverse
	url  string
	role role
	log  *zap.Logger
	sub  *subscription // nil for roleAPI
}

func (l *reverseLoop) run(ctx context.Context, actions *sync.WaitGroup) {
	opts := l.w.opts
	var pending []event
	failures := 0
	failLog := logLimiter{every: time.Minute}
	for ctx.Err() == nil {
		selfID, ok := l.waitSelfID(ctx)
		if !ok {
			return
		}
		conn, fc, err := l.dial(ctx, selfID)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			if ok, held := failLog.allow(); ok {
				l.log.Warn("cannot connect; retrying", zap.Error(err), zap.Int("attempts", failures),
					zap.Uint64("failures_not_logged", held), zap.Duration("every", opts.ReconnectInterval))
			} else {
				l.log.Debug("cannot connect", zap.Error(err))
			}
			sleep(ctx, opts.ReconnectInterval)
			continue
		}
		l.log.Info("connected", zap.Int("failed_attempts", failures))
		failures = 0
		failLog = logLimiter{every: time.Minute}

		c := newWSConn(conn, l.role, opts.Router, l.log, opts.Conn, ctx, actions)
		c.sub, c.pending, c.fc = l.sub, pending, fc
		if l.sub != nil {
			c.hello = opts.Hub.lifecycle(LifecycleConnect)
		}
		err = c.serve(ctx)
		pending = c.pending
		if ctx.Err() != nil {
			return
		}
		l.log.Warn("disconnected; reconnecting", zap.Error(err), zap.Duration("after", opts.ReconnectInterval))
		sleep(ctx, opts.ReconnectInterval)
	}
}

// waitSelfID returns the bot's id once it is known. Frameworks key a bot
// by X-Self-ID (NoneBot registers the id it is given; Koishi refuses a
// wrong one), so dialing with 0 would register a phantom bot.
func (l *reverseLoop) waitSelfID(ctx context.Context) (int64, bool) {
	if id := l.w.opts.Hub.SelfID(); id != 0 {
		return id, true
	}
	l.log.Info("waiting for the account id (login) before connecting")
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, false
		case <-t.C:
			if id := l.w.opts.Hub.SelfID(); id != 0 {
				return id, true
			}
		}
	}
}

// dial connects, and returns the flushConn under the WebSocket.
func (l *reverseLoop) dial(ctx context.Context, selfID int64) (*websocket.Conn, *flushConn, error) {
	opts := l.w.opts
	h := http.Header{}
	h.Set("X-Self-ID", strconv.FormatInt(selfID, 10))
	h.Set("X-Client-Role", l.role.header())
	h.Set("User-Agent", opts.UserAgent)
	if opts.AccessToken != "" {
		h.Set("Authorization", "Bearer "+opts.AccessToken)
	}
	var fc *flushConn
	d := websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: handshakeTimeout,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := dialFlushConn(ctx, network, addr)
			if err == nil {
				fc = nc.(*flushConn)
			}
			return nc, err
		},
	}
	conn, resp, err := d.DialContext(ctx, l.url, h)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		// A bad URL or a proxy failure comes back as a *url.Error that
		// quotes the URL, ?access_token= and all.
		err = redact.Error(err)
		if resp != nil {
			return nil, nil, fmt.Errorf("dial: %w (HTTP %s)", err, resp.Status)
		}
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	return conn, fc, nil
}

// redactURL masks a URL's credentials and query values (?access_token=)
// before it is logged.
func redactURL(s string) string { return redact.URL(s) }
