package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// A message record is, in order:
//
//	version   1 byte (recordVersion)
//	flags     1 byte (flagSelf, flagRecalled, flagUnsent, flagReported,
//	          flagPending)
//	stored    8 bytes big-endian, Unix milliseconds of the first put
//	seconds   8 bytes big-endian, Unix time of Message.Time
//	nanos     4 bytes big-endian
//	conv      uvarint length + bytes (Message.Conv)
//	msg id    uvarint length + bytes, empty in a pending record
//	seq       varint
//	sender id uvarint length + bytes
//	sender    uvarint length + bytes (display name)
//	body      uvarint length + bytes
//
// The flags and the stored time sit at fixed offsets so the committer can
// carry them over to a new version of the record, and pruning can read the
// time, without decoding the rest. Fields added later go after body, under a
// new version.
//
// Version 1, the record of schema 2, had a Yunhu chat type (varint) and chat
// id where conv is now, and no reported or pending flag; see upgrade.go.
const (
	recordVersion = 2
	recordHeader  = 22

	flagSelf     = 1 << 0
	flagRecalled = 1 << 1
	flagUnsent   = 1 << 2
	flagReported = 1 << 3
	flagPending  = 1 << 4

	// flagsKept are the flags a later put of the same message cannot
	// clear: both record facts about the platform's message that a put
	// from another source (history, a refetch) may not know.
	flagsKept = flagRecalled | flagReported
)

// Size limits keep a bad caller from bloating the file; bbolt's own limits
// are far larger.
const (
	maxIDLen     = 256     // msg, sender and platform ids, keys
	maxConvLen   = 300     // Message.Conv and cursor conversations
	maxCursorLen = 256     // Cursor.Value
	maxNameLen   = 1024    // sender display name
	maxBodyLen   = 1 << 20 // Message.Body and key/value values
)

var errCorrupt = errors.New("corrupt record")

func recordSize(m *Message) int {
	return recordHeader + 2*binary.MaxVarintLen64 +
		5*binary.MaxVarintLen32 +
		len(m.Conv) + len(m.MsgID) + len(m.SenderID) + len(m.SenderName) + len(m.Body)
}

func appendRecord(b []byte, m *Message, stored time.Time) []byte {
	var flags byte
	for _, f := range []struct {
		set  bool
		flag byte
	}{
		{m.Self, flagSelf}, {m.Recalled, flagRecalled}, {m.Unsent, flagUnsent},
		{m.Reported, flagReported}, {m.Pending, flagPending},
	} {
		if f.set {
			flags |= f.flag
		}
	}
	b = append(b, recordVersion, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(stored.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Time.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(m.Time.Nanosecond()))
	b = appendString(b, m.Conv)
	b = appendString(b, m.MsgID)
	b = binary.AppendVarint(b, m.Seq)
	b = appendString(b, m.SenderID)
	b = appendString(b, m.SenderName)
	b = binary.AppendUvarint(b, uint64(len(m.Body)))
	return append(b, m.Body...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// recordStored returns when the record's message was first put, in Unix
// milliseconds.
func recordStored(rec []byte) (int64, error) {
	if len(rec) < recordHeader || rec[0] != recordVersion {
		return 0, errCorrupt
	}
	return int64(binary.BigEndian.Uint64(rec[2:10])), nil
}

// recordPending reports whether rec is a pending-send record, which has no
// msg id yet and so no key in the message map.
func recordPending(rec []byte) bool {
	return len(rec) >= 2 && rec[1]&flagPending != 0
}

// keepStored gives rec, a new version of old, the stored time of old.
func keepStored(rec, old []byte) {
	if len(old) >= recordHeader {
		copy(rec[2:10], old[2:10])
	}
}

// decodeRecord copies rec into a Message; rec may point into the mmap and is
// only valid during its transaction.
func decodeRecord(rec []byte) (Message, error) {
	if len(rec) < recordHeader || rec[0] != recordVersion {
		return Message{}, errCorrupt
	}
	sec := int64(binary.BigEndian.Uint64(rec[10:18]))
	nsec := int64(binary.BigEndian.Uint32(rec[18:22]))
	d := decoder{b: rec[recordHeader:]}
	m := Message{
		Time:     time.Unix(sec, nsec),
		Self:     rec[1]&flagSelf != 0,
		Recalled: rec[1]&flagRecalled != 0,
		Unsent:   rec[1]&flagUnsent != 0,
		Reported: rec[1]&flagReported != 0,
		Pending:  rec[1]&flagPending != 0,
	}
	m.Conv = string(d.bytes())
	m.MsgID = string(d.bytes())
	m.Seq = d.varint()
	m.SenderID = string(d.bytes())
	m.SenderName = string(d.bytes())
	if body := d.bytes(); len(body) > 0 {
		m.Body = append([]byte(nil), body...)
	}
	if d.bad {
		return Message{}, errCorrupt
	}
	return m, nil
}

// decoder reads the variable part of a record; the first malformed field
// sets bad and every later read returns zero.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	l, n := binary.Uvarint(d.b)
	if n <= 0 || l > uint64(len(d.b)-n) {
		d.bad = true
		d.b = nil
		return nil
	}
	v := d.b[n : n+int(l)]
	d.b = d.b[n+int(l):]
	return v
}

// appendMsgKey appends the key the message map maps: the conversation,
// length-prefixed so that a msg id appended after it cannot make two
// different pairs produce the same key, then the msg id.
func appendMsgKey(b []byte, conv, msgID string) []byte {
	return append(appendString(b, conv), msgID...)
}

func msgKeySize(conv, msgID string) int {
	return binary.MaxVarintLen32 + len(conv) + len(msgID)
}

func idKey(id uint32) []byte {
	return binary.BigEndian.AppendUint32(make([]byte, 0, 4), id)
}

func checkLen(field string, s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrInvalid, field, len(s), limit)
	}
	return nil
}

// checkConv validates a conversation key.
func checkConv(conv string) error {
	if conv == "" {
		return fmt.Errorf("%w: empty conversation", ErrInvalid)
	}
	return checkLen("conversation", conv, maxConvLen)
}
