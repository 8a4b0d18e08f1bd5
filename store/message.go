package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"go.etcd.io/bbolt"
)

// Message is the record kept for each mapped message. Conv and MsgID
// identify it; the other fields are what get_msg and replies need.
//
// Conv is limited to 300 bytes, the other ids to 256, SenderName to 1 KiB
// and Body to 1 MiB.
type Message struct {
	// Conv is the conversation the message belongs to, a key chosen by
	// the caller, such as a platform prefix, a chat type and a chat id.
	// The store never interprets it; it must not be empty.
	Conv       string
	MsgID      string    // the platform's message id; empty only while Pending
	Seq        int64     // position within the conversation; 0 if unknown
	SenderID   string    // platform user id of the sender
	SenderName string    // sender display name at the time of the message
	Time       time.Time // send time; the zero Time is replaced by the time of the write
	Self       bool      // sent by the logged-in account
	Recalled   bool      // withdrawn; once set, PutMessage keeps it set
	// Reported means an event from the platform has reported the
	// message, as opposed to a record made from history or from an own
	// send alone. Once set, PutMessage keeps it set, like Recalled.
	Reported bool
	// Unsent marks an own message whose send failed without a definite
	// answer: it may or may not exist. The bridge hides it from reads;
	// a put of the message as the platform reports it (the echo) clears
	// it.
	Unsent bool
	// Pending is set on records made by PutPending until BindPending
	// gives them their msg id. It is read-only: the store ignores it on
	// writes.
	Pending bool
	Body    []byte // opaque to the store; chosen by the bridge
}

// encoded is a message encoded for writing. Its slices share one
// allocation, and they stay untouched until the transaction ends, as bbolt
// requires of values.
type encoded struct {
	key   []byte // conv + msg_id, what the message map maps; nil if pending
	rec   []byte // record
	idKey []byte // 4 bytes, filled in by the committer
}

// prepare validates m and encodes it, stored at now, as a pending-send
// record if pending is set and as a mapped message otherwise. It runs on the
// caller's goroutine so the committer does as little as possible.
func prepare(m *Message, now time.Time, pending bool) (encoded, error) {
	if err := checkConv(m.Conv); err != nil {
		return encoded{}, err
	}
	switch {
	case pending && m.MsgID != "":
		return encoded{}, fmt.Errorf("%w: a pending message has no msg id yet", ErrInvalid)
	case !pending && m.MsgID == "":
		return encoded{}, fmt.Errorf("%w: empty msg id", ErrInvalid)
	}
	for _, err := range []error{
		checkLen("msg id", m.MsgID, maxIDLen),
		checkLen("sender id", m.SenderID, maxIDLen),
		checkLen("sender name", m.SenderName, maxNameLen),
	} {
		if err != nil {
			return encoded{}, err
		}
	}
	if len(m.Body) > maxBodyLen {
		return encoded{}, fmt.Errorf("%w: body is %d bytes, limit %d", ErrInvalid, len(m.Body), maxBodyLen)
	}
	if m.Time.IsZero() {
		m.Time = now
	}
	m.Pending = pending

	buf := make([]byte, 0, msgKeySize(m.Conv, m.MsgID)+recordSize(m)+4)
	nk := 0
	if !pending {
		buf = appendMsgKey(buf, m.Conv, m.MsgID)
		nk = len(buf)
	}
	buf = appendRecord(buf, m, now)
	nr := len(buf)
	buf = append(buf, 0, 0, 0, 0)
	e := encoded{
		rec:   buf[nk:nr:nr],
		idKey: buf[nr:],
	}
	if !pending {
		e.key = buf[:nk:nk]
	}
	return e, nil
}

func (p *encoded) setID(id uint32) {
	binary.BigEndian.PutUint32(p.idKey, id)
}

// putOp writes a caller's messages. ids receives their message ids.
// aliases are platform ids given an alias in the same transaction.
type putOp struct {
	msgs    []encoded
	ids     []int32
	aliases [][]byte
}

