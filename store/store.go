// Package store is the bridge's embedded database, a single bbolt file.
//
// It keeps four kinds of state:
//
//   - The message map. Each platform message, identified by its
//     conversation (an opaque key the caller chooses, see Message.Conv) and
//     msg_id, gets a positive int32 OneBot message_id. Ids are handed out in
//     sequence from 1 and are never derived from a hash, so they cannot
//     collide or come out negative. After math.MaxInt32 the sequence wraps
//     to 1 and skips every id whose message is still stored. The message
//     record is kept next to the id for get_msg and replies. A record can
//     also wait for its msg_id while its send is under way (PutPending).
//   - Id aliases. OneBot needs numeric user and group ids, while a platform id
//     can be any string (a group may be called "big"). A platform id that is
//     a canonical decimal (no sign, no leading zeros) below AliasBase (2^52)
//     stands for itself. Every other platform id gets an alias, allocated in
//     sequence as AliasBase+1, AliasBase+2, ... and always below 2^53, so
//     aliases never clash with numeric ids and survive the float64 round trip
//     that JavaScript clients impose.
//   - Cursors, an opaque position per conversation that only moves
//     forward, such as the last msg_seq seen.
//   - A small key/value space for things such as the device id.
//
// # Durability
//
// Every write method returns only after its change has been committed and
// fsynced, so an id a bot has seen is never handed out again after a crash.
// To make that affordable, writes go through a group commit: one goroutine
// owned by the Store takes a request, drains whatever else is already queued
// and applies the lot in one bbolt transaction, paying for one fsync. An idle
// caller waits for a single commit; under load the batches grow by
// themselves. New msg_id mappings are kept in memory as well until they are
// merged into their on-disk index in bulk (see index.go); Open reloads the
// unmerged ones, at most some 65,000.
//
// # Retention
//
// Prune deletes messages first put longer ago than Options.Retention and,
// beyond Options.MaxMessages, the oldest ones. Age is counted from the first
// put, by the store's clock, not from Message.Time: a message fetched from
// history is kept as long as a new one, and a wrong send time on the
// platform cannot make it expire early or linger. Aliases, cursors and
// key/value entries are never pruned.
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"
)

var (
	// ErrNotFound is returned when a message, alias, cursor or key does not
	// exist.
	ErrNotFound = errors.New("not found")

	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("store closed")

	// ErrInUse is returned by Open when another process holds the database.
	ErrInUse = errors.New("database is in use by another process")

	// ErrNotStore is returned by Open when the file exists but is not a
	// bbolt database written by this package.
	ErrNotStore = errors.New("not a store database")

	// ErrInvalid is returned for arguments the store refuses to record, such
	// as an empty msg_id or an oversized body.
	ErrInvalid = errors.New("invalid argument")
)

const (
	// lockTimeout bounds how long Open waits for the file lock. A second
	// daemon pointed at the same file should fail at once with ErrInUse,
	// not hang.
	lockTimeout = time.Second

	// maxBatch caps the number of messages one commit applies, which bounds
	// the memory and the latency of a single transaction.
	maxBatch = 4096

	// defaultPruneChunk is how many messages one pruning transaction
	// deletes, so a large backlog never becomes one giant transaction.
	// It is also the least overshoot of MaxMessages that prunes at once
	// (Store.overshoot), so that each such prune does a whole chunk.
	defaultPruneChunk = 1000
)

