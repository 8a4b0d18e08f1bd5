package store_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/store"
)

func TestPutMessageSequence(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		s := im.temp(t)
		for want := int32(1); want <= 3; want++ {
			if id := mustPut(t, s, testMessage(int(want))); id != want {
				t.Errorf("id = %d, want %d", id, want)
			}
		}
		mustCheck(t, s)
	})
}

func TestMessageLookup(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		s := im.temp(t)
		in := testMessage(7)
		in.Self = true
		in.Time = time.Unix(1700000123, 456789)
		in.Body = []byte{0, 1, 2, 255}
		id := mustPut(t, s, in)

		got, err := s.MessageID(in.Conv, in.MsgID)
		if err != nil || got != id {
			t.Errorf("MessageID = %d, %v; want %d", got, err, id)
		}
		m, err := s.Message(id)
		if err != nil {
			t.Fatal(err)
		}
		if !m.Time.Equal(in.Time) {
			t.Errorf("Time = %v, want %v", m.Time, in.Time)
		}
		m.Time = in.Time
		if fmt.Sprintf("%+v", m) != fmt.Sprintf("%+v", in) {
			t.Errorf("Message = %+v\nwant      %+v", m, in)
		}

		for _, tc := range []struct {
			name        string
			conv, msgID string
		}{
			{"other conversation", "p:group-1", in.MsgID},
			{"conversation prefix", "g:group-", in.MsgID},
			{"other msg", in.Conv, "nope"},
			{"empty", "", ""},
		} {
			if _, err := s.MessageID(tc.conv, tc.msgID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("MessageID(%s) error = %v, want ErrNotFound", tc.name, err)
			}
		}
		for _, id := range []int32{-1, 0, id + 1} {
			if _, err := s.Message(id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Message(%d) error = %v, want ErrNotFound", id, err)
			}
		}
	})
}

func TestZeroTimeIsReplaced(t *testing.T) {
	s, _ := openTemp(t)
	m := testMessage(1)
	m.Time = time.Time{}
	before := time.Now()
	got, err := s.Message(mustPut(t, s, m))
	if err != nil {
		t.Fatal(err)
	}
	if got.Time.Before(before.Truncate(time.Second)) || got.Time.After(time.Now()) {
		t.Errorf("Time = %v, want about %v", got.Time, before)
	}
}

func TestPutMessageIdempotent(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		s := im.temp(t)
		m := testMessage(1)
		id := mustPut(t, s, m)
		mustPut(t, s, testMessage(2))

		m.SenderName = "alice (renamed)"
		m.Time = m.Time.Add(time.Hour)
		if again := mustPut(t, s, m); again != id {
			t.Fatalf("second put id = %d, want %d", again, id)
		}
		got, err := s.Message(id)
		if err != nil {
			t.Fatal(err)
		}
		if got.SenderName != m.SenderName || !got.Time.Equal(m.Time) {
			t.Errorf("record not updated: %+v", got)
		}

		// A recall is permanent on the platform; a later re-put of the original
		// content must not undo it.
		m.Recalled = true
		mustPut(t, s, m)
		m.Recalled = false
		m.Body = []byte("refetched")
		mustPut(t, s, m)
		if got, _ := s.Message(id); !got.Recalled || string(got.Body) != "refetched" {
			t.Errorf("after re-put of a recalled message: %+v", got)
		}
		if next := mustPut(t, s, testMessage(3)); next != 3 {
			t.Errorf("next id = %d, want 3", next)
		}
		mustCheck(t, s)
	})
}

func TestChatKeysAreSeparate(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		s := im.temp(t)
		// The same numeric id as a user and as a group, and ids that would run
		// together if chat id and msg id were simply concatenated.
		msgs := []store.Message{
			{Conv: "p:123", MsgID: "m"},
			{Conv: "g:123", MsgID: "m"},
			{Conv: "g:12", MsgID: "3m"},
			{Conv: "g:123m", MsgID: "m"},
			{Conv: "g:1", MsgID: "23m"},
		}
		seen := map[int32]bool{}
		for _, m := range msgs {
			id := mustPut(t, s, m)
			if seen[id] {
				t.Errorf("%+v got id %d twice", m, id)
			}
			seen[id] = true
			if got, err := s.MessageID(m.Conv, m.MsgID); err != nil || got != id {
				t.Errorf("MessageID(%+v) = %d, %v; want %d", m, got, err, id)
			}
		}
	})
}

