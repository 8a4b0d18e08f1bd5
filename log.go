package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/yunhu-onebot/yunhu-onebot/config"
)

// newLogger builds the root logger: console or JSON lines on stderr (no
// colours, so journald stores them clean), optionally also appended to a
// file. Every configured secret is masked in everything written, as a net
// under the rule that code never logs them in the first place.
func newLogger(cfg config.Log, secrets []string, stderr io.Writer) (*zap.Logger, func(), error) {
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
	return zap.New(core, zap.AddStacktrace(zapcore.ErrorLevel)), closeFn, nil
}

// configSecrets lists every credential in cfg, as written and as it would
// appear inside a JSON string.
func configSecrets(cfg *config.Config) []string {
	var raw []string
	add := func(s string) {
		if s != "" {
			raw = append(raw, s)
		}
	}
	add(cfg.Account.Token)
	for _, s := range cfg.Servers {
		switch {
		case s.HTTP != nil:
			add(s.HTTP.AccessToken)
			for _, p := range s.HTTP.Post {
				add(p.Secret)
			}
		case s.WS != nil:
			add(s.WS.AccessToken)
		case s.WSReverse != nil:
			add(s.WSReverse.AccessToken)
		}
	}
	out := raw
	for _, s := range raw {
		q, _ := json.Marshal(s)
		if inner := string(q[1 : len(q)-1]); inner != s {
			out = append(out, inner)
		}
	}
	return out
}

// redactor masks secrets in each log entry. zap hands a WriteSyncer one
// whole entry per Write, so a secret is never split across calls.
type redactor struct {
	mu      sync.Mutex // guards out, which may not be safe for concurrent use
	out     zapcore.WriteSyncer
	secrets [][]byte
}

func newRedactor(out zapcore.WriteSyncer, secrets []string) zapcore.WriteSyncer {
	r := &redactor{out: out}
	for _, s := range secrets {
		r.secrets = append(r.secrets, []byte(s))
	}
	return r
}

const mask = "[redacted]"

func (r *redactor) Write(p []byte) (int, error) {
	n := len(p)
	for _, s := range r.secrets {
		if bytes.Contains(p, s) {
			p = bytes.ReplaceAll(p, s, []byte(mask))
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
