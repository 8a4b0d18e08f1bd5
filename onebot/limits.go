package onebot

// Limits: what keeps the OneBot side's memory bounded whatever clients do.
//
// A request costs memory from the moment its first byte is read until its
// reply is written: the HTTP body or WebSocket frame (which can carry
// tens of MiB of base64 media), the goroutine running the action, and
// the reply. Per-connection caps alone do not bound that (many
// connections multiply them, and _async/_rate_limited calls outlive the
// request), so every transport draws on one limiter owned by the Router:
//
//   - actions: how many actions run (or wait to have their reply written)
//     at once, over every transport. _async and _rate_limited calls have
//     their own count caps (RouterOptions) once accepted.
//   - bytes: request bodies and frames held, reserved while they are read
//     (an HTTP body's Content-Length up front, anything else in growing
//     steps), kept until the reply is written, and handed to the
//     background with an _async or _rate_limited call. WebSocket replies
//     are charged too until written, so a client that does not read makes
//     new requests fail rather than memory grow. Background calls may
//     hold at most half of the bytes, so a burst of them cannot starve
//     ordinary calls.
//
// A request that finds a bound exhausted is answered at once with retcode
// 1429 ("too many requests"; HTTP status 200); nothing ever waits for
// budget while holding part of it, so the limiter cannot deadlock.

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// Defaults of LimitsOptions.
const (
	// DefaultMaxActions is the actions running at once over every
	// transport: room for several frameworks each running 16-64 calls.
	DefaultMaxActions = 256
	// DefaultMaxRequestBytes is the request memory (bodies, frames,
	// queued background params, unwritten replies) held at once. It fits
	// one 41 MiB request (30 MiB media as base64) read as a WebSocket
	// frame, which needs up to twice its size while it grows, next to
	// dozens of ordinary calls.
	DefaultMaxRequestBytes = 128 << 20
	// DefaultMaxConns caps the connections of one forward WebSocket
	// server; a framework opens one to three.
	DefaultMaxConns = 128
	// DefaultMaxUnreadBytes is how many bytes of replies one WebSocket
	// connection may have waiting to be written; a client that lets more
	// pile up is not reading them and is disconnected.
	DefaultMaxUnreadBytes = 16 << 20
)

// RetcodeTooManyRequests (response.go) answers a request refused by a
// bound; these are the bounds' names in its wording.
const (
	boundActions    = "actions"
	boundMemory     = "memory"
	boundBackground = "background"
)

// LimitsOptions bounds the work every transport of a Router shares; zero
// values take the defaults.
type LimitsOptions struct {
	// MaxActions caps the actions running at once, from every transport;
	// 0 means DefaultMaxActions.
	MaxActions int
	// MaxRequestBytes caps the bytes of requests held at once; 0 means
	// DefaultMaxRequestBytes.
	MaxRequestBytes int64
}

func (o LimitsOptions) withDefaults() LimitsOptions {
	if o.MaxActions <= 0 {
		o.MaxActions = DefaultMaxActions
	}
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	return o
}

// limiter counts what is held against LimitsOptions. Its methods are safe
// for concurrent use; none of them waits.
type limiter struct {
	maxActions int64
	maxBytes   int64
	maxBgBytes int64 // bytes the _async and _rate_limited calls may hold

	actions atomic.Int64
	bytes   atomic.Int64
	bgBytes atomic.Int64
}

func newLimiter(o LimitsOptions) *limiter {
	o = o.withDefaults()
	return &limiter{maxActions: int64(o.MaxActions), maxBytes: o.MaxRequestBytes, maxBgBytes: o.MaxRequestBytes / 2}
}

