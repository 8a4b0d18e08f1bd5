// Command yunhu-onebot runs OneBot v11 bot frameworks on Yunhu: it logs in
// to Yunhu as a user account and serves the OneBot v11 protocol (HTTP API,
// HTTP POST, forward and reverse WebSocket) to the bots.
//
// Usage:
//
//	yunhu-onebot [-c config.yaml] [-sandbox] [-check] [-version] [-sample-config]
//	yunhu-onebot [-c config.yaml] [-sandbox] -login -email ADDRESS | -phone NUMBER
//	yunhu-onebot -migrate gocq-config.yml
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
	"io/fs"
	"os"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
)

// sampleConfig is the annotated config.yaml, printed by -sample-config so
// that a binary installed alone can still produce a starting point.
//
//go:embed config.yaml
var sampleConfig []byte

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// Exit codes, after sysexits.h: the unit file's RestartPreventExitStatus
// names the two that no restart can fix (README "Exit status").
const (
	exitOK    = 0
	exitError = 1 // a failure a restart may fix: a port in use, the database locked
	exitUsage = 2
	// exitNoPerm (EX_NOPERM): Yunhu rejected account.token.
	exitNoPerm = 77
	// exitConfig (EX_CONFIG): the configuration is missing, unreadable or
	// invalid, or the token is empty.
	exitConfig = 78
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
	login := flags.Bool("login", false, "sign in to Yunhu with -email or -phone, save the account token next to the database (database.path) and exit")
	loginEmail := flags.String("email", "", "with -login: the account's email `address`; the password is read from the terminal (or stdin)")
	loginPhone := flags.String("phone", "", "with -login: the account's mobile `number`; the SMS code is read from the terminal (or stdin)")
	migrateFrom := flags.String("migrate", "", "convert a go-cqhttp config.yml `file` to this daemon's configuration on stdout, naming on stderr what has no equivalent, and exit")
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
	case *migrateFrom != "":
		return runMigrate(*migrateFrom, stdout, stderr)
	}

	cfg, err := config.Load(*configPath, getenv)
	if errors.Is(err, config.ErrNotFound) {
		fmt.Fprintf(stderr, "%v\nCreate it from the annotated sample (every key is optional):\n\n    yunhu-onebot -sample-config > %s\n\nor name another file with -c.\n", err, *configPath)
		return exitConfig
	}
	if errors.Is(err, fs.ErrPermission) {
		fmt.Fprintf(stderr, "%v\nThe daemon cannot read its configuration. Under the systemd unit it runs as the user yunhu-onebot; give the file that group:\n\n    sudo chown root:yunhu-onebot %s && sudo chmod 0640 %s\n", err, *configPath, *configPath)
		return exitConfig
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitConfig
	}
	if *login || *loginEmail != "" || *loginPhone != "" {
		return runLogin(loginRequest{login: *login, email: *loginEmail, phone: *loginPhone, sandbox: *sandbox}, cfg, os.Stdin, stdout, stderr)
	}
	yunhuBackend := cfg.Backend == config.BackendYunhu
	var tokenSource string
	if yunhuBackend {
		if tokenSource, err = resolveToken(cfg, getenv, *sandbox); err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return exitConfig // an unreadable or unsafe token file: fixed by the operator, not by a restart
		}
	}
	if *check {
		fmt.Fprintf(stdout, "%s: valid\n", *configPath)
		printCheck(stdout, stderr, cfg)
		switch {
		case yunhuBackend && cfg.Account.Token == "":
			fmt.Fprintf(stdout, "note: account.token is empty; set it or YUNHU_TOKEN, or sign in with -login, before running without -sandbox\n")
		case cfg.Backend == config.BackendWuKongIM && cfg.WuKongIM.Token == "":
			fmt.Fprintf(stdout, "note: wukongim.token is empty; set it or WUKONGIM_TOKEN before running without -sandbox\n")
		}
		return exitOK
	}
	switch {
	case *sandbox:
	case yunhuBackend && cfg.Account.Token == "":
		fmt.Fprintf(stderr, "%s: account.token is empty: sign in with -login -email ADDRESS (or -phone NUMBER), or set account.token or the environment variable YUNHU_TOKEN; or try the daemon with -sandbox\n", *configPath)
		return exitConfig
	case cfg.Backend == config.BackendWildfire && (cfg.Wildfire.RobotID == "" || cfg.Wildfire.RobotSecret == ""):
		fmt.Fprintf(stderr, "%s: wildfire.robot-id and wildfire.robot-secret are required (the robot's user id and secret; WILDFIRE_ROBOT_SECRET overrides the secret); or try the daemon with -sandbox\n", *configPath)
		return exitConfig
	case cfg.Backend == config.BackendWildfire && cfg.Wildfire.Callback.PathSecret == "":
		fmt.Fprintf(stderr, "%s: wildfire.callback.path-secret is empty: callbacks are unsigned, so their URL must hold a secret (at least 16 characters; or WILDFIRE_CALLBACK_SECRET)\n", *configPath)
		return exitConfig
	case cfg.Backend == config.BackendWuKongIM && cfg.WuKongIM.UID == "":
		fmt.Fprintf(stderr, "%s: wukongim.uid is empty: set the bot's WuKongIM user id; or try the daemon with -sandbox\n", *configPath)
		return exitConfig
	case cfg.Backend == config.BackendWuKongIM && cfg.WuKongIM.Token == "":
		fmt.Fprintf(stderr, "%s: wukongim.token is empty: set it or the environment variable WUKONGIM_TOKEN (the token registered for wukongim.uid and device-flag); or try the daemon with -sandbox\n", *configPath)
		return exitConfig
	}

	log, closeLog, err := newLogger(cfg.Log, configSecrets(cfg), stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", *configPath, err)
		return exitConfig
	}
	defer closeLog()
	defer func() { _ = log.Sync() }()
	if tokenSource != "" {
		log.Info("account token", zap.String("source", tokenSource))
	}
	logConfigWarnings(log, cfg)

	d := &daemon{cfg: cfg, log: log, sandbox: *sandbox, getenv: getenv, configPath: *configPath}
	if *sandbox {
		d.banner = stderr
	}
	if err := runUntilSignalled(d, log); err != nil {
		log.Error("stopped with an error", zap.Error(err))
		if errors.Is(err, platform.ErrUnauthorized) {
			return exitNoPerm
		}
		return exitError
	}
	log.Info("stopped")
	return exitOK
}
