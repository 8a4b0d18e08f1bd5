package redact_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/internal/redact"
)

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:pass@host:8080/hook?key=SECRET&v=1#frag": "http://***@host:8080/hook?key=***&v=***#***",
		"https://TOKEN@hooks.example/a/b":                     "https://***@hooks.example/a/b",
		"ws://127.0.0.1:8080/onebot/v11/ws":                   "ws://127.0.0.1:8080/onebot/v11/ws",
		"ws://h/?access_token=t":                              "ws://h/?access_token=***",
		"http://h/p?bare&k=":                                  "http://h/p?***&k=***",
		"http://h/a@b?x=1":                                    "http://h/a@b?x=***",     // @ in the path is not userinfo
		"http://u:p@h/%zz?k=v":                                "http://***@h/%zz?k=***", // does not parse
		"http://u:p@h":                                        "http://***@h",
		"host:5700":                                           "host:5700",
		"":                                                    "",
	} {
		if got := redact.URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestError: the URL net/http quotes in a real client error is masked, and
// the rest of the text (host, path, cause) stays.
func TestError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: the dial is refused
	req, _ := http.NewRequestWithContext(context.Background(), "POST",
		"http://alice:pw123456@"+addr+"/hook?key=SECRET123", nil)
	_, err = http.DefaultClient.Do(req)
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	// Error must see the error before it is wrapped: fmt.Errorf renders
	// the text at once.
	wrapped := fmt.Errorf("post event: %w", redact.Error(err))
	got := wrapped.Error()
	for _, s := range []string{"alice", "pw123456", "SECRET123"} {
		if strings.Contains(got, s) {
			t.Errorf("%q shows %q", got, s)
		}
	}
	if want := `post event: Post "http://***@` + addr + `/hook?key=***": dial tcp`; !strings.HasPrefix(got, want) {
		t.Errorf("%q, want it to start %q", got, want)
	}
	if redact.Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
	plain := errors.New("no url here")
	if redact.Error(plain) != plain {
		t.Error("Error changed an error without a URL")
	}
}

// apply runs rules the way the log sink does.
func apply(rules []redact.Rule, s string) string {
	for _, r := range rules {
		s = strings.ReplaceAll(s, r.Old, r.New)
	}
	return s
}

func TestRules(t *testing.T) {
	raw := "http://bot:pa%40ss-word@hooks.example/h?key=SECRET%2Fvalue&v=1"
	rules := redact.Rules(raw)
	for i := 1; i < len(rules); i++ {
		if len(rules[i].Old) > len(rules[i-1].Old) {
			t.Fatalf("rules not longest first: %q before %q", rules[i-1].Old, rules[i].Old)
		}
	}
	for _, tc := range []struct{ in, want string }{
		// As configured, as url.URL prints it, as net/http prints it.
		{"dial " + raw + " failed", "dial http://***@hooks.example/h?key=***&v=*** failed"},
		{`Post "http://bot:***@hooks.example/h?key=SECRET%2Fvalue&v=1": EOF`, `Post "http://***@hooks.example/h?key=***&v=***": EOF`},
		// Parts, wherever they turn up.
		{"password pa@ss-word", "password ***"},
		{"escaped pa%40ss-word", "escaped ***"},
		{"value SECRET/value and SECRET%2Fvalue", "value *** and ***"},
		{"another path http://hooks.example/other?key=SECRET%2Fvalue", "another path http://hooks.example/other?key=***"},
		{"short v=1 masked next to its key", "short v=*** masked next to its key"},
		// Short parts alone are left: the log keeps its 1s and its "bot".
		{"bot sent 1 message", "bot sent 1 message"},
	} {
		if got := apply(rules, tc.in); got != tc.want {
			t.Errorf("%q -> %q, want %q", tc.in, got, tc.want)
		}
	}
	if r := redact.Rules("ws://127.0.0.1:6700/"); len(r) != 0 {
		t.Errorf("rules for a URL without secrets: %v", r)
	}
	// A token given as the user name is a secret on its own.
	if got := apply(redact.Rules("https://abcdef123@h/"), "token abcdef123"); got != "token ***" {
		t.Errorf("bare user name: %q", got)
	}
}
