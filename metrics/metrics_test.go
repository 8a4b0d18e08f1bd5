package metrics_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/metrics"
)

// TestLabelsBounded: values the hooks are given but do not know become
// fixed labels (an unknown push kind "other", an unregistered action
// "unknown"), and two Metrics share no counter.
func TestLabelsBounded(t *testing.T) {
	m, other := metrics.New(), metrics.New()
	m.OnPush("message")
	m.OnPush("something-new")
	m.OnAction("", 1404, 0)
	m.OnAction("send_msg", 0, 3*time.Millisecond)
	m.OnCall("/v1/msg/send-message", 20*time.Millisecond, errors.New("boom"))
	m.OnBackfill(3)
	m.OnCommit(2, time.Millisecond, nil)
	body := scrape(t, m)
	for _, want := range []string{
		`yunhu_onebot_yunhu_pushes_total{kind="message"} 1`,
		`yunhu_onebot_yunhu_pushes_total{kind="other"} 1`,
		`yunhu_onebot_action_duration_seconds_count{action="unknown",retcode="1404"} 1`,
		`yunhu_onebot_action_duration_seconds_count{action="send_msg",retcode="0"} 1`,
		`yunhu_onebot_yunhu_request_errors_total{endpoint="/v1/msg/send-message"} 1`,
		`yunhu_onebot_backfilled_messages_total 3`,
		`yunhu_onebot_store_commit_duration_seconds_count 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "something-new") {
		t.Error("an unknown push kind became a label")
	}
	if o := scrape(t, other); strings.Contains(o, `kind="message"} 1`) {
		t.Error("a second Metrics sees the first one's counts")
	}
}

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler(metrics.HandlerOptions{Ready: func() error { return nil }}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d, %v", resp.StatusCode, err)
	}
	return string(b)
}
