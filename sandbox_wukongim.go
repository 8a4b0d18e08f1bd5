package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/app"
	"github.com/yunhu-onebot/yunhu-onebot/config"
	wksim "github.com/yunhu-onebot/yunhu-onebot/wukongim/sim"
)

// wkSandbox is -sandbox for backend: wukongim: the WuKongIM simulator on
// one loopback listener (HTTP API at /, JSON-RPC WebSocket at /ws, the
// files the bot hosts at /media/) beside a control API shaped like the
// Yunhu sandbox's, through which a person or a test makes the simulated
// users act and sees what the bot sent. Like the Yunhu sandbox it never
// listens beyond 127.0.0.1.
type wkSandbox struct {
	sim      *wksim.Server
	ln       net.Listener
	base     string // http://127.0.0.1:port
	log      *zap.Logger
	opts     sandboxOptions
	mediaDir string
}

// The sandbox's WuKongIM world: the bot, two users and a group of all.
const (
	wkSandboxBot   = "bot1"
	wkSandboxToken = "sandbox-bot1-token"
	wkSandboxGroup = "g1"
)

// newWKSandbox binds the simulator's listener and seeds its world; Run
// serves it.
func newWKSandbox(log *zap.Logger, opts sandboxOptions) (*wkSandbox, error) {
	ln, err := listenSandbox(log, opts.Address)
	if err != nil {
		return nil, err
	}
	s := &wkSandbox{
		sim:      wksim.New(wksim.Options{Log: log.Named("sim")}),
		ln:       ln,
		base:     "http://" + ln.Addr().String(),
		log:      log,
		opts:     opts,
		mediaDir: filepath.Join(filepath.Dir(opts.DB), "sandbox-media"),
	}
	// Files hosted in an earlier run point at a simulator that is gone.
	_ = os.RemoveAll(s.mediaDir)
	s.sim.RegisterToken(wkSandboxBot, wkSandboxToken, 2, 1)
	members := []string{wkSandboxBot}
	for _, u := range sandboxUsers {
		s.sim.RegisterToken(u.ID, u.ID+"-token", 0, 1)
		members = append(members, u.ID)
	}
	s.sim.CreateGroup(wkSandboxGroup, members...)
	return s, nil
}

// configure points the wukongim section at the simulator, logged in as
// its bot, with its names and with media hosted through the sandbox.
func (s *wkSandbox) configure(c *config.WuKongIM) {
	c.APIURL = s.base
	c.WSURL = "ws" + strings.TrimPrefix(s.base, "http") + "/ws"
	c.UID, c.Token, c.DeviceFlag, c.RegisterToken = wkSandboxBot, wkSandboxToken, 2, false
	c.Name = "Sandbox Bot"
	c.Groups = []config.Named{{ID: wkSandboxGroup, Name: "Sandbox group"}}
	c.Users = sandboxUsers
	c.Media = config.HostedMedia{PublicURL: s.base + "/media", Dir: s.mediaDir}
}

func (s *wkSandbox) Run(ctx context.Context) error {
	err := app.ServeHTTP(ctx, s.ln, loopbackOnly(s.handler()), s.log)
	s.sim.Close()
	return err
}

// close releases what newWKSandbox took when Run will never be called.
func (s *wkSandbox) close() {
	_ = s.ln.Close()
	s.sim.Close()
}

func (s *wkSandbox) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/sandbox/say", s.say)
	mux.HandleFunc("/sandbox/recall", s.recall)
	mux.HandleFunc("/sandbox/sent", s.sent)
	mux.HandleFunc("/sandbox/status", s.status)
	mux.HandleFunc("/sandbox/world", s.world)
	mux.Handle("/sandbox/", sandboxHelp(s.usage))
	mux.Handle("/ws", s.sim.WSHandler())
	mux.Handle("/media/", http.StripPrefix("/media/", http.FileServer(http.Dir(s.mediaDir))))
	mux.Handle("/", s.sim.Handler())
	return notMedia(mux)
}

func (s *wkSandbox) usage() string {
	b := s.base
	return `Sandbox control API (GET or POST, parameters in the query or a form body):
  ` + b + `/sandbox/say?from=alice&group=g1&text=hello      a user speaks in the group
  ` + b + `/sandbox/say?from=alice&private=1&text=hello     a user writes to the bot
      optional: at=bob,bot1 (mentions), image=<url> (an image message instead of text)
  ` + b + `/sandbox/recall?from=alice&id=<message_id>&group=g1   a user recalls a message (the SDKs' messageRevoke)
  ` + b + `/sandbox/world    users, the group, and the ids OneBot uses for them
  ` + b + `/sandbox/sent     every message the bot sent (JSON)
  ` + b + `/sandbox/status   the bot's connections (JSON)
The WuKongIM HTTP API is served at ` + b + `/ and its JSON-RPC WebSocket at ws://` + strings.TrimPrefix(b, "http://") + `/ws.
Users: alice, bob; the bot is bot1; the group is g1. Everything starts afresh on every run.
`
}

// banner is the human-readable block printed at start.
func (s *wkSandbox) banner(servers []config.Server, bound []net.Addr) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n=== yunhu-onebot sandbox: a simulated WuKongIM at %s — nothing leaves this machine\n", s.base)
	fmt.Fprintf(&b, "The bot is %q (uid %s).\n\nConnect a OneBot v11 framework to:\n", "Sandbox Bot", wkSandboxBot)
	writeServers(&b, servers, bound)
	fmt.Fprintf(&b, "\nMake a simulated user talk:\n")
	fmt.Fprintf(&b, "  curl '%s/sandbox/say?from=alice&group=%s&text=hello'\n", s.base, wkSandboxGroup)
	fmt.Fprintf(&b, "  curl '%s/sandbox/say?from=alice&private=1&text=hi'\n", s.base)
	fmt.Fprintf(&b, "See what the bot sent:  curl %s/sandbox/sent\n", s.base)
	fmt.Fprintf(&b, "Who is who:             curl %s/sandbox/world\n", s.base)
	fmt.Fprintf(&b, "Everything else:        curl %s/sandbox/\n\n", s.base)
	return b.String()
}

