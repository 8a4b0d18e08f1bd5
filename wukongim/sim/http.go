package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

type apiHandler func(s *Server, w http.ResponseWriter, r *http.Request)

// routes maps "METHOD path" to its handler. A wrong method on a known path
// is a plain 404 like an unknown path (the real router does not answer 405).
var routes = map[string]apiHandler{
	"POST /user/token":                (*Server).userToken,
	"POST /channel":                   (*Server).channelCreate,
	"POST /channel/subscriber_add":    (*Server).subscriberAdd,
	"POST /channel/subscriber_remove": (*Server).subscriberRemove,
	"POST /channel/blacklist_add":     (*Server).blacklistAdd,
	"POST /channel/blacklist_remove":  (*Server).blacklistRemove,
	"POST /message/send":              (*Server).messageSend,
	"POST /message/sendbatch":         (*Server).messageSendBatch,
	"POST /channel/messagesync":       (*Server).messageSync,
	"GET /channel/max_message_seq":    (*Server).maxMessageSeq,
	"POST /messages":                  (*Server).messagesBySeq,
	"GET /message/byclientmsgno":      (*Server).byClientMsgNo,
	"POST /conversation/sync":         (*Server).conversationSync,
	"POST /message/sync":              (*Server).legacySync,
	"POST /message/syncack":           (*Server).legacySyncAck,
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closed := s.closed
	f := s.takeFaultLocked(r.URL.Path)
	s.mu.Unlock()
	if closed {
		http.Error(w, "wksim: closed", http.StatusServiceUnavailable)
		return
	}
	h := routes[r.Method+" "+r.URL.Path]
	if h == nil {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "404 page not found")
		return
	}
	if f != nil {
		if f.status == http.StatusBadRequest {
			writeBad(w, "wksim: injected failure")
		} else {
			w.WriteHeader(f.status)
		}
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	h(s, w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(marshal(v))
}

type statusBody struct {
	Status int `json:"status"`
}

type errBody struct {
	Msg    string `json:"msg"`
	Status int    `json:"status"`
}

func writeOK(w http.ResponseWriter) { writeJSON(w, http.StatusOK, statusBody{Status: 200}) }

func writeBad(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, errBody{Msg: msg, Status: 400})
}

// decode reads a JSON body the way the real server's binder does (a
// streaming decoder, so a truncated body reads "unexpected EOF") and
// renders type errors with the real server's Go type names, which differ
// from this package's.
func decode(r *http.Request, v any, structName string, typeNames map[string]string) error {
	err := json.NewDecoder(r.Body).Decode(v)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		typ := te.Type.String()
		if n, ok := typeNames[te.Field]; ok {
			typ = n
		}
		return fmt.Errorf("json: cannot unmarshal %s into Go struct field %s.%s of type %s", te.Value, structName, te.Field, typ)
	}
	return err
}

type tokenReq struct {
	UID         string `json:"uid"`
	Token       string `json:"token"`
	DeviceFlag  int    `json:"device_flag"`
	DeviceLevel int    `json:"device_level"`
}

func (s *Server) userToken(w http.ResponseWriter, r *http.Request) {
	var req tokenReq
	if err := decode(r, &req, "UpdateTokenReq", map[string]string{"device_flag": "wkproto.DeviceFlag", "device_level": "wkproto.DeviceLevel"}); err != nil {
		writeBad(w, err.Error())
		return
	}
	if req.UID == "" {
		writeBad(w, "uid不能为空！")
		return
	}
	if req.Token == "" {
		writeBad(w, "token不能为空！")
		return
	}
	s.mu.Lock()
	s.registerTokenLocked(req.UID, req.Token, req.DeviceFlag, req.DeviceLevel)
	s.mu.Unlock()
	writeOK(w)
}

type channelReq struct {
	ChannelID   string   `json:"channel_id"`
	ChannelType uint8    `json:"channel_type"`
	Subscribers []string `json:"subscribers"`
	Reset       int      `json:"reset"`
}

func (s *Server) channelCreate(w http.ResponseWriter, r *http.Request) {
	var req channelReq
	if err := decode(r, &req, "channelCreateReq", nil); err != nil {
		writeBad(w, "数据格式有误！: "+err.Error())
		return
	}
	if req.ChannelID == "" {
		writeBad(w, "频道ID不能为空！")
		return
	}
	if req.ChannelType == 0 {
		writeBad(w, "频道类型错误！")
		return
	}
	s.mu.Lock()
	ch := s.channelLocked(chanKey{req.ChannelID, req.ChannelType}, true)
	for _, uid := range req.Subscribers {
		ch.subscribers[uid] = true
	}
	s.mu.Unlock()
	writeOK(w)
}

