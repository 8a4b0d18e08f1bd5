package onebot

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Request is one action call as handlers see it.
type Request struct {
	// Action is the registered name, without an _async or _rate_limited
	// suffix.
	Action string
	// Params is always a JSON object ({} when the client sent none). Values
	// that came from an HTTP query or form are JSON strings, which is why
	// parameter structs use Int64, Bool and friends.
	Params json.RawMessage
}

// Decode unmarshals the params into v, a pointer to a struct with json
// tags. A field tagged `onebot:"required"` must be present and not null.
// Every failure is a 1400 *ActionError naming the parameter, e.g.
//
//	user_id: expected an integer, got "abc"
//	group_id: required
func (r *Request) Decode(v any) error {
	if err := json.Unmarshal(r.Params, v); err != nil {
		return paramError(err)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil
	}
	return checkRequired(r.Params, rv.Elem().Type())
}

// checkRequired walks t's fields (and embedded structs, whose fields are
// promoted into the same JSON object) for the required tag. It reflects
// on every call rather than caching per type, which would need shared
// mutable state; a params struct has a handful of fields.
func checkRequired(params json.RawMessage, t reflect.Type) error {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			if err := checkRequired(params, f.Type); err != nil {
				return err
			}
			continue
		}
		if f.Tag.Get("onebot") != "required" || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if v := gjson.GetBytes(params, gjsonEscape(name)); !v.Exists() || v.Type == gjson.Null {
			return ErrBadParams("%s: required", name)
		}
	}
	return nil
}

// gjsonEscape quotes gjson's path syntax in a plain key.
func gjsonEscape(key string) string {
	if !strings.ContainsAny(key, `.*?|#@\!=<>%`) {
		return key
	}
	var sb strings.Builder
	for _, c := range key {
		if strings.ContainsRune(`.*?|#@\!=<>%`, c) {
			sb.WriteByte('\\')
		}
		sb.WriteRune(c)
	}
	return sb.String()
}

// paramError turns a json.Unmarshal error into a 1400 naming the field.
func paramError(err error) *ActionError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "params"
		}
		got := te.Value
		return &ActionError{
			Retcode: RetcodeBadParams,
			Msg:     field + ": expected " + typeName(te.Type) + ", got " + got,
			Err:     err,
		}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &ActionError{Retcode: RetcodeBadParams, Msg: "params: invalid JSON: " + se.Error(), Err: err}
	}
	return &ActionError{Retcode: RetcodeBadParams, Msg: "params: " + err.Error(), Err: err}
}

var (
	int64Type  = reflect.TypeFor[Int64]()
	int32Type  = reflect.TypeFor[Int32]()
	boolType   = reflect.TypeFor[Bool]()
	stringType = reflect.TypeFor[String]()
)

// typeName names a Go type the way a client thinks of its JSON value.
func typeName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t {
	case int64Type, int32Type:
		return "an integer"
	case boolType:
		return "a boolean"
	case stringType:
		return "a string"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return typeName(t.Elem())
	}
	return t.String()
}

// describe renders a raw JSON value for an error message, shortened.
func describe(raw []byte) string {
	const max = 40
	s := string(bytes.TrimSpace(raw))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// Int64 is an integer parameter that also accepts its decimal string
// ("123"), and integral numbers written as floats (1e3, 123.0), because
// query and form values are strings and frameworks send ids either way
// (Koishi sends ids above 2^32 as strings). Fractions, overflow, and other
// strings are rejected. Use *Int64 for an optional parameter.
type Int64 int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int64) UnmarshalJSON(b []byte) error {
	v, err := parseInt(b, math.MinInt64, math.MaxInt64, int64Type)
	if err != nil || v == nil {
		return err
	}
	*n = Int64(*v)
	return nil
}

// Int32 is Int64 for 32-bit values such as message_id.
type Int32 int32

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int32) UnmarshalJSON(b []byte) error {
	v, err := parseInt(b, math.MinInt32, math.MaxInt32, int32Type)
	if err != nil || v == nil {
		return err
	}
	*n = Int32(*v)
	return nil
}

// parseInt parses an integer parameter; nil, nil means JSON null (leave
// the field alone, like encoding/json does).
func parseInt(b []byte, lo, hi int64, t reflect.Type) (*int64, error) {
	b = bytes.TrimSpace(b)
	fail := func(why string) (*int64, error) {
		return nil, &json.UnmarshalTypeError{Value: describe(b) + why, Type: t}
	}
	if string(b) == "null" {
		return nil, nil
	}
	s := b
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return fail("")
		}
		s = []byte(strings.TrimSpace(str))
	}
	if len(s) == 0 {
		return fail("")
	}
	v, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return fail(" (out of range)")
		}
		// 1e3, 123.0: a float that is exactly an integer.
		f, ferr := strconv.ParseFloat(string(s), 64)
		if ferr != nil || math.IsInf(f, 0) || math.IsNaN(f) || f != math.Trunc(f) {
			return fail("")
		}
		if f < -(1<<63) || f >= 1<<63 {
			return fail(" (out of range)")
		}
		v = int64(f)
	}
	if v < lo || v > hi {
		return fail(" (out of range)")
	}
	return &v, nil
}

// Bool is a boolean parameter that also accepts "true"/"false", "1"/"0",
// "yes"/"no" (any case), an empty string (false), and the numbers 0 and 1,
// as query and form values and loosely typed clients send them.
type Bool bool

// UnmarshalJSON implements json.Unmarshaler.
func (v *Bool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch string(b) {
	case "null":
		return nil
	case "true", "1":
		*v = true
		return nil
	case "false", "0":
		*v = false
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err == nil {
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "true", "1", "yes", "on":
				*v = true
				return nil
			case "false", "0", "no", "off", "":
				*v = false
				return nil
			}
		}
	}
	return &json.UnmarshalTypeError{Value: describe(b), Type: boolType}
}

// String is a string parameter that also accepts a number or boolean as
// its JSON text (a flag or an id sent as 123 rather than "123").
type String string

// UnmarshalJSON implements json.Unmarshaler.
func (s *String) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return &json.UnmarshalTypeError{Value: "nothing", Type: stringType}
	}
	switch c := b[0]; {
	case string(b) == "null":
		return nil
	case c == '"':
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return &json.UnmarshalTypeError{Value: describe(b), Type: stringType}
		}
		*s = String(str)
		return nil
	case c == '-' || (c >= '0' && c <= '9') || string(b) == "true" || string(b) == "false":
		*s = String(b)
		return nil
	}
	return &json.UnmarshalTypeError{Value: describe(b), Type: stringType}
}
