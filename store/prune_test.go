package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// putAt puts n messages, message i at base+i hours by the store's clock,
// and returns their ids.
func putAt(t *testing.T, s *store.Store, n int, base time.Time) []int32 {
	t.Helper()
	ids := make([]int32, n)
	for i := range n {
		at := base.Add(time.Duration(i) * time.Hour)
		s.SetClock(func() time.Time { return at })
		ids[i] = mustPut(t, s, testMessage(i))
	}
	return ids
}

// kept reports, for each id, whether its message is still stored, checking
// both directions of the mapping.
func kept(t *testing.T, s *store.Store, ids []int32) []bool {
	t.Helper()
	out := make([]bool, len(ids))
	for i, id := range ids {
		m := testMessage(i)
		_, errMsg := s.Message(id)
		_, errID := s.MessageID(m.Conv, m.MsgID)
		if (errMsg == nil) != (errID == nil) {
			t.Fatalf("message %d: Message error %v, MessageID error %v", id, errMsg, errID)
		}
		if errMsg != nil && !errors.Is(errMsg, store.ErrNotFound) {
			t.Fatal(errMsg)
		}
		out[i] = errMsg == nil
	}
	return out
}

func keptCount(k []bool) (n int) {
	for _, v := range k {
		if v {
			n++
		}
	}
	return n
}

func TestPruneByAge(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		ctx := context.Background()
		s := im.open(t, store.Options{Path: filepath.Join(t.TempDir(), "store.db"), Retention: 5 * time.Hour})
		base := time.Unix(1700000000, 0)
		ids := putAt(t, s, 10, base)

		// At base+9h the cutoff is base+4h: messages 0..3 are older.
		n, err := s.Prune(ctx, base.Add(9*time.Hour))
		if err != nil || n != 4 {
			t.Fatalf("Prune = %d, %v; want 4", n, err)
		}
		for i, k := range kept(t, s, ids) {
			if k != (i >= 4) {
				t.Errorf("message %d kept = %v", i, k)
			}
		}
		if n, err := s.Prune(ctx, base.Add(9*time.Hour)); err != nil || n != 0 {
			t.Errorf("second Prune = %d, %v; want 0", n, err)
		}
		mustCheck(t, s)
	})
}

func TestPruneByCount(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		ctx := context.Background()
		s := im.open(t, store.Options{Path: filepath.Join(t.TempDir(), "store.db"), MaxMessages: 3})
		base := time.Unix(1700000000, 0)
		// Message times out of order: what counts is the order of the puts.
		order := []int{5, 1, 9, 0, 7, 3, 2, 8, 6, 4}
		for _, i := range order {
			m := testMessage(i)
			m.Time = base.Add(time.Duration(i) * time.Hour)
			mustPut(t, s, m)
		}
		n, err := s.Prune(ctx, time.Now())
		if err != nil || n != 7 {
			t.Fatalf("Prune = %d, %v; want 7", n, err)
		}
		for pos, i := range order {
			m := testMessage(i)
			_, err := s.MessageID(m.Conv, m.MsgID)
			if k := err == nil; k != (pos >= 7) {
				t.Errorf("message put %d kept = %v", pos, k)
			}
		}
		mustCheck(t, s)
	})
}

func TestPruneInChunks(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		ctx := context.Background()
		s := im.open(t, store.Options{
			Path:        filepath.Join(t.TempDir(), "store.db"),
			Retention:   time.Hour,
			MaxMessages: 8,
		})
		s.SetPruneChunk(3)
		base := time.Unix(1700000000, 0)
		ids := putAt(t, s, 20, base)

		// The count limit alone removes 12. Age alone, at base+19.5h with a cutoff
		// of base+18.5h, would remove 19: the larger of the two wins.
		n, err := s.Prune(ctx, base.Add(19*time.Hour+30*time.Minute))
		if err != nil || n != 19 {
			t.Fatalf("Prune = %d, %v; want 19", n, err)
		}
		if k := kept(t, s, ids); keptCount(k) != 1 || !k[19] {
			t.Errorf("kept = %v, want only the newest", k)
		}
		mustCheck(t, s)

		// Count alone, across chunk boundaries.
		s2 := im.open(t, store.Options{Path: filepath.Join(t.TempDir(), "store.db"), MaxMessages: 8})
		s2.SetPruneChunk(3)
		ids = putAt(t, s2, 20, base)
		if n, err := s2.Prune(ctx, base); err != nil || n != 12 {
			t.Fatalf("Prune = %d, %v; want 12", n, err)
		}
		if k := kept(t, s2, ids); keptCount(k) != 8 || !k[12] || k[11] {
			t.Errorf("kept = %v, want the newest 8", k)
		}
		mustCheck(t, s2)
	})
}

func TestPruneDisabled(t *testing.T) {
	s, _ := openTemp(t)
	ids := putAt(t, s, 3, time.Unix(0, 0))
	if n, err := s.Prune(context.Background(), time.Now()); err != nil || n != 0 {
		t.Errorf("Prune without limits = %d, %v", n, err)
	}
	if keptCount(kept(t, s, ids)) != 3 {
		t.Error("Prune without limits removed messages")
	}
}
