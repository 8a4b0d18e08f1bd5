package fake_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// fake's Run and the daemons the conformance kit starts must all stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
