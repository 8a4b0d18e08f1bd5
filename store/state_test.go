package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/store"
)

func TestCursor(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if _, err := s.Cursor(2, "g"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Cursor of a new chat = %v, want ErrNotFound", err)
	}
	steps := []struct {
		seq, want int64
	}{
		{10, 10},
		{12, 12},
		{11, 12}, // late push: ignored
		{12, 12},
		{-1, 12},
		{100, 100},
	}
	for _, st := range steps {
		if err := s.SetCursor(ctx, 2, "g", st.seq); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Cursor(2, "g"); err != nil || got != st.want {
			t.Errorf("after SetCursor(%d): Cursor = %d, %v; want %d", st.seq, got, err, st.want)
		}
	}
	// Same id, other chat type: a separate cursor.
	if _, err := s.Cursor(1, "g"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Cursor(user g) = %v, want ErrNotFound", err)
	}
	if err := s.SetCursor(ctx, 2, "", 1); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("SetCursor with empty chat = %v, want ErrInvalid", err)
	}
}

func TestKV(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if _, err := s.Get("device-id"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get of a missing key = %v, want ErrNotFound", err)
	}
	v := []byte("dev-1")
	if err := s.Set(ctx, "device-id", v); err != nil {
		t.Fatal(err)
	}
	v[0] = 'X' // Set must have copied
	got, err := s.Get("device-id")
	if err != nil || string(got) != "dev-1" {
		t.Errorf("Get = %q, %v; want dev-1", got, err)
	}
	got[0] = 'Y' // and Get must return a copy
	if again, _ := s.Get("device-id"); string(again) != "dev-1" {
		t.Errorf("Get after modifying a result = %q", again)
	}

	if err := s.Set(ctx, "empty", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get("empty"); err != nil || len(got) != 0 {
		t.Errorf("Get of an empty value = %q, %v; want empty, nil", got, err)
	}
	if err := s.Set(ctx, "", v); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Set with empty key = %v, want ErrInvalid", err)
	}
}

// TestPruneKeepsState checks that pruning every message leaves aliases,
// cursors and key/value entries alone.
func TestPruneKeepsState(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, store.Options{Path: t.TempDir() + "/store.db", Retention: time.Nanosecond})
	n, err := s.Alias(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(ctx, 2, "big", 7); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, testMessage(1))
	if removed, err := s.Prune(ctx, time.Now().Add(time.Hour)); err != nil || removed != 1 {
		t.Fatalf("Prune = %d, %v; want 1", removed, err)
	}
	if id, err := s.ResolveAlias(n); err != nil || id != "big" {
		t.Errorf("ResolveAlias after prune = %q, %v", id, err)
	}
	if seq, err := s.Cursor(2, "big"); err != nil || seq != 7 {
		t.Errorf("Cursor after prune = %d, %v", seq, err)
	}
	if v, err := s.Get("k"); err != nil || string(v) != "v" {
		t.Errorf("Get after prune = %q, %v", v, err)
	}
}
