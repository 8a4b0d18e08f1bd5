package yunhu_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/sim"
)

// Client ↔ simulator tests: the simulator shares only yunhupb and the wire
// constants with the client, so these check both against the reference.

type world struct {
	sim  *sim.Server
	urls sim.URLs
	t    *testing.T
}

func newWorld(t *testing.T) *world {
	t.Helper()
	s := sim.New(sim.Options{Log: zaptest.NewLogger(t)})
	srv := httptest.NewServer(s.Handler()) // 127.0.0.1 only
	t.Cleanup(func() {
		s.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	return &world{sim: s, urls: sim.Endpoints(srv.URL), t: t}
}

// client returns a client logged in as user (sim.SelfID for the account).
func (w *world) client(user string, mod ...func(*yunhu.Options)) *yunhu.Client {
	w.t.Helper()
	tok := sim.DefaultToken
	if user != sim.SelfID {
		tok = sim.TokenFor(user)
	}
	opts := yunhu.Options{
		APIURL: w.urls.API, WSURL: w.urls.WS, UploadURL: w.urls.Upload,
		Token: tok, Platform: "linux", Timeout: 5 * time.Second,
		Log:     zaptest.NewLogger(w.t).Named(user),
		Backoff: func(int) time.Duration { return 10 * time.Millisecond },
	}
	for _, m := range mod {
		m(&opts)
	}
	c := yunhu.New(opts)
	w.t.Cleanup(c.Close)
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func text(chat yunhu.Chat, s string) yunhu.Outgoing {
	return yunhu.Outgoing{Chat: chat, ContentType: yunhu.ContentText, Content: yunhu.Content{Text: s}}
}

func TestSimAccountAndContacts(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	c := w.client(sim.SelfID)

	self, err := c.Self(ctx)
	ok(t, err)
	if self.ID != sim.SelfID || self.Name != w.sim.Self().Name {
		t.Errorf("self = %+v", self)
	}
	u, err := c.GetUser(ctx, sim.AliceID)
	ok(t, err)
	if u.ID != sim.AliceID || u.Name != w.sim.User(sim.AliceID).Name {
		t.Errorf("get user = %+v", u)
	}

	ab, err := c.AddressBook(ctx)
	ok(t, err)
	ids := func(cs []yunhu.Contact) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		slices.Sort(out)
		return out
	}
	if got := ids(ab.Friends); !slices.Contains(got, sim.AliceID) || !slices.Contains(got, sim.BobID) || slices.Contains(got, sim.CarolID) {
		t.Errorf("friends = %v", got)
	}
	if got := ids(ab.Groups); !slices.Contains(got, sim.GroupOwnedID) || !slices.Contains(got, sim.GroupAdminID) || !slices.Contains(got, sim.GroupBigID) {
		t.Errorf("groups = %v", got)
	}
	for _, g := range ab.Groups {
		want := map[string]int32{sim.GroupOwnedID: yunhu.PermissionOwner, sim.GroupAdminID: yunhu.PermissionAdmin, sim.GroupBigID: yunhu.PermissionMember}[g.ID]
		if g.PermissionLevel != want {
			t.Errorf("group %s level %d, want %d", g.ID, g.PermissionLevel, want)
		}
	}
	if got := ids(ab.Bots); !slices.Contains(got, sim.BotID) {
		t.Errorf("bots = %v", got)
	}

	// Dave applies; self sees the request, accepts, and later deletes him.
	dave := w.client(sim.DaveID)
	ok(t, dave.Apply(ctx, yunhu.Chat{ID: sim.SelfID, Type: yunhu.ChatTypeUser}, "hello"))
	reqs, pending, err := c.FriendRequests(ctx)
	ok(t, err)
	i := slices.IndexFunc(reqs, func(r yunhu.FriendRequest) bool { return r.InviterID == sim.DaveID && r.Result == 0 })
	if i < 0 || pending < 1 {
		t.Fatalf("requests = %+v (pending %d)", reqs, pending)
	}
	if reqs[i].Note != "hello" || reqs[i].TargetType != yunhu.ChatTypeUser {
		t.Errorf("request = %+v", reqs[i])
	}
	ok(t, c.AgreeApply(ctx, reqs[i].ID, yunhu.AgreeAccept))
	ab, err = c.AddressBook(ctx)
	ok(t, err)
	if !slices.Contains(ids(ab.Friends), sim.DaveID) {
		t.Errorf("dave not a friend after agree: %v", ids(ab.Friends))
	}
	// Applying again: -9 您已添加过对方.
	var ae *yunhu.APIError
	if err := dave.Apply(ctx, yunhu.Chat{ID: sim.SelfID, Type: yunhu.ChatTypeUser}, ""); !errors.As(err, &ae) || ae.Code != yunhu.CodeAlreadyAdded {
		t.Errorf("re-apply err = %v", err)
	}
	ok(t, c.DeleteFriend(ctx, yunhu.Chat{ID: sim.DaveID, Type: yunhu.ChatTypeUser}))
	ab, err = c.AddressBook(ctx)
	ok(t, err)
	if slices.Contains(ids(ab.Friends), sim.DaveID) {
		t.Errorf("dave still a friend after delete")
	}

	// Conversations and dismiss-notification.
	alice := w.client(sim.AliceID)
	_, err = alice.SendMessage(ctx, text(yunhu.Chat{ID: sim.SelfID, Type: yunhu.ChatTypeUser}, "ping"))
	ok(t, err)
	convs, err := c.Conversations(ctx)
	ok(t, err)
	j := slices.IndexFunc(convs, func(cv yunhu.Conversation) bool { return cv.Chat.ID == sim.AliceID })
	if j < 0 || convs[j].Unread < 1 || convs[j].Chat.Type != yunhu.ChatTypeUser {
		t.Fatalf("conversations = %+v", convs)
	}
	ok(t, c.DismissNotification(ctx, sim.AliceID))
	convs, err = c.Conversations(ctx)
	ok(t, err)
	if j := slices.IndexFunc(convs, func(cv yunhu.Conversation) bool { return cv.Chat.ID == sim.AliceID }); j < 0 || convs[j].Unread != 0 {
		t.Errorf("after dismiss = %+v", convs)
	}
}

func TestSimMessages(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	c := w.client(sim.SelfID)
	alice := w.client(sim.AliceID)
	toAlice := yunhu.Chat{ID: sim.AliceID, Type: yunhu.ChatTypeUser}
	toSelf := yunhu.Chat{ID: sim.SelfID, Type: yunhu.ChatTypeUser}

	var ids []string
	for i := range 5 {
		id, err := c.SendMessage(ctx, text(toAlice, "m"+string(rune('0'+i))))
		ok(t, err)
		ids = append(ids, id)
	}
	sent := w.sim.Sent()
	if len(sent) != 5 || sent[0].Request.GetMsgId() != ids[0] || sent[0].Request.GetContent().GetText() != "m0" {
		t.Fatalf("sim saw %+v", sent)
	}

	// Newest first in practice; the client keeps the server's order.
	msgs, err := c.ListMessages(ctx, toAlice, "", 10)
	ok(t, err)
	if len(msgs) != 5 || msgs[0].ID != ids[4] || msgs[0].Direction != yunhu.DirectionRight || msgs[0].Sender.ID != sim.SelfID {
		t.Fatalf("list = %+v", msgs)
	}
	for i := 1; i < len(msgs); i++ {
		if msgs[i].Seq >= msgs[i-1].Seq {
			t.Errorf("seqs not decreasing: %d then %d", msgs[i-1].Seq, msgs[i].Seq)
		}
	}
	// Paging: strictly older than the anchor.
	older, err := c.ListMessages(ctx, toAlice, ids[2], 10)
	ok(t, err)
	if len(older) != 2 || older[0].ID != ids[1] || older[1].ID != ids[0] {
		t.Errorf("older than %s = %+v", ids[2], older)
	}
	// Alice sees the same chat from her side, as left.
	theirs, err := alice.ListMessages(ctx, toSelf, "", 1)
	ok(t, err)
	if len(theirs) != 1 || theirs[0].ID != ids[4] || theirs[0].Direction != yunhu.DirectionLeft || theirs[0].Content.Text != "m4" {
		t.Errorf("alice view = %+v", theirs)
	}
	bySeq, err := c.ListMessagesBySeq(ctx, toAlice, msgs[0].Seq)
	ok(t, err)
	if len(bySeq) != 4 || bySeq[0].ID != ids[3] {
		t.Errorf("by seq below %d = %+v", msgs[0].Seq, bySeq)
	}
	m, err := c.GetMessage(ctx, toAlice, ids[1])
	ok(t, err)
	if m.ID != ids[1] || m.Content.Text != "m1" {
		t.Errorf("get = %+v", m)
	}
	if _, err := c.GetMessage(ctx, toAlice, "0000000000000000000000000000dead"); !errors.Is(err, yunhu.ErrNotFound) {
		t.Errorf("get unknown: %v", err)
	}

	// Edit, then its history.
	ok(t, c.EditMessage(ctx, yunhu.Outgoing{ID: ids[0], Chat: toAlice, ContentType: yunhu.ContentMarkdown, Content: yunhu.Content{Text: "**m0**"}}))
	m, err = c.GetMessage(ctx, toAlice, ids[0])
	ok(t, err)
	if m.Content.Text != "**m0**" || m.ContentType != yunhu.ContentMarkdown || m.EditTime.IsZero() {
		t.Errorf("edited = %+v", m)
	}
	recs, total, err := c.ListEditRecords(ctx, ids[0], 1, 10)
	ok(t, err)
	if total != 1 || len(recs) != 1 || recs[0].MsgID != ids[0] || !bytes.Contains([]byte(recs[0].ContentOld), []byte("m0")) {
		t.Errorf("edit records = %+v (%d)", recs, total)
	}
	// Alice may not edit or recall self's message.
	if err := alice.EditMessage(ctx, yunhu.Outgoing{ID: ids[0], Chat: toSelf, ContentType: yunhu.ContentText, Content: yunhu.Content{Text: "x"}}); err == nil {
		t.Error("foreign edit accepted")
	}
	if err := alice.Recall(ctx, toSelf, ids[1]); err == nil {
		t.Error("foreign recall accepted")
	}

	// Recall one, then a batch.
	ok(t, c.Recall(ctx, toAlice, ids[1]))
	ok(t, c.RecallBatch(ctx, toAlice, ids[2:4]))
	msgs, err = c.ListMessages(ctx, toAlice, "", 10)
	ok(t, err)
	for _, m := range msgs {
		if want := m.ID == ids[1] || m.ID == ids[2] || m.ID == ids[3]; m.Recalled() != want {
			t.Errorf("%s recalled=%v, want %v", m.ID, m.Recalled(), want)
		}
	}

	// Reply, mention, button report and forward into a group.
	g := yunhu.Chat{ID: sim.GroupOwnedID, Type: yunhu.ChatTypeGroup}
	first, err := alice.SendMessage(ctx, text(g, "question"))
	ok(t, err)
	o := text(g, "@Alice hi")
	o.Content.Mentions = []string{sim.AliceID}
	o.QuoteID = first
	o.Content.QuoteText = "Alice: question"
	o.Content.Buttons = `[[{"text":"ok","actionType":3,"value":"v"}]]`
	gid, err := c.SendMessage(ctx, o)
	ok(t, err)
	gm, err := c.GetMessage(ctx, g, gid)
	ok(t, err)
	if gm.QuoteID != first || gm.Content.QuoteText != "Alice: question" || gm.Content.Buttons == "" || gm.Content.Mentions[0] != sim.AliceID {
		t.Errorf("group message = %+v", gm)
	}
	ok(t, alice.ButtonReport(ctx, g, gid, sim.AliceID, "v"))
	ok(t, c.Forward(ctx, ids[4], yunhu.ChatTypeUser, []yunhu.Chat{{ID: sim.GroupBigID, Type: yunhu.ChatTypeGroup}}))
	big, err := c.ListMessages(ctx, yunhu.Chat{ID: sim.GroupBigID, Type: yunhu.ChatTypeGroup}, "", 1)
	ok(t, err)
	if len(big) != 1 || big[0].Content.Text != "m4" || big[0].ID == ids[4] || big[0].Sender.ID != sim.SelfID {
		t.Errorf("forwarded = %+v", big)
	}
	// Delete for me hides it from self only.
	ok(t, c.DeleteForMe(ctx, toAlice, ids[4]))
	if _, err := c.GetMessage(ctx, toAlice, ids[4]); !errors.Is(err, yunhu.ErrNotFound) {
		t.Errorf("deleted message still visible to self: %v", err)
	}
	if _, err := alice.GetMessage(ctx, toSelf, ids[4]); err != nil {
		t.Errorf("deleted for self hides it from alice: %v", err)
	}
}

func TestSimSendIsIdempotent(t *testing.T) {
	// A lost reply makes the client retry send-message with the same id;
	// the server must not store it twice.
	w := newWorld(t)
	ctx := ctxT(t)
	c := w.client(sim.SelfID)
	chat := yunhu.Chat{ID: sim.GroupOwnedID, Type: yunhu.ChatTypeGroup}
	w.sim.FailNextAfterCommit(1, 502, yunhu.PathSendMessage)
	id, err := c.SendMessage(ctx, text(chat, "once"))
	ok(t, err)
	msgs, err := c.ListMessages(ctx, chat, "", 10)
	ok(t, err)
	n := 0
	for _, m := range msgs {
		if m.ID == id {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("message stored %d times", n)
	}
}

func pngOf(t *testing.T, w, h int) []byte {
	var buf bytes.Buffer
	ok(t, png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h))))
	return buf.Bytes()
}

