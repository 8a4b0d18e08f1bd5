package e2e

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the tests, or, when the test binary is re-executed as a
// launcher (process_test.go), starts the daemon under a resource limit.
// No test may leave a goroutine behind.
func TestMain(m *testing.M) {
	if os.Getenv(envLaunch) != "" {
		os.Exit(launch())
	}
	code := m.Run()
	removeDaemonBuild()
	httpClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
