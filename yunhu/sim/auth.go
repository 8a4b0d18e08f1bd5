package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// REST dispatch, token checks and the two reply encodings (§1.3, §1.4).

// Error is a business failure: the simulator answers it with HTTP 200 and a
// non-1 code, as protobuf Status or JSON {code,msg} depending on the
// endpoint. The Go API (Inject, Recall, ...) returns the same values.
type Error struct {
	Code int32
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("yunhu code %d: %s", e.Code, e.Msg) }

func failf(format string, args ...any) *Error {
	return &Error{Code: yunhu.CodeFailed, Msg: fmt.Sprintf(format, args...)}
}

// Error texts. The documented ones come from §1.4 / group.md / friend.md;
// the ones marked [I] are not documented and were chosen for the simulator.
const (
	msgNoPermission   = "您无权操作此群聊，请联系群主或者管理员"
	msgRemoveOwner    = "不可以移除群主！"
	msgNotInGroup     = "该用户不在这个群聊，请重试"
	msgGagOwner       = "不可以禁言群主！"
	msgBadGag         = "禁言时长错误，请重试"
	msgAlreadyAdded   = "您已添加过对方"
	msgBadParams      = "参数错误"       // [I]
	msgSelfNotMember  = "你不在该群聊中"    // [I]
	msgNotFriend      = "对方不是你的好友"   // [I]
	msgBotNotAdded    = "你还没有添加该机器人" // [I]
	msgGagged         = "你已被禁言"      // [I]
	msgLimitedType    = "该群禁止发送此类消息" // [I]
	msgEmptyContent   = "消息内容不能为空"   // [I]
	msgDuplicateID    = "消息ID重复"     // [I]
	msgNoMessage      = "消息不存在"      // [I]
	msgCannotRecall   = "无权撤回该消息"    // [I]
	msgCannotEdit     = "无权编辑该消息"    // [I]
	msgEditKind       = "不支持修改消息类型"  // [I]
	msgEditRecalled   = "消息已撤回"      // [I]
	msgNoRequest      = "申请不存在"      // [I]
	msgRequestDone    = "该申请已处理"     // [I]
	msgOwnerCantLeave = "群主不能退出群聊"   // [I]
)

type encoding int

const (
	encProto encoding = iota // protobuf request and response, field 1 Status
	encJSON                  // JSON request, {code,msg,data} response
)

type authMode int

const (
	authToken    authMode = iota // a known token is required
	authAnyToken                 // any non-empty token (get-user, §3.2)
	authNone                     // no token needed (qiniu-token-audio, sign-in)
)

// route describes one REST endpoint.
type route struct {
	method string
	enc    encoding
	auth   authMode
	fn     func(c *call) (any, error)
}

// call is the context of one REST request. Handlers run with Server.mu
// held, so they may read and change the world freely.
type call struct {
	s     *Server
	r     *http.Request
	body  []byte
	user  *user // nil if the token is unknown (authAnyToken, authNone)
	base  string
	route route
}

// decode unmarshals a protobuf body leniently: unknown fields are kept
// aside, never an error (§1.3).
func (c *call) decode(m proto.Message) error {
	if err := proto.Unmarshal(c.body, m); err != nil {
		return failf("%s", msgBadParams)
	}
	return nil
}

// decodeJSON unmarshals a JSON body; an empty body counts as {}.
func (c *call) decodeJSON(v any) error {
	if len(c.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return failf("%s", msgBadParams)
	}
	return nil
}

func (s *Server) restRoutes() map[string]route {
	p := func(fn func(*call) (any, error)) route {
		return route{method: http.MethodPost, enc: encProto, auth: authToken, fn: fn}
	}
	j := func(fn func(*call) (any, error)) route {
		return route{method: http.MethodPost, enc: encJSON, auth: authToken, fn: fn}
	}
	getJ := func(auth authMode, fn func(*call) (any, error)) route {
		return route{method: http.MethodGet, enc: encJSON, auth: auth, fn: fn}
	}
	getUser := p(s.getUser)
	getUser.auth = authAnyToken
	userInfo := p(s.userInfo)
	userInfo.method = http.MethodGet
	signIn := func(fn func(*call) (any, error)) route {
		return route{method: http.MethodPost, enc: encJSON, auth: authNone, fn: fn}
	}
	return map[string]route{
		yunhu.PathSendMessage:            p(s.sendMessage),
		yunhu.PathEditMessage:            p(s.editMessage),
		yunhu.PathRecallMessage:          p(s.recallMessage),
		yunhu.PathRecallMessageBatch:     p(s.recallMessage),
		yunhu.PathListMessage:            p(s.listMessage),
		yunhu.PathListMessageByMidSeq:    p(s.listMessageByMidSeq),
		yunhu.PathListMessageBySeq:       p(s.listMessageBySeq),
		yunhu.PathPicListMessageByMidSeq: p(s.picListMessage),
		yunhu.PathListMessageEditRecord:  j(s.listEditRecord),
		yunhu.PathButtonReport:           p(s.buttonReport),
		yunhu.PathMessageForward:         j(s.forwardMessage),
		yunhu.PathDeleteMessage:          j(s.deleteMessage),
		yunhu.PathFileDownloadRecord:     j(func(*call) (any, error) { return nil, nil }),

		yunhu.PathEmailLogin:        signIn(s.emailLogin),
		yunhu.PathVerificationLogin: signIn(s.verificationLogin),

		yunhu.PathUserInfo:            userInfo,
		yunhu.PathGetUser:             getUser,
		yunhu.PathAddressBookList:     p(s.addressBook),
		yunhu.PathRequestList:         p(s.requestList),
		yunhu.PathAgreeApply:          j(s.agreeApply),
		pathAgreeInvite:               j(s.agreeApply),
		yunhu.PathApply:               j(s.apply),
		yunhu.PathDeleteFriend:        j(s.deleteFriend),
		yunhu.PathNoNotify:            j(s.noNotify),
		pathDeleteRequest:             j(s.deleteRequest),
		yunhu.PathConversationList:    p(s.conversationList),
		yunhu.PathDismissNotification: j(s.dismissNotification),
		pathConversationDel:           j(s.removeConversation),

		yunhu.PathGroupInfo:         p(s.groupInfo),
		yunhu.PathGroupListMember:   p(s.listMember),
		yunhu.PathGroupRemoveMember: j(s.removeMember),
		yunhu.PathGroupGagMember:    j(s.gagMember),
		yunhu.PathGroupEditGroup:    p(s.editGroup),
		pathEditMyNickname:          j(s.editMyNickname),
		yunhu.PathGroupInvite:       j(s.groupInvite),
		yunhu.PathGroupBotList:      p(s.botList),
		pathMsgTypeLimit:            j(s.msgTypeLimit),

		yunhu.PathQiniuTokenImage: getJ(authToken, s.qiniuToken(yunhu.BucketImage)),
		yunhu.PathQiniuTokenAudio: getJ(authNone, s.qiniuToken(yunhu.BucketAudio)),
		yunhu.PathQiniuTokenFile:  getJ(authToken, s.qiniuToken(yunhu.BucketFile)),
		yunhu.PathQiniuTokenVideo: getJ(authToken, s.qiniuToken(yunhu.BucketVideo)),
		pathQiniuGroupDisk:        getJ(authToken, s.qiniuToken(yunhu.BucketFile)),
		pathConfigure:             getJ(authToken, s.configure),
	}
}

