// Package config loads and validates the daemon's YAML configuration.
//
// The key names are a public contract shared with operators and tools, and
// follow go-cqhttp's hyphenated style. Loading goes Default -> Parse (YAML
// decoded onto the defaults, with ${VAR} expansion) -> Validate, and every
// problem is reported with the key's path and its line in the file, e.g.
//
//	config.yaml:31: servers[2].ws-reverse.universal: not a ws:// or wss:// URL
//
// The package only describes settings; it converts units (seconds,
// milliseconds) into time.Duration so that no other package has to know them.
package config

import (
	"os"
	"time"
)

// Config is the whole configuration file.
type Config struct {
	// Backend names the chat platform the daemon serves OneBot for:
	// "yunhu" (the default). Each backend reads its own sections; Yunhu's
	// are account and yunhu.
	Backend   string    `yaml:"backend"`
	Account   Account   `yaml:"account"`
	Yunhu     Yunhu     `yaml:"yunhu"`
	WuKongIM  WuKongIM  `yaml:"wukongim"`
	Wildfire  Wildfire  `yaml:"wildfire"`
	Heartbeat Heartbeat `yaml:"heartbeat"`
	Message   Message   `yaml:"message"`
	Database  Database  `yaml:"database"`
	Log       Log       `yaml:"log"`
	Limits    Limits    `yaml:"limits"`
	Servers   []Server  `yaml:"servers"`
	Metrics   Metrics   `yaml:"metrics"`

	// Warnings are what Parse found valid but likely wrong: a listener
	// reachable beyond this host with no access token, a ${VAR} that is
	// not set. -check prints them and the daemon logs them at start.
	Warnings []Problem `yaml:"-"`
}

// Metrics configures the monitoring listener: Prometheus metrics on
// /metrics, liveness on /healthz and readiness on /readyz (README
// "Monitoring").
type Metrics struct {
	// Address is host:port to listen on; "" turns the listener off. It has
	// no authentication: keep it on loopback or a trusted network.
	Address string `yaml:"address"`
}

// Account identifies the Yunhu user account the daemon logs in as.
type Account struct {
	// Token is the account token. YUNHU_TOKEN in the environment overrides it.
	Token string `yaml:"token"`
	// Platform is sent in the push-socket login; Yunhu accepts only
	// windows, macos, android, linux, ios, fuchsia and Web (case-sensitive).
	Platform string `yaml:"platform"`
	// DeviceID identifies this session to Yunhu; empty means one is
	// generated on first start and kept in the database.
	DeviceID string `yaml:"device-id"`
}

// Yunhu holds the endpoints of the Yunhu service.
type Yunhu struct {
	APIURL    string `yaml:"api-url"`
	WSURL     string `yaml:"ws-url"`
	UploadURL string `yaml:"upload-url"`
	// Timeout bounds each REST call, in seconds.
	Timeout int `yaml:"timeout"`
}

// TimeoutDuration is Timeout as a duration.
func (y Yunhu) TimeoutDuration() time.Duration { return seconds(y.Timeout) }

// WuKongIM is the wukongim backend's section: the bot is a WuKongIM user
// that receives as a client over the v2 WebSocket JSON-RPC and uses the
// HTTP API as a trusted service.
type WuKongIM struct {
	// APIURL is the server's HTTP API; it has no authentication, so it
	// belongs on loopback or a private network.
	APIURL string `yaml:"api-url"`
	// WSURL is the JSON-RPC WebSocket (the server's wsAddr).
	WSURL string `yaml:"ws-url"`
	// UID and Token are the bot's user id and its token for DeviceFlag.
	// WUKONGIM_TOKEN in the environment overrides Token.
	UID   string `yaml:"uid"`
	Token string `yaml:"token"`
	// DeviceFlag is 0 app, 1 web or 2 pc; tokens are per uid and flag.
	DeviceFlag int `yaml:"device-flag"`
	// DeviceID names this connection among the uid's devices; empty
	// means one is generated on first start and kept in the database.
	DeviceID string `yaml:"device-id"`
	// RegisterToken makes the daemon register UID/Token for DeviceFlag
	// (device level 1, master) through the HTTP API at start.
	RegisterToken bool `yaml:"register-token"`
	// Name is the bot's display name (get_login_info): WuKongIM keeps
	// no profiles.
	Name string `yaml:"name"`
	// Groups and Users name what WuKongIM only knows by id.
	Groups []Named `yaml:"groups"`
	Users  []Named `yaml:"users"`
	// Media is where local and base64 media are put so that other
	// clients can fetch them; without it only http(s) media can be sent.
	Media HostedMedia `yaml:"media"`
	// Timeout bounds each HTTP API call, in seconds.
	Timeout int `yaml:"timeout"`
}