func (s *Server) subscriberAdd(w http.ResponseWriter, r *http.Request) {
	s.subscribers(w, r, true)
}

func (s *Server) subscriberRemove(w http.ResponseWriter, r *http.Request) {
	s.subscribers(w, r, false)
}

func (s *Server) subscribers(w http.ResponseWriter, r *http.Request, add bool) {
	var req channelReq
	if err := decode(r, &req, "subscriberAddReq", nil); err != nil {
		writeBad(w, "数据格式有误！: "+err.Error())
		return
	}
	if req.ChannelID == "" {
		writeBad(w, "频道ID不能为空！")
		return
	}
	if len(req.Subscribers) == 0 {
		writeBad(w, "订阅者不能为空！")
		return
	}
	s.mu.Lock()
	// Unknown channels are accepted (observed: 200 on "nope2").
	ch := s.channelLocked(chanKey{req.ChannelID, req.ChannelType}, true)
	if add && req.Reset == 1 {
		ch.subscribers = map[string]bool{}
	}
	for _, uid := range req.Subscribers {
		if add {
			ch.subscribers[uid] = true
		} else {
			delete(ch.subscribers, uid)
		}
	}
	s.mu.Unlock()
	writeOK(w)
}

type blacklistReq struct {
	ChannelID   string   `json:"channel_id"`
	ChannelType uint8    `json:"channel_type"`
	UIDs        []string `json:"uids"`
}

func (s *Server) blacklistAdd(w http.ResponseWriter, r *http.Request) { s.blacklist(w, r, true) }

func (s *Server) blacklistRemove(w http.ResponseWriter, r *http.Request) {
	s.blacklist(w, r, false)
}

func (s *Server) blacklist(w http.ResponseWriter, r *http.Request, add bool) {
	var req blacklistReq
	if err := decode(r, &req, "blacklistReq", nil); err != nil {
		writeBad(w, "数据格式有误！: "+err.Error())
		return
	}
	if req.ChannelID == "" {
		writeBad(w, "频道ID不能为空！")
		return
	}
	if len(req.UIDs) == 0 {
		writeBad(w, "uids不能为空！")
		return
	}
	s.mu.Lock()
	ch := s.channelLocked(chanKey{req.ChannelID, req.ChannelType}, true)
	for _, uid := range req.UIDs {
		if add {
			ch.blacklist[uid] = true
		} else {
			delete(ch.blacklist, uid)
		}
	}
	s.mu.Unlock()
	writeOK(w)
}

type reqHeader struct {
	NoPersist int `json:"no_persist"`
	RedDot    int `json:"red_dot"`
	SyncOnce  int `json:"sync_once"`
}

func (h reqHeader) flags() header {
	return header{NoPersist: h.NoPersist == 1, RedDot: h.RedDot == 1, SyncOnce: h.SyncOnce == 1}
}

type messageSendReq struct {
	Header      reqHeader `json:"header"`
	FromUID     string    `json:"from_uid"`
	ChannelID   string    `json:"channel_id"`
	ChannelType uint8     `json:"channel_type"`
	ClientMsgNo string    `json:"client_msg_no"`
	Payload     []byte    `json:"payload"`
	Subscribers []string  `json:"subscribers"`
}

type sendData struct {
	ClientMsgNo string `json:"client_msg_no"`
	MessageID   int64  `json:"message_id"`
}

type sendResp struct {
	Data   sendData `json:"data"`
	Status int      `json:"status"`
}

func (s *Server) messageSend(w http.ResponseWriter, r *http.Request) {
	var req messageSendReq
	if err := decode(r, &req, "messageSendReq", nil); err != nil {
		writeBad(w, err.Error())
		return
	}
	if len(req.Payload) == 0 {
		writeBad(w, "payload不能为空！")
		return
	}
	if req.ChannelID == "" {
		writeBad(w, "无法处理发送消息请求！")
		return
	}
	cmn := req.ClientMsgNo
	if cmn == "" {
		cmn = genClientMsgNo() + "0"
	}
	s.mu.Lock()
	m := s.storeLocked(sendSpec{
		from: req.FromUID, channelID: req.ChannelID, channelType: req.ChannelType,
		clientMsgNo: cmn, payload: req.Payload, hdr: req.Header.flags(),
	})
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, sendResp{Data: sendData{ClientMsgNo: m.clientMsgNo, MessageID: m.id}, Status: 200})
}

type batchResp struct {
	FailUIDs []string `json:"fail_uids"`
	Reason   []string `json:"reason"`
}

