package onebot

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"
	"go.uber.org/zap"
)

// HTTPOptions configures the HTTP API handler.
type HTTPOptions struct {
	Router *Router
	Log    *zap.Logger
	// AccessToken, when set, is required from every request. Without one,
	// browser requests from other sites and Host names that are not this
	// server's are refused (browser.go).
	AccessToken string
	// Address is the configured listen address (host:port), which tells
	// which Host names are this server's; "" allows loopback and the
	// connection's own IP.
	Address string
	// Timeout bounds one action call; 0 means none.
	Timeout time.Duration
	// MaxBodyBytes bounds a request body (413 beyond it); 0 means
	// DefaultMaxMessageBytes.
	MaxBodyBytes int64
}

// NewHTTP returns the HTTP API (communication/http.md): GET or POST
// /:action or /:action/, parameters from the query, a JSON body or a
// urlencoded form (query values win over body values, as in go-cqhttp).
// Status codes, as communication/http.md sets them: 401 no token, 403
// wrong token (or, with no token set, a browser request from another site
// or for a foreign Host: browser.go), 406 unsupported Content-Type, 400 a
// malformed body (not valid JSON, not a JSON object, a broken form), 404
// an action that does not exist here (httpStatus), and 200 for every
// other answer, success or failure: bad parameters (retcode 1400) are an
// answer, not a malformed request. Beyond the spec, 405 answers methods
// other than GET and POST and 413 a body over MaxBodyBytes. 400, 404 and
// 200 carry the JSON response. A request beyond the Router's limits
// (limits.go) is answered at once with retcode 1429 and status 200: its
// body is read only while the request memory has room for it, never
// waiting for room.
func NewHTTP(opts HTTPOptions) http.Handler {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxMessageBytes
	}
	return &httpAPI{opts: opts, token: newAccessToken(opts.AccessToken),
		guard: newBrowserGuard(opts.AccessToken != "", opts.Address, opts.Log)}
}

type httpAPI struct {
	opts  HTTPOptions
	token accessToken
	guard *browserGuard
	bufs  sync.Pool // *[]byte response buffers
}

func (h *httpAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.guard.allow(w, r) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "only GET and POST", http.StatusMethodNotAllowed)
		return
	}
	if status := h.token.check(r); status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	action := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if action == "" || strings.Contains(action, "/") {
		h.write(w, failure(ErrUnknownAction(action)))
		return
	}
	// g holds the body's bytes and the action's slot until the response
	// is written (the deferred release runs after h.write).
	g := h.opts.Router.limits.grant()
	defer g.release()
	params, status, err := h.params(w, r, g)
	if errors.Is(err, errNoMemory) {
		h.refuse(w, r, h.opts.Router.limits.tooMany(boundMemory))
		return
	}
	if status != 0 {
		if status == http.StatusBadRequest {
			// A malformed body: 400, still with the JSON failure.
			h.writeStatus(w, status, failure(ErrBadParams("%s", err)))
			return
		}
		http.Error(w, err.Error(), status)
		return
	}
	if !g.takeAction() {
		h.refuse(w, r, h.opts.Router.limits.tooMany(boundActions))
		return
	}
	ctx := r.Context()
	if h.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.opts.Timeout)
		defer cancel()
	}
	h.write(w, h.opts.Router.handle(ctx, action, params, g))
}

// refuse answers a request the limits turned away at once, then reads
// and drops the rest of its body, keeping none of it: a client still
// sending would otherwise have its connection reset (the server closes
// a connection with a large unread body) and lose the answer.
func (h *httpAPI) refuse(w http.ResponseWriter, r *http.Request, ae *ActionError) {
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex() // read the body after the answer is sent
	h.write(w, failure(ae))
	_ = rc.Flush()
	_, _ = io.CopyN(io.Discard, r.Body, h.opts.MaxBodyBytes)
}

