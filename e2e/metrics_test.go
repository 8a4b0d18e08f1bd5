package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// get fetches url and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// series is one scrape of /metrics in the text exposition format: each
// sample's value by its series exactly as written, name{labels}.
type series map[string]float64

func scrape(t *testing.T, s *Stack) series {
	t.Helper()
	status, body := get(t, s.MetricsURL+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d: %s", status, body)
	}
	out := series{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("/metrics: malformed line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics: malformed value in %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// need returns the value of a series that must be present.
func (m series) need(t *testing.T, name string) float64 {
	t.Helper()
	v, ok := m[name]
	if !ok {
		t.Fatalf("/metrics has no series %s", name)
	}
	return v
}

// TestMetricsScrape drives the pipeline as a framework and Yunhu would (a
// forward WS client connects, a user writes, actions are called, some
// under names that do not exist) and checks, on the real /metrics over
// loopback, that each series moved by exactly what was done, and that
// the names clients invent never become label values.
func TestMetricsScrape(t *testing.T) {
	s := Start(t, Options{Metrics: true})
	if status, body := get(t, s.MetricsURL+"/healthz"); status != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz: HTTP %d %q, want 200 ok", status, body)
	}
	if status, body := get(t, s.MetricsURL+"/readyz"); status != http.StatusOK || body != "ok\n" {
		t.Fatalf("/readyz once logged in: HTTP %d %q, want 200 ok", status, body)
	}
	before := scrape(t, s)
	if v := before.need(t, "yunhu_onebot_ready"); v != 1 {
		t.Errorf("yunhu_onebot_ready = %v once logged in, want 1", v)
	}
	// Logging in asked Yunhu who the account is.
	if v := before.need(t, `yunhu_onebot_yunhu_request_duration_seconds_count{endpoint="/v1/user/info"}`); v < 1 {
		t.Errorf("user/info calls = %v after login, want at least 1", v)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "process_open_fds"} {
		before.need(t, name)
	}

	var events atomic.Int64
	c, err := DialWS(s.WSURL+"/", func(raw []byte) {
		if strings.Contains(string(raw), `"post_type":"message"`) {
			events.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	WaitFor(t, "the WS client to show as connected", func() bool {
		return scrape(t, s)[`yunhu_onebot_clients_connected{transport="ws"}`] == 1
	})

	s.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "hello metrics"})
	WaitFor(t, "the message event on the WS client", func() bool { return events.Load() == 1 })
	s.MustHTTP("get_login_info", `{}`)
	const unknown = 50
	for i := range unknown {
		if status, r := s.HTTP(fmt.Sprintf("no_such_action_%d", i), `{}`); status != http.StatusNotFound || r.Retcode != 1404 {
			t.Fatalf("unknown action: HTTP %d retcode %d, want 404 1404", status, r.Retcode)
		}
	}

	after := scrape(t, s)
	delta := func(name string) float64 { t.Helper(); return after.need(t, name) - before[name] }
	for _, c := range []struct {
		series string
		want   float64
	}{
		{`yunhu_onebot_yunhu_pushes_total{kind="message"}`, 1},
		{`yunhu_onebot_events_published_total{transport="ws"}`, 1},
		{`yunhu_onebot_events_dropped_total{transport="ws"}`, 0},
		{`yunhu_onebot_action_duration_seconds_count{action="get_login_info",retcode="0"}`, 1},
		{`yunhu_onebot_action_duration_seconds_count{action="unknown",retcode="1404"}`, unknown},
	} {
		if got := delta(c.series); got != c.want {
			t.Errorf("%s grew by %v, want %v", c.series, got, c.want)
		}
	}
	if v := after.need(t, `yunhu_onebot_clients_connected{transport="ws"}`); v != 1 {
		t.Errorf("ws clients connected = %v, want 1", v)
	}
	if v := after.need(t, `yunhu_onebot_event_queue_depth{transport="ws"}`); v != 0 {
		t.Errorf("ws queue depth = %v after delivery, want 0", v)
	}
	// The message was stored before it was published.
	if d := delta("yunhu_onebot_store_commit_duration_seconds_count"); d < 1 {
		t.Errorf("store commits grew by %v, want at least 1", d)
	}
	// Cardinality: the invented names are nowhere, and every action label
	// is a registered name or "unknown".
	registered := map[string]bool{"unknown": true}
	for _, name := range s.Router.Actions() {
		registered[name] = true
	}
	for k := range after {
		if strings.Contains(k, "no_such_action") {
			t.Fatalf("a client-chosen action name became a label: %s", k)
		}
		if _, rest, ok := strings.Cut(k, `action="`); ok {
			name, _, _ := strings.Cut(rest, `"`)
			if !registered[name] {
				t.Errorf("action label %q is not a registered name", name)
			}
		}
	}
}

// TestReadyzPushDrop takes the push socket away (the simulator drops it
// and refuses every reconnect): /readyz answers 503 with the reason while
// it is down, the reconnects are counted, and once Yunhu takes the socket
// again /readyz is 200 and the message written meanwhile is counted as
// backfilled.
func TestReadyzPushDrop(t *testing.T) {
	s := Start(t, Options{Metrics: true})
	before := scrape(t, s)
	s.Sim.FailNext(1_000_000, http.StatusServiceUnavailable, sim.PathWS)
	if n := s.Sim.DropAll(); n == 0 {
		t.Fatal("DropAll closed no socket")
	}
	s.WaitFor("the bridge to see the socket down", func() bool { return !s.Online() })
	status, body := get(t, s.MetricsURL+"/readyz")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "push socket is not connected") {
		t.Fatalf("/readyz with the socket down: HTTP %d %q, want 503 naming the push socket", status, body)
	}
	if status, _ := get(t, s.MetricsURL+"/healthz"); status != http.StatusOK {
		t.Errorf("/healthz with the socket down: HTTP %d, want 200 (the process is alive)", status)
	}
	s.WaitFor("a failed reconnect to be counted", func() bool {
		return scrape(t, s)["yunhu_onebot_yunhu_push_reconnects_total"] > before["yunhu_onebot_yunhu_push_reconnects_total"]
	})
	if v := scrape(t, s).need(t, "yunhu_onebot_ready"); v != 0 {
		t.Errorf("yunhu_onebot_ready = %v with the socket down, want 0", v)
	}

	s.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "while you were away"})
	s.Sim.ClearFaults()
	s.WaitFor("the push socket back", s.Online)
	WaitFor(t, "the missed message to be backfilled", func() bool {
		return scrape(t, s)["yunhu_onebot_backfilled_messages_total"]-before["yunhu_onebot_backfilled_messages_total"] == 1
	})
	if status, body := get(t, s.MetricsURL+"/readyz"); status != http.StatusOK {
		t.Fatalf("/readyz with the socket back: HTTP %d %q, want 200", status, body)
	}
}

