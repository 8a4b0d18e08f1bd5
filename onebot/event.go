package onebot

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Meta event values (event/meta.md).
const (
	PostTypeMetaEvent = "meta_event"

	MetaEventLifecycle = "lifecycle"
	MetaEventHeartbeat = "heartbeat"

	// LifecycleEnable and LifecycleDisable go to HTTP POST webhooks when
	// delivery starts and stops; LifecycleConnect is the first frame of
	// every WebSocket connection that carries events.
	LifecycleEnable  = "enable"
	LifecycleDisable = "disable"
	LifecycleConnect = "connect"
)

// LifecycleEvent is the lifecycle meta event (event/meta.md, 生命周期).
type LifecycleEvent struct {
	Time          int64  `json:"time"`
	SelfID        int64  `json:"self_id"`
	PostType      string `json:"post_type"`
	MetaEventType string `json:"meta_event_type"`
	SubType       string `json:"sub_type"`
}

// HeartbeatEvent is the heartbeat meta event (event/meta.md, 心跳).
type HeartbeatEvent struct {
	Time          int64  `json:"time"`
	SelfID        int64  `json:"self_id"`
	PostType      string `json:"post_type"`
	MetaEventType string `json:"meta_event_type"`
	Status        Status `json:"status"`
	// Interval is the time to the next heartbeat, in milliseconds.
	Interval int64 `json:"interval"`
}

// Status is get_status's data (api/public.md), also carried by heartbeats.
type Status struct {
	// Online: the platform session is logged in and connected.
	Online bool `json:"online"`
	// Good: everything works as expected, including Online.
	Good bool `json:"good"`
}

// lifecycle marshals a lifecycle event now, for the current self id.
func (h *Hub) lifecycle(subType string) []byte {
	b, _ := marshal(LifecycleEvent{
		Time:          time.Now().Unix(),
		SelfID:        h.SelfID(),
		PostType:      PostTypeMetaEvent,
		MetaEventType: MetaEventLifecycle,
		SubType:       subType,
	})
	return b
}

// HeartbeatOptions configures a Heartbeat.
type HeartbeatOptions struct {
	Hub *Hub
	Log *zap.Logger
	// Interval between heartbeats; 0 turns them off.
	Interval time.Duration
	// Status reports the platform's health for the status field; nil
	// reports online and good whenever the self id is known.
	Status func() (online, good bool)
}

// Heartbeat publishes a heartbeat meta event every Interval.
type Heartbeat struct {
	opts HeartbeatOptions
}

// NewHeartbeat returns a Heartbeat; start it with Run.
func NewHeartbeat(opts HeartbeatOptions) *Heartbeat {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Status == nil {
		hub := opts.Hub
		opts.Status = func() (bool, bool) {
			known := hub.SelfID() != 0
			return known, known
		}
	}
	return &Heartbeat{opts: opts}
}

// Run publishes heartbeats until ctx is done, then returns nil. With a
// zero Interval it publishes nothing and just waits.
func (h *Heartbeat) Run(ctx context.Context) error {
	if h.opts.Interval <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(h.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			online, good := h.opts.Status()
			err := h.opts.Hub.Publish(&HeartbeatEvent{
				Time:          now.Unix(),
				SelfID:        h.opts.Hub.SelfID(),
				PostType:      PostTypeMetaEvent,
				MetaEventType: MetaEventHeartbeat,
				Status:        Status{Online: online, Good: good && online},
				Interval:      h.opts.Interval.Milliseconds(),
			})
			if err != nil {
				h.opts.Log.Error("heartbeat", zap.Error(err))
			}
		}
	}
}
