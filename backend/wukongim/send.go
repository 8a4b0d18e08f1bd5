package wukongim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	wk "github.com/yunhu-onebot/yunhu-onebot/wukongim"
)

// Sending goes over the JSON-RPC connection, not the HTTP API: its answer
// carries the seq, it enforces membership and blacklists (reasonCode 3
// and 4; v2's HTTP send accepts anything, even a send to a group the bot
// is not in), and the sending connection does not get its own echo.

// Send sends one encoded message; the server assigns its id.
func (b *Backend) Send(ctx context.Context, out *platform.Outgoing) (platform.Sent, error) {
	req, ok := out.Payload.(wk.RPCSendRequest)
	if !ok {
		return platform.Sent{}, fmt.Errorf("wukongim: send: payload %T is not an encoded WuKongIM message", out.Payload)
	}
	if out.Token != "" {
		req.ClientMsgNo = out.Token
	}
	res, err := b.rpcSend(ctx, req)
	if err != nil {
		return platform.Sent{}, sendError(out.Conv, "send", err)
	}
	if res.MessageID == 0 {
		return platform.Sent{}, fmt.Errorf("wukongim: send: the server answered without a message id")
	}
	id := msgID(res.MessageID)
	b.seqs.put(out.Conv, id, res.MessageSeq)
	return platform.Sent{ID: id, Seq: res.MessageSeq, Time: b.now()}, nil
}

// defaultOfflineWait bounds how long a send waits for the connection to
// come back: a reconnect after a dropped connection takes a moment, and a
// bot that sends right then should not fail for it.
const defaultOfflineWait = 10 * time.Second

// rpcSend sends over the connection, waiting up to Options.OfflineWait
// (or ctx)
// while it is down. Retrying is safe: ErrOffline means the frame never
// left, so the server cannot hold the message twice.
func (b *Backend) rpcSend(ctx context.Context, req wk.RPCSendRequest) (wk.RPCSendResult, error) {
	wctx, cancel := context.WithTimeout(ctx, b.offlineWait)
	defer cancel()
	wait := 50 * time.Millisecond
	for {
		res, err := b.conn.Send(ctx, req)
		if !errors.Is(err, wk.ErrOffline) {
			return res, err
		}
		t := time.NewTimer(wait)
		select {
		case <-wctx.Done():
			t.Stop()
			return res, err
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// sendError classifies a failed send: no connection, or a refusal the
// server gave a reason code for, is definite; anything else (a timeout, a
// connection lost before the answer) leaves the message's fate unknown.
func sendError(conv platform.Conv, what string, err error) error {
	if errors.Is(err, wk.ErrOffline) {
		return &platform.Error{Msg: "not connected to WuKongIM (the bot's connection is down; try again once it is back)", Definite: true, Err: err}
	}
	var re *wk.ReasonError
	if errors.As(err, &re) {
		msg := fmt.Sprintf("WuKongIM refused the message (reasonCode %d): %v", re.Code, err)
		switch {
		case re.Code == 3 && conv.Kind == platform.KindGroup:
			msg = "not a member of the group: WuKongIM refused the message (reasonCode 3, SubscriberNotExist)"
		case re.Code == 3:
			msg = "WuKongIM refused the message to this user (reasonCode 3, SubscriberNotExist)"
		case re.Code == 4 && conv.Kind == platform.KindGroup:
			msg = "blacklisted in the group: WuKongIM refused the message (reasonCode 4, InBlacklist)"
		case re.Code == 4:
			msg = "blacklisted by this user: WuKongIM refused the message (reasonCode 4, InBlacklist)"
		}
		return &platform.Error{Msg: msg, Definite: true, Err: err}
	}
	return fmt.Errorf("wukongim: %s: %w", what, err)
}

// Recall recalls messages one by one by the SDKs' convention, a
// messageRevoke command in the conversation, stopping at the first
// failure. WuKongIM itself keeps the message: clients that honour the
// convention hide it.
func (b *Backend) Recall(ctx context.Context, conv platform.Conv, msgIDs []string) error {
	channel, typ := channelOf(conv)
	for _, id := range msgIDs {
		param, _ := json.Marshal(revokeParam{MessageID: idString(id), ChannelID: channel, ChannelType: num(typ)})
		raw, err := encodePayload(&Payload{Type: typeCmd, Cmd: cmdRevoke, Param: param})
		if err != nil {
			return fmt.Errorf("wukongim: recall %s: %w", id, err)
		}
		req := wk.RPCSendRequest{ChannelID: channel, ChannelType: typ, ClientMsgNo: newClientMsgNo(), Payload: raw}
		if _, err := b.rpcSend(ctx, req); err != nil {
			return sendError(conv, "recall "+id, err)
		}
	}
	return nil
}
