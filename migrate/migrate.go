// Package migrate converts a go-cqhttp config.yml into this daemon's
// config.yaml, so that an operator moving a bot over carries its
// listeners, access tokens and webhooks in one command:
//
//	yunhu-onebot -migrate config.yml > config.yaml
//
// go-cqhttp's schema (modules/config/default_config.yml and the server
// templates): account (QQ login), heartbeat, message, output,
// default-middlewares (an anchor merged into each server's middlewares:
// access-token, filter, rate-limit), database, and servers, a list of
// http (address or host+port, timeout for its posts, post[] with url,
// secret, max-retries, retries-interval), ws (address or host+port) and
// ws-reverse (universal, api, event, reconnect-interval) entries, each with
// its own middlewares, and pprof/lambda entries.
//
// Every key read is either carried over or named in a Note saying why it
// has no equivalent; the output is YAML with a comment on each change.
// The YAML is decoded generically, so go-cqhttp's merge keys (<<: *default)
// are resolved as go-cqhttp resolves them.
package migrate

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Note is a go-cqhttp key that was dropped or changed, and why. It never
// holds a value: values may be secrets.
type Note struct {
	Key string // e.g. servers[0].http.long-polling
	Why string
}

func (n Note) String() string { return n.Key + ": " + n.Why }

// GoCQHTTP converts the go-cqhttp configuration src. out is the
// equivalent configuration for this daemon; notes name, in the order read,
// every key with no equivalent or whose value had to change.
func GoCQHTTP(src []byte) (out []byte, notes []Note, err error) {
	var root map[string]any
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, nil, fmt.Errorf("not a go-cqhttp config.yml: %w", err)
	}
	c := &converter{}
	top := c.node("", root)
	c.convert(top)
	top.rest()
	return []byte(c.w.String()), c.notes, nil
}

type converter struct {
	w     strings.Builder
	notes []Note
}

func (c *converter) note(key, why string) { c.notes = append(c.notes, Note{key, why}) }

func (c *converter) line(indent int, format string, args ...any) {
	c.w.WriteString(strings.Repeat("  ", indent))
	fmt.Fprintf(&c.w, format, args...)
	c.w.WriteByte('\n')
}

// node is a mapping of the go-cqhttp file being read; rest reports the
// keys nothing took.
type node struct {
	c    *converter
	path string
	m    map[string]any
	used map[string]bool
}

func (c *converter) node(path string, v any) *node {
	m, _ := v.(map[string]any)
	return &node{c: c, path: path, m: m, used: map[string]bool{}}
}

func (n *node) key(k string) string {
	if n.path == "" {
		return k
	}
	return n.path + "." + k
}

func (n *node) has(k string) bool { _, ok := n.m[k]; return ok }

func (n *node) get(k string) any {
	n.used[k] = true
	return n.m[k]
}

func (n *node) sub(k string) *node { return n.c.node(n.key(k), n.get(k)) }

// str reads a scalar as text (go-cqhttp allows numbers where text is
// meant and ${VAR} where numbers are).
func (n *node) str(k string) string {
	switch v := n.get(k).(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

func (n *node) integer(k string) (int, bool) {
	switch v := n.get(k).(type) {
	case int:
		return v, true
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(v))
		return i, err == nil
	}
	return 0, false
}

func (n *node) boolean(k string) bool {
	b, _ := n.get(k).(bool)
	return b
}

// drop marks k as read and, when it is set to something that had an
// effect in go-cqhttp, notes why it has no equivalent. A key left at
// "off" (false, an empty string, 0, enabled: false) loses nothing and is
// not named.
func (n *node) drop(k, why string) {
	if n.has(k) && isSet(n.get(k)) {
		n.c.note(n.key(k), why)
	}
}

func isSet(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return strings.TrimSpace(v) != ""
	case int:
		return v != 0
	case map[string]any:
		if on, ok := v["enabled"]; ok {
			return isSet(on)
		}
		for _, x := range v {
			if isSet(x) {
				return true
			}
		}
		return false
	case []any:
		return len(v) > 0
	}
	return true
}

// rest notes every key of n nothing read, in a stable order.
func (n *node) rest() {
	var left []string
	for k := range n.m {
		if !n.used[k] {
			left = append(left, k)
		}
	}
	sort.Strings(left)
	for _, k := range left {
		n.c.note(n.key(k), "not a go-cqhttp key -migrate knows; left out")
	}
}

// q quotes s for YAML: a double-quoted scalar takes Go's escapes.
func q(s string) string { return strconv.Quote(s) }