// TimeoutDuration is Timeout as a duration.
func (w WuKongIM) TimeoutDuration() time.Duration { return seconds(w.Timeout) }

// Wildfire is the wildfire backend's section: the bot is a WildfireChat
// robot, which the server calls back with every message it receives and
// which sends through the robot API (and, with the admin secret, recalls
// and lists through the admin API).
type Wildfire struct {
	// RobotURL is the server's client HTTP port, where /robot/... is.
	RobotURL string `yaml:"robot-url"`
	// RobotID and RobotSecret are the robot's user id and secret.
	// WILDFIRE_ROBOT_SECRET in the environment overrides RobotSecret.
	RobotID     string `yaml:"robot-id"`
	RobotSecret string `yaml:"robot-secret"`
	// AdminURL and AdminSecret reach the admin API (http.admin.port and
	// http.admin.secret_key); without them recall, get_friend_list and
	// get_group_list answer 1404. WILDFIRE_ADMIN_SECRET overrides
	// AdminSecret.
	AdminURL    string `yaml:"admin-url"`
	AdminSecret string `yaml:"admin-secret"`
	// Name is the robot's display name when its profile cannot be read.
	Name string `yaml:"name"`
	// Callback is where the server's message callbacks are received.
	Callback WildfireCallback `yaml:"callback"`
	// Media hosts local and base64 media, as for WuKongIM.
	Media HostedMedia `yaml:"media"`
	// Timeout bounds each API call, in seconds.
	Timeout int `yaml:"timeout"`
}

// TimeoutDuration is Timeout as a duration.
func (w Wildfire) TimeoutDuration() time.Duration { return seconds(w.Timeout) }

// WildfireCallback is the listener the server posts messages to. The
// posts are unsigned, so the path carries a secret and the sources are
// limited.
type WildfireCallback struct {
	// Address is host:port to listen on.
	Address string `yaml:"address"`
	// PathSecret is the secret first path element of the callback URL
	// (at least 16 characters). WILDFIRE_CALLBACK_SECRET overrides it.
	PathSecret string `yaml:"path-secret"`
	// Allow lists the addresses (IPs or CIDRs) callbacks may come from;
	// empty means loopback only.
	Allow []string `yaml:"allow"`
	// SetURL, when set, is registered as the robot's callback at start
	// (set_callback): the URL the server reaches Address by, ending in
	// the path secret, e.g. http://10.0.0.2:5791/<path-secret>/message.
	SetURL string `yaml:"set-url"`
}

// Named is an id with the name to show for it.
type Named struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
}

// HostedMedia is where the daemon hosts local and base64 media for
// platforms that store no files (wukongim.media, wildfire.media).
type HostedMedia struct {
	// Address is host:port the daemon serves the files on.
	Address string `yaml:"address"`
	// PublicURL is how clients reach Address (a reverse proxy's URL,
	// say); file names are appended to it.
	PublicURL string `yaml:"public-url"`
	// Dir holds the files; empty means "media" beside the database.
	Dir string `yaml:"dir"`
}

// Heartbeat configures the OneBot heartbeat meta event.
type Heartbeat struct {
	// Interval between heartbeats in seconds; 0 turns them off.
	Interval int `yaml:"interval"`
}

// IntervalDuration is Interval as a duration (0 = off).
func (h Heartbeat) IntervalDuration() time.Duration { return seconds(h.Interval) }

// Message controls how messages are reported and sent.
type Message struct {
	// PostFormat is "string" (CQ codes) or "array" (segment arrays).
	PostFormat string `yaml:"post-format"`
	// ReportSelfMessage reports the account's own messages sent from other
	// devices as message_sent events instead of dropping them.
	ReportSelfMessage bool `yaml:"report-self-message"`
	// IgnoreInvalidCQCode drops malformed CQ codes from outgoing messages
	// instead of sending them as literal text.
	IgnoreInvalidCQCode bool `yaml:"ignore-invalid-cqcode"`
	// MaxMediaSize caps a media file fetched for sending, in MiB.
	MaxMediaSize int `yaml:"max-media-size"`
	// FetchTimeout bounds downloading a media file given by URL, in seconds.
	FetchTimeout int `yaml:"fetch-timeout"`
	// Media confines where media for sending may come from.
	Media Media `yaml:"media"`
}

