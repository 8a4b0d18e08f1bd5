package wildfire

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// defaultMaxResponse bounds one answer. The largest real ones are member and
// friend lists of a few thousand entries, far below it.
const defaultMaxResponse = 8 << 20

// Options configures a Client. Zero values mean the documented default.
type Options struct {
	// RobotURL is the base of the server's client http_port, e.g.
	// http://127.0.0.1:80; the robot routes are under /robot/....
	RobotURL string
	// RobotID is the robot's user id, sent as the rid header.
	RobotID string
	// RobotSecret is the robot's secret, the key of the robot signatures.
	RobotSecret string
	// AdminURL is the base of the admin port, e.g. http://127.0.0.1:18080;
	// "" means no admin API (the admin calls return ErrNoAdmin).
	AdminURL string
	// AdminSecret is http.admin.secret_key, the key of the admin signatures.
	AdminSecret string
	// HTTPClient is used for every call; nil means a private one.
	HTTPClient *http.Client
	// Timeout bounds every call. Default 15 s.
	Timeout time.Duration
	// Log receives one debug line per call; nil means none.
	Log *zap.Logger
	// Now is the clock the signatures are stamped with; nil means time.Now.
	Now func() time.Time
	// MaxResponse bounds the size of one answer in bytes. Default 8 MiB.
	MaxResponse int64
}

// Client calls the robot and admin APIs of one server. It is safe for
// concurrent use.
type Client struct {
	o Options
}

// New returns a client for o.
func New(o Options) *Client {
	o.RobotURL = strings.TrimRight(o.RobotURL, "/")
	o.AdminURL = strings.TrimRight(o.AdminURL, "/")
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: o.Timeout}
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxResponse <= 0 {
		o.MaxResponse = defaultMaxResponse
	}
	return &Client{o: o}
}

// HasAdmin reports whether the admin API is configured.
func (c *Client) HasAdmin() bool { return c.o.AdminURL != "" && c.o.AdminSecret != "" }

// Sign is the server's request signature: the hex SHA-1 of
// nonce|secret|timestamp, the same for the robot and the admin API.
func Sign(nonce, secret string, timestampMillis int64) string {
	sum := sha1.Sum([]byte(nonce + "|" + secret + "|" + strconv.FormatInt(timestampMillis, 10)))
	return hex.EncodeToString(sum[:])
}

// envelope is every answer's wrapper. Result stays raw so that numbers in
// it are decoded by the caller's typed struct (int64 uids stay exact).
type envelope struct {
	Code   *int            `json:"code"`
	Msg    string          `json:"msg"`
	Result json.RawMessage `json:"result"`
}

// robot calls a robot route, signed with the robot secret and the rid header.
func (c *Client) robot(ctx context.Context, path string, body, out any) error {
	return c.call(ctx, c.o.RobotURL, path, c.o.RobotSecret, c.o.RobotID, body, out)
}

// admin calls an admin route, signed with the admin secret.
func (c *Client) admin(ctx context.Context, path string, body, out any) error {
	if !c.HasAdmin() {
		return fmt.Errorf("wildfire: %s: %w", path, ErrNoAdmin)
	}
	return c.call(ctx, c.o.AdminURL, path, c.o.AdminSecret, "", body, out)
}

// call POSTs body as JSON to base+path with the signing headers (plus rid
// when non-empty), checks the envelope and decodes its result into out
// (when out is non-nil).
func (c *Client) call(ctx context.Context, base, path, secret, rid string, body, out any) error {
	// Without HTML escaping, as the server's own Gson writes: text with
	// <, > or & stays readable on the wire.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return fmt.Errorf("wildfire: %s: encode: %w", path, err)
	}
	payload := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("wildfire: %s: %w", path, err)
	}
	signedAt := c.o.Now()
	ts := signedAt.UnixMilli()
	// The server does not remember nonces; a random one still keeps two
	// signatures of the same millisecond apart.
	nonce := rand.Text()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("nonce", nonce)
	req.Header.Set("timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("sign", Sign(nonce, secret, ts))
	if rid != "" {
		req.Header.Set("rid", rid)
	}
	start := time.Now()
	resp, err := c.o.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("wildfire: %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.o.MaxResponse+1))
	if err != nil {
		return fmt.Errorf("wildfire: %s: read answer: %w", path, err)
	}
	c.o.Log.Debug("wildfire call", zap.String("path", path), zap.Int("http_status", resp.StatusCode),
		zap.Int("bytes", len(data)), zap.Duration("took", time.Since(start)))
	if int64(len(data)) > c.o.MaxResponse {
		return fmt.Errorf("wildfire: %s: answer larger than %d bytes", path, c.o.MaxResponse)
	}
	if resp.StatusCode != http.StatusOK {
		return &APIError{Path: path, HTTPStatus: resp.StatusCode, Msg: snippet(data)}
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil || env.Code == nil {
		return fmt.Errorf("wildfire: %s: answer is not a {code,msg,result} envelope: %q", path, snippet(data))
	}
	if *env.Code != 0 {
		// A failed signature check nests the same code and msg again in
		// result; the outer pair says it all.
		ae := &APIError{Code: *env.Code, Msg: env.Msg, Path: path, HTTPStatus: resp.StatusCode}
		if ae.Code == 243 {
			ae.LocalTime = signedAt
			if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
				ae.ServerTime = d
			}
		}
		return ae
	}
	if out == nil {
		return nil
	}
	if len(env.Result) == 0 || string(env.Result) == "null" {
		return fmt.Errorf("wildfire: %s: answer without result", path)
	}
	if err := json.Unmarshal(env.Result, out); err != nil {
		return fmt.Errorf("wildfire: %s: decode result: %w", path, err)
	}
	return nil
}

// snippet is the start of a body for an error text.
func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}
