package segment

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxDepth bounds the nesting of raw JSON values, as encoding/json does, so
// that hostile input cannot exhaust the stack.
const maxDepth = 10000

// DecodeJSON decodes the message parameter of an action, given as its raw
// JSON value, with the default Options except for autoEscape. Malformed CQ
// codes in a string are kept as text and not reported; use
// Options.DecodeJSON to see them.
func DecodeJSON(raw []byte, autoEscape bool) (Message, error) {
	m, _, err := Options{AutoEscape: autoEscape}.DecodeJSONString(string(raw))
	return m, err
}

// DecodeJSON decodes the message parameter of an action, given as its raw
// JSON value. It accepts what real frameworks send:
//
//   - a JSON string: the string form, read as o.ParseCQ does;
//   - a segment object, {"type":"image","data":{"file":"a.jpg"}};
//   - an array of segment objects.
//
// A segment's data may be absent or null. A data value may be a string, a
// number (kept as written: 123 gives "123" and 1e3 gives "1e3"), a boolean
// ("true" or "false") or null, which leaves the key out as if it were
// absent. An object or array value, such as node content or button rows, is
// kept as its JSON text as written. Duplicate keys are kept in order, and
// Segment.Get sees the last, as a JSON object would. Unknown members of a
// segment object are ignored. Invalid UTF-8 in strings becomes U+FFFD, as
// with encoding/json.
//
// Leniently, as go-cqhttp does, a top-level number or boolean is taken as
// the text it is written as, and null as an empty message.
//
// Errors name the place: "message[2].type: missing", "message[0].data: not
// an object", "message[1]: invalid JSON at offset 57: ...". Invalid lists
// the malformed CQ codes of a string message, with offsets into the string
// after JSON decoding.
func (o Options) DecodeJSON(raw []byte) (Message, []Invalid, error) {
	return o.DecodeJSONString(string(raw))
}

