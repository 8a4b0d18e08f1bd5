package store

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// Recent lists up to count messages of conversation conv, newest first,
// that were stored before message before (0: from the newest), for
// platforms with no history API of their own: their history is what the
// daemon stored. Records are visited in allocation order backwards, ids
// wrapping around as they are allocated, and at most maxScan of them: the
// store keeps no index by conversation, so a quiet chat among busy ones
// shows what the bound lets it find. Pending and unsent records are left
// out.
func (s *Store) Recent(conv string, before int32, count, maxScan int) ([]int32, []Message, error) {
	var ids []int32
	var msgs []Message
	err := s.view(func(tx *bbolt.Tx) error {
		last := uint32(0)
		if v := tx.Bucket(bucketMeta).Get(metaLastID); len(v) == 4 {
			last = binary.BigEndian.Uint32(v)
		}
		start := last
		if before > 0 {
			start = uint32(before) - 1
		}
		c := tx.Bucket(bucketMsgs).Cursor()
		visit := func(k, v []byte) bool { // false: stop
			m, err := decodeRecord(v)
			if err == nil && m.Conv == conv && !m.Pending && !m.Unsent {
				ids = append(ids, int32(binary.BigEndian.Uint32(k)))
				msgs = append(msgs, m)
			}
			maxScan--
			return len(ids) < count && maxScan > 0
		}
		// Newest first: from start down to the lowest id, then the ids
		// allocated before the last wrap-around, from the top down to
		// past the newest. A before in that older stretch starts there.
		older := before > 0 && uint32(before) > last
		if !older {
			k, v := c.Seek(idKey(start))
			if k == nil || binary.BigEndian.Uint32(k) > start {
				k, v = c.Prev()
			}
			for ; k != nil; k, v = c.Prev() {
				if !visit(k, v) {
					return nil
				}
			}
		}
		k, v := c.Last()
		if older {
			k, v = c.Seek(idKey(start))
			if k == nil || binary.BigEndian.Uint32(k) > start {
				k, v = c.Prev()
			}
		}
		for ; k != nil && binary.BigEndian.Uint32(k) > last; k, v = c.Prev() {
			if !visit(k, v) {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("recent messages: %w", err)
	}
	return ids, msgs, nil
}