// serveREST answers one /v1 call: 404 for unknown paths and wrong methods
// [I: what the real server does for a wrong method is not documented],
// then the token check, then the handler under the world lock.
func (s *Server) serveREST(w http.ResponseWriter, r *http.Request, entry *Request) {
	rt, ok := s.routes[r.URL.Path]
	if !ok || r.Method != rt.method {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	entry.Body = body
	c := &call{s: s, r: r, body: body, base: s.publicBase(r), route: rt}

	s.mu.Lock()
	defer s.mu.Unlock()
	token := r.Header.Get(yunhu.HeaderToken)
	if u := s.w.tokens[token]; u != nil && token != "" {
		c.user = u
		entry.UserID = u.id
	}
	var res any
	switch {
	case token == "" && rt.auth != authNone:
		// Without a token every endpoint answers JSON, even the protobuf
		// ones: "with a token you get proto, with an empty token you get
		// JSON" (§1.4).
		err = &Error{Code: yunhu.CodeNotLoggedIn, Msg: yunhu.MsgNotLoggedIn}
		c.route.enc = encJSON
	case c.user == nil && rt.auth == authToken:
		// An unknown non-empty token is documented only for JSON endpoints;
		// on protobuf endpoints the reply shape is assumed to be a Status
		// with the same code (§1.4, §8.2 simulator convention) [I].
		err = &Error{Code: yunhu.CodeNotLoggedIn, Msg: yunhu.MsgNotLoggedIn}
	default:
		res, err = rt.fn(c)
	}
	s.writeReply(w, c, res, err, entry)
}

// writeReply encodes a handler's result. Handler errors that are not *Error
// are programming errors and become HTTP 500.
func (s *Server) writeReply(w http.ResponseWriter, c *call, res any, err error, entry *Request) {
	var apiErr *Error
	if err != nil && !errors.As(err, &apiErr) {
		s.log.Error("handler failed", zap.String("path", c.r.URL.Path), zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	code, msg := int32(yunhu.CodeOK), yunhu.MsgSuccess
	if apiErr != nil {
		code, msg = apiErr.Code, apiErr.Msg
	}
	entry.Code, entry.Msg = code, msg
	if c.route.enc == encJSON {
		reply := struct {
			Code int32  `json:"code"`
			Msg  string `json:"msg"`
			Data any    `json:"data,omitempty"`
		}{Code: code, Msg: msg}
		if apiErr == nil && res != nil {
			reply.Data = res
		}
		b, _ := json.Marshal(reply)
		w.Header().Set(yunhu.HeaderContentType, yunhu.ContentTypeJSON+"; charset=utf-8")
		_, _ = w.Write(b)
		return
	}
	st := &yunhupb.Status{RequestId: s.nextRequestIDLocked(), Code: code, Msg: msg}
	var m proto.Message
	if apiErr != nil || res == nil {
		// Every protobuf response has Status at field 1, so a bare
		// StatusResponse decodes as any of them.
		m = &yunhupb.StatusResponse{Status: st}
	} else {
		m = res.(proto.Message)
		setStatus(m, st)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		s.log.Error("marshal reply", zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set(yunhu.HeaderContentType, yunhu.ContentTypeProtobuf)
	_, _ = w.Write(b)
}

// setStatus fills field 1 of a protobuf response.
func setStatus(m proto.Message, st *yunhupb.Status) {
	rm := m.ProtoReflect()
	fd := rm.Descriptor().Fields().ByNumber(1)
	if fd == nil || fd.Message() == nil || fd.Message().FullName() != st.ProtoReflect().Descriptor().FullName() {
		return
	}
	rm.Set(fd, protoreflect.ValueOfMessage(st.ProtoReflect()))
}
