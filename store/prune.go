package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// Prune deletes the messages that Options.Retention and Options.MaxMessages
// no longer allow, oldest first by Message.Time, and returns how many it
// removed. It works in transactions of bounded size, so puts keep flowing
// during a large prune; on error, the chunks already committed stay
// deleted. Freed message ids become available to the wrap-around.
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
	var cutoff uint64
	if o.retention > 0 {
		cutoff = timeKeyPrefix(o.now.Add(-o.retention))
	}

	// Collect first: deleting under a bbolt cursor can make it skip keys.
	var victims [][]byte
	c := w.msgTimes.Cursor()
	for k, _ := c.First(); k != nil && len(victims) < o.chunk; k, _ = c.Next() {
		if len(k) != 12 {
			return fmt.Errorf("message time key %x: %w", k, errCorrupt)
		}
		if uint64(len(victims)) >= excess && binary.BigEndian.Uint64(k) >= cutoff {
			break
		}
		victims = append(victims, bytes.Clone(k))
	}

	for _, tk := range victims {
		if err := w.deleteMessage(tk); err != nil {
			return err
		}
	}
	o.removed = len(victims)
	return nil
}

// deleteMessage removes the message behind time key tk and its index
// entries.
func (w *writeTx) deleteMessage(tk []byte) error {
	ik := tk[8:12]
	if rec := w.msgs.Get(ik); rec != nil {
		key, err := appendRecordKey(nil, rec)
		if err != nil {
			return fmt.Errorf("message %d: %w", binary.BigEndian.Uint32(ik), err)
		}
		if err := w.unmapKey(key, binary.BigEndian.Uint32(ik)); err != nil {
			return err
		}
		if err := w.msgs.Delete(ik); err != nil {
			return fmt.Errorf("delete message: %w", err)
		}
		if w.count > 0 {
			w.count--
			w.countDirty = true
		}
	}
	if err := w.msgTimes.Delete(tk); err != nil {
		return fmt.Errorf("delete message time: %w", err)
	}
	return nil
}