// DecodeJSONString is DecodeJSON for input already held as a string, such
// as gjson's Result.Raw; it saves a copy. The message refers into raw.
func (o Options) DecodeJSONString(raw string) (Message, []Invalid, error) {
	d := decoder{s: raw, seg: -1}
	d.ws()
	if d.pos == len(raw) {
		return nil, nil, errors.New("message: empty")
	}
	var m Message
	var inv []Invalid
	var err error
	switch c := raw[d.pos]; {
	case c == '"':
		var v string
		if v, err = d.str(); err == nil {
			m, inv = o.ParseCQ(v)
		}
	case c == '{':
		d.sc = getScratch(raw)
		if err = d.segment(); err == nil {
			m = d.sc.message(true)
		}
		d.sc.release()
	case c == '[':
		d.sc = getScratch(raw)
		if err = d.array(); err == nil {
			m = d.sc.message(true)
		}
		d.sc.release()
	case c == 'n':
		err = d.literal("null")
	case c == 't' || c == 'f':
		lit := "false"
		if c == 't' {
			lit = "true"
		}
		if err = d.literal(lit); err == nil {
			m, inv = o.ParseCQ(lit)
		}
	default:
		start := d.pos
		if err = d.number(); err == nil {
			m, inv = o.ParseCQ(raw[start:d.pos])
		}
	}
	if err == nil {
		d.seg = -1
		d.ws()
		if d.pos < len(raw) {
			err = d.syntax("data after the value")
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return m, inv, nil
}

// DecodeContent decodes a message nested in a data value, such as
// node.content: the JSON text of a segment array or object when it is one,
// and a CQ string otherwise.
func DecodeContent(v string) Message {
	t := strings.TrimLeft(v, " \t\r\n")
	if t != "" && (t[0] == '[' || t[0] == '{') {
		if m, _, err := (Options{}).DecodeJSONString(v); err == nil {
			return m
		}
	}
	m, _ := ParseCQ(v)
	return m
}

type decoder struct {
	s   string
	pos int
	sc  *scratch
	// seg is the index of the segment being read, -1 outside the array
	// or -2 for a lone object; field is the member being read and key the
	// data key. They only serve to name the place in errors.
	seg   int
	field string
	key   string
	// depth is the number of arrays enclosing the segment objects: 1 in an
	// array, 0 for a lone object.
	depth int
	// nulls lists the null values of the data object being read, to be
	// applied when it ends (see dropNulls).
	nulls []nullAt
}

// nullAt is a null data value: it removes the pairs named k before the
// pair at index at.
type nullAt struct {
	k  span
	at int
}

func (d *decoder) path() string {
	p := "message"
	switch {
	case d.seg >= 0:
		p += "[" + strconv.Itoa(d.seg) + "]"
	case d.seg == -1:
		return p
	}
	if d.field != "" {
		p += "." + d.field
	}
	if d.key != "" {
		p += "." + d.key
	}
	return p
}

func (d *decoder) fail(msg string) error {
	return errors.New(d.path() + ": " + msg)
}

func (d *decoder) syntax(msg string) error {
	return fmt.Errorf("%s: invalid JSON at offset %d: %s", d.path(), d.pos, msg)
}

func (d *decoder) unexpected() error {
	if d.pos >= len(d.s) {
		return d.syntax("unexpected end")
	}
	return d.syntax(fmt.Sprintf("unexpected %q", d.s[d.pos]))
}

func (d *decoder) ws() {
	for d.pos < len(d.s) {
		switch d.s[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// next skips white space and consumes c, which must come next.
func (d *decoder) next(c byte) error {
	d.ws()
	if d.pos < len(d.s) && d.s[d.pos] == c {
		d.pos++
		return nil
	}
	return d.unexpected()
}

func (d *decoder) array() error {
	d.depth = 1
	d.pos++
	d.ws()
	if d.pos < len(d.s) && d.s[d.pos] == ']' {
		d.pos++
		return nil
	}
	for i := 0; ; i++ {
		d.seg, d.field = i, ""
		d.ws()
		if d.pos >= len(d.s) {
			return d.unexpected()
		}
		if d.s[d.pos] != '{' {
			if err := d.skip(1); err != nil {
				return err
			}
			return d.fail("not an object")
		}
		if err := d.segment(); err != nil {
			return err
		}
		d.seg, d.field = i, ""
		d.ws()
		if d.pos < len(d.s) && d.s[d.pos] == ']' {
			d.pos++
			return nil
		}
		if err := d.next(','); err != nil {
			return err
		}
	}
}

// segment reads one segment object at d.pos and appends it. As in a
// decoded JSON object the last "type" and the last "data" member win, so a
// bad one is only an error if no good one follows.
func (d *decoder) segment() error {
	if d.seg == -1 {
		d.seg = -2
	}
	d.pos++
	var typ span
	var typeErr, dataErr string
	typeErr = "missing"
	start := len(d.sc.pairs)
	d.ws()
	if d.pos < len(d.s) && d.s[d.pos] == '}' {
		d.pos++
	} else {
		for {
			d.field = ""
			d.ws()
			if d.pos >= len(d.s) || d.s[d.pos] != '"' {
				return d.unexpected()
			}
			key, err := d.str()
			if err != nil {
				return err
			}
			if err := d.next(':'); err != nil {
				return err
			}
			d.ws()
			if d.pos >= len(d.s) {
				return d.unexpected()
			}
			c := d.s[d.pos]
			switch {
			case key == "type" && c == '"':
				d.field = "type"
				if typ, err = d.strSpan(); err != nil {
					return err
				}
				typeErr = ""
				if d.sc.str(typ) == "" {
					typeErr = "empty"
				}
			case key == "data" && (c == '{' || c == 'n'):
				d.field = "data"
				d.sc.truncate(start)
				if c == '{' {
					err = d.data(start)
				} else {
					err = d.literal("null")
				}
				if err != nil {
					return err
				}
				dataErr = ""
			default:
				if err := d.skip(d.depth + 1); err != nil {
					return err
				}
				switch key {
				case "type":
					typeErr = "not a string"
				case "data":
					d.sc.truncate(start)
					dataErr = "not an object"
				}
			}
			d.field = ""
			d.ws()
			if d.pos < len(d.s) && d.s[d.pos] == '}' {
				d.pos++
				break
			}
			if err := d.next(','); err != nil {
				return err
			}
		}
	}
	if typeErr != "" {
		d.field = "type"
		return d.fail(typeErr)
	}
	if dataErr != "" {
		d.field = "data"
		return d.fail(dataErr)
	}
	d.sc.addSeg(typ, start, len(d.sc.pairs))
	d.field = ""
	return nil
}

// data reads the data object at d.pos; the segment's pairs start at start.
func (d *decoder) data(start int) error {
	d.pos++
	d.ws()
	if d.pos < len(d.s) && d.s[d.pos] == '}' {
		d.pos++
		return nil
	}
	d.nulls = d.nulls[:0]
	for {
		d.ws()
		if d.pos >= len(d.s) || d.s[d.pos] != '"' {
			return d.unexpected()
		}
		k, err := d.strSpan()
		if err != nil {
			return err
		}
		if err := d.next(':'); err != nil {
			return err
		}
		d.key = d.sc.str(k)
		d.ws()
		if d.pos >= len(d.s) {
			return d.unexpected()
		}
		vstart := d.pos
		keep := true
		switch c := d.s[d.pos]; c {
		case '"':
			s, e, clean, err := d.scanString()
			if err != nil {
				return err
			}
			d.sc.addPair(k, sub(s, e), !clean)
			keep = false
		case 'n':
			err = d.literal("null")
			keep = false
			d.nulls = append(d.nulls, nullAt{k, len(d.sc.pairs)})
		case 't':
			err = d.literal("true")
		case 'f':
			err = d.literal("false")
		case '{', '[':
			err = d.skip(d.depth + 2)
		default:
			err = d.number()
		}
		if err != nil {
			return err
		}
		if keep {
			d.sc.addPair(k, sub(vstart, d.pos), false)
		}
		d.key = ""
		d.ws()
		if d.pos < len(d.s) && d.s[d.pos] == '}' {
			d.pos++
			if len(d.nulls) > 0 {
				d.sc.dropNulls(start, d.nulls)
			}
			return nil
		}
		if err := d.next(','); err != nil {
			return err
		}
	}
}
