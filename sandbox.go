package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime"
	"net"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/yunhu-onebot/yunhu-onebot/app"
	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/internal/redact"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// sandbox is the -sandbox mode's Yunhu: the simulator, served on its own
// loopback listener next to a small control API (/sandbox/...) through
// which a person or a test makes the simulated users act and sees what
// the bot sent. It never listens beyond 127.0.0.1: the control API needs
// no credentials, and the simulator prints its accounts' tokens.
type sandbox struct {
	sim  *sim.Server
	ln   net.Listener
	base string // http://127.0.0.1:port
	log  *zap.Logger
	opts sandboxOptions
	// fetch downloads the media a user sends by URL (say?image=<url>).
	fetch *http.Client
}

// oneBotIDs maps a Yunhu id to the number OneBot frameworks see for it,
// as the daemon does (*store.Store): the id itself when it is a small
// decimal, its durable alias (2^52 and up) otherwise, such as "big".
type oneBotIDs interface {
	ToInt(ctx context.Context, yunhuID string) (int64, error)
}

type sandboxOptions struct {
	// DB is the sandbox's own database file, named in the banner.
	DB string
	// IDs maps Yunhu ids to OneBot ids for /sandbox/world.
	IDs oneBotIDs
	// Address is where the sandbox would rather listen; when it is taken
	// (another sandbox, tests in parallel) any free loopback port is used.
	Address string
}

// sandboxAddress is the sandbox's preferred listener: a fixed port keeps
// the curl commands a person noted down working across restarts.
const sandboxAddress = "127.0.0.1:5780"

// Bounds on a medium a simulated user sends by URL.
const (
	sandboxFetchTimeout = 10 * time.Second
	sandboxFetchBytes   = 8 << 20
)

// newSandbox binds the simulator's listener; Run serves it.
func newSandbox(log *zap.Logger, opts sandboxOptions) (*sandbox, error) {
	ln, err := listenSandbox(log, opts.Address)
	if err != nil {
		return nil, err
	}
	base := "http://" + ln.Addr().String()
	return &sandbox{
		// PublicURL makes media URLs in messages point at this listener.
		sim:   sim.New(sim.Options{Log: log.Named("sim"), PublicURL: base}),
		ln:    ln,
		base:  base,
		log:   log,
		opts:  opts,
		fetch: &http.Client{Timeout: sandboxFetchTimeout},
	}, nil
}

// listenSandbox binds a sandbox's loopback listener on address, its usual
// port, or on any free loopback port when that is taken (another sandbox,
// tests in parallel) or address is empty.
func listenSandbox(log *zap.Logger, address string) (net.Listener, error) {
	ln, err := net.Listen("tcp", cmp.Or(address, "127.0.0.1:0"))
	if err != nil && address != "" {
		log.Info("the sandbox's usual port is taken; using another", zap.String("usual", address), zap.Error(err))
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen: %w", err)
	}
	return ln, nil
}

// sandboxUsers are the simulated users of the WuKongIM and WildfireChat
// sandboxes, by id, with their names.
var sandboxUsers = []config.Named{{ID: "alice", Name: "Alice"}, {ID: "bob", Name: "Bob"}}

// sandboxUser is the id of the simulated user a control request's from
// names, by id or name; alice when it names none.
func sandboxUser(name string) (string, error) {
	name = cmp.Or(name, "alice")
	for _, u := range sandboxUsers {
		if strings.EqualFold(name, u.ID) || strings.EqualFold(name, u.Name) {
			return u.ID, nil
		}
	}
	return "", fmt.Errorf("from: %q is not one of alice, bob", name)
}

