package yunhu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

// ErrLoginRejected is reported (inside Disconnected or the log) when the push
// server answers the login with "数据不合法" (§6.1).
var ErrLoginRejected = errors.New("yunhu: push login rejected")

// maxFrame bounds one server frame; pushes are a few KiB.
const maxFrame = 4 << 20

// clientFrame is every client → server frame: JSON text (§6.1).
type clientFrame struct {
	Seq  string `json:"seq"`
	Cmd  string `json:"cmd"`
	Data any    `json:"data"`
}

type loginData struct {
	UserID   string `json:"userId"`
	Token    string `json:"token"`
	Platform string `json:"platform"`
	DeviceID string `json:"deviceId"`
}

// Run keeps the push socket open until ctx is done and calls onPush for every
// event, in order, from a single goroutine. onPush must not block for long:
// frames are read only between its calls (a frame once read is always
// delivered before the next is read).
//
// Every failure — refused dial, dropped connection, two heartbeat periods of
// silence, rejected login — leads to a reconnect after Options.Backoff. A
// live session is bracketed by Connected and Disconnected. Run returns
// ctx.Err() once ctx is done, and gives up only when the token counts as
// revoked: MaxAuthRejections authentication rejections in a row, by push
// logins or REST calls (authwatch.go); it then returns an error matching
// ErrUnauthorized.
func (c *Client) Run(ctx context.Context, onPush func(Push)) error {
	log := c.log.Named("push")
	for attempt := 0; ctx.Err() == nil; {
		live, err := c.session(ctx, log, onPush)
		if live && !errors.Is(err, ErrLoginRejected) {
			c.auth.note(nil) // the server accepted the login
		} else if errors.Is(err, ErrLoginRejected) {
			c.auth.note(err)
		}
		if live {
			attempt = 0
			onPush(Disconnected{Err: err})
		}
		if ctx.Err() != nil {
			break
		}
		if c.auth.isRevoked() {
			return fmt.Errorf("push: token rejected %d times in a row: %w", MaxAuthRejections, ErrUnauthorized)
		}
		d := c.backoff(attempt)
		attempt++
		lvl := zap.WarnLevel
		if errors.Is(err, ErrUnauthorized) {
			lvl = zap.ErrorLevel
		}
		log.Log(lvl, "push socket down", zap.Error(err), zap.Duration("retry_in", d))
		_ = sleep(ctx, d)
		if c.onRetry != nil && ctx.Err() == nil {
			c.onRetry()
		}
	}
	return ctx.Err()
}

// userID returns the account id for the push login, from user/info once.
func (c *Client) userID(ctx context.Context) (string, error) {
	c.mu.Lock()
	id := c.selfID
	c.mu.Unlock()
	if id != "" {
		return id, nil
	}
	self, err := c.Self(ctx)
	if err != nil {
		return "", err
	}
	return self.ID, nil
}

// session runs one connection: dial, login, then read until it fails. live
// reports whether the session got as far as a decoded server frame.
func (c *Client) session(ctx context.Context, log *zap.Logger, onPush func(Push)) (live bool, err error) {
	uid, err := c.userID(ctx)
	if err != nil {
		return false, fmt.Errorf("user id: %w", err)
	}
	dialer := websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: c.timeout}
	dctx, cancel := context.WithTimeout(ctx, c.timeout)
	conn, _, err := dialer.DialContext(dctx, c.ws, nil)
	cancel()
	if err != nil {
		return false, fmt.Errorf("dial: %w", err)
	}
	conn.SetReadLimit(maxFrame)

	// Until the keeper goroutine starts this goroutine writes; afterwards
	// only the keeper does (gorilla allows one writer at a time).
	write := func(cmd string, data any) error {
		b, err := json.Marshal(clientFrame{Seq: NewMessageID(), Cmd: cmd, Data: data})
		if err != nil {
			return err
		}
		_ = conn.SetWriteDeadline(time.Now().Add(c.timeout))
		return conn.WriteMessage(websocket.TextMessage, b)
	}
	// There is no login ack (§6.1): an immediate heartbeat makes the server
	// answer with heartbeat_ack, which proves the session is live.
	if err := write(WSCmdLogin, loginData{UserID: uid, Token: c.token, Platform: c.platform, DeviceID: c.deviceID}); err != nil {
		conn.Close()
		return false, fmt.Errorf("login: %w", err)
	}
	if err := write(WSCmdHeartbeat, struct{}{}); err != nil {
		conn.Close()
		return false, fmt.Errorf("heartbeat: %w", err)
	}

	// The keeper sends heartbeats and closes the connection when ctx ends,
	// which unblocks the read below.
	done := make(chan struct{})
	revoked := c.auth.wait()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var tick <-chan time.Time
		if c.heartbeat > 0 {
			t := time.NewTicker(c.heartbeat)
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				conn.Close()
				return
			case <-revoked:
				// REST calls say the token is gone: end the session
				// so that Run stops.
				conn.Close()
				return
			case <-tick:
				if err := write(WSCmdHeartbeat, struct{}{}); err != nil {
					log.Debug("heartbeat failed", zap.Error(err))
					conn.Close()
					return
				}
			}
		}
	}()
	defer func() {
		close(done)
		conn.Close()
		wg.Wait()
	}()

	for {
		if c.heartbeat > 0 {
			// Heartbeats are answered, so two silent periods mean the
			// connection is dead even if TCP has not noticed.
			_ = conn.SetReadDeadline(time.Now().Add(2 * c.heartbeat))
		}
		typ, data, err := conn.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return live, ctx.Err()
			}
			return live, fmt.Errorf("read: %w", err)
		}
		if bytes.Equal(bytes.TrimSpace(data), []byte(WSInvalid)) {
			return live, ErrLoginRejected
		}
		if typ != websocket.BinaryMessage {
			log.Debug("text frame skipped", zap.ByteString("frame", data))
			continue
		}
		f, err := decodeFrame(data)
		if err != nil {
			log.Warn("frame skipped", zap.String("cmd", f.cmd), zap.Error(err))
			continue
		}
		if !live {
			live = true
			log.Info("push socket connected", zap.String("user", uid))
			onPush(Connected{})
		}
		if f.push == nil {
			if f.cmd != WSCmdHeartbeatAck {
				log.Debug("unknown cmd skipped", zap.String("cmd", f.cmd))
			}
			continue
		}
		onPush(f.push)
	}
}
