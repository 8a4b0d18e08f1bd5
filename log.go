package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/internal/redact"
)

// newLogger builds the root logger: console or JSON lines on stderr (no
// colours, so journald stores them clean), optionally also appended to a
// file. Every configured secret is masked in everything written, as a net
// under the rule that code never logs them in the first place.
func newLogger(cfg config.Log, secrets []redact.Rule, stderr io.Writer) (*zap.Logger, func(), error) {
	level, err := zapcore.ParseLevel(cfg.Level)
	if err != nil {
		return nil, nil, fmt.Errorf("log.level: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	encCfg.EncodeDuration = zapcore.StringDurationEncoder
	var enc zapcore.Encoder
	if cfg.Format == "json" {
		enc = zapcore.NewJSONEncoder(encCfg)
	} else {
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		encCfg.ConsoleSeparator = " "
		enc = zapcore.NewConsoleEncoder(encCfg)
	}

	sinks := []zapcore.WriteSyncer{zapcore.AddSync(stderr)}
	closeFn := func() {}
	if cfg.File != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.File), 0o750); err != nil {
			return nil, nil, fmt.Errorf("log.file: %w", err)
		}
		f, err := os.OpenFile(cfg.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("log.file: %w", err)
		}
		sinks = append(sinks, f)
		closeFn = func() { _ = f.Sync(); _ = f.Close() }
	}
	out := newRedactor(zapcore.NewMultiWriteSyncer(sinks...), secrets)
	core := zapcore.NewCore(enc, out, level)
	// No stack traces below DPanic: an error's text carries its context,
	// and a port in use or a rejected token is no bug in the code.
	return zap.New(core, zap.AddStacktrace(zapcore.DPanicLevel)), closeFn, nil
}

// configSecrets returns the masking rules for every credential in cfg:
// tokens and webhook secrets become [redacted] wherever they appear, and
// every configured URL (webhooks, reverse WebSocket, Yunhu endpoints) has
// its userinfo and query values masked wherever it, or a part of it,
// appears (redact.Rules). Each rule also applies as the text would appear
// inside a JSON string.
func configSecrets(cfg *config.Config) []redact.Rule {
	var rules []redact.Rule
	secret := func(s string) {
		if s != "" {
			rules = append(rules, redact.Rule{Old: s, New: mask})
		}
	}
	urls := []string{cfg.Yunhu.APIURL, cfg.Yunhu.WSURL, cfg.Yunhu.UploadURL, cfg.WuKongIM.APIURL, cfg.WuKongIM.WSURL, cfg.WuKongIM.Media.PublicURL}
	secret(cfg.Account.Token)
	secret(cfg.WuKongIM.Token)
	secret(cfg.Wildfire.RobotSecret)
	secret(cfg.Wildfire.AdminSecret)
	secret(cfg.Wildfire.Callback.PathSecret)
	urls = append(urls, cfg.Wildfire.RobotURL, cfg.Wildfire.AdminURL, cfg.Wildfire.Callback.SetURL, cfg.Wildfire.Media.PublicURL)
	for _, s := range cfg.Servers {
		switch {
		case s.HTTP != nil:
			secret(s.HTTP.AccessToken)
			for _, p := range s.HTTP.Post {
				secret(p.Secret)
				urls = append(urls, p.URL)
			}
		case s.WS != nil:
			secret(s.WS.AccessToken)
		case s.WSReverse != nil:
			secret(s.WSReverse.AccessToken)
			urls = append(urls, s.WSReverse.Universal, s.WSReverse.API, s.WSReverse.Event)
		}
	}
	for _, u := range urls {
		rules = append(rules, redact.Rules(u)...)
	}
	for _, r := range rules {
		if old := jsonInner(r.Old); old != r.Old {
			rules = append(rules, redact.Rule{Old: old, New: jsonInner(r.New)})
		}
	}
	// Longest first: a whole URL is replaced before the parts in it.
	sort.SliceStable(rules, func(i, j int) bool { return len(rules[i].Old) > len(rules[j].Old) })
	return rules
}

// jsonInner is s as it appears between the quotes of a JSON string.
func jsonInner(s string) string {
	q, _ := json.Marshal(s)
	return string(q[1 : len(q)-1])
}

// redactor masks secrets in each log entry. zap hands a WriteSyncer one
// whole entry per Write, so a secret is never split across calls. It sits
// under the encoder, so it sees the message, every field and every error
// text exactly as written: no call site can forget it.
type redactor struct {
	mu    sync.Mutex // guards out, which may not be safe for concurrent use
	out   zapcore.WriteSyncer
	rules []byteRule // longest Old first
}

type byteRule struct{ old, new []byte }

func newRedactor(out zapcore.WriteSyncer, rules []redact.Rule) zapcore.WriteSyncer {
	r := &redactor{out: out}
	for _, rule := range rules {
		if rule.Old != "" {
			r.rules = append(r.rules, byteRule{[]byte(rule.Old), []byte(rule.New)})
		}
	}
	return r
}

const mask = "[redacted]"

func (r *redactor) Write(p []byte) (int, error) {
	n := len(p)
	for _, rule := range r.rules {
		if bytes.Contains(p, rule.old) {
			p = bytes.ReplaceAll(p, rule.old, rule.new)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.out.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

func (r *redactor) Sync() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.Sync()
}
