package yunhu_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// TestConcurrentCallsReuseConnections runs 16 calls at once, twice. The
// server holds each call until all 16 have arrived, so the first round
// needs 16 connections; the second must find them all idle in the pool
// instead of dialling again (Go's default keeps only two per host).
func TestConcurrentCallsReuseConnections(t *testing.T) {
	const calls = 16
	s := sim.New(sim.Options{Log: zaptest.NewLogger(t)})
	var dialled atomic.Int64
	var mu sync.Mutex
	var arrived int
	gate := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == yunhu.PathAddressBookList {
			mu.Lock()
			if arrived++; arrived == calls {
				close(gate)
			}
			g := gate
			mu.Unlock()
			select {
			case <-g:
			case <-time.After(10 * time.Second):
				http.Error(w, "not all calls arrived", http.StatusServiceUnavailable)
				return
			}
		}
		s.Handler().ServeHTTP(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			dialled.Add(1)
		}
	}
	srv.Start() // 127.0.0.1 only
	t.Cleanup(func() {
		s.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	urls := sim.Endpoints(srv.URL)
	c := yunhu.New(yunhu.Options{
		APIURL: urls.API, WSURL: urls.WS, UploadURL: urls.Upload,
		Token: sim.DefaultToken, Platform: "linux", Timeout: 15 * time.Second,
		Log: zaptest.NewLogger(t),
	})
	t.Cleanup(c.Close)
	ctx := ctxT(t)

	round := func() {
		t.Helper()
		mu.Lock()
		arrived, gate = 0, make(chan struct{})
		mu.Unlock()
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.AddressBook(ctx); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	round()
	first := dialled.Load()
	if first < calls {
		t.Fatalf("the first round opened %d connections for %d simultaneous calls", first, calls)
	}
	round()
	if more := dialled.Load() - first; more != 0 {
		t.Errorf("the second round opened %d new connections; want all %d reused", more, calls)
	}
}
