package wildfire

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/internal/clip"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wf "github.com/yunhu-onebot/yunhu-onebot/wildfire"
)

// Directory: profiles, groups and members come from the robot API;
// friends and the robot's groups from the admin API (ids, then one
// profile each), and are empty without it. Callbacks carry no names, so
// the names the backend learns from profiles are kept (in memory, bounded,
// and in KV) to name senders as their messages arrive, without a call on
// the ingest path.

// WildfireChat group member types.
const (
	memberManager = 1
	memberOwner   = 2
	memberSilent  = 3
	memberRemoved = 4
)

// Group modify types (/robot/group/modify).
const (
	modifyName = 0
	modifyMute = 3
)

// maxListed bounds the profiles one friend or group list reads.
const maxListed = 500

// User reads a user's profile.
func (b *Backend) User(ctx context.Context, id string) (*platform.User, error) {
	u, err := b.c.UserInfo(ctx, id)
	if err != nil {
		return nil, apiError("user "+clip.Bytes(id, 64), err)
	}
	pu := userOf(u, id)
	b.names.learn(ctx, pu.ID, pu.Name)
	return &pu, nil
}

func userOf(u wf.User, id string) platform.User {
	sex := "unknown"
	switch u.Gender {
	case 1:
		sex = "male"
	case 2:
		sex = "female"
	}
	return platform.User{
		ID: firstNonEmpty(u.UserID, id), Name: firstNonEmpty(u.DisplayName, u.Name),
		Sex: sex, Bot: u.Type == 1, Avatar: u.Portrait,
	}
}

