package wukongim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
)

// Group administration over the HTTP API, which WuKongIM trusts without
// checking who asks: the bot can do whatever its operator lets the
// daemon reach. A mute is a blacklist entry (the JSON-RPC send refuses a
// blacklisted member's messages); WuKongIM has no mute duration, so the
// backend schedules the blacklist_remove, keeps the schedule in KV and
// re-arms it when Run starts, so a restart does not leave a member muted
// for good.

const (
	// unbansKey holds the scheduled unbans.
	unbansKey = "wukongim/unbans"
	// maxUnbans bounds the scheduled unbans (each one a mute in force),
	// so that the schedule stays one KV value under the store's 1 MiB.
	maxUnbans = 1000
	// unbanRetry spaces the attempts of an unban WuKongIM refused.
	unbanRetry = time.Minute
	// adminTimeout bounds one unban call made by Run.
	adminTimeout = 30 * time.Second
)

// unban is one scheduled blacklist_remove.
type unban struct {
	Group string `json:"group"`
	User  string `json:"user"`
	At    int64  `json:"at"` // unix seconds
}

// unbans is the schedule. poke wakes Run's scheduler after a change.
type unbans struct {
	kv   KV
	mu   sync.Mutex
	list []unban
	// retry is when a failed unban may be tried again (not persisted: a
	// restart tries at once).
	retry map[unban]time.Time
	poke  chan struct{}
}

func loadUnbans(kv KV, log *zap.Logger) *unbans {
	u := &unbans{kv: kv, retry: map[unban]time.Time{}, poke: make(chan struct{}, 1)}
	raw, err := kv.Get(unbansKey)
	switch {
	case errors.Is(err, platform.ErrNotFound):
	case err != nil:
		log.Error("mutes: read the scheduled unbans; muted members stay muted until unmuted", zap.Error(err))
	default:
		if err := json.Unmarshal(raw, &u.list); err != nil {
			log.Error("mutes: scheduled unbans unreadable; muted members stay muted until unmuted", zap.Error(err))
		}
	}
	return u
}

// set schedules (at non-zero) or cancels the unban of user in group, and
// persists the schedule.
func (u *unbans) set(ctx context.Context, group, user string, at time.Time) error {
	u.mu.Lock()
	for x := range u.retry {
		if x.Group == group && x.User == user {
			delete(u.retry, x)
		}
	}
	list := slices.DeleteFunc(slices.Clone(u.list), func(x unban) bool { return x.Group == group && x.User == user })
	if !at.IsZero() {
		if len(list) >= maxUnbans {
			u.mu.Unlock()
			return platform.BadParamf("duration: %d timed mutes are in force already; lift some first", maxUnbans)
		}
		list = append(list, unban{Group: group, User: user, At: at.Unix()})
	}
	err := u.save(ctx, list)
	if err == nil {
		u.list = list
	}
	u.mu.Unlock()
	u.wake()
	return err
}

// save writes list; u.mu is held.
func (u *unbans) save(ctx context.Context, list []unban) error {
	raw, _ := json.Marshal(list)
	if err := u.kv.Set(ctx, unbansKey, raw); err != nil {
		return fmt.Errorf("wukongim: keep the mute schedule: %w", err)
	}
	return nil
}

func (u *unbans) wake() {
	select {
	case u.poke <- struct{}{}:
	default:
	}
}

// until is when user's mute in group ends, zero if none is scheduled.
func (u *unbans) until(group, user string) time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, x := range u.list {
		if x.Group == group && x.User == user {
			return time.Unix(x.At, 0)
		}
	}
	return time.Time{}
}

// next is the earliest unban that may be tried, and when.
func (u *unbans) next() (unban, time.Time, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	var (
		best unban
		when time.Time
		ok   bool
	)
	for _, x := range u.list {
		t := time.Unix(x.At, 0)
		if r, failed := u.retry[x]; failed && r.After(t) {
			t = r
		}
		if !ok || t.Before(when) {
			best, when, ok = x, t, true
		}
	}
	return best, when, ok
}