func TestSimMedia(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	c := w.client(sim.SelfID)
	g := yunhu.Chat{ID: sim.GroupBigID, Type: yunhu.ChatTypeGroup}
	for _, tc := range []struct {
		kind yunhu.UploadKind
		name string
		data []byte
		url  func(yunhu.Content) string
	}{
		{yunhu.UploadImage, "a.png", pngOf(t, 20, 10), func(c yunhu.Content) string { return c.ImageURL }},
		{yunhu.UploadFile, "notes.txt", []byte("hello file"), func(c yunhu.Content) string { return c.FileURL }},
		{yunhu.UploadAudio, "v.m4a", []byte("\x00\x00\x00\x20ftypM4A audio"), func(c yunhu.Content) string { return c.AudioURL }},
		{yunhu.UploadVideo, "v.mp4", []byte("\x00\x00\x00\x18ftypmp42video"), func(c yunhu.Content) string { return c.VideoURL }},
	} {
		up, err := c.Upload(ctx, tc.kind, tc.name, tc.data)
		ok(t, err)
		if up.Hash != sim.QiniuEtag(tc.data) {
			t.Errorf("%v: hash %q, want %q", tc.kind, up.Hash, sim.QiniuEtag(tc.data))
		}
		o := up.Outgoing(g)
		o.Content.AudioSeconds = 2
		id, err := c.SendMessage(ctx, o)
		ok(t, err)
		m, err := c.GetMessage(ctx, g, id)
		ok(t, err)
		url := tc.url(m.Content)
		if url == "" || m.ContentType != o.ContentType {
			t.Fatalf("%v: record = %+v", tc.kind, m)
		}
		if tc.kind == yunhu.UploadImage && (m.Content.Width != 20 || m.Content.Height != 10) {
			t.Errorf("image size %dx%d", m.Content.Width, m.Content.Height)
		}
		if tc.kind == yunhu.UploadFile && (m.Content.FileName != "notes.txt" || m.Content.FileSize != int64(len(tc.data))) {
			t.Errorf("file = %+v", m.Content)
		}
		got, _, err := c.Download(ctx, url)
		ok(t, err)
		if !bytes.Equal(got, tc.data) {
			t.Errorf("%v: downloaded %d bytes, want %d", tc.kind, len(got), len(tc.data))
		}
	}
}

