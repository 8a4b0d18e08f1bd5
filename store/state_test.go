package store_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// seqValue encodes a sequence number as a cursor value whose byte order is
// numeric order, as callers are told to.
func seqValue(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func TestCursor(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if _, err := s.Cursor("g:1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Cursor of a new conversation = %v, want ErrNotFound", err)
	}
	steps := []struct {
		val, want []byte
	}{
		{seqValue(10), seqValue(10)},
		{seqValue(12), seqValue(12)},
		{seqValue(11), seqValue(12)}, // late push: ignored
		{seqValue(12), seqValue(12)},
		{seqValue(300), seqValue(300)},
		{[]byte{0, 0, 0, 0, 0, 0, 1}, seqValue(300)}, // a prefix sorts first
		{[]byte{0xff}, []byte{0xff}},                 // bytes order, not length
		{[]byte{0xff, 0}, []byte{0xff, 0}},
	}
	for _, st := range steps {
		if err := s.SetCursors(ctx, []store.Cursor{{Conv: "g:1", Value: st.val}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Cursor("g:1")
		if err != nil || !bytes.Equal(got, st.want) {
			t.Errorf("after SetCursors(%x): Cursor = %x, %v; want %x", st.val, got, err, st.want)
		}
	}
	got, _ := s.Cursor("g:1")
	got[0] = 0 // Cursor must return a copy
	if again, _ := s.Cursor("g:1"); !bytes.Equal(again, []byte{0xff, 0}) {
		t.Errorf("Cursor after modifying a result = %x", again)
	}
	// Another conversation, even one that extends this one's key, is a
	// separate cursor.
	for _, conv := range []string{"g:10", "g:", "p:1"} {
		if _, err := s.Cursor(conv); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Cursor(%q) = %v, want ErrNotFound", conv, err)
		}
	}
}

// TestSetCursorsBatch checks that one call sets many cursors in one commit,
// each only forward, entries for the same conversation in order, and that
// invalid input writes nothing.
func TestSetCursorsBatch(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	commits := 0
	s := openAt(t, store.Options{
		Path: filepath.Join(t.TempDir(), "store.db"),
		OnCommit: func(requests int, _ time.Duration, err error) {
			mu.Lock()
			commits++
			mu.Unlock()
		},
	})
	if err := s.SetCursors(ctx, []store.Cursor{{Conv: "a", Value: seqValue(5)}, {Conv: "b", Value: seqValue(5)}}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	commits = 0
	mu.Unlock()
	batch := []store.Cursor{
		{Conv: "a", Value: seqValue(4)}, // behind: ignored
		{Conv: "b", Value: seqValue(9)},
		{Conv: "c", Value: seqValue(2)},
		{Conv: "c", Value: seqValue(7)},
		{Conv: "c", Value: seqValue(3)}, // behind the entry before it
	}
	for i := range 100 {
		batch = append(batch, store.Cursor{Conv: fmt.Sprintf("many-%d", i), Value: seqValue(uint64(i + 1))})
	}
	if err := s.SetCursors(ctx, batch); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if commits != 1 {
		t.Errorf("SetCursors of %d cursors took %d commits, want 1", len(batch), commits)
	}
	mu.Unlock()
	want := map[string]uint64{"a": 5, "b": 9, "c": 7, "many-0": 1, "many-99": 100}
	for conv, seq := range want {
		if got, err := s.Cursor(conv); err != nil || !bytes.Equal(got, seqValue(seq)) {
			t.Errorf("Cursor(%s) = %x, %v; want %d", conv, got, err, seq)
		}
	}
	if err := s.SetCursors(ctx, nil); err != nil {
		t.Errorf("SetCursors(nil) = %v", err)
	}

	for name, c := range map[string]store.Cursor{
		"empty conversation": {Conv: "", Value: seqValue(1)},
		"long conversation":  {Conv: strings.Repeat("c", 301), Value: seqValue(1)},
		"empty value":        {Conv: "a", Value: nil},
		"long value":         {Conv: "a", Value: bytes.Repeat([]byte{0xff}, 257)},
	} {
		err := s.SetCursors(ctx, []store.Cursor{{Conv: "d", Value: seqValue(1)}, c})
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: SetCursors = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.Cursor("d"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a batch with an invalid cursor wrote the valid one: %v", err)
	}
	// The limits themselves are accepted.
	long := store.Cursor{Conv: strings.Repeat("c", 300), Value: bytes.Repeat([]byte{0xfe}, 256)}
	if err := s.SetCursors(ctx, []store.Cursor{long}); err != nil {
		t.Fatalf("SetCursors at the limits: %v", err)
	}
	if got, err := s.Cursor(long.Conv); err != nil || !bytes.Equal(got, long.Value) {
		t.Errorf("Cursor at the limits = %x, %v", got, err)
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
	if err := s.SetCursors(ctx, []store.Cursor{{Conv: "g:big", Value: seqValue(7)}}); err != nil {
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
	if v, err := s.Cursor("g:big"); err != nil || !bytes.Equal(v, seqValue(7)) {
		t.Errorf("Cursor after prune = %x, %v", v, err)
	}
	if v, err := s.Get("k"); err != nil || string(v) != "v" {
		t.Errorf("Get after prune = %q, %v", v, err)
	}
}