func (h *httpAPI) write(w http.ResponseWriter, resp Response) {
	h.writeStatus(w, httpStatus(resp), resp)
}

func (h *httpAPI) writeStatus(w http.ResponseWriter, status int, resp Response) {
	bp, _ := h.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := resp.appendJSON((*bp)[:0])
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if cap(b) <= 64<<10 { // keep only small buffers
		*bp = b
		h.bufs.Put(bp)
	}
}

// params gathers the request's parameters as one JSON object, reading the
// body into memory reserved in g; a non-zero status is the HTTP error to
// answer with, errNoMemory (status 0) a body refused for want of memory.
func (h *httpAPI) params(w http.ResponseWriter, r *http.Request, g *grant) (json.RawMessage, int, error) {
	query := queryParams(r.URL)
	var body json.RawMessage
	var form url.Values
	if r.Method == http.MethodPost {
		ct := r.Header.Get("Content-Type")
		mt := ct
		if ct != "application/json" && ct != "" {
			var err error
			if mt, _, err = mime.ParseMediaType(ct); err != nil {
				return nil, http.StatusNotAcceptable, errors.New("unsupported Content-Type " + ct)
			}
		}
		if r.ContentLength > h.opts.MaxBodyBytes {
			return nil, http.StatusRequestEntityTooLarge, errors.New("request body too large")
		}
		// A Content-Length is reserved whole before reading; a body
		// without one (chunked) in steps as it arrives.
		// A body that trickles in would hold its reservation for as long
		// as the client likes; it gets as long as an action does. The
		// deadline is lifted once the body is in: net/http's watch for a
		// client hanging up reads on, and must not time out.
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(cmp.Or(h.opts.Timeout, DefaultActionTimeout)))
		raw, err := readBudgeted(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes), g, r.ContentLength)
		_ = rc.SetReadDeadline(time.Time{})
		if errors.Is(err, errNoMemory) {
			return nil, 0, err
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return nil, http.StatusRequestEntityTooLarge, errors.New("request body too large")
			}
			return nil, http.StatusBadRequest, errors.New("body: " + err.Error())
		}
		trimmed := bytes.TrimSpace(raw)
		switch {
		case mt == "application/json":
			body = raw
			if len(trimmed) == 0 {
				body = nil
			} else if !gjson.ValidBytes(raw) {
				return nil, http.StatusBadRequest, errors.New("body: not valid JSON")
			} else if trimmed[0] != '{' {
				return nil, http.StatusBadRequest, errors.New("body: expected a JSON object")
			}
		case mt == "application/x-www-form-urlencoded":
			if form, err = url.ParseQuery(string(raw)); err != nil {
				return nil, http.StatusBadRequest, errors.New("body: " + err.Error())
			}
		case len(trimmed) == 0:
			// no body: any or no Content-Type will do
		default:
			return nil, http.StatusNotAcceptable, errors.New("unsupported Content-Type " + strings.TrimSpace(ct) +
				"; use application/json or application/x-www-form-urlencoded")
		}
	}
	if len(query) == 0 && len(form) == 0 {
		return body, 0, nil // the common case: the body as is, or none
	}
	merged := map[string]json.RawMessage{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &merged); err != nil {
			return nil, http.StatusBadRequest, errors.New("body: " + err.Error())
		}
	}
	for k, vs := range form {
		merged[k] = stringValue(vs[0])
	}
	for k, vs := range query {
		merged[k] = stringValue(vs[0])
	}
	return objectFromMap(merged), 0, nil
}

// queryParams is the query without access_token, which is auth, not a
// parameter.
func queryParams(u *url.URL) url.Values {
	if u.RawQuery == "" {
		return nil
	}
	q := u.Query()
	delete(q, "access_token")
	return q
}

func stringValue(s string) json.RawMessage { return appendString(nil, s) }

func objectFromMap(m map[string]json.RawMessage) json.RawMessage {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kv := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		kv = append(kv, k, m[k])
	}
	return object(kv...)
}