func (o *putOp) weight() int { return len(o.msgs) + len(o.aliases) }

func (o *putOp) apply(w *writeTx) error {
	// Refuse before writing anything (see op) if the new aliases might
	// not fit; w.alias cannot reject then.
	if AliasBase+int64(w.lastAlias)+int64(len(o.aliases)) >= aliasEnd {
		return reject(errors.New("alias range exhausted"))
	}
	for _, k := range o.aliases {
		if _, err := w.alias(k); err != nil {
			return err
		}
	}
	for i := range o.msgs {
		id, err := w.putMessage(&o.msgs[i])
		if err != nil {
			return err
		}
		o.ids[i] = id
	}
	return nil
}

// PutMessage maps m to a message id and stores it, returning only once the
// mapping is durable. Putting a message that is already mapped returns its
// existing id and replaces the record, except that a recalled message stays
// recalled and a reported one reported.
func (s *Store) PutMessage(ctx context.Context, m Message) (int32, error) {
	p, err := prepare(&m, s.now(), false)
	if err != nil {
		return 0, fmt.Errorf("put message: %w", err)
	}
	var ids [1]int32
	o := &putOp{msgs: []encoded{p}, ids: ids[:]}
	if err := s.do(ctx, o); err != nil {
		return 0, fmt.Errorf("put message: %w", err)
	}
	return ids[0], nil
}

// PutMessages is PutMessage for many messages at once; ids[i] belongs to
// msgs[i]. Invalid input fails the call before anything is written. Large
// slices are committed in chunks, so after an error some of the messages may
// be stored; putting them again is safe.
func (s *Store) PutMessages(ctx context.Context, msgs []Message) ([]int32, error) {
	return s.PutMessagesAliased(ctx, msgs, nil)
}