// TestReadyzBeforeLogin holds the login (Yunhu's user/info never
// answers): the process is alive, but not ready, and says why.
func TestReadyzBeforeLogin(t *testing.T) {
	sm := NewSim(t)
	sm.Sim.HangNext(1, yunhu.PathUserInfo)
	s := Start(t, Options{Sim: sm, Metrics: true, NoWait: true})
	if status, _ := get(t, s.MetricsURL+"/healthz"); status != http.StatusOK {
		t.Errorf("/healthz before login: HTTP %d, want 200", status)
	}
	status, body := get(t, s.MetricsURL+"/readyz")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "not logged in") {
		t.Fatalf("/readyz before login: HTTP %d %q, want 503 not logged in", status, body)
	}
	if v := scrape(t, s).need(t, "yunhu_onebot_ready"); v != 0 {
		t.Errorf("yunhu_onebot_ready = %v before login, want 0", v)
	}
}

// TestMessageLog checks log.messages: with it on, a message received and
// one sent each print an info line with the chat, sender, message_id and
// a preview clipped to 40 characters; with it off, neither does.
func TestMessageLog(t *testing.T) {
	long := strings.Repeat("一二三四五六七八九十", 6) // 60 runes
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("messages=%v", on), func(t *testing.T) {
			core, logs := observer.New(zapcore.InfoLevel)
			s := Start(t, Options{Log: zap.New(core), Config: func(c *config.Config) { c.Log.Messages = on }})
			var events atomic.Int64
			c, err := DialWS(s.WSURL+"/", func(raw []byte) {
				if strings.Contains(string(raw), `"post_type":"message"`) {
					events.Add(1)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: long})
			// The bridge logs a message before it publishes its event.
			WaitFor(t, "the message event", func() bool { return events.Load() == 1 })
			s.MustHTTP("send_group_msg", `{"group_id":`+sim.GroupOwnedID+`,"message":"hi from the bot"}`)
			// The send's echo comes back as a message event when it is
			// processed (report-self-message is off: it is not reported, so
			// wait for a marker from Alice behind it).
			s.Inject(sim.Message{From: sim.AliceID, ChatID: sim.GroupOwnedID, Text: "marker"})
			WaitFor(t, "the marker event", func() bool { return events.Load() == 2 })
			s.Stop()
			recv := logs.FilterMessage("message received").AllUntimed()
			sent := logs.FilterMessage("message sent").AllUntimed()
			if !on {
				if len(recv)+len(sent) != 0 {
					t.Fatalf("log.messages off, yet %d received and %d sent lines", len(recv), len(sent))
				}
				return
			}
			// Alice's two messages; the echo of the bot's own send is not
			// logged again as received.
			if len(recv) != 2 || len(sent) != 1 {
				t.Fatalf("%d received and %d sent lines, want 2 and 1", len(recv), len(sent))
			}
			rf := recv[0].ContextMap()
			wantText := string([]rune(long)[:40]) + "…"
			if rf["text"] != wantText || rf["chat"] != "group "+sim.GroupOwnedID || !strings.Contains(fmt.Sprint(rf["sender"]), sim.AliceID) {
				t.Errorf("received line %v, want chat group %s, sender %s, text %q", rf, sim.GroupOwnedID, sim.AliceID, wantText)
			}
			if _, ok := rf["message_id"]; !ok {
				t.Errorf("received line %v has no message_id", rf)
			}
			sf := sent[0].ContextMap()
			if sf["text"] != "hi from the bot" || sf["chat"] != "group "+sim.GroupOwnedID {
				t.Errorf("sent line %v, want chat group %s, text %q", sf, sim.GroupOwnedID, "hi from the bot")
			}
		})
	}
}