// wkPayload is the SDK payload the sandbox writes and reads.
type wkPayload struct {
	Type    int             `json:"type"`
	Content string          `json:"content,omitempty"`
	URL     string          `json:"url,omitempty"`
	Mention *wkMention      `json:"mention,omitempty"`
	Cmd     string          `json:"cmd,omitempty"`
	Param   json.RawMessage `json:"param,omitempty"`
	Reply   json.RawMessage `json:"reply,omitempty"`
}

type wkMention struct {
	UIDs []string `json:"uids"`
}

// wkRecord is a message as the control API shows it.
type wkRecord struct {
	MessageID   string          `json:"message_id"`
	Seq         int64           `json:"message_seq"`
	ChannelID   string          `json:"channel_id"`
	ChannelType uint8           `json:"channel_type"`
	FromUID     string          `json:"from_uid"`
	Timestamp   int64           `json:"timestamp"`
	Payload     json.RawMessage `json:"payload"`
}

func wkRecordOf(m wksim.Message) wkRecord {
	p := json.RawMessage(m.Payload)
	if !json.Valid(p) {
		p, _ = json.Marshal(string(m.Payload))
	}
	return wkRecord{
		MessageID: strconv.FormatInt(m.ID, 10), Seq: m.Seq, ChannelID: m.ChannelID, ChannelType: m.ChannelType,
		FromUID: m.FromUID, Timestamp: m.Timestamp, Payload: p,
	}
}

// user is the uid named by a control parameter, a simulated user's.
// channel is where a control request speaks: the group, or (private=1)
// the bot as the user addresses it.
func (s *wkSandbox) channel(r *http.Request) (string, uint8, error) {
	if r.Form.Get("private") != "" {
		return wkSandboxBot, 1, nil
	}
	g := cmp.Or(r.Form.Get("group"), wkSandboxGroup)
	if g != wkSandboxGroup {
		return "", 0, fmt.Errorf("group: %q is not the sandbox's group %s", g, wkSandboxGroup)
	}
	return g, 2, nil
}

func (s *wkSandbox) say(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	from, err := sandboxUser(r.Form.Get("from"))
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	ch, typ, err := s.channel(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	p := wkPayload{Type: 1, Content: r.Form.Get("text")}
	if at := r.Form.Get("at"); at != "" {
		p.Mention = &wkMention{UIDs: strings.Split(at, ",")}
	}
	if img := r.Form.Get("image"); img != "" {
		p = wkPayload{Type: 2, URL: img}
	}
	if p.Type == 1 && p.Content == "" {
		httpError(w, http.StatusBadRequest, "text: say something (or image=<url>)")
		return
	}
	body, _ := json.Marshal(p)
	writeJSON(w, wkRecordOf(s.sim.Say(from, ch, typ, "", body)))
}

func (s *wkSandbox) recall(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	from, err := sandboxUser(r.Form.Get("from"))
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	ch, typ, err := s.channel(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	id := r.Form.Get("id")
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		httpError(w, http.StatusBadRequest, "id: %q is not a WuKongIM message id", id)
		return
	}
	param, _ := json.Marshal(map[string]any{"message_id": id, "channel_id": ch, "channel_type": typ})
	body, _ := json.Marshal(wkPayload{Type: 99, Cmd: "messageRevoke", Param: param})
	writeJSON(w, wkRecordOf(s.sim.Say(from, ch, typ, "", body)))
}

// sent lists what the bot sent, in the group and to each user, oldest
// first (the server's message ids grow with time across channels).
func (s *wkSandbox) sent(w http.ResponseWriter, _ *http.Request) {
	var msgs []wksim.Message
	add := func(in []wksim.Message) {
		for _, m := range in {
			if m.FromUID == wkSandboxBot {
				msgs = append(msgs, m)
			}
		}
	}
	add(s.sim.Messages(wkSandboxBot, wkSandboxGroup, 2))
	for _, u := range sandboxUsers {
		add(s.sim.Messages(wkSandboxBot, u.ID, 1))
	}
	slices.SortFunc(msgs, func(a, b wksim.Message) int { return cmp.Compare(a.ID, b.ID) })
	out := make([]wkRecord, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, wkRecordOf(m))
	}
	writeJSON(w, out)
}

func (s *wkSandbox) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]int{"online": s.sim.Connections(wkSandboxBot)})
}

func (s *wkSandbox) world(w http.ResponseWriter, r *http.Request) {
	oneBot := func(id string) any {
		if s.opts.IDs == nil {
			return nil
		}
		n, err := s.opts.IDs.ToInt(r.Context(), id)
		if err != nil {
			return nil
		}
		return n
	}
	type user struct {
		UID    string `json:"uid"`
		Name   string `json:"name"`
		UserID any    `json:"user_id"`
	}
	users := []user{{wkSandboxBot, "Sandbox Bot (the bot)", oneBot(wkSandboxBot)}}
	for _, u := range sandboxUsers {
		users = append(users, user{u.ID, u.Name, oneBot(u.ID)})
	}
	writeJSON(w, map[string]any{
		"users": users,
		"groups": []map[string]any{{
			"id": wkSandboxGroup, "name": "Sandbox group", "group_id": oneBot(wkSandboxGroup),
			"members": s.sim.Members(wkSandboxGroup),
		}},
	})
}
