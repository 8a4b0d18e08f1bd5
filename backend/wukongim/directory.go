package wukongim

import (
	"cmp"
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

// The directory. WuKongIM keeps no names, profiles, friends or member
// lists that a client may read, so the backend keeps its own, in KV: the
// groups it has seen a message in and their senders (its members, as far
// as anyone can tell), the peers of its private chats (its "friends"),
// and the names the operator configured. Kick and Leave keep it in step
// with the calls the backend makes. What it learns from messages is
// written by Run every flushEvery, not per message: losing a few seconds
// of it in a crash costs only names the next message teaches again.

const (
	// indexKey holds the seen groups and private peers;
	// membersKeyPrefix + group id a group's seen members.
	indexKey         = "wukongim/directory"
	membersKeyPrefix = "wukongim/members/"

	// Bounds of what is kept: a flood of fake senders cannot grow memory
	// without end, and with ids of at most maxDirID bytes every KV value
	// stays under the store's 1 MiB (the index: (maxGroups + maxPeers) ×
	// (maxDirID + 3) bytes; a member list: maxMembers × (maxDirID + 3)).
	maxGroups  = 1000
	maxPeers   = 2500
	maxMembers = 3000
	maxDirID   = 200

	flushEvery = 5 * time.Second
)

// dirIndex is the value of indexKey.
type dirIndex struct {
	Groups []string `json:"groups"`
	Peers  []string `json:"peers"`
}

type directory struct {
	kv       KV
	log      *zap.Logger
	self     string
	selfName string

	groupNames map[string]string // configured
	userNames  map[string]string // configured
	groupOrder []string          // configured, in config order
	userOrder  []string

	mu           sync.Mutex
	groups       map[string]map[string]bool // seen group → members
	peers        map[string]bool
	indexDirty   bool
	membersDirty map[string]bool
	warned       map[string]bool // bounds already logged
}

func newDirectory(kv KV, log *zap.Logger, self, selfName string, groups, users []Named) *directory {
	d := &directory{
		kv: kv, log: log, self: self, selfName: selfName,
		groupNames: map[string]string{}, userNames: map[string]string{},
		groups: map[string]map[string]bool{}, peers: map[string]bool{},
		membersDirty: map[string]bool{}, warned: map[string]bool{},
	}
	for _, g := range groups {
		if g.ID != "" {
			if _, dup := d.groupNames[g.ID]; !dup {
				d.groupOrder = append(d.groupOrder, g.ID)
			}
			d.groupNames[g.ID] = g.Name
		}
	}
	for _, u := range users {
		if u.ID != "" {
			if _, dup := d.userNames[u.ID]; !dup {
				d.userOrder = append(d.userOrder, u.ID)
			}
			d.userNames[u.ID] = u.Name
		}
	}
	d.load()
	return d
}

// load reads the directory from KV; what cannot be read is logged and
// learnt again.
func (d *directory) load() {
	var idx dirIndex
	if !d.read(indexKey, &idx) {
		return
	}
	for _, p := range idx.Peers {
		if len(d.peers) < maxPeers && p != "" {
			d.peers[p] = true
		}
	}
	for _, g := range idx.Groups {
		if len(d.groups) >= maxGroups || g == "" {
			break
		}
		members := map[string]bool{}
		var list []string
		d.read(membersKeyPrefix+g, &list)
		for _, m := range list {
			if len(members) < maxMembers && m != "" {
				members[m] = true
			}
		}
		d.groups[g] = members
	}
}

// read decodes key's value into v, false when there is none.
func (d *directory) read(key string, v any) bool {
	raw, err := d.kv.Get(key)
	if err != nil {
		if !errors.Is(err, platform.ErrNotFound) {
			d.log.Warn("directory: read state", zap.String("key", key), zap.Error(err))
		}
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		d.log.Warn("directory: state unreadable; learning it again", zap.String("key", key), zap.Error(err))
		return false
	}
	return true
}

// seen records that from wrote in conv.
func (d *directory) seen(conv platform.Conv, from string) {
	if len(conv.ID) > maxDirID || len(from) > maxDirID {
		return // no platform id is that long; nothing worth a KV key
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch conv.Kind {
	case platform.KindPrivate:
		if conv.ID == d.self || d.peers[conv.ID] {
			return
		}
		if len(d.peers) >= maxPeers {
			d.warnOnce("peers", "directory: too many private chats; new peers are not listed as friends", maxPeers)
			return
		}
		d.peers[conv.ID] = true
		d.indexDirty = true
	case platform.KindGroup:
		members, ok := d.groups[conv.ID]
		if !ok {
			if len(d.groups) >= maxGroups {
				d.warnOnce("groups", "directory: too many groups; new groups are not listed", maxGroups)
				return
			}
			members = map[string]bool{}
			d.groups[conv.ID] = members
			d.indexDirty = true
		}
		if from == "" || from == d.self || members[from] {
			return
		}
		if len(members) >= maxMembers {
			d.warnOnce("members:"+conv.ID, "directory: too many members in a group; new senders are not listed", maxMembers)
			return
		}
		members[from] = true
		d.membersDirty[conv.ID] = true
	}
}

// warnOnce logs a bound reached, once per what.
func (d *directory) warnOnce(what, msg string, limit int) {
	if len(d.warned) < 1000 && !d.warned[what] {
		d.warned[what] = true
		d.log.Warn(msg, zap.Int("limit", limit))
	}
}

// removeMember forgets a member of a group (kicked).
func (d *directory) removeMember(group, user string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if members, ok := d.groups[group]; ok && members[user] {
		delete(members, user)
		d.membersDirty[group] = true
	}
}

// leave forgets a group the account left.
func (d *directory) leave(group string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.groups[group]; ok {
		delete(d.groups, group)
		d.indexDirty = true
		d.membersDirty[group] = true
	}
}

// flush writes what changed to KV. A failed write stays dirty and is
// tried again at the next flush.
func (d *directory) flush(ctx context.Context) error {
	d.mu.Lock()
	var writes []struct {
		key string
		val []byte
	}
	add := func(key string, v any) {
		raw, _ := json.Marshal(v)
		writes = append(writes, struct {
			key string
			val []byte
		}{key, raw})
	}
	if d.indexDirty {
		idx := dirIndex{Groups: sortedKeys(d.groups), Peers: sortedKeys(d.peers)}
		add(indexKey, idx)
		d.indexDirty = false
	}
	for g := range d.membersDirty {
		list := []string{}
		if members, ok := d.groups[g]; ok {
			list = sortedKeys(members)
		}
		add(membersKeyPrefix+g, list)
	}
	clear(d.membersDirty)
	d.mu.Unlock()

	var errs []error
	for _, w := range writes {
		if err := d.kv.Set(ctx, w.key, w.val); err != nil {
			errs = append(errs, fmt.Errorf("directory: write %s: %w", w.key, err))
			d.mu.Lock()
			if w.key == indexKey {
				d.indexDirty = true
			} else {
				d.membersDirty[w.key[len(membersKeyPrefix):]] = true
			}
			d.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// userName is a user's configured name, "" if none.
func (d *directory) userName(id string) string { return d.userNames[id] }

// displayName is the name a user goes by: the configured one (the
// bot's own for the account), else the uid (WuKongIM has none of its
// own).
func (d *directory) displayName(id string) string {
	if id == d.self && d.selfName != "" {
		return cmp.Or(d.userNames[id], d.selfName)
	}
	return cmp.Or(d.userNames[id], id)
}

// knowsUser reports whether id was configured or seen.
func (d *directory) knowsUser(id string) bool {
	if _, ok := d.userNames[id]; ok || id == d.self {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.peers[id] {
		return true
	}
	for _, members := range d.groups {
		if members[id] {
			return true
		}
	}
	return false
}

// groupMembers returns a known group's members (sorted, the account
// included), false for a group neither configured nor seen.
func (d *directory) groupMembers(id string) ([]string, bool) {
	_, configured := d.groupNames[id]
	d.mu.Lock()
	defer d.mu.Unlock()
	members, seen := d.groups[id]
	if !configured && !seen {
		return nil, false
	}
	list := sortedKeys(members)
	if !members[d.self] {
		list = append(list, d.self)
		slices.Sort(list)
	}
	return list, true
}

// groupIDs lists the configured groups in config order, then the seen
// ones.
func (d *directory) groupIDs() []string {
	out := slices.Clone(d.groupOrder)
	d.mu.Lock()
	seen := sortedKeys(d.groups)
	d.mu.Unlock()
	for _, g := range seen {
		if _, ok := d.groupNames[g]; !ok {
			out = append(out, g)
		}
	}
	return out
}

// friendIDs lists the configured users, then the seen private peers.
func (d *directory) friendIDs() []string {
	out := slices.Clone(d.userOrder)
	d.mu.Lock()
	seen := sortedKeys(d.peers)
	d.mu.Unlock()
	for _, p := range seen {
		if _, ok := d.userNames[p]; !ok {
			out = append(out, p)
		}
	}
	return out
}

// User describes a user the directory knows (configured, or seen in a
// chat): WuKongIM has no profiles, so the name is the configured one or
// the uid.
func (b *Backend) User(_ context.Context, id string) (*platform.User, error) {
	if !b.dir.knowsUser(id) {
		return nil, fmt.Errorf("wukongim: user %q: never seen and not configured: %w", id, platform.ErrNotFound)
	}
	return &platform.User{ID: id, Name: b.dir.displayName(id), Sex: "unknown", Friend: b.isFriend(id)}, nil
}

func (b *Backend) isFriend(id string) bool {
	if _, ok := b.dir.userNames[id]; ok {
		return true
	}
	b.dir.mu.Lock()
	defer b.dir.mu.Unlock()
	return b.dir.peers[id]
}

// Friends lists the configured users and the peers of private chats
// seen: WuKongIM has no friends, and these are who the bot talks to.
func (b *Backend) Friends(context.Context) ([]platform.User, error) {
	ids := b.dir.friendIDs()
	out := make([]platform.User, 0, len(ids))
	for _, id := range ids {
		out = append(out, platform.User{ID: id, Name: b.dir.displayName(id), Sex: "unknown", Friend: true})
	}
	return out, nil
}

// Groups lists the configured groups and the groups seen.
func (b *Backend) Groups(ctx context.Context) ([]platform.Group, error) {
	ids := b.dir.groupIDs()
	out := make([]platform.Group, 0, len(ids))
	for _, id := range ids {
		if g, err := b.Group(ctx, id); err == nil {
			out = append(out, *g)
		}
	}
	return out, nil
}

// Group describes a configured or seen group; its member count is of
// the members seen.
func (b *Backend) Group(_ context.Context, id string) (*platform.Group, error) {
	members, ok := b.dir.groupMembers(id)
	if !ok {
		return nil, fmt.Errorf("wukongim: group %q: never seen and not configured: %w", id, platform.ErrNotFound)
	}
	return &platform.Group{ID: id, Name: cmp.Or(b.dir.groupNames[id], id), MemberCount: int32(len(members))}, nil
}

// Members lists the members seen in a group (WuKongIM lists no
// subscribers), the account included, all as plain members: WuKongIM has
// no roles. A member muted by the backend carries the scheduled end.
func (b *Backend) Members(_ context.Context, groupID string) ([]platform.Member, error) {
	ids, ok := b.dir.groupMembers(groupID)
	if !ok {
		return nil, fmt.Errorf("wukongim: group %q: never seen and not configured: %w", groupID, platform.ErrNotFound)
	}
	out := make([]platform.Member, 0, len(ids))
	for _, id := range ids {
		out = append(out, platform.Member{
			UserID: id, Name: b.dir.displayName(id), Role: platform.RoleMember,
			MutedUntil: b.unbans.until(groupID, id),
		})
	}
	return out, nil
}
