package sim

import "testing"

func TestLimiterKeysAreBounded(t *testing.T) {
	l := newLimiter(1)
	for i := 0; i < maxLimiterKey; i++ {
		if !l.grant(string(rune('a'+i%26))+string(rune(i)), 0) {
			t.Fatalf("key %d refused", i)
		}
	}
	// The table is full of fresh buckets: a new key is refused rather than
	// growing it.
	if l.grant("new", 0) {
		t.Fatal("a new key was granted with the table full")
	}
	// Once the buckets have leaked (10 s for 1 per 10 s), stale keys make room.
	if !l.grant("new", 10_000) {
		t.Fatal("a new key was refused after the buckets leaked")
	}
	if len(l.last) > maxLimiterKey {
		t.Fatalf("%d keys", len(l.last))
	}
}
