package yunhu

// Fuzz targets for the push-frame decoder: whatever the push socket
// delivers, decoding it never panics, and a frame that decodes yields a
// push the bridge can use. The seed corpora live in testdata/fuzz/<target>/
// (real frames of every cmd, built from the golden layouts of
// push_golden_test.go) and run with every go test; a crasher found by
// fuzzing belongs there as a regression seed.

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// FuzzDecodeFrame feeds arbitrary bytes to the decoder, as a broken or
// hostile server could.
func FuzzDecodeFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeFrame(b)
		checkFrame(t, b, fr, err)
	})
}

// FuzzDecodePayload wraps arbitrary payload bytes in a well-formed
// envelope with the given cmd, so that the fuzzer reaches every payload
// decoder and the conversions after it instead of stopping at the
// envelope.
func FuzzDecodePayload(f *testing.F) {
	f.Fuzz(func(t *testing.T, cmd string, payload []byte) {
		b, err := proto.Marshal(&yunhupb.PushFrame{
			Info: &yunhupb.PushInfo{Seq: "s", Cmd: cmd},
			Data: &yunhupb.PushData{TypeUrl: TypeURLPushMessage, Value: payload},
		})
		if err != nil {
			t.Skip("not a frame proto can marshal (invalid UTF-8 in cmd)")
		}
		fr, err := decodeFrame(b)
		checkFrame(t, b, fr, err)
		if err == nil && fr.cmd != cmd {
			t.Fatalf("cmd %q decoded as %q", cmd, fr.cmd)
		}
	})
}

// checkFrame uses a decoded push the way the bridge does, so that a
// conversion that panics on odd values is found here too.
func checkFrame(t *testing.T, b []byte, fr frame, err error) {
	t.Helper()
	if err != nil {
		if fr.push != nil {
			t.Fatalf("decodeFrame(%q) = %T and error %v", b, fr.push, err)
		}
		return
	}
	switch p := fr.push.(type) {
	case nil:
		if fr.cmd == WSCmdPushMessage || fr.cmd == WSCmdInviteApply {
			t.Fatalf("decodeFrame(%q): cmd %q without a push", b, fr.cmd)
		}
	case MessagePush:
		m := p.Message
		_ = m.Peer("1000001")
		_ = m.Recalled()
		if m.Recalled() {
			t.Fatalf("decodeFrame(%q): a recall decoded as a message", b)
		}
	case RecallPush:
		_ = p.Peer("1000001")
	case EditPush, StreamPush, InvitePush, DraftPush, BotBoardPush, FileSendPush, HangUpPush:
	default:
		t.Fatalf("decodeFrame(%q): unexpected push %T", b, p)
	}
}
