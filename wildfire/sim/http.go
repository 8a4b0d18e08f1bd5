package sim

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// answer is what one request gets.
type answer struct {
	status int
	body   []byte
	close  bool // the server closes the connection after an exception
}

func okAnswer(result any) answer {
	return answer{status: http.StatusOK, body: marshal(envelope{Code: 0, Msg: "success", Result: result})}
}

func codeAnswer(code int) answer {
	return answer{status: http.StatusOK, body: marshal(envelope{Code: code, Msg: CodeMessage(code)})}
}

// nestedAnswer is the shape of a failed signature check: the envelope
// repeated as the result.
func nestedAnswer(code int) answer {
	inner := envelope{Code: code, Msg: CodeMessage(code)}
	return answer{status: http.StatusOK, body: marshal(envelope{Code: code, Msg: CodeMessage(code), Result: inner})}
}

// crash is an exception escaping an action: HTTP 500 with the exception's
// text and the connection closed.
func crash(text string) answer {
	return answer{status: http.StatusInternalServerError, body: []byte(text), close: true}
}

const npe = "java.lang.NullPointerException"

// request is one API call being served.
type request struct {
	body  []byte
	robot *robot // the authenticated robot, for robot routes
}

type handlerFunc func(s *Server, rq *request) answer

// decode reads the body as Gson does: empty, blank or "null" is a null
// object (present false); malformed JSON is an exception (HTTP 500).
func decode(body []byte, v any) (present bool, crashed *answer) {
	t := bytes.TrimSpace(body)
	if len(t) == 0 || string(t) == "null" {
		return false, nil
	}
	if err := json.Unmarshal(t, v); err != nil {
		a := crash("com.google.gson.JsonSyntaxException: " + err.Error())
		return false, &a
	}
	return true, nil
}

var robotRoutes = map[string]handlerFunc{
	"/robot/message/send":           robotSend,
	"/robot/profile":                robotProfile,
	"/robot/user_info":              robotUserInfo,
	"/robot/set_callback":           robotSetCallback,
	"/robot/get_callback":           robotGetCallback,
	"/robot/delete_callback":        robotDeleteCallback,
	"/robot/group/get_info":         robotGroupInfo,
	"/robot/group/member/list":      robotMemberList,
	"/robot/group/member/get":       robotMemberGet,
	"/robot/group/member/del":       robotKick,
	"/robot/group/member/quit":      robotQuit,
	"/robot/group/modify":           robotModify,
	"/robot/group/member/set_alias": robotSetAlias,
}

