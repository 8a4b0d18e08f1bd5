package bridge

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
)

// Account and implementation info (api/public.md).

// appName is get_version_info's app_name.
const appName = "yunhu-onebot"

type loginInfo struct {
	UserID   int64  `json:"user_id"`
	Nickname string `json:"nickname"`
}

// getLoginInfo is the first call Koishi and ZeroBot make. Transports may
// serve before Run has logged in, so an unknown account logs in here.
func (b *Bridge) getLoginInfo(ctx context.Context, _ *onebot.Request) (any, error) {
	if err := b.ensureLogin(ctx); err != nil {
		return nil, err
	}
	me := b.identity()
	return loginInfo{UserID: me.Number, Nickname: me.Name}, nil
}

// ensureLogin logs in unless Run has: an action that needs the account's
// id may come before Run's login finished.
func (b *Bridge) ensureLogin(ctx context.Context) error {
	if b.self() != "" {
		return nil
	}
	if err := b.login(ctx); err != nil {
		var pe *platform.Error
		if errors.As(err, &pe) && pe.Msg != "" {
			return platformError("log in", err) // "log in: <the platform's text>"
		}
		// login's error says "log in" already: once is enough.
		return onebot.ErrFailed(err.Error(), err)
	}
	return nil
}

func (b *Bridge) getStatus(context.Context, *onebot.Request) (any, error) {
	online, good := b.Status()
	return onebot.Status{Online: online, Good: good}, nil
}

type versionInfo struct {
	AppName         string `json:"app_name"`
	AppVersion      string `json:"app_version"`
	ProtocolVersion string `json:"protocol_version"`
	RuntimeVersion  string `json:"runtime_version"`
	RuntimeOS       string `json:"runtime_os"`
}

func (b *Bridge) getVersionInfo(context.Context, *onebot.Request) (any, error) {
	return versionInfo{
		AppName: appName, AppVersion: b.opts.Version, ProtocolVersion: "v11",
		RuntimeVersion: runtime.Version(), RuntimeOS: runtime.GOOS,
	}, nil
}

// buildVersion is the module version the binary was built from, as the
// daemon's -version prints it when no version was stamped in.
func buildVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}

type yesResult struct {
	Yes bool `json:"yes"`
}

// canSend answers can_send_image and can_send_record: the core hands
// both to the backend, which answers a medium its platform cannot carry
// when it is sent, with the reason.
func canSend(context.Context, *onebot.Request) (any, error) {
	return yesResult{Yes: true}, nil
}

// cleanCache succeeds: the bridge keeps no media or other cache files.
func cleanCache(context.Context, *onebot.Request) (any, error) {
	return nil, nil
}