// Media holds the rules for file:/// and http(s):// media (README "Media
// rules").
type Media struct {
	// FileRoots are the absolute directories file:/// media may be read
	// from, with everything below them; empty refuses file:///. /proc,
	// /sys, /dev and the directories of the config file and the database
	// are refused whatever the roots say.
	FileRoots []string `yaml:"file-roots"`
	// AllowPrivateNetworks lets http(s) media come from loopback, private
	// and CGNAT addresses. The daemon's own listeners and link-local and
	// metadata addresses are refused whatever it says.
	AllowPrivateNetworks bool `yaml:"allow-private-networks"`
}

// MaxMediaBytes is MaxMediaSize in bytes.
func (m Message) MaxMediaBytes() int64 { return int64(m.MaxMediaSize) << 20 }

// FetchTimeoutDuration is FetchTimeout as a duration.
func (m Message) FetchTimeoutDuration() time.Duration { return seconds(m.FetchTimeout) }

// Database configures the embedded store.
type Database struct {
	Path string `yaml:"path"`
	// RetentionDays keeps messages (for get_msg and replies) this many days;
	// 0 keeps them forever.
	RetentionDays int `yaml:"retention-days"`
	// MaxMessages keeps at most this many messages; 0 means no limit.
	MaxMessages int `yaml:"max-messages"`
}

// Retention is RetentionDays as a duration (0 = forever).
func (d Database) Retention() time.Duration { return time.Duration(d.RetentionDays) * 24 * time.Hour }

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is console (for people and journald) or json.
	Format string `yaml:"format"`
	// File, when set, receives the log in addition to stderr.
	File string `yaml:"file"`
	// Messages logs one info line per message received and sent (chat,
	// sender, message_id, the first 40 characters with media as markers),
	// as go-cqhttp does.
	Messages bool `yaml:"messages"`
}

// Limits bounds what the OneBot servers hold for their clients, whatever
// the clients do; a request beyond a bound is answered at once with
// retcode 1429 ("too many requests", retry later).
type Limits struct {
	// MaxActions caps the actions running at once over every server.
	MaxActions int `yaml:"max-actions"`
	// MaxRequestMemory caps the memory held for requests at once (bodies,
	// WebSocket frames, queued _async and _rate_limited params, replies
	// not yet written), in MiB.
	MaxRequestMemory int `yaml:"max-request-memory"`
	// MaxWSConnections caps the open connections of each ws server.
	MaxWSConnections int `yaml:"max-ws-connections"`
	// Memory is the process's soft memory limit (the Go GC works harder
	// near it), in MiB; 0 derives it from MaxRequestMemory. GOMEMLIMIT in
	// the environment wins over it.
	Memory int `yaml:"memory"`
}

// MaxRequestBytes is MaxRequestMemory in bytes.
func (l Limits) MaxRequestBytes() int64 { return int64(l.MaxRequestMemory) << 20 }

// MemoryBytes is the soft memory limit in bytes: Memory, or when 0 twice
// the request memory (requests and the replies and decoded media they
// lead to) plus memoryBase for everything else.
func (l Limits) MemoryBytes() int64 {
	if l.Memory > 0 {
		return int64(l.Memory) << 20
	}
	return 2*l.MaxRequestBytes() + memoryBase<<20
}

// memoryBase is the memory, in MiB, the daemon needs besides requests:
// the store's cache, event queues and the GC's headroom (idle RSS is
// about 14 MiB, a 1,000 events/s soak about 100 MiB).
const memoryBase = 256

// Server is one entry of the servers list; exactly one field is set.
type Server struct {
	HTTP      *HTTPServer `yaml:"http"`
	WS        *WSServer   `yaml:"ws"`
	WSReverse *WSReverse  `yaml:"ws-reverse"`
}

// HTTPServer is the OneBot HTTP API plus its HTTP POST event targets.
type HTTPServer struct {
	Address     string `yaml:"address"`
	AccessToken string `yaml:"access-token"`
	// Timeout bounds handling one API request, in seconds.
	Timeout int        `yaml:"timeout"`
	Post    []HTTPPost `yaml:"post"`
}

// TimeoutDuration is Timeout as a duration.
func (h HTTPServer) TimeoutDuration() time.Duration { return seconds(h.Timeout) }

