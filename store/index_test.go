package store_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// mustFind checks that message n is mapped to id in both directions.
func mustFind(t *testing.T, s *store.Store, n int, id int32) {
	t.Helper()
	m := testMessage(n)
	if got, err := s.MessageID(m.Conv, m.MsgID); err != nil || got != id {
		t.Fatalf("MessageID(message %d) = %d, %v; want %d", n, got, err, id)
	}
	if got, err := s.Message(id); err != nil || got.MsgID != m.MsgID {
		t.Fatalf("Message(%d) = %+v, %v; want message %d", id, got, err, n)
	}
}

func TestKeyIndexMerge(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	never := indexModes[0]
	s := never.open(t, store.Options{Path: path, MaxMessages: 12})

	for i := 1; i <= 10; i++ {
		mustPut(t, s, testMessage(i))
	}
	if n := s.PendingKeys(); n != 10 {
		t.Fatalf("PendingKeys = %d, want 10", n)
	}
	mustCheck(t, s)
	if err := s.MergeIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.PendingKeys(); n != 0 {
		t.Fatalf("PendingKeys after merge = %d, want 0", n)
	}
	mustCheck(t, s)
	for i := 1; i <= 10; i++ {
		mustFind(t, s, i, int32(i))
	}

	// A merged key is found by the next put, which must not re-add it.
	if id := mustPut(t, s, testMessage(3)); id != 3 {
		t.Errorf("re-put of merged message = %d, want 3", id)
	}
	for i := 11; i <= 15; i++ {
		mustPut(t, s, testMessage(i))
	}
	if n := s.PendingKeys(); n != 5 {
		t.Fatalf("PendingKeys = %d, want 5", n)
	}
	// Keeping 12 of 15 removes the three oldest, whose keys are merged.
	if n, err := s.Prune(ctx, testMessage(0).Time); err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v; want 3", n, err)
	}
	mustCheck(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Pending keys are reloaded from disk.
	s = openAt(t, store.Options{Path: path, MaxMessages: 2})
	if err := s.SetMergeThresholds(ctx, 0, math.MaxInt, math.MaxInt, 1); err != nil {
		t.Fatal(err)
	}
	if n := s.PendingKeys(); n != 5 {
		t.Fatalf("PendingKeys after reopen = %d, want 5", n)
	}
	mustCheck(t, s)
	for i := 4; i <= 15; i++ {
		mustFind(t, s, i, int32(i))
	}
	// Down to two: every merged key and three pending ones go.
	if n, err := s.Prune(ctx, testMessage(0).Time); err != nil || n != 10 {
		t.Fatalf("Prune = %d, %v; want 10", n, err)
	}
	if n := s.PendingKeys(); n != 2 {
		t.Errorf("PendingKeys after prune = %d, want 2", n)
	}
	mustCheck(t, s)
	mustFind(t, s, 14, 14)
	mustFind(t, s, 15, 15)
}

// TestKeyIndexBounded checks that under steady load, with no idle moment to
// merge in, pending stops growing at the high threshold.
func TestKeyIndexBounded(t *testing.T) {
	const high = 8
	s := indexMode{"bounded", math.MaxInt, high, 4}.temp(t)
	for i := 1; i <= 50; i++ {
		mustPut(t, s, testMessage(i))
		if n := s.PendingKeys(); n > high {
			t.Fatalf("after %d puts, PendingKeys = %d, want at most %d", i, n, high)
		}
	}
	for i := 1; i <= 50; i++ {
		mustFind(t, s, i, int32(i))
	}
	mustCheck(t, s)
}

// TestKeyHashCollisions runs the index with a hash that collides all the
// time, so that every code path handling several ids under one hash runs.
func TestKeyHashCollisions(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, store.Options{Path: filepath.Join(t.TempDir(), "store.db"), MaxMessages: 25})
	if err := s.SetHashKey(ctx, func(k []byte) uint64 { return uint64(k[len(k)-1] % 3) }); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMergeThresholds(ctx, 0, math.MaxInt, math.MaxInt, 1); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 20; i++ {
		mustPut(t, s, testMessage(i))
	}
	if err := s.MergeIndex(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 21; i <= 30; i++ {
		mustPut(t, s, testMessage(i))
	}
	mustCheck(t, s)
	for i := 1; i <= 30; i++ {
		mustFind(t, s, i, int32(i))
		if id := mustPut(t, s, testMessage(i)); id != int32(i) {
			t.Fatalf("re-put of message %d = %d", i, id)
		}
	}
	// Removes 1..5, merged, from the middle of shared id lists.
	if n, err := s.Prune(ctx, testMessage(0).Time); err != nil || n != 5 {
		t.Fatalf("Prune = %d, %v; want 5", n, err)
	}
	if err := s.MergeIndex(ctx); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, s)
	for i := 6; i <= 30; i++ {
		mustFind(t, s, i, int32(i))
	}
	if _, err := s.MessageID("g:group-1", testMessage(3).MsgID); err == nil {
		t.Error("pruned message still found")
	}
}

// TestKeyIndexAcrossWrap checks the pending range when it spans the id
// wrap-around and holds records that survived from before it.
func TestKeyIndexAcrossWrap(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	never := indexModes[0]
	s := never.open(t, store.Options{Path: path, MaxMessages: 4})
	for i := 1; i <= 3; i++ {
		mustPut(t, s, testMessage(i))
	}
	if err := s.SetLastMessageID(ctx, math.MaxInt32-1); err != nil {
		t.Fatal(err)
	}
	// 1, 2 and 3 are merged survivors inside the pending range from
	// math.MaxInt32 to 5.
	want := map[int]int32{10: math.MaxInt32, 11: 4, 12: 5}
	for n := 10; n <= 12; n++ {
		if id := mustPut(t, s, testMessage(n)); id != want[n] {
			t.Fatalf("message %d: id %d, want %d", n, id, want[n])
		}
	}
	if n := s.PendingKeys(); n != 3 {
		t.Fatalf("PendingKeys = %d, want 3", n)
	}
	mustCheck(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = never.open(t, store.Options{Path: path, MaxMessages: 4})
	if n := s.PendingKeys(); n != 3 {
		t.Fatalf("PendingKeys after reopen = %d, want 3", n)
	}
	mustCheck(t, s)
	for n, id := range want {
		mustFind(t, s, n, id)
	}
	for n := 1; n <= 3; n++ {
		mustFind(t, s, n, int32(n))
	}
	// Six messages, four allowed: in allocation order as far as ids tell,
	// math.MaxInt32 comes first, then 1.
	if n, err := s.Prune(ctx, time.Now()); err != nil || n != 2 {
		t.Fatalf("Prune = %d, %v; want 2", n, err)
	}
	if n := s.PendingKeys(); n != 2 {
		t.Errorf("PendingKeys after prune = %d, want 2", n)
	}
	mustCheck(t, s)
	if err := s.MergeIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.PendingKeys(); n != 0 {
		t.Errorf("PendingKeys after merge = %d, want 0", n)
	}
	mustCheck(t, s)
	for n, id := range map[int]int32{2: 2, 3: 3, 11: 4, 12: 5} {
		mustFind(t, s, n, id)
	}
}
