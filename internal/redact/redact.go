// Package redact masks credentials in URLs before they are shown. A
// webhook's "http://user:pass@host/hook?key=SECRET" carries secrets in its
// userinfo and query as surely as an access token does, while its scheme,
// host and path are what an operator needs to see in a log line, a banner
// or an error.
//
// URL masks one URL for display; Error rewrites the URL inside a
// *url.Error (net/http and the WebSocket dialer put the whole request URL
// in their errors); Rules lists what a log sink must replace so that a
// configured URL, or any part of it, never reaches the output even when a
// line was written carelessly.
package redact

import (
	"errors"
	"net/url"
	"sort"
	"strings"
)

// Mask replaces every secret part of a URL.
const Mask = "***"

// MinStandalone is the shortest secret part that Rules masks on its own,
// wherever it appears. A shorter one ("?v=1", a user "bot") is masked only
// next to what marks it as part of the URL ("v=1", "bot:...@"), or the log
// would lose every "1" in it.
const MinStandalone = 6

// URL returns raw with its userinfo, query values and fragment masked:
// "http://user:pass@host:8080/hook?key=s&v=1#f" becomes
// "http://***@host:8080/hook?key=***&v=***#***". The scheme, host, port,
// path and query keys stay readable. It works on the text, so a URL that
// does not parse is masked the same way.
func URL(raw string) string {
	prefix, rest := "", raw
	if i := strings.Index(raw, "://"); i >= 0 {
		prefix, rest = raw[:i+3], raw[i+3:]
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		authority = Mask + authority[at:]
	}
	var b strings.Builder
	b.Grow(len(raw))
	b.WriteString(prefix)
	b.WriteString(authority)
	frag := ""
	if i := strings.IndexByte(tail, '#'); i >= 0 {
		tail, frag = tail[:i], tail[i+1:]
	}
	path, query, hasQuery := strings.Cut(tail, "?")
	b.WriteString(path)
	if hasQuery {
		b.WriteByte('?')
		b.WriteString(maskQuery(query))
	}
	if frag != "" {
		b.WriteString("#" + Mask)
	}
	return b.String()
}

// maskQuery keeps each parameter's key and masks its value.
func maskQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		if p == "" {
			continue
		}
		if k, _, ok := strings.Cut(p, "="); ok {
			parts[i] = k + "=" + Mask
		} else {
			parts[i] = Mask
		}
	}
	return strings.Join(parts, "&")
}

// Error masks, in place, the URL of every *url.Error in err's chain and
// returns err. net/http's client errors read `Post "http://user:***@host/
// hook?key=SECRET": ...` (it hides only the password); after Error they
// read `Post "http://***@host/hook?key=***": ...`. Call it on an error
// just returned by a request or a dial, before wrapping it: fmt.Errorf
// renders the wrapped text at once, so a later call cannot reach it.
func Error(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if ue, ok := e.(*url.Error); ok {
			ue.URL = URL(ue.URL)
		}
	}
	return err
}

// Rule is one replacement for a log sink: Old, wherever it appears,
// becomes New.
type Rule struct{ Old, New string }

// Rules returns the replacements that keep raw's secrets out of an output
// whatever form they are printed in: the URL as configured, as url.URL
// prints it and as net/http prints it (password shown as ***) become
// URL(raw); its userinfo and each query "key=value" are masked wherever
// they appear; and the password, a bare username (a token given as
// "https://TOKEN@host") and each query value are masked on their own,
// escaped or not, when at least MinStandalone long. The rules are sorted
// longest first, so a whole URL is replaced before its parts are.
func Rules(raw string) []Rule {
	if raw == "" {
		return nil
	}
	seen := map[string]bool{}
	var rules []Rule
	add := func(old, new string) {
		if old == "" || old == new || seen[old] {
			return
		}
		seen[old] = true
		rules = append(rules, Rule{old, new})
	}
	standalone := func(s string) {
		if len(s) >= MinStandalone {
			add(s, Mask)
		}
	}
	add(raw, URL(raw))
	u, err := url.Parse(raw)
	if err != nil {
		return sortRules(rules)
	}
	s := u.String()
	add(s, URL(s))
	if u.User != nil {
		ui := u.User.String()
		add(ui+"@", Mask+"@")
		name := u.User.Username()
		pass, hasPass := u.User.Password()
		if hasPass {
			// net/http's stripPassword form: user:***@host.
			stripped := strings.Replace(s, ui+"@", name+":***@", 1)
			add(stripped, URL(stripped))
			add(name+":***@", Mask+"@")
			standalone(pass)
			standalone(url.PathEscape(pass))
			standalone(url.QueryEscape(pass))
		} else {
			standalone(name)
			standalone(url.PathEscape(name))
		}
		standalone(ui)
	}
	for p := range strings.SplitSeq(u.RawQuery, "&") {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			k, v = "", p
		}
		if v == "" {
			continue
		}
		if ok {
			add(p, k+"="+Mask)
		}
		standalone(v)
		if dec, err := url.QueryUnescape(v); err == nil {
			standalone(dec)
		}
	}
	if u.Fragment != "" {
		standalone(u.Fragment)
	}
	return sortRules(rules)
}

func sortRules(rules []Rule) []Rule {
	sort.SliceStable(rules, func(i, j int) bool { return len(rules[i].Old) > len(rules[j].Old) })
	return rules
}
