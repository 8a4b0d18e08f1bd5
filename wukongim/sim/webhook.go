package sim

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"
)

// hookQueue bounds the webhook posts waiting for delivery; beyond it posts
// are dropped (the real server's webhooks are best effort too).
const hookQueue = 1024

type hookPost struct {
	event string
	body  []byte
}

// hookMessage is the webhook form of a message: unlike the query
// endpoints, it shows the header flags as sent.
func hookMessage(m *message) httpMessage {
	h := toHTTP(m)
	h.Header = httpHeader{NoPersist: b2i(m.sent.NoPersist), RedDot: b2i(m.sent.RedDot), SyncOnce: b2i(m.sent.SyncOnce)}
	return h
}

type offlineHook struct {
	httpMessage
	ToUIDs   []string `json:"to_uids"`
	SourceID int      `json:"source_id"`
}

// hookLocked queues a post if a webhook URL is configured.
func (s *Server) hookLocked(event string, v any) {
	if s.hooks == nil {
		return
	}
	select {
	case s.hooks <- hookPost{event: event, body: marshal(v)}:
	default:
		s.log.Warn("webhook queue full, dropping a post", zap.String("event", event))
	}
}

// hookMessageLocked posts msg.notify (every stored message) and
// msg.offline (the recipients, sender excluded, with no online
// connection). The real server batches msg.notify into arrays of up to a
// few messages; the simulator posts one-element arrays.
func (s *Server) hookMessageLocked(m *message, addressed string, recips []string) {
	if s.hooks == nil {
		return
	}
	s.hookLocked("msg.notify", []httpMessage{hookMessage(m)})
	off := offlineHook{httpMessage: hookMessage(m), ToUIDs: []string{}, SourceID: 1}
	off.ChannelID = addressed
	if off.FromUID == "" {
		off.FromUID = "____system"
	}
	for _, uid := range recips {
		if uid != m.from && uid != "" && !s.onlineLocked(uid) {
			off.ToUIDs = append(off.ToUIDs, uid)
		}
	}
	s.hookLocked("msg.offline", off)
}

// hookOnlineLocked posts user.onlinestatus for c going on- or offline:
// "uid-deviceFlag-online-connId-deviceOnlineCount-totalOnlineCount".
func (s *Server) hookOnlineLocked(c *conn, online bool) {
	if s.hooks == nil {
		return
	}
	dev, total := 0, 0
	for o := range s.conns {
		if o.routed && o.uid == c.uid {
			total++
			if o.flag == c.flag {
				dev++
			}
		}
	}
	s.hookLocked("user.onlinestatus", []string{fmt.Sprintf("%s-%d-%d-%d-%d-%d", c.uid, c.flag, b2i(online), c.id, dev, total)})
}

// hookLoop delivers the queued posts one at a time, in order.
func (s *Server) hookLoop(target string, client *http.Client) {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case p := <-s.hooks:
			u, err := url.Parse(target)
			if err != nil {
				s.log.Warn("bad webhook URL", zap.Error(err))
				continue
			}
			q := u.Query()
			q.Set("event", p.event)
			u.RawQuery = q.Encode()
			req, err := http.NewRequestWithContext(s.hookCtx, http.MethodPost, u.String(), bytes.NewReader(p.body))
			if err != nil {
				continue
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				s.log.Debug("webhook post failed", zap.String("event", p.event), zap.Error(err))
				continue
			}
			_ = resp.Body.Close()
		}
	}
}

func defaultHookClient() *http.Client { return &http.Client{Timeout: 5 * time.Second} }
