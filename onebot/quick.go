package onebot

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/tidwall/gjson"
	"go.uber.org/zap"
)

// A quick operation (communication/http-post.md, event/message.md and
// event/request.md, "快速操作") is what a webhook answers to an event:
// {"reply": "hi", "ban": true}. It is carried out as ordinary actions,
// with the parameters go-cqhttp builds from the event:
//
//	message  reply   -> send_msg {message_type, user_id|group_id, message, auto_escape}
//	group    delete  -> delete_msg {message_id}
//	         kick    -> set_group_kick {group_id, user_id, reject_add_request}
//	         ban     -> set_group_ban {group_id, user_id, duration}
//	                    (set_group_anonymous_ban {group_id, anonymous_flag, duration} for an anonymous sender)
//	request  approve -> set_friend_add_request {flag, approve, remark}
//	                    set_group_add_request {flag, sub_type, type, approve, reason}
//
// Where go-cqhttp departs from the spec, the spec wins: at_sender defaults
// to true in a group (go-cqhttp: false), and an at_sender reply with
// auto_escape keeps its text literal (go-cqhttp escapes the at too).
type quickCall struct {
	action string
	params json.RawMessage
}

// quickCalls lists the actions for operation op on event ev, in
// go-cqhttp's order: reply, delete, kick, ban, approve.
func quickCalls(ev, op []byte) ([]quickCall, error) {
	if !gjson.ValidBytes(op) || !gjson.ParseBytes(op).IsObject() {
		return nil, ErrBadParams("operation: expected an object")
	}
	e := gjson.ParseBytes(ev)
	o := gjson.ParseBytes(op)
	var calls []quickCall
	add := func(action string, kv ...any) {
		calls = append(calls, quickCall{action, object(kv...)})
	}
	present := func(key string) bool {
		v := o.Get(key)
		return v.Exists() && v.Type != gjson.Null
	}

	switch e.Get("post_type").String() {
	case "message":
		msgType := e.Get("message_type").String()
		anonymous := e.Get("anonymous")
		isAnonymous := anonymous.Exists() && anonymous.Type != gjson.Null
		group := msgType == "group"
		if present("reply") {
			autoEscape := flexBool(o.Get("auto_escape"), false)
			reply := json.RawMessage(o.Get("reply").Raw)
			if group && !isAnonymous && flexBool(o.Get("at_sender"), true) {
				reply, autoEscape = atSender(reply, autoEscape, e.Get("user_id").String())
			}
			switch msgType {
			case "group":
				add("send_msg", "message_type", "group", "group_id", raw(e.Get("group_id")),
					"message", reply, "auto_escape", autoEscape)
			case "private":
				kv := []any{"message_type", "private", "user_id", raw(e.Get("user_id"))}
				if g := e.Get("group_id"); g.Exists() { // temporary session from a group
					kv = append(kv, "group_id", raw(g))
				}
				add("send_msg", append(kv, "message", reply, "auto_escape", autoEscape)...)
			}
		}
		if !group {
			break
		}
		if flexBool(o.Get("delete"), false) {
			add("delete_msg", "message_id", raw(e.Get("message_id")))
		}
		if flexBool(o.Get("kick"), false) && !isAnonymous {
			add("set_group_kick", "group_id", raw(e.Get("group_id")), "user_id", raw(e.Get("user_id")),
				"reject_add_request", flexBool(o.Get("reject_add_request"), false))
		}
		if flexBool(o.Get("ban"), false) {
			duration := json.RawMessage("1800") // 30 minutes (event/message.md)
			if present("ban_duration") {
				duration = raw(o.Get("ban_duration"))
			}
			if isAnonymous {
				add("set_group_anonymous_ban", "group_id", raw(e.Get("group_id")),
					"anonymous_flag", raw(anonymous.Get("flag")), "duration", duration)
			} else {
				add("set_group_ban", "group_id", raw(e.Get("group_id")), "user_id", raw(e.Get("user_id")),
					"duration", duration)
			}
		}
	case "request":
		if !present("approve") {
			break
		}
		approve := flexBool(o.Get("approve"), false)
		switch e.Get("request_type").String() {
		case "friend":
			kv := []any{"flag", raw(e.Get("flag")), "approve", approve}
			if present("remark") {
				kv = append(kv, "remark", raw(o.Get("remark")))
			}
			add("set_friend_add_request", kv...)
		case "group":
			sub := raw(e.Get("sub_type"))
			kv := []any{"flag", raw(e.Get("flag")), "sub_type", sub, "type", sub, "approve", approve}
			if present("reason") {
				kv = append(kv, "reason", raw(o.Get("reason")))
			}
			add("set_group_add_request", kv...)
		}
	}
	return calls, nil
}

