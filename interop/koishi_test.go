package interop

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// The Koishi bot (koishi/bot.js) needs Node.js and its packages, installed
// with `npm ci` in koishi/ (the versions are pinned in its lock file).
// Without them these tests skip, unless envKoishiRequired is set, as CI
// does once it has installed them: then a missing piece is a failure.
const envKoishiRequired = "INTEROP_KOISHI_REQUIRED"

// koishiProc is the Koishi bot running under node.
type koishiProc struct {
	out syncBuffer
}

// startKoishi runs koishi/bot.js with the OneBot adapter configured by env
// (KOISHI_PROTOCOL, KOISHI_ENDPOINT, ...), killed when the test ends, and
// waits until Koishi reports the bot online (it has called
// get_login_info over the connection).
func startKoishi(t *testing.T, env ...string) *koishiProc {
	t.Helper()
	node, err := exec.LookPath("node")
	missing := ""
	switch {
	case err != nil:
		missing = "node is not installed"
	default:
		if _, err := os.Stat(filepath.Join("koishi", "node_modules", "koishi-plugin-adapter-onebot")); err != nil {
			missing = "Koishi's packages are not installed (run `npm ci` in interop/koishi)"
		}
	}
	if missing != "" {
		if os.Getenv(envKoishiRequired) != "" {
			t.Fatalf("%s, and %s is set", missing, envKoishiRequired)
		}
		t.Skipf("%s; skipping the Koishi interop test", missing)
	}
	k := &koishiProc{}
	cmd := exec.Command(node, "bot.js")
	cmd.Dir = "koishi"
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &k.out, &k.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("koishi output:\n%s", k.out.String())
		}
	})
	return k
}

// waitOnline waits until Koishi says the bot is online (Status.ONLINE).
func (k *koishiProc) waitOnline(t *testing.T) {
	t.Helper()
	waitUntil(t, "Koishi to report the bot online", func() bool {
		return strings.Contains(k.out.String(), "koishi: bot status 1\n")
	})
}

// TestKoishiForwardWebSocket: Koishi's OneBot adapter with protocol "ws"
// connects to the daemon's forward WebSocket with an access token.
func TestKoishiForwardWebSocket(t *testing.T) {
	d := startDaemon(t, "  - ws:\n      address: 127.0.0.1:0\n      access-token: koishi-token\n")
	addr := d.addrs["ws"]
	if addr == "" {
		t.Fatal("the daemon did not log its ws address")
	}
	k := startKoishi(t, "KOISHI_PROTOCOL=ws", "KOISHI_SELF_ID="+sim.SelfID,
		"KOISHI_ENDPOINT=ws://"+addr, "KOISHI_TOKEN=koishi-token")
	k.waitOnline(t)
	koishiScenarios(t, d)
}

// TestKoishiReverseWebSocket: the daemon dials the WebSocket server of
// Koishi's OneBot adapter with protocol "ws-reverse".
func TestKoishiReverseWebSocket(t *testing.T) {
	addr := freeLoopbackAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	k := startKoishi(t, "KOISHI_PROTOCOL=ws-reverse", "KOISHI_SELF_ID="+sim.SelfID,
		"KOISHI_PORT="+port, "KOISHI_PATH=/onebot")
	d := startDaemon(t, "  - ws-reverse:\n      universal: ws://"+addr+"/onebot\n"+
		"      reconnect-interval: 200\n      access-token: koishi-token\n")
	d.waitLog("the daemon to connect to Koishi", func(e map[string]any) bool {
		return e["logger"] == "ws-reverse" && e["msg"] == "connected"
	})
	k.waitOnline(t)
	koishiScenarios(t, d)
}

// koishiScenarios makes simulated users talk to the Koishi bot and checks
// on the Yunhu side exactly what it answered: text in a group and in
// private, a reply quoting the user's message and mentioning them, and
// the ids Koishi saw, which for the group "big" is the OneBot alias
// /sandbox/world shows.
func koishiScenarios(t *testing.T, d *daemonProc) {
	n := 0
	d.say(url.Values{"from": {"alice"}, "group": {sim.GroupOwnedID}, "text": {"ping"}})
	sent := d.waitSent("pong in the group", n+1)
	expectText(t, sent[n], sim.GroupOwnedID, yunhu.ChatTypeGroup, "pong")
	n++
	d.say(url.Values{"from": {"bob"}, "private": {"1"}, "text": {"ping"}})
	sent = d.waitSent("pong in private", n+1)
	expectText(t, sent[n], sim.BobID, yunhu.ChatTypeUser, "pong")
	n++

	quoted := d.say(url.Values{"from": {"alice"}, "group": {sim.GroupBigID}, "text": {"quote me"}})
	sent = d.waitSent("the reply", n+1)
	r := sent[n].Request
	if sent[n].Code != 1 || r.ChatID != sim.GroupBigID || r.QuoteMsgID != quoted.MsgID ||
		!slices.Equal(r.Content.MentionedID, []string{sim.AliceID}) || r.Content.Text != "@Alice here you are" {
		t.Errorf("Yunhu received %v, want a reply quoting %s that mentions Alice", sent[n], quoted.MsgID)
	}
	n++

	bigID := worldGroupID(t, d, "Big Group")
	d.say(url.Values{"from": {"alice"}, "group": {sim.GroupBigID}, "text": {"who"}})
	sent = d.waitSent("the ids Koishi saw", n+1)
	expectText(t, sent[n], sim.GroupBigID, yunhu.ChatTypeGroup,
		"user "+sim.AliceID+" channel "+bigID+" self "+sim.SelfID)
	n++

	// Nothing was sent in between: the next answer is the next message.
	d.say(url.Values{"from": {"carol"}, "group": {sim.GroupOwnedID}, "text": {"ping"}})
	sent = d.waitSent("the last pong", n+1)
	expectText(t, sent[n], sim.GroupOwnedID, yunhu.ChatTypeGroup, "pong")
	if len(sent) != n+1 {
		t.Errorf("Yunhu received %d messages, want %d: %v", len(sent), n+1, sent[n+1:])
	}
}

// worldGroupID reads a group's OneBot group_id from /sandbox/world.
func worldGroupID(t *testing.T, d *daemonProc, name string) string {
	t.Helper()
	resp, err := http.Get(d.sandbox + "/sandbox/world")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(regexp.QuoteMeta(`"`+name+`"`) + ` +yunhu \S+ +OneBot group_id (\d+)\n`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("/sandbox/world names no group_id for %q:\n%s", name, b)
	}
	return string(m[1])
}
