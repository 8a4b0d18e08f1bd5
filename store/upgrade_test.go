package store_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// v2Fixture is testdata/v2.json, what testdata/v2.db.gz holds; see
// testdata/README.md.
type v2Fixture struct {
	Messages []struct {
		ID         int32  `json:"id"`
		ChatType   int32  `json:"chat_type"`
		ChatID     string `json:"chat_id"`
		MsgID      string `json:"msg_id"`
		Seq        int64  `json:"seq"`
		SenderID   string `json:"sender_id"`
		SenderName string `json:"sender_name"`
		TimeNanos  int64  `json:"time_unix_nano"`
		Self       bool   `json:"self"`
		Recalled   bool   `json:"recalled"`
		Unsent     bool   `json:"unsent"`
		Body       []byte `json:"body"`
	} `json:"messages"`
	Deleted []int32          `json:"deleted"`
	Aliases map[string]int64 `json:"aliases"`
	Cursors []struct {
		ChatType int32  `json:"chat_type"`
		ChatID   string `json:"chat_id"`
		Seq      int64  `json:"seq"`
	} `json:"cursors"`
	KV       map[string]string `json:"kv"`
	LastID   int32             `json:"last_msg_id"`
	MergedTo int32             `json:"merged_to"`
}

// convFromV2 keys group chats by "g" and both private and bot chats by
// "p", so that a user's private chat and a bot chat with the same id share
// a conversation, as a collision test needs.
func convFromV2(chatType int32, chatID string) string {
	if chatType == 2 {
		return "g" + chatID
	}
	return "p" + chatID
}

