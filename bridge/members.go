package bridge

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
)

// Group member roles and names for the sender object of group messages.
//
// Messages carry the sender's display name but not their role, so roles
// come from the group's member list (platform.Directory.Members), cached
// per group; a backend without a Directory leaves every sender a member:
//
//   - the ingest goroutine never waits for a REST call (peek): a group
//     never fetched is queued for the background fetchers and its message
//     is published at once with the documented fallback, role "member",
//     no card and the pushed display name as nickname; the events after
//     the fetch completes carry the real role and card. One slow or hung
//     member list must not stall every chat (it once did, for up to
//     memberFetchTimeout per new group). Actions (lookup) still fetch a
//     never-fetched group on the spot: they run on their own goroutine;
//   - get_group_member_list and get_group_member_info fill the cache with
//     the list they fetched anyway (fill);
//   - at most memberFetchers fetches run at once, each bounded by
//     memberFetchTimeout, deduplicated per group, and cancelled when the
//     bridge stops receiving;
//   - an entry older than memberTTL is used as it is while a background
//     worker refreshes it, so the pipeline never waits twice for a group;
//   - a sender missing from the list (joined since) gets role member and
//     schedules a refresh, at most every memberRetry per group;
//   - a failed fetch is remembered for memberRetry, so a broken group does
//     not cost a timeout per message;
//   - at most maxCachedGroups groups are kept; the least recently fetched
//     goes first.
//
// A list may give real names only; a sender whose display name differs
// has set a group nickname, which becomes card (and is learnt as a name to
// find their mentions by). A card the list gives is used as it is.

const (
	memberTTL          = 10 * time.Minute
	memberRetry        = 30 * time.Second
	memberFetchTimeout = 5 * time.Second
	maxCachedGroups    = 512
	maxLearntCards     = 4096 // per group
	// memberFetchers bounds the member lists fetched at once, so that
	// one hung group does not hold back the others.
	memberFetchers = 4
	// memberQueue bounds the groups waiting for a fetcher.
	memberQueue = 64
)

// memberInfo is what the bridge keeps of one member.
type memberInfo struct {
	role  platform.Role
	name  string // real name
	card  string // group nickname the list gives
	title string
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
	dir platform.Directory // nil: no member lists
	log *zap.Logger
	now func() time.Time

	mu      sync.Mutex
	groups  map[string]*groupMembers // guarded by mu
	queued  map[string]bool          // guarded by mu: refresh requested and not done
	refresh chan string              // group ids for run; never blocks a sender
}

func newMemberCache(dir platform.Directory, log *zap.Logger, now func() time.Time) *memberCache {
	return &memberCache{
		dir:     dir,
		log:     log,
		now:     now,
		groups:  map[string]*groupMembers{},
		queued:  map[string]bool{},
		refresh: make(chan string, memberQueue),
	}
}

// run fetches queued groups in the background with memberFetchers
// goroutines until ctx is done, and returns once they have.
func (c *memberCache) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range memberFetchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.work(ctx)
		}()
	}
	wg.Wait()
}

// work is one fetcher.
func (c *memberCache) work(ctx context.Context) {
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
	if c.dir == nil {
		return memberInfo{}, false
	}
	c.mu.Lock()
	g := c.groups[groupID]
	c.mu.Unlock()
	if g == nil {
		g = c.fetch(ctx, groupID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cachedLocked(g, groupID, userID)
}

// peek is lookup for the ingest goroutine: it never waits. A group never
// fetched is queued for the fetchers and reported as not known, so the
// caller falls back to role member.
func (c *memberCache) peek(groupID, userID string) (memberInfo, bool) {
	if c.dir == nil {
		return memberInfo{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[groupID]
	if g == nil {
		c.scheduleLocked(groupID)
		return memberInfo{}, false
	}
	return c.cachedLocked(g, groupID, userID)
}

// cachedLocked is userID's entry in g, the cached list of groupID; a list
// that failed, has aged, or lacks userID for a while is queued for a fresh
// fetch. c.mu is held.
func (c *memberCache) cachedLocked(g *groupMembers, groupID, userID string) (memberInfo, bool) {
	age := c.now().Sub(g.fetched)
	m, found := g.byID[userID]
	switch {
	case !g.ok && age >= memberRetry, g.ok && age >= memberTTL, g.ok && !found && age >= memberRetry:
		c.scheduleLocked(groupID)
	}
	return m, found
}

// fill caches a member list an action fetched anyway.
func (c *memberCache) fill(groupID string, list []platform.Member) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.storeLocked(groupID, list, nil)
}

// forget drops a group's list after an event that changed it; the next
// message of the group fetches it again.
func (c *memberCache) forget(groupID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.groups, groupID)
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
	m, ok := g.byID[userID]
	if ok && m.card != "" && m.card != g.cards[userID] {
		out = append(out, m.card)
	}
	if ok && m.name != "" {
		out = append(out, m.name)
	}
	return out
}

// learnCard records the display name a sender's push carried: when it is
// not their real name it is their group nickname. It returns the card.
func (c *memberCache) learnCard(groupID, userID, display string, m memberInfo, known bool) string {
	if known && m.card != "" {
		return m.card
	}
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
	list, err := c.dir.Members(fctx, groupID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		c.log.Warn("fetch group members", zap.String("group_id", groupID), zap.Error(err))
	}
	if err != nil && ctx.Err() != nil {
		// Stopped, not failed: remember nothing, so that a group is
		// not marked broken by a shutdown.
		if g := c.groups[groupID]; g != nil {
			return g
		}
		return &groupMembers{fetched: c.now(), byID: map[string]memberInfo{}, cards: map[string]string{}}
	}
	return c.storeLocked(groupID, list, err)
}

// storeLocked caches the outcome of a fetch of groupID.
func (c *memberCache) storeLocked(groupID string, list []platform.Member, err error) *groupMembers {
	old := c.groups[groupID]
	g := &groupMembers{fetched: c.now(), ok: err == nil, byID: map[string]memberInfo{}, cards: map[string]string{}}
	if old != nil {
		g.cards = old.cards
	}
	if err != nil {
		if old != nil && old.ok {
			// Keep what we had; try again after memberRetry.
			old.fetched = c.now().Add(memberRetry - memberTTL)
			return old
		}
	}
	for _, m := range list {
		role := m.Role
		if role == "" {
			role = platform.RoleMember
		}
		g.byID[m.UserID] = memberInfo{role: role, name: m.Name, card: m.Card, title: m.Title}
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