// resetSandboxDB empties the sandbox's database before it is opened. The
// simulated world is seeded afresh on every start, so anything the last
// run stored (message ids get_msg would resolve to messages that no longer
// exist, media keys on a simulator that is gone) would only mislead; the
// sandbox therefore starts each run with an empty database. path is always
// sandboxPath's name, never a real account's database.
//
// It deletes the buckets rather than the file: bbolt's lock keeps a second
// sandbox on the same file from wiping the database under the first (the
// store's "in use" error follows), and a file the daemon may not write is
// reported as the store would report it. A missing file, or one that
// cannot be opened, is left for store.Open to create or to explain.
func resetSandboxDB(path string) error {
	if err := store.Wipe(path); err != nil {
		if errors.Is(err, store.ErrInUse) {
			return fmt.Errorf("reset the sandbox database: %w (another sandbox is using it)", store.ErrInUse)
		}
		return fmt.Errorf("reset the sandbox database: %w", err)
	}
	return nil
}

// clientOptions points a Yunhu client at the simulator, logged in as its
// seeded account.
func (s *sandbox) clientOptions(o yunhu.Options) yunhu.Options {
	urls := sim.Endpoints(s.base)
	o.APIURL, o.WSURL, o.UploadURL = urls.API, urls.WS, urls.Upload
	o.Token = sim.DefaultToken
	return o
}

// Run serves the simulator and the control API until ctx is done, then
// closes the simulator (dropping its push sockets, which a graceful HTTP
// shutdown does not wait for) and the server.
func (s *sandbox) Run(ctx context.Context) error {
	err := app.ServeHTTP(ctx, s.ln, loopbackOnly(s.handler()), s.log)
	s.sim.Close()
	return err
}

// close releases what newSandbox took when Run will never be called.
func (s *sandbox) close() {
	_ = s.ln.Close()
	s.sim.Close()
}

func (s *sandbox) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/sandbox/say", s.say)
	mux.HandleFunc("/sandbox/recall", s.recall)
	mux.HandleFunc("/sandbox/sent", s.sent)
	mux.HandleFunc("/sandbox/history", s.history)
	mux.HandleFunc("/sandbox/message", s.message)
	mux.HandleFunc("/sandbox/status", s.status)
	mux.HandleFunc("/sandbox/world", s.world)
	mux.Handle("/sandbox/", sandboxHelp(s.usage))
	mux.Handle("/", s.sim.Handler())
	return notMedia(mux)
}

// sandboxHelp answers /sandbox/ (and /sandbox) with the usage; any other
// path under it is a mistyped endpoint, answered with the usage and 404.
func sandboxHelp(usage func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.URL.Path != "/sandbox/" {
			w.WriteHeader(http.StatusNotFound)
		}
		_, _ = io.WriteString(w, usage())
	})
}

