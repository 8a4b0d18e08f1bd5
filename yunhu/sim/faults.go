package sim

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// Fault injection and observation: the knobs tests use to break the
// simulator and to see what the client did.

type faultKind int

const (
	faultFail      faultKind = iota // answer with an HTTP status, do nothing
	faultHang                       // never answer until the request ends
	faultFailAfter                  // do the call, then answer with a status
	faultHold                       // wait for release, then answer normally
)

func (k faultKind) String() string {
	switch k {
	case faultFail:
		return "fail"
	case faultHang:
		return "hang"
	case faultFailAfter:
		return "fail-after-commit"
	case faultHold:
		return "hold"
	}
	return "unknown"
}

// fault is one queued injection, consumed by the next matching requests.
type fault struct {
	kind      faultKind
	status    int
	paths     []string // exact paths; empty = every REST (/v1/...) call
	remaining int
	release   chan struct{} // faultHold: closed to let held requests go on
}

func (f *fault) matches(path string) bool {
	if len(f.paths) == 0 {
		return strings.HasPrefix(path, "/v1/")
	}
	for _, p := range f.paths {
		if p == path {
			return true
		}
	}
	return false
}

// takeFaultLocked consumes one use of the oldest fault matching path.
func (s *Server) takeFaultLocked(path string) *fault {
	for i, f := range s.faults {
		if !f.matches(path) {
			continue
		}
		f.remaining--
		if f.remaining <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		s.notifyLocked()
		return f
	}
	return nil
}

func (s *Server) addFault(kind faultKind, n, status int, paths []string) {
	if n <= 0 {
		return
	}
	if kind != faultHang && (status < 100 || status > 999) {
		status = http.StatusInternalServerError // net/http panics on other codes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{kind: kind, status: status, paths: append([]string(nil), paths...), remaining: n})
}

// FailNext makes the next n matching requests fail with the HTTP status
// (e.g. 500) without taking effect. With no paths, every REST call (/v1/...)
// matches; otherwise only requests for exactly those paths do, which also
// lets tests fail PathUpload, CDN paths or the PathWS handshake.
// Faults queue up and are consumed oldest first.
func (s *Server) FailNext(n, status int, paths ...string) {
	s.addFault(faultFail, n, status, paths)
}

// FailNextAfterCommit makes the next n matching requests take effect and
// then answer with the HTTP status instead of the real reply, as when a
// reply is lost on the way back. Use it to check that retried send-message
// calls do not duplicate messages. Paths match as for FailNext.
func (s *Server) FailNextAfterCommit(n, status int, paths ...string) {
	s.addFault(faultFailAfter, n, status, paths)
}

// HangNext makes the next n matching requests hang without an answer until
// the client cancels them or the simulator closes. Paths match as for
// FailNext.
func (s *Server) HangNext(n int, paths ...string) {
	s.addFault(faultHang, n, 0, paths)
}

// HoldNext makes the next n matching requests wait, unanswered, until the
// returned release is called (then they are served normally), the client
// cancels them or the simulator closes. Paths match as for FailNext.
// release may be called more than once.
func (s *Server) HoldNext(n int, paths ...string) (release func()) {
	ch := make(chan struct{})
	if n > 0 {
		s.mu.Lock()
		s.faults = append(s.faults, &fault{kind: faultHold, paths: append([]string(nil), paths...), remaining: n, release: ch})
		s.mu.Unlock()
	}
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// Faults returns how many queued faults wait for a matching request: 0
// once every injected fault has been consumed (a held or hung request
// has arrived, for instance).
func (s *Server) Faults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.faults)
}

// ClearFaults forgets every queued fault and login rejection.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.rejectLogins = 0
}

// RejectNextLogin makes the next push-socket login fail as an invalid one
// does: the socket answers 数据不合法 to every frame and delivers nothing.
// Each call rejects one more login.
func (s *Server) RejectNextLogin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectLogins++
}

// RevokeToken ends a session as logging out on another device does: from
// now on REST calls with token answer not logged in and push logins with
// it are rejected, and the push sockets logged in with it are closed. It
// returns how many sockets it closed.
func (s *Server) RevokeToken(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.w.tokens, token)
	n := 0
	for sess := range s.sessions {
		if sess.token == token && sess.close() {
			n++
		}
	}
	s.notifyLocked()
	return n
}

// DropAll abruptly closes every push socket, logged in or not, and returns
// how many it closed. Clients see a read error and must reconnect.
func (s *Server) DropAll() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for sess := range s.sessions {
		if sess.close() {
			n++
		}
	}
	return n
}

// SilenceAll makes every current push socket go quiet without closing:
// nothing more is written to it (heartbeat acks and pushes included) while
// the TCP connection stays open, as with a dead link or a stuck server. It
// returns how many sockets it silenced. Clients must notice by their own
// heartbeat timeout and reconnect; new sockets are unaffected.
func (s *Server) SilenceAll() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for sess := range s.sessions {
		if !sess.muted {
			sess.muted = true
			n++
		}
	}
	return n
}

// maxLog bounds the request log and the Sent() record so a long-running
// sandbox does not grow without limit; only the newest entries are kept.
const maxLog = 10000

// Request is one entry of the request log.
type Request struct {
	Time   time.Time
	Method string
	Path   string
	Token  string // the token header as sent
	UserID string // the account the token belongs to; "" if none
	Body   []byte // REST request body (nil for uploads and CDN requests)
	Status int    // HTTP status answered; 0 if the request hung
	Code   int32  // business code of the reply (1 success); 0 if none
	Msg    string // business message of the reply
	Fault  string // injected fault applied, if any
}

// SentMessage is one send-message request the simulator received.
type SentMessage struct {
	Time    time.Time
	UserID  string                      // authenticated sender
	Request *yunhupb.SendMessageRequest // as decoded from the wire
	Code    int32                       // business code the simulator answered
	Msg     string
}

func (s *Server) logRequest(e Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, e)
	if len(s.requests) > maxLog {
		s.requests = append([]Request(nil), s.requests[len(s.requests)-maxLog/2:]...)
	}
	s.notifyLocked()
}

// Requests returns a copy of the request log, oldest first (at most the
// newest 10000 requests are kept).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Sent returns every send-message request received so far, oldest first,
// including rejected ones (see Code) but not those a FailNext or HangNext
// fault swallowed before they reached the handler. At most the newest
// 10000 are kept.
func (s *Server) Sent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentMessage(nil), s.sent...)
}

// WaitSent blocks until at least n send-message requests have been received
// since the simulator started and returns Sent(), or returns ctx's error.
func (s *Server) WaitSent(ctx context.Context, n int) ([]SentMessage, error) {
	if err := s.waitFor(ctx, func() bool { return s.sentTotal >= n }); err != nil {
		return nil, err
	}
	return s.Sent(), nil
}

// Online returns how many logged-in push sessions the user has.
func (s *Server) Online(userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.online[userID])
}

// WaitOnline blocks until the user has at least n logged-in push sessions.
// Inject after WaitOnline to be sure a client's socket sees the push.
func (s *Server) WaitOnline(ctx context.Context, userID string, n int) error {
	return s.waitFor(ctx, func() bool { return len(s.online[userID]) >= n })
}

// Logins returns how many successful push-socket logins the user has made
// since the simulator started; tests use it to count reconnects.
func (s *Server) Logins(userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.w.users[userID]; u != nil {
		return u.logins
	}
	return 0
}
