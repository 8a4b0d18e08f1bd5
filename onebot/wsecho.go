package onebot

import (
	"bytes"
	"encoding/json"

	"github.com/tidwall/gjson"
)

// maxKeptEcho bounds the echo kept from a frame that is dropped unread;
// frameworks send a number or a short string.
const maxKeptEcho = 4 << 10

// echoScanner finds the top-level "echo" value of a JSON object streamed
// through it, keeping nothing else: it lets a frame too large for the
// memory left be dropped and still be answered with its echo. Frameworks
// put echo last ({"action", "params", "echo"}: NoneBot, ZeroBot, Koishi),
// so it is usually in the part that was never kept.
type echoScanner struct {
	depth    int
	inString bool
	escaped  bool
	wantKey  bool   // at depth 1, the next string is a key
	inKey    bool   // reading a depth-1 key
	key      []byte // its first bytes
	isEcho   bool   // the last depth-1 key was "echo"
	inEcho   bool   // reading echo's value
	echo     []byte
	found    bool
	tooLong  bool
	notJSON  bool // a byte no JSON object has at the top
	anyBytes bool
}

func (s *echoScanner) Write(p []byte) (int, error) {
	for i := 0; i < len(p); i++ {
		if s.inString && !s.escaped && !s.inKey && !s.inEcho {
			// Inside a string nobody keeps (base64 media, mostly): skip to
			// its next quote or backslash.
			j := bytes.IndexAny(p[i:], `"\`)
			if j < 0 {
				break
			}
			i += j
		}
		s.byte(p[i])
	}
	return len(p), nil
}

func (s *echoScanner) byte(c byte) {
	if s.inString {
		switch {
		case s.escaped:
			s.escaped = false
		case c == '\\':
			s.escaped = true
		case c == '"':
			s.inString = false
			if s.inKey {
				s.inKey = false
				s.isEcho = string(s.key) == "echo"
				return
			}
		}
		if s.inKey {
			if len(s.key) <= len("echo") {
				s.key = append(s.key, c)
			}
			return
		}
		s.keep(c)
		return
	}
	switch c {
	case ' ', '\t', '\r', '\n':
		if s.inEcho {
			s.keep(c)
		}
		return
	}
	if s.depth == 0 {
		// Only an object's members are looked at; anything after its end
		// (or instead of it) makes the frame not a call.
		if c != '{' || s.anyBytes {
			s.notJSON = true
			return
		}
		s.anyBytes = true
		s.depth, s.wantKey = 1, true
		return
	}
	switch c {
	case '"':
		s.inString = true
		if s.depth == 1 && s.wantKey {
			s.wantKey, s.inKey, s.key = false, true, s.key[:0]
			return
		}
	case ':':
		if s.depth == 1 && s.isEcho {
			s.isEcho, s.inEcho, s.echo = false, true, s.echo[:0]
			return
		}
	case ',':
		if s.depth == 1 {
			s.endValue()
			s.wantKey = true
			return
		}
	case '{', '[':
		s.depth++
	case '}', ']':
		s.depth--
		if s.depth == 0 {
			s.endValue()
			return
		}
	}
	s.keep(c)
}

func (s *echoScanner) keep(c byte) {
	if !s.inEcho {
		return
	}
	if len(s.echo) >= maxKeptEcho {
		s.tooLong = true
		return
	}
	s.echo = append(s.echo, c)
}

func (s *echoScanner) endValue() {
	if s.inEcho {
		s.inEcho, s.found = false, true
	}
}

// result is the frame's echo (nil when it had none, or was no call at
// all) and whether the frame can be answered: false only when it had an
// echo too long to keep. An echo that is not valid JSON counts as none:
// the frame was not a valid call either.
func (s *echoScanner) result() (json.RawMessage, bool) {
	if s.tooLong {
		return nil, false
	}
	if !s.found || s.notJSON || s.depth != 0 {
		return nil, true
	}
	echo := bytes.TrimSpace(s.echo)
	if len(echo) == 0 || !gjson.ValidBytes(echo) {
		return nil, true
	}
	return echo, true
}