// v2Copy writes the version 2 fixture, unzipped, to a new directory and
// returns its path and its description.
func v2Copy(t *testing.T) (string, v2Fixture) {
	t.Helper()
	var fx v2Fixture
	raw, err := os.ReadFile(filepath.Join("testdata", "v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("testdata", "v2.db.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	db, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "store.db")
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, fx
}

// schemaOf reads the schema version straight from a closed store file.
func schemaOf(t *testing.T, path string) byte {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v []byte
	err = db.View(func(tx *bbolt.Tx) error {
		v = bytes.Clone(tx.Bucket([]byte("meta")).Get([]byte("schema")))
		return nil
	})
	if err != nil || len(v) != 1 {
		t.Fatalf("schema = %x, %v", v, err)
	}
	return v[0]
}

// TestUpgradeV2 opens a file written by the schema version 2 code and
// checks that everything in it is found under the new keys.
func TestUpgradeV2(t *testing.T) {
	path, fx := v2Copy(t)
	if schemaOf(t, path) != 2 {
		t.Fatal("fixture is not schema version 2")
	}
	// The fixture must cover what the upgrade has to handle.
	if fx.MergedTo <= 0 || fx.MergedTo >= fx.LastID {
		t.Fatalf("fixture has keys merged up to %d of %d; want some merged and some pending", fx.MergedTo, fx.LastID)
	}
	var unreported, reported, self, recalled, unsent int
	for _, m := range fx.Messages {
		if m.Seq == 0 {
			unreported++
		} else {
			reported++
		}
		self += btoi(m.Self)
		recalled += btoi(m.Recalled)
		unsent += btoi(m.Unsent)
	}
	if len(fx.Messages) < 2000 || unreported == 0 || reported == 0 || self == 0 || recalled == 0 || unsent == 0 ||
		len(fx.Aliases) == 0 || len(fx.Cursors) == 0 || len(fx.Deleted) == 0 {
		t.Fatalf("fixture lacks a kind of record: %d messages, %d unreported, %d self, %d recalled, %d unsent, %d aliases, %d cursors",
			len(fx.Messages), unreported, self, recalled, unsent, len(fx.Aliases), len(fx.Cursors))
	}

	want := expectUpgraded(t, fx)
	cursors := want.cursors

	core, logs := observer.New(zapcore.InfoLevel)
	s := openAt(t, store.Options{Path: path, ConvFromV2: convFromV2, Log: zap.New(core)})
	if n := s.PendingKeys(); n != 0 {
		t.Errorf("PendingKeys = %d after the upgrade, want 0 (all merged)", n)
	}
	want.verify(t, s)
	lines := logs.FilterMessage("upgraded store schema").All()
	if len(lines) != 1 {
		t.Fatalf("%d upgrade log lines, want 1: %v", len(lines), logs.All())
	}
	fields := lines[0].ContextMap()
	for name, n := range map[string]int64{
		"from": 2, "to": 3, "messages": int64(len(want.winner)), "duplicates_dropped": 1,
		"cursors_before": int64(len(fx.Cursors)), "cursors_after": int64(len(cursors)),
	} {
		if got, ok := fields[name].(int64); !ok || got != n {
			t.Errorf("log field %s = %v, want %d", name, fields[name], n)
		}
	}

	// The upgraded store works as any other: new ids above the old ones,
	// cursors forward from the old positions, bound pending records.
	ctx := context.Background()
	id := mustPut(t, s, store.Message{Conv: "g8009001", MsgID: "after-upgrade", Seq: 9999, Reported: true})
	if id <= fx.LastID {
		t.Errorf("new id %d, not above the last old id %d", id, fx.LastID)
	}
	if found, err := s.MessageID("g8009001", "after-upgrade"); err != nil || found != id {
		t.Errorf("MessageID(new) = %d, %v", found, err)
	}
	p555 := cursors["p555"]
	if err := s.SetCursors(ctx, []store.Cursor{
		{Conv: "p555", Value: seqValue(uint64(p555 - 1))},
		{Conv: "p7001234", Value: seqValue(uint64(cursors["p7001234"] + 1))},
	}); err != nil {
		t.Fatal(err)
	}
	cursors["p7001234"]++
	if got, _ := s.Cursor("p555"); !bytes.Equal(got, seqValue(uint64(p555))) {
		t.Errorf("upgraded cursor moved back to %x", got)
	}
	mustCheck(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if v := schemaOf(t, path); v != 3 {
		t.Fatalf("schema after the upgrade = %d, want 3", v)
	}

	// Reopening is a no-op: nothing is converted again, with or without
	// ConvFromV2.
	core, logs = observer.New(zapcore.InfoLevel)
	s = openAt(t, store.Options{Path: path, Log: zap.New(core), ConvFromV2: func(int32, string) string {
		t.Error("ConvFromV2 called on reopening an upgraded file")
		return "x"
	}})
	if n := logs.FilterMessage("upgraded store schema").Len(); n != 0 {
		t.Errorf("reopening logged %d upgrades", n)
	}
	want.verify(t, s)
	if found, err := s.MessageID("g8009001", "after-upgrade"); err != nil || found != id {
		t.Errorf("MessageID(new) after reopen = %d, %v", found, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, store.Options{Path: path})
	want.verify(t, s)
}

// TestUpgradeV2HashCollisions upgrades the fixture with a hash of msg_keys
// that collides all the time, so that the rebuilt index lists many ids
// under each hash, and the duplicate key shares its hash with other keys.
func TestUpgradeV2HashCollisions(t *testing.T) {
	path, fx := v2Copy(t)
	want := expectUpgraded(t, fx)
	collide := func(k []byte) uint64 {
		var sum uint64
		for _, b := range k {
			sum += uint64(b)
		}
		return sum % 64
	}
	if err := store.UpgradeFile(path, store.Options{ConvFromV2: convFromV2}, collide); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, store.Options{Path: path})
	if err := s.SetHashKey(context.Background(), collide); err != nil {
		t.Fatal(err)
	}
	want.verify(t, s)
	m := fx.Messages[len(fx.Messages)/2]
	conv := convFromV2(m.ChatType, m.ChatID)
	if id := mustPut(t, s, store.Message{Conv: conv, MsgID: m.MsgID, Body: []byte("again")}); id != m.ID {
		t.Errorf("re-put of message %d got id %d", m.ID, id)
	}
	if id := mustPut(t, s, store.Message{Conv: conv, MsgID: "new"}); id <= fx.LastID {
		t.Errorf("new message got id %d, not above %d", id, fx.LastID)
	}
	mustCheck(t, s)
}

// TestUpgradeV2NeedsConvFromV2 checks that a version 2 file with messages is
// refused without Options.ConvFromV2, and left as it was.
func TestUpgradeV2NeedsConvFromV2(t *testing.T) {
	path, fx := v2Copy(t)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(store.Options{Path: path})
	if err == nil {
		s.Close()
		t.Fatal("Open of a version 2 file without ConvFromV2 succeeded")
	}
	if !strings.Contains(err.Error(), "Options.ConvFromV2") || !strings.Contains(err.Error(), "schema version 2") {
		t.Errorf("Open error %q does not name the schema version and the option", err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the refused Open changed the file")
	}
	if v := schemaOf(t, path); v != 2 {
		t.Errorf("schema after a refused upgrade = %d", v)
	}

	// A ConvFromV2 that returns an invalid key fails the upgrade, which
	// leaves the file at version 2 too.
	s, err = store.Open(store.Options{Path: path, ConvFromV2: func(chatType int32, chatID string) string {
		if chatID == "big" {
			return ""
		}
		return convFromV2(chatType, chatID)
	}})
	if err == nil {
		s.Close()
		t.Fatal("Open with a ConvFromV2 returning an empty key succeeded")
	}
	if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), `ConvFromV2(2, "big")`) {
		t.Errorf("Open error %q does not name the bad conversion", err)
	}
	if v := schemaOf(t, path); v != 2 {
		t.Errorf("schema after a failed upgrade = %d", v)
	}
	s = openAt(t, store.Options{Path: path, ConvFromV2: convFromV2})
	if id, err := s.MessageID(convFromV2(fx.Messages[0].ChatType, fx.Messages[0].ChatID), fx.Messages[0].MsgID); err != nil || id != fx.Messages[0].ID {
		t.Errorf("after a failed then a good upgrade: MessageID = %d, %v", id, err)
	}
}

// TestUpgradeEmptyV2 checks that a version 2 file without messages or
// cursors upgrades without ConvFromV2 and keeps its other state.
func TestUpgradeEmptyV2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The layout of an empty version 2 file holding an alias and a
	// key/value entry.
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range []string{"meta", "msgs", "msg_keys", "aliases", "alias_ids", "cursors", "kv"} {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		alias := []byte{0, 0x10, 0, 0, 0, 0, 0, 1} // AliasBase+1
		return errors.Join(
			tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte{2}),
			tx.Bucket([]byte("meta")).Put([]byte("last_alias"), []byte{0, 0, 0, 0, 0, 0, 0, 1}),
			tx.Bucket([]byte("aliases")).Put([]byte("big"), alias),
			tx.Bucket([]byte("alias_ids")).Put(alias, []byte("big")),
			tx.Bucket([]byte("kv")).Put([]byte("device-id"), []byte("d")),
		)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, store.Options{Path: path})
	if got, err := s.FromInt(store.AliasBase + 1); err != nil || got != "big" {
		t.Errorf("alias after the upgrade = %q, %v", got, err)
	}
	if n, err := s.ToInt(context.Background(), "other"); err != nil || n != store.AliasBase+2 {
		t.Errorf("next alias = %d, %v; want AliasBase+2", n, err)
	}
	if v, err := s.Get("device-id"); err != nil || string(v) != "d" {
		t.Errorf("Get after the upgrade = %q, %v", v, err)
	}
	if id := mustPut(t, s, testMessage(1)); id != 1 {
		t.Errorf("first id = %d", id)
	}
	mustCheck(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if v := schemaOf(t, path); v != 3 {
		t.Errorf("schema = %d, want 3", v)
	}
}

