package sim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// Defaults for Options fields left zero.
const (
	// DefaultIdleTimeout drops push sessions that sent nothing for this long.
	// The real clients heartbeat every 30 s and treat 70 s of silence as dead;
	// 90 s is the figure YUNHU-WIRE.md §8.2 suggests for the server side.
	DefaultIdleTimeout = 90 * time.Second
	// DefaultWriteTimeout bounds every WebSocket frame write.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultMaxUploadBytes caps one upload (the real cap depends on VIP
	// status and kind; 64 MiB is above every non-VIP limit of /v1/misc/setting).
	DefaultMaxUploadBytes = 64 << 20
	// sendQueueDepth is how many frames one push session may have queued
	// before it is treated as a stalled consumer and dropped.
	sendQueueDepth = 1024
	// maxBody bounds REST request bodies; real bodies are a few KiB.
	maxBody = 8 << 20
)

// Paths served besides the REST API. The REST paths themselves come from
// yunhu/wire.go; the few below are not used by the client and therefore not
// part of the shared wire constants.
const (
	// PathWS is the push socket, stand-in for wss://chat-ws-go.jwzhd.com/ws.
	PathWS = "/ws"
	// PathUpload is the fake Qiniu upload host (multipart POST, §5.3).
	PathUpload = "/upload"
	// PathCDN prefixes the fake CDN; objects are served under
	// /cdn/img/, /cdn/file/, /cdn/audio/ and /cdn/video/ (§1.1).
	PathCDN = "/cdn/"

	pathConfigure       = "/v1/misc/configure-distribution"
	pathQiniuGroupDisk  = "/v1/misc/qiniu-token-group-disk"
	pathAgreeInvite     = "/v1/group/agree-invite"
	pathMsgTypeLimit    = "/v1/group/msg-type-limit"
	pathEditMyNickname  = yunhu.PathGroupEditMyNickname
	pathDeleteRequest   = "/v1/friend/delete-request"
	pathConversationDel = "/v1/conversation/remove"
)

// Options configures a Server. The zero value is usable.
type Options struct {
	// Token is the self account's token; "" means DefaultToken.
	Token string
	// Log receives the simulator's diagnostics; nil discards them.
	Log *zap.Logger
	// Now is the clock; nil means time.Now. Message times, gag ends and
	// upload token deadlines all come from it.
	Now func() time.Time
	// PublicURL is the base URL clients reach the handler at (e.g. the
	// sandbox's listen address). It is used to build media URLs in records
	// and pushes. "" means: derive it from each request's Host.
	PublicURL string
	// IdleTimeout drops a push session that sent no frame for this long;
	// 0 means DefaultIdleTimeout, negative disables the check.
	IdleTimeout time.Duration
	// WriteTimeout bounds each WebSocket write; 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxUploadBytes caps one upload; 0 means DefaultMaxUploadBytes.
	MaxUploadBytes int64
}

// Server is an in-process Yunhu server. Create it with New, serve
// Handler() (typically with httptest.NewServer), and Close it when done.
// All methods are safe for concurrent use.
type Server struct {
	log          *zap.Logger
	now          func() time.Time
	publicURL    string
	idleTimeout  time.Duration
	writeTimeout time.Duration
	maxUpload    int64
	routes       map[string]route // immutable after New
	qiniuAK      string           // immutable after New
	qiniuSK      []byte           // immutable after New

	wg sync.WaitGroup // every in-flight request, including WebSocket sessions

	mu      sync.Mutex // guards the following fields and all world/store state
	closed  bool
	closing chan struct{} // closed by Close; releases hung requests
	changed chan struct{} // closed and replaced on every observable change

	w        *world
	store    *store
	objects  map[string]*object // "bucket/key" → uploaded bytes
	sessions map[*session]struct{}
	online   map[string]map[*session]struct{} // user id → logged-in sessions

	faults       []*fault
	rejectLogins int
	// pageMax caps a page of list-member, list-message and the edit
	// history below what was asked (0: no cap); noTotal leaves their
	// total out (SetPaging).
	pageMax     int
	noTotal     bool
	requests    []Request
	sent        []SentMessage
	sentTotal   int   // send-message requests ever received (sent is trimmed)
	reqCounter  int64 // Status.request_id source
	pushCounter int64 // server-side INFO.seq source
}

// New returns a Server seeded with the world described in world.go.
func New(opts Options) *Server {
	s := &Server{
		log:          opts.Log,
		now:          opts.Now,
		publicURL:    strings.TrimSuffix(opts.PublicURL, "/"),
		idleTimeout:  opts.IdleTimeout,
		writeTimeout: opts.WriteTimeout,
		maxUpload:    opts.MaxUploadBytes,
		qiniuAK:      "sim-access-key",
		qiniuSK:      []byte("sim-secret-key"),
		closing:      make(chan struct{}),
		changed:      make(chan struct{}),
		objects:      make(map[string]*object),
		sessions:     make(map[*session]struct{}),
		online:       make(map[string]map[*session]struct{}),
		reqCounter:   114514, // the value the docs' examples show; opaque anyway
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.log = s.log.Named("sim")
	if s.now == nil {
		s.now = time.Now
	}
	if s.idleTimeout == 0 {
		s.idleTimeout = DefaultIdleTimeout
	}
	if s.writeTimeout <= 0 {
		s.writeTimeout = DefaultWriteTimeout
	}
	if s.maxUpload <= 0 {
		s.maxUpload = DefaultMaxUploadBytes
	}
	token := opts.Token
	if token == "" {
		token = DefaultToken
	}
	s.w = seedWorld(token, s.now())
	s.store = newStore()
	s.seedAvatars()
	s.routes = s.restRoutes()
	return s
}

// Handler returns the HTTP handler serving the REST API under the real
// /v1/... paths, the push socket at PathWS, the upload host at PathUpload
// and the CDN under PathCDN. Endpoints(base) lists the resulting URLs.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Close drops every push session, releases hung requests, and waits until
// every request the handler is serving has returned. Later requests get
// HTTP 503. Close is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.closed = true
	close(s.closing)
	for sess := range s.sessions {
		sess.close()
	}
	s.notifyLocked()
	s.mu.Unlock()
	s.wg.Wait()
}

