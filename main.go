// Command yunhu-onebot runs OneBot v11 bot frameworks on Yunhu: it logs in
// to Yunhu as a user account and serves the OneBot v11 protocol (HTTP API,
// HTTP POST, forward and reverse WebSocket) to the bots.
//
// Usage:
//
//	yunhu-onebot [-c config.yaml] [-sandbox] [-check] [-version] [-sample-config]
//
// main only parses flags, loads the configuration, builds the logger and
// turns signals into context cancellation; the daemon itself is run.
package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/config"
)

// sampleConfig is the annotated config.yaml, printed by -sample-config so
// that a binary installed alone can still produce a starting point.
//
//go:embed config.yaml
var sampleConfig []byte

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// cli runs the command line and returns the process exit code; it never
// exits itself, so tests can drive it.
func cli(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	flags := flag.NewFlagSet("yunhu-onebot", flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("c", "config.yaml", "configuration `file`")
	sandbox := flags.Bool("sandbox", false, "run against the built-in Yunhu simulator instead of the real service (no account needed)")
	check := flags.Bool("check", false, "validate the configuration, print what is wrong and exit (status 0 when valid)")
	showVersion := flags.Bool("version", false, "print the version and exit")
	printSample := flags.Bool("sample-config", false, "print an annotated sample configuration and exit")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q (flags only; see -h)\n", flags.Arg(0))
		return exitUsage
	}

	switch {
	case *showVersion:
		fmt.Fprintln(stdout, "yunhu-onebot", versionString())
		return exitOK
	case *printSample:
		_, _ = stdout.Write(sampleConfig)
		return exitOK
	}

	cfg, err := config.Load(*configPath, getenv)
	if errors.Is(err, config.ErrNotFound) {
		fmt.Fprintf(stderr, "%v\nCreate it from the annotated sample (every key is optional):\n\n    yunhu-onebot -sample-config > %s\n\nor name another file with -c.\n", err, *configPath)
		return exitError
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitError
	}
	if *check {
		fmt.Fprintf(stdout, "%s: valid\n", *configPath)
		if cfg.Account.Token == "" {
			fmt.Fprintf(stdout, "note: account.token is empty; set it or YUNHU_TOKEN before running without -sandbox\n")
		}
		return exitOK
	}
	if cfg.Account.Token == "" && !*sandbox {
		fmt.Fprintf(stderr, "%s: account.token is empty: set it (or the environment variable YUNHU_TOKEN), or try the daemon with -sandbox\n", *configPath)
		return exitError
	}

	log, closeLog, err := newLogger(cfg.Log, configSecrets(cfg), stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", *configPath, err)
		return exitError
	}
	defer closeLog()
	defer func() { _ = log.Sync() }()

	d := &daemon{cfg: cfg, log: log, sandbox: *sandbox, getenv: getenv, configPath: *configPath}
	if *sandbox {
		d.banner = stderr
	}
	if err := runUntilSignalled(d, log); err != nil {
		log.Error("stopped with an error", zap.Error(err))
		return exitError
	}
	log.Info("stopped")
	return exitOK
}
