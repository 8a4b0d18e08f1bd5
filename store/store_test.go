package store_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openAt opens a store at path and closes it when the test ends.
func openAt(t testing.TB, opts store.Options) *store.Store {
	t.Helper()
	if opts.Log == nil {
		opts.Log = zaptest.NewLogger(t)
	}
	s, err := store.Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// indexMode is a setting of the key index merge thresholds, so that tests
// run against keys that are still pending as well as merged ones.
type indexMode struct {
	name             string
	low, high, chunk int
}

var indexModes = []indexMode{
	{"pending", math.MaxInt, math.MaxInt, 1}, // never merge
	{"merged", 1, 1, 16},                     // merge in small chunks after every batch
}

// forIndexModes runs f as a subtest in each index mode.
func forIndexModes(t *testing.T, f func(t *testing.T, m indexMode)) {
	for _, m := range indexModes {
		t.Run(m.name, func(t *testing.T) { f(t, m) })
	}
}

// open opens a store at opts.Path in mode m, closed when the test ends.
func (m indexMode) open(t testing.TB, opts store.Options) *store.Store {
	t.Helper()
	s := openAt(t, opts)
	if err := s.SetMergeThresholds(context.Background(), 0, m.low, m.high, m.chunk); err != nil {
		t.Fatal(err)
	}
	return s
}

// temp opens a store in a new directory in mode m.
func (m indexMode) temp(t testing.TB) *store.Store {
	t.Helper()
	return m.open(t, store.Options{Path: filepath.Join(t.TempDir(), "store.db")})
}

func openTemp(t testing.TB) (*store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	return openAt(t, store.Options{Path: path}), path
}

// testMessage returns a distinct message for n, with a fixed time.
func testMessage(n int) store.Message {
	return store.Message{
		Conv:       "g:group-1",
		MsgID:      fmt.Sprintf("%032x", n),
		Seq:        int64(n),
		SenderID:   "10001",
		SenderName: "alice",
		Time:       time.Unix(1700000000+int64(n), 0),
		Body:       []byte("hello"),
	}
}

func mustPut(t testing.TB, s *store.Store, m store.Message) int32 {
	t.Helper()
	id, err := s.PutMessage(context.Background(), m)
	if err != nil {
		t.Fatalf("PutMessage(%s): %v", m.MsgID, err)
	}
	return id
}

func mustCheck(t testing.TB, s *store.Store) {
	t.Helper()
	if err := s.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "sub", "dir", "store.db")
		s := im.open(t, store.Options{Path: path})
		for i := 1; i <= 3; i++ {
			mustPut(t, s, testMessage(i))
		}
		big, err := s.Alias(ctx, "big")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetCursors(ctx, []store.Cursor{{Conv: "g:big", Value: []byte{0, 42}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, "device-id", []byte("dev-1")); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		fi, err := os.Stat(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o700 {
			t.Errorf("directory mode = %o, want 700", perm)
		}

		s = im.open(t, store.Options{Path: path})
		for i := 1; i <= 3; i++ {
			m := testMessage(i)
			id, err := s.MessageID(m.Conv, m.MsgID)
			if err != nil || id != int32(i) {
				t.Errorf("MessageID(%d) = %d, %v; want %d", i, id, err, i)
			}
		}
		if id := mustPut(t, s, testMessage(4)); id != 4 {
			t.Errorf("id after reopen = %d, want 4", id)
		}
		if n, err := s.Alias(ctx, "big"); err != nil || n != big {
			t.Errorf("Alias(big) after reopen = %d, %v; want %d", n, err, big)
		}
		if v, err := s.Cursor("g:big"); err != nil || string(v) != "\x00\x2a" {
			t.Errorf("Cursor after reopen = %x, %v; want 002a", v, err)
		}
		if v, err := s.Get("device-id"); err != nil || string(v) != "dev-1" {
			t.Errorf("Get after reopen = %q, %v", v, err)
		}
		mustCheck(t, s)
	})
}

func TestOpenErrors(t *testing.T) {
	// permissionsEnforced reports whether a mode-0400 file really refuses
	// writes. Running as root (or with CAP_DAC_OVERRIDE) it does not.
	permissionsEnforced := func(t *testing.T) bool {
		p := filepath.Join(t.TempDir(), "probe")
		if err := os.WriteFile(p, nil, 0o400); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err == nil {
			f.Close()
			return false
		}
		return true
	}

	tests := []struct {
		name  string
		setup func(t *testing.T) string // returns the path to open
		is    error                     // errors.Is target, if any
		want  string                    // substring of the message
	}{
		{
			name:  "empty path",
			setup: func(*testing.T) string { return "" },
			is:    store.ErrInvalid,
			want:  "empty path",
		},
		{
			name: "parent is a regular file",
			setup: func(t *testing.T) string {
				f := filepath.Join(t.TempDir(), "file")
				if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(f, "store.db")
			},
			want: "create store directory",
		},
		{
			name: "path is a directory",
			setup: func(t *testing.T) string {
				return t.TempDir()
			},
			want: "is a directory",
		},
		{
			name: "read-only file",
			setup: func(t *testing.T) string {
				if !permissionsEnforced(t) {
					t.Skip("file permissions are not enforced for this user (root?)")
				}
				p := filepath.Join(t.TempDir(), "store.db")
				s, err := store.Open(store.Options{Path: p})
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, 0o400); err != nil {
					t.Fatal(err)
				}
				return p
			},
			is:   os.ErrPermission,
			want: "must be writable",
		},
		{
			name: "read-only directory",
			setup: func(t *testing.T) string {
				if !permissionsEnforced(t) {
					t.Skip("file permissions are not enforced for this user (root?)")
				}
				dir := t.TempDir()
				if err := os.Chmod(dir, 0o500); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Chmod(dir, 0o700) })
				return filepath.Join(dir, "store.db")
			},
			is:   os.ErrPermission,
			want: "must be writable",
		},
		{
			name: "short garbage file",
			setup: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "store.db")
				if err := os.WriteFile(p, []byte("this is not a database\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			},
			is:   store.ErrNotStore,
			want: "not a store database",
		},
		{
			name: "long garbage file",
			setup: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "store.db")
				data := []byte(strings.Repeat("garbage!", 4096))
				if err := os.WriteFile(p, data, 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			},
			is:   store.ErrNotStore,
			want: "not a store database",
		},
		{
			name: "foreign bbolt file",
			setup: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "other.db")
				db, err := bbolt.Open(p, 0o600, nil)
				if err != nil {
					t.Fatal(err)
				}
				err = db.Update(func(tx *bbolt.Tx) error {
					_, err := tx.CreateBucket([]byte("something-else"))
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				return p
			},
			is:   store.ErrNotStore,
			want: "foreign buckets",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.setup(t)
			s, err := store.Open(store.Options{Path: path})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Open error %q is not %q", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// TestOpenSchemaV1 checks that a file from before the first release is
// upgraded when it holds no messages and refused when it does.
func TestOpenSchemaV1(t *testing.T) {
	for _, withMessage := range []bool{false, true} {
		p := filepath.Join(t.TempDir(), "store.db")
		db, err := bbolt.Open(p, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bbolt.Tx) error {
			for _, name := range []string{"meta", "msgs", "msg_keys", "msg_pending", "msg_times"} {
				if _, err := tx.CreateBucket([]byte(name)); err != nil {
					return err
				}
			}
			if withMessage {
				if err := tx.Bucket([]byte("msgs")).Put([]byte{0, 0, 0, 1}, []byte{1, 0}); err != nil {
					return err
				}
			}
			return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte{1})
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}

		s, err := store.Open(store.Options{Path: p})
		if withMessage {
			if err == nil || !strings.Contains(err.Error(), "schema version 1") {
				t.Errorf("Open of a version 1 file with messages = %v", err)
			}
			if err == nil {
				s.Close()
			}
			continue
		}
		if err != nil {
			t.Fatalf("Open of an empty version 1 file: %v", err)
		}
		if id := mustPut(t, s, testMessage(1)); id != 1 {
			t.Errorf("first id = %d", id)
		}
		mustCheck(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenInUse(t *testing.T) {
	_, path := openTemp(t)
	s2, err := store.Open(store.Options{Path: path})
	if err == nil {
		s2.Close()
		t.Fatal("second Open of the same file succeeded")
	}
	if !errors.Is(err, store.ErrInUse) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Open error = %q, want ErrInUse", err)
	}
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(store.Options{Path: filepath.Join(t.TempDir(), "store.db")})
	if err != nil {
		t.Fatal(err)
	}
	id := mustPut(t, s, testMessage(1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}

	m := testMessage(2)
	if _, err := s.PutMessage(ctx, m); !errors.Is(err, store.ErrClosed) {
		t.Errorf("PutMessage after Close = %v", err)
	}
	if _, err := s.Message(id); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Message after Close = %v", err)
	}
	if _, err := s.MessageID(m.Conv, m.MsgID); !errors.Is(err, store.ErrClosed) {
		t.Errorf("MessageID after Close = %v", err)
	}
	if _, err := s.Alias(ctx, "big"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Alias after Close = %v", err)
	}
	if err := s.Set(ctx, "k", nil); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Set after Close = %v", err)
	}
	if _, err := s.Get("k"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close = %v", err)
	}
	if err := s.Run(ctx); err != nil {
		t.Errorf("Run after Close = %v", err)
	}
}

// TestCloseDuringPuts checks that Close lets queued writes finish: every put
// either fails with ErrClosed or is durable.
func TestCloseDuringPuts(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		path := filepath.Join(t.TempDir(), "store.db")
		s := im.open(t, store.Options{Path: path})
		const writers = 16
		acked := make([][]int32, writers)
		var wg sync.WaitGroup
		started := make(chan struct{}, writers)
		for g := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				signaled := false
				defer func() {
					if !signaled {
						started <- struct{}{}
					}
				}()
				for i := 0; ; i++ {
					id, err := s.PutMessage(context.Background(), testMessage(g*1_000_000+i))
					if errors.Is(err, store.ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("PutMessage: %v", err)
						return
					}
					acked[g] = append(acked[g], id)
					if i == 10 {
						signaled = true
						started <- struct{}{}
					}
				}
			}()
		}
		for range writers {
			<-started
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()

		s = im.open(t, store.Options{Path: path})
		for g, ids := range acked {
			for i, id := range ids {
				m, err := s.Message(id)
				if err != nil || m.MsgID != testMessage(g*1_000_000+i).MsgID {
					t.Fatalf("acked id %d: %+v, %v", id, m, err)
				}
			}
		}
		mustCheck(t, s)
	})
}