// notMedia keeps the control API from being fetched as media. A sandbox
// lets media come from loopback, where its simulated media live; its
// control API is not media, so a bot cannot send /sandbox/world (every
// simulated account's token) as a file.
func notMedia(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/sandbox/") && strings.HasPrefix(r.UserAgent(), bridge.MediaUserAgent) {
			http.Error(w, "the sandbox's control API is not a media source", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// loopbackOnly refuses every client that is not on this machine, should
// the listener ever be reachable from elsewhere.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.Error(w, "the sandbox answers only loopback clients", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *sandbox) usage() string {
	b := s.base
	return `Sandbox control API (GET or POST, parameters in the query or a form body):
  ` + b + `/sandbox/say?from=alice&group=100000001&text=hello   a user speaks in a group
  ` + b + `/sandbox/say?from=alice&private=1&text=hello         a user writes to the account
      optional: at=bob,self (mentions), quote=<msg_id> (reply to a Yunhu message)
      media instead of (or, for an image, with) text: image=1, file=1 or voice=1 send
      a built-in sample; image=<url>, file=<url> or voice=<url> send what the URL serves
  ` + b + `/sandbox/recall?from=alice&id=<msg_id>               a user recalls a message
  ` + b + `/sandbox/world       users, friendships, groups, roles, and the ids OneBot uses for them
  ` + b + `/sandbox/sent        every message the account sent (JSON)
  ` + b + `/sandbox/history?chat=100000001&type=group   a chat as the account sees it (JSON; type group, user or bot)
  ` + b + `/sandbox/message?id=<msg_id>                 one message (JSON)
  ` + b + `/sandbox/status      the account's push sessions (JSON)
Users: alice, bob, carol, dave (or their ids), bot (the seeded bot), self (the account, from another device).
The simulated world and the sandbox's database start afresh on every run: message ids
and media URLs from an earlier run no longer resolve.
`
}

// banner is the human-readable block printed at start: where a framework
// connects and how to make someone talk. It goes to stderr beside the log
// but not through it, so the URLs in it are masked here.
func (s *sandbox) banner(servers []config.Server, bound []net.Addr) string {
	var b strings.Builder
	self := s.sim.Self()
	fmt.Fprintf(&b, "\n=== yunhu-onebot sandbox: a simulated Yunhu at %s — nothing leaves this machine\n", s.base)
	fmt.Fprintf(&b, "The account is %q (user_id / self_id %s).\n\nConnect a OneBot v11 framework to:\n", self.Name, self.ID)
	writeServers(&b, servers, bound)
	fmt.Fprintf(&b, "\nMake a simulated user talk:\n")
	fmt.Fprintf(&b, "  curl '%s/sandbox/say?from=alice&group=%s&text=hello'\n", s.base, sim.GroupOwnedID)
	fmt.Fprintf(&b, "  curl '%s/sandbox/say?from=alice&private=1&text=hi'\n", s.base)
	fmt.Fprintf(&b, "See what the bot sent:  curl %s/sandbox/sent\n", s.base)
	fmt.Fprintf(&b, "Who is who:             curl %s/sandbox/world\n", s.base)
	fmt.Fprintf(&b, "Everything else:        curl %s/sandbox/\n", s.base)
	if s.opts.DB != "" {
		fmt.Fprintf(&b, "\nThe simulated world starts afresh on every run, and so does the sandbox's own database,\n"+
			"%s, emptied at start (a real account's database is never touched).\n", s.opts.DB)
	}
	b.WriteString("\n")
	return b.String()
}

// writeServers lists in a banner where a framework connects.
func writeServers(b *strings.Builder, servers []config.Server, bound []net.Addr) {
	i := 0
	for _, srv := range servers {
		switch {
		case srv.HTTP != nil && i < len(bound):
			fmt.Fprintf(b, "  HTTP API            http://%s/<action>%s\n", bound[i], tokenNote(srv.HTTP.AccessToken))
			for _, p := range srv.HTTP.Post {
				fmt.Fprintf(b, "  HTTP POST events to %s\n", redact.URL(p.URL))
			}
			i++
		case srv.WS != nil && i < len(bound):
			fmt.Fprintf(b, "  forward WebSocket   ws://%s/%s\n", bound[i], tokenNote(srv.WS.AccessToken))
			i++
		case srv.WSReverse != nil:
			r := srv.WSReverse
			for _, u := range []string{r.Universal, r.API, r.Event} {
				if u != "" {
					fmt.Fprintf(b, "  reverse WebSocket   the daemon dials %s%s\n", redact.URL(u), tokenNote(r.AccessToken))
				}
			}
		}
	}
}

func tokenNote(token string) string {
	if token == "" {
		return ""
	}
	return "  (with its access-token)"
}

// say injects a message from a simulated user, as if they had sent it.
func (s *sandbox) say(w http.ResponseWriter, r *http.Request) {
	from, err := s.user(r.FormValue("from"), "alice")
	if err != nil {
		httpError(w, http.StatusBadRequest, "from: %v", err)
		return
	}
	m := sim.Message{From: from, Text: r.FormValue("text"), QuoteMsgID: r.FormValue("quote")}
	switch g := r.FormValue("group"); {
	case g != "" && r.FormValue("private") != "":
		httpError(w, http.StatusBadRequest, "give either group or private=1, not both")
		return
	case g != "":
		id, err := s.group(g)
		if err != nil {
			httpError(w, http.StatusBadRequest, "group: %v", err)
			return
		}
		m.ChatID, m.ChatType = id, yunhu.ChatTypeGroup
	case r.FormValue("private") != "":
		if from == sim.SelfID {
			httpError(w, http.StatusBadRequest, "self cannot write a private message to itself")
			return
		}
		m.ChatID = sim.SelfID
	default:
		httpError(w, http.StatusBadRequest, "say where: group=<id> or private=1 (see /sandbox/world)")
		return
	}
	med, err := s.media(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	switch {
	case m.Text == "" && med == nil:
		httpError(w, http.StatusBadRequest, "text is empty (or send media: image=1, file=1 or voice=1)")
		return
	case med != nil && med.contentType != yunhu.ContentImage && (m.Text != "" || r.FormValue("at") != ""):
		httpError(w, http.StatusBadRequest, "a file or a voice message carries no text or mentions; only an image does")
		return
	}
	if at := r.FormValue("at"); at != "" {
		content := &yunhupb.MsgContent{}
		var prefix strings.Builder
		for name := range strings.SplitSeq(at, ",") {
			id, err := s.user(strings.TrimSpace(name), "")
			if err != nil {
				httpError(w, http.StatusBadRequest, "at: %v", err)
				return
			}
			content.MentionedId = append(content.MentionedId, id)
			// The official clients put "@name " in the text for each mention.
			fmt.Fprintf(&prefix, "@%s ", s.sim.User(id).Name)
		}
		content.Text = prefix.String() + m.Text
		m.Content = content
	}
	if med != nil {
		if m.Content == nil {
			m.Content = &yunhupb.MsgContent{Text: m.Text}
		}
		med.fill(m.Content)
		m.ContentType = med.contentType
	}
	rec, err := s.sim.Inject(m)
	if err != nil {
		httpError(w, http.StatusConflict, "the simulator refused the message: %v", err)
		return
	}
	writeJSON(w, s.recordJSON(rec))
}

// sayMedia is a medium a simulated user sends, already stored on the
// simulator's CDN under key.
type sayMedia struct {
	contentType int32
	key, name   string
	size        int64
}

// fill puts the medium into a message's content in send form.
func (m *sayMedia) fill(c *yunhupb.MsgContent) {
	switch m.contentType {
	case yunhu.ContentImage:
		c.Image = m.key
	case yunhu.ContentFile:
		c.FileUrl, c.FileName, c.FileSize = m.key, m.name, m.size
	case yunhu.ContentAudio:
		// The samples are short; Yunhu counts whole seconds, at least one.
		c.AudioUrl, c.AudioTime = m.key, 1
	}
}

// media reads say's image, file or voice parameter (at most one): "1"
// is a built-in sample, anything else a URL whose body is sent. The bytes
// go on the simulator's CDN under a key shaped like the real clients'
// (the MD5 of the bytes plus an extension; files under disk/), as an
// upload would put them.
func (s *sandbox) media(r *http.Request) (*sayMedia, error) {
	kinds := []struct {
		param, bucket, prefix string
		contentType           int32
	}{
		{"image", yunhu.BucketImage, "", yunhu.ContentImage},
		{"file", yunhu.BucketFile, yunhu.KeyPrefixFile, yunhu.ContentFile},
		{"voice", yunhu.BucketAudio, "", yunhu.ContentAudio},
	}
	var out *sayMedia
	for _, k := range kinds {
		v := r.FormValue(k.param)
		if v == "" {
			continue
		}
		if out != nil {
			return nil, errors.New("give one of image, file or voice")
		}
		var data []byte
		var name string
		if v == "1" {
			data, name = sampleMedia(k.param)
		} else {
			var err error
			if data, name, err = s.download(r.Context(), v); err != nil {
				return nil, fmt.Errorf("%s: %w", k.param, err)
			}
		}
		sum := md5.Sum(data)
		key := k.prefix + hex.EncodeToString(sum[:]) + path.Ext(name)
		s.sim.PutObject(k.bucket, key, data)
		out = &sayMedia{contentType: k.contentType, key: key, name: name, size: int64(len(data))}
	}
	return out, nil
}

// download fetches a medium a simulated user sends by URL, bounded in
// time and size. The name is the URL's last path element, or "media"
// with an extension for its detected type.
func (s *sandbox) download(ctx context.Context, rawURL string) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") {
		return nil, "", errors.New("give 1 for the built-in sample, or an http(s) URL")
	}
	resp, err := s.fetch.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("fetch: HTTP %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, sandboxFetchBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("fetch: %w", err)
	}
	if len(data) > sandboxFetchBytes {
		return nil, "", fmt.Errorf("fetch: larger than %d MiB", sandboxFetchBytes>>20)
	}
	if len(data) == 0 {
		return nil, "", errors.New("fetch: empty body")
	}
	name := path.Base(req.URL.Path)
	if name == "/" || name == "." || path.Ext(name) == "" {
		name = "media"
		if exts, _ := mime.ExtensionsByType(http.DetectContentType(data)); len(exts) > 0 {
			name += exts[0]
		}
	}
	return data, name, nil
}