// upgraded is what the upgrade should make of the fixture.
type upgraded struct {
	fx      v2Fixture
	winner  map[msgKey]int32 // the id each new key should map to
	cursors map[string]int64 // the seq each new cursor should hold
}

type msgKey struct{ conv, msgID string }

// expectUpgraded works out what the upgrade should make of fx with
// convFromV2. Of messages that end up with the same key, the one put later
// wins, as a later put would have.
func expectUpgraded(t *testing.T, fx v2Fixture) *upgraded {
	t.Helper()
	u := &upgraded{fx: fx, winner: map[msgKey]int32{}, cursors: map[string]int64{}}
	for _, m := range fx.Messages {
		k := msgKey{convFromV2(m.ChatType, m.ChatID), m.MsgID}
		u.winner[k] = max(u.winner[k], m.ID)
	}
	for _, c := range fx.Cursors {
		conv := convFromV2(c.ChatType, c.ChatID)
		u.cursors[conv] = max(u.cursors[conv], c.Seq)
	}
	if len(u.winner) != len(fx.Messages)-1 || len(u.cursors) >= len(fx.Cursors) {
		t.Fatalf("fixture has %d messages for %d new keys and %d cursors for %d; want one message and some cursors colliding",
			len(fx.Messages), len(u.winner), len(fx.Cursors), len(u.cursors))
	}
	return u
}