// Options configures Open.
type Options struct {
	// Path is the bbolt file. Its parent directory is created with mode 0700
	// if it does not exist.
	Path string

	// Retention prunes messages first put longer ago than this. Zero keeps
	// messages forever.
	Retention time.Duration

	// MaxMessages keeps at most this many of the most recently put
	// messages. Zero means no limit.
	MaxMessages int

	// PruneInterval is how often Run prunes. Run also prunes as soon as
	// the store holds 1% (at least 1,000) more than MaxMessages. Zero
	// means Run never prunes, which tests use to call Prune themselves.
	PruneInterval time.Duration

	// Log receives pruning reports and warnings about background work.
	// Optional; nil means no logging.
	Log *zap.Logger

	// ConvFromV2 is how the caller keys, as a Message.Conv, a conversation
	// that schema version 2 keyed by Yunhu chat type and chat id. Open
	// uses it to upgrade a version 2 file that holds messages or cursors,
	// and refuses such a file when it is nil. It must return a valid
	// conversation key (not empty, at most 300 bytes), and should return
	// different keys for different chats: of two messages that end up
	// with the same conversation and msg id, only the one put later is
	// kept, and of two cursors the one further ahead. It is called only
	// while Open upgrades, once per message and cursor.
	ConvFromV2 func(chatType int32, chatID string) string

	// OnCommit, when set, is told of every write transaction the commit
	// loop ran: how many requests it carried, how long it took (fsync
	// included) and whether it failed. It runs on the commit loop, so it
	// must be quick; the daemon feeds its metrics from it.
	OnCommit func(requests int, took time.Duration, err error)
}

// Store is an open database. Its methods are safe for concurrent use.
type Store struct {
	db    *bbolt.DB
	log   *zap.Logger
	opts  Options
	reqs  chan *request  // read by commitLoop only
	wg    sync.WaitGroup // tracks commitLoop
	chunk int            // messages per pruning transaction; changed by tests

	// pending maps conversation + msg_id to id for messages whose key is not
	// merged into msg_keys yet; see index.go. Only commitLoop writes it,
	// holding pmu; readers hold pmu for reading.
	pmu     sync.RWMutex
	pending map[string]uint32
	hashKey func([]byte) uint64 // hashes keys for msg_keys; replaced by tests
	now     func() time.Time    // stamps new records; replaced by tests

	// Merge tuning, see index.go; owned by commitLoop.
	mergeIdle                       time.Duration
	mergeLow, mergeHigh, mergeChunk int
	mergeErrLogged                  time.Time

	// File preallocation, see prealloc.go; owned by commitLoop.
	zeroFile      *os.File
	zeros         []byte
	zeroedTo      int64
	zeroErrLogged time.Time

	// mu guards closed. Senders hold it for reading while they hand a
	// request to commitLoop, so Close can close reqs without racing them.
	mu      sync.RWMutex
	closed  bool
	closing chan struct{} // closed by Close, ends Run

	// overfull wakes Run when a commit leaves more than MaxMessages plus
	// overshoot messages stored, so that a busy daemon stays near its
	// limit instead of exceeding it by a whole PruneInterval of messages.
	overfull  chan struct{}
	overshoot uint64

	closeOnce sync.Once
	closeErr  error

	// upgraded describes the schema upgrade Open's transaction made, if
	// any, for Open to log once it has committed.
	upgraded []zap.Field
}

// Open opens or creates the database at opts.Path and starts the goroutine
// that commits writes. The caller must Close the Store.
func Open(opts Options) (*Store, error) {
	if opts.Path == "" {
		return nil, fmt.Errorf("open store: %w: empty path", ErrInvalid)
	}
	if opts.Retention < 0 || opts.MaxMessages < 0 || opts.PruneInterval < 0 {
		return nil, fmt.Errorf("open store: %w: negative retention option", ErrInvalid)
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o700); err != nil {
		return nil, fmt.Errorf("create store directory: %w", err)
	}

	db, err := bbolt.Open(opts.Path, 0o600, boltOptions())
	if err != nil {
		return nil, openError(opts.Path, err)
	}
	s := &Store{
		db:         db,
		log:        opts.Log,
		opts:       opts,
		reqs:       make(chan *request, maxBatch),
		chunk:      defaultPruneChunk,
		pending:    make(map[string]uint32),
		hashKey:    hashKey,
		now:        time.Now,
		mergeIdle:  mergeIdle,
		mergeLow:   mergeLow,
		mergeHigh:  mergeHigh,
		mergeChunk: mergeChunk,
		closing:    make(chan struct{}),
		overfull:   make(chan struct{}, 1),
		overshoot:  uint64(max(opts.MaxMessages/100, defaultPruneChunk)),
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := s.initSchema(tx); err != nil {
			return err
		}
		return s.loadPending(tx)
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", opts.Path, err)
	}
	if s.upgraded != nil {
		s.log.Info("upgraded store schema", s.upgraded...)
		s.upgraded = nil
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.commitLoop()
	}()
	return s, nil
}