// sampleMedia returns the built-in sample of a kind and its file name.
func sampleMedia(kind string) ([]byte, string) {
	switch kind {
	case "image":
		// A 16×16 colour gradient: small, and visibly a picture.
		img := image.NewRGBA(image.Rect(0, 0, 16, 16))
		for x := range 16 {
			for y := range 16 {
				img.Set(x, y, color.RGBA{R: uint8(x * 16), G: uint8(y * 16), B: 160, A: 255})
			}
		}
		var b bytes.Buffer
		_ = png.Encode(&b, img) // writing to memory cannot fail
		return b.Bytes(), "sample.png"
	case "voice":
		// One second of AMR-NB: the magic, then 50 frames of 20 ms in
		// mode 7 (12.2 kbit/s: a one-byte header and 31 bytes each).
		b := []byte("#!AMR\n")
		for range 50 {
			b = append(b, 0x3c)
			b = append(b, make([]byte, 31)...)
		}
		return b, "sample.amr"
	default:
		return []byte("A sample file from the yunhu-onebot sandbox.\n"), "sample.txt"
	}
}

// recall recalls a message as a simulated user (its author, or a group
// owner or admin).
func (s *sandbox) recall(w http.ResponseWriter, r *http.Request) {
	by, err := s.user(r.FormValue("from"), "alice")
	if err != nil {
		httpError(w, http.StatusBadRequest, "from: %v", err)
		return
	}
	id := r.FormValue("id")
	if id == "" {
		httpError(w, http.StatusBadRequest, "id: give the Yunhu msg_id to recall")
		return
	}
	if err := s.sim.Recall(by, id); err != nil {
		httpError(w, http.StatusConflict, "the simulator refused the recall: %v", err)
		return
	}
	rec, _ := s.sim.Lookup(id)
	writeJSON(w, s.recordJSON(rec))
}

