package wukongim

import (
	"bytes"
	"context"
	"encoding/base64"

	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// httpGolden is one exchange of testdata/http.txt.
type httpGolden struct {
	name, method, target string
	body                 string // compact request body; "" for GET
	status               int
	answer               string
}

func loadHTTPGolden(t *testing.T) map[string]httpGolden {
	t.Helper()
	raw, err := os.ReadFile("testdata/http.txt")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]httpGolden{}
	for _, block := range strings.Split(string(raw), "== ")[1:] {
		lines := strings.Split(strings.TrimRight(block, "\n"), "\n")
		if len(lines) != 4 {
			t.Fatalf("bad block %q", block)
		}
		var g httpGolden
		g.name = strings.Fields(lines[0])[0]
		g.method, g.target, _ = strings.Cut(lines[1], " ")
		g.body = strings.TrimSpace(strings.TrimPrefix(lines[2], ">>>"))
		st, ans, _ := strings.Cut(strings.TrimPrefix(lines[3], "<<< "), " ")
		if g.status, err = strconv.Atoi(st); err != nil {
			t.Fatalf("%s: status %q", g.name, st)
		}
		g.answer = ans
		out[g.name] = g
	}
	return out
}

// goldenServer answers exactly one request, checking that it is the
// transcript's request byte for byte, with the transcript's answer.
func goldenServer(t *testing.T, g httpGolden) *HTTP {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != g.method || r.URL.RequestURI() != g.target {
			t.Errorf("%s: request %s %s, want %s %s", g.name, r.Method, r.URL.RequestURI(), g.method, g.target)
		}
		if string(body) != g.body {
			t.Errorf("%s: body\n got %s\nwant %s", g.name, body, g.body)
		}
		if g.method == http.MethodPost && r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: content type %q", g.name, r.Header.Get("Content-Type"))
		}
		w.WriteHeader(g.status)
		_, _ = io.WriteString(w, g.answer)
	}))
	t.Cleanup(srv.Close)
	return NewHTTP(HTTPOptions{BaseURL: srv.URL + "/", Timeout: 5 * time.Second})
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantAPIError checks err is an *APIError with the transcript's status and msg.
func wantAPIError(t *testing.T, err error, path string, status, httpStatus int, msg string) *APIError {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *APIError", err)
	}
	if ae.Path != path || ae.Status != status || ae.HTTPStatus != httpStatus || ae.Msg != msg {
		t.Fatalf("APIError = %+v, want path %s status %d http %d msg %q", ae, path, status, httpStatus, msg)
	}
	return ae
}

const (
	payloadHelloGroup = "eyJ0eXBlIjoxLCJjb250ZW50IjoiaGVsbG8gZ3JvdXAgZnJvbSBhbGljZSJ9"
	payloadImage      = "eyJ0eXBlIjoyLCJ1cmwiOiJodHRwOi8vMTI3LjAuMC4xL2ltZy9jYXQucG5nIiwid2lkdGgiOjY0MCwiaGVpZ2h0Ijo0ODB9"
)