// HTTPPost is one webhook that receives every event.
type HTTPPost struct {
	URL string `yaml:"url"`
	// Secret signs each body with HMAC-SHA1 in X-Signature; empty = unsigned.
	Secret string `yaml:"secret"`
	// Timeout bounds one delivery attempt, in seconds.
	Timeout int `yaml:"timeout"`
	// MaxRetries is how many times a failed delivery is retried.
	MaxRetries int `yaml:"max-retries"`
}

// TimeoutDuration is Timeout as a duration.
func (p HTTPPost) TimeoutDuration() time.Duration { return seconds(p.Timeout) }

// WSServer is the forward WebSocket server.
type WSServer struct {
	Address     string `yaml:"address"`
	AccessToken string `yaml:"access-token"`
	// BufferSize is how many events are kept while no event client is
	// connected, for the next one (the oldest dropped beyond it, and any
	// older than 5 minutes; onebot/backlog.go); 0 keeps none.
	BufferSize int `yaml:"buffer-size"`
}

// WSReverse dials out to a bot framework's WebSocket server.
type WSReverse struct {
	Universal string `yaml:"universal"`
	API       string `yaml:"api"`
	Event     string `yaml:"event"`
	// ReconnectInterval between connection attempts, in milliseconds.
	ReconnectInterval int    `yaml:"reconnect-interval"`
	AccessToken       string `yaml:"access-token"`
	// BufferSize is how many events are kept while disconnected; the
	// oldest are dropped beyond it.
	BufferSize int `yaml:"buffer-size"`
}

// ReconnectDuration is ReconnectInterval as a duration.
func (w WSReverse) ReconnectDuration() time.Duration {
	return time.Duration(w.ReconnectInterval) * time.Millisecond
}

// The backends config's backend key names.
const (
	BackendYunhu    = "yunhu"
	BackendWuKongIM = "wukongim"
	BackendWildfire = "wildfire"
)

// Backends lists the backend key's values.
func Backends() []string { return []string{BackendYunhu, BackendWuKongIM, BackendWildfire} }

// Default returns the configuration used for every key the file leaves out.
func Default() Config {
	return Config{
		Backend: BackendYunhu,
		Account: Account{Platform: "windows"},
		Yunhu: Yunhu{
			APIURL:    "https://chat-go.jwzhd.com",
			WSURL:     "wss://chat-ws-go.jwzhd.com/ws",
			UploadURL: "https://upload-z2.qiniup.com",
			Timeout:   15,
		},
		WuKongIM: WuKongIM{
			APIURL:     "http://127.0.0.1:5011",
			WSURL:      "ws://127.0.0.1:5210",
			DeviceFlag: 2,
			Timeout:    15,
		},
		Wildfire: Wildfire{
			RobotURL: "http://127.0.0.1:80",
			Callback: WildfireCallback{Address: "127.0.0.1:5791"},
			Timeout:  15,
		},
		Heartbeat: Heartbeat{Interval: 5},
		Message: Message{
			PostFormat:   "string",
			MaxMediaSize: 30,
			FetchTimeout: 30,
			// The temp directory is where bots put what they generate, and
			// it holds none of the daemon's secrets.
			Media: Media{FileRoots: []string{os.TempDir()}},
		},
		Database: Database{
			Path:          "data/yunhu-onebot.db",
			RetentionDays: 30,
			MaxMessages:   1_000_000,
		},
		Log: Log{Level: "info", Format: "console", Messages: true},
		Limits: Limits{
			MaxActions:       256,
			MaxRequestMemory: 128,
			MaxWSConnections: 128,
		},
	}
}

// DefaultServers are the servers of a file that leaves servers out: the
// HTTP API and the forward WebSocket, both on loopback only.
func DefaultServers() []Server {
	return []Server{{HTTP: defaultHTTPServer()}, {WS: defaultWSServer()}}
}

// defaultHTTPServer and its siblings fill in a servers entry before the
// file's keys are decoded onto it.
func defaultHTTPServer() *HTTPServer {
	return &HTTPServer{Address: "127.0.0.1:5700", Timeout: 60}
}

func defaultHTTPPost() HTTPPost { return HTTPPost{Timeout: 5, MaxRetries: 3} }

func defaultWSServer() *WSServer { return &WSServer{Address: "127.0.0.1:6700", BufferSize: 1024} }

func defaultWSReverse() *WSReverse {
	return &WSReverse{ReconnectInterval: 3000, BufferSize: 1024}
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }
