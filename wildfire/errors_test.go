package wildfire

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

var sentinels = []error{ErrNotSigned, ErrSignExpired, ErrAuth, ErrNoRight, ErrOverFrequency, ErrInvalidParam, ErrNotExist, ErrRecallExpired}

func TestErrorCodesAreTyped(t *testing.T) {
	cases := []struct {
		code    int
		msg     string
		want    error
		meaning string
	}{
		{239, "api not signed or sign parameter not completion", ErrNotSigned, "not signed"},
		{243, "sign expired", ErrSignExpired, "signature expired"},
		{244, "auth failure", ErrAuth, "signature refused"},
		{248, "no right to operate", ErrNoRight, "no right"},
		{250, "over frequency", ErrOverFrequency, "over frequency"},
		{251, "Invalid parameter", ErrInvalidParam, "invalid parameter"},
		{253, "not exist", ErrNotExist, "not exist"},
		{24, "time expired", ErrRecallExpired, "recall time expired"},
		{9, "not in group", nil, "not in group"},
		{4, "server error", nil, "server error"},
		{777, "brand new", nil, "unknown code"},
	}
	for _, tc := range cases {
		// The failed signature checks answer the nested shape (B.5.13),
		// the others the flat one; both must give the same error.
		shapes := map[string]string{
			"flat":   fmt.Sprintf(`{"code":%d,"msg":%q}`, tc.code, tc.msg),
			"nested": fmt.Sprintf(`{"code":%d,"msg":%q,"result":{"code":%d,"msg":%q}}`, tc.code, tc.msg, tc.code, tc.msg),
		}
		for shape, answer := range shapes {
			t.Run(strconv.Itoa(tc.code)+"/"+shape, func(t *testing.T) {
				f := newFakeIM(t, "robot-secret", "bot1", exchange{path: "/robot/user_info", body: `{"userId":"x"}`, answer: answer})
				_, err := robotClient(f, nil).UserInfo(context.Background(), "x")
				var ae *APIError
				if !errors.As(err, &ae) {
					t.Fatalf("err %T %v is not an *APIError", err, err)
				}
				if ae.Code != tc.code || ae.Msg != tc.msg || ae.Path != "/robot/user_info" || ae.HTTPStatus != 200 {
					t.Fatalf("APIError %+v", ae)
				}
				for _, s := range sentinels {
					if got := errors.Is(err, s); got != (s == tc.want) {
						t.Errorf("errors.Is(err, %v) = %v", s, got)
					}
				}
				text := err.Error()
				if !strings.Contains(text, "code "+strconv.Itoa(tc.code)) || !strings.Contains(text, tc.meaning) ||
					!strings.Contains(text, "/robot/user_info") {
					t.Errorf("error text %q lacks the code, its meaning or the path", text)
				}
			})
		}
	}
}

func TestWrongSecretIsErrAuth(t *testing.T) {
	// A server that really checks the signature, as RobotAction does.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts, _ := strconv.ParseInt(r.Header.Get("timestamp"), 10, 64)
		if r.Header.Get("rid") != "bot1" || Sign(r.Header.Get("nonce"), "the-real-secret", ts) != r.Header.Get("sign") {
			_, _ = w.Write([]byte(`{"code":244,"msg":"auth failure","result":{"code":244,"msg":"auth failure"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"code":0,"msg":"success","result":{"url":"http://x"}}`))
	}))
	defer srv.Close()
	for secret, want := range map[string]error{"the-real-secret": nil, "a-wrong-secret": ErrAuth} {
		c := New(Options{RobotURL: srv.URL, RobotID: "bot1", RobotSecret: secret})
		_, err := c.Callback(context.Background())
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Fatalf("secret %s: err %v, want %v", secret, err, want)
		}
	}
}

func TestHTTP500IsAnAPIErrorWithoutCode(t *testing.T) {
	f := newFakeIM(t, "robot-secret", "bot1",
		// Unknown routes (also the declared but unrouted ones) answer
		// HTTP 500 with an empty body.
		exchange{path: "/robot/group/modify", body: `{"group_id":"g1","type":3,"value":"1"}`, status: 500},
		// A body the server cannot parse answers the exception text.
		exchange{path: "/robot/group/member/quit", body: `{"group_id":""}`, status: 500,
			answer: "java.lang.NullPointerException\n\tat cn.wildfirechat..."},
	)
	c := robotClient(f, nil)
	err := c.ModifyGroup(context.Background(), "g1", ModifyGroupMute, "1")
	var ae *APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 500 || ae.Code != 0 || ae.Msg != "" {
		t.Fatalf("err %#v", err)
	}
	if !strings.Contains(err.Error(), "http 500") || !strings.Contains(err.Error(), "unknown route") {
		t.Fatalf("error text %q", err)
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			t.Fatalf("an HTTP 500 matches %v", s)
		}
	}
	err = c.QuitGroup(context.Background(), "")
	if !errors.As(err, &ae) || ae.HTTPStatus != 500 || !strings.Contains(err.Error(), "NullPointerException") {
		t.Fatalf("err %v", err)
	}
}

