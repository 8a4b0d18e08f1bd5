package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// Cursor returns the last msg_seq recorded for a chat, or ErrNotFound if
// none was.
func (s *Store) Cursor(chatType int32, chatID string) (int64, error) {
	key := appendChatKey(nil, chatType, chatID)
	var seq int64
	err := s.view(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketCursors).Get(key)
		if v == nil {
			return ErrNotFound
		}
		if len(v) != 8 {
			return errCorrupt
		}
		seq = int64(binary.BigEndian.Uint64(v))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("get cursor: %w", err)
	}
	return seq, nil
}

// SetCursor records seq as the last msg_seq seen in a chat. The cursor only
// moves forward: a seq at or below the recorded one is ignored, so pushes
// that arrive out of order cannot rewind it.
func (s *Store) SetCursor(ctx context.Context, chatType int32, chatID string, seq int64) error {
	if chatID == "" {
		return fmt.Errorf("set cursor: %w: empty chat id", ErrInvalid)
	}
	if err := checkLen("chat id", chatID, maxIDLen); err != nil {
		return fmt.Errorf("set cursor: %w", err)
	}
	key := appendChatKey(nil, chatType, chatID)
	val := binary.BigEndian.AppendUint64(nil, uint64(seq))
	err := s.do(ctx, funcOp(func(w *writeTx) error {
		if v := w.cursors.Get(key); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) >= seq {
			return nil
		}
		if err := w.cursors.Put(key, val); err != nil {
			return fmt.Errorf("put cursor: %w", err)
		}
		return nil
	}))
	if err != nil {
		return fmt.Errorf("set cursor: %w", err)
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