// Friends lists the robot's friends through the admin API.
func (b *Backend) Friends(ctx context.Context) ([]platform.User, error) {
	if !b.c.HasAdmin() {
		b.log.Info("get_friend_list: listing friends needs wildfire.admin-secret; answering none")
		return nil, nil
	}
	ids, err := b.c.FriendIDs(ctx, b.robot.ID)
	if err != nil {
		return nil, apiError("friend list", err)
	}
	ids = b.cut("friends", ids)
	out := make([]platform.User, 0, len(ids))
	for _, id := range ids {
		u, err := b.User(ctx, id)
		if errors.Is(err, platform.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		u.Friend = true
		out = append(out, *u)
	}
	return out, nil
}

// Groups lists the robot's groups through the admin API.
func (b *Backend) Groups(ctx context.Context) ([]platform.Group, error) {
	if !b.c.HasAdmin() {
		b.log.Info("get_group_list: listing groups needs wildfire.admin-secret; answering none")
		return nil, nil
	}
	ids, err := b.c.GroupIDsOf(ctx, b.robot.ID)
	if err != nil {
		return nil, apiError("group list", err)
	}
	ids = b.cut("groups", ids)
	out := make([]platform.Group, 0, len(ids))
	for _, id := range ids {
		g, err := b.Group(ctx, id)
		if errors.Is(err, platform.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *g)
	}
	return out, nil
}

func (b *Backend) cut(what string, ids []string) []string {
	if len(ids) > maxListed {
		b.log.Warn("list cut: one profile is read per entry", zap.String("list", what), zap.Int("entries", len(ids)), zap.Int("kept", maxListed))
		return ids[:maxListed]
	}
	return ids
}

// Group reads a group's info.
func (b *Backend) Group(ctx context.Context, id string) (*platform.Group, error) {
	g, err := b.c.GroupInfo(ctx, id)
	if err != nil {
		return nil, apiError("group "+clip.Bytes(id, 64), err)
	}
	return &platform.Group{
		ID: firstNonEmpty(g.TargetID, id), Name: g.Name, MemberCount: int32(g.MemberCount),
		Extra: map[string]any{"owner": g.Owner, "portrait": g.Portrait, "mute": g.Mute == 1},
	}, nil
}

// Members lists a group's members with their roles. The server answers
// an empty list when the robot is not a member.
func (b *Backend) Members(ctx context.Context, groupID string) ([]platform.Member, error) {
	ms, err := b.c.GroupMembers(ctx, groupID)
	if err != nil {
		return nil, apiError("members of "+clip.Bytes(groupID, 64), err)
	}
	out := make([]platform.Member, 0, len(ms))
	for _, m := range ms {
		if m.Type == memberRemoved || m.MemberID == "" {
			continue
		}
		pm := platform.Member{UserID: m.MemberID, Name: b.names.get(m.MemberID), Card: m.Alias, Role: platform.RoleMember}
		switch m.Type {
		case memberOwner:
			pm.Role = platform.RoleOwner
		case memberManager:
			pm.Role = platform.RoleAdmin
		case memberSilent:
			pm.MutedUntil = time.Unix(int64(mutedIndefinitely/time.Second), 0)
		}
		if m.CreateDt > 0 {
			pm.JoinTime = time.UnixMilli(m.CreateDt)
		}
		out = append(out, pm)
	}
	return out, nil
}

// Kick removes a member; WildfireChat has no block list, so rejectAgain
// changes nothing.
func (b *Backend) Kick(ctx context.Context, groupID, userID string, _ bool) error {
	return apiError("kick", b.c.KickMembers(ctx, groupID, []string{userID}))
}

// Mute is per member, which only the pro edition offers.
func (b *Backend) Mute(context.Context, string, string, time.Duration) error {
	return platform.Unsupportedf("the community edition has no per-member mute (its mute routes are not served); set_group_whole_ban mutes the whole group")
}

// MuteAll mutes (on) or unmutes the whole group.
func (b *Backend) MuteAll(ctx context.Context, groupID string, on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	return apiError("mute the group", b.c.ModifyGroup(ctx, groupID, modifyMute, v))
}

// SetGroupName renames a group.
func (b *Backend) SetGroupName(ctx context.Context, groupID, name string) error {
	return apiError("rename the group", b.c.ModifyGroup(ctx, groupID, modifyName, name))
}

// SetCard sets the robot's own alias in a group; the robot API sets no
// one else's.
func (b *Backend) SetCard(ctx context.Context, groupID, userID, card string) error {
	if userID != b.robot.ID {
		return platform.Unsupportedf("the WildfireChat robot API sets only the robot's own group alias")
	}
	return apiError("set the alias", b.c.SetAlias(ctx, groupID, card))
}

// Leave quits a group.
func (b *Backend) Leave(ctx context.Context, groupID string) error {
	return apiError("quit the group", b.c.QuitGroup(ctx, groupID))
}

// names keeps the display names learnt from profiles: a bounded map in
// front of KV.
type names struct {
	kv  KV
	log *zap.Logger

	mu sync.Mutex
	m  map[string]string
}

// maxNames bounds the names kept in memory; KV keeps them all.
const maxNames = 10000

// nameKey is the KV key of a user's name.
func nameKey(uid string) string { return "wildfire/name/" + uid }

func newNames(kv KV, log *zap.Logger) *names {
	return &names{kv: kv, log: log, m: map[string]string{}}
}

// get returns the name known for uid, "" if none.
func (n *names) get(uid string) string {
	if uid == "" {
		return ""
	}
	n.mu.Lock()
	name, ok := n.m[uid]
	n.mu.Unlock()
	if ok {
		return name
	}
	raw, err := n.kv.Get(nameKey(uid))
	if errors.Is(err, platform.ErrNotFound) {
		n.remember(uid, "") // so that the next message does not read KV again
		return ""
	}
	if err != nil {
		n.log.Warn("names: read", zap.Error(err))
		return ""
	}
	n.remember(uid, string(raw))
	return string(raw)
}

// learn records uid's name, writing it to KV when it changed.
func (n *names) learn(ctx context.Context, uid, name string) {
	if uid == "" || name == "" || n.get(uid) == name {
		return
	}
	n.remember(uid, name)
	if err := n.kv.Set(ctx, nameKey(uid), []byte(name)); err != nil {
		n.log.Warn("names: write", zap.Error(err))
	}
}

func (n *names) remember(uid, name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.m[uid]; !ok && len(n.m) >= maxNames {
		for k := range n.m { // drop an arbitrary one: KV still has it
			delete(n.m, k)
			break
		}
	}
	n.m[uid] = name
}
