package main

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/app"
	"github.com/yunhu-onebot/yunhu-onebot/config"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wfsim "github.com/yunhu-onebot/yunhu-onebot/wildfire/sim"
)

// wfSandbox is -sandbox for backend: wildfire: the WildfireChat simulator
// (robot API at /robot/, admin API at /admin/) on one loopback listener
// beside a control API shaped like the other sandboxes'. The simulated
// server posts its callbacks to the daemon's callback listener, as a real
// one would; the robot's hosted media are served here under /media/.
type wfSandbox struct {
	sim      *wfsim.Server
	ln       net.Listener
	base     string
	log      *zap.Logger
	opts     sandboxOptions
	mediaDir string
	// media is the backend's handler once the daemon is built.
	media  atomic.Pointer[http.Handler]
	online atomic.Bool // the robot's callback points at the daemon
}

// The sandbox's WildfireChat world: the robot, two users, a group of all.
const (
	wfSandboxRobot  = "robot1"
	wfSandboxSecret = "sandbox-robot-secret"
	wfSandboxPath   = "sandbox-callback-path"
	wfSandboxGroup  = "g1"
)

func newWFSandbox(log *zap.Logger, opts sandboxOptions) (*wfSandbox, error) {
	ln, err := listenSandbox(log, opts.Address)
	if err != nil {
		return nil, err
	}
	s := &wfSandbox{
		sim:      wfsim.New(wfsim.Options{Log: log.Named("sim"), NoCheckTime: true}),
		ln:       ln,
		base:     "http://" + ln.Addr().String(),
		log:      log,
		opts:     opts,
		mediaDir: filepath.Join(filepath.Dir(opts.DB), "sandbox-media"),
	}
	_ = os.RemoveAll(s.mediaDir)
	members := []string{wfSandboxRobot}
	for _, u := range sandboxUsers {
		s.sim.AddUser(u.ID, u.Name)
		s.sim.AddFriend(u.ID, wfSandboxRobot)
		s.sim.AddFriend(wfSandboxRobot, u.ID)
		members = append(members, u.ID)
	}
	s.sim.AddRobot(wfSandboxRobot, "Sandbox Robot", wfSandboxSecret, sandboxUsers[0].ID)
	s.sim.CreateGroup(wfSandboxGroup, "Sandbox group", sandboxUsers[0].ID, members...)
	return s, nil
}

// configure points the wildfire section at the simulator, as its robot,
// with the callback listener on a loopback port of the system's choosing
// (attach tells the simulator where) and media hosted through the sandbox.
func (s *wfSandbox) configure(c *config.Wildfire) {
	c.RobotURL, c.AdminURL = s.base, s.base
	c.RobotID, c.RobotSecret, c.AdminSecret = wfSandboxRobot, wfSandboxSecret, wfsim.DefaultAdminSecret
	c.Name = "Sandbox Robot"
	c.Callback = config.WildfireCallback{Address: "127.0.0.1:0", PathSecret: wfSandboxPath}
	c.Media = config.HostedMedia{PublicURL: s.base + "/media", Dir: s.mediaDir}
}

// attach points the robot's callback at the daemon's callback listener
// and serves the backend's media, once the daemon is built.
func (s *wfSandbox) attach(b platform.Backend, callback net.Addr) {
	if cb, ok := b.(platform.Callbacks); ok {
		h := cb.Handler()
		s.media.Store(&h)
	}
	s.sim.SetRobotCallback(wfSandboxRobot, "http://"+callback.String()+"/"+wfSandboxPath+"/message")
	s.online.Store(true)
}

func (s *wfSandbox) Run(ctx context.Context) error {
	err := app.ServeHTTP(ctx, s.ln, loopbackOnly(s.handler()), s.log)
	s.sim.Close()
	return err
}

func (s *wfSandbox) close() {
	_ = s.ln.Close()
	s.sim.Close()
}

func (s *wfSandbox) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/sandbox/say", s.say)
	mux.HandleFunc("/sandbox/recall", s.recall)
	mux.HandleFunc("/sandbox/sent", s.sent)
	mux.HandleFunc("/sandbox/status", s.status)
	mux.Handle("/sandbox/", sandboxHelp(s.usage))
	mux.Handle("/robot/", s.sim.RobotHandler())
	mux.Handle("/admin/", s.sim.AdminHandler())
	mux.HandleFunc("/media/", func(w http.ResponseWriter, r *http.Request) {
		if h := s.media.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	})
	return notMedia(mux)
}

