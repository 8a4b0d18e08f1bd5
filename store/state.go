package store

import (
	"bytes"
	"context"
	"fmt"

	"go.etcd.io/bbolt"
)

// Cursor is a position reached in a conversation, such as the last message
// seen, for fetching what was missed after a restart.
type Cursor struct {
	// Conv is the conversation, in the same keys as Message.Conv.
	Conv string
	// Value is the position, opaque to the store except for its order:
	// a cursor only moves to a Value that sorts after the recorded one,
	// byte by byte (bytes.Compare). The caller encodes its positions so
	// that this order is the order of progress, for example a sequence
	// number as 8 bytes big-endian. Values are 1 to 256 bytes long.
	Value []byte
}

// Cursor returns a copy of the position recorded for conversation conv, or
// ErrNotFound if none was.
func (s *Store) Cursor(conv string) ([]byte, error) {
	var val []byte
	err := s.view(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketCursors).Get([]byte(conv))
		if v == nil {
			return ErrNotFound
		}
		val = bytes.Clone(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get cursor: %w", err)
	}
	return val, nil
}

// SetCursors records the cursors in one commit and returns once they are
// durable. Each cursor only moves forward: a Value that does not sort after
// the recorded one is ignored, so positions that arrive out of order cannot
// rewind it. Within cs, later entries for a conversation are applied after
// earlier ones. Invalid input fails the call before anything is written.
func (s *Store) SetCursors(ctx context.Context, cs []Cursor) error {
	if len(cs) == 0 {
		return nil
	}
	o := &cursorOp{entries: make([]cursorEntry, len(cs))}
	for i, c := range cs {
		if err := checkConv(c.Conv); err != nil {
			return fmt.Errorf("set cursors: cursor %d: %w", i, err)
		}
		if len(c.Value) == 0 || len(c.Value) > maxCursorLen {
			return fmt.Errorf("set cursors: cursor %d: %w: value is %d bytes, want 1 to %d", i, ErrInvalid, len(c.Value), maxCursorLen)
		}
		o.entries[i] = cursorEntry{[]byte(c.Conv), bytes.Clone(c.Value)}
	}
	if err := s.do(ctx, o); err != nil {
		return fmt.Errorf("set cursors: %w", err)
	}
	return nil
}

type cursorEntry struct{ key, val []byte }

// cursorOp writes cursors, copied so that they stay untouched until the
// transaction ends, as bbolt requires of keys and values.
type cursorOp struct{ entries []cursorEntry }

// weight counts the cursors, so that a huge batch of them does not join a
// full batch of messages.
func (o *cursorOp) weight() int { return len(o.entries) }

func (o *cursorOp) apply(w *writeTx) error {
	for _, e := range o.entries {
		if bytes.Compare(e.val, w.cursors.Get(e.key)) <= 0 {
			continue // not ahead of the recorded position
		}
		if err := w.cursors.Put(e.key, e.val); err != nil {
			return fmt.Errorf("put cursor: %w", err)
		}
	}
	return nil
}

// Get returns a copy of the value stored under key, or ErrNotFound.
func (s *Store) Get(key string) ([]byte, error) {
	var val []byte
	err := s.view(func(tx *bbolt.Tx) error {
		// A cursor, unlike Bucket.Get, tells an empty value from a
		// missing key.
		k, v := tx.Bucket(bucketKV).Cursor().Seek([]byte(key))
		if k == nil || !bytes.Equal(k, []byte(key)) {
			return ErrNotFound
		}
		val = append([]byte{}, v...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	return val, nil
}

// Set stores a copy of v under key and returns once it is durable. Keys are
// limited to 256 bytes and values to 1 MiB.
func (s *Store) Set(ctx context.Context, key string, v []byte) error {
	if key == "" {
		return fmt.Errorf("set: %w: empty key", ErrInvalid)
	}
	if err := checkLen("key", key, maxIDLen); err != nil {
		return fmt.Errorf("set %q: %w", key, err)
	}
	if len(v) > maxBodyLen {
		return fmt.Errorf("set %q: %w: value is %d bytes, limit %d", key, ErrInvalid, len(v), maxBodyLen)
	}
	k, val := []byte(key), bytes.Clone(v)
	if val == nil {
		val = []byte{}
	}
	err := s.do(ctx, funcOp(func(w *writeTx) error {
		if err := w.kv.Put(k, val); err != nil {
			return fmt.Errorf("put: %w", err)
		}
		return nil
	}))
	if err != nil {
		return fmt.Errorf("set %q: %w", key, err)
	}
	return nil
}
