package wukongim

import (
	"context"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
)

// TestSendWaitsForReconnect: a send while the connection is being
// re-established waits for it (ErrOffline means the frame never left, so
// trying again cannot duplicate the message), with the same clientMsgNo,
// up to OfflineWait.
func TestSendWaitsForReconnect(t *testing.T) {
	f := newFake()
	b := newBackend(t, f, nil, func(o *Options) { o.OfflineWait = 5 * time.Second })
	outs, err := b.Encode(context.Background(), platform.Conv{Kind: platform.KindGroup, ID: "g1"}, textMsg("after the drop"), platform.EncodeEnv{})
	if err != nil || len(outs) != 1 {
		t.Fatalf("Encode = %v, %v", outs, err)
	}
	out := outs[0]
	f.mu.Lock()
	f.offline = 2
	f.mu.Unlock()
	sent, err := b.Send(context.Background(), &out)
	if err != nil || sent.ID == "" {
		t.Fatalf("Send = %+v, %v; want it sent once the connection is back", sent, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sent) != 3 || f.sent[0].ClientMsgNo != f.sent[2].ClientMsgNo || f.sent[0].ClientMsgNo != out.Token {
		t.Errorf("sends %+v: want three tries with the same clientMsgNo %q", f.sent, out.Token)
	}
}