func TestPutMessageInvalid(t *testing.T) {
	s, _ := openTemp(t)
	long := strings.Repeat("x", 257)
	for name, m := range map[string]store.Message{
		"empty conversation": {MsgID: "m"},
		"empty msg id":       {Conv: "c"},
		"long conversation":  {Conv: strings.Repeat("c", 301), MsgID: "m"},
		"long msg id":        {Conv: "c", MsgID: long},
		"long sender":        {Conv: "c", MsgID: "m", SenderID: long},
		"long sender name":   {Conv: "c", MsgID: "m", SenderName: strings.Repeat("x", 1025)},
		"big body":           {Conv: "c", MsgID: "m", Body: make([]byte, 1<<20+1)},
	} {
		if _, err := s.PutMessage(context.Background(), m); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: error = %v, want ErrInvalid", name, err)
		}
	}
	if id := mustPut(t, s, testMessage(1)); id != 1 {
		t.Errorf("id after invalid puts = %d, want 1", id)
	}
}

func TestPutMessages(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		s := im.temp(t)
		ctx := context.Background()
		msgs := []store.Message{testMessage(1), testMessage(2), testMessage(1), testMessage(3)}
		ids, err := s.PutMessages(ctx, msgs)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int32{1, 2, 1, 3}; !slices.Equal(ids, want) {
			t.Errorf("ids = %v, want %v", ids, want)
		}

		// One invalid message fails the call before anything is written.
		bad := []store.Message{testMessage(4), {Conv: "c"}}
		if _, err := s.PutMessages(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("PutMessages with an invalid message = %v", err)
		}
		if _, err := s.MessageID("g:group-1", testMessage(4).MsgID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("message of a failed batch was written: %v", err)
		}

		// More than one commit's worth.
		many := make([]store.Message, 5000)
		for i := range many {
			many[i] = testMessage(100 + i)
		}
		ids, err = s.PutMessages(ctx, many)
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			if id != int32(4+i) {
				t.Fatalf("ids[%d] = %d, want %d", i, id, 4+i)
			}
		}
		mustCheck(t, s)
	})
}

// TestConcurrentPuts checks that ids from many concurrent callers are unique
// and leave no gaps.
func TestConcurrentPuts(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		s := im.temp(t)
		const (
			workers = 32
			each    = 100
		)
		ids := make([][]int32, workers)
		var wg sync.WaitGroup
		for g := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					m := testMessage(g*each + i)
					if g%4 == 0 {
						// Some callers batch, and some repeat themselves.
						got, err := s.PutMessages(context.Background(), []store.Message{m, m})
						if err != nil || got[0] != got[1] {
							t.Errorf("PutMessages = %v, %v", got, err)
							return
						}
						ids[g] = append(ids[g], got[0])
						continue
					}
					id, err := s.PutMessage(context.Background(), m)
					if err != nil {
						t.Errorf("PutMessage: %v", err)
						return
					}
					ids[g] = append(ids[g], id)
				}
			}()
		}
		wg.Wait()

		all := slices.Concat(ids...)
		slices.Sort(all)
		if len(all) != workers*each {
			t.Fatalf("got %d ids, want %d", len(all), workers*each)
		}
		for i, id := range all {
			if id != int32(i+1) {
				t.Fatalf("sorted ids[%d] = %d: ids are not 1..%d without repeats", i, id, workers*each)
			}
		}
		for g := range workers {
			for i, id := range ids[g] {
				m := testMessage(g*each + i)
				if got, err := s.MessageID(m.Conv, m.MsgID); err != nil || got != id {
					t.Fatalf("MessageID(%s) = %d, %v; want %d", m.MsgID, got, err, id)
				}
			}
		}
		mustCheck(t, s)
	})
}