func (s *Server) messageSendBatch(w http.ResponseWriter, r *http.Request) {
	var req messageSendReq
	if err := decode(r, &req, "messageSendBatchReq", nil); err != nil {
		writeBad(w, err.Error())
		return
	}
	if len(req.Subscribers) == 0 {
		writeBad(w, "subscribers不能为空！")
		return
	}
	if len(req.Payload) == 0 {
		writeBad(w, "payload不能为空！")
		return
	}
	s.mu.Lock()
	for _, uid := range req.Subscribers {
		// The given client_msg_no is ignored: each message gets its own.
		s.storeLocked(sendSpec{
			from: req.FromUID, channelID: uid, channelType: 1,
			clientMsgNo: genClientMsgNo() + "0", payload: req.Payload, hdr: req.Header.flags(),
		})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, batchResp{FailUIDs: []string{}, Reason: []string{}})
}

type messageSyncReq struct {
	LoginUID        string `json:"login_uid"`
	ChannelID       string `json:"channel_id"`
	ChannelType     uint8  `json:"channel_type"`
	StartMessageSeq int64  `json:"start_message_seq"`
	EndMessageSeq   int64  `json:"end_message_seq"`
	Limit           int    `json:"limit"`
	PullMode        int    `json:"pull_mode"`
}

// maxSyncLimit bounds one page whatever the request asks.
const maxSyncLimit = 10000

func (s *Server) messageSync(w http.ResponseWriter, r *http.Request) {
	var req messageSyncReq
	if err := decode(r, &req, "", map[string]string{"pull_mode": "api.PullMode"}); err != nil {
		writeBad(w, err.Error())
		return
	}
	if req.LoginUID == "" {
		writeBad(w, "login_uid不能为空！")
		return
	}
	if req.ChannelID == "" {
		writeBad(w, "channel_id不能为空！")
		return
	}
	k := chanKey{req.ChannelID, req.ChannelType}
	if req.ChannelType == 1 {
		k.id = fakeChannelID(req.LoginUID, req.ChannelID)
	}
	limit := min(max(req.Limit, 0), maxSyncLimit)
	s.mu.Lock()
	var msgs []*message
	if ch := s.channels[k]; ch != nil {
		msgs = ch.msgs
	}
	sel, more := window(msgs, req.StartMessageSeq, req.EndMessageSeq, limit, req.PullMode)
	resp := syncResp{StartMessageSeq: req.StartMessageSeq, EndMessageSeq: req.EndMessageSeq, More: b2i(more), Messages: toHTTPList(sel)}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) maxMessageSeq(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id, login := q.Get("channel_id"), q.Get("login_uid")
	typ, _ := strconv.ParseUint(q.Get("channel_type"), 10, 8)
	if id == "" {
		writeBad(w, "channel_id不能为空")
		return
	}
	k := chanKey{id, uint8(typ)}
	if typ == 1 {
		switch {
		case login != "":
			k.id = fakeChannelID(login, id)
		case !strings.Contains(id, "@"):
			writeBad(w, "login_uid不能为空")
			return
		}
	}
	s.mu.Lock()
	ch := s.channels[k]
	var seq int64
	if ch != nil {
		seq = ch.lastSeq
	}
	s.mu.Unlock()
	if ch == nil {
		writeBad(w, "not found")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		MessageSeq int64 `json:"message_seq"`
	}{seq})
}

type messagesReq struct {
	LoginUID    string  `json:"login_uid"`
	ChannelID   string  `json:"channel_id"`
	ChannelType uint8   `json:"channel_type"`
	MessageSeqs []int64 `json:"message_seqs"`
}

