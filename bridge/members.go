package bridge

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Group member roles and names for the sender object of group messages.
//
// Pushes carry the sender's display name but not their role, so roles come
// from the group's member list (AllMembers), cached per group:
//
//   - a group never fetched is fetched on the spot, bounded by
//     memberFetchTimeout: the first message of a group waits for one REST
//     call, so that its role is right rather than a guess;
//   - an entry older than memberTTL is used as it is while a background
//     worker refreshes it, so the pipeline never waits twice for a group;
//   - a sender missing from the list (joined since) gets role member and
//     schedules a refresh, at most every memberRetry per group;
//   - a failed fetch is remembered for memberRetry, so a broken group does
//     not cost a timeout per message;
//   - at most maxCachedGroups groups are kept; the least recently fetched
//     goes first.
//
// The list gives real names only; a sender whose pushed display name
// differs has set a group nickname, which becomes card (and is learnt as a
// name to find their mentions by).

const (
	memberTTL          = 10 * time.Minute
	memberRetry        = 30 * time.Second
	memberFetchTimeout = 5 * time.Second
	maxCachedGroups    = 512
	maxLearntCards     = 4096 // per group
)

// memberInfo is what the bridge keeps of one member.
type memberInfo struct {
	level int32
	name  string // real name
}

// groupMembers is one group's cached member list.
type groupMembers struct {
	fetched time.Time
	ok      bool                  // the last fetch succeeded
	byID    map[string]memberInfo // user id →
	cards   map[string]string     // user id → group nickname seen in pushes
}

// memberCache is shared by the ingest goroutine and the actions that
// describe a message's sender as its event did (lookups), and its own
// refresh worker (run), which runs while the bridge receives.
type memberCache struct {
	platform Platform
	log      *zap.Logger
	now      func() time.Time

	mu      sync.Mutex
	groups  map[string]*groupMembers // guarded by mu
	queued  map[string]bool          // guarded by mu: refresh requested and not done
	refresh chan string              // group ids for run; never blocks a sender
}

func newMemberCache(p Platform, log *zap.Logger, now func() time.Time) *memberCache {
	return &memberCache{
		platform: p,
		log:      log,
		now:      now,
		groups:   map[string]*groupMembers{},
		queued:   map[string]bool{},
		refresh:  make(chan string, 64),
	}
}

// run refreshes groups in the background until ctx is done.
func (c *memberCache) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-c.refresh:
			c.fetch(ctx, id)
			c.mu.Lock()
			delete(c.queued, id)
			c.mu.Unlock()
		}
	}
}

// lookup returns the member userID of groupID. It fetches the group's list
// itself only when the group was never fetched.
func (c *memberCache) lookup(ctx context.Context, groupID, userID string) (memberInfo, bool) {
	c.mu.Lock()
	g := c.groups[groupID]
	c.mu.Unlock()
	if g == nil {
		g = c.fetch(ctx, groupID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	age := c.now().Sub(g.fetched)
	m, found := g.byID[userID]
	switch {
	case !g.ok && age >= memberRetry, g.ok && age >= memberTTL, g.ok && !found && age >= memberRetry:
		c.scheduleLocked(groupID)
	}
	return m, found
}

// names returns the names userID may be mentioned by in groupID, from the
// cache only.
func (c *memberCache) names(groupID, userID string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[groupID]
	if g == nil {
		return nil
	}
	var out []string
	if card := g.cards[userID]; card != "" {
		out = append(out, card)
	}
	if m, ok := g.byID[userID]; ok && m.name != "" {
		out = append(out, m.name)
	}
	return out
}

// learnCard records the display name a sender's push carried: when it is
// not their real name it is their group nickname. It returns the card.
func (c *memberCache) learnCard(groupID, userID, display string, m memberInfo, known bool) string {
	if !known || display == "" || display == m.name {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if g := c.groups[groupID]; g != nil && (g.cards[userID] != "" || len(g.cards) < maxLearntCards) {
		g.cards[userID] = display
	}
	return display
}

// scheduleLocked asks run to refresh a group, unless it is already queued
// or the queue is full (the next lookup asks again).
func (c *memberCache) scheduleLocked(groupID string) {
	if c.queued[groupID] {
		return
	}
	select {
	case c.refresh <- groupID:
		c.queued[groupID] = true
	default:
	}
}

// fetch loads a group's member list and caches the result, failure
// included.
func (c *memberCache) fetch(ctx context.Context, groupID string) *groupMembers {
	fctx, cancel := context.WithTimeout(ctx, memberFetchTimeout)
	defer cancel()
	list, err := c.platform.AllMembers(fctx, groupID)
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.groups[groupID]
	g := &groupMembers{fetched: c.now(), ok: err == nil, byID: map[string]memberInfo{}, cards: map[string]string{}}
	if old != nil {
		g.cards = old.cards
	}
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("fetch group members", zap.String("group_id", groupID), zap.Error(err))
		}
		if old != nil && old.ok {
			// Keep what we had; try again after memberRetry.
			old.fetched = c.now().Add(memberRetry - memberTTL)
			return old
		}
	}
	for _, m := range list {
		g.byID[m.UserID] = memberInfo{level: m.PermissionLevel, name: m.Name}
	}
	c.groups[groupID] = g
	c.evictLocked()
	return g
}

// evictLocked keeps at most maxCachedGroups groups.
func (c *memberCache) evictLocked() {
	for len(c.groups) > maxCachedGroups {
		var oldest string
		var at time.Time
		for id, g := range c.groups {
			if oldest == "" || g.fetched.Before(at) {
				oldest, at = id, g.fetched
			}
		}
		delete(c.groups, oldest)
	}
}
