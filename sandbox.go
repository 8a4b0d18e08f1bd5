package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/yunhu-onebot/yunhu-onebot/bridge"
	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/internal/redact"
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
}

// newSandbox binds the simulator's listener; Run serves it.
func newSandbox(log *zap.Logger) (*sandbox, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	return &sandbox{
		// PublicURL makes media URLs in messages point at this listener.
		sim:  sim.New(sim.Options{Log: log.Named("sim"), PublicURL: base}),
		ln:   ln,
		base: base,
		log:  log,
	}, nil
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
	err := serveHTTP(ctx, s.ln, loopbackOnly(s.handler()), s.log)
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
	mux.HandleFunc("/sandbox/world", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, s.sim.Describe())
	})
	mux.HandleFunc("/sandbox/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, s.usage())
	})
	mux.Handle("/", s.sim.Handler())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The sandbox lets media come from loopback, where its simulated
		// media live; its control API is not media, so a bot cannot send
		// /sandbox/world (every simulated account's token) as a file.
		if strings.HasPrefix(r.URL.Path, "/sandbox/") && strings.HasPrefix(r.UserAgent(), bridge.MediaUserAgent) {
			http.Error(w, "the sandbox's control API is not a media source", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
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
  ` + b + `/sandbox/recall?from=alice&id=<msg_id>               a user recalls a message
  ` + b + `/sandbox/world       users, groups and their ids
  ` + b + `/sandbox/sent        every message the account sent (JSON)
  ` + b + `/sandbox/history?chat=100000001&type=group   a chat as the account sees it (JSON; type group, user or bot)
  ` + b + `/sandbox/message?id=<msg_id>                 one message (JSON)
  ` + b + `/sandbox/status      the account's push sessions (JSON)
Users: alice, bob, carol, dave (or their ids), bot (the seeded bot), self (the account, from another device).
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
	i := 0
	for _, srv := range servers {
		switch {
		case srv.HTTP != nil && i < len(bound):
			fmt.Fprintf(&b, "  HTTP API            http://%s/<action>%s\n", bound[i], tokenNote(srv.HTTP.AccessToken))
			for _, p := range srv.HTTP.Post {
				fmt.Fprintf(&b, "  HTTP POST events to %s\n", redact.URL(p.URL))
			}
			i++
		case srv.WS != nil && i < len(bound):
			fmt.Fprintf(&b, "  forward WebSocket   ws://%s/%s\n", bound[i], tokenNote(srv.WS.AccessToken))
			i++
		case srv.WSReverse != nil:
			r := srv.WSReverse
			for _, u := range []string{r.Universal, r.API, r.Event} {
				if u != "" {
					fmt.Fprintf(&b, "  reverse WebSocket   the daemon dials %s%s\n", redact.URL(u), tokenNote(r.AccessToken))
				}
			}
		}
	}
	fmt.Fprintf(&b, "\nMake a simulated user talk:\n")
	fmt.Fprintf(&b, "  curl '%s/sandbox/say?from=alice&group=%s&text=hello'\n", s.base, sim.GroupOwnedID)
	fmt.Fprintf(&b, "  curl '%s/sandbox/say?from=alice&private=1&text=hi'\n", s.base)
	fmt.Fprintf(&b, "See what the bot sent:  curl %s/sandbox/sent\n", s.base)
	fmt.Fprintf(&b, "Who is who:             curl %s/sandbox/world\n", s.base)
	fmt.Fprintf(&b, "Everything else:        curl %s/sandbox/\n\n", s.base)
	return b.String()
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
	if m.Text == "" {
		httpError(w, http.StatusBadRequest, "text is empty")
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
	rec, err := s.sim.Inject(m)
	if err != nil {
		httpError(w, http.StatusConflict, "the simulator refused the message: %v", err)
		return
	}
	writeJSON(w, s.recordJSON(rec))
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