func (c *converter) convert(top *node) {
	c.line(0, "# Converted from a go-cqhttp config.yml by yunhu-onebot -migrate.")
	c.line(0, "# Check it with: yunhu-onebot -check -c <this file>. Every key left out")
	c.line(0, "# takes its default (yunhu-onebot -sample-config shows them all).")
	c.line(0, "")

	acc := top.sub("account")
	for k := range acc.m {
		acc.used[k] = true
	}
	if len(acc.m) > 0 {
		c.note("account", "go-cqhttp's QQ login (uin, password, ...) has no equivalent: Yunhu logs in with the account's token, in account.token or YUNHU_TOKEN")
	}
	c.line(0, "account:")
	c.line(1, "# go-cqhttp logged in to QQ with uin and password; Yunhu needs the")
	c.line(1, "# account's token: write it here, or set YUNHU_TOKEN (under systemd: in")
	c.line(1, "# /etc/yunhu-onebot/env).")
	c.line(1, "token: \"\"")
	c.line(0, "")

	hb := top.sub("heartbeat")
	interval, ok := hb.integer("interval")
	if hb.boolean("disabled") || (ok && interval < 0) {
		c.note("heartbeat", "go-cqhttp's \"off\" (-1 or disabled: true) is interval 0 here")
		interval, ok = 0, true
	}
	if ok {
		c.line(0, "heartbeat:")
		c.line(1, "interval: %d", interval)
		c.line(0, "")
	}
	hb.rest()

	c.message(top.sub("message"))
	c.output(top.sub("output"))

	db := top.sub("database")
	for k := range db.m {
		db.used[k] = true
	}
	if len(db.m) > 0 {
		c.note("database", "leveldb/sqlite3 have no equivalent: the message store is built in, always on, at database.path (default data/yunhu-onebot.db)")
	}

	def := top.sub("default-middlewares")
	defaultToken := def.str("access-token")
	def.drop("filter", "go-cqhttp's event filter has no equivalent")
	def.drop("rate-limit", "go-cqhttp's API rate limit has no equivalent (limits.max-actions bounds the actions running at once)")
	def.rest()

	c.servers(top, defaultToken)
}

func (c *converter) message(m *node) {
	if len(m.m) == 0 {
		return
	}
	c.line(0, "message:")
	if m.has("post-format") {
		c.line(1, "post-format: %s", q(m.str("post-format")))
	}
	for _, k := range []string{"ignore-invalid-cqcode", "report-self-message"} {
		if m.has(k) {
			c.line(1, "%s: %t", k, m.boolean(k))
		}
	}
	for _, k := range []string{"force-fragment", "fix-url", "proxy-rewrite", "remove-reply-at",
		"extra-reply-data", "skip-mime-scan", "convert-webp-image"} {
		m.drop(k, "go-cqhttp's QQ-specific message setting; no equivalent")
	}
	m.rest()
	c.line(0, "")
}

func (c *converter) output(o *node) {
	level := ""
	switch l := strings.ToLower(o.str("log-level")); l {
	case "trace", "debug":
		level = "debug"
		if l == "trace" {
			c.note(o.key("log-level"), "trace is debug here, the most detailed level")
		}
	case "info", "warn", "error":
		level = l
	case "fatal", "panic":
		level = "error"
		c.note(o.key("log-level"), l+" is error here, the least detailed level")
	}
	if o.boolean("debug") {
		level = "debug"
	}
	o.drop("log-aging", "the log goes to stderr (journald keeps and ages it); log.file appends to one file")
	o.drop("log-force-new", "the log goes to stderr (journald keeps and ages it); log.file appends to one file")
	o.drop("log-colorful", "the log has no colours, so journald stores it clean")
	o.rest()
	if level != "" {
		c.line(0, "log:")
		c.line(1, "level: %s", level)
		c.line(0, "")
	}
}

func (c *converter) servers(top *node, defaultToken string) {
	list, _ := top.get("servers").([]any)
	var entries []func()
	for i, item := range list {
		entry := c.node(fmt.Sprintf("servers[%d]", i), item)
		for _, kind := range []string{"http", "ws", "ws-reverse"} {
			if entry.has(kind) {
				s := entry.sub(kind)
				if f := c.server(kind, s, defaultToken); f != nil {
					entries = append(entries, f)
				}
			}
		}
		entry.drop("pprof", "go-cqhttp's profiling server has no equivalent")
		entry.drop("lambda", "go-cqhttp's cloud-function server has no equivalent")
		entry.rest()
	}
	if len(entries) == 0 {
		c.line(0, "# go-cqhttp listed no server: these are the defaults.")
		c.line(0, "servers:")
		c.line(1, "- http:")
		c.line(3, "address: 127.0.0.1:5700")
		c.line(1, "- ws:")
		c.line(3, "address: 127.0.0.1:6700")
		return
	}
	c.line(0, "servers:")
	for _, f := range entries {
		f()
	}
}

