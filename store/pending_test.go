package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// ownMessage is an own message about to be sent, without its msg id.
func ownMessage(body string) store.Message {
	return store.Message{
		Conv:       "g:group-1",
		SenderID:   "10001",
		SenderName: "me",
		Time:       time.Unix(1700000500, 0),
		Self:       true,
		Body:       []byte(body),
	}
}

func mustPending(t testing.TB, s *store.Store, m store.Message) int32 {
	t.Helper()
	id, err := s.PutPending(context.Background(), m)
	if err != nil {
		t.Fatalf("PutPending: %v", err)
	}
	return id
}

// TestPendingBind is the ordinary send: put pending, then bind.
func TestPendingBind(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		ctx := context.Background()
		s := im.temp(t)
		before := mustPut(t, s, testMessage(1))
		in := ownMessage("hi")
		in.Pending = false // read-only; PutPending sets it
		id := mustPending(t, s, in)
		if id != before+1 {
			t.Errorf("pending id = %d, want %d", id, before+1)
		}
		m, err := s.Message(id)
		if err != nil {
			t.Fatal(err)
		}
		if !m.Pending || m.MsgID != "" || m.Conv != in.Conv || !m.Self || string(m.Body) != "hi" {
			t.Errorf("pending record = %+v", m)
		}
		if _, err := s.MessageID(in.Conv, ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MessageID(conv, \"\") found a pending record: %v", err)
		}
		mustCheck(t, s)

		got, err := s.BindPending(ctx, id, "srv-1", 77)
		if err != nil || got != id {
			t.Fatalf("BindPending = %d, %v; want %d", got, err, id)
		}
		m, err = s.Message(id)
		if err != nil || m.Pending || m.MsgID != "srv-1" || m.Seq != 77 || !m.Self || string(m.Body) != "hi" ||
			!m.Time.Equal(in.Time) || m.Reported {
			t.Errorf("bound record = %+v, %v", m, err)
		}
		if found, err := s.MessageID(in.Conv, "srv-1"); err != nil || found != id {
			t.Errorf("MessageID of the bound message = %d, %v; want %d", found, err, id)
		}
		mustCheck(t, s)

		// The echo arriving after the bind is the same message, and marks
		// it reported.
		echo := ownMessage("hi")
		echo.MsgID, echo.Seq, echo.Reported = "srv-1", 77, true
		if again := mustPut(t, s, echo); again != id {
			t.Errorf("echo after bind got id %d, want %d", again, id)
		}
		if m, _ := s.Message(id); !m.Reported {
			t.Errorf("echo did not mark the message reported: %+v", m)
		}

		// Bound already, an ordinary message, and ids never stored: not
		// pending.
		for _, bad := range []int32{id, before, id + 1, 0, -1} {
			if _, err := s.BindPending(ctx, bad, "srv-2", 1); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("BindPending(%d) = %v, want ErrNotFound", bad, err)
			}
		}
		if _, err := s.MessageID(in.Conv, "srv-2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a refused bind mapped its msg id: %v", err)
		}
		if m, _ := s.Message(before); m.MsgID != testMessage(1).MsgID {
			t.Errorf("a refused bind changed message %d: %+v", before, m)
		}
		mustCheck(t, s)
	})
}

// TestPendingBindEchoFirst: the platform reported the sent message before
// the send returned, so it is stored under its own id; binding gives that
// id back and drops the pending record.
func TestPendingBindEchoFirst(t *testing.T) {
	forIndexModes(t, func(t *testing.T, im indexMode) {
		ctx := context.Background()
		s := im.temp(t)
		pid := mustPending(t, s, ownMessage("hi"))
		echo := ownMessage("hi (as the platform renders it)")
		echo.MsgID, echo.Seq, echo.Reported = "srv-1", 5, true
		eid := mustPut(t, s, echo)
		if eid == pid {
			t.Fatalf("echo got the pending id %d", pid)
		}
		got, err := s.BindPending(ctx, pid, "srv-1", 5)
		if err != nil || got != eid {
			t.Fatalf("BindPending = %d, %v; want the echo's id %d", got, err, eid)
		}
		if _, err := s.Message(pid); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("pending record after binding to the echo: %v", err)
		}
		m, err := s.Message(eid)
		if err != nil || string(m.Body) != string(echo.Body) || !m.Reported || m.Pending {
			t.Errorf("echo record = %+v, %v", m, err)
		}
		if found, err := s.MessageID(echo.Conv, "srv-1"); err != nil || found != eid {
			t.Errorf("MessageID = %d, %v; want %d", found, err, eid)
		}
		if _, err := s.BindPending(ctx, pid, "srv-1", 5); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second BindPending = %v, want ErrNotFound", err)
		}
		// The same msg id in another conversation is another message.
		other := mustPending(t, s, store.Message{Conv: "p:7", Self: true})
		if got, err := s.BindPending(ctx, other, "srv-1", 1); err != nil || got != other {
			t.Errorf("BindPending in another conversation = %d, %v; want %d", got, err, other)
		}
		mustCheck(t, s)
	})
}

