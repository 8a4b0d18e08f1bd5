// Package wildfire is the WildfireChat (野火IM) community im-server backend
// of the OneBot daemon: the contract of package platform over the
// WildfireChat client (package wildfire at the module's root, imported
// here as wf).
//
// The bot is a robot user. The server pushes what the robot receives by
// POSTing it to the robot's callback URL, unsigned and without retry
// (callback.go): the backend serves that URL behind a secret path and an
// allow-list of source addresses, and answers only once the core holds
// the events. It sends and manages groups over the signed robot API, and
// recalls and lists friends and groups over the admin API when its secret
// is configured (send.go, directory.go). The server stores no files the
// robot could upload to, so local media are hosted by package mediahost
// and linked by URL. There is no API that lists messages: history is what
// the daemon received.
//
// Conversations: a group's Conv.ID is the group id; a private chat's is
// the peer's uid. In a private callback conv.target is the robot itself
// and the peer is the sender. Message ids are the server's message uids
// (int64, beyond 2^53) as decimal strings.
package wildfire

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/internal/clip"
	"github.com/yunhu-onebot/yunhu-onebot/internal/mediahost"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wf "github.com/yunhu-onebot/yunhu-onebot/wildfire"
)

// Name is the backend's name: config's backend key, and the name 1404
// wordings give.
const Name = "wildfire"

// WildfireChat conversation types the backend speaks; chatrooms, channels,
// things and secret chats carry nothing OneBot has.
const (
	convPrivate = 0
	convGroup   = 1
)

// Client is what the backend needs from the WildfireChat client;
// *wf.Client provides it.
type Client interface {
	HasAdmin() bool
	Send(ctx context.Context, conv wf.Conversation, p wf.Payload) (wf.SendResult, error)
	Profile(ctx context.Context) (wf.User, error)
	UserInfo(ctx context.Context, userID string) (wf.User, error)
	GroupInfo(ctx context.Context, groupID string) (wf.Group, error)
	GroupMembers(ctx context.Context, groupID string) ([]wf.Member, error)
	KickMembers(ctx context.Context, groupID string, userIDs []string) error
	QuitGroup(ctx context.Context, groupID string) error
	ModifyGroup(ctx context.Context, groupID string, typ int, value string) error
	SetAlias(ctx context.Context, groupID, alias string) error
	SetCallback(ctx context.Context, url string) error
	Recall(ctx context.Context, operator string, messageUID int64) error
	FriendIDs(ctx context.Context, userID string) ([]string, error)
	GroupIDsOf(ctx context.Context, userID string) ([]string, error)
}

// The client provides the interface; a change of its signatures breaks
// the build here rather than at run time.
var _ Client = (*wf.Client)(nil)

// KV is the durable key/value state the backend keeps (the names it
// learnt); the daemon's store provides it. Get fails for a missing key
// with an error matching platform.ErrNotFound.
type KV interface {
	Get(key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte) error
}

