package bench

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/e2e"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// The daemon's resident memory is only honest for the daemon alone, so
// these benchmarks build the real binary and run it as a child process
// against the simulator served from the benchmark process (the daemon's
// yunhu URLs point at it, as they would at Yunhu). RSS comes from
// /proc/<pid>/status: VmRSS, split into RssAnon (heap, stacks) and RssFile
// (the binary's pages and the mapped database).

var (
	soakFor  = flag.Duration("soak", 3*time.Minute, "length of BenchmarkSoak (the documented by-hand soak is -soak 10m)")
	soakRate = flag.Int("soak.rate", 1000, "events/s pushed during BenchmarkSoak")
	soakKeep = flag.Int("soak.keep", 100_000, "the daemon's database.max-messages during BenchmarkSoak")
)

const mib = 1 << 20

// runningDaemon is the daemon binary serving the HTTP API and forward WS
// on loopback ports of its own, logged in to an in-process simulator.
type runningDaemon struct {
	*e2e.Daemon
	sim     *sim.Server
	addrs   map[string]string
	started time.Time // when the process was started (gctrace times count from it)
}

// startRealDaemon starts the daemon, with further database keys if given
// ("key: value").
func startRealDaemon(b *testing.B, database ...string) *runningDaemon {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := b.TempDir()
	bin, err := e2e.BuildDaemon(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	s, urls := newSim(b)
	cfg := e2e.DaemonConfig(filepath.Join(dir, "db", "yunhu-onebot.db"),
		"account:\n  token: "+sim.DefaultToken+"\n  platform: linux\n"+
			"yunhu:\n  api-url: "+urls.API+"\n  ws-url: "+urls.WS+"\n  upload-url: "+urls.Upload+"\n"+
			"servers:\n  - http:\n      address: 127.0.0.1:0\n  - ws:\n      address: 127.0.0.1:0\n", database...)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	// gctrace makes the runtime report the live heap after each
	// collection on stderr (heapTrace reads it back).
	started := time.Now()
	d := e2e.StartDaemon(b, []string{"GODEBUG=gctrace=1"}, bin, "-c", path)
	addrs := d.WaitReady()
	waitOnline(b, s, 1)
	return &runningDaemon{Daemon: d, sim: s, addrs: addrs, started: started}
}

func (d *runningDaemon) memory(b *testing.B) e2e.Memory {
	m, err := e2e.ReadMemory(d.PID())
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkDaemonMemory is the daemon's RSS idle (logged in, one OneBot
// client connected, nothing happening) and under full load (events pushed
// as fast as the path takes them for -wp.time), and the events/s of the
// real binary on its own.
func BenchmarkDaemonMemory(b *testing.B) {
	d := startRealDaemon(b)
	win := newWindow(windowSize, 1)
	c, err := e2e.DialWS("ws://"+d.addrs["ws"]+"/", func(raw []byte) {
		if e2e.IsMessageEvent(raw) {
			win.received(0)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	time.Sleep(2 * time.Second) // settle: the start-up garbage is collected
	idle := d.memory(b)

	b.ResetTimer()
	ctx, cancel := context.WithTimeout(context.Background(), *runFor)
	defer cancel()
	peak := idle
	sample := time.NewTicker(100 * time.Millisecond)
	defer sample.Stop()
	start := time.Now()
	n := 0
	for ctx.Err() == nil && win.acquire(ctx) {
		if _, err := d.sim.Inject(message(n)); err != nil {
			b.Fatal(err)
		}
		n++
		select {
		case <-sample.C:
			m := d.memory(b)
			peak.RSS, peak.Anon, peak.File = max(peak.RSS, m.RSS), max(peak.Anon, m.Anon), max(peak.File, m.File)
		default:
		}
	}
	e2e.WaitFor(b, "the last events", func() bool { return win.slowest() >= int64(n) })
	elapsed := time.Since(start)
	rate := float64(n) / elapsed.Seconds()
	b.StopTimer()
	time.Sleep(2 * time.Second)
	after := d.memory(b)
	if gcs := heapTrace(d); len(gcs) > 0 {
		_, peakLive := liveRange(gcs, 0, time.Duration(1<<62))
		b.ReportMetric(float64(peakLive)/mib, "peak-live-heap-MiB")
		// The daemon's own allocation, apart from the simulator and the
		// client, which run in this process.
		from := start.Sub(d.started)
		if alloc, cycles := allocatedBetween(gcs, from, from+elapsed); cycles >= 20 {
			b.ReportMetric(float64(alloc)/float64(n), "daemon-B/event")
		}
	}
	b.ReportMetric(float64(idle.RSS)/mib, "idle-RSS-MiB")
	b.ReportMetric(float64(idle.Anon)/mib, "idle-anon-MiB")
	b.ReportMetric(float64(peak.RSS)/mib, "load-RSS-MiB")
	b.ReportMetric(float64(peak.Anon)/mib, "load-anon-MiB")
	b.ReportMetric(float64(after.RSS)/mib, "after-RSS-MiB")
	b.ReportMetric(rate, "events/s")
	b.Logf("idle %s; under load (%d events, %.0f/s) peak %s; 2 s after %s; VmHWM %.1f MiB",
		idle, n, rate, peak, after, float64(after.HWM)/mib)
}

// BenchmarkSoak pushes -soak.rate events a second for -soak (3 minutes:
// long enough for the daemon's bounded in-memory state to fill) to a
// daemon keeping -soak.keep messages (100,000: passed after 100 s), and
// samples the daemon's memory every second. Flat means: the live heap
// (from the runtime's gctrace) stops growing once that state has filled —
// the store keeps at most some 65,000 unmerged id mappings in memory and
// the bridge remembers the chats of the last 65,536 messages — and RssFile,
// the mapped database file, stops growing once pruning keeps the store at
// its size. The by-hand soak:
//
//	go test ./bench -run '^$' -bench Soak -soak 10m -timeout 30m
func BenchmarkSoak(b *testing.B) {
	d := startRealDaemon(b, "max-messages: "+strconv.Itoa(*soakKeep))
	var got atomic.Int64
	dial := func() *e2e.WSClient {
		c, err := e2e.DialWS("ws://"+d.addrs["ws"]+"/", func(raw []byte) {
			if e2e.IsMessageEvent(raw) {
				got.Add(1)
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	c := dial()
	defer func() { c.Close() }()
	redials := 0
	time.Sleep(2 * time.Second)
	first := d.memory(b)

	b.ResetTimer()
	rate := *soakRate
	start := time.Now()
	var samples []e2e.Memory
	nextSample := start.Add(time.Second)
	n := 0
	for time.Since(start) < *soakFor {
		sleepUntilDue(start, n, rate)
		if _, err := d.sim.Inject(message(n)); err != nil {
			b.Fatal(err)
		}
		n++
		select {
		case <-c.Done():
			// The daemon disconnects a client that falls a whole queue
			// behind; on a starved machine this one can.
			b.Logf("the OneBot client was disconnected (%v); connecting again", c.Err())
			c.Close()
			c = dial()
			redials++
		default:
		}
		if time.Now().After(nextSample) {
			samples = append(samples, d.memory(b))
			nextSample = nextSample.Add(time.Second)
		}
	}
	// Wait for the last events, as long as they keep coming.
	for last, idle := got.Load(), 0; got.Load() < int64(n) && idle < 20; idle++ {
		time.Sleep(100 * time.Millisecond)
		if now := got.Load(); now != last {
			last, idle = now, 0
		}
	}
	b.StopTimer()
	if lost := int64(n) - got.Load(); lost > 0 || redials > 0 {
		b.Errorf("%d of %d events never reached the client, which was disconnected %d times for falling behind (machine too loaded?)", lost, n, redials)
	}
	if len(samples) < 4 {
		b.Fatalf("only %d samples: run longer than %v", len(samples), *soakFor)
	}
	last := samples[len(samples)-1]
	half := samples[len(samples)/2:]
	var peak e2e.Memory
	for _, m := range samples {
		peak.RSS, peak.Anon = max(peak.RSS, m.RSS), max(peak.Anon, m.Anon)
	}
	// The live heap by minute: what the daemon holds, without the garbage
	// and freed pages RSS also counts.
	gcs := heapTrace(d)
	if len(gcs) == 0 {
		b.Fatal("no gctrace lines in the daemon's log")
	}
	// Benchmarks keep 10 lines of log: one line per series, a value a minute.
	startAt := start.Sub(d.started) // the soak's start on the daemon's clock
	var liveMin, liveMax, rss, anon []string
	mb := func(n int64) string { return strconv.FormatFloat(float64(n)/mib, 'f', 0, 64) }
	for m := time.Duration(0); m < *soakFor; m += time.Minute {
		lo, hi := liveRange(gcs, startAt+m, startAt+m+time.Minute)
		liveMin, liveMax = append(liveMin, mb(lo)), append(liveMax, mb(hi))
		if i := int((m + time.Minute) / time.Second); i <= len(samples) {
			rss, anon = append(rss, mb(samples[i-1].RSS)), append(anon, mb(samples[i-1].Anon))
		}
	}
	b.Logf("live heap after GC, lowest each minute (MiB):  %s", strings.Join(liveMin, " "))
	b.Logf("live heap after GC, highest each minute (MiB): %s", strings.Join(liveMax, " "))
	b.Logf("RssAnon at each minute's end (MiB):            %s", strings.Join(anon, " "))
	b.Logf("VmRSS at each minute's end (MiB):              %s", strings.Join(rss, " "))
	halfAt := startAt + *soakFor/2
	lo1, hi1 := liveRange(gcs, startAt, halfAt)
	lo2, hi2 := liveRange(gcs, halfAt, time.Duration(1<<62))
	b.ReportMetric(float64(lo1)/mib, "live-heap-min-1st-half-MiB")
	b.ReportMetric(float64(lo2)/mib, "live-heap-min-2nd-half-MiB")
	b.ReportMetric(float64(hi1)/mib, "live-heap-max-1st-half-MiB")
	b.ReportMetric(float64(hi2)/mib, "live-heap-max-2nd-half-MiB")
	b.ReportMetric(float64(first.RSS)/mib, "start-RSS-MiB")
	b.ReportMetric(float64(last.RSS)/mib, "end-RSS-MiB")
	b.ReportMetric(float64(peak.RSS)/mib, "peak-RSS-MiB")
	b.ReportMetric(float64(last.Anon)/mib, "end-anon-MiB")
	b.ReportMetric(slope(half, func(m e2e.Memory) int64 { return m.Anon })/mib*60, "anon-MiB/min-2nd-half")
	b.ReportMetric(slope(half, func(m e2e.Memory) int64 { return m.RSS })/mib*60, "RSS-MiB/min-2nd-half")
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
	b.Logf("%d events over %v: start %s, end %s", n, soakFor, first, last)
}

// slope is the least-squares slope of f over one-second samples, per second.
func slope(ms []e2e.Memory, f func(e2e.Memory) int64) float64 {
	var sx, sy, sxx, sxy float64
	for i, m := range ms {
		x, y := float64(i), float64(f(m))
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	n := float64(len(ms))
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

// gcLine matches a gctrace line: "gc 7 @1.234s 0%: ... 4->5->2 MB, ...";
// the third figure is the heap marked live by that collection.
var gcLine = regexp.MustCompile(`^gc \d+ @([0-9.]+)s .* (\d+)->(\d+)->(\d+) MB`)

// gcSample is the live heap after one collection, at a time since the
// daemon started.
type gcSample struct {
	at    time.Duration
	start int64 // heap when the collection started, bytes
	live  int64 // bytes
}

// heapTrace returns the daemon's collections so far.
func heapTrace(d *runningDaemon) []gcSample {
	var out []gcSample
	for _, line := range strings.Split(d.Log(), "\n") {
		m := gcLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		sec, _ := strconv.ParseFloat(m[1], 64)
		start, _ := strconv.ParseInt(m[2], 10, 64)
		live, _ := strconv.ParseInt(m[4], 10, 64)
		out = append(out, gcSample{at: time.Duration(sec * float64(time.Second)), start: start << 20, live: live << 20})
	}
	return out
}

// allocatedBetween estimates the bytes the daemon allocated in [from, to):
// what each collection in the window found minus what the one before it
// left live. The trace rounds to MiB, so it is only good summed over many
// collections.
func allocatedBetween(gcs []gcSample, from, to time.Duration) (bytes int64, collections int) {
	for i := 1; i < len(gcs); i++ {
		if gcs[i].at >= from && gcs[i].at < to {
			bytes += max(gcs[i].start-gcs[i-1].live, 0)
			collections++
		}
	}
	return bytes, collections
}

// liveRange is the smallest and largest live heap of the collections in
// [from, to). The smallest is the better sign of a leak: the largest
// depends on what was in flight when a collection ran.
func liveRange(gcs []gcSample, from, to time.Duration) (lo, hi int64) {
	lo = -1
	for _, g := range gcs {
		if g.at >= from && g.at < to {
			if lo < 0 || g.live < lo {
				lo = g.live
			}
			hi = max(hi, g.live)
		}
	}
	return max(lo, 0), hi
}
