package bridge

import (
	"context"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// mentionNames returns the names user id may be written as after "@" in
// a message's conversation (group nickname, real name); nil when unknown.
type mentionNames func(userID string) []string

// decode is Backend.Decode followed by the id mapping: the segments a bot
// sees, with OneBot numbers in at segments.
func (b *Bridge) decode(ctx context.Context, conv platform.Conv, content any, names mentionNames) (segment.Message, error) {
	segs, err := b.backend.Decode(ctx, conv, content, names)
	if err != nil {
		return nil, err
	}
	return b.toOneBot(ctx, segs)
}

// Notice values for group membership (notice.md).
const (
	noticeGroupDecrease = "group_decrease"
	noticeGroupIncrease = "group_increase"
	noticeGroupBan      = "group_ban"

	subLeave   = "leave"
	subKick    = "kick"
	subKickMe  = "kick_me"
	subApprove = "approve"
	subInvite  = "invite"
	subBan     = "ban"
	subLiftBan = "lift_ban"
)

// groupMemberNotice is group_decrease, group_increase and (with Duration)
// group_ban.
type groupMemberNotice struct {
	Time       int64  `json:"time"`
	SelfID     int64  `json:"self_id"`
	PostType   string `json:"post_type"`
	NoticeType string `json:"notice_type"`
	SubType    string `json:"sub_type"`
	GroupID    int64  `json:"group_id"`
	OperatorID int64  `json:"operator_id"`
	UserID     int64  `json:"user_id"`
	Duration   *int64 `json:"duration,omitempty"`
}

// groupNotice reports a membership event as its OneBot notice, and drops
// the group's cached member list, which it made stale.
func (in *ingest) groupNotice(ctx context.Context, ev platform.Event) {
	n := groupMemberNotice{SelfID: in.b.selfNumber(), PostType: postNotice}
	var group, user, operator string
	var at int64
	switch ev := ev.(type) {
	case platform.MemberLeft:
		group, user, operator, at = ev.GroupID, ev.UserID, ev.Operator, ev.Time.Unix()
		n.NoticeType, n.SubType = noticeGroupDecrease, subLeave
		switch {
		case user == in.b.self() && operator != "" && operator != user:
			n.SubType = subKickMe
		case operator != "" && operator != user:
			n.SubType = subKick
		}
		if operator == "" {
			operator = user
		}
	case platform.MemberJoined:
		group, user, operator, at = ev.GroupID, ev.UserID, ev.Operator, ev.Time.Unix()
		n.NoticeType, n.SubType = noticeGroupIncrease, subApprove
		if ev.Invited {
			n.SubType = subInvite
		}
	case platform.MemberMuted:
		group, user, operator, at = ev.GroupID, ev.UserID, ev.Operator, ev.Time.Unix()
		n.NoticeType, n.SubType = noticeGroupBan, subBan
		secs := int64(ev.Duration.Seconds())
		if secs <= 0 {
			n.SubType, secs = subLiftBan, 0
		}
		n.Duration = &secs
	default:
		return
	}
	in.members.forget(group)
	if at <= 0 {
		at = in.b.now().Unix()
	}
	n.Time = at
	var err error
	for _, f := range []struct {
		id  string
		dst *int64
	}{{group, &n.GroupID}, {user, &n.UserID}, {operator, &n.OperatorID}} {
		if f.id == "" {
			continue // 0: the whole group (group_ban), or unknown
		}
		if *f.dst, err = in.b.oneBotID(ctx, f.id); err != nil {
			in.b.log.Error("group notice", zap.Error(err))
			return
		}
	}
	if err := in.b.hub.Publish(&n); err != nil {
		in.b.log.Error("publish group notice", zap.Error(err))
	}
}

// request reports a friend or group request.
func (in *ingest) request(ctx context.Context, r platform.Request) {
	uid, err := in.b.oneBotID(ctx, r.UserID)
	if err != nil {
		in.b.log.Error("request event", zap.Error(err))
		return
	}
	t := r.Time.Unix()
	if r.Time.IsZero() {
		t = in.b.now().Unix()
	}
	var ev any
	switch r.Kind {
	case platform.FriendRequest:
		ev = &friendRequestEvent{
			Time: t, SelfID: in.b.selfNumber(), PostType: postRequest, RequestType: requestTypeFriend,
			UserID: uid, Comment: r.Comment, Flag: r.Flag,
		}
	default:
		gid, err := in.b.oneBotID(ctx, r.GroupID)
		if err != nil {
			in.b.log.Error("request event", zap.Error(err))
			return
		}
		sub := requestSubInvite
		if r.Kind == platform.GroupJoinRequest {
			sub = requestSubAdd
		}
		ev = &groupRequestEvent{
			Time: t, SelfID: in.b.selfNumber(), PostType: postRequest, RequestType: requestTypeGroup, SubType: sub,
			GroupID: gid, UserID: uid, Comment: r.Comment, Flag: r.Flag,
		}
	}
	if err := in.b.hub.Publish(ev); err != nil {
		in.b.log.Error("publish request event", zap.Error(err))
	}
}
