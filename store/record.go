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
//	flags     1 byte (flagSelf, flagRecalled, flagUnsent)
//	stored    8 bytes big-endian, Unix milliseconds of the first put
//	seconds   8 bytes big-endian, Unix time of Message.Time
//	nanos     4 bytes big-endian
//	chat type varint
//	chat id   uvarint length + bytes
//	msg id    uvarint length + bytes
//	seq       varint
//	sender id uvarint length + bytes
//	sender    uvarint length + bytes (display name)
//	body      uvarint length + bytes
//
// The flags and the stored time sit at fixed offsets so the committer can
// carry them over to a new version of the record, and pruning can read the
// time, without decoding the rest. Fields added later go after body, under a
// new version.
const (
	recordVersion = 1
	recordHeader  = 22

	flagSelf     = 1 << 0
	flagRecalled = 1 << 1
	flagUnsent   = 1 << 2
)

// Size limits keep a bad caller from bloating the file; bbolt's own limits
// are far larger.
const (
	maxIDLen   = 256     // chat, msg, sender and platform ids, keys
	maxNameLen = 1024    // sender display name
	maxBodyLen = 1 << 20 // Message.Body and key/value values
)

var errCorrupt = errors.New("corrupt record")

func recordSize(m *Message) int {
	return recordHeader + 2*binary.MaxVarintLen64 +
		5*binary.MaxVarintLen32 +
		len(m.ChatID) + len(m.MsgID) + len(m.SenderID) + len(m.SenderName) + len(m.Body)
}

func appendRecord(b []byte, m *Message, stored time.Time) []byte {
	var flags byte
	if m.Self {
		flags |= flagSelf
	}
	if m.Recalled {
		flags |= flagRecalled
	}
	if m.Unsent {
		flags |= flagUnsent
	}
	b = append(b, recordVersion, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(stored.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Time.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(m.Time.Nanosecond()))
	b = binary.AppendVarint(b, int64(m.ChatType))
	b = appendString(b, m.ChatID)
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
	}
	chatType := d.varint()
	m.ChatType = int32(chatType)
	m.ChatID = string(d.bytes())
	m.MsgID = string(d.bytes())
	m.Seq = d.varint()
	m.SenderID = string(d.bytes())
	m.SenderName = string(d.bytes())
	if body := d.bytes(); len(body) > 0 {
		m.Body = append([]byte(nil), body...)
	}
	if d.bad || int64(m.ChatType) != chatType {
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

// appendChatKey identifies a chat by type and id, so a user and a group
// sharing a numeric id stay apart. The id is length-prefixed, so a msg_id
// appended after it cannot make two different pairs produce the same key.
func appendChatKey(b []byte, chatType int32, chatID string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(chatType))
	return appendString(b, chatID)
}

func chatKeySize(chatID string) int {
	return 4 + binary.MaxVarintLen32 + len(chatID)
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
