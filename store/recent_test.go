package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// TestRecent: a conversation's messages newest first, paged by the id
// before which to list, other conversations and pending records left out,
// the scan bounded.
func TestRecent(t *testing.T) {
	st, err := store.Open(store.Options{Path: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	var mine []int32
	for i := range 30 {
		conv := "2a"
		if i%3 == 0 {
			conv = "2b"
		}
		id, err := st.PutMessage(ctx, store.Message{Conv: conv, MsgID: fmt.Sprint("m", i), Body: []byte(`[]`)})
		if err != nil {
			t.Fatal(err)
		}
		if conv == "2a" {
			mine = append(mine, id)
		}
	}
	if _, err := st.PutPending(ctx, store.Message{Conv: "2a", Body: []byte(`[]`)}); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(mine) // newest first
	ids, msgs, err := st.Recent("2a", 0, 5, 1000)
	if err != nil || !slices.Equal(ids, mine[:5]) || len(msgs) != 5 || msgs[0].MsgID != "m29" {
		t.Fatalf("Recent = %v (%d), %v; want %v", ids, len(msgs), err, mine[:5])
	}
	ids, _, _ = st.Recent("2a", mine[4], 5, 1000)
	if !slices.Equal(ids, mine[5:10]) {
		t.Errorf("the page before %d = %v, want %v", mine[4], ids, mine[5:10])
	}
	ids, _, _ = st.Recent("2a", 0, 100, 1000)
	if !slices.Equal(ids, mine) {
		t.Errorf("all = %v, want %v", ids, mine)
	}
	// The bound: scanning 4 records finds the 2a messages among them.
	ids, _, _ = st.Recent("2a", 0, 100, 4)
	if len(ids) > 4 || len(ids) == 0 {
		t.Errorf("bounded scan found %v", ids)
	}
	if ids, _, _ := st.Recent("2c", 0, 10, 1000); len(ids) != 0 {
		t.Errorf("unknown conversation: %v", ids)
	}
}
