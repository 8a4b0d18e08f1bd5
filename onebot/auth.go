package onebot

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// accessToken checks a request's access token (communication/
// authorization.md). The token is kept only as its SHA-256, and requests
// are compared hash to hash with subtle.ConstantTimeCompare: equal-length
// inputs make the comparison's time independent of both the token and
// its length.
type accessToken struct {
	sum [sha256.Size]byte
	set bool
}

func newAccessToken(token string) accessToken {
	if token == "" {
		return accessToken{}
	}
	return accessToken{sum: sha256.Sum256([]byte(token)), set: true}
}

// check returns 0 when r may proceed, 401 when it carries no token and
// 403 when the token is wrong. The token is taken from "Authorization:
// Bearer <token>" (or "Token <token>", which go-cqhttp-era clients send,
// or a bare token), else from ?access_token=.
func (t accessToken) check(r *http.Request) int {
	if !t.set {
		return 0
	}
	got, ok := tokenFrom(r)
	if !ok {
		return http.StatusUnauthorized
	}
	sum := sha256.Sum256([]byte(got))
	if subtle.ConstantTimeCompare(sum[:], t.sum[:]) != 1 {
		return http.StatusForbidden
	}
	return 0
}

func tokenFrom(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		h = strings.TrimSpace(h)
		scheme, tok, found := strings.Cut(h, " ")
		if !found {
			if strings.EqualFold(h, "Bearer") || strings.EqualFold(h, "Token") {
				return "", false // a scheme and no token
			}
			return h, true // a bare token, as some clients send
		}
		if !strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "Token") {
			return h, true
		}
		tok = strings.TrimSpace(tok)
		return tok, tok != ""
	}
	if strings.Contains(r.URL.RawQuery, "access_token") {
		if tok := r.URL.Query().Get("access_token"); tok != "" {
			return tok, true
		}
	}
	return "", false
}
