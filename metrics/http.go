package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// HandlerOptions configures Handler.
type HandlerOptions struct {
	// Ready says whether the daemon can serve its bots: nil when logged in
	// with the push socket connected, else why not (a short sentence for
	// /readyz; no secrets).
	Ready func() error
	// Log receives errors of the metrics exposition.
	Log *zap.Logger
}

// Handler serves:
//
//	GET /metrics  the metrics, in the Prometheus text (or OpenMetrics) format
//	GET /healthz  200 "ok" while the process serves at all (liveness)
//	GET /readyz   200 "ok" when Ready says so, else 503 with the reason
//
// and 404 for anything else. It is meant for a loopback or otherwise
// trusted listener: it has no authentication, and tells nothing secret.
func (m *Metrics) Handler(opts HandlerOptions) http.Handler {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      zap.NewStdLog(opts.Log),
		ErrorHandling: promhttp.ContinueOnError,
		// A scrape reads counters; a handful at once is plenty, and the
		// bound keeps a runaway scraper from piling up goroutines.
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		plain(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if opts.Ready != nil {
			if err := opts.Ready(); err != nil {
				plain(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
				return
			}
		}
		plain(w, http.StatusOK, "ok")
	})
	return mux
}

func plain(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text + "\n"))
}
