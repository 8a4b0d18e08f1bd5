package sim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"go.uber.org/zap"
)

// Callback kinds.
const (
	// KindMessage is a robot callback: OutputMessageData to the robot's
	// callback URL.
	KindMessage = "message"
	// KindRecall is a recall forward: OutputRecallMessageData to
	// Options.RecallForwardURL.
	KindRecall = "recall"
)

// Callback is one POST the server made (or tried to make). The server
// neither signs nor retries them; a failure is only recorded here.
type Callback struct {
	Seq    int64  // order in which the server queued it, from 1
	Kind   string // KindMessage or KindRecall
	Robot  string // the robot it is for ("" for a recall forward)
	URL    string
	Body   []byte
	Status int    // the target's HTTP status; 0 when no answer came
	Err    string // why no answer came (transport error, queue full, closed)
	Done   bool   // the attempt is over (answered or failed)

	evicted bool // no longer kept: its finish does not count
}

type cbJob struct{ rec *Callback }

// enqueueLocked records a post and hands it to the workers; with the queue
// full it is dropped and recorded as failed, like a saturated executor.
func (s *Server) enqueueLocked(kind, robotID, url string, body []byte) {
	s.cbSeq++
	rec := &Callback{Seq: s.cbSeq, Kind: kind, Robot: robotID, URL: url, Body: body}
	s.callbacks = append(s.callbacks, rec)
	if over := len(s.callbacks) - s.opts.MaxCallbackRecords; over > 0 {
		for _, old := range s.callbacks[:over] {
			old.evicted = true
			if old.Done {
				s.cbDone--
			}
		}
		s.callbacks = append([]*Callback(nil), s.callbacks[over:]...)
	}
	if s.closed {
		s.finishLocked(rec, 0, "server closed")
		return
	}
	select {
	case s.jobs <- cbJob{rec: rec}:
	default:
		s.log.Warn("callback queue full, dropping a post", zap.String("url", url))
		s.finishLocked(rec, 0, "callback queue full")
	}
	s.notifyLocked()
}

func (s *Server) finishLocked(rec *Callback, status int, errText string) {
	if rec.Done {
		return
	}
	rec.Status, rec.Err, rec.Done = status, errText, true
	if !rec.evicted {
		s.cbDone++
	}
	s.notifyLocked()
}

// postLoop delivers queued posts until Close.
func (s *Server) postLoop(client *http.Client) {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			s.drain()
			return
		case job := <-s.jobs:
			status, errText := s.post(client, job.rec)
			s.mu.Lock()
			s.finishLocked(job.rec, status, errText)
			s.mu.Unlock()
		}
	}
}

// drain marks what is still queued as not delivered.
func (s *Server) drain() {
	for {
		select {
		case job := <-s.jobs:
			s.mu.Lock()
			s.finishLocked(job.rec, 0, "server closed")
			s.mu.Unlock()
		default:
			return
		}
	}
}

func (s *Server) post(client *http.Client, rec *Callback) (int, string) {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, rec.URL, bytes.NewReader(rec.Body))
	if err != nil {
		return 0, err.Error()
	}
	// OkHttp's JSON body type; nothing else identifies the server.
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := client.Do(req)
	if err != nil {
		s.log.Debug("callback post failed", zap.String("url", rec.URL), zap.Error(err))
		return 0, err.Error()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	return resp.StatusCode, ""
}

// Callbacks lists the posts kept (at most Options.MaxCallbackRecords), in
// the order the server queued them, finished or not.
func (s *Server) Callbacks() []Callback {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Callback, len(s.callbacks))
	for i, r := range s.callbacks {
		out[i] = *r
		out[i].Body = append([]byte(nil), r.Body...)
	}
	return out
}

// WaitCallbacks blocks until at least n kept posts are finished (answered
// or failed) and returns the finished ones in queue order.
func (s *Server) WaitCallbacks(ctx context.Context, n int) ([]Callback, error) {
	err := s.waitFor(ctx, func() bool { return s.cbDone >= int64(n) })
	if err != nil {
		return nil, fmt.Errorf("wfsim: waiting for %d finished callbacks: %w", n, err)
	}
	var out []Callback
	for _, c := range s.Callbacks() {
		if c.Done {
			out = append(out, c)
		}
	}
	return out, nil
}
