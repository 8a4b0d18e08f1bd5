package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/yunhu-onebot/yunhu-onebot/internal/redact"
)

// validate reports every bad value through report(path, msg).
func (c *Config) validate(report func(path, msg string)) {
	v := validator{report: report}

	if !slices.Contains(Backends(), c.Backend) {
		v.fail("backend", fmt.Sprintf("%q is not one of %s", c.Backend, strings.Join(Backends(), ", ")))
	}

	switch c.Account.Platform {
	case "windows", "macos", "android", "linux", "ios", "fuchsia", "Web":
	default:
		v.fail("account.platform", fmt.Sprintf("%q is not one of windows, macos, android, linux, ios, fuchsia, Web", c.Account.Platform))
	}
	if id := c.Account.DeviceID; len(id) > 64 || strings.ContainsAny(id, " \t\r\n") {
		v.fail("account.device-id", "must be at most 64 characters without spaces")
	}

	switch c.Backend {
	case BackendWuKongIM:
		c.validateWuKongIM(v)
	case BackendWildfire:
		c.validateWildfire(v)
	}

	v.url("yunhu.api-url", c.Yunhu.APIURL, "http", "https")
	v.url("yunhu.ws-url", c.Yunhu.WSURL, "ws", "wss")
	v.url("yunhu.upload-url", c.Yunhu.UploadURL, "http", "https")
	v.between("yunhu.timeout", c.Yunhu.Timeout, 1, 3600, "seconds")

	if c.Heartbeat.Interval < 0 {
		v.fail("heartbeat.interval", fmt.Sprintf("%d is go-cqhttp's \"off\"; write 0 to turn heartbeats off here", c.Heartbeat.Interval))
	} else {
		v.between("heartbeat.interval", c.Heartbeat.Interval, 0, 86400, "seconds")
	}

	switch c.Message.PostFormat {
	case "string", "array":
	default:
		v.fail("message.post-format", fmt.Sprintf("%q is not string or array", c.Message.PostFormat))
	}
	v.between("message.max-media-size", c.Message.MaxMediaSize, 1, 1024, "MiB")
	v.between("message.fetch-timeout", c.Message.FetchTimeout, 1, 3600, "seconds")
	for i, root := range c.Message.Media.FileRoots {
		if !filepath.IsAbs(root) {
			v.fail(fmt.Sprintf("message.media.file-roots[%d]", i), fmt.Sprintf("%q is not an absolute path", root))
		}
	}

	if strings.TrimSpace(c.Database.Path) == "" {
		v.fail("database.path", "must not be empty")
	}
	v.between("database.retention-days", c.Database.RetentionDays, 0, 36500, "days")
	v.between("database.max-messages", c.Database.MaxMessages, 0, 1<<31-1, "messages")

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.fail("log.level", fmt.Sprintf("%q is not debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "console", "json":
	default:
		v.fail("log.format", fmt.Sprintf("%q is not console or json", c.Log.Format))
	}

	v.between("limits.max-actions", c.Limits.MaxActions, 1, 1_000_000, "actions")
	// One request of the largest size (a max-media-size file as base64)
	// must always fit, and a WebSocket frame needs up to twice its size
	// while it is read.
	minRequest := 2 * (c.Message.MaxMediaSize*4/3 + 2)
	if c.Limits.MaxRequestMemory < minRequest {
		v.fail("limits.max-request-memory", fmt.Sprintf(
			"%d MiB cannot hold one request with a %d MiB media file (message.max-media-size) as a WebSocket frame; need at least %d MiB",
			c.Limits.MaxRequestMemory, c.Message.MaxMediaSize, minRequest))
	} else {
		v.between("limits.max-request-memory", c.Limits.MaxRequestMemory, minRequest, 1<<20, "MiB")
	}
	v.between("limits.max-ws-connections", c.Limits.MaxWSConnections, 1, 100_000, "connections")
	if m := c.Limits.Memory; m != 0 && m < c.Limits.MaxRequestMemory+memoryBase/4 {
		v.fail("limits.memory", fmt.Sprintf("%d MiB leaves no room beside limits.max-request-memory (%d MiB); use 0 (derived) or at least %d MiB",
			m, c.Limits.MaxRequestMemory, c.Limits.MaxRequestMemory+memoryBase/4))
	} else {
		v.between("limits.memory", m, 0, 1<<24, "MiB")
	}

	listeners := map[string]string{} // address -> path of the entry using it
	listen := func(path, addr string) {
		if !v.address(path, addr) {
			return
		}
		if _, port, _ := net.SplitHostPort(addr); port == "0" {
			return // a fresh ephemeral port each time, never a clash
		}
		if other, ok := listeners[addr]; ok {
			v.fail(path, fmt.Sprintf("%s is already used by %s", addr, other))
			return
		}
		listeners[addr] = path
	}
	for i, s := range c.Servers {
		base := fmt.Sprintf("servers[%d]", i)
		var kinds []string
		if s.HTTP != nil {
			kinds = append(kinds, "http")
		}
		if s.WS != nil {
			kinds = append(kinds, "ws")
		}
		if s.WSReverse != nil {
			kinds = append(kinds, "ws-reverse")
		}
		switch len(kinds) {
		case 0:
			v.fail(base, "needs one of http, ws or ws-reverse")
			continue
		case 1:
		default:
			v.fail(base, "holds "+strings.Join(kinds, " and ")+"; each entry holds exactly one kind")
			continue
		}
		switch {
		case s.HTTP != nil:
			p := base + ".http"
			listen(p+".address", s.HTTP.Address)
			v.between(p+".timeout", s.HTTP.Timeout, 1, 3600, "seconds")
			for j, post := range s.HTTP.Post {
				pp := fmt.Sprintf("%s.post[%d]", p, j)
				if post.URL == "" {
					v.fail(pp+".url", "must be set")
				} else {
					v.url(pp+".url", post.URL, "http", "https")
				}
				v.between(pp+".timeout", post.Timeout, 1, 600, "seconds")
				v.between(pp+".max-retries", post.MaxRetries, 0, 100, "retries")
			}
		case s.WS != nil:
			listen(base+".ws.address", s.WS.Address)
			v.between(base+".ws.buffer-size", s.WS.BufferSize, 0, 1_000_000, "events")
		case s.WSReverse != nil:
			p := base + ".ws-reverse"
			r := s.WSReverse
			if r.Universal == "" && r.API == "" && r.Event == "" {
				v.fail(p, "needs universal, or api and/or event")
			}
			if r.Universal != "" && (r.API != "" || r.Event != "") {
				v.fail(p, "set universal, or api and event, not both")
			}
			for _, u := range []struct{ key, val string }{{"universal", r.Universal}, {"api", r.API}, {"event", r.Event}} {
				if u.val != "" {
					v.url(p+"."+u.key, u.val, "ws", "wss")
				}
			}
			v.between(p+".reconnect-interval", r.ReconnectInterval, 100, 3_600_000, "milliseconds")
			v.between(p+".buffer-size", r.BufferSize, 0, 1_000_000, "events")
		}
	}
	if c.Metrics.Address != "" {
		listen("metrics.address", c.Metrics.Address)
	}
}

type validator struct {
	report func(path, msg string)
}

func (v validator) fail(path, msg string) { v.report(path, msg) }

func (v validator) between(path string, n, lo, hi int, unit string) {
	if n < lo || n > hi {
		v.fail(path, fmt.Sprintf("%d is out of range (%d to %d %s)", n, lo, hi, unit))
	}
}

func (v validator) url(path, raw string, schemes ...string) {
	u, err := url.Parse(raw)
	ok := err == nil && u.Host != ""
	if ok {
		ok = false
		for _, s := range schemes {
			ok = ok || u.Scheme == s
		}
	}
	if !ok {
		names := make([]string, len(schemes))
		for i, s := range schemes {
			names[i] = s + "://"
		}
		// Masked: -check and a failed start print this, and a webhook's
		// credentials are no less secret in a wrong URL.
		v.fail(path, fmt.Sprintf("%q is not a %s URL", redact.URL(raw), strings.Join(names, " or ")))
	}
}

// address checks a listen address of the form host:port; port 0 picks a
// free port (useful in tests).
func (v validator) address(path, addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.fail(path, fmt.Sprintf("%q is not host:port", addr))
		return false
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		v.fail(path, fmt.Sprintf("port %q is not a number", port))
		return false
	}
	if n < 0 || n > 65535 {
		v.fail(path, fmt.Sprintf("port %d out of range (0 to 65535)", n))
		return false
	}
	return true
}