// world describes the simulated world as a person reading it needs it:
// who is who (with the name /sandbox/say takes), who is whose friend,
// each group's members by role, and the numbers a OneBot framework sees
// for each (user_id, group_id), from the same mapping the daemon uses.
func (s *sandbox) world(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var b strings.Builder
	// short is the name say's from= and at= take for a user id.
	short := func(id string) string {
		switch id {
		case sim.SelfID:
			return "self"
		case s.sim.Bot().ID:
			return "bot"
		}
		if u := s.sim.User(id); u.ID != "" {
			return strings.ToLower(u.Name)
		}
		return id
	}
	oneBot := func(id string) string {
		if s.opts.IDs == nil {
			return "?"
		}
		n, err := s.opts.IDs.ToInt(ctx, id)
		if err != nil {
			s.log.Warn("map a Yunhu id for /sandbox/world", zap.String("id", id), zap.Error(err))
			return "?"
		}
		return strconv.FormatInt(n, 10)
	}
	friends := func(id string) string {
		var names []string
		for _, f := range s.sim.FriendsOf(id) {
			names = append(names, short(f.ID))
		}
		if len(names) == 0 {
			return "none"
		}
		return strings.Join(names, ", ")
	}

	self := s.sim.Self()
	b.WriteString("Users (from=<name> and at=<name> in /sandbox/say take the first column):\n")
	fmt.Fprintf(&b, "  %-6s %-9s yunhu %-9s OneBot user_id %-17s friends: %s   <- the account\n",
		"self", self.Name, self.ID, oneBot(self.ID), friends(self.ID))
	for _, u := range s.sim.Users() {
		if u.ID == sim.SelfID {
			continue
		}
		fmt.Fprintf(&b, "  %-6s %-9s yunhu %-9s OneBot user_id %-17s friends: %s\n",
			short(u.ID), u.Name, u.ID, oneBot(u.ID), friends(u.ID))
		if rm := s.sim.Remark(u.ID); rm != "" {
			fmt.Fprintf(&b, "         the account's remark for them: %q (get_friend_list's remark)\n", rm)
		}
	}
	bot := s.sim.Bot()
	fmt.Fprintf(&b, "  %-6s %-9s yunhu %-9s OneBot user_id %-17s a bot the account has added (command %d)\n",
		"bot", bot.Name, bot.ID, oneBot(bot.ID), sim.BotCommandID)

	b.WriteString("\nThe account's groups (group=<id or name> in /sandbox/say):\n")
	roles := map[int32]string{yunhu.PermissionOwner: "owner", yunhu.PermissionAdmin: "admin", yunhu.PermissionMember: "member"}
	for _, g := range s.sim.Groups() {
		fmt.Fprintf(&b, "  %-11q yunhu %-9s OneBot group_id %s\n", g.Name, g.ID, oneBot(g.ID))
		for _, level := range []int32{yunhu.PermissionOwner, yunhu.PermissionAdmin, yunhu.PermissionMember} {
			var names []string
			for _, m := range g.Members {
				if m.Level != level {
					continue
				}
				n := short(m.UserID)
				if m.Nickname != "" {
					n += " (card " + strconv.Quote(m.Nickname) + ")"
				}
				names = append(names, n)
			}
			if len(names) > 0 {
				fmt.Fprintf(&b, "      %-7s %s\n", roles[level], strings.Join(names, ", "))
			}
		}
		if len(g.Bots) > 0 {
			var names []string
			for _, id := range g.Bots {
				names = append(names, short(id))
			}
			fmt.Fprintf(&b, "      %-7s %s\n", "bots", strings.Join(names, ", "))
		}
	}

	b.WriteString("\nTokens, to call the simulator's REST API as a user:\n")
	for _, u := range s.sim.Users() {
		fmt.Fprintf(&b, "  %-6s %s\n", short(u.ID), u.Token)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, b.String())
}

