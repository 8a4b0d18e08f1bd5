package onebot

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestInt64(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		wantErr string
	}{
		{`123`, 123, ""},
		{`"123"`, 123, ""},
		{`" 42 "`, 42, ""},
		{`-7`, -7, ""},
		{`"-7"`, -7, ""},
		{`1e3`, 1000, ""},
		{`1.0e3`, 1000, ""},
		{`123.0`, 123, ""},
		{`"1e3"`, 1000, ""},
		{`9223372036854775807`, 9223372036854775807, ""},
		{`"4294967296123"`, 4294967296123, ""},
		{`9223372036854775808`, 0, `expected an integer, got 9223372036854775808 (out of range)`},
		{`1e19`, 0, `(out of range)`},
		{`1.5`, 0, `expected an integer, got 1.5`},
		{`"abc"`, 0, `expected an integer, got "abc"`},
		{`""`, 0, `expected an integer, got ""`},
		{`true`, 0, `expected an integer, got true`},
		{`[1]`, 0, `expected an integer`},
		{`{"a":1}`, 0, `expected an integer`},
	} {
		var p struct {
			ID Int64 `json:"id"`
		}
		err := (&Request{Params: json.RawMessage(`{"id":` + tc.in + `}`)}).Decode(&p)
		if tc.wantErr == "" {
			if err != nil || int64(p.ID) != tc.want {
				t.Errorf("%s: got %d, %v; want %d", tc.in, p.ID, err, tc.want)
			}
			continue
		}
		var ae *ActionError
		if !errors.As(err, &ae) || ae.Retcode != RetcodeBadParams {
			t.Errorf("%s: err = %v, want a 1400 ActionError", tc.in, err)
			continue
		}
		if !strings.HasPrefix(ae.Msg, "id: ") || !strings.Contains(ae.Msg, tc.wantErr) {
			t.Errorf("%s: message %q, want it to name id and contain %q", tc.in, ae.Msg, tc.wantErr)
		}
	}
}

func TestInt64NullLeavesValue(t *testing.T) {
	p := struct {
		ID  Int64  `json:"id"`
		Opt *Int64 `json:"opt"`
	}{ID: 5}
	if err := (&Request{Params: json.RawMessage(`{"id":null}`)}).Decode(&p); err != nil || p.ID != 5 || p.Opt != nil {
		t.Fatalf("null: %v, %+v", err, p)
	}
	if err := (&Request{Params: json.RawMessage(`{"opt":"0"}`)}).Decode(&p); err != nil || p.Opt == nil || *p.Opt != 0 {
		t.Fatalf("optional present: %v, %+v", err, p)
	}
}

func TestInt32Range(t *testing.T) {
	var p struct {
		ID Int32 `json:"message_id"`
	}
	if err := (&Request{Params: json.RawMessage(`{"message_id":"2147483647"}`)}).Decode(&p); err != nil || p.ID != 2147483647 {
		t.Fatalf("max int32: %v %d", err, p.ID)
	}
	err := (&Request{Params: json.RawMessage(`{"message_id":2147483648}`)}).Decode(&p)
	if err == nil || !strings.Contains(err.Error(), "message_id: expected an integer, got 2147483648 (out of range)") {
		t.Fatalf("overflow: %v", err)
	}
}

func TestBool(t *testing.T) {
	for in, want := range map[string]bool{
		`true`: true, `false`: false, `1`: true, `0`: false,
		`"true"`: true, `"false"`: false, `"1"`: true, `"0"`: false,
		`"yes"`: true, `"no"`: false, `"TRUE"`: true, `""`: false,
	} {
		var p struct {
			B Bool `json:"b"`
		}
		if err := (&Request{Params: json.RawMessage(`{"b":` + in + `}`)}).Decode(&p); err != nil || bool(p.B) != want {
			t.Errorf("%s: got %v, %v; want %v", in, p.B, err, want)
		}
	}
	for _, in := range []string{`2`, `"maybe"`, `[]`, `{}`} {
		var p struct {
			B Bool `json:"auto_escape"`
		}
		err := (&Request{Params: json.RawMessage(`{"auto_escape":` + in + `}`)}).Decode(&p)
		if err == nil || !strings.Contains(err.Error(), "auto_escape: expected a boolean") {
			t.Errorf("%s: err = %v", in, err)
		}
	}
}

func TestString(t *testing.T) {
	for in, want := range map[string]string{`"abc"`: "abc", `123`: "123", `-1.5`: "-1.5", `true`: "true", `"\u4f60"`: "你"} {
		var p struct {
			S String `json:"flag"`
		}
		if err := (&Request{Params: json.RawMessage(`{"flag":` + in + `}`)}).Decode(&p); err != nil || string(p.S) != want {
			t.Errorf("%s: got %q, %v", in, p.S, err)
		}
	}
	var p struct {
		S String `json:"flag"`
	}
	if err := (&Request{Params: json.RawMessage(`{"flag":[1]}`)}).Decode(&p); err == nil || !strings.Contains(err.Error(), "flag: expected a string") {
		t.Errorf("array: %v", err)
	}
}

func TestDecodeRequiredAndNested(t *testing.T) {
	type Common struct {
		GroupID Int64 `json:"group_id" onebot:"required"`
	}
	var p struct {
		Common
		UserID  Int64  `json:"user_id" onebot:"required"`
		Message string `json:"message"`
		Inner   struct {
			N Int32 `json:"n"`
		} `json:"inner"`
	}
	for in, want := range map[string]string{
		`{"user_id":1}`:                                         "group_id: required",
		`{"group_id":1}`:                                        "user_id: required",
		`{"group_id":1,"user_id":null}`:                         "user_id: required",
		`{"group_id":1,"user_id":1,"message":5}`:                "message: expected a string, got number",
		`{"group_id":1,"user_id":1,"inner":{"n":"x"}}`:          `inner.n: expected an integer, got "x"`,
		`{"group_id":1,"user_id":1,"inner":{"n":99999999999}}`:  "inner.n: expected an integer, got 99999999999 (out of range)",
		`{"group_id":"1","user_id":"2","inner":{"n":"3"}}`:      "",
		`{"group_id":1,"user_id":1,"message":"hi","extra":[1]}`: "",
	} {
		err := (&Request{Params: json.RawMessage(in)}).Decode(&p)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", in, err)
			}
			continue
		}
		var ae *ActionError
		if !errors.As(err, &ae) || ae.Retcode != RetcodeBadParams || ae.Msg != want {
			t.Errorf("%s: err = %v, want 1400 %q", in, err, want)
		}
	}
}
