package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/store"
)

func TestAlias(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := store.Open(store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	big, err := s.Alias(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if big != store.AliasBase+1 || !store.IsAlias(big) {
		t.Errorf("first alias = %d, want AliasBase+1", big)
	}
	if again, err := s.Alias(ctx, "big"); err != nil || again != big {
		t.Errorf("Alias(big) again = %d, %v; want %d", again, err, big)
	}
	other, err := s.Alias(ctx, "other")
	if err != nil || other != store.AliasBase+2 {
		t.Errorf("second alias = %d, %v; want AliasBase+2", other, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, store.Options{Path: path})
	if again, err := s.Alias(ctx, "big"); err != nil || again != big {
		t.Errorf("Alias(big) after reopen = %d, %v; want %d", again, err, big)
	}
	if id, err := s.ResolveAlias(other); err != nil || id != "other" {
		t.Errorf("ResolveAlias(%d) = %q, %v", other, id, err)
	}
	if n, err := s.Alias(ctx, "third"); err != nil || n != store.AliasBase+3 {
		t.Errorf("alias after reopen = %d, %v; want AliasBase+3", n, err)
	}
	for _, n := range []int64{0, 42, store.AliasBase, store.AliasBase + 4, 1 << 53} {
		if _, err := s.ResolveAlias(n); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ResolveAlias(%d) error = %v, want ErrNotFound", n, err)
		}
	}
	if _, err := s.Alias(ctx, ""); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Alias(\"\") = %v, want ErrInvalid", err)
	}
}

func TestIsAlias(t *testing.T) {
	for n, want := range map[int64]bool{
		-1:                  false,
		0:                   false,
		1:                   false,
		store.AliasBase - 1: false,
		store.AliasBase:     false,
		store.AliasBase + 1: true,
		1<<53 - 1:           true,
		1 << 53:             false,
	} {
		if got := store.IsAlias(n); got != want {
			t.Errorf("IsAlias(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestToIntFromInt(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	maxNumeric := strconv.FormatInt(store.AliasBase-1, 10)
	tests := []struct {
		id      string
		numeric bool // stands for itself
	}{
		{"0", true},
		{"1", true},
		{"123456", true},
		{maxNumeric, true},
		{strconv.FormatInt(store.AliasBase, 10), false},
		{strconv.FormatInt(store.AliasBase+1, 10), false}, // would clash with the first alias
		{"99999999999999999999", false},
		{"big", false},
		{"007", false},
		{"-5", false},
		{"+5", false},
		{"1e3", false},
		{" 1", false},
		{"1_000", false},
	}
	seen := map[int64]string{}
	for _, tt := range tests {
		n, err := s.ToInt(ctx, tt.id)
		if err != nil {
			t.Fatalf("ToInt(%q): %v", tt.id, err)
		}
		if tt.numeric && strconv.FormatInt(n, 10) != tt.id {
			t.Errorf("ToInt(%q) = %d, want the number itself", tt.id, n)
		}
		if !tt.numeric && !store.IsAlias(n) {
			t.Errorf("ToInt(%q) = %d, want an alias", tt.id, n)
		}
		if prev, ok := seen[n]; ok {
			t.Errorf("ToInt(%q) = ToInt(%q) = %d", tt.id, prev, n)
		}
		seen[n] = tt.id
		if back, err := s.FromInt(n); err != nil || back != tt.id {
			t.Errorf("FromInt(ToInt(%q)) = %q, %v", tt.id, back, err)
		}
		if again, err := s.ToInt(ctx, tt.id); err != nil || again != n {
			t.Errorf("ToInt(%q) again = %d, %v; want %d", tt.id, again, err, n)
		}
	}
	if _, err := s.ToInt(ctx, ""); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ToInt(\"\") = %v, want ErrInvalid", err)
	}
	for _, n := range []int64{-1, store.AliasBase, 1 << 53, 1<<53 - 1} {
		if _, err := s.FromInt(n); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FromInt(%d) = %v, want ErrNotFound", n, err)
		}
	}
}

func TestAliasConcurrent(t *testing.T) {
	s, _ := openTemp(t)
	ids := []string{"a", "b", "c", "d"}
	results := make([][]int64, 16)
	var wg sync.WaitGroup
	for g := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, id := range ids {
				n, err := s.Alias(context.Background(), id)
				if err != nil {
					t.Errorf("Alias(%s): %v", id, err)
					return
				}
				results[g] = append(results[g], n)
			}
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	for g := range results {
		for i, n := range results[g] {
			if n != results[0][i] {
				t.Errorf("goroutine %d got alias %d for %s, goroutine 0 got %d", g, n, ids[i], results[0][i])
			}
			seen[n] = true
		}
	}
	for i := range ids {
		if !seen[store.AliasBase+int64(i)+1] {
			t.Errorf("alias AliasBase+%d not allocated; aliases must be contiguous: %v", i+1, seen)
		}
	}
}

func TestAliasExhausted(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if err := s.SetLastAlias(ctx, 1<<53-2); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Alias(ctx, "last"); err != nil || n != 1<<53-1 {
		t.Fatalf("Alias(last) = %d, %v; want 2^53-1", n, err)
	}
	if n, err := s.Alias(ctx, "one too many"); err == nil {
		t.Errorf("Alias past the range = %d, want an error", n)
	}
	if n, err := s.Alias(ctx, "last"); err != nil || n != 1<<53-1 {
		t.Errorf("existing alias after exhaustion = %d, %v", n, err)
	}
}

// PutMessagesAliased allocates the aliases of new non-numeric ids in the
// messages' own commit (one commit for the lot), skips numeric and known
// ids, and the aliases outlive the store.
func TestPutMessagesAliasedOneCommit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	var commits int
	var mu sync.Mutex
	s, err := store.Open(store.Options{Path: path, OnCommit: func(int, time.Duration, error) {
		mu.Lock()
		commits++
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	known, err := s.Alias(ctx, "known")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	commits = 0
	mu.Unlock()
	const n = 50
	msgs := make([]store.Message, n)
	var ids []string
	for i := range msgs {
		chat := "chat-" + strconv.Itoa(i)
		msgs[i] = store.Message{Conv: "g:" + chat, MsgID: "m" + strconv.Itoa(i), SenderID: "42", Seq: 1}
		ids = append(ids, chat, "42", "known", chat)
	}
	if _, err := s.PutMessagesAliased(ctx, msgs, ids); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if commits != 1 {
		t.Errorf("%d commits for %d messages and %d new aliases, want 1", commits, n, n)
	}
	mu.Unlock()
	got := map[int64]string{}
	for i := range n {
		chat := "chat-" + strconv.Itoa(i)
		a, err := s.ToInt(ctx, chat)
		if err != nil || !store.IsAlias(a) || got[a] != "" {
			t.Fatalf("alias of %s = %d, %v (taken by %q)", chat, a, err, got[a])
		}
		got[a] = chat
	}
	mu.Lock()
	if commits != 1 {
		t.Errorf("looking the aliases up committed %d times", commits-1)
	}
	mu.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, store.Options{Path: path})
	for a, chat := range got {
		if id, err := s.FromInt(a); err != nil || id != chat {
			t.Errorf("after reopening %d = %q, %v; want %s", a, id, err, chat)
		}
	}
	if k, err := s.FromInt(known); err != nil || k != "known" {
		t.Errorf("known = %q, %v", k, err)
	}
	if _, err := s.FromInt(store.AliasBase + n + 2); err == nil {
		t.Error("more aliases than new ids were allocated")
	}
}
