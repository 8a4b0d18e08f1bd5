package store

import (
	"fmt"
	"os"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// bbolt grows its file with ftruncate, leaving a hole, so the pages of a
// growing database land in blocks the file system has not allocated yet.
// The fdatasync of each commit then has to journal those allocations too,
// which on the machine this was measured on made them half again as slow. So
// the committer keeps some space past the end of the data written with
// zeros, allocating it ahead of time in large, rare writes.
//
// Writing there is safe because no page at or past the high-water mark is
// part of the database, and the committer, the only writer, does it between
// transactions. The zeros go through a descriptor of their own; bbolt locks
// the file with flock, which is tied to bbolt's own descriptor, so opening
// and closing another one leaves the lock alone.
const (
	zeroStepMin = 256 << 10 // small stores stay small
	zeroStepMax = 8 << 20
	zeroChunk   = 256 << 10 // bytes per write
)

// zeroAhead makes sure the written space past the database's high-water
// mark is at least half a step, extending it by a step of about a quarter of
// the database size otherwise. It runs on commitLoop. It is only an
// optimization, so failures are logged, rate-limited, and otherwise ignored.
func (s *Store) zeroAhead() {
	var hwm int64
	if err := s.db.View(func(tx *bbolt.Tx) error {
		hwm = tx.Size()
		return nil
	}); err != nil {
		return
	}
	step := min(max(hwm/4, zeroStepMin), zeroStepMax)
	if s.zeroedTo-hwm >= step/2 {
		return
	}
	start, end := max(s.zeroedTo, hwm), hwm+step
	s.zeroedTo = end // on failure too: try again one step later
	if err := s.writeZeros(start, end); err != nil {
		if now := time.Now(); now.Sub(s.zeroErrLogged) >= mergeErrorLogInterval {
			s.zeroErrLogged = now
			s.log.Warn("preallocate store file", zap.Error(err))
		}
	}
}

func (s *Store) writeZeros(start, end int64) error {
	if s.zeroFile == nil {
		f, err := os.OpenFile(s.db.Path(), os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		s.zeroFile = f
		s.zeros = make([]byte, zeroChunk)
	}
	for off := start; off < end; off += zeroChunk {
		n := min(end-off, zeroChunk)
		if _, err := s.zeroFile.WriteAt(s.zeros[:n], off); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if err := s.zeroFile.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}