func TestHTTPGolden(t *testing.T) {
	golden := loadHTTPGolden(t)
	ctx := context.Background()
	g1 := func(seq, id int64, cmn, from string, ts int64, payload string) Message {
		return Message{MessageID: id, MessageSeq: seq, ClientMsgNo: cmn, FromUID: from, ChannelID: "g1", ChannelType: 2, Timestamp: ts, Payload: b64(t, payload)}
	}
	m1 := g1(1, 2128029847266529280, "cmn-g-1", "alice", 1796196827, payloadHelloGroup)
	m2 := g1(2, 2128029852534575104, "cmn-g-img", "alice", 1796196828, payloadImage)
	m3 := g1(3, 2128029855156015104, "cmn-g-at", "alice", 1796196829, "eyJ0eXBlIjoxLCJjb250ZW50IjoiQGJvYiBoaSIsIm1lbnRpb24iOnsidWlkcyI6WyJib2IiXX19")
	m4 := g1(4, 2128029857769066496, "9c0d86af78374b578e01aa468f34bc7e0", "alice", 1796196829, payloadHelloGroup)
	m5 := g1(5, 2128029900504829952, "ws-g-1", "bot1", 1796196839, "eyJ0eXBlIjoxLCJjb250ZW50IjoiaGVsbG8gZzEgZnJvbSBib3QxICh3cykifQ==")
	m6 := g1(6, 2128029983501717504, "cmn-g-6", "alice", 1796196859, "eyJ0eXBlIjoxLCJjb250ZW50IjoibXNnIHdoaWxlIGJvdDEtQSBpcyB3ZWRnZWQifQ==")
	p1 := Message{MessageID: 2128029849879580672, MessageSeq: 1, ClientMsgNo: "cmn-p-1", FromUID: "alice", ChannelID: "bot1", ChannelType: 1,
		Timestamp: 1796196827, Payload: b64(t, "eyJ0eXBlIjoxLCJjb250ZW50IjoiaGkgYm90MSwgcHJpdmF0ZSBmcm9tIGFsaWNlIn0=")}
	p2 := Message{MessageID: 2128029903445037056, MessageSeq: 2, ClientMsgNo: "ws-p-1", FromUID: "bot1", ChannelID: "alice", ChannelType: 1,
		Timestamp: 1796196840, Payload: b64(t, "eyJ0eXBlIjoxLCJjb250ZW50IjoiaGkgYWxpY2UgZnJvbSBib3QxICh3cykifQ==")}

	// messagesync reads seq 2 back with red_dot 1, /messages with 0 (fact 15).
	p2RedDot := p2
	p2RedDot.Header.RedDot = true

	cases := []struct {
		name string
		call func(c *HTTP) (any, error)
		want any                           // the parsed result, when the call succeeds
		fail func(t *testing.T, err error) // checks the error, when it fails
	}{
		{name: "token_bot1", call: func(c *HTTP) (any, error) { return nil, c.RegisterToken(ctx, "bot1", "bot1tok", 2, 1) }},
		{name: "channel_create_g1", call: func(c *HTTP) (any, error) { return nil, c.CreateChannel(ctx, "g1", 2, []string{"bot1", "alice"}) }},
		{name: "channel_create_g2", call: func(c *HTTP) (any, error) { return nil, c.CreateChannel(ctx, "g2", 2, nil) }},
		{name: "channel_create_type0", call: func(c *HTTP) (any, error) { return nil, c.CreateChannel(ctx, "g9", 0, nil) },
			fail: func(t *testing.T, err error) { wantAPIError(t, err, "/channel", 400, 400, "频道类型错误！") }},
		{name: "subscriber_add_bob", call: func(c *HTTP) (any, error) { return nil, c.AddSubscribers(ctx, "g1", 2, []string{"bob"}) }},
		{name: "subscriber_add_empty", call: func(c *HTTP) (any, error) { return nil, c.AddSubscribers(ctx, "g1", 2, nil) },
			fail: func(t *testing.T, err error) {
				wantAPIError(t, err, "/channel/subscriber_add", 400, 400, "订阅者不能为空！")
			}},
		{name: "subscriber_remove_carol", call: func(c *HTTP) (any, error) { return nil, c.RemoveSubscribers(ctx, "g1", 2, []string{"carol"}) }},
		{name: "blacklist_add_alice", call: func(c *HTTP) (any, error) { return nil, c.BlacklistAdd(ctx, "g1", 2, []string{"alice"}) }},
		{name: "blacklist_remove_alice", call: func(c *HTTP) (any, error) { return nil, c.BlacklistRemove(ctx, "g1", 2, []string{"alice"}) }},
		{name: "blacklist_add_empty", call: func(c *HTTP) (any, error) { return nil, c.BlacklistAdd(ctx, "g1", 2, []string{}) },
			fail: func(t *testing.T, err error) {
				wantAPIError(t, err, "/channel/blacklist_add", 400, 400, "uids不能为空！")
			}},
		{name: "send_full_header", call: func(c *HTTP) (any, error) {
			return c.Send(ctx, SendRequest{Header: Header{RedDot: true}, FromUID: "alice", ChannelID: "g1", ChannelType: 2,
				ClientMsgNo: "cmn-g-1", Payload: b64(t, payloadHelloGroup)})
		}, want: SendResult{MessageID: 2128029847266529280, ClientMsgNo: "cmn-g-1"}},
		{name: "send_no_header", call: func(c *HTTP) (any, error) {
			return c.Send(ctx, SendRequest{FromUID: "alice", ChannelID: "g1", ChannelType: 2, ClientMsgNo: "cmn-g-img", Payload: b64(t, payloadImage)})
		}, want: SendResult{MessageID: 2128029852534575104, ClientMsgNo: "cmn-g-img"}},
		{name: "send_no_client_msg_no", call: func(c *HTTP) (any, error) {
			return c.Send(ctx, SendRequest{FromUID: "alice", ChannelID: "g1", ChannelType: 2, Payload: b64(t, payloadHelloGroup)})
		}, want: SendResult{MessageID: 2128029857769066496, ClientMsgNo: "9c0d86af78374b578e01aa468f34bc7e0"}},
		{name: "send_missing_payload", call: func(c *HTTP) (any, error) {
			return c.Send(ctx, SendRequest{FromUID: "alice", ChannelID: "g1", ChannelType: 2})
		}, fail: func(t *testing.T, err error) {
			wantAPIError(t, err, "/message/send", 400, 400, "payload不能为空！")
		}},
		{name: "messagesync_down_all", call: func(c *HTTP) (any, error) {
			return c.MessageSync(ctx, SyncRequest{LoginUID: "bot1", ChannelID: "g1", ChannelType: 2, Limit: 100, PullMode: PullDown})
		}, want: SyncResult{Messages: []Message{m1, m2, m3, m4, m5, m6}}},
		{name: "messagesync_down_start6_limit3", call: func(c *HTTP) (any, error) {
			return c.MessageSync(ctx, SyncRequest{LoginUID: "bot1", ChannelID: "g1", ChannelType: 2, StartSeq: 6, Limit: 3, PullMode: PullDown})
		}, want: SyncResult{Messages: []Message{m4, m5, m6}, More: true}},
		{name: "messagesync_private_bot1", call: func(c *HTTP) (any, error) {
			r, err := c.MessageSync(ctx, SyncRequest{LoginUID: "bot1", ChannelID: "alice", ChannelType: 1, Limit: 100, PullMode: PullUp})
			if len(r.Messages) < 2 {
				return r.Messages, err
			}
			return r.Messages[:2], err
		}, want: []Message{p1, p2RedDot}},
		{name: "messagesync_no_login_uid", call: func(c *HTTP) (any, error) {
			return c.MessageSync(ctx, SyncRequest{ChannelID: "alice", ChannelType: 1, Limit: 100, PullMode: PullUp})
		}, fail: func(t *testing.T, err error) {
			wantAPIError(t, err, "/channel/messagesync", 400, 400, "login_uid不能为空！")
		}},
		{name: "messagesync_never", call: func(c *HTTP) (any, error) {
			return c.MessageSync(ctx, SyncRequest{LoginUID: "bot1", ChannelID: "never", ChannelType: 2, Limit: 10})
		}, want: SyncResult{Messages: []Message{}}},
		{name: "messages_g1", call: func(c *HTTP) (any, error) { return c.MessagesBySeq(ctx, "", "g1", 2, []int64{1, 3, 99}) },
			want: []Message{m1, m3}},
		{name: "messages_private", call: func(c *HTTP) (any, error) { return c.MessagesBySeq(ctx, "bot1", "alice", 1, []int64{1, 2}) },
			want: []Message{p1, p2}},
		{name: "max_seq_g1", call: func(c *HTTP) (any, error) { return c.MaxMessageSeq(ctx, "", "g1", 2) }, want: int64(6)},
		{name: "max_seq_private", call: func(c *HTTP) (any, error) { return c.MaxMessageSeq(ctx, "bot1", "alice", 1) }, want: int64(4)},
		{name: "max_seq_unknown", call: func(c *HTTP) (any, error) { return c.MaxMessageSeq(ctx, "", "nope", 2) },
			fail: func(t *testing.T, err error) {
				wantAPIError(t, err, "/channel/max_message_seq", 400, 400, "not found")
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("%v is not ErrNotFound", err)
				}
			}},
		{name: "conversation_sync_nobody", call: func(c *HTTP) (any, error) { return c.ConversationSync(ctx, "nobody", 1) },
			want: []Conversation{}},
		{name: "conversation_sync_no_uid", call: func(c *HTTP) (any, error) { return c.ConversationSync(ctx, "", 1) },
			fail: func(t *testing.T, err error) {
				wantAPIError(t, err, "/conversation/sync", 500, 500, "")
				if errors.Is(err, ErrNotFound) {
					t.Errorf("%v is ErrNotFound", err)
				}
			}},
		{name: "byclientmsgno_unknown", call: func(c *HTTP) (any, error) { return c.MessageByClientMsgNo(ctx, "g1", 2, "nope") },
			fail: func(t *testing.T, err error) {
				wantAPIError(t, err, "/message/byclientmsgno", 404, 200, "")
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("%v is not ErrNotFound", err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, ok := golden[tc.name]
			if !ok {
				t.Fatalf("no golden exchange %s", tc.name)
			}
			got, err := tc.call(goldenServer(t, g))
			if tc.fail != nil {
				if err == nil {
					t.Fatalf("no error; got %+v", got)
				}
				tc.fail(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("result\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestHTTPGoldenConversationSync checks the full parse of a conversation
// list: peer ids for private entries, recents keeping the as-addressed id.
func TestHTTPGoldenConversationSync(t *testing.T) {
	c := goldenServer(t, loadHTTPGolden(t)["conversation_sync_bot1"])
	convs, err := c.ConversationSync(context.Background(), "bot1", 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []Conversation{
		{ChannelID: "alice", ChannelType: 1, Unread: 0, Timestamp: 1796196865, LastMsgSeq: 4, Recents: []Message{{
			MessageID: 2128030008667541504, MessageSeq: 4, ClientMsgNo: "cmn-p-2", FromUID: "bot1", ChannelID: "alice", ChannelType: 1,
			Timestamp: 1796196865, Payload: b64(t, "eyJ0eXBlIjoxLCJjb250ZW50IjoiaHR0cCBwcml2YXRlIGJvdDEgLT4gYWxpY2UifQ=="),
		}}},
		{ChannelID: "g1", ChannelType: 2, Unread: 1, Timestamp: 1796196859, LastMsgSeq: 6, Recents: []Message{{
			MessageID: 2128029983501717504, MessageSeq: 6, ClientMsgNo: "cmn-g-6", FromUID: "alice", ChannelID: "g1", ChannelType: 2,
			Timestamp: 1796196859, Payload: b64(t, "eyJ0eXBlIjoxLCJjb250ZW50IjoibXNnIHdoaWxlIGJvdDEtQSBpcyB3ZWRnZWQifQ=="),
		}}},
		{ChannelID: "bob", ChannelType: 1, Unread: 0, Timestamp: 1796196865, LastMsgSeq: 1, Recents: []Message{{
			MessageID: 2128030008105504769, MessageSeq: 1, ClientMsgNo: "cf0dca818ce44f5ea21bf398225baec60", FromUID: "bot1", ChannelID: "bob",
			ChannelType: 1, Timestamp: 1796196865, Payload: b64(t, "eyJ0eXBlIjoxLCJjb250ZW50IjoiYmF0Y2ggbm90aWNlIGZyb20gYm90MSJ9"),
		}}},
	}
	if !reflect.DeepEqual(convs, want) {
		t.Errorf("conversations\n got %+v\nwant %+v", convs, want)
	}
}

// TestHTTPGoldenHeaderFlags checks 0/1 header flags are parsed: the
// byclientmsgno answer is reused with red_dot and sync_once set, as
// messagesync shows them for messages sent while everyone was offline
// (fact 15).
func TestHTTPGoldenHeaderFlags(t *testing.T) {
	g := httpGolden{name: "byclientmsgno_flags", method: http.MethodGet,
		target: "/message/byclientmsgno?channel_id=bot1%40alice&channel_type=1&client_msg_no=cmn-p-1", status: 200,
		// §1.8 "message/byclientmsgno private with internal fake channel id bot1@alice", flags set.
		answer: `{"header":{"no_persist":0,"red_dot":1,"sync_once":1},"setting":0,"message_id":2128029849879580672,"message_idstr":"2128029849879580672","client_msg_no":"cmn-p-1","message_seq":1,"from_uid":"alice","channel_id":"bot1","channel_type":1,"expire":0,"timestamp":1796196827,"payload":"eyJ0eXBlIjoxLCJjb250ZW50IjoiaGkgYm90MSwgcHJpdmF0ZSBmcm9tIGFsaWNlIn0="}`}
	m, err := goldenServer(t, g).MessageByClientMsgNo(context.Background(), PrivateChannelID("alice", "bot1"), 1, "cmn-p-1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Header != (Header{RedDot: true, SyncOnce: true}) || m.MessageID != 2128029849879580672 || m.ChannelID != "bot1" || m.FromUID != "alice" {
		t.Errorf("message = %+v", m)
	}
}

// TestHTTPUnknownRoute: the server's plain-text 404 (§1.12 "ERR unknown
// route") is an APIError but not ErrNotFound: it means a wrong URL.
func TestHTTPUnknownRoute(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "404 page not found")
	}))
	defer srv.Close()
	_, err := NewHTTP(HTTPOptions{BaseURL: srv.URL}).Send(context.Background(), SendRequest{FromUID: "a", ChannelID: "g1", ChannelType: 2, Payload: []byte("x")})
	wantAPIError(t, err, "/message/send", 404, 404, "404 page not found")
	if errors.Is(err, ErrNotFound) {
		t.Errorf("%v is ErrNotFound", err)
	}
}

// TestHTTPAnswerBounded: an endless answer is cut off with an error
// instead of being read into memory.
func TestHTTPAnswerBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"message_seq":1`)
		chunk := bytes.Repeat([]byte(" "), 1<<20)
		for i := 0; i <= maxReply>>20; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = io.WriteString(w, "}")
	}))
	defer srv.Close()
	_, err := NewHTTP(HTTPOptions{BaseURL: srv.URL}).MaxMessageSeq(context.Background(), "", "g1", 2)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
}

// TestHTTPBadMessageID: a message whose two id forms disagree is an error,
// not a silently wrong id.
func TestHTTPBadMessageID(t *testing.T) {
	g := loadHTTPGolden(t)["messages_g1"]
	g.answer = strings.Replace(g.answer, `"message_idstr":"2128029847266529280"`, `"message_idstr":"2128029847266529281"`, 1)
	_, err := goldenServer(t, g).MessagesBySeq(context.Background(), "", "g1", 2, []int64{1, 3, 99})
	if err == nil || !strings.Contains(err.Error(), "differ") {
		t.Fatalf("err = %v", err)
	}
}

// TestPrivateChannelID checks the internal ids the transcript shows (§1.8).
func TestPrivateChannelID(t *testing.T) {
	for _, tc := range [][3]string{{"bot1", "alice", "bot1@alice"}, {"alice", "bot1", "bot1@alice"}, {"bob", "bot1", "bob@bot1"}, {"bot1", "bob", "bob@bot1"}} {
		if got := PrivateChannelID(tc[0], tc[1]); got != tc[2] {
			t.Errorf("PrivateChannelID(%s, %s) = %s, want %s", tc[0], tc[1], got, tc[2])
		}
	}
}

func TestReasonError(t *testing.T) {
	for _, tc := range []struct {
		code       int
		name, text string
	}{
		{3, "SubscriberNotExist", "not a member of the channel"},
		{4, "InBlacklist", "blacklisted in the channel"},
		{12, "ConnectKick", "another device logged in"},
		{14, "QueryTokenError", "reason code 14"},
		{99, "ReasonCode(99)", "reason code 99"},
	} {
		e := &ReasonError{Code: tc.code}
		if e.Name() != tc.name || !strings.Contains(e.Error(), tc.text) || !strings.Contains(e.Error(), tc.name) {
			t.Errorf("code %d: name %q error %q", tc.code, e.Name(), e.Error())
		}
	}
}
