package store

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Prune deletes the messages that Options.Retention and Options.MaxMessages
// no longer allow, as of now, and returns how many it removed. Messages go
// oldest first in the order they were first put, which is id order until ids
// wrap around; after that, the few messages that survived a whole round of
// ids go somewhat later than their age alone would have them. It works in
// transactions of bounded size, so puts keep flowing during a large prune;
// on error, the chunks already committed stay deleted. Freed message ids
// become available to the wrap-around.
func (s *Store) Prune(ctx context.Context, now time.Time) (int, error) {
	if s.opts.Retention <= 0 && s.opts.MaxMessages <= 0 {
		return 0, nil
	}
	removed := 0
	for {
		o := &pruneOp{now: now, retention: s.opts.Retention, max: s.opts.MaxMessages, chunk: s.chunk}
		if err := s.do(ctx, o); err != nil {
			return removed, fmt.Errorf("prune: %w", err)
		}
		removed += o.removed
		if o.removed < o.chunk {
			return removed, nil
		}
	}
}

type pruneOp struct {
	now       time.Time
	retention time.Duration
	max       int
	chunk     int
	removed   int
}

func (o *pruneOp) weight() int { return o.chunk }

func (o *pruneOp) apply(w *writeTx) error {
	o.removed = 0
	var excess uint64
	if o.max > 0 && w.count > uint64(o.max) {
		excess = w.count - uint64(o.max)
	}
	cutoff := int64(math.MinInt64)
	if o.retention > 0 {
		cutoff = o.now.Add(-o.retention).UnixMilli()
	}

	// Collect first: deleting under a bbolt cursor can make it skip keys.
	type victim struct {
		id  uint32
		key []byte
	}
	var victims []victim
	err := walkCircular(w.msgs, w.lastID, w.lastID, func(id uint32, rec []byte) (bool, error) {
		if len(victims) == o.chunk {
			return false, nil
		}
		stored, err := recordStored(rec)
		if err != nil {
			return false, fmt.Errorf("message %d: %w", id, err)
		}
		if uint64(len(victims)) >= excess && stored >= cutoff {
			return false, nil
		}
		var key []byte // none for a pending-send record
		if !recordPending(rec) {
			if key, err = appendRecordKey(nil, rec); err != nil {
				return false, fmt.Errorf("message %d: %w", id, err)
			}
		}
		victims = append(victims, victim{id, key})
		return true, nil
	})
	if err != nil {
		return err
	}

	for _, v := range victims {
		if v.key != nil {
			if err := w.unmapKey(v.key, v.id); err != nil {
				return err
			}
		}
		if err := w.deleteRecord(v.id); err != nil {
			return err
		}
	}
	o.removed = len(victims)
	return nil
}
