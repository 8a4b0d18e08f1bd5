package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// Schema version 2 keyed messages and cursors by a Yunhu chat type and chat
// id; version 3 keys them by an opaque conversation, so that other
// platforms fit. upgradeV2 rewrites a version 2 file in place, inside Open's
// transaction, so a crash or an error leaves the file at version 2:
//
//   - Every record is rewritten in the current record format, with
//     Options.ConvFromV2 of its chat as its conversation. Reported is set
//     where the record has a seq, which is what a seq meant in version 2.
//   - msg_keys is rebuilt from the new keys, in hash order, and merged_to
//     set to last_msg_id: every key is merged, none pending.
//   - The cursors are rekeyed by ConvFromV2. Their values, 8-byte
//     big-endian seqs, stay as they are; they are valid version 3 values,
//     in the order SetCursors compares. Where two chats map to one
//     conversation, the larger value is kept.
//   - Aliases, their reverse map and key/value entries are unchanged.
//
// Being one transaction, the upgrade holds every page it rewrites in memory
// until it commits: roughly the size of the message records and their
// index. What bounds that is the retention, Options.Retention and
// Options.MaxMessages, that the file was kept under, since the upgrade
// rewrites the messages a pruned store still holds. Records are read in
// chunks, so the upgrade's own bookkeeping is 16 bytes a message.

// upgradeChunk is how many records the upgrade reads before it writes
// their new versions back; bbolt cursors must not be written under.
const upgradeChunk = 1024

// upgradeV2 upgrades a version 2 file, one emptied from version 1 included.
func (s *Store) upgradeV2(tx *bbolt.Tx, from byte) error {
	msgs, cursors := tx.Bucket(bucketMsgs), tx.Bucket(bucketCursors)
	firstMsg, _ := msgs.Cursor().First()
	firstCursor, _ := cursors.Cursor().First()
	if firstMsg == nil && firstCursor == nil {
		return nil
	}
	if s.opts.ConvFromV2 == nil {
		return fmt.Errorf("schema version %d holds messages or cursors keyed by Yunhu chat type and id; set Options.ConvFromV2 to upgrade it to version %d", from, schemaVersion)
	}
	start := time.Now()
	w, err := s.newWriteTx(tx)
	if err != nil {
		return err
	}
	n, dropped, err := w.upgradeMessages(s.opts.ConvFromV2)
	if err != nil {
		return fmt.Errorf("upgrade schema version %d: %w", from, err)
	}
	oldCursors, newCursors, err := upgradeCursors(tx, s.opts.ConvFromV2)
	if err != nil {
		return fmt.Errorf("upgrade schema version %d: %w", from, err)
	}
	if err := w.flush(); err != nil {
		return fmt.Errorf("upgrade schema version %d: %w", from, err)
	}
	// Open logs this once the transaction has committed.
	s.upgraded = append(s.upgraded,
		zap.Int("from", int(from)), zap.Int("to", schemaVersion),
		zap.Int("messages", n), zap.Int("duplicates_dropped", dropped),
		zap.Int("cursors_before", oldCursors), zap.Int("cursors_after", newCursors),
		zap.Duration("took", time.Since(start)))
	return nil
}

// upgradeMessages rewrites every record and rebuilds msg_keys. It returns
// how many messages the store holds after the upgrade and how many it
// dropped because an older one had the same new key.
func (w *writeTx) upgradeMessages(convFor func(int32, string) string) (kept, dropped int, err error) {
	type entry struct {
		hash uint64
		id   uint32
	}
	var entries []entry
	var after []byte
	for {
		type rewrite struct {
			ik  []byte
			rec []byte
		}
		var batch []rewrite
		c := w.msgs.Cursor()
		k, v := c.First()
		if after != nil {
			k, v = c.Seek(after)
			if k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(batch) < upgradeChunk; k, v = c.Next() {
			if len(k) != 4 {
				return 0, 0, fmt.Errorf("message key %x: %w", k, errCorrupt)
			}
			rec, key, err := upgradeRecord(v, convFor)
			if err != nil {
				return 0, 0, fmt.Errorf("message %d: %w", binary.BigEndian.Uint32(k), err)
			}
			batch = append(batch, rewrite{bytes.Clone(k), rec})
			entries = append(entries, entry{w.hashKey(key), binary.BigEndian.Uint32(k)})
		}
		if len(batch) == 0 {
			break
		}
		for _, r := range batch {
			if err := w.msgs.Put(r.ik, r.rec); err != nil {
				return 0, 0, fmt.Errorf("put message %x: %w", r.ik, err)
			}
		}
		after = batch[len(batch)-1].ik
	}

	// newer orders ids by allocation, so that of two messages with the
	// same key the later one wins, as a put of the second would have.
	newer := func(id uint32) int64 {
		d := int64(id) - int64(w.lastID)
		if d <= 0 {
			d += math.MaxInt32
		}
		return d
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(newer(b.id), newer(a.id)))
	})

	if err := w.msgs.Tx().DeleteBucket(bucketMsgKeys); err != nil {
		return 0, 0, fmt.Errorf("drop message keys: %w", err)
	}
	if w.msgKeys, err = w.msgs.Tx().CreateBucket(bucketMsgKeys); err != nil {
		return 0, 0, fmt.Errorf("create message keys: %w", err)
	}
	var gone []uint32
	for i := 0; i < len(entries); {
		j := i + 1
		for j < len(entries) && entries[j].hash == entries[i].hash {
			j++
		}
		// entries[i:j] share a hash, newest first; keep the first of
		// each key.
		var ids []byte
		var keys [][]byte
		for _, e := range entries[i:j] {
			ik := idKey(e.id)
			key, err := appendRecordKey(nil, w.msgs.Get(ik))
			if err != nil {
				return 0, 0, fmt.Errorf("message %d: %w", e.id, err)
			}
			if slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, key) }) {
				gone = append(gone, e.id)
				continue
			}
			keys = append(keys, key)
			ids = append(ids, ik...)
		}
		if err := w.msgKeys.Put(binary.BigEndian.AppendUint64(nil, entries[i].hash), ids); err != nil {
			return 0, 0, fmt.Errorf("put message key: %w", err)
		}
		i = j
	}
	for _, id := range gone {
		if err := w.deleteRecord(id); err != nil {
			return 0, 0, err
		}
	}
	w.mergedTo, w.mergedDirty = w.lastID, true
	// The count is recomputed rather than trusted, since it is rewritten
	// anyway.
	w.count, w.countDirty = uint64(len(entries)-len(gone)), true
	return len(entries) - len(gone), len(gone), nil
}