// validateWuKongIM checks the wukongim section, read only when it is the
// backend.
func (c *Config) validateWuKongIM(v validator) {
	w := &c.WuKongIM
	v.url("wukongim.api-url", w.APIURL, "http", "https")
	v.url("wukongim.ws-url", w.WSURL, "ws", "wss")
	switch w.DeviceFlag {
	case 0, 1, 2:
	default:
		v.fail("wukongim.device-flag", fmt.Sprintf("%d is not 0 (app), 1 (web) or 2 (pc)", w.DeviceFlag))
	}
	if id := w.DeviceID; len(id) > 64 || strings.ContainsAny(id, " \t\r\n") {
		v.fail("wukongim.device-id", "must be at most 64 characters without spaces")
	}
	v.between("wukongim.timeout", w.Timeout, 1, 3600, "seconds")
	for i, g := range w.Groups {
		if g.ID == "" {
			v.fail(fmt.Sprintf("wukongim.groups[%d].id", i), "must be set")
		}
	}
	for i, u := range w.Users {
		if u.ID == "" {
			v.fail(fmt.Sprintf("wukongim.users[%d].id", i), "must be set")
		}
	}
	validateMedia(v, "wukongim.media", w.Media)
}

// validateMedia checks a backend's hosted-media settings under path.
func validateMedia(v validator, path string, m HostedMedia) {
	if m.Address == "" && m.PublicURL == "" && m.Dir == "" {
		return
	}
	if m.PublicURL == "" {
		v.fail(path+".public-url", "must be set with address or dir: it is the URL the platform's clients fetch the files from")
	} else {
		v.url(path+".public-url", m.PublicURL, "http", "https")
	}
	if _, _, err := net.SplitHostPort(m.Address); m.Address != "" && err != nil {
		v.fail(path+".address", fmt.Sprintf("%q is not host:port", m.Address))
	}
}

