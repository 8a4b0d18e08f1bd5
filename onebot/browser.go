package onebot

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
)

// browserGuard keeps web pages from driving a server that has no access
// token. A loopback HTTP API answers any process on the machine, and a
// browser is one: without a token, a page on any site could send
// `GET /send_group_msg?...` to 127.0.0.1 (a simple request needs no CORS
// permission to be sent; only its answer is hidden from the page), or
// rebind its own DNS name to 127.0.0.1 so that its requests count as
// same-origin. Bot frameworks send none of the headers a browser adds, so
// refusing what only a browser sends costs them nothing.
//
// Without a token, a request is refused (403, plain text) when
//
//   - its Host names something else than this server: allowed are
//     localhost, a loopback IP (127.0.0.0/8, ::1), 0.0.0.0 and ::, the IP
//     the connection arrived on, and the configured listen address's
//     host; when the listener is on every address (0.0.0.0, :: or no host:
//     the operator exposed it), any IP literal too. Any other DNS name is
//     what DNS rebinding looks like, since the attacker's name is the Host;
//   - it comes from a page of another site: Sec-Fetch-Site "cross-site"
//     or "same-site" (every current browser sends it), or, from a browser
//     that does not send Sec-Fetch-Site, an Origin whose host:port is not
//     the request's Host ("null" included). Sec-Fetch-Mode is not looked
//     at: Node's fetch sends it too.
//
// With a token none of this applies: the token is the protection, and a
// page that has it is the operator's own.
type browserGuard struct {
	off      bool       // an access token is set
	wildcard bool       // the listener is on every address
	ip       netip.Addr // the configured listen IP, if the address is one
	name     string     // the configured listen host, if it is a name (lower case)
	log      *zap.Logger
	// One limiter per cause: a page retrying in a loop logs one line a
	// minute, and a different cause is not hidden behind it.
	hostLog, siteLog logLimiter
}

// newBrowserGuard returns the guard for a server listening on address
// (host:port as configured; "" when unknown, which allows only loopback
// and the connection's own IP).
func newBrowserGuard(tokenSet bool, address string, log *zap.Logger) *browserGuard {
	g := &browserGuard{off: tokenSet, log: log,
		hostLog: logLimiter{every: time.Minute}, siteLog: logLimiter{every: time.Minute}}
	if address == "" {
		return g
	}
	host := hostOnly(address)
	if ip, err := netip.ParseAddr(host); err == nil {
		g.ip = ip.Unmap()
		g.wildcard = g.ip.IsUnspecified()
	} else if host == "" {
		g.wildcard = true // ":5700"
	} else {
		g.name = host
	}
	return g
}

// allow reports whether r may go on; when it may not, allow has answered
// 403 with the reason.
func (g *browserGuard) allow(w http.ResponseWriter, r *http.Request) bool {
	if g.off {
		return true
	}
	if !g.hostAllowed(r) {
		g.refuse(w, r, &g.hostLog, "Host not this server",
			fmt.Sprintf("forbidden: Host %q is not an address of this server. Without an access-token "+
				"this OneBot server answers only requests for localhost, a loopback IP, its own IP or the host "+
				"of its configured address (a defence against DNS rebinding): connect to 127.0.0.1 or "+
				"localhost, or set an access-token.\n",
				shorten(r.Host)))
		return false
	}
	if why := crossSite(r); why != "" {
		g.refuse(w, r, &g.siteLog, "cross-site browser request",
			fmt.Sprintf("forbidden: this request comes from a web page of another site (%s). Without an "+
				"access-token this OneBot server refuses browser requests from other sites, so that no web "+
				"page can drive the bot; bot frameworks are not affected. Set an access-token to allow it.\n",
				shorten(why)))
		return false
	}
	return true
}

func (g *browserGuard) refuse(w http.ResponseWriter, r *http.Request, lim *logLimiter, cause, text string) {
	if ok, held := lim.allow(); ok {
		g.log.Warn("refused a request: "+cause+" (no access-token is set)",
			zap.String("remote", r.RemoteAddr), zap.String("host", shorten(r.Host)),
			zap.String("origin", shorten(r.Header.Get("Origin"))),
			zap.String("sec_fetch_site", shorten(r.Header.Get("Sec-Fetch-Site"))),
			zap.String("path", shorten(r.URL.Path)), // never the query: it carries the message
			zap.Uint64("refusals_not_logged", held))
	}
	http.Error(w, text, http.StatusForbidden)
}

func (g *browserGuard) hostAllowed(r *http.Request) bool {
	if r.Host == "" {
		return true // HTTP/1.0 without Host: no browser sends that
	}
	host := hostOnly(r.Host)
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return g.name != "" && host == g.name
	}
	ip = ip.Unmap()
	// 0.0.0.0 and :: reach this machine's loopback services on Linux and
	// macOS; as IP literals they are no rebinding risk.
	if ip.IsLoopback() || ip.IsUnspecified() || g.wildcard || ip == g.ip {
		return true
	}
	// The listener's own IP, as the client reached it.
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil && ap.Addr().Unmap().WithZone("") == ip.WithZone("") {
			return true
		}
	}
	return false
}

// crossSite says why r is a browser request from another site, or "".
func crossSite(r *http.Request) string {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "cross-site", "same-site":
		return "Sec-Fetch-Site: " + site
	case "same-origin", "none": // "none": the user typed the URL
		return ""
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
		return "Origin: " + origin
	}
	return ""
}

// hostOnly is the lower-case host of a host[:port] without brackets or a
// trailing dot.
func hostOnly(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// shorten bounds a client-supplied string before it is echoed or logged.
func shorten(s string) string {
	const max = 100
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