// atSender puts an at of the sender (and a space) before reply. A string
// reply with auto_escape becomes an array, so the text stays literal
// while the at is still an at.
func atSender(reply json.RawMessage, autoEscape bool, userID string) (json.RawMessage, bool) {
	at := object("type", "at", "data", object("qq", userID))
	space := object("type", "text", "data", object("text", " "))
	r := gjson.ParseBytes(reply)
	switch {
	case r.Type == gjson.String && !autoEscape:
		s, _ := marshal("[CQ:at,qq=" + userID + "] " + r.String())
		return s, false
	case r.Type == gjson.String:
		text := object("type", "text", "data", object("text", r.String()))
		return array(at, space, text), false
	case r.IsArray():
		out := []json.RawMessage{at, space}
		for _, seg := range r.Array() {
			out = append(out, json.RawMessage(seg.Raw))
		}
		return array(out...), autoEscape
	case r.IsObject():
		return array(at, space, reply), autoEscape
	}
	return reply, autoEscape
}

// flexBool reads a boolean sent loosely (true, 1, "true", "1", "yes").
func flexBool(v gjson.Result, def bool) bool {
	if !v.Exists() || v.Type == gjson.Null {
		return def
	}
	var b Bool
	if err := b.UnmarshalJSON([]byte(v.Raw)); err != nil {
		return def
	}
	return bool(b)
}

// raw is v's JSON text, or null when absent, so ids keep the exact form
// the event carried.
func raw(v gjson.Result) json.RawMessage {
	if !v.Exists() {
		return json.RawMessage("null")
	}
	return json.RawMessage(v.Raw)
}

// object builds a JSON object from alternating keys and values, keeping
// their order; values are json.RawMessage, string or bool.
func object(kv ...any) json.RawMessage {
	b := []byte{'{'}
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, kv[i].(string))
		b = append(b, ':')
		switch v := kv[i+1].(type) {
		case json.RawMessage:
			b = append(b, v...)
		case string:
			b = appendString(b, v)
		case bool:
			b = strconv.AppendBool(b, v)
		}
	}
	return append(b, '}')
}

func array(items ...json.RawMessage) json.RawMessage {
	b := []byte{'['}
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	return append(b, ']')
}

// quickOperation carries out op for event ev through the router; it runs
// every call even when one fails, and returns their failures joined.
func (r *Router) quickOperation(ctx context.Context, ev, op []byte) error {
	calls, err := quickCalls(ev, op)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range calls {
		resp := r.Handle(ctx, c.action, c.params)
		if resp.Status == StatusFailed {
			r.log.Warn("quick operation failed", zap.String("action", c.action),
				zap.Int("retcode", resp.Retcode), zap.String("message", resp.Message))
			errs = append(errs, errors.New(c.action+": "+resp.Message))
		}
	}
	return errors.Join(errs...)
}

// handleQuickOperation is the hidden action .handle_quick_operation
// (api/hidden.md): {"context": event, "operation": quick operation}.
func (r *Router) handleQuickOperation(ctx context.Context, req *Request) (any, error) {
	var p struct {
		Context   json.RawMessage `json:"context" onebot:"required"`
		Operation json.RawMessage `json:"operation" onebot:"required"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, err
	}
	if !gjson.ParseBytes(p.Context).IsObject() {
		return nil, ErrBadParams("context: expected an object")
	}
	if err := r.quickOperation(ctx, p.Context, p.Operation); err != nil {
		var ae *ActionError
		if errors.As(err, &ae) && ae.Retcode == RetcodeBadParams {
			return nil, err
		}
		return nil, ErrFailed("quick operation failed: "+err.Error(), err)
	}
	return nil, nil
}
