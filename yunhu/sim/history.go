package sim

import (
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// History listing (§2.5). Every listing is newest first (§7 #14: the SDK's
// use implies it; clients are told to sort by msg_seq anyway), includes
// recalled records with recall_time set, and hides records the viewer
// deleted for themselves.

// defaultListCount is used when list-message asks for 0 records [I: the
// real default is not documented].
const defaultListCount = 20

// historyLocked returns the records the caller may see in a chat, oldest
// first. A chat that never had a message yields none; a group the caller
// is not in is refused [I: the real reply is not documented].
func (s *Server) historyLocked(c *call, chatID string, chatType int32) ([]*record, error) {
	if chatType == yunhu.ChatTypeGroup {
		g := s.w.groups[chatID]
		if g == nil || g.members[c.user.id] == nil {
			return nil, failf("%s", msgSelfNotMember)
		}
	}
	ch := s.store.chatOf(c.user.id, false, chatID, chatType, false)
	if ch == nil {
		return nil, nil
	}
	return ch.visible(s.w, c.user.id), nil
}

func (s *Server) listReply(c *call, recs []*record) *yunhupb.ListMessageResponse {
	out := &yunhupb.ListMessageResponse{Total: int64(len(recs))}
	if s.noTotal {
		out.Total = 0
	}
	for _, r := range newestFirst(recs) {
		out.Messages = append(out.Messages, r.toRecord(c.user.id, c.base))
	}
	return out
}

func indexOf(recs []*record, msgID string) int {
	for i, r := range recs {
		if r.msgID == msgID {
			return i
		}
	}
	return -1
}

// listMessage: up to msg_count records strictly older than msg_id, or the
// newest msg_count when msg_id is empty (§2.5.2). An anchor the caller
// cannot see yields an empty list [I].
func (s *Server) listMessage(c *call) (any, error) {
	req := &yunhupb.ListMessageRequest{}
	if err := c.decode(req); err != nil {
		return nil, err
	}
	recs, err := s.historyLocked(c, req.ChatId, req.ChatType)
	if err != nil {
		return nil, err
	}
	if req.MsgId != "" {
		i := indexOf(recs, req.MsgId)
		if i < 0 {
			return s.listReply(c, nil), nil
		}
		recs = recs[:i]
	}
	n := int(req.MsgCount)
	if n <= 0 {
		n = defaultListCount
	}
	n = s.pageSizeLocked(n)
	if len(recs) > n {
		recs = recs[len(recs)-n:]
	}
	return s.listReply(c, recs), nil
}

// listMessageByMidSeq: the anchor plus up to msg_count newer records, so
// msg_count+1 in all (§2.5.3). The anchor is msg_id when set (msg_seq is
// then -1 or 0 and ignored), else msg_seq when positive; without either the
// listing starts at the chat's first message ("seems to return the earliest
// messages", per the SDK). An unknown anchor yields an empty list.
func (s *Server) listMessageByMidSeq(c *call) (any, error) {
	req := &yunhupb.ListMessageByMidSeqRequest{}
	if err := c.decode(req); err != nil {
		return nil, err
	}
	recs, err := s.historyLocked(c, req.ChatId, req.ChatType)
	if err != nil {
		return nil, err
	}
	i := -1
	switch {
	case req.MsgId != "":
		i = indexOf(recs, req.MsgId)
	case req.MsgSeq > 0:
		if j := searchSeq(recs, req.MsgSeq); j < len(recs) && recs[j].seq == req.MsgSeq {
			i = j
		}
	case len(recs) > 0:
		i = 0
	}
	if i < 0 {
		return s.listReply(c, nil), nil
	}
	end := i + 1 + int(max(req.MsgCount, 0))
	return s.listReply(c, recs[i:min(end, len(recs))]), nil
}

// listMessageBySeq: up to 31 records with seq < msg_start, or the newest 31
// when msg_start is 0; the anchor is excluded (§2.5.4). The direction is
// not documented; "older than msg_start" is the reference's belief [I].
func (s *Server) listMessageBySeq(c *call) (any, error) {
	req := &yunhupb.ListMessageBySeqRequest{}
	if err := c.decode(req); err != nil {
		return nil, err
	}
	recs, err := s.historyLocked(c, req.ChatId, req.ChatType)
	if err != nil {
		return nil, err
	}
	if req.MsgStart > 0 {
		recs = recs[:searchSeq(recs, req.MsgStart)]
	}
	if len(recs) > yunhu.BySeqMax {
		recs = recs[len(recs)-yunhu.BySeqMax:]
	}
	return s.listReply(c, recs), nil
}

// picListMessage: image records around the image whose seq is image_id,
// `before` older and `after` newer ones plus the anchor (§2.5.5) [I: only
// the request is documented].
func (s *Server) picListMessage(c *call) (any, error) {
	req := &yunhupb.PicListMessageByMidSeqRequest{}
	if err := c.decode(req); err != nil {
		return nil, err
	}
	recs, err := s.historyLocked(c, req.ChatId, req.ChatType)
	if err != nil {
		return nil, err
	}
	var imgs []*record
	for _, r := range recs {
		if r.contentType == yunhu.ContentImage && r.recallTime == 0 {
			imgs = append(imgs, r)
		}
	}
	i := searchSeq(imgs, req.ImageId)
	if i >= len(imgs) || imgs[i].seq != req.ImageId {
		return s.listReply(c, nil), nil
	}
	lo := max(i-int(max(req.Before, 0)), 0)
	hi := min(i+1+int(max(req.After, 0)), len(imgs))
	return s.listReply(c, imgs[lo:hi]), nil
}