// URLs are the base URLs a client needs to talk to the simulator.
type URLs struct {
	API      string // stand-in for https://chat-go.jwzhd.com
	WS       string // stand-in for wss://chat-ws-go.jwzhd.com/ws
	Upload   string // stand-in for the Qiniu upload host
	ImageCDN string // stand-in for https://chat-img.jwznb.com/
	FileCDN  string
	AudioCDN string
	VideoCDN string
}

// Endpoints returns the URLs under which a handler mounted at base (for
// example an httptest.Server's URL) serves each part of the protocol.
func Endpoints(base string) URLs {
	base = strings.TrimSuffix(base, "/")
	ws := "ws" + strings.TrimPrefix(base, "http")
	return URLs{
		API:      base,
		WS:       ws + PathWS,
		Upload:   base + PathUpload,
		ImageCDN: base + PathCDN + "img/",
		FileCDN:  base + PathCDN + "file/",
		AudioCDN: base + PathCDN + "audio/",
		VideoCDN: base + PathCDN + "video/",
	}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "simulator closed", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	f := s.takeFaultLocked(r.URL.Path)
	s.mu.Unlock()

	rec := &statusRecorder{ResponseWriter: w}
	entry := Request{
		Time:   s.now(),
		Method: r.Method,
		Path:   r.URL.Path,
		Token:  r.Header.Get(yunhu.HeaderToken),
	}
	if f != nil {
		entry.Fault = f.kind.String()
	}
	if f != nil && f.kind == faultHold {
		// Read the body first: net/http notices a client that gave up
		// (and cancels r.Context) only once the body has been read.
		body, err := io.ReadAll(io.LimitReader(r.Body, maxHeldBody))
		if err != nil {
			s.logRequest(entry)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		select {
		case <-f.release:
		case <-r.Context().Done():
			s.logRequest(entry)
			return
		case <-s.closing:
			s.logRequest(entry)
			panic(http.ErrAbortHandler)
		}
	}
	switch {
	case f != nil && f.kind == faultHang:
		// Hang until the client gives up or the simulator closes, like a
		// server that accepted the connection and never answered.
		select {
		case <-r.Context().Done():
			s.logRequest(entry)
			return
		case <-s.closing:
			// Drop the connection without a reply rather than let
			// net/http answer an empty 200 that looks like success.
			s.logRequest(entry)
			panic(http.ErrAbortHandler)
		}
	case f != nil && (f.kind == faultFail || r.URL.Path == PathWS):
		// A lost reply makes no sense for a handshake, so on PathWS
		// FailNextAfterCommit fails like FailNext.
		http.Error(rec, http.StatusText(f.status), f.status)
		entry.Status = rec.status
		s.logRequest(entry)
		return
	}

	if r.URL.Path == PathWS {
		entry.Status = http.StatusSwitchingProtocols
		s.logRequest(entry)
		s.serveWS(w, r)
		return
	}
	if f != nil && f.kind == faultFailAfter {
		// Apply the call, then lose the reply: the client sees a failure
		// for a request that did take effect.
		s.route(discardWriter{h: make(http.Header)}, r, &entry)
		http.Error(rec, http.StatusText(f.status), f.status)
	} else {
		s.route(rec, r, &entry)
	}
	entry.Status = rec.status
	s.logRequest(entry)
}

// maxHeldBody bounds what a held request's body may be; REST bodies are
// small.
const maxHeldBody = 1 << 20

// route dispatches a non-WebSocket request.
func (s *Server) route(w http.ResponseWriter, r *http.Request, entry *Request) {
	switch {
	case r.URL.Path == PathUpload || r.URL.Path == PathUpload+"/":
		s.serveUpload(w, r)
	case strings.HasPrefix(r.URL.Path, PathCDN):
		s.serveCDN(w, r)
	default:
		s.serveREST(w, r, entry)
	}
}

// publicBase is the URL prefix media URLs are built on for a request.
func (s *Server) publicBase(r *http.Request) string {
	if s.publicURL != "" {
		return s.publicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// notifyLocked wakes every waiter (WaitOnline, WaitSent). It broadcasts by
// closing the channel and replacing it, so no subscriber list is needed.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor blocks until cond (evaluated under mu) holds or ctx ends.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		closed := s.closed
		s.mu.Unlock()
		if ok {
			return nil
		}
		if closed {
			return fmt.Errorf("sim: closed")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// nextRequestIDLocked returns the next opaque Status.request_id.
func (s *Server) nextRequestIDLocked() int64 {
	s.reqCounter++
	return s.reqCounter
}

// statusRecorder remembers the status written, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// discardWriter swallows a reply that a fault decided to lose.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}
