package app

import "testing"

// TestMetricsOffByDefault: without metrics.address no listener is bound.
func TestMetricsOffByDefault(t *testing.T) {
	if newMonitor("") != nil {
		t.Fatal("a monitor without metrics.address")
	}
	var mon *monitor
	if mon.onCommit() != nil || mon.onCall() != nil || mon.onReconnect() != nil || mon.onAction() != nil || mon.onPush() != nil || mon.onBackfill() != nil {
		t.Fatal("an off monitor hands out hooks")
	}
}