func TestSimGroups(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	c := w.client(sim.SelfID)

	g, err := c.GroupInfo(ctx, sim.GroupOwnedID)
	ok(t, err)
	want, _ := w.sim.GroupInfo(sim.GroupOwnedID)
	if g.ID != sim.GroupOwnedID || g.Name != want.Name || g.Owner != sim.SelfID || g.PermissionLevel != yunhu.PermissionOwner ||
		int(g.MemberCount) != len(want.Members) || !slices.Contains(g.Admins, sim.AliceID) {
		t.Errorf("group = %+v", g)
	}
	if !slices.ContainsFunc(g.Bots, func(b yunhu.Bot) bool { return b.ID == sim.BotID }) {
		t.Errorf("bots = %+v", g.Bots)
	}
	big, err := c.GroupInfo(ctx, sim.GroupBigID)
	ok(t, err)
	if big.ID != sim.GroupBigID || big.PermissionLevel != yunhu.PermissionMember {
		t.Errorf("big = %+v", big)
	}

	members, err := c.AllMembers(ctx, sim.GroupOwnedID)
	ok(t, err)
	if len(members) != len(want.Members) {
		t.Fatalf("members = %+v", members)
	}
	level := map[string]int32{}
	for _, m := range members {
		level[m.UserID] = m.PermissionLevel
	}
	if level[sim.SelfID] != yunhu.PermissionOwner || level[sim.AliceID] != yunhu.PermissionAdmin || level[sim.CarolID] != yunhu.PermissionMember {
		t.Errorf("levels = %v", level)
	}
	page, _, err := c.ListMembers(ctx, sim.GroupOwnedID, 1, 2, "")
	ok(t, err)
	if len(page) != 2 {
		t.Errorf("page of 2 = %d members", len(page))
	}

	ok(t, c.GagMember(ctx, sim.GroupOwnedID, sim.CarolID, 600))
	members, err = c.AllMembers(ctx, sim.GroupOwnedID)
	ok(t, err)
	if i := slices.IndexFunc(members, func(m yunhu.Member) bool { return m.UserID == sim.CarolID }); i < 0 || !members[i].Gagged {
		t.Errorf("carol not gagged: %+v", members)
	}
	var ae *yunhu.APIError
	if err := c.GagMember(ctx, sim.GroupOwnedID, sim.CarolID, 5); !errors.As(err, &ae) || ae.Code != yunhu.CodeFailed {
		t.Errorf("bad duration err = %v", err)
	}
	ok(t, c.GagMember(ctx, sim.GroupOwnedID, sim.CarolID, yunhu.GagNone))

	// A plain member cannot remove; the owner can.
	if err := c.RemoveMember(ctx, sim.GroupBigID, sim.CarolID); !errors.As(err, &ae) || ae.Code != yunhu.CodeFailed {
		t.Errorf("member removing err = %v", err)
	}
	ok(t, c.RemoveMember(ctx, sim.GroupOwnedID, sim.CarolID))
	if g2, _ := w.sim.GroupInfo(sim.GroupOwnedID); slices.ContainsFunc(g2.Members, func(m sim.Member) bool { return m.UserID == sim.CarolID }) {
		t.Error("carol still a member")
	}

	s := g.Settings()
	s.Name = "Renamed"
	ok(t, c.EditGroup(ctx, s))
	g, err = c.GroupInfo(ctx, sim.GroupOwnedID)
	ok(t, err)
	if g.Name != "Renamed" || g.Introduction != s.Introduction {
		t.Errorf("after edit = %+v", g)
	}
	ok(t, c.SetMyGroupNickname(ctx, sim.GroupBigID, "nick"))
	big, err = c.GroupInfo(ctx, sim.GroupBigID)
	ok(t, err)
	if big.MyNickname != "nick" {
		t.Errorf("nickname = %q", big.MyNickname)
	}
	// Leaving a group is delete-friend with chat type 2.
	ok(t, c.DeleteFriend(ctx, yunhu.Chat{ID: sim.GroupBigID, Type: yunhu.ChatTypeGroup}))
	if _, err := c.AllMembers(ctx, sim.GroupBigID); err == nil {
		if g3, _ := w.sim.GroupInfo(sim.GroupBigID); slices.ContainsFunc(g3.Members, func(m sim.Member) bool { return m.UserID == sim.SelfID }) {
			t.Error("still in big after leaving")
		}
	}
}