func (s *wfSandbox) usage() string {
	b := s.base
	return `Sandbox control API (GET or POST, parameters in the query or a form body):
  ` + b + `/sandbox/say?from=alice&group=g1&text=hello      a user speaks in the group
  ` + b + `/sandbox/say?from=alice&private=1&text=hello     a user writes to the robot
      optional: at=bob,robot1 (mentions), image=<url> (an image message instead of text)
  ` + b + `/sandbox/recall?from=alice&id=<message_uid>      a user recalls a message
  ` + b + `/sandbox/sent     every message the robot sent (JSON)
  ` + b + `/sandbox/status   whether the robot's callback points at the daemon (JSON)
The robot API is served at ` + b + `/robot/ and the admin API at ` + b + `/admin/.
Users: alice, bob; the robot is robot1; the group is g1. Everything starts afresh on every run.
`
}

func (s *wfSandbox) banner(servers []config.Server, bound []net.Addr) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n=== yunhu-onebot sandbox: a simulated WildfireChat at %s — nothing leaves this machine\n", s.base)
	fmt.Fprintf(&b, "The bot is the robot %q (%s).\n\nConnect a OneBot v11 framework to:\n", "Sandbox Robot", wfSandboxRobot)
	writeServers(&b, servers, bound)
	fmt.Fprintf(&b, "\nMake a simulated user talk:\n")
	fmt.Fprintf(&b, "  curl '%s/sandbox/say?from=alice&group=%s&text=hello'\n", s.base, wfSandboxGroup)
	fmt.Fprintf(&b, "  curl '%s/sandbox/say?from=alice&private=1&text=hi'\n", s.base)
	fmt.Fprintf(&b, "See what the robot sent:  curl %s/sandbox/sent\n", s.base)
	fmt.Fprintf(&b, "Everything else:          curl %s/sandbox/\n\n", s.base)
	return b.String()
}

// wfRecord is a message as the control API shows it.
type wfRecord struct {
	MessageID string             `json:"message_id"`
	Sender    string             `json:"sender"`
	Conv      wfsim.Conversation `json:"conv"`
	Payload   wfsim.Payload      `json:"payload"`
	Timestamp int64              `json:"timestamp"`
}

func wfRecordOf(m wfsim.Message) wfRecord {
	return wfRecord{MessageID: strconv.FormatInt(m.ID, 10), Sender: m.Sender, Conv: m.Conv, Payload: m.Payload, Timestamp: m.Timestamp}
}

func (s *wfSandbox) say(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	from, err := sandboxUser(r.Form.Get("from"))
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	conv := wfsim.Conversation{Type: 1, Target: cmp.Or(r.Form.Get("group"), wfSandboxGroup)}
	if r.Form.Get("private") != "" {
		conv = wfsim.Conversation{Type: 0, Target: wfSandboxRobot}
	} else if conv.Target != wfSandboxGroup {
		httpError(w, http.StatusBadRequest, "group: %q is not the sandbox's group %s", conv.Target, wfSandboxGroup)
		return
	}
	p := wfsim.Payload{Type: 1, SearchableContent: r.Form.Get("text")}
	if at := r.Form.Get("at"); at != "" {
		p.MentionedType, p.MentionedTarget = 1, strings.Split(at, ",")
	}
	if img := r.Form.Get("image"); img != "" {
		p = wfsim.Payload{Type: 3, MediaType: 1, RemoteMediaURL: img}
	}
	if p.Type == 1 && p.SearchableContent == "" {
		httpError(w, http.StatusBadRequest, "text: say something (or image=<url>)")
		return
	}
	m, err := s.sim.Say(from, conv, p)
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, wfRecordOf(m))
}

func (s *wfSandbox) recall(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	from, err := sandboxUser(r.Form.Get("from"))
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	uid, err := strconv.ParseInt(r.Form.Get("id"), 10, 64)
	if err != nil {
		httpError(w, http.StatusBadRequest, "id: %q is not a message uid", r.Form.Get("id"))
		return
	}
	if _, err := s.sim.Recall(from, uid); err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, map[string]any{"recalled": strconv.FormatInt(uid, 10)})
}

// sent lists what the robot sent, oldest first.
func (s *wfSandbox) sent(w http.ResponseWriter, _ *http.Request) {
	var msgs []wfsim.Message
	add := func(in []wfsim.Message) {
		for _, m := range in {
			if m.Sender == wfSandboxRobot && !slices.ContainsFunc(msgs, func(o wfsim.Message) bool { return o.ID == m.ID }) {
				msgs = append(msgs, m)
			}
		}
	}
	add(s.sim.Messages(wfsim.Conversation{Type: 1, Target: wfSandboxGroup}))
	for _, u := range sandboxUsers {
		add(s.sim.Messages(wfsim.Conversation{Type: 0, Target: u.ID}))
	}
	slices.SortFunc(msgs, func(a, b wfsim.Message) int { return cmp.Compare(a.ID, b.ID) })
	out := make([]wfRecord, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, wfRecordOf(m))
	}
	writeJSON(w, out)
}

func (s *wfSandbox) status(w http.ResponseWriter, _ *http.Request) {
	online := 0
	if s.online.Load() {
		online = 1
	}
	writeJSON(w, map[string]int{"online": online})
}
