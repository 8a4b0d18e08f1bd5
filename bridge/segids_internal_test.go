package bridge

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// idsBridge is a Bridge with a real store and nothing else: enough for
// the id mapping of segments.
func idsBridge(t *testing.T) *Bridge {
	t.Helper()
	st, err := store.Open(store.Options{Path: filepath.Join(t.TempDir(), "ids.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &Bridge{store: st, log: zap.NewNop()}
}

// TestSegmentIDsRoundTrip: mentions of non-numeric platform ids become
// their aliases and back, numeric ids and qq=all pass unchanged, and the
// caller's message is never written to.
func TestSegmentIDsRoundTrip(t *testing.T) {
	b := idsBridge(t)
	ctx := context.Background()
	alias, err := b.oneBotID(ctx, "u-abc")
	if err != nil {
		t.Fatal(err)
	}
	aliasQQ := strconv.FormatInt(alias, 10)
	onebotMsg := segment.Message{
		segment.Text("hi "), segment.At(aliasQQ), segment.AtAll(), segment.At("123"),
		{Type: segment.TypeAt, Data: []segment.Pair{{Key: "qq", Value: aliasQQ}, {Key: "name", Value: "Abc"}}},
	}
	before := segment.FormatCQ(onebotMsg)
	plat, err := b.toPlatform(ctx, onebotMsg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := segment.FormatCQ(plat), "hi [CQ:at,qq=u-abc][CQ:at,qq=all][CQ:at,qq=123][CQ:at,qq=u-abc,name=Abc]"; got != want {
		t.Errorf("toPlatform: %s, want %s", got, want)
	}
	if segment.FormatCQ(onebotMsg) != before {
		t.Errorf("toPlatform changed its argument: %s", segment.FormatCQ(onebotMsg))
	}
	back, err := b.toOneBot(ctx, plat)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(onebotMsg) {
		t.Errorf("round trip: %s, want %s", segment.FormatCQ(back), before)
	}
	if got := segment.FormatCQ(plat); got != "hi [CQ:at,qq=u-abc][CQ:at,qq=all][CQ:at,qq=123][CQ:at,qq=u-abc,name=Abc]" {
		t.Errorf("toOneBot changed its argument: %s", got)
	}
}

func TestToPlatformRefusesBadMentions(t *testing.T) {
	b := idsBridge(t)
	for _, qq := range []string{"x", "", "-1", "0", strconv.FormatInt(store.AliasBase+12345, 10)} {
		_, err := b.toPlatform(context.Background(), segment.Message{segment.Text("a"), segment.At(qq)})
		var ae *onebot.ActionError
		if !errors.As(err, &ae) || ae.Retcode != onebot.RetcodeBadParams {
			t.Errorf("at qq=%q: %v, want 1400", qq, err)
		}
	}
}

// TestOneBotBody: a reply to a stored message names its message_id; one
// to a message the store does not know is left out.
func TestOneBotBody(t *testing.T) {
	b := idsBridge(t)
	ctx := context.Background()
	conv := platform.Conv{Kind: platform.KindGroup, ID: "g-1"}
	id, err := b.store.PutMessage(ctx, store.Message{Conv: convKey(conv), MsgID: "m-1", SenderID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	body, err := b.oneBotBody(ctx, conv, segment.Message{segment.Reply("m-1"), segment.Text("yes "), segment.At("42")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := segment.FormatCQ(body), "[CQ:reply,id="+strconv.Itoa(int(id))+"]yes [CQ:at,qq=42]"; got != want {
		t.Errorf("body %s, want %s", got, want)
	}
	body, err = b.oneBotBody(ctx, conv, segment.Message{segment.Reply("m-unknown"), segment.Text("x")})
	if err != nil {
		t.Fatal(err)
	}
	if got := segment.FormatCQ(body); got != "x" {
		t.Errorf("unknown reply kept: %s", got)
	}
	other := platform.Conv{Kind: platform.KindPrivate, ID: "g-1"}
	body, _ = b.oneBotBody(ctx, other, segment.Message{segment.Reply("m-1")})
	if len(body) != 0 {
		t.Errorf("a reply resolved in another conversation: %s", segment.FormatCQ(body))
	}
}