// take adds n to c unless that passes max.
func take(c *atomic.Int64, n, max int64) bool {
	for {
		cur := c.Load()
		if cur+n > max {
			return false
		}
		if c.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// grant returns an empty grant on l.
func (l *limiter) grant() *grant { return &grant{l: l} }

// tooMany is the failure for a request refused by bound.
func (l *limiter) tooMany(bound string) *ActionError {
	var why string
	switch bound {
	case boundActions:
		why = fmt.Sprintf("%d actions are already running (limits.max-actions)", l.maxActions)
	case boundBackground:
		why = fmt.Sprintf("queued _async and _rate_limited calls already hold %d MiB (half of limits.max-request-memory)",
			l.maxBgBytes>>20)
	default:
		why = fmt.Sprintf("requests being handled already hold %d MiB (limits.max-request-memory)", l.maxBytes>>20)
	}
	return &ActionError{Retcode: RetcodeTooManyRequests, Msg: "too many requests", Wording: why + "; retry later"}
}

// grant is what one request holds of a limiter: bytes and perhaps an
// action slot. It has one owner at a time (the transport, then perhaps
// the background call it became), so it needs no lock.
type grant struct {
	l      *limiter
	bytes  int64
	bg     int64 // part of bytes also counted as background
	action bool
}

// grow reserves n more bytes, or reports false and reserves nothing.
func (g *grant) grow(n int64) bool {
	if !take(&g.l.bytes, n, g.l.maxBytes) {
		return false
	}
	g.bytes += n
	return true
}

// force charges n bytes even past the bound: for memory that already
// exists (a reply), so that new requests are refused while it is held.
func (g *grant) force(n int64) {
	g.l.bytes.Add(n)
	g.bytes += n
}

// shrink gives n of the grant's bytes back.
func (g *grant) shrink(n int64) {
	g.l.bytes.Add(-n)
	g.bytes -= n
}

// takeAction takes an action slot, or reports false.
func (g *grant) takeAction() bool {
	if g.action {
		return true
	}
	if !take(&g.l.actions, 1, g.l.maxActions) {
		return false
	}
	g.action = true
	return true
}

// toBackground turns the grant into one for an _async or _rate_limited
// call holding params: it gives back the action slot (background calls
// have their own count caps) and counts its bytes, at least len(params),
// as background bytes. It reports false, changing nothing, when the
// background or the whole budget is full.
func (g *grant) toBackground(params int) bool {
	extra := max(int64(params)-g.bytes, 0)
	if !take(&g.l.bgBytes, g.bytes+extra, g.l.maxBgBytes) {
		return false
	}
	if extra > 0 && !g.grow(extra) {
		g.l.bgBytes.Add(-(g.bytes + extra))
		return false
	}
	g.bg = g.bytes
	if g.action {
		g.l.actions.Add(-1)
		g.action = false
	}
	return true
}

// handOff moves everything g holds to a new grant and leaves g empty, so
// that g's owner may still release it.
func (g *grant) handOff() *grant {
	n := *g
	g.bytes, g.bg, g.action = 0, 0, false
	return &n
}

// release gives back everything the grant holds; it may be called again.
func (g *grant) release() {
	if g.bytes != 0 {
		g.l.bytes.Add(-g.bytes)
		g.bytes = 0
	}
	if g.bg != 0 {
		g.l.bgBytes.Add(-g.bg)
		g.bg = 0
	}
	if g.action {
		g.l.actions.Add(-1)
		g.action = false
	}
}

// errNoMemory ends a read that found the byte budget exhausted.
var errNoMemory = errors.New("request memory budget exhausted")

const (
	// firstRead is the buffer a request of unknown size starts with.
	firstRead = 4 << 10
	// maxGrowth caps one step of a growing request buffer, so that the
	// slack reserved beyond the request stays small.
	maxGrowth = 4 << 20
)

// readBudgeted reads r to its end into a buffer whose capacity g has
// reserved. size is the length when known (the reader must then hold
// exactly that much), -1 otherwise; the buffer then grows in steps and
// both the old and the new buffer are reserved while it is copied. When
// a reservation fails it returns errNoMemory with what was read so far
// (still reserved); any other error is the reader's.
func readBudgeted(r io.Reader, g *grant, size int64) ([]byte, error) {
	if size >= 0 {
		if !g.grow(size) {
			return nil, errNoMemory
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(r, buf); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		return buf, nil
	}
	if !g.grow(firstRead) {
		return nil, errNoMemory
	}
	buf := make([]byte, 0, firstRead)
	for {
		if len(buf) == cap(buf) {
			old := int64(cap(buf))
			next := old + min(old, maxGrowth)
			if !g.grow(next) {
				return buf, errNoMemory
			}
			nb := make([]byte, len(buf), next)
			copy(nb, buf)
			buf = nb
			g.shrink(old)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
