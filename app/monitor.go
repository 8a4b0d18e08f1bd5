package app

import (
	"errors"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/metrics"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
)

// monitor is the daemon's metrics, nil when metrics.address is empty: its
// hook methods then return nil funcs, which the components skip at no
// cost.
type monitor struct {
	m *metrics.Metrics
}

func newMonitor(address string) *monitor {
	if address == "" {
		return nil
	}
	return &monitor{m: metrics.New()}
}

func (mon *monitor) onCommit() func(int, time.Duration, error) {
	if mon == nil {
		return nil
	}
	return mon.m.OnCommit
}

func (mon *monitor) onCall() func(string, time.Duration, error) {
	if mon == nil {
		return nil
	}
	return mon.m.OnCall
}

func (mon *monitor) onReconnect() func() {
	if mon == nil {
		return nil
	}
	return mon.m.OnReconnect
}

func (mon *monitor) onAction() func(string, int, time.Duration) {
	if mon == nil {
		return nil
	}
	return mon.m.OnAction
}

func (mon *monitor) onPush() func(string) {
	if mon == nil {
		return nil
	}
	return mon.m.OnPush
}

func (mon *monitor) onBackfill() func(int) {
	if mon == nil {
		return nil
	}
	return mon.m.OnBackfill
}

// listen binds the monitoring listener on address and returns it with
// its handler: /metrics for hub's and the hooks' metrics, /healthz, and
// /readyz from ready.
func (mon *monitor) listen(address string, hub *onebot.Hub, ready func() error, log *zap.Logger) (listener, error) {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return listener{}, fmt.Errorf("metrics.address: %w", err)
	}
	mon.m.WatchHub(hub)
	mon.m.WatchReady(ready)
	l := log.With(zap.Stringer("address", ln.Addr()))
	l.Info("listening", zap.String("metrics", "http://"+ln.Addr().String()+"/metrics"))
	return listener{ln: ln, handler: mon.m.Handler(metrics.HandlerOptions{Ready: ready, Log: l}), log: l}, nil
}

// readiness is /readyz's test: logged in to Yunhu, and the push socket
// connected (messages arrive). The reasons name no secret.
func readiness(selfID func() int64, online func() bool) func() error {
	return func() error {
		switch {
		case selfID() == 0:
			return errors.New("not logged in to Yunhu yet")
		case !online():
			return errors.New("the Yunhu push socket is not connected")
		}
		return nil
	}
}
