package yunhu

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

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	yh "github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// Friend and group requests (request.md). Yunhu announces a request with a
// bare invite_apply push (§6.7); its details come from the request list
// (§3.4), which also holds requests already decided. The watcher reports
// every pending request once: what it reported is kept in the KV, so a
// restart or a later invite_apply does not report it again. The list is
// read after every invite_apply and every (re)connection, since requests
// that arrived while the socket was down announce themselves nowhere else.
//
// The flag of a request is "<kind>:<request id>", kind one of friend,
// group_add (someone asks to join a group the account manages) and
// group_invite (someone invites the account into a group), e.g.
// "friend:42". Decide takes it back through parseRequestFlag; the id is
// what agree-apply wants.

// requestFlag is the flag of a request.
func requestFlag(kind platform.RequestKind, id int64) string {
	return string(kind) + ":" + strconv.FormatInt(id, 10)
}

// parseRequestFlag reads a flag made by requestFlag. The error is a bad
// parameter naming flag.
func parseRequestFlag(flag string) (id int64, kind platform.RequestKind, err error) {
	k, num, ok := strings.Cut(flag, ":")
	switch platform.RequestKind(k) {
	case platform.FriendRequest, platform.GroupJoinRequest, platform.GroupInviteRequest:
	default:
		ok = false
	}
	if ok {
		id, err = strconv.ParseInt(num, 10, 64)
		ok = err == nil && id > 0
	}
	if !ok {
		return 0, "", platform.BadParamf("flag: %q is not a request flag of this bridge (want friend:<id>, group_add:<id> or group_invite:<id>)", flag)
	}
	return id, platform.RequestKind(k), nil
}

// Decide accepts or rejects the request flag names. remark is not
// applied: Yunhu's agree-apply carries neither a remark nor a reason.
func (b *Backend) Decide(ctx context.Context, flag string, approve bool, _ string) error {
	id, _, err := parseRequestFlag(flag)
	if err != nil {
		return err
	}
	agree := yh.AgreeAccept
	if !approve {
		agree = yh.AgreeReject
	}
	return classify(b.client.AgreeApply(ctx, id, agree))
}

const (
	// requestsKey is the KV key of the reported requests (the same as
	// before the backend had a package of its own, so that a database
	// does not report its requests again).
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
	b    *Backend
	sink platform.Sink
	kick chan struct{} // capacity 1: pokes coalesce

	reported []string // keys, oldest first
	seen     map[string]bool
}

func newRequestWatcher(b *Backend, sink platform.Sink) *requestWatcher {
	return &requestWatcher{b: b, sink: sink, kick: make(chan struct{}, 1), seen: map[string]bool{}}
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
	v, err := w.b.kv.Get(requestsKey)
	if errors.Is(err, platform.ErrNotFound) {
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
func requestKey(r *yh.FriendRequest) string {
	return strconv.FormatInt(r.ID, 10) + "@" + strconv.FormatInt(r.InviteTime.Unix(), 10)
}

// poll reports the pending requests not reported yet, oldest first. They
// are remembered in the KV before they are delivered.
func (w *requestWatcher) poll(ctx context.Context) error {
	reqs, _, err := w.b.client.FriendRequests(ctx)
	if err != nil {
		return fmt.Errorf("request list: %w", err)
	}
	self := w.b.selfID()
	var fresh []yh.FriendRequest
	for _, r := range slices.Backward(reqs) { // the list is newest first
		if r.Result != 0 || r.InviterID == self || w.seen[requestKey(&r)] {
			continue
		}
		if r.TargetType != yh.ChatTypeUser && r.TargetType != yh.ChatTypeGroup {
			continue // bots are added without a request
		}
		fresh = append(fresh, r)
	}
	if len(fresh) == 0 {
		return nil
	}
	var joined map[string]bool // groups the account is in
	if slices.ContainsFunc(fresh, func(r yh.FriendRequest) bool { return r.TargetType == yh.ChatTypeGroup }) {
		book, err := w.b.client.AddressBook(ctx)
		if err != nil {
			return fmt.Errorf("address book: %w", err)
		}
		joined = make(map[string]bool, len(book.Groups))
		for _, g := range book.Groups {
			joined[g.ID] = true
		}
	}
	events := make([]platform.Event, 0, len(fresh))
	for i := range fresh {
		events = append(events, w.event(&fresh[i], joined))
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
	if err := w.b.kv.Set(ctx, requestsKey, v); err != nil {
		return fmt.Errorf("remember reported requests: %w", err)
	}
	if err := w.sink.Deliver(ctx, events); err != nil && ctx.Err() == nil {
		w.b.log.Error("deliver request events", zap.Error(err))
	}
	return nil
}

// event is the request event of r. A group request for a group the
// account is in asks to join it (the account is its owner or an admin, or
// it would not see the request); otherwise the account is invited.
func (w *requestWatcher) event(r *yh.FriendRequest, joined map[string]bool) platform.Request {
	at := r.InviteTime
	if at.IsZero() {
		at = w.b.now()
	}
	if r.TargetType == yh.ChatTypeUser {
		return platform.Request{
			Kind: platform.FriendRequest, Flag: requestFlag(platform.FriendRequest, r.ID),
			UserID: r.InviterID, Comment: r.Note, Time: at,
		}
	}
	kind := platform.GroupInviteRequest
	if joined[r.TargetID] {
		kind = platform.GroupJoinRequest
	}
	return platform.Request{
		Kind: kind, Flag: requestFlag(kind, r.ID),
		UserID: r.InviterID, GroupID: r.TargetID, Comment: r.Note, Time: at,
	}
}
