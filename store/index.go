package store

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// The key index maps conversation + msg_id to a message id. Yunhu msg_ids
// are random (uuid4 hex), so inserting one into a B+tree dirties a random
// leaf page, and writing and fsyncing that page costs more than the rest of
// a put together: it halved the throughput of concurrent puts. So a new
// message is at first only written as its record, an append at the tail of
// msgs, and its mapping is kept in memory in Store.pending. Later, when the
// committer is idle or pending has grown large, merge moves a chunk of
// pending mappings into msg_keys in one transaction, sorted, so that keys
// landing on the same leaf share its write.
//
// Which records are pending needs no bucket of its own, which would cost a
// page per commit: merges go in allocation order, so the meta value
// merged_to marks how far they have got, and the pending records are those
// allocated after it, up to last_msg_id. After the id wrap-around, that range
// can also hold records that survived from the previous round and were
// merged long ago; their key is found in msg_keys, which tells them apart.
//
// msg_keys is keyed by 8 bytes of the key's SHA-256 rather than the key
// itself: at 12 instead of some 50 bytes an entry, a leaf holds more than
// twice as many, and a merge dirties fewer than half as many pages. Its
// value lists the ids whose keys share the hash, nearly always one; lookups
// compare the key stored in each id's record.
//
// A key is either pending or in msg_keys, never both. Store.pending always
// matches what is committed, because only commitLoop changes either, and it
// publishes a transaction's changes to the map right after the commit,
// before it answers any caller.
//
// Pending-send records (see PutPending) have no msg_id and are in neither
// place: nothing looks them up by key. BindPending writes the key of a
// record it binds straight into msg_keys, since the record may lie before
// merged_to, where the pending range would not find it after a restart.
const (
	// mergeIdle is how long no write may arrive before the committer
	// counts as idle and merges. Merely finding the queue empty after a
	// commit is no sign of idleness: the callers just answered are about
	// to come back.
	mergeIdle = 100 * time.Millisecond

	// mergeLow is the number of pending keys worth merging when idle.
	// Smaller merges cost more per key, and a caller that arrives during
	// one waits for it.
	mergeLow = 1024

	// mergeHigh bounds the memory held by pending (some 100 bytes a key).
	// Under load, one chunk is merged whenever pending reaches it, that is
	// once per mergeChunk new keys, so a busy store spends a bounded share
	// of its time merging and never stalls for long.
	mergeHigh = 1 << 16

	// mergeChunk is how many mappings one merge transaction moves.
	mergeChunk = 4096

	// mergeErrorLogInterval rate-limits merge failure logs; a broken disk
	// would otherwise log after every batch.
	mergeErrorLogInterval = time.Minute
)

// lookup resolves key inside w's transaction. inPending tells where it was
// found, which is where a deletion has to remove it.
func (w *writeTx) lookup(key []byte) (id uint32, inPending bool, err error) {
	v, ok := w.overlay[string(key)]
	if !ok {
		v = w.pending[string(key)]
	}
	if v != 0 {
		return v, true, nil
	}
	id, err = findKey(w.msgKeys, w.msgs, w.hashKey, key)
	return id, false, err
}

// findKey looks key up in msg_keys, checking candidates against their
// records in msgs.
func findKey(msgKeys, msgs *bbolt.Bucket, hash func([]byte) uint64, key []byte) (uint32, error) {
	var hk [8]byte
	binary.BigEndian.PutUint64(hk[:], hash(key))
	ids := msgKeys.Get(hk[:])
	if len(ids)%4 != 0 {
		return 0, fmt.Errorf("message key %x: %w", hk, errCorrupt)
	}
	for i := 0; i < len(ids); i += 4 {
		if recordHasKey(msgs.Get(ids[i:i+4]), key) {
			return binary.BigEndian.Uint32(ids[i:]), nil
		}
	}
	return 0, nil
}

// hashKey is the default Store.hashKey.
func hashKey(key []byte) uint64 {
	h := sha256.Sum256(key)
	return binary.BigEndian.Uint64(h[:8])
}

// mapKey records a new mapping as pending.
func (w *writeTx) mapKey(key []byte, id uint32) {
	w.setOverlay(key, id)
}

// unmapKey removes the mapping of key if it points at id.
func (w *writeTx) unmapKey(key []byte, id uint32) error {
	cur, inPending, err := w.lookup(key)
	if err != nil || cur != id {
		return err
	}
	if inPending {
		w.setOverlay(key, 0)
		return nil
	}
	hk := binary.BigEndian.AppendUint64(nil, w.hashKey(key))
	ids := w.msgKeys.Get(hk)
	var rest []byte
	for i := 0; i+4 <= len(ids); i += 4 {
		if binary.BigEndian.Uint32(ids[i:]) != id {
			rest = append(rest, ids[i:i+4]...)
		}
	}
	if len(rest) > 0 {
		err = w.msgKeys.Put(hk, rest)
	} else {
		err = w.msgKeys.Delete(hk)
	}
	if err != nil {
		return fmt.Errorf("delete message key: %w", err)
	}
	return nil
}

// setOverlay notes a change to pending made by this transaction: an id, or
// 0 for "no longer pending".
func (w *writeTx) setOverlay(key []byte, id uint32) {
	if w.overlay == nil {
		w.overlay = make(map[string]uint32)
	}
	w.overlay[string(key)] = id
}

