// Package onebot serves the OneBot v11 protocol to bot frameworks: the
// HTTP API, HTTP POST webhooks, and forward and reverse WebSocket. It knows
// nothing about the chat platform behind it: the caller registers action
// handlers on a Router and publishes events on a Hub.
//
// The specification is ../shared/reference/onebot-11 (communication/*.md
// for the transports, api/README.md for actions, event/meta.md for the meta
// events built here).
//
// Protocol flow:
//
//	actions, every transport:
//	  client frame/request --> transport: auth (once per connection or request),
//	    parse {action, params, echo} --> Router.Handle(ctx, action, params)
//	    --> ActionFunc (or _async: status "async" now, run in the background;
//	    _rate_limited: queued, run one per interval) --> Response{status,
//	    retcode, data, message, wording, msg} + the request's echo, byte for byte
//
//	events:
//	  caller --> Hub.Publish(ev): marshalled once --> non-blocking hand-off to
//	    each subscriber's bounded queue (never waits for a subscriber)
//	    - forward WS connection: one writer goroutine; queue overflow
//	      disconnects that client only. While a server has no event client,
//	      its backlog (backlog.go) keeps the events (bounded in count,
//	      bytes and age) for the next one to connect
//	    - reverse WS URL: one subscription for the URL's whole life, so events
//	      wait (bounded, oldest dropped) while disconnected
//	    - HTTP POST URL: one worker; a quick-operation reply becomes actions
//	      through the Router, never events
//
//	WebSocket connection (forward accept, or reverse dial):
//	  subscribe --> write meta_event lifecycle "connect" (always the first
//	    frame: ZeroBot reads self_id from it) --> write what the previous
//	    connection left undelivered (reverse) or the backlog (forward)
//	    --> drain the queue; the reader
//	    runs actions concurrently (at most MaxInFlight per connection, each
//	    holding its slot until its reply is written)
//
//	limits (limits.go), shared by every transport through the Router:
//	  actions in flight and bytes of requests held (bodies and frames as
//	    they are read, queued _async/_rate_limited params, unwritten WS
//	    replies) --> beyond a bound: retcode 1429 at once, never a wait
//
// Every long-lived component has Run(ctx) error and stops, with all its
// goroutines, when ctx is cancelled.
package onebot

import (
	"bytes"
	"context"
	"encoding/json"
	"sync/atomic"
	"time"
)

// Defaults applied to zero option values.
const (
	// DefaultQueueSize is how many events wait for one subscriber.
	DefaultQueueSize = 1024
	// DefaultMaxInFlight caps the actions running at once for one
	// WebSocket connection; the reader stops reading at the cap, which
	// pushes back on the client instead of growing goroutines.
	DefaultMaxInFlight = 64
	// DefaultWriteTimeout bounds each write to a WebSocket.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultActionTimeout bounds an action started from a WebSocket frame,
	// a quick operation, or an _async/_rate_limited call.
	DefaultActionTimeout = 60 * time.Second
	// DefaultMaxMessageBytes bounds one request: an HTTP body or a WebSocket
	// frame. Messages carry base64 media, so it is generous.
	DefaultMaxMessageBytes = 64 << 20
	// DefaultPingInterval is how often a WebSocket is pinged, which keeps
	// proxies (nginx closes idle upgrades after 60 s) from cutting it.
	DefaultPingInterval = 30 * time.Second
	// loginWait is how long a forward WebSocket client that connects
	// before the platform has logged in waits for the account id.
	loginWait = 10 * time.Second
	// DefaultReconnectInterval is the reverse WebSocket's wait between
	// connection attempts (communication/ws-reverse.md).
	DefaultReconnectInterval = 3 * time.Second
	// DefaultRateLimitInterval spaces _rate_limited calls (api/README.md).
	DefaultRateLimitInterval = 500 * time.Millisecond

	handshakeTimeout = 10 * time.Second
	// closeGrace bounds writing a close frame at shutdown.
	closeGrace = time.Second
)

// marshal encodes v as JSON without HTML escaping: "&" in CQ codes stays
// "&" on the wire, as in every other OneBot implementation.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// sleep waits d or until ctx is done, and reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// logLimiter lets a repeated warning through at most once per interval and
// counts what it held back, so a dead peer cannot flood the log.
type logLimiter struct {
	every      time.Duration
	last       atomic.Int64 // unix nanoseconds of the last line let through
	suppressed atomic.Uint64
}

// allow reports whether to log now, and how many lines were held back
// since the last one that was let through.
func (l *logLimiter) allow() (ok bool, suppressed uint64) {
	now := time.Now().UnixNano()
	last := l.last.Load()
	if last != 0 && now-last < int64(l.every) {
		l.suppressed.Add(1)
		return false, 0
	}
	if !l.last.CompareAndSwap(last, now) {
		l.suppressed.Add(1)
		return false, 0
	}
	return true, l.suppressed.Swap(0)
}