// server converts one http, ws or ws-reverse entry; it returns the
// function that writes it, or nil when the entry is dropped.
func (c *converter) server(kind string, s *node, defaultToken string) func() {
	if s.boolean("disabled") {
		for k := range s.m {
			s.used[k] = true
		}
		c.note(s.path, "disabled in go-cqhttp; left out")
		return nil
	}
	token := defaultToken
	if s.has("middlewares") {
		mw := s.sub("middlewares")
		token = mw.str("access-token")
		mw.drop("filter", "go-cqhttp's event filter has no equivalent")
		mw.drop("rate-limit", "go-cqhttp's API rate limit has no equivalent (limits.max-actions bounds the actions running at once)")
		mw.rest()
	}
	switch kind {
	case "http":
		return c.httpServer(s, token)
	case "ws":
		addr := address(s, "127.0.0.1:6700")
		s.rest()
		return func() {
			c.line(1, "- ws:")
			c.line(3, "address: %s", q(addr))
			if token != "" {
				c.line(3, "access-token: %s", q(token))
			}
		}
	default:
		return c.wsReverse(s, token)
	}
}

func (c *converter) httpServer(s *node, token string) func() {
	addr := address(s, "127.0.0.1:5700")
	// go-cqhttp's http timeout bounds its posts, at least 5 s.
	postTimeout, hasTimeout := s.integer("timeout")
	if hasTimeout && postTimeout < 5 {
		postTimeout = 5
	}
	s.drop("long-polling", "no long polling here: events go out by post, ws or ws-reverse")
	type post struct {
		url, secret         string
		retries             int
		hasRetries, schemed bool
	}
	var posts []post
	list, _ := s.get("post").([]any)
	for j, item := range list {
		p := c.node(fmt.Sprintf("%s.post[%d]", s.path, j), item)
		u := strings.TrimSpace(p.str("url"))
		if u == "" {
			p.rest()
			continue
		}
		var pp post
		pp.url, pp.secret = u, p.str("secret")
		if !strings.Contains(u, "://") {
			// go-cqhttp posts to a bare host:port over http.
			pp.url, pp.schemed = "http://"+u, true
			c.note(p.key("url"), "has no scheme; written with http://, as go-cqhttp posted to it")
		}
		pp.retries, pp.hasRetries = p.integer("max-retries")
		if pp.hasRetries && pp.retries > 100 {
			pp.retries = 100
			c.note(p.key("max-retries"), "more than 100; written as 100, the most allowed here")
		}
		p.drop("retries-interval", "retries back off by themselves here; only max-retries is set")
		p.rest()
		posts = append(posts, pp)
	}
	s.rest()
	return func() {
		c.line(1, "- http:")
		c.line(3, "address: %s", q(addr))
		if token != "" {
			c.line(3, "access-token: %s", q(token))
		}
		if len(posts) == 0 {
			return
		}
		c.line(3, "post:")
		for _, p := range posts {
			c.line(4, "- url: %s", q(p.url))
			if p.secret != "" {
				c.line(5, "secret: %s", q(p.secret))
			}
			if hasTimeout {
				c.line(5, "timeout: %d # go-cqhttp's servers[].http.timeout", min(postTimeout, 600))
			}
			if p.hasRetries {
				c.line(5, "max-retries: %d", p.retries)
			}
		}
	}
}

func (c *converter) wsReverse(s *node, token string) func() {
	universal, api, event := s.str("universal"), s.str("api"), s.str("event")
	if universal != "" && (api != "" || event != "") {
		// go-cqhttp connects to universal alone when it is set.
		api, event = "", ""
		c.note(s.key("api"), "left out with event: go-cqhttp used universal alone when it was set")
	}
	interval, hasInterval := s.integer("reconnect-interval")
	if hasInterval && interval < 100 {
		interval = 100
		c.note(s.key("reconnect-interval"), "below 100 ms; written as 100, the least allowed here")
	}
	s.rest()
	if universal == "" && api == "" && event == "" {
		c.note(s.path, "names no URL; left out")
		return nil
	}
	return func() {
		c.line(1, "- ws-reverse:")
		for _, u := range []struct{ k, v string }{{"universal", universal}, {"api", api}, {"event", event}} {
			if u.v != "" {
				c.line(3, "%s: %s", u.k, q(u.v))
			}
		}
		if hasInterval {
			c.line(3, "reconnect-interval: %d", interval)
		}
		if token != "" {
			c.line(3, "access-token: %s", q(token))
		}
	}
}

// address reads a listen address: go-cqhttp's address, or host and port.
func address(s *node, def string) string {
	if a := strings.TrimSpace(s.str("address")); a != "" {
		s.used["host"], s.used["port"] = true, true
		return a
	}
	host, port := s.str("host"), s.str("port")
	if host == "" && port == "" {
		return def
	}
	dh, dp, _ := net.SplitHostPort(def)
	if host == "" {
		host = dh
	}
	if port == "" {
		port = dp
	}
	return net.JoinHostPort(host, port)
}