func TestWrapAround(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		ctx := context.Background()
		s := im.open(t, store.Options{Path: t.TempDir() + "/store.db", MaxMessages: 2})
		for i := 1; i <= 3; i++ {
			mustPut(t, s, testMessage(i))
		}
		// Frees id 1; 2 and 3 stay.
		if n, err := s.Prune(ctx, time.Now()); err != nil || n != 1 {
			t.Fatalf("Prune = %d, %v; want 1", n, err)
		}

		if err := s.SetLastMessageID(ctx, math.MaxInt32-1); err != nil {
			t.Fatal(err)
		}
		// After the top, 1 is free again, 2 and 3 are skipped.
		next := 100
		put := func(want int32) {
			t.Helper()
			if id := mustPut(t, s, testMessage(next)); id != want {
				t.Errorf("message %d: id = %d, want %d", next, id, want)
			}
			mustFind(t, s, next, want)
			next++
		}
		put(math.MaxInt32)
		put(1)
		put(4)
		put(5)
		// Everything from 1 to 5 is taken now.
		if err := s.SetLastMessageID(ctx, math.MaxInt32); err != nil {
			t.Fatal(err)
		}
		put(6)
		for id, n := range map[int32]int{2: 2, 3: 3, math.MaxInt32: 100, 1: 101} {
			mustFind(t, s, n, id)
		}
		mustCheck(t, s)
	})
}

func TestUpdateMessage(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, store.Options{Path: t.TempDir() + "/store.db", Retention: time.Hour})
	stored := time.Unix(1700000000, 0)
	s.SetClock(func() time.Time { return stored })
	m := testMessage(1)
	id := mustPut(t, s, m)
	s.SetClock(func() time.Time { return stored.Add(10 * time.Hour) })

	err := s.UpdateMessage(ctx, id, func(m *store.Message) error {
		m.Recalled = true
		m.Body = []byte("edited")
		m.Time = time.Unix(1800000000, 0)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Message(id)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Recalled || string(got.Body) != "edited" || got.Time.Unix() != 1800000000 {
		t.Errorf("after update: %+v", got)
	}
	mustCheck(t, s)

	errBoom := errors.New("boom")
	if err := s.UpdateMessage(ctx, id, func(*store.Message) error { return errBoom }); !errors.Is(err, errBoom) {
		t.Errorf("UpdateMessage with failing fn = %v", err)
	}
	if err := s.UpdateMessage(ctx, id, func(m *store.Message) error {
		m.MsgID = "other"
		return nil
	}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("UpdateMessage changing msg id = %v", err)
	}
	if err := s.UpdateMessage(ctx, id+1, func(*store.Message) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateMessage of a missing message = %v", err)
	}

	// Retention counts from the first put, which neither the update nor a
	// repeated put moves.
	mustPut(t, s, m)
	if n, err := s.Prune(ctx, stored.Add(2*time.Hour)); err != nil || n != 1 {
		t.Errorf("Prune = %d, %v; want 1", n, err)
	}
}

// TestUpdateMessageConcurrent checks that concurrent read-modify-write
// updates of one message do not lose each other's changes.
func TestUpdateMessageConcurrent(t *testing.T) {
	s, _ := openTemp(t)
	m := testMessage(1)
	m.Body = []byte("0")
	id := mustPut(t, s, m)
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.UpdateMessage(context.Background(), id, func(m *store.Message) error {
				v, err := strconv.Atoi(string(m.Body))
				m.Body = strconv.AppendInt(nil, int64(v+1), 10)
				return err
			})
			if err != nil {
				t.Errorf("UpdateMessage: %v", err)
			}
		}()
	}
	wg.Wait()
	got, err := s.Message(id)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Body) != strconv.Itoa(n) {
		t.Errorf("counter = %s, want %d", got.Body, n)
	}
}

// TestDeleteMessage: a deleted message is gone by id and by key, the
// count (and Check) agree, and putting it again gives a new mapping.
func TestDeleteMessage(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		s := im.temp(t)
		ctx := context.Background()
		keep := mustPut(t, s, testMessage(1))
		gone := mustPut(t, s, testMessage(2))
		if err := s.DeleteMessage(ctx, gone); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Message(gone); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Message(deleted) err = %v", err)
		}
		m := testMessage(2)
		if _, err := s.MessageID(m.Conv, m.MsgID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MessageID(deleted) err = %v", err)
		}
		if _, err := s.Message(keep); err != nil {
			t.Errorf("the other message: %v", err)
		}
		if err := s.DeleteMessage(ctx, gone); err != nil {
			t.Errorf("deleting again: %v", err)
		}
		mustCheck(t, s)
		if id := mustPut(t, s, m); id == gone || id <= keep {
			t.Errorf("put again: id %d (deleted %d)", id, gone)
		}
		mustCheck(t, s)
	})
}

