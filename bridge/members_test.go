package bridge

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
)

// membersPlatform answers Members from a list and counts the calls.
type membersPlatform struct {
	platform.Directory
	calls atomic.Int32
	mu    sync.Mutex
	list  []platform.Member
	err   error
}

func (p *membersPlatform) Members(context.Context, string) ([]platform.Member, error) {
	p.calls.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]platform.Member(nil), p.list...), p.err
}

func (p *membersPlatform) set(list []platform.Member, err error) {
	p.mu.Lock()
	p.list, p.err = list, err
	p.mu.Unlock()
}

// TestMemberCache: one fetch per group on first sight; stale entries are
// served while a background refresh runs; failures are remembered.
func TestMemberCache(t *testing.T) {
	p := &membersPlatform{}
	p.set([]platform.Member{{UserID: "1", Name: "One", Role: platform.RoleOwner}}, nil)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	c := newMemberCache(p, zap.NewNop(), now)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.run(ctx)
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()
	waitCalls := func(n int32) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for p.calls.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d fetches, want %d", p.calls.Load(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}

	if m, ok := c.lookup(ctx, "g", "1"); !ok || m.role != platform.RoleOwner || m.name != "One" {
		t.Fatalf("first lookup %+v %v", m, ok)
	}
	c.lookup(ctx, "g", "1")
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("%d fetches for two lookups", n)
	}

	// Stale: the old answer now, the new one after the refresh.
	p.set([]platform.Member{{UserID: "1", Name: "One", Role: platform.RoleAdmin}}, nil)
	advance(memberTTL)
	if m, _ := c.lookup(ctx, "g", "1"); m.role != platform.RoleOwner {
		t.Errorf("stale lookup should answer from the cache: %+v", m)
	}
	waitCalls(2)
	memberWait(t, func() bool { m, _ := c.lookup(ctx, "g", "1"); return m.role == platform.RoleAdmin })

	// A failing group is not fetched again before memberRetry.
	p.set(nil, errors.New("boom"))
	before := p.calls.Load()
	if _, ok := c.lookup(ctx, "h", "1"); ok {
		t.Error("member of a group that failed to load")
	}
	c.lookup(ctx, "h", "1")
	if n := p.calls.Load() - before; n != 1 {
		t.Errorf("%d fetches of a failing group", n)
	}
	advance(memberRetry)
	c.lookup(ctx, "h", "1")
	waitCalls(before + 2)

	// Cards are learnt from display names that are not the real name.
	if card := c.learnCard("g", "1", "Boss", memberInfo{name: "One"}, true); card != "Boss" {
		t.Errorf("card %q", card)
	}
	if names := c.names("g", "1"); len(names) != 2 || names[0] != "Boss" || names[1] != "One" {
		t.Errorf("names %v", names)
	}
}

func memberWait(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(time.Millisecond)
	}
}
