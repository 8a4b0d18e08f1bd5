package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// Friend and group requests (request.md). Yunhu announces a request with a
// bare invite_apply push (§6.7); its details come from the request list
// (§3.4), which also holds requests already decided. The watcher reports
// every pending request once: what it reported is kept in the store, so a
// restart or a later invite_apply does not report it again. The list is
// read after every invite_apply and every (re)connection, since requests
// that arrived while the socket was down announce themselves nowhere else.
//
// The flag of a request event is "<kind>:<request id>", kind one of
// friend, group_add (someone asks to join a group the account manages)
// and group_invite (someone invites the account into a group), e.g.
// "friend:42". set_friend_add_request and set_group_add_request take it
// back through parseRequestFlag; the id is what agree-apply wants.

// requestKind says what a request flag is for.
type requestKind string

const (
	requestFriend      requestKind = "friend"
	requestGroupAdd    requestKind = "group_add"
	requestGroupInvite requestKind = "group_invite"
)

// requestFlag is the flag of a request event.
func requestFlag(kind requestKind, id int64) string {
	return string(kind) + ":" + strconv.FormatInt(id, 10)
}

// parseRequestFlag reads a flag made by requestFlag. The error is a 1400
// naming the flag parameter, ready to be returned by an action.
func parseRequestFlag(flag string) (id int64, kind requestKind, err error) {
	k, num, ok := strings.Cut(flag, ":")
	switch requestKind(k) {
	case requestFriend, requestGroupAdd, requestGroupInvite:
	default:
		ok = false
	}
	if ok {
		id, err = strconv.ParseInt(num, 10, 64)
		ok = err == nil && id > 0
	}
	if !ok {
		return 0, "", onebot.ErrBadParams("flag: %q is not a request flag of this bridge (want friend:<id>, group_add:<id> or group_invite:<id>)", flag)
	}
	return id, requestKind(k), nil
}

const (
	// requestsKey is the store key of the reported requests.
	requestsKey = "bridge/requests-reported"
	// maxReportedRequests bounds what is remembered; the request list
	// holds far fewer pending requests than this.
	maxReportedRequests = 1000
	// requestRetry is the wait after a failed read of the request list.
	requestRetry = 30 * time.Second
)

// requestWatcher turns new entries of the request list into events. Its
// state belongs to its run goroutine.
type requestWatcher struct {
	b    *Bridge
	kick chan struct{} // capacity 1: pokes coalesce

	reported []string // keys, oldest first
	seen     map[string]bool
}

func newRequestWatcher(b *Bridge) *requestWatcher {
	return &requestWatcher{b: b, kick: make(chan struct{}, 1), seen: map[string]bool{}}
}

// poke asks for a read of the request list; it never blocks.
func (w *requestWatcher) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// run reads the request list whenever poked, until ctx is done.
func (w *requestWatcher) run(ctx context.Context) {
	w.load()
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		case <-retry:
		}
		retry = nil
		if err := w.poll(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			w.b.log.Warn("read friend/group requests; retrying", zap.Error(err), zap.Duration("in", requestRetry))
			retry = time.After(requestRetry)
		}
	}
}

// load reads what earlier runs reported.
func (w *requestWatcher) load() {
	v, err := w.b.store.Get(requestsKey)
	if errors.Is(err, store.ErrNotFound) {
		return
	}
	if err == nil {
		err = json.Unmarshal(v, &w.reported)
	}
	if err != nil {
		w.b.log.Warn("read reported requests; pending requests may be reported again", zap.Error(err))
		w.reported = nil
	}
	for _, k := range w.reported {
		w.seen[k] = true
	}
}

// requestKey identifies a request as reported. A request that is made
// again keeps its id but gets a new time, and is reported again.
func requestKey(r *yunhu.FriendRequest) string {
	return strconv.FormatInt(r.ID, 10) + "@" + strconv.FormatInt(r.InviteTime.Unix(), 10)
}

// poll reports the pending requests not reported yet, oldest first. They
// are remembered in the store before they are published.
func (w *requestWatcher) poll(ctx context.Context) error {
	reqs, _, err := w.b.platform.FriendRequests(ctx)
	if err != nil {
		return fmt.Errorf("request list: %w", err)
	}
	self := w.b.self()
	var fresh []yunhu.FriendRequest
	for _, r := range slices.Backward(reqs) { // the list is newest first
		if r.Result != 0 || r.InviterID == self || w.seen[requestKey(&r)] {
			continue
		}
		if r.TargetType != yunhu.ChatTypeUser && r.TargetType != yunhu.ChatTypeGroup {
			continue // bots are added without a request
		}
		fresh = append(fresh, r)
	}
	if len(fresh) == 0 {
		return nil
	}
	var joined map[string]bool // groups the account is in
	if slices.ContainsFunc(fresh, func(r yunhu.FriendRequest) bool { return r.TargetType == yunhu.ChatTypeGroup }) {
		book, err := w.b.platform.AddressBook(ctx)
		if err != nil {
			return fmt.Errorf("address book: %w", err)
		}
		joined = make(map[string]bool, len(book.Groups))
		for _, g := range book.Groups {
			joined[g.ID] = true
		}
	}
	events := make([]any, 0, len(fresh))
	for i := range fresh {
		ev, err := w.event(ctx, &fresh[i], joined)
		if err != nil {
			return err
		}
		events = append(events, ev)
	}
	for i := range fresh {
		k := requestKey(&fresh[i])
		w.seen[k] = true
		w.reported = append(w.reported, k)
	}
	if n := len(w.reported) - maxReportedRequests; n > 0 {
		for _, k := range w.reported[:n] {
			delete(w.seen, k)
		}
		w.reported = slices.Delete(w.reported, 0, n)
	}
	v, err := json.Marshal(w.reported)
	if err != nil {
		return fmt.Errorf("encode reported requests: %w", err)
	}
	if err := w.b.store.Set(ctx, requestsKey, v); err != nil {
		return fmt.Errorf("remember reported requests: %w", err)
	}
	for _, ev := range events {
		if err := w.b.hub.Publish(ev); err != nil {
			w.b.log.Error("publish request event", zap.Error(err))
		}
	}
	return nil
}

// event builds the request event of r. A group request for a group the
// account is in asks to join it (the account is its owner or an admin, or
// it would not see the request); otherwise the account is invited.
func (w *requestWatcher) event(ctx context.Context, r *yunhu.FriendRequest, joined map[string]bool) (any, error) {
	uid, err := w.b.oneBotID(ctx, r.InviterID)
	if err != nil {
		return nil, err
	}
	t := r.InviteTime.Unix()
	if r.InviteTime.IsZero() {
		t = w.b.now().Unix()
	}
	if r.TargetType == yunhu.ChatTypeUser {
		return &friendRequestEvent{
			Time: t, SelfID: w.b.selfNumber(), PostType: postRequest, RequestType: requestTypeFriend,
			UserID: uid, Comment: r.Note, Flag: requestFlag(requestFriend, r.ID),
		}, nil
	}
	gid, err := w.b.oneBotID(ctx, r.TargetID)
	if err != nil {
		return nil, err
	}
	sub, kind := requestSubInvite, requestGroupInvite
	if joined[r.TargetID] {
		sub, kind = requestSubAdd, requestGroupAdd
	}
	return &groupRequestEvent{
		Time: t, SelfID: w.b.selfNumber(), PostType: postRequest, RequestType: requestTypeGroup, SubType: sub,
		GroupID: gid, UserID: uid, Comment: r.Note, Flag: requestFlag(kind, r.ID),
	}, nil
}