func (s *sandbox) sent(w http.ResponseWriter, r *http.Request) {
	sent := s.sim.Sent()
	out := make([]any, len(sent))
	for i, m := range sent {
		out[i] = map[string]any{
			"time":    m.Time.UnixMilli(),
			"user_id": m.UserID,
			"code":    m.Code,
			"msg":     m.Msg,
			"request": protoJSON(m.Request),
		}
	}
	writeJSON(w, out)
}

func (s *sandbox) history(w http.ResponseWriter, r *http.Request) {
	chat := r.FormValue("chat")
	types := map[string]int32{"user": yunhu.ChatTypeUser, "group": yunhu.ChatTypeGroup, "bot": yunhu.ChatTypeBot}
	t, ok := types[r.FormValue("type")]
	if chat == "" || !ok {
		httpError(w, http.StatusBadRequest, "give chat=<id> and type=user, group or bot")
		return
	}
	if t == yunhu.ChatTypeGroup {
		id, err := s.group(chat)
		if err != nil {
			httpError(w, http.StatusBadRequest, "chat: %v", err)
			return
		}
		chat = id
	} else if id, err := s.user(chat, ""); err == nil {
		chat = id
	}
	recs := s.sim.History(sim.SelfID, chat, t)
	out := make([]any, len(recs))
	for i, rec := range recs {
		out[i] = s.recordJSON(rec)
	}
	writeJSON(w, out)
}