func TestAnswerThatIsNoEnvelope(t *testing.T) {
	for _, answer := range []string{`<html>proxy error</html>`, `{"result":{}}`, `[]`, ``} {
		f := newFakeIM(t, "robot-secret", "bot1", exchange{path: "/robot/delete_callback", body: `{}`, answer: answer})
		err := robotClient(f, nil).DeleteCallback(context.Background())
		var ae *APIError
		if err == nil || errors.As(err, &ae) || !strings.Contains(err.Error(), "envelope") {
			t.Fatalf("answer %q: err %v", answer, err)
		}
	}
}

func TestSuccessWithoutResultIsAnError(t *testing.T) {
	f := newFakeIM(t, "robot-secret", "bot1", exchange{path: "/robot/group/get_info", body: `{"groupId":"g1"}`, answer: okEmpty})
	if _, err := robotClient(f, nil).GroupInfo(context.Background(), "g1"); err == nil || !strings.Contains(err.Error(), "without result") {
		t.Fatalf("err %v", err)
	}
}

func TestSignExpiredReportsBothClocks(t *testing.T) {
	serverNow := fixedNow.Add(3*time.Hour + 5*time.Second)
	f := newFakeIM(t, "robot-secret", "bot1",
		exchange{path: "/robot/profile", body: `{}`, answer: `{"code":243,"msg":"sign expired","result":{"code":243,"msg":"sign expired"}}`,
			header: map[string]string{"Date": serverNow.Format(http.TimeFormat)}},
		exchange{path: "/robot/profile", body: `{}`, answer: `{"code":243,"msg":"sign expired","result":{"code":243,"msg":"sign expired"}}`,
			header: map[string]string{"Date": ""}},
	)
	c := robotClient(f, nil)
	_, err := c.Profile(context.Background())
	var ae *APIError
	if !errors.Is(err, ErrSignExpired) || !errors.As(err, &ae) {
		t.Fatalf("err %v", err)
	}
	if !ae.LocalTime.Equal(fixedNow) || !ae.ServerTime.Equal(serverNow.Truncate(time.Second)) {
		t.Fatalf("clocks local %v server %v", ae.LocalTime, ae.ServerTime)
	}
	for _, part := range []string{"2 h", "2026-11-23T10:00:00Z", "2026-11-23T13:00:05Z", "behind by 3h0m5s"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error text %q lacks %q", err, part)
		}
	}
	_, err = c.Profile(context.Background())
	if !errors.Is(err, ErrSignExpired) || !strings.Contains(err.Error(), "no Date header") ||
		!strings.Contains(err.Error(), "2026-11-23T10:00:00Z") {
		t.Fatalf("without Date: %v", err)
	}
}

func TestResponseSizeCap(t *testing.T) {
	big := `{"code":0,"msg":"success","result":{"url":"` + strings.Repeat("a", 200) + `"}}`
	f := newFakeIM(t, "robot-secret", "bot1",
		exchange{path: "/robot/get_callback", body: `{}`, answer: big},
		exchange{path: "/robot/get_callback", body: `{}`, answer: big},
	)
	o := Options{RobotURL: f.srv.URL, RobotID: "bot1", RobotSecret: "robot-secret", Now: func() time.Time { return fixedNow }}
	o.MaxResponse = int64(len(big))
	if url, err := New(o).Callback(context.Background()); err != nil || len(url) != 200 {
		t.Fatalf("an answer of exactly the cap: %d %v", len(url), err)
	}
	o.MaxResponse = int64(len(big)) - 1
	_, err := New(o).Callback(context.Background())
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("an answer over the cap: %v", err)
	}
}

func TestTransportErrorIsNotAnAPIError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := New(Options{RobotURL: url, RobotID: "bot1", RobotSecret: "s"})
	_, err := c.Send(context.Background(), Conversation{Target: "a"}, Payload{Type: 1, SearchableContent: "x"})
	var ae *APIError
	if err == nil || errors.As(err, &ae) || !strings.Contains(err.Error(), "/robot/message/send") {
		t.Fatalf("err %v", err)
	}
}

func TestTimeoutBoundsACall(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c := New(Options{RobotURL: srv.URL, RobotID: "bot1", RobotSecret: "s", Timeout: 50 * time.Millisecond})
	_, err := c.Profile(context.Background())
	// Either the context or the http.Client deadline may fire first.
	var timeout interface{ Timeout() bool }
	if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &timeout) && timeout.Timeout()) {
		t.Fatalf("err %v", err)
	}
}