func (s *Server) messagesBySeq(w http.ResponseWriter, r *http.Request) {
	var req messagesReq
	if err := decode(r, &req, "messageReq", nil); err != nil {
		writeBad(w, err.Error())
		return
	}
	k := chanKey{req.ChannelID, req.ChannelType}
	if req.ChannelType == 1 {
		// Observed: without login_uid, even the internal id finds nothing.
		k.id = ""
		if req.LoginUID != "" {
			k.id = fakeChannelID(req.LoginUID, req.ChannelID)
		}
	}
	s.mu.Lock()
	out := []*message{}
	if ch := s.channels[k]; ch != nil && len(ch.msgs) > 0 {
		first := ch.msgs[0].seq
		seqs := req.MessageSeqs
		if len(seqs) > maxSyncLimit { // bounds the answer whatever the body holds
			seqs = seqs[:maxSyncLimit]
		}
		for _, seq := range seqs {
			if i := seq - first; i >= 0 && i < int64(len(ch.msgs)) {
				out = append(out, ch.msgs[i])
			}
		}
	}
	resp := syncResp{Messages: make([]httpMessage, 0, len(out))}
	for _, m := range out {
		resp.Messages = append(resp.Messages, toHTTPNoRed(m))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) byClientMsgNo(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id, cmn := q.Get("channel_id"), q.Get("client_msg_no")
	typ, _ := strconv.ParseUint(q.Get("channel_type"), 10, 8)
	if id == "" {
		writeBad(w, "channel_id不能为空")
		return
	}
	if cmn == "" {
		writeBad(w, "client_msg_no不能为空")
		return
	}
	// The channel id is taken literally: a private channel needs the
	// internal "A@B" id, login_uid is not consulted.
	s.mu.Lock()
	var found *message
	if ch := s.channels[chanKey{id, uint8(typ)}]; ch != nil {
		for _, m := range ch.msgs {
			if m.clientMsgNo == cmn {
				found = m
				break
			}
		}
	}
	var resp any = statusBody{Status: 404}
	if found != nil {
		resp = toHTTPNoRed(found)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

type convSyncReq struct {
	UID         string `json:"uid"`
	MsgCount    int    `json:"msg_count"`
	LastMsgSeqs string `json:"last_msg_seqs"`
	OnlyUnread  int    `json:"only_unread"`
	Version     int64  `json:"version"`
}

// maxRecents bounds msg_count.
const maxRecents = 100

func (s *Server) conversationSync(w http.ResponseWriter, r *http.Request) {
	var req convSyncReq
	if err := decode(r, &req, "syncReq", nil); err != nil {
		writeBad(w, err.Error())
		return
	}
	if req.UID == "" {
		w.WriteHeader(http.StatusInternalServerError) // observed: 500, empty body
		return
	}
	// last_msg_seqs "id:type:seq|…": the client already has up to seq.
	known := map[string]int64{}
	for _, part := range strings.Split(req.LastMsgSeqs, "|") {
		f := strings.Split(part, ":")
		if len(f) == 3 {
			seq, _ := strconv.ParseInt(f[2], 10, 64)
			known[f[0]+":"+f[1]] = seq
		}
	}
	count := min(max(req.MsgCount, 0), maxRecents)
	s.mu.Lock()
	var cvs []*conversation
	for _, cv := range s.convs[req.UID] {
		cvs = append(cvs, cv)
	}
	// The real order was not worked out; newest change first is stable.
	sort.Slice(cvs, func(i, j int) bool { return cvs[i].updated > cvs[j].updated })
	out := []convResp{}
	for _, cv := range cvs {
		ch := s.channels[cv.key]
		if ch == nil || len(ch.msgs) == 0 {
			continue
		}
		last := ch.msgs[len(ch.msgs)-1]
		if seq, ok := known[cv.shown+":"+strconv.Itoa(int(cv.typ))]; ok && seq >= last.seq {
			continue
		}
		recents := []httpMessage{}
		for i := len(ch.msgs) - 1; i >= 0 && len(recents) < count; i-- {
			recents = append(recents, toHTTPNoRed(ch.msgs[i]))
		}
		out = append(out, convResp{
			ChannelID: cv.shown, ChannelType: cv.typ, Unread: last.seq - cv.readed,
			Timestamp: last.ts, LastMsgSeq: last.seq, LastClientMsgNo: last.clientMsgNo,
			ReadedToMsgSeq: cv.readed, Version: last.ts * 1e9, Recents: recents,
		})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

type legacySyncReq struct {
	UID            string `json:"uid"`
	MessageSeq     int64  `json:"message_seq"`
	Limit          int    `json:"limit"`
	LastMessageSeq int64  `json:"last_message_seq"`
}

func (s *Server) legacySync(w http.ResponseWriter, r *http.Request) {
	var req legacySyncReq
	if err := decode(r, &req, "syncReq", nil); err != nil {
		writeBad(w, err.Error())
		return
	}
	limit := req.Limit
	if limit <= 0 || limit > maxSyncLimit {
		limit = maxSyncLimit
	}
	s.mu.Lock()
	out := []httpMessage{}
	for _, m := range s.syncOnce[req.UID] {
		if m.seq > req.MessageSeq && len(out) < limit {
			out = append(out, toHTTPNoRed(m))
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// legacySyncAck answers 200 and changes nothing: observed, /message/sync
// kept returning the acked message.
func (s *Server) legacySyncAck(w http.ResponseWriter, r *http.Request) {
	var req legacySyncReq
	if err := decode(r, &req, "syncackReq", nil); err != nil {
		writeBad(w, err.Error())
		return
	}
	writeOK(w)
}