func TestSimErrors(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	bad := w.client(sim.SelfID, func(o *yunhu.Options) { o.Token = "ffffffff-ffff-4fff-8fff-ffffffffffff" })
	if _, err := bad.Self(ctx); !errors.Is(err, yunhu.ErrUnauthorized) {
		t.Errorf("bad token proto: %v", err)
	}
	if err := bad.DismissNotification(ctx, sim.AliceID); !errors.Is(err, yunhu.ErrUnauthorized) {
		t.Errorf("bad token json: %v", err)
	}
	none := w.client(sim.SelfID, func(o *yunhu.Options) { o.Token = "" })
	if _, err := none.ListMessages(ctx, yunhu.Chat{ID: sim.AliceID, Type: yunhu.ChatTypeUser}, "", 1); !errors.Is(err, yunhu.ErrUnauthorized) {
		t.Errorf("no token: %v", err)
	}

	c := w.client(sim.SelfID, func(o *yunhu.Options) { o.Timeout = 500 * time.Millisecond })
	w.sim.FailNext(2, 500, yunhu.PathGroupInfo)
	if _, err := c.GroupInfo(ctx, sim.GroupOwnedID); err != nil {
		t.Errorf("read not retried through two 500s: %v", err)
	}
	w.sim.FailNext(1, 500, yunhu.PathRecallMessage)
	var ae *yunhu.APIError
	if err := c.Recall(ctx, yunhu.Chat{ID: sim.AliceID, Type: yunhu.ChatTypeUser}, "x"); !errors.As(err, &ae) || ae.HTTPStatus != 500 {
		t.Errorf("recall 500: %v", err)
	}
	w.sim.HangNext(1, yunhu.PathUserInfo)
	start := time.Now()
	if _, err := c.Self(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("hang took %v with a 500ms timeout", took)
	}
}