// verify checks that s holds everything the fixture did, under the new
// keys.
func (u *upgraded) verify(t *testing.T, s *store.Store) {
	t.Helper()
	fx, winner, cursors := u.fx, u.winner, u.cursors
	ctx := context.Background()
	for _, want := range fx.Messages {
		conv := convFromV2(want.ChatType, want.ChatID)
		if w := winner[msgKey{conv, want.MsgID}]; w != want.ID {
			if _, err := s.Message(want.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("message %d, a duplicate of %d, = %v; want ErrNotFound", want.ID, w, err)
			}
			continue
		}
		if id, err := s.MessageID(conv, want.MsgID); err != nil || id != want.ID {
			t.Errorf("MessageID(%q, %q) = %d, %v; want %d", conv, want.MsgID, id, err, want.ID)
		}
		got, err := s.Message(want.ID)
		if err != nil {
			t.Errorf("Message(%d): %v", want.ID, err)
			continue
		}
		if got.Conv != conv || got.MsgID != want.MsgID || got.Seq != want.Seq ||
			got.SenderID != want.SenderID || got.SenderName != want.SenderName ||
			!got.Time.Equal(time.Unix(0, want.TimeNanos)) ||
			got.Self != want.Self || got.Recalled != want.Recalled || got.Unsent != want.Unsent ||
			got.Reported != (want.Seq != 0) || got.Pending || !bytes.Equal(got.Body, want.Body) {
			t.Errorf("Message(%d) = %+v\nwant %+v", want.ID, got, want)
		}
	}
	for _, id := range fx.Deleted {
		if _, err := s.Message(id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted message %d: %v", id, err)
		}
	}
	for pid, n := range fx.Aliases {
		if got, err := s.FromInt(n); err != nil || got != pid {
			t.Errorf("FromInt(%d) = %q, %v; want %q", n, got, err, pid)
		}
		if got, err := s.ToInt(ctx, pid); err != nil || got != n {
			t.Errorf("ToInt(%q) = %d, %v; want %d", pid, got, err, n)
		}
	}
	for conv, seq := range cursors {
		if got, err := s.Cursor(conv); err != nil || !bytes.Equal(got, seqValue(uint64(seq))) {
			t.Errorf("Cursor(%q) = %x, %v; want %d", conv, got, err, seq)
		}
	}
	for k, v := range fx.KV {
		if got, err := s.Get(k); err != nil || string(got) != v {
			t.Errorf("Get(%q) = %q, %v; want %q", k, got, err, v)
		}
	}
	mustCheck(t, s)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
