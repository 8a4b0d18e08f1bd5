package app

import (
	"context"
	"fmt"
	"path/filepath"

	"go.uber.org/zap"

	wkbackend "github.com/yunhu-onebot/yunhu-onebot/backend/wukongim"
	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/internal/mediahost"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wk "github.com/yunhu-onebot/yunhu-onebot/wukongim"
)

// wukongimBackend makes the WuKongIM clients (the HTTP API and the
// JSON-RPC receive connection) and the backend over them.
func (a *App) wukongimBackend(ctx context.Context, cfg *config.Config) (platform.Backend, error) {
	log := a.log
	w := cfg.WuKongIM
	if a.opts.WuKongIM != nil {
		if err := a.opts.WuKongIM(a.Store, &w); err != nil {
			return nil, err
		}
	}
	deviceID, err := DeviceID(ctx, w.DeviceID, a.Store)
	if err != nil {
		return nil, err
	}
	log.Info("wukongim account", zap.String("uid", w.UID), zap.Int("device-flag", w.DeviceFlag), zap.String("device-id", deviceID))
	api := wk.NewHTTP(wk.HTTPOptions{BaseURL: w.APIURL, Timeout: w.TimeoutDuration(), Log: log.Named("wukongim")})
	if w.RegisterToken {
		// Level 1: the master device, so that another connection of the
		// same uid and flag with another device id takes over (and this
		// one is told so) rather than running beside it.
		if err := api.RegisterToken(ctx, w.UID, w.Token, w.DeviceFlag, 1); err != nil {
			return nil, fmt.Errorf("wukongim.register-token: %w", err)
		}
	}
	conn := wk.NewConn(wk.ConnOptions{
		URL: w.WSURL, UID: w.UID, Token: w.Token, DeviceFlag: w.DeviceFlag, DeviceID: deviceID,
		Log: log.Named("wukongim"),
	})
	return wkbackend.New(wkbackend.Options{
		API:      api,
		Receiver: conn,
		Self:     w.UID,
		Name:     w.Name,
		KV:       bridge.NewBackendState(a.Store),
		Groups:   named(w.Groups),
		Users:    named(w.Users),
		Media:    hostedMedia(cfg, w.Media),
		Log:      log.Named("wukongim"),
	})
}

// named converts configured names for the backend.
func named(in []config.Named) []wkbackend.Named {
	out := make([]wkbackend.Named, len(in))
	for i, n := range in {
		out[i] = wkbackend.Named{ID: n.ID, Name: n.Name}
	}
	return out
}

// hostedMedia are a backend's hosted-media options: its config section's,
// with the message size limit, the database's retention, and the files
// beside the database unless dir says otherwise.
func hostedMedia(cfg *config.Config, m config.HostedMedia) mediahost.Options {
	o := mediahost.Options{
		Address:   m.Address,
		PublicURL: m.PublicURL,
		Dir:       m.Dir,
		MaxBytes:  cfg.Message.MaxMediaBytes(),
		Retention: cfg.Database.Retention(),
	}
	if o.PublicURL != "" && o.Dir == "" {
		o.Dir = filepath.Join(filepath.Dir(cfg.Database.Path), "media")
	}
	return o
}