// done removes a carried-out unban, unless it was rescheduled meanwhile.
func (u *unbans) done(ctx context.Context, x unban) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.retry, x)
	i := slices.Index(u.list, x)
	if i < 0 {
		return nil
	}
	list := slices.Delete(slices.Clone(u.list), i, i+1)
	if err := u.save(ctx, list); err != nil {
		return err
	}
	u.list = list
	return nil
}

// failed holds x back until at.
func (u *unbans) failed(x unban, at time.Time) {
	u.mu.Lock()
	u.retry[x] = at
	u.mu.Unlock()
}

// runUnbans carries out the schedule until ctx is done.
func (b *Backend) runUnbans(ctx context.Context) {
	for {
		x, when, ok := b.unbans.next()
		var (
			timer *time.Timer
			fire  <-chan time.Time
		)
		if ok {
			timer = time.NewTimer(max(when.Sub(b.now()), 0))
			fire = timer.C
		}
		due := false
		select {
		case <-ctx.Done():
		case <-b.unbans.poke:
		case <-fire:
			due = true
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		if !due {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, adminTimeout)
		err := b.api.BlacklistRemove(cctx, x.Group, channelGroup, []string{x.User})
		if err == nil {
			err = b.unbans.done(cctx, x)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			b.log.Warn("mutes: lift a mute; trying again later", zap.String("group", x.Group), zap.String("user", x.User), zap.Error(err))
			b.unbans.failed(x, b.now().Add(unbanRetry))
			continue
		}
		b.log.Info("mutes: mute ended", zap.String("group", x.Group), zap.String("user", x.User))
	}
}

// Kick removes a member from the group's subscribers. WuKongIM has no
// join requests, so rejectAgain has nothing to refuse: a removed member
// comes back only when the business server adds them.
func (b *Backend) Kick(ctx context.Context, groupID, userID string, _ bool) error {
	if err := b.api.RemoveSubscribers(ctx, groupID, channelGroup, []string{userID}); err != nil {
		return apiError("remove a group member", err)
	}
	b.dir.removeMember(groupID, userID)
	b.flushDirectory(ctx)
	return nil
}

// Mute blacklists a member for d, rounded up to a whole second, and
// schedules the end; 0 lifts a mute at once. The blacklist has no
// duration of its own: the backend lifts it when d has passed.
func (b *Backend) Mute(ctx context.Context, groupID, userID string, d time.Duration) error {
	if d < 0 {
		return platform.BadParamf("duration: %v is negative; 0 lifts a mute", d)
	}
	if d == 0 {
		if err := b.api.BlacklistRemove(ctx, groupID, channelGroup, []string{userID}); err != nil {
			return apiError("lift a mute", err)
		}
		return b.unbans.set(ctx, groupID, userID, time.Time{})
	}
	d = (d + time.Second - 1).Truncate(time.Second)
	if err := b.api.BlacklistAdd(ctx, groupID, channelGroup, []string{userID}); err != nil {
		return apiError("mute a group member", err)
	}
	if err := b.unbans.set(ctx, groupID, userID, b.now().Add(d)); err != nil {
		return &platform.Error{Msg: "muted, but the end of the mute could not be scheduled (lift it with duration 0): " + err.Error(), Err: err}
	}
	return nil
}

// SetGroupName is unsupported: WuKongIM keeps no group names.
func (b *Backend) SetGroupName(context.Context, string, string) error {
	return platform.Unsupportedf("WuKongIM keeps no group names: name groups in the config's wukongim.groups")
}

// SetCard is unsupported: WuKongIM keeps no group cards.
func (b *Backend) SetCard(context.Context, string, string, string) error {
	return platform.Unsupportedf("WuKongIM keeps no group cards or names: name users in the config's wukongim.users")
}

// Leave removes the account from the group's subscribers.
func (b *Backend) Leave(ctx context.Context, groupID string) error {
	if err := b.api.RemoveSubscribers(ctx, groupID, channelGroup, []string{b.self.ID}); err != nil {
		return apiError("leave the group", err)
	}
	b.dir.leave(groupID)
	b.flushDirectory(ctx)
	return nil
}

// flushDirectory writes the directory now, logging a failure (Run's
// flusher tries again).
func (b *Backend) flushDirectory(ctx context.Context) {
	if err := b.dir.flush(context.WithoutCancel(ctx)); err != nil {
		b.log.Warn("directory: write", zap.Error(err))
	}
}
