package yunhu

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Golden tests: the bytes are assembled by field number from
// shared/reference/YUNHU-WIRE.md, never with the generated code.

func TestGoldenStatus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    []byte
		code    int
		wantErr bool
		unauth  bool
	}{
		{"ok", pb{}.msg(1, status(1, "success")), 0, false, false},
		// -1 is a 10-byte sign-extended varint (§1.3).
		{"negative", pb{}.msg(1, status(-1, "不可以移除群主！")), -1, true, false},
		{"already added", pb{}.msg(1, status(-9, "您已添加过对方")), -9, true, false},
		{"not logged in proto", pb{}.msg(1, status(-101, "未登录")), -101, true, true},
		{"not logged in json", []byte(`{"code":-101,"msg":"未登录"}`), -101, true, true},
		{"unknown fields skipped", pb{}.msg(1, status(1, "success").varint(9, 7)).str(15, "x"), 0, false, false},
		{"no status", pb{}, 0, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			rec.reply(PathRecallMessage, tc.body)
			c := newTestClient(t, rec, nil)
			err := c.Recall(context.Background(), Chat{ID: "872440499", Type: ChatTypeGroup}, "abc")
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if errors.Is(err, ErrUnauthorized) != tc.unauth {
				t.Fatalf("errors.Is(%v, ErrUnauthorized) != %v", err, tc.unauth)
			}
			var ae *APIError
			if tc.code != 0 {
				if !errors.As(err, &ae) || ae.Code != tc.code || ae.Endpoint != PathRecallMessage {
					t.Fatalf("err = %#v, want APIError code %d", err, tc.code)
				}
			}
		})
	}
}

func TestGoldenSendMessageRequest(t *testing.T) {
	rec := newRecorder()
	rec.reply(PathSendMessage, pb{}.msg(1, status(1, "success")))
	c := newTestClient(t, rec, nil)
	id, err := c.SendMessage(context.Background(), Outgoing{
		ID:          "0123456789abcdef0123456789abcdef",
		Chat:        Chat{ID: "big", Type: ChatTypeGroup},
		ContentType: ContentImage,
		Content:     Content{Text: "@Ann hi", Mentions: []string{"7356666", "7357777"}, Image: "d41d8cd98f00b204e9800998ecf8427e.png", FileSize: 1234, QuoteText: "Ann: hello"},
		QuoteID:     "ffff",
		CommandID:   42,
		Media:       &MediaInfo{Key: "d41d8cd98f00b204e9800998ecf8427e.png", Hash: "Fh", MIME: "image/png", Suffix: "png", Width: 640, Height: 480, Size: 1234},
	})
	if err != nil || id != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("send = %q, %v", id, err)
	}
	if h := rec.headers[PathSendMessage].Get("token"); h != "tok-1" {
		t.Fatalf("token header = %q", h)
	}
	f := fields(t, rec.body(PathSendMessage))
	if got := fstr(t, f, 2); got != "0123456789abcdef0123456789abcdef" {
		t.Errorf("msg_id(2) = %q", got)
	}
	if got := fstr(t, f, 3); got != "big" {
		t.Errorf("chat_id(3) = %q", got)
	}
	if got := fint(t, f, 4); got != 2 {
		t.Errorf("chat_type(4) = %d", got)
	}
	if got := fint(t, f, 6); got != 2 {
		t.Errorf("content_type(6) = %d", got)
	}
	if got := fint(t, f, 7); got != 42 {
		t.Errorf("command_id(7) = %d", got)
	}
	if got := fstr(t, f, 8); got != "ffff" {
		t.Errorf("quote_msg_id(8) = %q", got)
	}
	content := fields(t, f[5][0].([]byte))
	if got := fstr(t, content, 1); got != "@Ann hi" {
		t.Errorf("content.text(1) = %q", got)
	}
	if ms := content[6]; len(ms) != 2 || string(ms[0].([]byte)) != "7356666" || string(ms[1].([]byte)) != "7357777" {
		t.Errorf("content.mentioned_id(6) = %q", ms)
	}
	if got := fstr(t, content, 8); got != "Ann: hello" {
		t.Errorf("content.quote_msg_text(8) = %q", got)
	}
	// The image key goes into field 9, not 3 (§7 #3).
	if got := fstr(t, content, 9); got != "d41d8cd98f00b204e9800998ecf8427e.png" {
		t.Errorf("content.image(9) = %q", got)
	}
	if _, ok := content[3]; ok {
		t.Errorf("content.image_url(3) set on send")
	}
	if got := fint(t, content, 18); got != 1234 {
		t.Errorf("content.file_size(18) = %d", got)
	}
	media := fields(t, f[9][0].([]byte))
	for num, want := range map[protowire.Number]string{1: "d41d8cd98f00b204e9800998ecf8427e.png", 2: "Fh", 3: "image/png", 8: "d41d8cd98f00b204e9800998ecf8427e.png", 9: "png"} {
		if got := fstr(t, media, num); got != want {
			t.Errorf("media.%d = %q, want %q", num, got, want)
		}
	}
	for num, want := range map[protowire.Number]int64{5: 480, 6: 640, 7: 1234} {
		if got := fint(t, media, num); got != want {
			t.Errorf("media.%d = %d, want %d", num, got, want)
		}
	}
}

