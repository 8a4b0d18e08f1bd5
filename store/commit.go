package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// Bucket names. Keys and values are big-endian so that bbolt's byte order is
// numeric order.
var (
	bucketMeta     = []byte("meta")      // schema version and counters
	bucketMsgs     = []byte("msgs")      // id (4) -> message record
	bucketMsgKeys  = []byte("msg_keys")  // hash (8) of conv + msg_id -> ids (4 each)
	bucketAliases  = []byte("aliases")   // platform id -> alias (8)
	bucketAliasIDs = []byte("alias_ids") // alias (8) -> platform id
	bucketCursors  = []byte("cursors")   // conv -> position (opaque, 1-256 bytes)
	bucketKV       = []byte("kv")        // key -> value

	allBuckets = [][]byte{
		bucketMeta, bucketMsgs, bucketMsgKeys,
		bucketAliases, bucketAliasIDs, bucketCursors, bucketKV,
	}

	metaSchema    = []byte("schema")
	metaLastID    = []byte("last_msg_id")
	metaMergedTo  = []byte("merged_to")
	metaLastAlias = []byte("last_alias")
	metaMsgCount  = []byte("msg_count")
)

// schemaVersion is bumped on any incompatible change of the layout above.
// Version 1, from before the first release, had two more buckets and a
// shorter record header. Version 2 keyed messages and cursors by a Yunhu
// chat type and chat id, where version 3 has an opaque conversation key;
// Open upgrades it in place, see upgrade.go.
const schemaVersion = 3

