package yunhu

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// Options configures a Client. Zero values mean the documented default.
type Options struct {
	APIURL    string // REST base URL; default DefaultAPIURL
	WSURL     string // push socket URL; default DefaultWSURL
	UploadURL string // Qiniu upload URL, used as given (no region lookup); default DefaultUploadURL

	Token    string // account token (header "token")
	Platform string // push login platform, one of Platforms(); default "windows"
	DeviceID string // push login device id; default a random 32-hex id per Client

	// Timeout bounds every REST call including its retries, and the push
	// socket handshake. Default 15 s.
	Timeout time.Duration
	// TransferTimeout bounds one Upload or Download. Default 2 min.
	TransferTimeout time.Duration
	// MaxUploadSize caps Upload and Download, in bytes. Default 30 MiB.
	MaxUploadSize int64
	// Retries is how many times a safe call (reads, send-message) is retried
	// after a transport error or HTTP 5xx. Default 2; negative disables.
	Retries int

	// HeartbeatInterval between push-socket heartbeats; the connection is
	// declared dead after two intervals without a frame. Default
	// HeartbeatInterval (30 s); negative disables heartbeats and the read
	// deadline (tests only).
	HeartbeatInterval time.Duration

	// Backoff returns the wait before retry number attempt (0-based), for
	// REST retries and push reconnects. Default DefaultBackoff.
	Backoff func(attempt int) time.Duration

	HTTPClient *http.Client // optional; nil means a private transport
	Log        *zap.Logger  // optional; nil means no logging

	// OnCall, when set, is told of every REST call once it has ended
	// (retries included): its endpoint (an API path, or "upload" or
	// "download" for media transfers, never a URL), how long it took and
	// its error. OnReconnect is told each time the push socket is dialled
	// again after a failed or ended session. Both must be quick; the
	// daemon feeds its metrics from them.
	OnCall      func(endpoint string, took time.Duration, err error)
	OnReconnect func()
}

// Client speaks Yunhu's client protocol for one account: REST calls, media
// uploads and the push socket (Run). It is safe for concurrent use.
type Client struct {
	api, ws, upload string
	token           string
	platform        string
	deviceID        string
	timeout         time.Duration
	transfer        time.Duration
	maxUpload       int64
	retries         int
	heartbeat       time.Duration
	backoff         func(int) time.Duration
	hc              *http.Client
	ownHC           bool
	log             *zap.Logger
	onCall          func(string, time.Duration, error) // Options.OnCall; nil = none
	onRetry         func()                             // Options.OnReconnect; nil = none

	mu     sync.Mutex // guards selfID
	selfID string     // account id from user/info, cached for the push login

	auth authWatch
}