// Options configure a Backend. Client, Robot, KV, CallbackPathSecret and
// CallbackAddress are required.
type Options struct {
	Client Client
	// Robot is the robot's user id; Name its display name until the
	// server's profile says otherwise.
	Robot string
	Name  string
	KV    KV
	// CallbackPathSecret is the first path element the callbacks must
	// carry (/<secret>/message, /<secret>/recall): the server's POSTs are
	// unsigned, so the URL is what tells them from anyone else's.
	CallbackPathSecret string
	// Allow lists the sources the callbacks are accepted from; empty
	// means loopback only.
	Allow []netip.Prefix
	// CallbackAddress is the host:port the daemon serves Handler on.
	CallbackAddress string
	// RegisterCallback, if set, is registered with the server as the
	// robot's callback URL when Run starts: the URL the server reaches
	// the daemon at, secret path included.
	RegisterCallback string
	// Media configures the hosting of local and base64 media, served by
	// Handler under /media/ (Media.Address is not used: the daemon serves
	// one address per backend).
	Media mediahost.Options
	Log   *zap.Logger // nil means no logging
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Backend is the WildfireChat backend. Create it with New.
type Backend struct {
	c       Client
	robot   platform.Account
	kv      KV
	secret  string
	allow   []netip.Prefix
	address string
	reg     string
	media   *mediahost.Host
	log     *zap.Logger
	now     func() time.Time
	names   *names

	// run is the receiving state while Run runs, nil otherwise: the
	// handler answers 503 without it.
	run atomic.Pointer[receiver]
	// queue bounds the callbacks waiting for Deliver; smaller in tests.
	queue int
}

// The capabilities the backend has.
var (
	_ platform.Backend     = (*Backend)(nil)
	_ platform.Directory   = (*Backend)(nil)
	_ platform.GroupAdmin  = (*Backend)(nil)
	_ platform.Callbacks   = (*Backend)(nil)
	_ platform.Unsupported = (*Backend)(nil)
)

// New returns a Backend.
func New(opts Options) (*Backend, error) {
	switch {
	case opts.Client == nil || opts.KV == nil:
		return nil, errors.New("wildfire backend: Client and KV are required")
	case opts.Robot == "":
		return nil, errors.New("wildfire backend: the robot's user id is required")
	case opts.CallbackPathSecret == "" || !validSecret(opts.CallbackPathSecret):
		return nil, errors.New("wildfire backend: callback.path-secret is required, one path element of letters, digits, '-', '_' or '.' (not \"media\"): the server's callbacks are unsigned, the secret path tells them apart")
	case opts.CallbackAddress == "":
		return nil, errors.New("wildfire backend: callback.address is required: the server pushes every message to the daemon's callback")
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	allow := opts.Allow
	if len(allow) == 0 {
		allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	b := &Backend{
		c:       opts.Client,
		robot:   platform.Account{ID: opts.Robot, Name: opts.Name},
		kv:      opts.KV,
		secret:  opts.CallbackPathSecret,
		allow:   allow,
		address: opts.CallbackAddress,
		reg:     opts.RegisterCallback,
		log:     opts.Log,
		now:     opts.Now,
		queue:   callbackQueue,
	}
	media, err := mediahost.New(opts.Media, opts.Log, func() time.Time { return b.now() })
	if err != nil {
		return nil, fmt.Errorf("wildfire backend: %w", err)
	}
	b.media = media
	b.names = newNames(opts.KV, opts.Log)
	return b, nil
}

func validSecret(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_' && r != '.' {
			return false
		}
	}
	// "media" would put the callbacks under the media files' path.
	return s != "." && s != ".." && s != strings.Trim(mediaPrefix, "/")
}

// Name is "wildfire".
func (b *Backend) Name() string { return Name }

// Self returns the robot's profile. Credentials the server refuses stop
// the daemon (platform.ErrUnauthorized); when the server cannot be asked
// (down, unreachable) the configured id and name stand in, since
// callbacks may arrive all the same.
func (b *Backend) Self(ctx context.Context) (platform.Account, error) {
	u, err := b.c.Profile(ctx)
	switch {
	case errors.Is(err, wf.ErrAuth), errors.Is(err, wf.ErrNotSigned):
		return platform.Account{}, fmt.Errorf("wildfire: robot %q: %w: %w (check wildfire.robot-id and robot-secret)", b.robot.ID, platform.ErrUnauthorized, err)
	case err != nil:
		var ae *wf.APIError
		if errors.As(err, &ae) {
			return platform.Account{}, fmt.Errorf("wildfire: robot profile: %w", err)
		}
		b.log.Warn("robot profile unavailable; using the configured id and name", zap.Error(err))
		return b.robot, nil
	}
	acc := platform.Account{ID: b.robot.ID, Name: firstNonEmpty(u.DisplayName, u.Name, b.robot.Name)}
	if u.UserID != "" && u.UserID != b.robot.ID {
		b.log.Warn("the server's profile names another user than wildfire.robot-id; using robot-id", zap.String("profile", u.UserID))
	}
	b.names.learn(ctx, acc.ID, acc.Name)
	return acc, nil
}

// msgID is the platform form of a message uid.
func msgID(uid int64) string { return strconv.FormatInt(uid, 10) }

// parseUID reads a platform message id.
func parseUID(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0, platform.BadParamf("message id %q is not a WildfireChat message uid", clip.Bytes(id, 40))
	}
	return n, nil
}

// apiError classifies a failed call: a refusal the server explained (an
// *wf.APIError) is a definite *platform.Error with its meaning, matching
// platform.ErrNotFound for "not exist"; anything else (a timeout, a
// transport failure) stays as it is, wrapped with what.
func apiError(what string, err error) error {
	if err == nil {
		return nil
	}
	var ae *wf.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("wildfire: %s: %w", what, err)
	}
	inner := err
	if errors.Is(err, wf.ErrNotExist) {
		inner = fmt.Errorf("%w: %w", platform.ErrNotFound, err)
	}
	msg := what + ": " + ae.Error()
	switch {
	case errors.Is(err, wf.ErrNoRight):
		msg += " (the robot lacks the right: not a member, or not the group's owner or a manager)"
	case errors.Is(err, wf.ErrOverFrequency):
		msg += " (the server allows a robot 1000 calls per 10 s)"
	}
	return &platform.Error{Msg: msg, Definite: true, Err: inner}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// Unsupported gives the reasons for what the community server lacks.
func (b *Backend) Unsupported() map[string]string {
	m := map[string]string{
		"set_friend_add_request":   "the WildfireChat community edition tells robots of no friend requests",
		"set_group_add_request":    "the WildfireChat community edition has no join requests: members are added directly",
		"edit_msg":                 "the WildfireChat community edition has no message edits (the update API is not routed)",
		"send_like":                "WildfireChat has no profile likes",
		"set_group_special_title":  "WildfireChat has no member titles",
		"set_group_admin":          "the WildfireChat community edition's robot API cannot set group managers",
		"set_group_anonymous":      "WildfireChat has no anonymous chat",
		"set_group_anonymous_ban":  "WildfireChat has no anonymous members",
		"get_group_honor_info":     "WildfireChat has no group honours",
		"delete_friend":            "the WildfireChat robot API cannot remove friends",
		"mark_msg_as_read":         "the robot's unread counts are not kept by the bridge",
		"get_forward_msg":          "WildfireChat keeps no forward id to expand: merged messages are shown as text",
		"send_group_forward_msg":   "WildfireChat has no server-side forward messages",
		"send_private_forward_msg": "WildfireChat has no server-side forward messages",
		"get_cookies":              "WildfireChat has no web cookies",
		"get_csrf_token":           "WildfireChat has no CSRF token",
		"get_credentials":          "WildfireChat has no web credentials",
	}
	if !b.c.HasAdmin() {
		m["delete_msg"] = recallNeedsAdmin
	}
	return m
}
