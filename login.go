package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// Getting a token: -login signs in to Yunhu and saves the account token in
// a file next to the database, which the daemon reads at start when
// neither account.token nor YUNHU_TOKEN is set.
//
// Why a file and not the database: a running daemon holds bbolt's
// exclusive lock, so -login could not write there while it runs (signing in
// again after a logout is exactly when it runs, crash-looping); a file is
// replaced atomically at any time, and an operator can see, copy or delete
// it with ordinary tools. It sits beside the database because that is the
// directory the daemon already owns and writes.

// tokenFileName is the saved token's name in database.path's directory.
const tokenFileName = "token"

// maxSecret bounds what is read as a password, code or token file.
const maxSecret = 4 << 10

// loginRequest is what the command line asked for.
type loginRequest struct {
	login        bool   // -login
	email, phone string // -email, -phone
	sandbox      bool   // sign in to a throwaway simulator instead
}

// tokenPath is where -login saves the token for cfg. The sandbox's token
// goes beside the sandbox database, so trying -login -sandbox never
// replaces the real one.
func tokenPath(cfg *config.Config, sandbox bool) string {
	p := filepath.Join(filepath.Dir(cfg.Database.Path), tokenFileName)
	if sandbox {
		p = sandboxPath(p)
	}
	return p
}

// runLogin signs in, saves the token and returns the exit code. The
// password or SMS code is read from stdin: without echo when it is a
// terminal, else one line (for scripts). Neither it nor the token is ever
// written anywhere but the token file.
func runLogin(req loginRequest, cfg *config.Config, stdin io.Reader, stdout, stderr io.Writer) int {
	switch {
	case !req.login:
		fmt.Fprintln(stderr, "-email and -phone go with -login, e.g. yunhu-onebot -login -email you@example.com")
		return exitUsage
	case (req.email == "") == (req.phone == ""):
		fmt.Fprintln(stderr, "-login needs one of -email ADDRESS (the password is asked for) or -phone NUMBER (the SMS code is asked for)")
		return exitUsage
	}

	apiURL := cfg.Yunhu.APIURL
	if req.sandbox {
		base, stop, err := startLoginSandbox()
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return exitError
		}
		defer stop()
		apiURL = sim.Endpoints(base).API
		fmt.Fprintf(stderr, "Signing in to a throwaway simulated Yunhu at %s. Its accounts: email %s or mobile %s (and the other seeded users alike), password %q, SMS code %q.\n",
			base, sim.EmailFor(sim.SelfID), sim.PhoneFor(sim.SelfID), sim.Password, sim.SMSCode)
	}
	client := yunhu.New(yunhu.Options{
		APIURL:   apiURL,
		Platform: cfg.Account.Platform,
		DeviceID: cfg.Account.DeviceID, // "" → a fresh one; it only names the session
		Timeout:  cfg.Yunhu.TimeoutDuration(),
		Retries:  -1,
	})
	defer client.Close()

	in := newSecretReader(stdin)
	ctx := context.Background()
	var token string
	var err error
	if req.email != "" {
		var password string
		if password, err = in.read(stderr, "Password for "+req.email+": "); err != nil {
			fmt.Fprintf(stderr, "password: %v\n", err)
			return exitError
		}
		token, err = client.LoginEmail(ctx, req.email, password)
	} else {
		if !req.sandbox {
			fmt.Fprint(stderr, smsHelp(req.phone))
		}
		var code string
		if code, err = in.read(stderr, "SMS code sent to "+req.phone+": "); err != nil {
			fmt.Fprintf(stderr, "SMS code: %v\n", err)
			return exitError
		}
		token, err = client.LoginSMS(ctx, req.phone, code)
	}
	var apiErr *yunhu.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.HTTPStatus == http.StatusOK:
		fmt.Fprintf(stderr, "Yunhu refused the sign-in: %s (code %d)\n", apiErr.Msg, apiErr.Code)
		return exitError
	case err != nil:
		fmt.Fprintf(stderr, "sign-in failed: %v\n", err)
		return exitError
	}

	path := tokenPath(cfg, req.sandbox)
	if err := saveToken(path, token); err != nil {
		fmt.Fprintf(stderr, "the sign-in worked but the token could not be saved: %v\n", err)
		return exitError
	}
	who := "the account"
	authed := yunhu.New(yunhu.Options{APIURL: apiURL, Token: token, Timeout: cfg.Yunhu.TimeoutDuration()})
	if self, err := authed.Self(ctx); err == nil {
		who = fmt.Sprintf("%q (user id %s)", self.Name, self.ID)
	}
	authed.Close()
	fmt.Fprintf(stdout, "Signed in as %s. Token saved to %s.\n", who, path)
	switch {
	case req.sandbox:
		fmt.Fprintln(stdout, "It is valid only for that simulator, which is gone now: the daemon never reads this file, and -sandbox always runs as the simulator's own account.")
	case cfg.Account.Token != "":
		fmt.Fprintln(stdout, "Note: account.token or YUNHU_TOKEN is set and is used instead of the saved token; remove it to use this one.")
	default:
		fmt.Fprintln(stdout, "The daemon uses it from its next start (account.token and YUNHU_TOKEN are unset).")
	}
	return exitOK
}

