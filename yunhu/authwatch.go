package yunhu

import (
	"errors"
	"sync"
)

// A token revoked while the client runs (the account logged out on
// another device) fails every REST call with the not-logged-in code and
// every push login with 数据不合法, and no retry can fix it. authWatch
// counts such rejections in a row, from REST calls and push logins alike;
// at MaxAuthRejections Run stops with ErrUnauthorized, as a token
// rejected at start stops the daemon, rather than reconnecting forever
// while the daemon looks up but is offline.
//
// Any success (a REST answer, a live push session) resets the count;
// other failures (HTTP 500, a dropped socket, a timeout) leave it as it
// is, since they say nothing about the token. A single push login
// rejection does not stop the client: the server rejects logins for
// other reasons too (a login raced with a reconnect).

// MaxAuthRejections is how many consecutive authentication rejections
// make Run give up.
const MaxAuthRejections = 3

type authWatch struct {
	mu      sync.Mutex
	n       int           // consecutive rejections
	revoked chan struct{} // closed at MaxAuthRejections; nil until asked for
	done    bool          // revoked is closed
}

// note records the outcome of a REST call or push login.
func (a *authWatch) note(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.done:
	case err == nil:
		a.n = 0
	case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrLoginRejected):
		a.n++
		if a.n >= MaxAuthRejections {
			a.done = true
			if a.revoked != nil {
				close(a.revoked)
			}
		}
	}
}

// wait returns a channel closed once the token counts as revoked.
func (a *authWatch) wait() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.revoked == nil {
		a.revoked = make(chan struct{})
		if a.done {
			close(a.revoked)
		}
	}
	return a.revoked
}

// isRevoked reports whether the token counts as revoked.
func (a *authWatch) isRevoked() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.done
}