// validateWildfire checks the wildfire section, read only when it is the
// backend. Ids and secrets are required at start, not here, so that
// -sandbox runs with the section left out.
func (c *Config) validateWildfire(v validator) {
	w := &c.Wildfire
	v.url("wildfire.robot-url", w.RobotURL, "http", "https")
	if w.AdminURL != "" {
		v.url("wildfire.admin-url", w.AdminURL, "http", "https")
	}
	v.between("wildfire.timeout", w.Timeout, 1, 3600, "seconds")
	cb := w.Callback
	if _, _, err := net.SplitHostPort(cb.Address); err != nil {
		v.fail("wildfire.callback.address", fmt.Sprintf("%q is not host:port", cb.Address))
	}
	if s := cb.PathSecret; s != "" && (len(s) < 16 || strings.ContainsAny(s, "/?#% \t")) {
		v.fail("wildfire.callback.path-secret", "must be at least 16 characters, none of them / ? # % or white space")
	}
	for i, a := range cb.Allow {
		if _, err := netip.ParsePrefix(a); err != nil {
			if _, err := netip.ParseAddr(a); err != nil {
				v.fail(fmt.Sprintf("wildfire.callback.allow[%d]", i), fmt.Sprintf("%q is not an IP address or CIDR", a))
			}
		}
	}
	if cb.SetURL != "" {
		v.url("wildfire.callback.set-url", cb.SetURL, "http", "https")
		if cb.PathSecret != "" && !strings.Contains(cb.SetURL, "/"+cb.PathSecret+"/") {
			v.fail("wildfire.callback.set-url", "does not contain the path secret: the server would post where the daemon refuses")
		}
	}
	validateMedia(v, "wildfire.media", w.Media)
}
