package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// TestWipe: a wiped file opens as a new store (no message, no setting), a
// missing file is no error, and a file another store holds open is refused
// with its data intact.
func TestWipe(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	if err := store.Wipe(path); err != nil {
		t.Fatalf("Wipe of a missing file: %v", err)
	}
	open := func() *store.Store {
		s, err := store.Open(store.Options{Path: path, Log: zaptest.NewLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	id, err := s.PutMessage(ctx, testMessage(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := store.Wipe(path); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("Wipe of an open store = %v, want ErrInUse", err)
	}
	if _, err := s.Message(id); err != nil {
		t.Fatalf("after a refused Wipe: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if err := store.Wipe(path); err != nil {
		t.Fatalf("Wipe: %v", err)
	}
	s = open()
	defer s.Close()
	if _, err := s.Message(id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("message after Wipe: %v, want ErrNotFound", err)
	}
	if v, err := s.Get("k"); err == nil && v != nil {
		t.Errorf("setting after Wipe: %q", v)
	}
	if _, err := s.PutMessage(ctx, testMessage(2)); err != nil {
		t.Errorf("a wiped store takes messages: %v", err)
	}
}
