package main

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/yunhu-onebot/yunhu-onebot/config"
)

// heapKept is the heap memory the runtime keeps from the system: live
// objects, garbage not yet collected, and free memory not yet returned.
func heapKept() uint64 {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	metrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64() + s[2].Value.Uint64()
}

// TestMemoryReturnedAfterBurst: after a burst of 256 MiB that is then
// dropped, the memory returner gives it back to the system, where the
// runtime alone keeps it until a GC and then returns it slowly.
func TestMemoryReturnedAfterBurst(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- memoryReturner{log: zap.New(core), every: 20 * time.Millisecond}.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	burst := make([][]byte, 0, 256)
	for range 256 {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1 // touch every page: resident, as a request body is
		}
		burst = append(burst, b)
	}
	// Held for a while: quiet but live, so nothing can be given back.
	time.Sleep(200 * time.Millisecond)
	if kept := heapKept(); kept < 200<<20 {
		t.Fatalf("the burst left only %d MiB kept; the test proves nothing", kept>>20)
	}
	runtime.KeepAlive(burst)
	burst = nil

	// Without the returner the garbage stays kept until the runtime's
	// forced GC (every 2 minutes), and only then is returned, slowly.
	deadline := time.Now().Add(30 * time.Second)
	for heapKept() > 128<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("the burst's memory was not given back; %d MiB kept", heapKept()>>20)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if logs.FilterMessage("gave freed memory back to the system").Len() == 0 {
		t.Error("the memory went back without the returner")
	}
}

// TestMemoryLimit: the daemon sets the soft memory limit from limits
// (derived from the request memory by default), leaves one set by
// GOMEMLIMIT alone, and restores the previous limit when it stops.
func TestMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	cfg := config.Default()
	d := &daemon{cfg: &cfg, log: zap.NewNop(), getenv: func(string) string { return "" }}
	restore := d.setMemoryLimit()
	if got := debug.SetMemoryLimit(-1); got != 512<<20 {
		t.Errorf("limit %d MiB, want 512 (2 × 128 + 256)", got>>20)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != prev {
		t.Errorf("limit %d after restore, want %d", got, prev)
	}

	d.getenv = func(k string) string {
		if k == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	}
	restore = d.setMemoryLimit()
	if got := debug.SetMemoryLimit(-1); got != prev {
		t.Errorf("with GOMEMLIMIT set the limit changed to %d", got)
	}
	restore()
}
