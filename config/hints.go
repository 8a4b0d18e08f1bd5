package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/yunhu-onebot/yunhu-onebot/internal/redact"
)

// defaultServers gives a file that leaves servers out (or writes
// "servers:" with nothing after it) the README's default listeners, and
// refuses an explicit empty list: a daemon no bot can reach is never what
// was meant.
func (d *decoder) defaultServers(c *Config) {
	switch {
	case c.Servers == nil:
		c.Servers = DefaultServers()
	case len(c.Servers) == 0:
		d.report("servers", "is empty, so no bot could connect: list at least one http, ws or ws-reverse entry, "+
			"or leave servers out for the defaults (http on 127.0.0.1:5700, ws on 127.0.0.1:6700)")
	}
}

// exposed warns about every listener that is reachable beyond this host
// and takes no access token: anyone who can reach it acts as the account.
func (c *Config) exposed(warn func(path, msg string) Problem) []Problem {
	var out []Problem
	check := func(path, addr, token string) {
		if token != "" || isLoopback(addr) {
			return
		}
		out = append(out, warn(path+".address", fmt.Sprintf(
			"%s is reachable beyond this host and has no access-token: anyone who reaches it can send messages as the account; set %s.access-token, or listen on 127.0.0.1",
			addr, path)))
	}
	if c.Backend == BackendWuKongIM {
		if u, err := url.Parse(c.WuKongIM.APIURL); err == nil && u.Scheme == "http" && !isLoopback(u.Host) && !isLoopback(net.JoinHostPort(u.Hostname(), "0")) {
			out = append(out, warn("wukongim.api-url", fmt.Sprintf(
				"%s is reached beyond this host without TLS, and the WuKongIM HTTP API has no authentication: anyone on the way can read and send as any user; keep it on loopback or a private network, or put TLS in front", redact.URL(c.WuKongIM.APIURL))))
		}
	}
	for i, s := range c.Servers {
		switch {
		case s.HTTP != nil:
			check(fmt.Sprintf("servers[%d].http", i), s.HTTP.Address, s.HTTP.AccessToken)
		case s.WS != nil:
			check(fmt.Sprintf("servers[%d].ws", i), s.WS.Address, s.WS.AccessToken)
		}
	}
	return out
}

// isLoopback reports whether a listen address only accepts connections
// from this host. An empty host, 0.0.0.0 and :: listen everywhere.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// goCQHints explain the go-cqhttp keys an operator brings along, by key
// path with list indexes removed (servers[2].http.host -> servers.http.host):
// a plain "unknown key (did you mean post?)" would mislead.
var goCQHints = map[string]string{
	"account.uin":                        "go-cqhttp's QQ number: a Yunhu account is known by its token alone, in account.token or YUNHU_TOKEN",
	"account.password":                   "go-cqhttp's QQ login: Yunhu logs in with account.token (or YUNHU_TOKEN)",
	"heartbeat.disabled":                 "write heartbeat.interval: 0 to turn heartbeats off",
	"output":                             "go-cqhttp's output: write log.level (and log.file) here",
	"default-middlewares":                "go-cqhttp's middlewares: access-token sits directly in each server entry here",
	"access-token":                       "access-token sits in each server entry here: servers[].http.access-token, servers[].ws.access-token",
	"post-format":                        "write message.post-format: it applies to every server",
	"servers.pprof":                      "go-cqhttp's pprof server has no equivalent; entries are http, ws or ws-reverse",
	"servers.lambda":                     "go-cqhttp's lambda server has no equivalent; entries are http, ws or ws-reverse",
	"servers.http.long-polling":          "no long polling here: receive events by post, ws or ws-reverse",
	"servers.http.post.retries-interval": "retries back off by themselves here; only max-retries is set",
	"database.leveldb":                   "the message store is built in: set database.path",
	"database.sqlite3":                   "the message store is built in: set database.path",
}

// goCQServerKeys are hints for keys of any http, ws or ws-reverse entry.
var goCQServerKeys = map[string]string{
	"host":        "go-cqhttp's host/port: write address: host:port",
	"port":        "go-cqhttp's host/port: write address: host:port",
	"middlewares": "access-token sits directly in the server entry here",
	"disabled":    "remove the entry (or comment it out) to turn it off",
	"post-format": "write message.post-format: it applies to every server",
	"filter":      "go-cqhttp's event filter has no equivalent",
}

// goCQMessageKeys are go-cqhttp's QQ-specific message settings.
var goCQMessageKeys = []string{"force-fragment", "fix-url", "proxy-rewrite", "remove-reply-at",
	"extra-reply-data", "skip-mime-scan", "convert-webp-image"}

var listIndex = regexp.MustCompile(`\[\d+\]`)

// goCQHint returns the hint for an unknown key at path that go-cqhttp
// knows, or "".
func goCQHint(path, key string) string {
	p := listIndex.ReplaceAllString(join(path, key), "")
	if h, ok := goCQHints[p]; ok {
		return h
	}
	if isServerKey(p) {
		return goCQServerKeys[key]
	}
	return ""
}

// isServerKey reports whether p (without list indexes) is a key directly
// in an http, ws or ws-reverse entry.
func isServerKey(p string) bool {
	for _, kind := range []string{"servers.http.", "servers.ws.", "servers.ws-reverse."} {
		if rest, ok := strings.CutPrefix(p, kind); ok && !strings.Contains(rest, ".") {
			return true
		}
	}
	return false
}

// goCQSection returns, for a key no closer name explains, what go-cqhttp
// used its section for, or "".
func goCQSection(path, key string) string {
	switch {
	case path == "account":
		return "go-cqhttp's QQ login setting; a Yunhu account needs only account.token"
	case path == "message":
		for _, k := range goCQMessageKeys {
			if k == key {
				return "go-cqhttp's QQ-specific message setting; no equivalent here"
			}
		}
	}
	return ""
}
