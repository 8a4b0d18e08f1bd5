package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// SetLastMessageID makes id the last allocated message id, so tests can
// reach the wrap-around without two billion puts. The jump counts as
// allocating, and merging, every id on the way: pending keys are merged
// first, since otherwise they could fall out of the pending range.
func (s *Store) SetLastMessageID(ctx context.Context, id int32) error {
	return s.do(ctx, funcOp(func(w *writeTx) error {
		if _, err := w.merge(math.MaxInt); err != nil {
			return err
		}
		w.lastID, w.mergedTo = uint32(id), uint32(id)
		w.lastIDDirty, w.mergedDirty = true, true
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

// MergeIndex merges every pending message key into msg_keys.
func (s *Store) MergeIndex(ctx context.Context) error {
	return s.do(ctx, funcOp(func(w *writeTx) error {
		_, err := w.merge(math.MaxInt)
		return err
	}))
}

// SetHashKey replaces the hash of msg_keys. Call it on a new store only:
// keys already merged would no longer be found.
func (s *Store) SetHashKey(ctx context.Context, hash func([]byte) uint64) error {
	return s.do(ctx, funcOp(func(*writeTx) error {
		s.hashKey = hash
		return nil
	}))
}

// PendingKeys returns how many message keys are not merged yet.
func (s *Store) PendingKeys() int {
	s.pmu.RLock()
	defer s.pmu.RUnlock()
	return len(s.pending)
}

// SetMergeThresholds replaces mergeIdle, mergeLow, mergeHigh and
// mergeChunk.
func (s *Store) SetMergeThresholds(ctx context.Context, idle time.Duration, low, high, chunk int) error {
	return s.do(ctx, funcOp(func(*writeTx) error {
		s.mergeIdle, s.mergeLow, s.mergeHigh, s.mergeChunk = idle, low, high, chunk
		return nil
	}))
}

// SetClock replaces the clock that stamps new records. Call it before
// writing.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Check verifies that the records, the key index, the pending key map and
// the message counter agree, and that exactly the records without msg id
// are pending sends, mapped by no key. It runs on the committer, between merges, so
// call it while no other write is in flight.
func (s *Store) Check() error {
	return s.do(context.Background(), funcOp(func(w *writeTx) error {
		pending := maps.Clone(w.pending)
		for k, id := range w.overlay {
			if id == 0 {
				delete(pending, k)
			} else {
				pending[k] = id
			}
		}
		// The records after merged_to whose key is not merged must be
		// exactly the pending ones.
		unmerged := map[string]uint32{}
		if w.mergedTo != w.lastID {
			err := walkCircular(w.msgs, w.mergedTo, w.lastID, func(id uint32, rec []byte) (bool, error) {
				if recordPending(rec) {
					return true, nil
				}
				key, err := appendRecordKey(nil, rec)
				if err != nil {
					return false, err
				}
				if merged, err := findKey(w.msgKeys, w.msgs, w.hashKey, key); err != nil || merged != id {
					unmerged[string(key)] = id
				}
				return true, nil
			})
			if err != nil {
				return reject(err)
			}
		}
		if !maps.Equal(unmerged, pending) {
			return reject(fmt.Errorf("pending keys: %d in memory, %d unmerged records after %d", len(pending), len(unmerged), w.mergedTo))
		}

		n, sends := 0, 0
		err := w.msgs.ForEach(func(ik, rec []byte) error {
			n++
			m, err := decodeRecord(rec)
			if err != nil {
				return fmt.Errorf("message %x: %w", ik, err)
			}
			id := binary.BigEndian.Uint32(ik)
			if m.Pending != (m.MsgID == "") {
				return fmt.Errorf("message %d: pending %v with msg id %q", id, m.Pending, m.MsgID)
			}
			if m.Pending {
				sends++ // has no key
				return nil
			}
			key := appendMsgKey(nil, m.Conv, m.MsgID)
			merged, err := findKey(w.msgKeys, w.msgs, w.hashKey, key)
			if err != nil {
				return err
			}
			switch p := pending[string(key)]; {
			case merged != 0 && p != 0:
				return fmt.Errorf("message %d: key both merged and pending", id)
			case merged == 0 && p == 0:
				return fmt.Errorf("message %d: key not mapped", id)
			case merged != id && p != id:
				return fmt.Errorf("message %d: key maps to %d", id, max(merged, p))
			}
			return nil
		})
		if err != nil {
			return reject(err)
		}
		nk := 0
		_ = w.msgKeys.ForEach(func(_, ids []byte) error {
			nk += len(ids) / 4
			return nil
		})
		if nk+len(pending)+sends != n || w.count != uint64(n) {
			return reject(fmt.Errorf("%d messages (%d pending sends), %d merged keys, %d pending keys, count %d", n, sends, nk, len(pending), w.count))
		}
		return nil
	}))
}

// UpgradeFile upgrades the store file at path, which must not be open, as
// Open would with opts, but with hash as the hash of msg_keys. Open the
// file afterwards and call SetHashKey(hash) to find the keys.
func UpgradeFile(path string, opts Options, hash func([]byte) uint64) error {
	db, err := bbolt.Open(path, 0o600, boltOptions())
	if err != nil {
		return err
	}
	s := &Store{log: zap.NewNop(), opts: opts, hashKey: hash}
	err = db.Update(s.initSchema)
	return errors.Join(err, db.Close())
}