var adminRoutes = map[string]handlerFunc{
	"/admin/message/send":    adminSend,
	"/admin/message/recall":  adminRecall,
	"/admin/message/get_one": adminGetOne,
	"/admin/friend/list":     adminFriendList,
	"/admin/group/of_user":   adminGroupsOf,
	"/admin/user/get_info":   adminUserInfo,
	"/admin/robot/create":    adminCreateRobot,
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, admin bool) {
	a := s.handle(r, admin)
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("Content-Encoding", "utf-8")
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	if a.close {
		h.Set("Connection", "close")
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

func (s *Server) handle(r *http.Request, admin bool) answer {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return answer{status: http.StatusServiceUnavailable}
	}
	if r.Method == http.MethodHead {
		return answer{status: http.StatusOK}
	}
	path := r.URL.Path
	var h handlerFunc
	if admin && strings.HasPrefix(path, "/admin") {
		h = adminRoutes[path]
	} else if !admin && path != "" && !strings.HasPrefix(path, "/admin") {
		h = robotRoutes[path]
	}
	if h == nil || r.Method != http.MethodPost {
		// Unknown paths, the declared-but-unrouted ones and other methods
		// all reach the error action: 500, no body.
		return answer{status: http.StatusInternalServerError}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return crash("io.netty.handler.codec.TooLongFrameException")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.takeFaultLocked(path); f != nil {
		if f.httpStatus != 0 {
			return answer{status: f.httpStatus}
		}
		return codeAnswer(f.code)
	}
	rq := &request{body: body}
	var code int
	if admin {
		code = s.adminAuthLocked(r)
	} else {
		rq.robot, code = s.robotAuthLocked(r)
	}
	if code != CodeSuccess {
		return nestedAnswer(code)
	}
	return h(s, rq)
}

func header(r *http.Request, name string) string {
	// Header.Get canonicalises, so "nonce" and "Nonce" are both found.
	return r.Header.Get(name)
}

// Sign is the server's signature: sha1_hex(nonce|secret|timestamp).
func Sign(nonce, secret string, timestampMillis int64) string {
	sum := sha1.Sum([]byte(nonce + "|" + secret + "|" + strconv.FormatInt(timestampMillis, 10)))
	return hex.EncodeToString(sum[:])
}

func sign(nonce, secret, timestamp string) string {
	sum := sha1.Sum([]byte(nonce + "|" + secret + "|" + timestamp))
	return hex.EncodeToString(sum[:])
}

// robotAuthLocked is RobotAction.preAction, in its order: headers, rate,
// timestamp, window, robot, secret, signature.
func (s *Server) robotAuthLocked(r *http.Request) (*robot, int) {
	nonce, ts, sg, rid := header(r, "nonce"), header(r, "timestamp"), header(r, "sign"), header(r, "rid")
	if nonce == "" || ts == "" || sg == "" || rid == "" {
		return nil, CodeNotSigned
	}
	now := s.nowMs()
	if !s.robotLimit.grant(rid, now) {
		return nil, CodeOverFrequency
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, CodeNotSigned
	}
	if now-t > signWindow.Milliseconds() {
		return nil, CodeSignExpired
	}
	rb := s.robots[rid]
	if rb == nil {
		return nil, CodeNotExist
	}
	if rb.secret == "" {
		return nil, CodeNoRight
	}
	// The server signs the timestamp as received, not as parsed.
	if sign(nonce, rb.secret, ts) != sg {
		return nil, CodeAuthFailure
	}
	return rb, CodeSuccess
}

// adminAuthLocked is AdminAction.preAction: the rate limit for all admin
// callers first, then headers, timestamp, window (unless NoCheckTime) and
// signature.
func (s *Server) adminAuthLocked(r *http.Request) int {
	now := s.nowMs()
	if !s.adminLimit.grant("admin", now) {
		return CodeOverFrequency
	}
	nonce, ts, sg := header(r, "nonce"), header(r, "timestamp"), header(r, "sign")
	if nonce == "" || ts == "" || sg == "" {
		return CodeNotSigned
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return CodeNotSigned
	}
	if !s.opts.NoCheckTime && now-t > signWindow.Milliseconds() {
		return CodeSignExpired
	}
	if sign(nonce, s.opts.AdminSecret, ts) != sg {
		return CodeAuthFailure
	}
	return CodeSuccess
}

// sendInput is SendMessageData.
type sendInput struct {
	Sender  string        `json:"sender"`
	Conv    *Conversation `json:"conv"`
	Payload *Payload      `json:"payload"`
	ToUsers []string      `json:"toUsers"`
}

func validSend(in *sendInput) bool {
	return in.Conv != nil && in.Conv.Type >= 0 && in.Conv.Type <= 6 && in.Conv.Target != "" && in.Sender != "" && in.Payload != nil
}

type sendResult struct {
	MessageUID int64 `json:"messageUid"`
	Timestamp  int64 `json:"timestamp"`
}

func (s *Server) doSend(in *sendInput, admin bool) answer {
	if in.Conv.Type > 1 {
		// Chatrooms, channels, things and secret chats are not modelled.
		return codeAnswer(CodeNotExist)
	}
	p, err := normalisePayload(*in.Payload)
	if err != nil {
		return crash(err.Error())
	}
	m, code := s.sendLocked(in.Sender, *in.Conv, p, in.ToUsers, admin)
	if code != CodeSuccess {
		return codeAnswer(code)
	}
	return okAnswer(sendResult{MessageUID: m.ID, Timestamp: m.Timestamp})
}

func robotSend(s *Server, rq *request) answer {
	var in sendInput
	present, c := decode(rq.body, &in)
	if c != nil {
		return *c
	}
	if !present {
		return crash(npe) // setSender on a null body
	}
	in.Sender = rq.robot.id
	if !validSend(&in) {
		return codeAnswer(CodeInvalidParam)
	}
	return s.doSend(&in, false)
}

func adminSend(s *Server, rq *request) answer {
	var in sendInput
	present, c := decode(rq.body, &in)
	if c != nil {
		return *c
	}
	if !present || !validSend(&in) {
		return codeAnswer(CodeInvalidParam)
	}
	return s.doSend(&in, true)
}

// outputRobot is OutputRobot as /robot/profile answers it (no password, no
// secret).
type outputRobot struct {
	UserID      string `json:"userId"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Portrait    string `json:"portrait"`
	Gender      int    `json:"gender"`
	Mobile      string `json:"mobile"`
	Email       string `json:"email"`
	Address     string `json:"address"`
	Company     string `json:"company"`
	Social      string `json:"social"`
	Extra       string `json:"extra"`
	UpdateDt    int64  `json:"updateDt"`
	Owner       string `json:"owner"`
	Callback    string `json:"callback"`
	RobotExtra  string `json:"robotExtra"`
}

func robotProfile(s *Server, rq *request) answer {
	u := s.users[rq.robot.id]
	if u == nil {
		return codeAnswer(CodeNotExist)
	}
	return okAnswer(outputRobot{
		UserID: u.id, Name: u.name, DisplayName: u.displayName, Portrait: u.portrait, Mobile: u.mobile,
		Extra: u.extra, UpdateDt: u.updateDt, Owner: rq.robot.owner, Callback: rq.robot.callback, RobotExtra: rq.robot.extra,
	})
}

// userInfo is InputOutputUserInfo (no password).
type userInfo struct {
	UserID      string `json:"userId"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Portrait    string `json:"portrait"`
	Gender      int    `json:"gender"`
	Mobile      string `json:"mobile"`
	Email       string `json:"email"`
	Address     string `json:"address"`
	Company     string `json:"company"`
	Social      string `json:"social"`
	Extra       string `json:"extra"`
	Type        int    `json:"type"`
	UpdateDt    int64  `json:"updateDt"`
}

func userInfoAnswer(s *Server, body []byte) answer {
	var in struct {
		UserID string `json:"userId"`
		Name   string `json:"name"`
		Mobile string `json:"mobile"`
	}
	present, c := decode(body, &in)
	if c != nil {
		return *c
	}
	if !present || (in.UserID == "" && in.Name == "" && in.Mobile == "") {
		return codeAnswer(CodeInvalidParam)
	}
	u := s.userByLocked(in.UserID, in.Name, in.Mobile)
	if u == nil {
		return codeAnswer(CodeNotExist)
	}
	return okAnswer(userInfo{
		UserID: u.id, Name: u.name, DisplayName: u.displayName, Portrait: u.portrait, Mobile: u.mobile,
		Extra: u.extra, Type: u.typ, UpdateDt: u.updateDt,
	})
}

func robotUserInfo(s *Server, rq *request) answer { return userInfoAnswer(s, rq.body) }
func adminUserInfo(s *Server, rq *request) answer { return userInfoAnswer(s, rq.body) }

type callbackBody struct {
	URL *string `json:"url"`
}

// robotSetCallback has the server's quirk: the URL changes only when it
// differs and the robot's state is not 1; a change sets state 1, so later
// changes answer success and do nothing until delete_callback.
func robotSetCallback(s *Server, rq *request) answer {
	var in callbackBody
	present, c := decode(rq.body, &in)
	if c != nil {
		return *c
	}
	if !present {
		return crash(npe)
	}
	if in.URL == nil || *in.URL == "" {
		return codeAnswer(CodeInvalidParam)
	}
	if *in.URL != rq.robot.callback && rq.robot.state != 1 {
		rq.robot.callback = *in.URL
		rq.robot.state = 1
		s.notifyLocked()
	}
	return okAnswer(nil)
}

func robotGetCallback(s *Server, rq *request) answer {
	return okAnswer(struct {
		URL string `json:"url"`
	}{rq.robot.callback})
}

func robotDeleteCallback(s *Server, rq *request) answer {
	if rq.robot.callback != "" {
		rq.robot.callback = ""
		rq.robot.state = 0
		s.notifyLocked()
	}
	return okAnswer(nil)
}

// pojoGroupInfo is PojoGroupInfo as the robot get_info fills it
// (max_member_count, history_message and super_group left at zero).
type pojoGroupInfo struct {
	TargetID       string `json:"target_id"`
	Name           string `json:"name"`
	Portrait       string `json:"portrait"`
	Owner          string `json:"owner"`
	Type           int    `json:"type"`
	Extra          string `json:"extra"`
	Mute           int    `json:"mute"`
	JoinType       int    `json:"join_type"`
	PrivateChat    int    `json:"private_chat"`
	Searchable     int    `json:"searchable"`
	MaxMemberCount int    `json:"max_member_count"`
	HistoryMessage int    `json:"history_message"`
	SuperGroup     bool   `json:"super_group"`
}

type groupIDInput struct {
	GroupID  string `json:"groupId"`
	MemberID string `json:"memberId"`
}

// robotGroupInfo has no membership check.
func robotGroupInfo(s *Server, rq *request) answer {
	var in groupIDInput
	present, c := decode(rq.body, &in)
	if c != nil {
		return *c
	}
	if !present || in.GroupID == "" {
		return codeAnswer(CodeInvalidParam)
	}
	g := s.groups[in.GroupID]
	if g == nil {
		return codeAnswer(CodeNotExist)
	}
	return okAnswer(pojoGroupInfo{
		TargetID: g.id, Name: g.name, Portrait: g.portrait, Owner: g.owner, Type: g.typ, Extra: g.extra,
		Mute: g.mute, JoinType: g.joinType, PrivateChat: g.privateChat, Searchable: g.searchable,
	})
}

type pojoMember struct {
	MemberID string `json:"member_id"`
	Alias    string `json:"alias"`
	Type     int    `json:"type"`
	Extra    string `json:"extra"`
	CreateDt int64  `json:"createDt"`
}

func toPojoMember(m *member) pojoMember {
	return pojoMember{MemberID: m.id, Alias: m.alias, Type: m.typ, Extra: m.extra, CreateDt: m.createDt}
}

// robotMemberList answers an empty list, code 0, when the robot is not a
// member.
func robotMemberList(s *Server, rq *request) answer {
	var in groupIDInput
	present, c := decode(rq.body, &in)
	if c != nil {
		return *c
	}
	if !present || in.GroupID == "" {
		return codeAnswer(CodeInvalidParam)
	}
	g := s.groups[in.GroupID]
	if g == nil {
		return codeAnswer(CodeNotExist)
	}
	out := []pojoMember{}
	inGroup := false
	for _, m := range g.members {
		if m.typ == MemberRemoved {
			continue
		}
		if m.id == rq.robot.id {
			inGroup = true
		}
		out = append(out, toPojoMember(m))
	}
	if !inGroup {
		out = []pojoMember{}
	}
	return okAnswer(struct {
		Members []pojoMember `json:"members"`
	}{out})
}

// robotMemberGet answers 9 when the robot is not a member.
func robotMemberGet(s *Server, rq *request) answer {
	var in groupIDInput
	present, c := decode(rq.body, &in)
	if c != nil {
		return *c
	}
	if !present || in.GroupID == "" || in.MemberID == "" {
		return codeAnswer(CodeInvalidParam)
	}
	g := s.groups[in.GroupID]
	if g == nil {
		return codeAnswer(CodeNotExist)
	}
	self := g.member(rq.robot.id)
	if self == nil || self.typ == MemberRemoved {
		return codeAnswer(CodeNotInGroup)
	}
	m := g.member(in.MemberID)
	if m == nil || m.typ == MemberRemoved {
		return codeAnswer(CodeNotExist)
	}
	return okAnswer(toPojoMember(m))
}

// groupOpInput is InputGroupBase and its subclasses. A custom
// notify_message is not modelled (robots may not send one by default).
type groupOpInput struct {
	GroupID  *string  `json:"group_id"`
	Members  []string `json:"members"`
	Type     int      `json:"type"`
	Value    *string  `json:"value"`
	MemberID *string  `json:"memberId"`
	Alias    string   `json:"alias"`
	ToLines  []int    `json:"to_lines"`
}

func groupOp(rq *request) (*groupOpInput, *answer) {
	var in groupOpInput
	present, c := decode(rq.body, &in)
	if c != nil {
		return nil, c
	}
	if !present {
		a := crash(npe) // setOperator on a null body
		return nil, &a
	}
	return &in, nil
}

func opAnswer(code int) answer {
	if code == CodeSuccess {
		return okAnswer(nil)
	}
	return codeAnswer(code)
}

func robotKick(s *Server, rq *request) answer {
	in, a := groupOp(rq)
	if a != nil {
		return *a
	}
	if in.GroupID == nil || *in.GroupID == "" || len(in.Members) == 0 {
		return codeAnswer(CodeInvalidParam)
	}
	return opAnswer(s.kickLocked(rq.robot.id, *in.GroupID, in.Members, false))
}

func robotQuit(s *Server, rq *request) answer {
	in, a := groupOp(rq)
	if a != nil {
		return *a
	}
	if in.GroupID == nil || *in.GroupID == "" {
		return codeAnswer(CodeInvalidParam)
	}
	return opAnswer(s.quitLocked(rq.robot.id, *in.GroupID, false))
}

func robotModify(s *Server, rq *request) answer {
	in, a := groupOp(rq)
	if a != nil {
		return *a
	}
	if in.GroupID == nil || *in.GroupID == "" {
		return codeAnswer(CodeInvalidParam)
	}
	value := ""
	if in.Value != nil {
		value = *in.Value
	}
	return opAnswer(s.modifyLocked(rq.robot.id, *in.GroupID, in.Type, value, false))
}

// robotSetAlias validates nothing: a missing group_id or memberId reaches
// the protobuf builder as null and throws.
func robotSetAlias(s *Server, rq *request) answer {
	in, a := groupOp(rq)
	if a != nil {
		return *a
	}
	if in.GroupID == nil || in.MemberID == nil {
		return crash(npe)
	}
	return opAnswer(s.aliasLocked(rq.robot.id, *in.GroupID, *in.MemberID, in.Alias, false))
}

// adminRecall answers the recalled-content summary as a JSON string
// result ("" when the message was already recalled).
func adminRecall(s *Server, rq *request) answer {
	var in struct {
		Operator   string `json:"operator"`
		MessageUID int64  `json:"messageUid"`
	}
	present, c := decode(rq.body, &in)
	if c != nil {
		return *c
	}
	if !present || in.Operator == "" {
		return codeAnswer(CodeInvalidParam)
	}
	res, code := s.recallLocked(in.Operator, in.MessageUID, true)
	if code != CodeSuccess {
		return codeAnswer(code)
	}
	return okAnswer(res)
}

func adminGetOne(s *Server, rq *request) answer {
	var in struct {
		MessageUID int64 `json:"messageUid"`
	}
	present, c := decode(rq.body, &in)
	if c != nil {
		return *c
	}
	if !present || in.MessageUID <= 0 {
		return codeAnswer(CodeInvalidParam)
	}
	m := s.msgs[in.MessageUID]
	if m == nil {
		return codeAnswer(CodeNotExist)
	}
	return okAnswer(toOutput(m))
}

// adminFriendList reads the body without a null check: an empty body
// throws.
func adminFriendList(s *Server, rq *request) answer {
	var in struct {
		UserID string `json:"userId"`
	}
	present, c := decode(rq.body, &in)
	if c != nil {
		return *c
	}
	if !present {
		return crash(npe)
	}
	list := []string{}
	for _, f := range s.friends[in.UserID] {
		list = append(list, f.id)
	}
	return okAnswer(struct {
		List []string `json:"list"`
	}{list})
}

func adminGroupsOf(s *Server, rq *request) answer {
	var in struct {
		UserID string `json:"userId"`
	}
	present, c := decode(rq.body, &in)
	if c != nil {
		return *c
	}
	if !present || in.UserID == "" {
		return codeAnswer(CodeInvalidParam)
	}
	return okAnswer(struct {
		GroupIDs []string `json:"groupIds"`
	}{s.groupsOfLocked(in.UserID)})
}

func adminCreateRobot(s *Server, rq *request) answer {
	var in struct {
		UserID   string `json:"userId"`
		Name     string `json:"name"`
		Owner    string `json:"owner"`
		Secret   string `json:"secret"`
		Callback string `json:"callback"`
	}
	present, c := decode(rq.body, &in)
	if c != nil {
		return *c
	}
	if !present || in.Name == "" {
		return codeAnswer(CodeInvalidParam)
	}
	if in.UserID == "" {
		s.robotSeq++
		in.UserID = "robot" + strconv.FormatInt(s.robotSeq, 36)
	}
	if in.Owner == "" {
		in.Owner = in.UserID
	}
	if in.Secret == "" {
		in.Secret = Sign("secret", in.UserID, s.now().UnixNano())[:16]
	}
	s.addRobotLocked(in.UserID, in.Name, in.Secret, in.Owner, in.Callback)
	s.log.Debug("robot created", zap.String("id", in.UserID))
	return okAnswer(struct {
		UserID string `json:"userId"`
		Secret string `json:"secret"`
	}{in.UserID, in.Secret})
}
