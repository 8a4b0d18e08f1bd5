package bridge

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests (internal and external alike: they
// share the binary) if any goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