func TestGoldenSendMessageMediaFields(t *testing.T) {
	// File, video and voice keys use content fields 5, 19 and 21 (§5.4).
	rec := newRecorder()
	rec.reply(PathSendMessage, pb{}.msg(1, status(1, "success")))
	c := newTestClient(t, rec, nil)
	for _, tc := range []struct {
		up   Upload
		num  protowire.Number
		ct   int64
		want string
	}{
		{Upload{Kind: UploadFile, Key: "disk/abc.pdf", Name: "a.pdf", Size: 5}, 5, 4, "disk/abc.pdf"},
		{Upload{Kind: UploadVideo, Key: "abc.mp4", Size: 5}, 19, 10, "abc.mp4"},
		{Upload{Kind: UploadAudio, Key: "abc.m4a", Size: 5}, 21, 11, "abc.m4a"},
	} {
		o := tc.up.Outgoing(Chat{ID: "7356666", Type: ChatTypeUser})
		o.Content.AudioSeconds = 3
		if _, err := c.SendMessage(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		f := fields(t, rec.body(PathSendMessage))
		if got := fint(t, f, 6); got != tc.ct {
			t.Errorf("%v: content_type = %d, want %d", tc.up.Kind, got, tc.ct)
		}
		content := fields(t, f[5][0].([]byte))
		if got := fstr(t, content, tc.num); got != tc.want {
			t.Errorf("%v: content.%d = %q", tc.up.Kind, tc.num, got)
		}
		if tc.up.Kind == UploadFile && fstr(t, content, 4) != "a.pdf" {
			t.Errorf("file_name(4) = %q", fstr(t, content, 4))
		}
		if got := fint(t, content, 22); got != 3 {
			t.Errorf("audio_time(22) = %d", got)
		}
		if len(fstr(t, f, 2)) != 32 {
			t.Errorf("generated msg_id %q is not 32 hex", fstr(t, f, 2))
		}
	}
}

func TestGoldenRecallAndListRequests(t *testing.T) {
	rec := newRecorder()
	ok := pb{}.msg(1, status(1, "success"))
	for _, p := range []string{PathRecallMessageBatch, PathListMessage, PathListMessageByMidSeq, PathListMessageBySeq, PathButtonReport} {
		rec.reply(p, ok)
	}
	c := newTestClient(t, rec, nil)
	ctx := context.Background()
	g := Chat{ID: "872440499", Type: ChatTypeGroup}
	if err := c.RecallBatch(ctx, g, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	f := fields(t, rec.body(PathRecallMessageBatch))
	if len(f[2]) != 2 || string(f[2][1].([]byte)) != "b" || fstr(t, f, 3) != "872440499" || fint(t, f, 4) != 2 {
		t.Errorf("recall batch body = %v", f)
	}
	if _, err := c.ListMessages(ctx, g, "anchor", 20); err != nil {
		t.Fatal(err)
	}
	f = fields(t, rec.body(PathListMessage))
	if fint(t, f, 2) != 20 || fstr(t, f, 3) != "anchor" || fint(t, f, 4) != 2 || fstr(t, f, 5) != "872440499" {
		t.Errorf("list-message body = %v", f)
	}
	if _, err := c.ListMessagesAround(ctx, g, "mid", 5); err != nil {
		t.Fatal(err)
	}
	f = fields(t, rec.body(PathListMessageByMidSeq))
	// msg_seq -1 is the 10-byte varint 0xFFFFFFFFFFFFFFFF (§7 #15).
	if f[3][0].(uint64) != math.MaxUint64 || fint(t, f, 4) != 2 || fstr(t, f, 5) != "872440499" || fint(t, f, 7) != 5 || fstr(t, f, 8) != "mid" {
		t.Errorf("by-mid-seq body = %v", f)
	}
	if _, err := c.ListMessagesBySeq(ctx, g, 77); err != nil {
		t.Fatal(err)
	}
	f = fields(t, rec.body(PathListMessageBySeq))
	if fint(t, f, 3) != 77 || fint(t, f, 4) != 2 || fstr(t, f, 5) != "872440499" {
		t.Errorf("by-seq body = %v", f)
	}
	if err := c.ButtonReport(ctx, g, "m1", "7356666", "v"); err != nil {
		t.Fatal(err)
	}
	// button-report numbers chat_type 3 and chat_id 4 (§2.7).
	f = fields(t, rec.body(PathButtonReport))
	if fstr(t, f, 2) != "m1" || fint(t, f, 3) != 2 || fstr(t, f, 4) != "872440499" || fstr(t, f, 5) != "7356666" || fstr(t, f, 6) != "v" {
		t.Errorf("button-report body = %v", f)
	}
}

// record builds a stored message record with record numbering (§2.5.1).
func record(id string, seq int64) pb {
	sender := pb{}.str(1, "7357777").varint(2, 1).str(3, "Bob").str(4, "https://a/b.png").
		str(6, "old").msg(7, pb{}.varint(1, 9).str(3, "VIP").str(4, "#FF00FF00"))
	content := pb{}.str(1, "hello").str(3, "https://chat-img.jwznb.com/k.png").str(8, "Ann: hi").
		varint(18, 99).varint(33, 640).varint(34, 480).varint(14, 1) // 14 unknown
	return pb{}.str(1, id).msg(2, sender).str(3, "left").varint(4, 2).msg(5, content).
		varint(6, 1700000000123).msg(7, pb{}.varint(1, 5).str(2, "/help").varint(4, 2)).
		varint(8, 1700000001000).str(9, "q1").varint(10, seq).varint(11, 0).varint(12, 1700000002000)
}

func TestGoldenListMessageRecords(t *testing.T) {
	rec := newRecorder()
	rec.reply(PathListMessage, pb{}.msg(1, status(1, "success")).msg(2, record("m2", 8)).msg(2, record("m1", 7)).varint(3, 2))
	c := newTestClient(t, rec, nil)
	g := Chat{ID: "big", Type: ChatTypeGroup}
	msgs, err := c.ListMessages(context.Background(), g, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].ID != "m2" || msgs[1].ID != "m1" {
		t.Fatalf("got %+v", msgs)
	}
	m := msgs[0]
	if m.Chat != g || m.Seq != 8 || m.Direction != "left" || m.ContentType != ContentImage || m.QuoteID != "q1" {
		t.Errorf("record = %+v", m)
	}
	if m.Sender.ID != "7357777" || m.Sender.Type != ChatTypeUser || m.Sender.Name != "Bob" || m.Sender.AvatarURL != "https://a/b.png" ||
		len(m.Sender.Tags) != 1 || m.Sender.Tags[0] != (Tag{ID: 9, Text: "VIP", Color: "#FF00FF00"}) || m.Sender.OldTags[0] != "old" {
		t.Errorf("sender = %+v", m.Sender)
	}
	if m.Content.Text != "hello" || m.Content.ImageURL != "https://chat-img.jwznb.com/k.png" || m.Content.QuoteText != "Ann: hi" ||
		m.Content.FileSize != 99 || m.Content.Width != 640 || m.Content.Height != 480 {
		t.Errorf("content = %+v", m.Content)
	}
	if !m.Time.Equal(time.UnixMilli(1700000000123)) || !m.RecallTime.Equal(time.UnixMilli(1700000001000)) ||
		!m.EditTime.Equal(time.UnixMilli(1700000002000)) || !m.Recalled() {
		t.Errorf("times = %v %v %v", m.Time, m.RecallTime, m.EditTime)
	}
	if m.Command == nil || *m.Command != (Command{ID: 5, Name: "/help", Type: 2}) {
		t.Errorf("cmd = %+v", m.Command)
	}
}

func TestGoldenGetMessageByID(t *testing.T) {
	rec := newRecorder()
	// The anchor is found by id, not position (§2.5.3).
	rec.reply(PathListMessageByMidSeq, pb{}.msg(1, status(1, "success")).msg(2, record("newer", 9)).msg(2, record("want", 8)))
	c := newTestClient(t, rec, nil)
	chat := Chat{ID: "7357777", Type: ChatTypeUser}
	m, err := c.GetMessage(context.Background(), chat, "want")
	if err != nil || m.ID != "want" || m.Seq != 8 {
		t.Fatalf("get = %+v, %v", m, err)
	}
	if _, err := c.GetMessage(context.Background(), chat, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: err = %v", err)
	}
}

func TestGoldenUserInfo(t *testing.T) {
	rec := newRecorder()
	data := pb{}.str(1, "7356666").str(2, "Ann").str(4, "https://a/ann.png").varint(5, 77).str(6, "138****").
		str(7, "a@b.c").double(8, 12.5).varint(9, 1).varint(10, 1800000000).varint(11, 13800000000).str(12, "INV")
	rec.reply(PathUserInfo, pb{}.msg(1, status(1, "success")).msg(2, data))
	c := newTestClient(t, rec, nil)
	s, err := c.Self(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := Self{ID: "7356666", Name: "Ann", AvatarURL: "https://a/ann.png", AvatarID: 77, Phone: "138****", Email: "a@b.c",
		Coin: 12.5, VIP: true, VIPExpire: time.Unix(1800000000, 0), InvitationCode: "INV"}
	if *s != want {
		t.Errorf("self = %+v\nwant %+v", *s, want)
	}
	if rec.methods[PathUserInfo] != "GET" {
		t.Errorf("user/info method = %s", rec.methods[PathUserInfo])
	}
}

func TestGoldenGetUser(t *testing.T) {
	rec := newRecorder()
	data := pb{}.str(1, "7357777").str(2, "Bob").varint(3, 5).str(4, "u").msg(6, pb{}.varint(1, 1).str(2, "medal").varint(5, 1)).
		str(7, "2024-01-02 03:04:05").varint(11, 30).varint(13, 1).msg(18, pb{}.str(1, "bobby")).
		msg(19, pb{}.str(2, "intro").varint(3, 2).str(5, "Paris")).str(20, "FR")
	rec.reply(PathGetUser, pb{}.msg(1, status(1, "success")).msg(2, data))
	c := newTestClient(t, rec, nil)
	u, err := c.GetUser(context.Background(), "7357777")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "7357777" || u.Name != "Bob" || u.NameID != 5 || u.Medals[0] != "medal" || u.RegisterTime != "2024-01-02 03:04:05" ||
		u.OnlineDays != 30 || !u.VIP || u.Remark != "bobby" || u.Introduction != "intro" || u.Gender != 2 || u.City != "Paris" || u.IPGeo != "FR" {
		t.Errorf("user = %+v", u)
	}
	if got := fstr(t, fields(t, rec.body(PathGetUser)), 2); got != "7357777" {
		t.Errorf("get-user id(2) = %q", got)
	}
}

func TestGoldenGroupAndMembers(t *testing.T) {
	rec := newRecorder()
	g := pb{}.str(1, "big").str(2, "Big group").str(3, "av").str(5, "intro").varint(6, 3).str(7, "1").varint(8, 1).
		varint(9, 100).varint(10, 1).str(11, "cat").varint(12, 4).varint(13, 1).str(20, "2").str(20, "3").
		varint(21, 1600000000).str(22, "2,3").str(23, "1").str(28, "me").str(29, "code").varint(30, 1).varint(32, 90)
	bot := pb{}.str(1, "75282754").str(2, "Botty").str(4, "bav").str(6, "does things")
	rec.reply(PathGroupInfo, pb{}.msg(1, status(1, "success")).msg(2, g).msg(3, bot))
	member := func(uid string, level int64) pb {
		return pb{}.str(1, "big").msg(2, pb{}.str(1, uid).str(2, "N"+uid).str(4, "a").varint(6, 1)).varint(3, level).varint(4, 1700000000).varint(5, 1)
	}
	rec.reply(PathGroupListMember, pb{}.msg(1, status(1, "success")).msg(2, member("1", 100)).msg(2, member("2", 2)).varint(3, 2))
	c := newTestClient(t, rec, nil)
	ctx := context.Background()
	grp, err := c.GroupInfo(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if grp.ID != "big" || grp.Name != "Big group" || grp.MemberCount != 3 || !grp.DirectJoin || grp.PermissionLevel != 100 ||
		!grp.HistoryMsg || grp.CategoryID != 4 || !grp.Private || len(grp.Admins) != 2 || grp.Owner != "1" ||
		grp.LimitedMsgTypes != "2,3" || grp.MyNickname != "me" || !grp.HideMembers || grp.AutoDeleteDays != 90 ||
		len(grp.Bots) != 1 || grp.Bots[0].ID != "75282754" || grp.Bots[0].Name != "Botty" {
		t.Errorf("group = %+v", grp)
	}
	ms, total, err := c.ListMembers(ctx, "big", 1, 50, "")
	if err != nil || total != 2 || len(ms) != 2 {
		t.Fatalf("members = %+v %d %v", ms, total, err)
	}
	if ms[1] != (Member{GroupID: "big", UserID: "2", Name: "N2", AvatarURL: "a", VIP: true, PermissionLevel: 2, Gagged: true, GagUntil: 1700000000}) {
		t.Errorf("member = %+v", ms[1])
	}
	f := fields(t, rec.body(PathGroupListMember))
	page := fields(t, f[2][0].([]byte))
	if fint(t, page, 1) != 50 || fint(t, page, 2) != 1 || fstr(t, f, 3) != "big" {
		t.Errorf("list-member body = %v", f)
	}
}

func TestGoldenContacts(t *testing.T) {
	rec := newRecorder()
	entry := func(id, remark, name string, level int64) pb {
		return pb{}.str(1, id).str(2, remark).str(3, "av").varint(4, level).varint(5, 1).str(8, name)
	}
	rec.reply(PathAddressBookList, pb{}.msg(1, status(1, "success")).
		msg(2, pb{}.str(1, "用户").msg(2, entry("7357777", "Bobby", "Bob", 0)).varint(3, 1)).
		msg(2, pb{}.str(1, "我加入的群聊").msg(2, entry("big", "Big", "", 2))). // chat_type absent: older servers
		msg(2, pb{}.str(1, "机器人").msg(2, entry("75282754", "Botty", "", 0)).varint(3, 3)).str(3, "md5x"))
	req := pb{}.str(1, "rn").str(3, "Carl").str(4, "cav").str(5, "G").str(7, "7358888").str(8, "7358888").
		varint(9, 1).varint(10, 2).str(11, "big").str(12, "7356666").varint(13, 0).varint(16, 1700000000).
		varint(18, 321).str(23, "let me in")
	rec.reply(PathRequestList, pb{}.msg(1, status(1, "success")).msg(2, req).varint(3, 1).varint(4, 1))
	conv := pb{}.str(1, "big").varint(2, 2).str(3, "Big").str(4, "Bob: hi").varint(5, 1700000000123).varint(6, 3).
		varint(7, 1).str(9, "av").varint(11, 1).varint(12, 1700000000).msg(14, pb{}.str(6, "7357777").varint(8, 5)).str(15, "Big real")
	rec.reply(PathConversationList, pb{}.msg(1, status(1, "success")).msg(2, conv).varint(3, 1).str(4, "m"))
	c := newTestClient(t, rec, nil)
	ctx := context.Background()

	ab, err := c.AddressBook(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ab.Friends) != 1 || ab.Friends[0] != (Contact{ID: "7357777", Type: ChatTypeUser, Name: "Bob", Remark: "Bobby", AvatarURL: "av", NoDisturb: true}) ||
		len(ab.Groups) != 1 || ab.Groups[0].PermissionLevel != 2 || ab.Groups[0].Name != "Big" || ab.Groups[0].Type != ChatTypeGroup ||
		len(ab.Bots) != 1 || ab.Bots[0].ID != "75282754" || ab.MD5 != "md5x" {
		t.Errorf("address book = %+v", ab)
	}
	reqs, pending, err := c.FriendRequests(ctx)
	if err != nil || pending != 1 || len(reqs) != 1 {
		t.Fatalf("requests = %+v %d %v", reqs, pending, err)
	}
	r := reqs[0]
	if r.ID != 321 || r.Name != "Carl" || r.InviterID != "7358888" || r.TargetType != ChatTypeGroup || r.TargetID != "big" ||
		r.Note != "let me in" || r.Result != 0 || !r.InviteTime.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("request = %+v", r)
	}
	convs, err := c.Conversations(ctx)
	if err != nil || len(convs) != 1 {
		t.Fatalf("conversations = %+v %v", convs, err)
	}
	cv := convs[0]
	if cv.Chat != (Chat{ID: "big", Type: ChatTypeGroup}) || cv.Name != "Big" || cv.RealName != "Big real" || cv.Preview != "Bob: hi" ||
		cv.Unread != 3 || !cv.At || !cv.DoNotDisturb || !cv.Time.Equal(time.UnixMilli(1700000000123)) {
		t.Errorf("conversation = %+v", cv)
	}
}

func TestGoldenEditGroupRequest(t *testing.T) {
	rec := newRecorder()
	rec.reply(PathGroupEditGroup, pb{}.msg(1, status(1, "success")))
	c := newTestClient(t, rec, nil)
	err := c.EditGroup(context.Background(), GroupSettings{GroupID: "big", Name: "N", Introduction: "I", AvatarURL: "A",
		DirectJoin: true, HistoryMsg: true, CategoryName: "C", CategoryID: 7, Private: true, HideMembers: true})
	if err != nil {
		t.Fatal(err)
	}
	f := fields(t, rec.body(PathGroupEditGroup))
	for num, want := range map[protowire.Number]string{2: "big", 3: "N", 4: "I", 5: "A", 8: "C"} {
		if got := fstr(t, f, num); got != want {
			t.Errorf("edit-group %d = %q, want %q", num, got, want)
		}
	}
	for num, want := range map[protowire.Number]int64{6: 1, 7: 1, 9: 7, 10: 1, 11: 1} {
		if got := fint(t, f, num); got != want {
			t.Errorf("edit-group %d = %d, want %d", num, got, want)
		}
	}
}
