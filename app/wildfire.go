package app

import (
	"fmt"
	"net/netip"

	"go.uber.org/zap"

	wfbackend "github.com/yunhu-onebot/yunhu-onebot/backend/wildfire"
	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wf "github.com/yunhu-onebot/yunhu-onebot/wildfire"
)

// wildfireBackend makes the WildfireChat client (robot API, and the admin
// API when configured) and the backend over it, whose callback listener
// app serves.
func (a *App) wildfireBackend(cfg *config.Config) (platform.Backend, error) {
	log := a.log
	w := cfg.Wildfire
	if a.opts.Wildfire != nil {
		if err := a.opts.Wildfire(a.Store, &w); err != nil {
			return nil, err
		}
	}
	allow := make([]netip.Prefix, 0, len(w.Callback.Allow))
	for _, s := range w.Callback.Allow {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("wildfire.callback.allow: %q is not an IP address or CIDR", s)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		allow = append(allow, p)
	}
	client := wf.New(wf.Options{
		RobotURL: w.RobotURL, RobotID: w.RobotID, RobotSecret: w.RobotSecret,
		AdminURL: w.AdminURL, AdminSecret: w.AdminSecret,
		Timeout: w.TimeoutDuration(), Log: log.Named("wildfire"),
	})
	log.Info("wildfire robot", zap.String("robot-id", w.RobotID), zap.Bool("admin-api", client.HasAdmin()))
	return wfbackend.New(wfbackend.Options{
		Client:             client,
		Robot:              w.RobotID,
		Name:               w.Name,
		KV:                 bridge.NewBackendState(a.Store),
		CallbackAddress:    w.Callback.Address,
		CallbackPathSecret: w.Callback.PathSecret,
		RegisterCallback:   w.Callback.SetURL,
		Allow:              allow,
		// Served by the callback listener, under /media/ (its address
		// is not used).
		Media: hostedMedia(cfg, w.Media),
		Log:   log.Named("wildfire"),
	})
}