func (s *sandbox) message(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.sim.Lookup(r.FormValue("id"))
	if !ok {
		httpError(w, http.StatusNotFound, "no message with id %q", r.FormValue("id"))
		return
	}
	writeJSON(w, s.recordJSON(rec))
}

func (s *sandbox) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{
		"self_id": sim.SelfID,
		"online":  s.sim.Online(sim.SelfID),
		"logins":  s.sim.Logins(sim.SelfID),
	})
}

// user resolves a simulated user by id or (case-insensitive) name; "bot"
// is the seeded bot and "self" the account itself.
func (s *sandbox) user(name, fallback string) (string, error) {
	if name == "" {
		name = fallback
	}
	switch strings.ToLower(name) {
	case "":
		return "", errors.New("empty")
	case "self":
		return sim.SelfID, nil
	case "bot":
		return s.sim.Bot().ID, nil
	}
	if name == s.sim.Bot().ID || strings.EqualFold(name, s.sim.Bot().Name) {
		return s.sim.Bot().ID, nil
	}
	users := s.sim.Users()
	for _, u := range users {
		if u.ID == name || strings.EqualFold(u.Name, name) {
			return u.ID, nil
		}
	}
	names := make([]string, 0, len(users))
	for _, u := range users {
		names = append(names, strings.ToLower(u.Name)+"="+u.ID)
	}
	return "", fmt.Errorf("no user %q (users: %s, bot, self)", name, strings.Join(names, ", "))
}

// group resolves a group by id or (case-insensitive) name.
func (s *sandbox) group(name string) (string, error) {
	var ids []string
	for _, g := range s.sim.Groups() {
		if g.ID == name || strings.EqualFold(g.Name, name) {
			return g.ID, nil
		}
		ids = append(ids, g.ID)
	}
	if g, ok := s.sim.GroupInfo(name); ok {
		return g.ID, nil
	}
	slices.Sort(ids)
	return "", fmt.Errorf("no group %q (the account's groups: %s)", name, strings.Join(ids, ", "))
}

// recordJSON renders a simulator record with Yunhu's field names, media
// keys turned into URLs on the sandbox's CDN as a client would see them.
func (s *sandbox) recordJSON(r sim.Record) map[string]any {
	c := &yunhupb.MsgContent{}
	if r.Content != nil {
		c = proto.Clone(r.Content).(*yunhupb.MsgContent)
	}
	urls := sim.Endpoints(s.base)
	for _, f := range []struct {
		field *string
		cdn   string
	}{{&c.ImageUrl, urls.ImageCDN}, {&c.FileUrl, urls.FileCDN}, {&c.VideoUrl, urls.VideoCDN}, {&c.AudioUrl, urls.AudioCDN}} {
		if *f.field != "" && !strings.Contains(*f.field, "://") {
			*f.field = f.cdn + strings.TrimPrefix(*f.field, "/")
		}
	}
	return map[string]any{
		"msg_id":       r.MsgID,
		"seq":          r.Seq,
		"chat_type":    r.ChatType,
		"chat_id":      r.ChatID,
		"sender_id":    r.SenderID,
		"sender_type":  r.SenderType,
		"content_type": r.ContentType,
		"content":      protoJSON(c),
		"send_time":    r.SendTime,
		"quote_msg_id": r.QuoteMsgID,
		"recall_time":  r.RecallTime,
		"edit_time":    r.EditTime,
	}
}

// protoJSON renders a protobuf message as JSON with the .proto field
// names (msg_id, mentioned_id, ...), as YUNHU-WIRE.md spells them.
func protoJSON(m proto.Message) json.RawMessage {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil || len(b) == 0 {
		return json.RawMessage("{}")
	}
	return b
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func httpError(w http.ResponseWriter, status int, format string, args ...any) {
	http.Error(w, fmt.Sprintf(format, args...), status)
}
