package sim

import (
	"net/http"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

func TestMissingTokenIsJSONEverywhere(t *testing.T) {
	e := newEnv(t, Options{})
	body, _ := proto.Marshal(&yunhupb.ListMessageRequest{ChatId: GroupOwnedID, ChatType: yunhu.ChatTypeGroup})
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, yunhu.PathListMessage},       // protobuf endpoint
		{http.MethodPost, yunhu.PathSendMessage},       // protobuf endpoint
		{http.MethodGet, yunhu.PathUserInfo},           // protobuf, GET
		{http.MethodPost, yunhu.PathApply},             // JSON endpoint
		{http.MethodPost, yunhu.PathGetUser},           // any token, but one is needed
		{http.MethodGet, yunhu.PathQiniuTokenImage},    // JSON, GET
		{http.MethodPost, yunhu.PathGroupRemoveMember}, // JSON
	} {
		code, b := e.do(tc.method, tc.path, "", body)
		if code != http.StatusOK || string(b) != `{"code":-101,"msg":"未登录"}` {
			t.Errorf("%s %s: HTTP %d %s", tc.method, tc.path, code, b)
		}
	}
	if got := e.s.Sent(); len(got) != 0 {
		t.Errorf("unauthenticated send recorded: %v", got)
	}
}

func TestInvalidToken(t *testing.T) {
	e := newEnv(t, Options{})
	const bad = "ffffffff-ffff-4fff-8fff-ffffffffffff"
	// Protobuf endpoint: a Status with -101 (simulator convention, §8.2).
	st := e.proto(yunhu.PathListMessage, bad, &yunhupb.ListMessageRequest{}, nil)
	if st.GetCode() != yunhu.CodeNotLoggedIn || st.GetMsg() != yunhu.MsgNotLoggedIn {
		t.Errorf("protobuf endpoint: %v", st)
	}
	// JSON endpoint: the documented JSON.
	r := e.post(yunhu.PathApply, bad, map[string]any{"chatId": AliceID, "chatType": 1})
	if r.Code != yunhu.CodeNotLoggedIn || r.Msg != yunhu.MsgNotLoggedIn {
		t.Errorf("JSON endpoint: %+v", r)
	}
	// get-user takes any non-empty token (§3.2).
	resp := &yunhupb.GetUserResponse{}
	e.mustOK(yunhu.PathGetUser, "anything", &yunhupb.GetUserRequest{Id: AliceID}, resp)
	if resp.Data.GetName() != "Alice" {
		t.Errorf("get-user: %v", resp)
	}
	// qiniu-token-audio needs no token at all.
	if r := e.json(http.MethodGet, yunhu.PathQiniuTokenAudio, "", nil); r.Code != yunhu.CodeOK {
		t.Errorf("qiniu-token-audio: %+v", r)
	}
}

func TestCustomTokenAndRouting(t *testing.T) {
	const tok = "12345678-1234-4234-8234-123456789012"
	e := newEnv(t, Options{Token: tok})
	if e.s.Self().Token != tok {
		t.Fatalf("Self().Token = %q", e.s.Self().Token)
	}
	if st := e.proto(yunhu.PathUserInfo, DefaultToken, nil, nil); st.GetCode() != yunhu.CodeNotLoggedIn {
		t.Errorf("default token still accepted: %v", st)
	}
	info := &yunhupb.UserInfoResponse{}
	e.mustOK(yunhu.PathUserInfo, tok, nil, info)
	if info.Data.GetId() != SelfID || info.Data.GetCoin() != 12.5 {
		t.Errorf("user/info: %v", info)
	}
	// user/info is GET-only; unknown paths are 404.
	if code, _ := e.do(http.MethodPost, yunhu.PathUserInfo, tok, nil); code != http.StatusNotFound {
		t.Errorf("POST user/info: %d", code)
	}
	if code, _ := e.do(http.MethodPost, "/v1/no/such", tok, nil); code != http.StatusNotFound {
		t.Errorf("unknown path: %d", code)
	}
}

// TestUserInfoWireNumbers decodes user/info with protowire only, pinning
// the numbers of the reference (§3.1) independently of yunhupb: id at 2.1
// and coin as a fixed64 double at 2.8.
func TestUserInfoWireNumbers(t *testing.T) {
	e := newEnv(t, Options{})
	_, b := e.do(http.MethodGet, yunhu.PathUserInfo, DefaultToken, nil)
	data := field(t, b, 2, protowire.BytesType)
	if id := string(field(t, data, 1, protowire.BytesType)); id != SelfID {
		t.Errorf("id = %q", id)
	}
	if coin := field(t, data, 8, protowire.Fixed64Type); len(coin) != 8 {
		t.Errorf("coin is not fixed64: %x", coin)
	}
	st := field(t, b, 1, protowire.BytesType)
	if code := field(t, st, 2, protowire.VarintType); code[0] != 1 {
		t.Errorf("status code = %x", code)
	}
}

// field returns the first occurrence of field num with wire type typ in b:
// the payload for LEN fields, the varint bytes or the fixed bytes otherwise.
func field(t *testing.T, b []byte, num protowire.Number, typ protowire.Type) []byte {
	t.Helper()
	for len(b) > 0 {
		n, ty, l := protowire.ConsumeTag(b)
		if l < 0 {
			t.Fatalf("bad tag in %x", b)
		}
		b = b[l:]
		vl := protowire.ConsumeFieldValue(n, ty, b)
		if vl < 0 {
			t.Fatalf("bad field %d", n)
		}
		if n == num {
			if ty != typ {
				t.Fatalf("field %d has wire type %d, want %d", n, ty, typ)
			}
			if ty == protowire.BytesType {
				v, _ := protowire.ConsumeBytes(b)
				return v
			}
			return b[:vl]
		}
		b = b[vl:]
	}
	t.Fatalf("field %d not found", num)
	return nil
}

func varint(t *testing.T, b []byte, num protowire.Number) uint64 {
	t.Helper()
	v, n := protowire.ConsumeVarint(field(t, b, num, protowire.VarintType))
	if n < 0 {
		t.Fatalf("bad varint")
	}
	return v
}