// TestUnsentClearedByPut: Unsent survives an update but not a put of the
// message as reported.
func TestUnsentClearedByPut(t *testing.T) {
	s := indexModes[0].temp(t)
	ctx := context.Background()
	m := testMessage(1)
	m.Seq = 0
	id := mustPut(t, s, m)
	if err := s.UpdateMessage(ctx, id, func(r *store.Message) error { r.Unsent = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Message(id); err != nil || !r.Unsent {
		t.Fatalf("after marking: %+v, %v", r, err)
	}
	m.Seq = 9
	if again := mustPut(t, s, m); again != id {
		t.Fatalf("put of the echo: id %d, want %d", again, id)
	}
	if r, err := s.Message(id); err != nil || r.Unsent || r.Seq != 9 {
		t.Errorf("after the echo: %+v, %v", r, err)
	}
}

// TestReportedKept: like Recalled, Reported survives a later put that does
// not set it, such as a refetch from history, and is independent of Seq.
func TestReportedKept(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		s := im.temp(t)
		ctx := context.Background()
		m := testMessage(1)
		m.Seq = 0
		id := mustPut(t, s, m)
		if r, _ := s.Message(id); r.Reported {
			t.Fatalf("new message reported: %+v", r)
		}
		m.Reported = true // the event, without a seq
		mustPut(t, s, m)
		m.Reported, m.Seq = false, 12 // history, with one
		m.Body = []byte("refetched")
		if again := mustPut(t, s, m); again != id {
			t.Fatalf("re-put id = %d, want %d", again, id)
		}
		r, err := s.Message(id)
		if err != nil || !r.Reported || r.Seq != 12 || string(r.Body) != "refetched" {
			t.Errorf("after a re-put without Reported: %+v, %v", r, err)
		}
		// A seq alone does not make a message reported.
		n := testMessage(2)
		n.Seq = 99
		if r, _ := s.Message(mustPut(t, s, n)); r.Reported {
			t.Errorf("message with a seq but never reported: %+v", r)
		}
		// UpdateMessage writes what fn leaves.
		if err := s.UpdateMessage(ctx, id, func(r *store.Message) error { r.Reported = false; return nil }); err != nil {
			t.Fatal(err)
		}
		if r, _ := s.Message(id); r.Reported {
			t.Errorf("UpdateMessage could not clear Reported: %+v", r)
		}
		mustCheck(t, s)
	})
}

// TestKeyLengthLimits puts messages whose conversation and msg id are at
// their limits, and checks they are found merged and pending, and that one
// byte more is refused.
func TestKeyLengthLimits(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		s := im.temp(t)
		ctx := context.Background()
		m := store.Message{Conv: strings.Repeat("\xff", 300), MsgID: strings.Repeat("m", 256), SenderID: strings.Repeat("s", 256)}
		id := mustPut(t, s, m)
		mustPut(t, s, testMessage(1))
		if got, err := s.MessageID(m.Conv, m.MsgID); err != nil || got != id {
			t.Errorf("MessageID at the limits = %d, %v; want %d", got, err, id)
		}
		if r, err := s.Message(id); err != nil || r.Conv != m.Conv || r.MsgID != m.MsgID {
			t.Errorf("Message at the limits = %+v, %v", r, err)
		}
		pid := mustPending(t, s, store.Message{Conv: m.Conv})
		if got, err := s.BindPending(ctx, pid, strings.Repeat("b", 256), 1); err != nil || got != pid {
			t.Errorf("BindPending at the limits = %d, %v", got, err)
		}
		for name, bad := range map[string]store.Message{
			"conversation": {Conv: m.Conv + "x", MsgID: "m"},
			"msg id":       {Conv: "c", MsgID: m.MsgID + "x"},
		} {
			if _, err := s.PutMessage(ctx, bad); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%s one byte over the limit: %v, want ErrInvalid", name, err)
			}
		}
		mustCheck(t, s)
	})
}