func TestSimEveryContentType(t *testing.T) {
	w := newWorld(t)
	ctx := ctxT(t)
	c := w.client(sim.SelfID)
	g := yunhu.Chat{ID: sim.GroupBigID, Type: yunhu.ChatTypeGroup}
	bot := yunhu.Chat{ID: sim.BotID, Type: yunhu.ChatTypeBot}
	for _, tc := range []struct {
		chat  yunhu.Chat
		ct    yunhu.ContentType
		in    yunhu.Content
		check func(yunhu.Content) bool
	}{
		{g, yunhu.ContentText, yunhu.Content{Text: "t"}, func(c yunhu.Content) bool { return c.Text == "t" }},
		{g, yunhu.ContentMarkdown, yunhu.Content{Text: "*m*"}, func(c yunhu.Content) bool { return c.Text == "*m*" }},
		{g, yunhu.ContentHTML, yunhu.Content{Text: "<b>h</b>"}, func(c yunhu.Content) bool { return c.Text == "<b>h</b>" }},
		{g, yunhu.ContentA2UI, yunhu.Content{Text: `{"ui":1}`, Buttons: "[]"}, func(c yunhu.Content) bool { return c.Text == `{"ui":1}` }},
		{g, yunhu.ContentSticker, yunhu.Content{Image: "expression/abc.gif", ExpressionID: "42"},
			func(c yunhu.Content) bool {
				return c.Image == "expression/abc.gif" && c.ImageURL != "" && c.ExpressionID == "42"
			}},
		{g, yunhu.ContentSticker, yunhu.Content{Image: "sticker/abc.webp", StickerItemID: 7, StickerPackID: 8},
			func(c yunhu.Content) bool { return c.StickerItemID == 7 && c.StickerPackID == 8 }},
		{g, yunhu.ContentPost, yunhu.Content{PostID: "99", PostTitle: "T", PostContent: "C", PostType: "2"},
			func(c yunhu.Content) bool { return c.PostID == "99" && c.PostTitle == "T" && c.PostType == "2" }},
		{bot, yunhu.ContentForm, yunhu.Content{Form: `{"f":{"value":"x"}}`}, func(c yunhu.Content) bool { return c.Form != "" }},
	} {
		id, err := c.SendMessage(ctx, yunhu.Outgoing{Chat: tc.chat, ContentType: tc.ct, Content: tc.in})
		if err != nil {
			t.Errorf("content type %d: %v", tc.ct, err)
			continue
		}
		m, err := c.GetMessage(ctx, tc.chat, id)
		if err != nil {
			t.Errorf("content type %d: %v", tc.ct, err)
			continue
		}
		if m.ContentType != tc.ct || !tc.check(m.Content) {
			t.Errorf("content type %d: record %+v", tc.ct, m.Content)
		}
	}
	// Empty content is refused with a business error.
	var ae *yunhu.APIError
	if _, err := c.SendMessage(ctx, yunhu.Outgoing{Chat: g, ContentType: yunhu.ContentText}); !errors.As(err, &ae) || ae.Code == yunhu.CodeOK {
		t.Errorf("empty text err = %v", err)
	}
	// Inviting the bot into another group.
	ok(t, c.Invite(ctx, sim.GroupAdminID, bot))
	info, err := c.GroupInfo(ctx, sim.GroupAdminID)
	ok(t, err)
	if !slices.ContainsFunc(info.Bots, func(b yunhu.Bot) bool { return b.ID == sim.BotID }) {
		t.Errorf("bot not in group after invite: %+v", info.Bots)
	}
}
