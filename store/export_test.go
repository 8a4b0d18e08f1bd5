package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// SetLastMessageID makes id the last allocated message id, so tests can
// reach the wrap-around without two billion puts.
func (s *Store) SetLastMessageID(ctx context.Context, id int32) error {
	return s.do(ctx, funcOp(func(w *writeTx) error {
		w.lastID = uint32(id)
		w.lastIDDirty = true
		return nil
	}))
}

// SetLastAlias makes n the last allocated alias.
func (s *Store) SetLastAlias(ctx context.Context, n int64) error {
	return s.do(ctx, funcOp(func(w *writeTx) error {
		w.lastAlias = uint64(n - AliasBase)
		w.aliasDirty = true
		return nil
	}))
}

// SetPruneChunk sets how many messages one pruning transaction deletes.
// Call it before Prune or Run.
func (s *Store) SetPruneChunk(n int) { s.chunk = n }

// LockTimeout is how long Open waits for the file lock.
const LockTimeout = lockTimeout

// Check verifies that the message buckets and the message counter agree.
func (s *Store) Check() error {
	return s.view(func(tx *bbolt.Tx) error {
		msgs, keys, times := tx.Bucket(bucketMsgs), tx.Bucket(bucketMsgKeys), tx.Bucket(bucketMsgTimes)
		n := 0
		err := msgs.ForEach(func(ik, rec []byte) error {
			n++
			m, err := decodeRecord(rec)
			if err != nil {
				return fmt.Errorf("message %x: %w", ik, err)
			}
			key := append(appendChatKey(nil, m.ChatType, m.ChatID), m.MsgID...)
			if v := keys.Get(key); !bytes.Equal(v, ik) {
				return fmt.Errorf("message %x: key maps to %x", ik, v)
			}
			id := binary.BigEndian.Uint32(ik)
			tk := timeKey(m.Time, id)
			if k, _ := times.Cursor().Seek(tk); !bytes.Equal(k, tk) {
				return fmt.Errorf("message %d: no time entry %x", id, tk)
			}
			return nil
		})
		if err != nil {
			return err
		}
		nk, nt := keys.Stats().KeyN, times.Stats().KeyN
		var count uint64
		if v := tx.Bucket(bucketMeta).Get(metaMsgCount); v != nil {
			count = binary.BigEndian.Uint64(v)
		}
		if nk != n || nt != n || count != uint64(n) {
			return fmt.Errorf("%d messages, %d keys, %d times, count %d", n, nk, nt, count)
		}
		return nil
	})
}