// merge moves up to n pending mappings, in allocation order, into
// msg_keys, and returns how many it moved.
func (w *writeTx) merge(n int) (int, error) {
	type entry struct {
		hash uint64
		key  []byte
		ik   [4]byte
	}
	if w.mergedTo == w.lastID {
		return 0, nil
	}
	var entries []entry
	to, stopped := w.lastID, false
	err := walkCircular(w.msgs, w.mergedTo, w.lastID, func(id uint32, rec []byte) (bool, error) {
		if len(entries) == n {
			stopped = true
			return false, nil
		}
		to = id
		if recordPending(rec) {
			return true, nil // not mapped
		}
		key, err := appendRecordKey(nil, rec)
		if err != nil {
			return false, fmt.Errorf("message %d: %w", id, err)
		}
		if pid, inPending, err := w.lookup(key); err != nil || !inPending || pid != id {
			return err == nil, err // merged in an earlier round of ids
		}
		e := entry{hash: w.hashKey(key), key: key}
		binary.BigEndian.PutUint32(e.ik[:], id)
		entries = append(entries, e)
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	if !stopped {
		to = w.lastID
	}
	// Sorted puts walk the tree once, left to right.
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.hash, b.hash) })
	for i := range entries {
		e := &entries[i]
		if err := addIndexed(w.msgKeys, e.hash, e.ik[:]); err != nil {
			return 0, err
		}
		w.setOverlay(e.key, 0)
	}
	w.mergedTo = to
	w.mergedDirty = true
	return len(entries), nil
}

// addIndexed adds the id ik to the ids listed under hash in msg_keys.
func addIndexed(msgKeys *bbolt.Bucket, hash uint64, ik []byte) error {
	hk := binary.BigEndian.AppendUint64(nil, hash)
	ids := append(bytes.Clone(msgKeys.Get(hk)), ik...)
	if err := msgKeys.Put(hk, ids); err != nil {
		return fmt.Errorf("put message key: %w", err)
	}
	return nil
}

// walkCircular calls fn with the records whose ids lie in (after, last],
// counting up from after and wrapping from math.MaxInt32 to 1, which is the
// order ids are allocated in; after == last means all records. fn returns
// false to stop. It must not change msgs.
func walkCircular(msgs *bbolt.Bucket, after, last uint32, fn func(id uint32, rec []byte) (bool, error)) error {
	c := msgs.Cursor()
	wraps := after >= last
	for k, v := c.Seek(binary.BigEndian.AppendUint32(nil, after+1)); k != nil; k, v = c.Next() {
		id := binary.BigEndian.Uint32(k)
		if !wraps && id > last {
			return nil
		}
		if ok, err := fn(id, v); !ok || err != nil {
			return err
		}
	}
	if !wraps {
		return nil
	}
	for k, v := c.First(); k != nil; k, v = c.Next() {
		id := binary.BigEndian.Uint32(k)
		if id > last {
			return nil
		}
		if ok, err := fn(id, v); !ok || err != nil {
			return err
		}
	}
	return nil
}

// publish applies a committed transaction's overlay to pending.
func (s *Store) publish(overlay map[string]uint32) {
	if len(overlay) == 0 {
		return
	}
	s.pmu.Lock()
	defer s.pmu.Unlock()
	for k, id := range overlay {
		if id == 0 {
			delete(s.pending, k)
		} else {
			s.pending[k] = id
		}
	}
}

// loadPending fills pending at Open with the records allocated after the
// last merge whose key is not in msg_keys.
func (s *Store) loadPending(tx *bbolt.Tx) error {
	w, err := s.newWriteTx(tx)
	if err != nil {
		return err
	}
	if w.mergedTo == w.lastID {
		return nil
	}
	err = walkCircular(w.msgs, w.mergedTo, w.lastID, func(id uint32, rec []byte) (bool, error) {
		if recordPending(rec) {
			return true, nil
		}
		key, err := appendRecordKey(nil, rec)
		if err != nil {
			return false, fmt.Errorf("message %d: %w", id, err)
		}
		merged, err := findKey(w.msgKeys, w.msgs, w.hashKey, key)
		if err == nil && merged != id {
			s.pending[string(key)] = id
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("load pending message keys: %w", err)
	}
	return nil
}

// merge moves one chunk of pending keys into msg_keys and returns how many
// it moved. It runs on commitLoop. A failure is logged, rate-limited, and
// left for the next attempt: the keys stay pending and correct meanwhile.
func (s *Store) merge() int {
	var merged int
	err := s.update(func(w *writeTx) error {
		var err error
		merged, err = w.merge(s.mergeChunk)
		return err
	})
	if err != nil {
		if now := time.Now(); now.Sub(s.mergeErrLogged) >= mergeErrorLogInterval {
			s.mergeErrLogged = now
			s.log.Warn("merge message keys", zap.Int("pending", len(s.pending)), zap.Error(err))
		}
		return 0
	}
	return merged
}

// recordHasKey reports whether rec is the record of key. A pending-send
// record has no key.
func recordHasKey(rec, key []byte) bool {
	if recordPending(rec) {
		return false
	}
	var buf [maxConvLen + maxIDLen + 2*binary.MaxVarintLen32]byte
	k, err := appendRecordKey(buf[:0], rec)
	return err == nil && bytes.Equal(k, key)
}

// appendRecordKey appends the conversation + msg_id of an encoded record.
// Callers skip pending-send records, which have no key.
func appendRecordKey(b []byte, rec []byte) ([]byte, error) {
	if len(rec) < recordHeader || rec[0] != recordVersion {
		return nil, errCorrupt
	}
	d := decoder{b: rec[recordHeader:]}
	conv := d.bytes()
	msgID := d.bytes()
	if d.bad {
		return nil, errCorrupt
	}
	b = binary.AppendUvarint(b, uint64(len(conv)))
	b = append(b, conv...)
	return append(b, msgID...), nil
}