// TestPendingInvalid checks PutPending's and BindPending's arguments.
func TestPendingInvalid(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	withID := ownMessage("x")
	withID.MsgID = "m"
	for name, m := range map[string]store.Message{
		"msg id set":         withID,
		"empty conversation": {Self: true},
	} {
		if _, err := s.PutPending(ctx, m); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("PutPending with %s = %v, want ErrInvalid", name, err)
		}
	}
	id := mustPending(t, s, ownMessage("x"))
	for name, msgID := range map[string]string{"empty": "", "long": string(make([]byte, 257))} {
		if _, err := s.BindPending(ctx, id, msgID, 1); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("BindPending with %s msg id = %v, want ErrInvalid", name, err)
		}
	}
	if m, err := s.Message(id); err != nil || !m.Pending {
		t.Errorf("after refused binds: %+v, %v", m, err)
	}
	// A put cannot make a pending record, nor an update change one.
	m := testMessage(1)
	m.Pending = true
	if r, _ := s.Message(mustPut(t, s, m)); r.Pending {
		t.Errorf("PutMessage stored Pending: %+v", r)
	}
	err := s.UpdateMessage(ctx, id, func(m *store.Message) error {
		m.Unsent, m.Pending = true, false
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.Message(id); err != nil || !r.Pending || !r.Unsent {
		t.Errorf("after UpdateMessage: %+v, %v", r, err)
	}
	err = s.UpdateMessage(ctx, id, func(m *store.Message) error {
		m.MsgID = "sneaky"
		return nil
	})
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("UpdateMessage setting the msg id of a pending record = %v, want ErrInvalid", err)
	}
	mustCheck(t, s)
}

// TestPendingDeleteAndPrune: a pending record whose send failed is deleted,
// one never answered is pruned, like any other message.
func TestPendingDeleteAndPrune(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, store.Options{Path: filepath.Join(t.TempDir(), "store.db"), MaxMessages: 2})
	failed := mustPending(t, s, ownMessage("failed"))
	if err := s.DeleteMessage(ctx, failed); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Message(failed); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Message(deleted pending) = %v", err)
	}
	if _, err := s.BindPending(ctx, failed, "late", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("BindPending(deleted) = %v, want ErrNotFound", err)
	}
	mustCheck(t, s)

	lost := mustPending(t, s, ownMessage("lost"))
	ids := []int32{mustPut(t, s, testMessage(1)), mustPut(t, s, testMessage(2))}
	if n, err := s.Prune(ctx, time.Now()); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1", n, err)
	}
	if _, err := s.Message(lost); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Message(pruned pending) = %v", err)
	}
	if _, err := s.BindPending(ctx, lost, "late", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("BindPending(pruned) = %v, want ErrNotFound", err)
	}
	for _, id := range ids {
		if _, err := s.Message(id); err != nil {
			t.Errorf("message %d: %v", id, err)
		}
	}
	mustCheck(t, s)
}

// TestPendingBindAfterMerge binds a record that the key merge has passed
// while it waited, and checks that the binding survives a reopen.
func TestPendingBindAfterMerge(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	never := indexModes[0]
	s := never.open(t, store.Options{Path: path})
	pid := mustPending(t, s, ownMessage("slow send"))
	for i := 1; i <= 10; i++ {
		mustPut(t, s, testMessage(i))
	}
	if err := s.MergeIndex(ctx); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, s)
	if got, err := s.BindPending(ctx, pid, "srv-slow", 3); err != nil || got != pid {
		t.Fatalf("BindPending = %d, %v", got, err)
	}
	mustCheck(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = never.open(t, store.Options{Path: path})
	if got, err := s.MessageID("g:group-1", "srv-slow"); err != nil || got != pid {
		t.Errorf("MessageID after reopen = %d, %v; want %d", got, err, pid)
	}
	mustCheck(t, s)
	// The bound message is an ordinary one now: deleting unmaps it.
	if err := s.DeleteMessage(ctx, pid); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MessageID("g:group-1", "srv-slow"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MessageID after delete = %v", err)
	}
	mustCheck(t, s)
}