// PutMessagesAliased is PutMessages that also gives every platform id in
// aliasIDs that is not numeric (see ToInt) its alias, in the transaction
// of the first chunk of messages. A batch of messages from new chats and
// senders so costs one commit rather than one per new id, and the aliases
// are durable when it returns, as Alias's are. When the alias range
// cannot hold them, the call fails before anything is written.
func (s *Store) PutMessagesAliased(ctx context.Context, msgs []Message, aliasIDs []string) ([]int32, error) {
	var keys [][]byte
	if len(aliasIDs) > 0 {
		// One read transaction for the common case: every id is known.
		seen := make(map[string]bool)
		err := s.view(func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucketAliases)
			for _, id := range aliasIDs {
				if _, ok := numericID(id); ok || id == "" || seen[id] {
					continue
				}
				seen[id] = true
				if err := checkLen("platform id", id, maxIDLen); err != nil {
					return err
				}
				if b.Get([]byte(id)) == nil {
					keys = append(keys, []byte(id))
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("put messages: alias: %w", err)
		}
	}
	now := s.now()
	ps := make([]encoded, len(msgs))
	for i := range msgs {
		p, err := prepare(&msgs[i], now, false)
		if err != nil {
			return nil, fmt.Errorf("put messages: message %d: %w", i, err)
		}
		ps[i] = p
	}
	ids := make([]int32, len(msgs))
	for start := 0; start < len(ps) || len(keys) > 0; start += maxBatch {
		end := min(start+maxBatch, len(ps))
		if err := s.do(ctx, &putOp{msgs: ps[start:end], ids: ids[start:end], aliases: keys}); err != nil {
			return nil, fmt.Errorf("put messages: %w", err)
		}
		keys = nil
	}
	return ids, nil
}

// putMessage writes p under its existing id or a new one.
func (w *writeTx) putMessage(p *encoded) (int32, error) {
	id, _, err := w.lookup(p.key)
	if err != nil {
		return 0, err
	}
	if id == 0 {
		if id, err = w.allocID(); err != nil {
			return 0, err
		}
		p.setID(id)
		w.mapKey(p.key, id)
		return int32(id), w.insertRecord(p)
	}
	p.setID(id)
	old := w.msgs.Get(p.idKey)
	if old == nil {
		// The mapping outlived its record; put the record back.
		return int32(id), w.insertRecord(p)
	}
	keepStored(p.rec, old)
	if len(old) >= 2 {
		p.rec[1] |= old[1] & flagsKept
	}
	if bytes.Equal(old, p.rec) {
		return int32(id), nil
	}
	if err := w.msgs.Put(p.idKey, p.rec); err != nil {
		return 0, fmt.Errorf("put message %d: %w", id, err)
	}
	return int32(id), nil
}

// allocID returns the id after the last one allocated, wrapping from
// math.MaxInt32 to 1 and skipping ids whose messages are still stored.
func (w *writeTx) allocID() (uint32, error) {
	next := func(id uint32) uint32 {
		if id >= math.MaxInt32 {
			return 1
		}
		return id + 1
	}
	id := next(w.lastID)
	var key [4]byte
	binary.BigEndian.PutUint32(key[:], id)
	c := w.msgs.Cursor()
	k, _ := c.Seek(key[:])
	// Walk the run of live ids starting at id; normally it is empty.
	for tries := 0; k != nil && bytes.Equal(k, key[:]); tries++ {
		if tries >= math.MaxInt32 {
			return 0, errors.New("allocate message id: every id is in use")
		}
		id = next(id)
		binary.BigEndian.PutUint32(key[:], id)
		if id == 1 {
			k, _ = c.Seek(key[:])
		} else {
			k, _ = c.Next()
		}
	}
	w.lastID = id
	w.lastIDDirty = true
	return id, nil
}

// insertRecord writes the record of p, whose id is set.
func (w *writeTx) insertRecord(p *encoded) error {
	if err := w.msgs.Put(p.idKey, p.rec); err != nil {
		return fmt.Errorf("put message %d: %w", binary.BigEndian.Uint32(p.idKey), err)
	}
	w.count++
	w.countDirty = true
	return nil
}

// MessageID returns the message id mapped to msg id msgID in conversation
// conv, or ErrNotFound. It never finds a pending-send record.
func (s *Store) MessageID(conv, msgID string) (int32, error) {
	key := appendMsgKey(nil, conv, msgID)
	// Read pending before the transaction starts: a merge commits the key
	// to msg_keys before it leaves pending, so one of the two has it.
	s.pmu.RLock()
	pid := s.pending[string(key)]
	s.pmu.RUnlock()
	var id int32
	err := s.view(func(tx *bbolt.Tx) error {
		msgs := tx.Bucket(bucketMsgs)
		// Check the record: the message may have been pruned since, and its
		// id reused.
		if pid != 0 && recordHasKey(msgs.Get(idKey(pid)), key) {
			id = int32(pid)
			return nil
		}
		found, err := findKey(tx.Bucket(bucketMsgKeys), msgs, s.hashKey, key)
		if err != nil {
			return err
		}
		if found == 0 {
			return ErrNotFound
		}
		id = int32(found)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("get message id: %w", err)
	}
	return id, nil
}

// Message returns the record of message id, or ErrNotFound.
func (s *Store) Message(id int32) (Message, error) {
	var m Message
	err := s.view(func(tx *bbolt.Tx) error {
		var err error
		m, _, err = readMessage(tx, id)
		return err
	})
	if err != nil {
		return Message{}, fmt.Errorf("get message %d: %w", id, err)
	}
	return m, nil
}

// readMessage returns message id decoded and, when raw is true, a copy of
// its encoding.
func readMessage(tx *bbolt.Tx, id int32) (Message, []byte, error) {
	if id <= 0 {
		return Message{}, nil, ErrNotFound
	}
	v := tx.Bucket(bucketMsgs).Get(idKey(uint32(id)))
	if v == nil {
		return Message{}, nil, ErrNotFound
	}
	m, err := decodeRecord(v)
	if err != nil {
		return Message{}, nil, err
	}
	return m, bytes.Clone(v), nil
}

// DeleteMessage removes message id and its mapping, as if it had never
// been put: for an own message the platform refused, which nothing may
// later claim was sent, and for a pending-send record whose send failed.
// An id not stored is not an error.
func (s *Store) DeleteMessage(ctx context.Context, id int32) error {
	if id <= 0 {
		return nil
	}
	if err := s.do(ctx, &deleteOp{id: uint32(id)}); err != nil {
		return fmt.Errorf("delete message %d: %w", id, err)
	}
	return nil
}

type deleteOp struct{ id uint32 }

func (o *deleteOp) weight() int { return 1 }

func (o *deleteOp) apply(w *writeTx) error {
	k := idKey(o.id)
	rec := w.msgs.Get(k)
	if rec == nil {
		return nil
	}
	if !recordPending(rec) {
		key, err := appendRecordKey(nil, rec)
		if err != nil {
			return fmt.Errorf("message %d: %w", o.id, err)
		}
		if err := w.unmapKey(key, o.id); err != nil {
			return err
		}
	}
	return w.deleteRecord(o.id)
}

// deleteRecord deletes the record of id, whose key is unmapped already.
func (w *writeTx) deleteRecord(id uint32) error {
	if err := w.msgs.Delete(idKey(id)); err != nil {
		return fmt.Errorf("delete message %d: %w", id, err)
	}
	if w.count > 0 {
		w.count--
		w.countDirty = true
	}
	return nil
}

// errConflict rejects an update whose record changed after it was read.
var errConflict = errors.New("message changed concurrently")

// updateOp replaces a record if it still equals old: compare-and-swap, so
// that the caller's function never runs inside the shared transaction.
type updateOp struct {
	id  uint32
	old []byte
	p   encoded
}

func (o *updateOp) weight() int { return 1 }

func (o *updateOp) apply(w *writeTx) error {
	o.p.setID(o.id)
	cur := w.msgs.Get(o.p.idKey)
	switch {
	case cur == nil:
		return reject(ErrNotFound)
	case !bytes.Equal(cur, o.old):
		return reject(errConflict)
	}
	keepStored(o.p.rec, cur)
	if err := w.msgs.Put(o.p.idKey, o.p.rec); err != nil {
		return fmt.Errorf("put message %d: %w", o.id, err)
	}
	return nil
}

// UpdateMessage changes the record of message id through fn, for edits and
// recalls, and returns once the change is durable. fn may be called more
// than once if the record changes concurrently, and must not change Conv or
// MsgID; a change to Pending is ignored. An error from fn is returned as
// is, wrapped.
func (s *Store) UpdateMessage(ctx context.Context, id int32, fn func(*Message) error) error {
	for {
		var (
			m   Message
			raw []byte
		)
		err := s.view(func(tx *bbolt.Tx) error {
			var err error
			m, raw, err = readMessage(tx, id)
			return err
		})
		if err != nil {
			return fmt.Errorf("update message %d: %w", id, err)
		}
		conv, msgID, pending := m.Conv, m.MsgID, m.Pending
		if err := fn(&m); err != nil {
			return fmt.Errorf("update message %d: %w", id, err)
		}
		if m.Conv != conv || m.MsgID != msgID {
			return fmt.Errorf("update message %d: %w: conversation or msg id changed", id, ErrInvalid)
		}
		p, err := prepare(&m, s.now(), pending)
		if err != nil {
			return fmt.Errorf("update message %d: %w", id, err)
		}
		err = s.do(ctx, &updateOp{id: uint32(id), old: raw, p: p})
		if errors.Is(err, errConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("update message %d: %w", id, err)
		}
		return nil
	}
}