// smsHelp tells the user how to get a code: requesting one is not part of
// the documented API, and the apps do it only after a picture captcha
// (/v1/user/captcha) that a command line cannot show or solve.
func smsHelp(phone string) string {
	return "Yunhu texts a sign-in code only after a picture check, through a request that is not documented,\n" +
		"so this command cannot ask for the code itself. Ask for it in the Yunhu app (or its web version):\n" +
		"choose signing in by mobile number, enter " + phone + ", pass the picture check and tap the button\n" +
		"that sends the code; then type the code here instead of there. (With an email address and password\n" +
		"on the account, -email needs none of this.)\n"
}

// secretReader reads one secret at a time from stdin.
type secretReader struct {
	r   *bufio.Reader
	tty int // stdin's descriptor when it is a terminal, else -1
}

func newSecretReader(stdin io.Reader) *secretReader {
	s := &secretReader{r: bufio.NewReaderSize(stdin, 512), tty: -1}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		s.tty = int(f.Fd())
	}
	return s
}

// read prompts on stderr (terminals only) and returns one line without its
// line ending. On a terminal echo is off while it is typed.
func (s *secretReader) read(stderr io.Writer, prompt string) (string, error) {
	if s.tty >= 0 {
		fmt.Fprint(stderr, prompt)
		stop := restoreOnSignal(s.tty, stderr)
		b, err := term.ReadPassword(s.tty)
		stop()
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read from the terminal: %w", err)
		}
		return nonEmpty(string(b))
	}
	var line []byte
	for {
		chunk, isPrefix, err := s.r.ReadLine()
		if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
			if errors.Is(err, io.EOF) {
				return "", errors.New("stdin ended before a line was given")
			}
			return "", fmt.Errorf("read stdin: %w", err)
		}
		line = append(line, chunk...)
		if len(line) > maxSecret {
			return "", fmt.Errorf("longer than %d bytes", maxSecret)
		}
		if !isPrefix || err != nil {
			break
		}
	}
	return nonEmpty(string(line))
}

// restoreOnSignal puts the terminal back as it is now if Ctrl-C or SIGTERM
// arrives, then exits: ReadPassword turns echo off and restores it only when
// it returns, so an interrupted read would leave the shell typing blind.
// The returned stop ends the watch.
func restoreOnSignal(fd int, stderr io.Writer) (stop func()) {
	state, err := term.GetState(fd)
	if err != nil {
		return func() {}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-sig:
			_ = term.Restore(fd, state)
			fmt.Fprintln(stderr)
			os.Exit(exitInterrupted)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sig)
		close(done)
		wg.Wait()
	}
}

// exitInterrupted is the shells' status for a command ended by Ctrl-C.
const exitInterrupted = 130

func nonEmpty(s string) (string, error) {
	if s == "" {
		return "", errors.New("nothing was typed")
	}
	return s, nil
}

// startLoginSandbox serves a fresh simulator on loopback for -login
// -sandbox; stop shuts it down and waits for the server goroutine.
func startLoginSandbox() (base string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("sandbox: listen: %w", err)
	}
	s := sim.New(sim.Options{})
	srv := &http.Server{Handler: loopbackOnly(s.Handler()), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return "http://" + ln.Addr().String(), func() {
		s.Close()
		_ = srv.Close()
		<-done
	}, nil
}

// saveToken writes token to path with mode 0600, atomically: a reader (a
// daemon starting) sees the old file or the new one, never a part.
func saveToken(path, token string) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	// CreateTemp already uses 0600 (less the umask); Chmod makes it exact.
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	// The rename itself is durable only once the directory is synced.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// resolveToken decides where the account token comes from, in order:
// YUNHU_TOKEN, account.token, the file -login saved. It fills
// cfg.Account.Token from the file when the first two are empty and
// returns a description of the source for the log ("" in the sandbox,
// which always uses the simulator's account, or when there is none). A
// token file that exists but cannot be used is an error, not a silent
// fallback.
func resolveToken(cfg *config.Config, getenv func(string) string, sandbox bool) (string, error) {
	switch {
	case sandbox:
		return "", nil
	case getenv("YUNHU_TOKEN") != "":
		return "YUNHU_TOKEN", nil
	case cfg.Account.Token != "":
		return "account.token", nil
	}
	path := tokenPath(cfg, false)
	tok, err := readTokenFile(path)
	if err != nil || tok == "" {
		return "", err
	}
	cfg.Account.Token = tok
	return path + " (saved by -login)", nil
}

// readTokenFile returns the saved token, or "" when there is no file.
func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("token file %s: %w (run -login as the user the daemon runs as)", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	// Like ssh with a private key: a token others can read is refused
	// rather than used, since it is the whole account.
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("token file %s: readable or writable by other users (mode %04o): chmod 600 it, or sign in again with -login", path, st.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecret+1))
	if err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || len(b) > maxSecret || strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", fmt.Errorf("token file %s: not a token; sign in again with -login", path)
	}
	return tok, nil
}