// New returns a Client for opts.
func New(opts Options) *Client {
	c := &Client{
		api:       strings.TrimRight(orDefault(opts.APIURL, DefaultAPIURL), "/"),
		ws:        orDefault(opts.WSURL, DefaultWSURL),
		upload:    orDefault(opts.UploadURL, DefaultUploadURL),
		token:     opts.Token,
		platform:  orDefault(opts.Platform, "windows"),
		deviceID:  opts.DeviceID,
		timeout:   opts.Timeout,
		transfer:  opts.TransferTimeout,
		maxUpload: opts.MaxUploadSize,
		retries:   opts.Retries,
		heartbeat: opts.HeartbeatInterval,
		backoff:   opts.Backoff,
		hc:        opts.HTTPClient,
		log:       opts.Log,
		onCall:    opts.OnCall,
		onRetry:   opts.OnReconnect,
	}
	if c.deviceID == "" {
		c.deviceID = NewMessageID()
	}
	if c.timeout <= 0 {
		c.timeout = 15 * time.Second
	}
	if c.transfer <= 0 {
		c.transfer = 2 * time.Minute
	}
	if c.maxUpload <= 0 {
		c.maxUpload = 30 << 20
	}
	if c.retries == 0 {
		c.retries = 2
	} else if c.retries < 0 {
		c.retries = 0
	}
	if c.heartbeat == 0 {
		c.heartbeat = HeartbeatInterval
	}
	if c.backoff == nil {
		c.backoff = DefaultBackoff
	}
	if c.hc == nil {
		// A private transport so Close can drop its idle connections
		// without touching anybody else's. All calls go to one or two
		// hosts, and a bot framework runs actions concurrently: with the
		// default two idle connections per host, every call beyond two in
		// flight would dial (and TLS-handshake) a connection of its own.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = maxIdlePerHost
		c.hc = &http.Client{Transport: tr}
		c.ownHC = true
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	return c
}

// Close releases idle HTTP connections. It does not stop Run; cancel its
// context for that.
func (c *Client) Close() {
	if c.ownHC {
		c.hc.CloseIdleConnections()
	}
}

// DeviceID is the device id the push login uses.
func (c *Client) DeviceID() string { return c.deviceID }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// NewMessageID returns a fresh 32-hex id, the form the real clients use for
// msg_id and WS seq (§1.5).
func NewMessageID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// DefaultBackoff is exponential from 500 ms, capped at 30 s, with jitter in
// [d/2, d): the first retry comes within half a second, and many clients
// dropped at once do not reconnect in lockstep.
func DefaultBackoff(attempt int) time.Duration {
	const base, ceiling = 500 * time.Millisecond, 30 * time.Second
	d := ceiling
	if attempt < 6 {
		d = min(base<<attempt, ceiling)
	}
	return d/2 + rand.N(d/2)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrUnauthorized is matched (errors.Is) by every error caused by a missing,
// invalid or expired token: code -101 "未登录", in JSON or protobuf.
var ErrUnauthorized = errors.New("yunhu: not logged in")

// ErrNotFound is returned when a looked-up object does not exist.
var ErrNotFound = errors.New("yunhu: not found")

// APIError is a failure reported by the server: a non-success Status or JSON
// code on HTTP 200, or a non-200 HTTP status (then Code is 0).
type APIError struct {
	Endpoint   string // request path, e.g. /v1/msg/send-message
	HTTPStatus int    // 200 for business errors
	Code       int    // Yunhu status code; 1 is success, so never 1 here
	Msg        string // server text, often Chinese
}

func (e *APIError) Error() string {
	if e.HTTPStatus != http.StatusOK {
		return fmt.Sprintf("%s: http %d: %s", e.Endpoint, e.HTTPStatus, e.Msg)
	}
	return fmt.Sprintf("%s: code %d: %s", e.Endpoint, e.Code, e.Msg)
}

// Is makes errors.Is(err, ErrUnauthorized) work.
func (e *APIError) Is(target error) bool {
	return target == ErrUnauthorized && (e.Code == CodeNotLoggedIn || e.Msg == MsgNotLoggedIn)
}

// retryable reports whether an attempt's failure may succeed when repeated:
// transport errors and server-side HTTP failures, never business errors.
func retryable(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.HTTPStatus >= 500 || ae.HTTPStatus == http.StatusTooManyRequests
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// maxReply bounds a REST reply; the largest real ones (member lists, history)
// are far below it.
const maxReply = 16 << 20

// maxIdlePerHost is how many idle connections to one Yunhu host are kept
// for reuse: about as many actions as frameworks run at once.
const maxIdlePerHost = 32

// statusReply is a protobuf response whose field 1 is Status.
type statusReply interface {
	proto.Message
	GetStatus() *yunhupb.Status
}

// call runs one REST exchange with the configured timeout, retrying if safe.
// attempt performs a single try and decodes the reply.
func (c *Client) call(ctx context.Context, path string, safe bool, attempt func(ctx context.Context) error) error {
	return c.callTimeout(ctx, c.timeout, path, safe, attempt)
}

// callTimeout is call with an explicit budget for all attempts together.
func (c *Client) callTimeout(ctx context.Context, timeout time.Duration, path string, safe bool, attempt func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var err error
	if c.onCall != nil {
		start := time.Now()
		defer func() { c.onCall(c.endpoint(path), time.Since(start), err) }()
	}
	defer func() { c.auth.note(err) }()
	for i := 0; ; i++ {
		err = attempt(ctx)
		if err == nil || !safe || i >= c.retries || !retryable(err) || ctx.Err() != nil {
			break
		}
		c.log.Debug("retrying", zap.String("endpoint", path), zap.Int("attempt", i+1), zap.Error(err))
		if sleep(ctx, c.backoff(i)) != nil {
			break
		}
	}
	return err
}

// endpoint names path for OnCall: media transfers go to full URLs, which
// may carry credentials and are unbounded, so they get a fixed name.
func (c *Client) endpoint(path string) string {
	switch {
	case strings.HasPrefix(path, "/"):
		return path
	case path == c.upload:
		return "upload"
	}
	return "download"
}

// roundTrip sends one request and returns the 200 body; any other status is
// an *APIError.
func (c *Client) roundTrip(ctx context.Context, method, path string, body []byte, contentType string) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.api+path, rd)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		// The sign-in calls are made before there is a token, and the
		// reference shows them without the header at all.
		req.Header.Set(HeaderToken, c.token)
	}
	if contentType != "" {
		req.Header.Set(HeaderContentType, contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &APIError{Endpoint: path, HTTPStatus: resp.StatusCode, Msg: strings.TrimSpace(snippet(data))}
	}
	return data, nil
}

func snippet(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

// callProto posts req (nil = empty body) to a protobuf endpoint and decodes
// the reply into out. GET is used for the body-less GET endpoints.
func (c *Client) callProto(ctx context.Context, method, path string, req proto.Message, out statusReply, safe bool) error {
	var body []byte
	if req != nil {
		var err error
		if body, err = proto.Marshal(req); err != nil {
			return fmt.Errorf("encode: %w", err)
		}
	}
	return c.call(ctx, path, safe, func(ctx context.Context) error {
		data, err := c.roundTrip(ctx, method, path, body, ContentTypeProtobuf)
		if err != nil {
			return err
		}
		return decodeProto(path, data, out)
	})
}

// decodeProto decodes a protobuf reply. The server answers a missing token
// with JSON even on protobuf endpoints (§1.4), so the first byte is sniffed:
// a Status-bearing message starts with 0x0A, JSON with '{'.
func decodeProto(path string, data []byte, out statusReply) error {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		var j jsonReply
		if err := json.Unmarshal(t, &j); err != nil {
			return fmt.Errorf("%s: decode json error reply: %w", path, err)
		}
		if err := j.err(path); err != nil {
			return err
		}
		return &APIError{Endpoint: path, HTTPStatus: http.StatusOK, Code: 0, Msg: "unexpected json reply: " + snippet(data)}
	}
	if err := proto.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: decode: %w", path, err)
	}
	st := out.GetStatus()
	if st.GetCode() != CodeOK {
		msg := st.GetMsg()
		if st == nil {
			msg = "reply without status"
		}
		return &APIError{Endpoint: path, HTTPStatus: http.StatusOK, Code: int(st.GetCode()), Msg: msg}
	}
	return nil
}

