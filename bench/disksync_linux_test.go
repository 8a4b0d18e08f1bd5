package bench

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// BenchmarkDiskSync is the disk's own floor under BenchmarkStoreCommit and
// the added latency: a 200-byte write into a file allocated ahead of time
// followed by one fdatasync, 1,000 times a second, as the cheapest durable
// append (a write-ahead log's) would do it. A bbolt commit needs two of
// them, one for the pages and one for the meta page that points at them.
// The file goes where the other benchmarks keep their stores (TMPDIR).
func BenchmarkDiskSync(b *testing.B) {
	const (
		rate   = 1000
		record = 200
		stride = 4096
	)
	n := int(runFor.Seconds() * rate)
	f, err := os.Create(filepath.Join(b.TempDir(), "sync.test"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	// Allocated with real zeros, not a hole, and synced: the timed syncs
	// then flush data only, never block allocations.
	if _, err := f.Write(make([]byte, n*stride)); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, record)
	pacedLatency(b, rate, n, func(i int) error {
		if _, err := f.WriteAt(buf, int64(i*stride)); err != nil {
			return err
		}
		return syscall.Fdatasync(int(f.Fd()))
	})
}
