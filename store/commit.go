package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
)

// Bucket names. Keys and values are big-endian so that bbolt's byte order is
// numeric order.
var (
	bucketMeta     = []byte("meta")      // schema version and counters
	bucketMsgs     = []byte("msgs")      // id (4) -> message record
	bucketMsgKeys  = []byte("msg_keys")  // chat key + msg_id -> id (4)
	bucketMsgTimes = []byte("msg_times") // time (8) + id (4) -> empty
	bucketAliases  = []byte("aliases")   // platform id -> alias (8)
	bucketAliasIDs = []byte("alias_ids") // alias (8) -> platform id
	bucketCursors  = []byte("cursors")   // chat key -> seq (8)
	bucketKV       = []byte("kv")        // key -> value

	allBuckets = [][]byte{
		bucketMeta, bucketMsgs, bucketMsgKeys, bucketMsgTimes,
		bucketAliases, bucketAliasIDs, bucketCursors, bucketKV,
	}

	metaSchema    = []byte("schema")
	metaLastID    = []byte("last_msg_id")
	metaLastAlias = []byte("last_alias")
	metaMsgCount  = []byte("msg_count")
)

// schemaVersion is bumped on any incompatible change of the layout above.
const schemaVersion = 1

// initSchema creates the buckets of a new file and refuses files written by
// something else or by a newer version.
func initSchema(tx *bbolt.Tx) error {
	if meta := tx.Bucket(bucketMeta); meta != nil {
		v := meta.Get(metaSchema)
		if len(v) != 1 {
			return fmt.Errorf("%w: missing schema version", ErrNotStore)
		}
		if v[0] != schemaVersion {
			return fmt.Errorf("unsupported schema version %d (want %d)", v[0], schemaVersion)
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
	meta := tx.Bucket(bucketMeta)
	if meta.Get(metaSchema) == nil {
		if err := meta.Put(metaSchema, []byte{schemaVersion}); err != nil {
			return fmt.Errorf("write schema version: %w", err)
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
// else is queued without waiting, and commits the batch in one transaction.
// There is deliberately no delay to gather more: an idle caller pays one
// fsync, and under load requests pile up while the previous fsync runs.
func (s *Store) commitLoop() {
	batch := make([]*request, 0, maxBatch)
	for {
		r, ok := <-s.reqs
		if !ok {
			return
		}
		batch = append(batch[:0], r)
		weight := r.op.weight()
	drain:
		for weight < maxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
				weight += r.op.weight()
			default:
				break drain
			}
		}
		s.commit(batch)
		clear(batch) // drop references so finished requests can be collected
	}
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
		err := s.db.Update(func(tx *bbolt.Tx) error {
			w, err := newWriteTx(tx)
			if err != nil {
				return err
			}
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
			return w.flush()
		})
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

// writeTx is a write transaction with its buckets and counters loaded once
// per batch. Counters are written back by flush.
type writeTx struct {
	tx                                  *bbolt.Tx
	meta, msgs, msgKeys, msgTimes       *bbolt.Bucket
	aliases, aliasIDs, cursors, kv      *bbolt.Bucket
	lastID                              uint32
	lastAlias, count                    uint64
	lastIDDirty, aliasDirty, countDirty bool
}

func newWriteTx(tx *bbolt.Tx) (*writeTx, error) {
	w := &writeTx{
		tx:       tx,
		meta:     tx.Bucket(bucketMeta),
		msgs:     tx.Bucket(bucketMsgs),
		msgKeys:  tx.Bucket(bucketMsgKeys),
		msgTimes: tx.Bucket(bucketMsgTimes),
		aliases:  tx.Bucket(bucketAliases),
		aliasIDs: tx.Bucket(bucketAliasIDs),
		cursors:  tx.Bucket(bucketCursors),
		kv:       tx.Bucket(bucketKV),
	}
	if v := w.meta.Get(metaLastID); v != nil {
		if len(v) != 4 {
			return nil, fmt.Errorf("read last message id: bad length %d", len(v))
		}
		w.lastID = binary.BigEndian.Uint32(v)
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