// jsonReply is the envelope of every JSON endpoint (§1.3).
type jsonReply struct {
	Code *int            `json:"code"`
	Msg  string          `json:"msg"`
	Data json.RawMessage `json:"data"`
}

func (j *jsonReply) err(path string) error {
	switch {
	case j.Code != nil && *j.Code == CodeOK:
		return nil
	case j.Code == nil && j.Msg == MsgSuccess:
		// edit-my-group-nickname documents {"msg":"success"} alone (§7 #26).
		return nil
	case j.Code == nil:
		return &APIError{Endpoint: path, HTTPStatus: http.StatusOK, Msg: orDefault(j.Msg, "reply without code")}
	}
	return &APIError{Endpoint: path, HTTPStatus: http.StatusOK, Code: *j.Code, Msg: j.Msg}
}

// callJSON sends req as JSON (GET when req is nil) and decodes data into out
// (when out is non-nil).
func (c *Client) callJSON(ctx context.Context, path string, req, out any, safe bool) error {
	method, ct := http.MethodGet, ""
	var body []byte
	if req != nil {
		var err error
		if body, err = json.Marshal(req); err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		method, ct = http.MethodPost, ContentTypeJSON
	}
	return c.call(ctx, path, safe, func(ctx context.Context) error {
		data, err := c.roundTrip(ctx, method, path, body, ct)
		if err != nil {
			return err
		}
		var j jsonReply
		if err := json.Unmarshal(data, &j); err != nil {
			return fmt.Errorf("%s: decode: %w", path, err)
		}
		if err := j.err(path); err != nil {
			return err
		}
		if out != nil && len(j.Data) > 0 && string(j.Data) != "null" {
			if err := json.Unmarshal(j.Data, out); err != nil {
				return fmt.Errorf("%s: decode data: %w", path, err)
			}
		}
		return nil
	})
}