// openError turns bbolt's open failures into errors that tell an operator
// what to fix.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, bbolt.ErrTimeout):
		return fmt.Errorf("open store %s: %w (lock not acquired within %s)", path, ErrInUse, lockTimeout)
	case errors.Is(err, bbolt.ErrInvalid), errors.Is(err, bbolt.ErrVersionMismatch), errors.Is(err, bbolt.ErrChecksum):
		return fmt.Errorf("open store %s: %w: %w", path, ErrNotStore, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("open store: %w (the file and its directory must be writable)", err)
	default:
		return fmt.Errorf("open store: %w", err)
	}
}

// Run prunes messages every Options.PruneInterval until ctx is done or the
// Store is closed. It returns nil in both cases; pruning failures are logged
// and retried at the next tick, since a full disk should not stop the bridge.
func (s *Store) Run(ctx context.Context) error {
	if s.opts.PruneInterval <= 0 || (s.opts.Retention <= 0 && s.opts.MaxMessages <= 0) {
		select {
		case <-ctx.Done():
		case <-s.closing:
		}
		return nil
	}

	// Prune at once: the daemon may have been stopped for longer than the
	// interval.
	s.pruneAndLog(ctx)
	t := time.NewTicker(s.opts.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			return nil
		case <-t.C:
			s.pruneAndLog(ctx)
		case <-s.overfull:
			s.pruneAndLog(ctx)
		}
	}
}

func (s *Store) pruneAndLog(ctx context.Context) {
	start := time.Now()
	n, err := s.Prune(ctx, start)
	switch {
	case err != nil && (ctx.Err() != nil || errors.Is(err, ErrClosed)):
	case err != nil:
		s.log.Warn("prune messages", zap.Int("removed", n), zap.Error(err))
	case n > 0:
		s.log.Info("pruned messages", zap.Int("removed", n), zap.Duration("took", time.Since(start)))
	}
}

// Close waits for queued writes to commit, stops the commit goroutine and
// closes the database. Calls after the first return the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.closing)
		s.mu.Unlock()

		// No sender can be inside enqueue now, so closing reqs is safe;
		// commitLoop drains what is left and returns.
		close(s.reqs)
		s.wg.Wait()
		var errs []error
		if s.zeroFile != nil {
			errs = append(errs, s.zeroFile.Close())
		}
		errs = append(errs, s.db.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("close store: %w", err)
		}
	})
	return s.closeErr
}

// view runs a read-only transaction, mapping bbolt's closed-database error
// to ErrClosed.
func (s *Store) view(fn func(tx *bbolt.Tx) error) error {
	err := s.db.View(fn)
	if errors.Is(err, bbolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// boltOptions are the bbolt settings every opening of a store file uses.
func boltOptions() *bbolt.Options {
	return &bbolt.Options{
		Timeout: lockTimeout,
		// The hashmap freelist stays fast when pruning has left many free
		// pages; the default array freelist degrades with fragmentation.
		FreelistType: bbolt.FreelistMapType,
		// Not writing the freelist saves pages on every commit, many of
		// them once pruning has freed a lot. The price is that Open
		// rebuilds the freelist by walking the whole tree.
		NoFreelistSync: true,
	}
}

// Wipe empties the store file at path, which must not be open: every
// bucket is deleted, so the next Open starts as on a new file. It deletes
// the contents rather than the file, so that bbolt's lock refuses while
// another process has the file open (ErrInUse) instead of wiping it under
// that process. A missing file is not an error; a file that cannot be
// opened is left for Open to report.
func Wipe(path string) error {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	db, err := bbolt.Open(path, 0o600, boltOptions())
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return fmt.Errorf("wipe store: %w", ErrInUse)
		}
		return nil
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		var names [][]byte
		if err := tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			names = append(names, bytes.Clone(name))
			return nil
		}); err != nil {
			return err
		}
		for _, name := range names {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wipe store: %w", err)
	}
	return nil
}
