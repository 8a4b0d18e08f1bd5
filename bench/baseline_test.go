package bench

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yunhu-onebot/yunhu-onebot/e2e"
)

// Baselines: the same loopback work with nothing of ours in it, measured
// in the same run so that the ratios cancel the machine's load out.

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// gorillaStream is a plain gorilla/websocket server writing a size-byte
// event frame to each of clients connections as fast as they read it
// (one WriteMessage per event, as a naive server does), for baseFor. It
// returns the events per second each client received.
func gorillaStream(b *testing.B, clients, size int) float64 {
	event := []byte(`{"post_type":"message","message_type":"group","raw_message":"` + strings.Repeat("x", max(size-80, 1)) + `"}`)
	stop := make(chan struct{})
	var handlers sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		handlers.Add(1)
		defer handlers.Done()
		defer conn.Close()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := conn.WriteMessage(websocket.TextMessage, event); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	var counts = make([]atomic.Int64, clients)
	var readers sync.WaitGroup
	conns := make([]*websocket.Conn, clients)
	for i := range clients {
		c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = c
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
				counts[i].Add(1)
			}
		}()
	}
	time.Sleep(100 * time.Millisecond) // connections up, buffers full
	first := make([]int64, clients)
	for i := range counts {
		first[i] = counts[i].Load()
	}
	start := time.Now()
	time.Sleep(*baseFor)
	elapsed := time.Since(start)
	var total int64
	for i := range counts {
		total += counts[i].Load() - first[i]
	}
	close(stop)
	for _, c := range conns {
		c.Close()
	}
	readers.Wait()
	handlers.Wait()
	return float64(total) / float64(clients) / elapsed.Seconds()
}

// netHTTPBaseline is round trips/s to a plain net/http handler that reads
// the body and answers a fixed OneBot reply, from callers goroutines with
// the client the pipeline benchmarks use.
func netHTTPBaseline(b *testing.B, callers int) float64 {
	reply := []byte(`{"status":"ok","retcode":0,"data":{"message_id":1},"message":"","wording":""}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(reply)
	}))
	defer srv.Close()
	body := []byte(`{"group_id":100000001,"message":"round trip 1"}`)
	_, rate := drive(b, callers, *baseFor, func(ctx context.Context, _ int) error {
		_, _, err := e2e.PostJSON(ctx, srv.URL+"/send_group_msg", "application/json", bytes.NewReader(body))
		return err
	})
	return rate
}

// gorillaEchoBaseline is round trips/s through a plain gorilla/websocket
// server that echoes every frame, with callers goroutines sharing one
// connection through the same client as the pipeline benchmark (the
// server sends a lifecycle frame first, as that client expects).
func gorillaEchoBaseline(b *testing.B, callers int) float64 {
	var handlers sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		handlers.Add(1)
		defer handlers.Done()
		defer conn.Close()
		if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"post_type":"meta_event","meta_event_type":"lifecycle","sub_type":"connect"}`)); err != nil {
			return
		}
		for {
			typ, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if err := conn.WriteMessage(typ, msg); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c, err := e2e.DialWS("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	params := []byte(`{"group_id":100000001,"message":"round trip 1"}`)
	_, rate := drive(b, callers, *baseFor, func(ctx context.Context, _ int) error {
		_, err := c.Call(ctx, "send_group_msg", params)
		return err
	})
	c.Close()
	handlers.Wait()
	return rate
}