// upgradeRecord returns the current version of a version 1 record (the
// record of schema version 2) and its new key.
func upgradeRecord(old []byte, convFor func(int32, string) string) (rec, key []byte, err error) {
	if len(old) < recordHeader || old[0] != 1 {
		return nil, nil, errCorrupt
	}
	d := decoder{b: old[recordHeader:]}
	chatType := d.varint()
	chatID := d.bytes()
	msgID := d.bytes()
	seq := d.varint()
	tail := d.b // sender id, sender name and body, encoded as now
	d.bytes()
	d.bytes()
	d.bytes()
	if d.bad || int64(int32(chatType)) != chatType {
		return nil, nil, errCorrupt
	}
	conv := convFor(int32(chatType), string(chatID))
	if err := checkConv(conv); err != nil {
		return nil, nil, fmt.Errorf("Options.ConvFromV2(%d, %q): %w", chatType, chatID, err)
	}
	flags := old[1] & (flagSelf | flagRecalled | flagUnsent)
	if seq != 0 {
		flags |= flagReported
	}
	rec = make([]byte, 0, len(old)+len(conv)+binary.MaxVarintLen32)
	rec = append(rec, recordVersion, flags)
	rec = append(rec, old[2:recordHeader]...)
	rec = appendString(rec, conv)
	rec = binary.AppendUvarint(rec, uint64(len(msgID)))
	rec = append(rec, msgID...)
	rec = binary.AppendVarint(rec, seq)
	rec = append(rec, tail...)
	return rec, appendMsgKey(nil, conv, string(msgID)), nil
}

// upgradeCursors rekeys the cursors bucket and returns how many cursors it
// held before and after.
func upgradeCursors(tx *bbolt.Tx, convFor func(int32, string) string) (before, after int, err error) {
	rekeyed := map[string][]byte{}
	err = tx.Bucket(bucketCursors).ForEach(func(k, v []byte) error {
		before++
		if len(k) < 4 || len(v) != 8 {
			return fmt.Errorf("cursor %x: %w", k, errCorrupt)
		}
		chatType := int32(binary.BigEndian.Uint32(k))
		d := decoder{b: k[4:]}
		chatID := d.bytes()
		if d.bad || len(d.b) != 0 {
			return fmt.Errorf("cursor %x: %w", k, errCorrupt)
		}
		conv := convFor(chatType, string(chatID))
		if err := checkConv(conv); err != nil {
			return fmt.Errorf("Options.ConvFromV2(%d, %q): %w", chatType, chatID, err)
		}
		if bytes.Compare(v, rekeyed[conv]) > 0 {
			rekeyed[conv] = bytes.Clone(v)
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	if err := tx.DeleteBucket(bucketCursors); err != nil {
		return 0, 0, fmt.Errorf("drop cursors: %w", err)
	}
	b, err := tx.CreateBucket(bucketCursors)
	if err != nil {
		return 0, 0, fmt.Errorf("create cursors: %w", err)
	}
	for _, conv := range slices.Sorted(maps.Keys(rekeyed)) {
		if err := b.Put([]byte(conv), rekeyed[conv]); err != nil {
			return 0, 0, fmt.Errorf("put cursor: %w", err)
		}
	}
	return before, len(rekeyed), nil
}