func TestCanceledContext(t *testing.T) {
	s, _ := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.PutMessage(ctx, testMessage(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("PutMessage with canceled context = %v", err)
	}
	if id := mustPut(t, s, testMessage(2)); id != 1 {
		t.Errorf("id after a canceled put = %d, want 1", id)
	}
}

// hookLogger returns a logger that also sends each message text to ch
// without blocking.
func hookLogger(t *testing.T, ch chan<- string) *zap.Logger {
	core := zapcore.RegisterHooks(zaptest.NewLogger(t).Core(), func(e zapcore.Entry) error {
		select {
		case ch <- e.Message:
		default:
		}
		return nil
	})
	return zap.New(core)
}

func TestRunPrunes(t *testing.T) {
	logs := make(chan string, 16)
	path := filepath.Join(t.TempDir(), "store.db")
	s := openAt(t, store.Options{
		Path:          path,
		MaxMessages:   2,
		PruneInterval: time.Hour, // Run prunes once at start; the tick never comes
		Log:           hookLogger(t, logs),
	})
	for i := 1; i <= 5; i++ {
		mustPut(t, s, testMessage(i))
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for msg := range logs {
		if msg == "pruned messages" {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	for i := 1; i <= 5; i++ {
		_, err := s.Message(int32(i))
		if kept := err == nil; kept != (i > 3) {
			t.Errorf("message %d: kept = %v, err %v", i, kept, err)
		}
	}
	mustCheck(t, s)
}

func TestRunPrunesEveryInterval(t *testing.T) {
	logs := make(chan string, 16)
	s := openAt(t, store.Options{
		Path:          filepath.Join(t.TempDir(), "store.db"),
		MaxMessages:   1,
		PruneInterval: time.Millisecond,
		Log:           hookLogger(t, logs),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	// Each round leaves work that only a later tick can do.
	for round := range 3 {
		for i := range 3 {
			mustPut(t, s, testMessage(round*10+i))
		}
		for msg := range logs {
			if msg == "pruned messages" {
				break
			}
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	mustCheck(t, s)
}

func TestRunPrunesWhenOverfull(t *testing.T) {
	logs := make(chan string, 16)
	s := openAt(t, store.Options{
		Path:          filepath.Join(t.TempDir(), "store.db"),
		MaxMessages:   10,
		PruneInterval: time.Hour, // after the prune at start, only the overshoot can wake Run
		Log:           hookLogger(t, logs),
	})
	ctx, cancel := context.WithCancel(context.Background())
	var all []store.Message
	put := func(n int) {
		t.Helper()
		msgs := make([]store.Message, n)
		for i := range msgs {
			msgs[i] = testMessage(len(all) + i)
		}
		if _, err := s.PutMessages(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		all = append(all, msgs...)
	}
	waitPrune := func(why string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case msg := <-logs:
				if msg == "pruned messages" {
					return
				}
			case <-timeout:
				t.Fatalf("no prune within 10 s %s", why)
			}
		}
	}

	put(25)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitPrune("of starting Run") // 10 left

	// The least overshoot that prunes is 1,000 messages: exactly that
	// waits for the tick, one more does not.
	put(1000)
	select {
	case msg := <-logs:
		t.Fatalf("Run logged %q with the store exactly at the overshoot", msg)
	case <-time.After(100 * time.Millisecond):
	}
	put(1)
	waitPrune("of the store passing MaxMessages by the overshoot")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	for i, m := range all {
		_, err := s.MessageID(m.Conv, m.MsgID)
		if kept := err == nil; kept != (i >= len(all)-10) {
			t.Fatalf("message %d of %d: kept = %v, err %v", i, len(all), kept, err)
		}
	}
	mustCheck(t, s)
}

func TestRunStopsOnClose(t *testing.T) {
	s, err := store.Open(store.Options{Path: filepath.Join(t.TempDir(), "store.db")})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}
