package store

import (
	"context"
	"fmt"
	"time"
)

// Pending-send records serve platforms whose server assigns the id of a
// message only when it accepts the send. Where the bridge chooses the msg
// id itself (Yunhu), it puts the record of an own message before sending
// it, so that the message id is allocated and durable, and a send that
// gets no answer still leaves a record behind. Without a msg id there is
// nothing to map, so on the other platforms the caller first puts a record
// without one (PutPending), which allocates its message id; then sends;
// then, with the platform's answer, gives the record its msg id and seq
// (BindPending) and answers the bot with the id BindPending returns. If
// the send fails for certain, the caller deletes the record
// (DeleteMessage). A send without a definite answer leaves the record
// pending (the caller may mark it Unsent); it is pruned like any other
// message.
//
// A pending record has an empty msg id, which no mapped message has, and
// is not in the message map at all: MessageID never finds it, and nothing
// else looks it up by key. Message finds it by its id, with Pending set.
//
// The platform may report the sent message as an event (the echo) before
// the send call returns, and the event path stores it under a fresh id.
// BindPending then finds the msg id mapped already, deletes the pending
// record and returns the echo's id, so the conversation holds the message
// once.

// PutPending stores m as a pending-send record and returns its new message
// id once durable. m.MsgID must be empty; see BindPending.
func (s *Store) PutPending(ctx context.Context, m Message) (int32, error) {
	p, err := prepare(&m, s.now(), true)
	if err != nil {
		return 0, fmt.Errorf("put pending message: %w", err)
	}
	o := &pendingOp{p: p}
	if err := s.do(ctx, o); err != nil {
		return 0, fmt.Errorf("put pending message: %w", err)
	}
	return o.id, nil
}

type pendingOp struct {
	p  encoded
	id int32
}

func (o *pendingOp) weight() int { return 1 }

func (o *pendingOp) apply(w *writeTx) error {
	id, err := w.allocID()
	if err != nil {
		return err
	}
	o.p.setID(id)
	if err := w.insertRecord(&o.p); err != nil {
		return err
	}
	o.id = int32(id)
	return nil
}

// BindPending gives the pending-send record id the msg id and seq the
// platform assigned, in one commit, and returns the message id the message
// now has: id itself, or, if msgID is already mapped in the record's
// conversation (the platform's echo was stored first), the id of that
// message, in which case the pending record is deleted. It returns
// ErrNotFound if id is not a pending record, including one deleted or
// pruned meanwhile or bound already.
func (s *Store) BindPending(ctx context.Context, id int32, msgID string, seq int64) (int32, error) {
	if msgID == "" {
		return 0, fmt.Errorf("bind pending message %d: %w: empty msg id", id, ErrInvalid)
	}
	if err := checkLen("msg id", msgID, maxIDLen); err != nil {
		return 0, fmt.Errorf("bind pending message %d: %w", id, err)
	}
	if id <= 0 {
		return 0, fmt.Errorf("bind pending message %d: %w", id, ErrNotFound)
	}
	o := &bindOp{id: uint32(id), msgID: msgID, seq: seq}
	if err := s.do(ctx, o); err != nil {
		return 0, fmt.Errorf("bind pending message %d: %w", id, err)
	}
	return o.result, nil
}

type bindOp struct {
	id     uint32
	msgID  string
	seq    int64
	result int32
}

func (o *bindOp) weight() int { return 1 }

func (o *bindOp) apply(w *writeTx) error {
	ik := idKey(o.id)
	rec := w.msgs.Get(ik)
	if rec == nil || !recordPending(rec) {
		return reject(ErrNotFound)
	}
	m, err := decodeRecord(rec)
	if err != nil {
		return reject(fmt.Errorf("message %d: %w", o.id, err))
	}
	key := appendMsgKey(nil, m.Conv, o.msgID)
	existing, _, err := w.lookup(key)
	if err != nil {
		return err
	}
	if existing != 0 {
		if err := w.deleteRecord(o.id); err != nil {
			return err
		}
		o.result = int32(existing)
		return nil
	}
	m.MsgID, m.Seq, m.Pending = o.msgID, o.seq, false
	nrec := appendRecord(make([]byte, 0, recordSize(&m)), &m, time.Time{})
	keepStored(nrec, rec)
	if err := w.msgs.Put(ik, nrec); err != nil {
		return fmt.Errorf("put message %d: %w", o.id, err)
	}
	if err := addIndexed(w.msgKeys, w.hashKey(key), ik); err != nil {
		return err
	}
	o.result = int32(o.id)
	return nil
}
