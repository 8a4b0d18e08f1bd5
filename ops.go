package main

import (
	"cmp"
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/internal/redact"
	"github.com/yunhu-onebot/yunhu-onebot/migrate"
)

// printCheck shows, for -check, what the daemon would serve (defaults
// included, so an empty file says what it means) on stdout, and what is
// valid but likely wrong on stderr; the exit status stays 0.
func printCheck(stdout, stderr io.Writer, cfg *config.Config) {
	token := func(t string) string {
		if t == "" {
			return "no access-token"
		}
		return "access-token set"
	}
	for i, s := range cfg.Servers {
		switch {
		case s.HTTP != nil:
			fmt.Fprintf(stdout, "servers[%d]: HTTP API on %s, %s, %d post target(s)\n", i, s.HTTP.Address, token(s.HTTP.AccessToken), len(s.HTTP.Post))
		case s.WS != nil:
			fmt.Fprintf(stdout, "servers[%d]: forward WebSocket on %s, %s\n", i, s.WS.Address, token(s.WS.AccessToken))
		case s.WSReverse != nil:
			u := cmp.Or(s.WSReverse.Universal, s.WSReverse.API, s.WSReverse.Event)
			fmt.Fprintf(stdout, "servers[%d]: reverse WebSocket to %s, %s\n", i, redact.URL(u), token(s.WSReverse.AccessToken))
		}
	}
	for _, p := range cfg.Warnings {
		fmt.Fprintf(stderr, "warning: %v\n", p)
	}
}

// logConfigWarnings repeats them at every start, where journald keeps them.
func logConfigWarnings(log *zap.Logger, cfg *config.Config) {
	for _, p := range cfg.Warnings {
		log.Warn("configuration: " + p.Error())
	}
}

// runMigrate converts the go-cqhttp config.yml at path for -migrate: the
// configuration on stdout, what has no equivalent on stderr.
func runMigrate(path string, stdout, stderr io.Writer) int {
	src, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "read go-cqhttp config: %v\n", err)
		return exitConfig
	}
	out, notes, err := migrate.GoCQHTTP(src)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return exitConfig
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "write the configuration: %v\n", err)
		return exitError
	}
	if len(notes) > 0 {
		fmt.Fprintf(stderr, "%s: %d go-cqhttp settings have no equivalent here or were changed:\n", path, len(notes))
		for _, n := range notes {
			fmt.Fprintf(stderr, "  %v\n", n)
		}
	}
	fmt.Fprintf(stderr, "Next: put the account's token in account.token or YUNHU_TOKEN, then check the result with -check.\n")
	return exitOK
}