// initSchema creates the buckets of a new file, upgrades files of an older
// version and refuses files written by something else or by a newer
// version. It runs in Open's transaction, so a failed upgrade leaves the
// file as it was.
func (s *Store) initSchema(tx *bbolt.Tx) error {
	var version byte
	if meta := tx.Bucket(bucketMeta); meta != nil {
		v := meta.Get(metaSchema)
		if len(v) != 1 {
			return fmt.Errorf("%w: missing schema version", ErrNotStore)
		}
		version = v[0]
		if version == 1 {
			if err := upgradeEmptyV1(tx); err != nil {
				return err
			}
		} else if version != 2 && version != schemaVersion {
			return fmt.Errorf("unsupported schema version %d (want %d)", version, schemaVersion)
		}
	} else {
		empty := true
		_ = tx.ForEach(func([]byte, *bbolt.Bucket) error {
			empty = false
			return nil
		})
		if !empty {
			return fmt.Errorf("%w: bbolt file has foreign buckets", ErrNotStore)
		}
	}
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	// An emptied version 1 file is laid out as version 2 now; it can
	// still hold cursors.
	if version == 1 || version == 2 {
		if err := s.upgradeV2(tx, version); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(metaSchema); len(v) != 1 || v[0] != schemaVersion {
		if err := meta.Put(metaSchema, []byte{schemaVersion}); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
	}
	return nil
}

// upgradeEmptyV1 moves a version 1 file that holds no messages to version
// 2. Its records could not be read, so a file with messages is refused.
func upgradeEmptyV1(tx *bbolt.Tx) error {
	if msgs := tx.Bucket(bucketMsgs); msgs != nil {
		if k, _ := msgs.Cursor().First(); k != nil {
			return errors.New("schema version 1 from before the first release holds messages; move the file away to start afresh")
		}
	}
	for _, name := range []string{"msg_pending", "msg_times"} {
		if err := tx.DeleteBucket([]byte(name)); err != nil && !errors.Is(err, bbolt.ErrBucketNotFound) {
			return fmt.Errorf("drop bucket %s: %w", name, err)
		}
	}
	return nil
}

// An op is one caller's write, applied by commitLoop inside a transaction
// shared with other callers.
//
// apply either returns a *rejection before it has written anything, which
// fails only its own caller, or any other error, which aborts the whole
// transaction and fails every caller in it.
type op interface {
	apply(w *writeTx) error
	// weight is the number of messages the op writes, for the batch cap.
	weight() int
}

// rejection is an op's own failure; see op.
type rejection struct{ err error }

func (r *rejection) Error() string { return r.err.Error() }
func (r *rejection) Unwrap() error { return r.err }

func reject(err error) error { return &rejection{err: err} }

type request struct {
	ctx  context.Context
	op   op
	done chan error // buffered, so commitLoop never blocks on a caller that gave up
}

// do hands o to commitLoop and waits until it is durable. If ctx ends first
// do returns ctx.Err(); o may still be committed later.
func (s *Store) do(ctx context.Context, o op) error {
	r := &request{ctx: ctx, op: o, done: make(chan error, 1)}
	if err := s.enqueue(r); err != nil {
		return err
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) enqueue(r *request) error {
	// Checked first because select picks at random among ready cases, and
	// a caller that has already given up should not write.
	if err := r.ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	select {
	case s.reqs <- r:
		return nil
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

// commitLoop is the group commit. It blocks for one request, takes whatever
// else is queued and commits the batch in one transaction. There is
// deliberately no wait to gather more: a lone caller pays one fsync and
// nothing else, and under load requests pile up by themselves while the
// previous fsync runs. Between batches it merges pending message keys, see
// index.go.
func (s *Store) commitLoop() {
	batch := make([]*request, 0, maxBatch)
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	defer idle.Stop()
	var idleC <-chan time.Time // nil while there is too little to merge
	for {
		select {
		case r, ok := <-s.reqs:
			if !ok {
				return
			}
			batch = s.gather(append(batch[:0], r))
			s.commit(batch)
			clear(batch) // drop references so finished requests can be collected
			s.zeroAhead()
			if len(s.pending) >= s.mergeHigh {
				s.merge()
			}
		case <-idleC:
			for len(s.pending) >= s.mergeLow && len(s.reqs) == 0 && !s.isClosing() {
				if s.merge() == 0 {
					break
				}
			}
		}
		if len(s.pending) >= s.mergeLow {
			idle.Reset(s.mergeIdle)
			idleC = idle.C
		} else {
			idle.Stop()
			idleC = nil
		}
	}
}

// isClosing reports whether Close has begun; background work stops early
// rather than delay it.
func (s *Store) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// gather adds queued requests to batch without blocking, up to maxBatch
// messages.
func (s *Store) gather(batch []*request) []*request {
	weight := batch[0].op.weight()
	for weight < maxBatch {
		select {
		case r, ok := <-s.reqs:
			if !ok {
				return batch
			}
			batch = append(batch, r)
			weight += r.op.weight()
		default:
			return batch
		}
	}
	return batch
}

func (s *Store) commit(batch []*request) {
	errs := make([]error, len(batch))
	live := 0
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		live++
	}
	if live > 0 {
		start := time.Now()
		err := s.update(func(w *writeTx) error {
			for i, r := range batch {
				if errs[i] != nil {
					continue
				}
				err := r.op.apply(w)
				var rj *rejection
				if errors.As(err, &rj) {
					errs[i] = rj.err
					continue
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if s.opts.OnCommit != nil {
			s.opts.OnCommit(live, time.Since(start), err)
		}
		if err != nil {
			err = fmt.Errorf("commit: %w", err)
			for i := range errs {
				if errs[i] == nil {
					errs[i] = err
				}
			}
		}
	}
	for i, r := range batch {
		r.done <- errs[i]
	}
}

// update runs fn in a write transaction and, once it has committed,
// publishes its changes to the pending key map. Only commitLoop calls it.
func (s *Store) update(fn func(w *writeTx) error) error {
	var w *writeTx
	err := s.db.Update(func(tx *bbolt.Tx) error {
		var err error
		if w, err = s.newWriteTx(tx); err != nil {
			return err
		}
		if err := fn(w); err != nil {
			return err
		}
		return w.flush()
	})
	if err != nil {
		return err
	}
	s.publish(w.overlay)
	if s.opts.MaxMessages > 0 && w.count > uint64(s.opts.MaxMessages)+s.overshoot {
		select {
		case s.overfull <- struct{}{}:
		default: // Run has been told already
		}
	}
	return nil
}

// writeTx is a write transaction with its buckets and counters loaded once
// per batch. Counters are written back by flush.
type writeTx struct {
	meta, msgs, msgKeys, aliases *bbolt.Bucket
	aliasIDs, cursors, kv        *bbolt.Bucket
	lastID, mergedTo             uint32
	lastAlias, count             uint64
	lastIDDirty, mergedDirty     bool
	aliasDirty, countDirty       bool

	// pending is Store.pending, read without a lock: only commitLoop
	// writes it. overlay holds this transaction's changes to it, applied
	// by publish after the commit.
	pending map[string]uint32
	overlay map[string]uint32
	hashKey func([]byte) uint64
}

func (s *Store) newWriteTx(tx *bbolt.Tx) (*writeTx, error) {
	w := &writeTx{
		pending:  s.pending,
		hashKey:  s.hashKey,
		meta:     tx.Bucket(bucketMeta),
		msgs:     tx.Bucket(bucketMsgs),
		msgKeys:  tx.Bucket(bucketMsgKeys),
		aliases:  tx.Bucket(bucketAliases),
		aliasIDs: tx.Bucket(bucketAliasIDs),
		cursors:  tx.Bucket(bucketCursors),
		kv:       tx.Bucket(bucketKV),
	}
	for _, c := range []struct {
		key []byte
		dst *uint32
	}{{metaLastID, &w.lastID}, {metaMergedTo, &w.mergedTo}} {
		if v := w.meta.Get(c.key); v != nil {
			if len(v) != 4 {
				return nil, fmt.Errorf("read %s: bad length %d", c.key, len(v))
			}
			*c.dst = binary.BigEndian.Uint32(v)
		}
	}
	for _, c := range []struct {
		key []byte
		dst *uint64
	}{{metaLastAlias, &w.lastAlias}, {metaMsgCount, &w.count}} {
		if v := w.meta.Get(c.key); v != nil {
			if len(v) != 8 {
				return nil, fmt.Errorf("read %s: bad length %d", c.key, len(v))
			}
			*c.dst = binary.BigEndian.Uint64(v)
		}
	}
	return w, nil
}

func (w *writeTx) flush() error {
	if w.lastIDDirty {
		if err := w.meta.Put(metaLastID, binary.BigEndian.AppendUint32(nil, w.lastID)); err != nil {
			return fmt.Errorf("write last message id: %w", err)
		}
	}
	if w.mergedDirty {
		if err := w.meta.Put(metaMergedTo, binary.BigEndian.AppendUint32(nil, w.mergedTo)); err != nil {
			return fmt.Errorf("write merged message id: %w", err)
		}
	}
	if w.aliasDirty {
		if err := w.meta.Put(metaLastAlias, binary.BigEndian.AppendUint64(nil, w.lastAlias)); err != nil {
			return fmt.Errorf("write last alias: %w", err)
		}
	}
	if w.countDirty {
		if err := w.meta.Put(metaMsgCount, binary.BigEndian.AppendUint64(nil, w.count)); err != nil {
			return fmt.Errorf("write message count: %w", err)
		}
	}
	return nil
}

// funcOp adapts a closure to op for the rare writes that need no batching
// tricks.
type funcOp func(w *writeTx) error

func (f funcOp) apply(w *writeTx) error { return f(w) }
func (f funcOp) weight() int            { return 1 }
