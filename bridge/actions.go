package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// registerActions adds every OneBot action to r: the v11 actions
// (shared/reference/onebot-11/api/public.md) and the go-cqhttp / Shamrock
// ones frameworks call (history, forward, mark read). An action whose
// capability the backend lacks is registered too and answers 1404 naming
// the backend (b.missing), so that a bot learns the reason instead of
// "unknown action"; so is every action the backend lists as Unsupported,
// with the backend's reason. The backend's Extensions come last and may
// replace core actions. get_guild_service_profile stays unregistered on
// purpose: Koishi treats its 1404 as "no guilds" and carries on.
func (b *Bridge) registerActions(r *onebot.Router) {
	actions := b.coreActions()
	if u, ok := b.backend.(platform.Unsupported); ok {
		for name := range u.Unsupported() {
			if _, known := actions[name]; known {
				actions[name] = b.missingAction(name, "")
			}
		}
	}
	if ext, ok := b.backend.(platform.Extensions); ok {
		for name, fn := range ext.Actions(&hostAdapter{b: b}) {
			if name != "" && fn != nil {
				actions[name] = fn
			}
		}
	}
	for name, fn := range actions {
		r.Register(name, fn)
	}
}

// coreActions are the core's actions by name, each bound to the backend's
// capability or to the 1404 for its absence.
func (b *Bridge) coreActions() map[string]onebot.ActionFunc {
	a := map[string]onebot.ActionFunc{
		// Messages (actions_msg.go).
		"send_private_msg": b.sendPrivateMsg,
		"send_group_msg":   b.sendGroupMsg,
		"send_msg":         b.sendMsg,
		"delete_msg":       b.deleteMsg,
		"get_msg":          b.getMsg,
		"clear_msgs":       b.clearMsgs,

		// Account (actions_info.go).
		"get_login_info":   b.getLoginInfo,
		"get_status":       b.getStatus,
		"get_version_info": b.getVersionInfo,
		"can_send_image":   canSend,
		"can_send_record":  canSend,
		"clean_cache":      cleanCache,

		// What no backend offers through the core. A backend that can
		// replaces them with an extension; one that knows better why not
		// says so in Unsupported.
		"get_forward_msg":          b.missingAction("get_forward_msg", "expand merged-forward messages"),
		"send_group_forward_msg":   b.missingAction("send_group_forward_msg", "send forward messages"),
		"send_private_forward_msg": b.missingAction("send_private_forward_msg", "send forward messages"),
		"send_like":                b.missingAction("send_like", "send profile likes"),
		"set_group_anonymous_ban":  b.missingAction("set_group_anonymous_ban", "mute anonymous members"),
		"set_group_anonymous":      b.missingAction("set_group_anonymous", "turn anonymous chat on or off"),
		"set_group_admin":          b.missingAction("set_group_admin", "change group admins"),
		"set_group_special_title":  b.missingAction("set_group_special_title", "set member titles"),
		"get_group_honor_info":     b.missingAction("get_group_honor_info", "list group honours"),
		"get_cookies":              b.missingAction("get_cookies", "hand out web cookies"),
		"get_csrf_token":           b.missingAction("get_csrf_token", "hand out a CSRF token"),
		"get_credentials":          b.missingAction("get_credentials", "hand out web credentials"),

		// The core's own limits, whatever the backend.
		"get_image":   unsupported("the bridge keeps no media files: use the url of the image segment"),
		"get_record":  unsupported("the bridge keeps no media files and converts no audio: use the url of the record segment"),
		"set_restart": unsupported("restart the daemon through its service manager"),
	}
	// capable registers fn under name when the backend has the capability,
	// else the 1404 saying what the backend cannot do.
	capable := func(has bool, name, what string, fn onebot.ActionFunc) {
		if has {
			a[name] = fn
		} else {
			a[name] = b.missingAction(name, what)
		}
	}

	// Messages and history (actions_msg.go, actions_history.go).
	capable(b.reader != nil, "mark_msg_as_read", "mark messages read", b.markMsgAsRead)
	capable(b.editor != nil, "edit_msg", "edit messages", b.editMsg)
	// Without History, history is what the store holds (storedHistory).
	a["get_history_msg"] = b.getHistoryMsg
	a["get_group_msg_history"] = b.getGroupMsgHistory

	// Users and friends (actions_friend.go).
	capable(b.dir != nil, "get_stranger_info", "read user profiles", b.getStrangerInfo)
	capable(b.dir != nil, "get_friend_list", "list friends", b.getFriendList)
	capable(b.friends != nil, "delete_friend", "delete friends", b.deleteFriend)
	capable(b.requests != nil, "set_friend_add_request", "decide requests", b.setFriendAddRequest)

	// Groups (actions_group.go).
	capable(b.dir != nil, "get_group_list", "list groups", b.getGroupList)
	capable(b.dir != nil, "get_group_info", "read group info", b.getGroupInfo)
	capable(b.dir != nil, "get_group_member_list", "list group members", b.getGroupMemberList)
	capable(b.dir != nil, "get_group_member_info", "list group members", b.getGroupMemberInfo)
	capable(b.admin != nil, "set_group_kick", "remove group members", b.setGroupKick)
	capable(b.admin != nil, "set_group_ban", "mute group members", b.setGroupBan)
	capable(b.wholeMute != nil, "set_group_whole_ban", "mute a whole group", b.setGroupWholeBan)
	capable(b.admin != nil, "set_group_name", "rename groups", b.setGroupName)
	capable(b.admin != nil, "set_group_card", "set group cards", b.setGroupCard)
	capable(b.admin != nil, "set_group_leave", "leave groups", b.setGroupLeave)
	capable(b.requests != nil, "set_group_add_request", "decide requests", b.setGroupAddRequest)
	return a
}

// missingAction answers every call with b.missing(name, what): the 1404
// naming the backend, or the backend's own reason when it lists name as
// Unsupported. The name is fixed here rather than taken from the request,
// whose action may carry an _async suffix.
func (b *Bridge) missingAction(name, what string) onebot.ActionFunc {
	return func(context.Context, *onebot.Request) (any, error) {
		return nil, b.missing(name, what)
	}
}

// unsupported answers 1404 with the reason, for every call of an action.
func unsupported(why string) onebot.ActionFunc {
	return func(_ context.Context, req *onebot.Request) (any, error) {
		return nil, onebot.ErrUnsupported(req.Action, why)
	}
}

// unsupportedForm is the 1404 for a form of a supported action that the
// platform cannot do, e.g. set_group_card for another member: the reason
// goes in the message too, since "unsupported action" would be wrong.
func unsupportedForm(action, why string) error {
	return &onebot.ActionError{Retcode: onebot.RetcodeUnknownAction, Msg: action + ": " + why, Wording: why}
}

// platformError turns a failed backend call into the action's failure.
// what says what was being done ("recall message"); "" when the backend's
// text says it all. An *onebot.ActionError the backend built itself is
// passed on as it is.
//
//	*platform.UnsupportedError  1404, its Why as the wording
//	*platform.BadParamError     1400 with its Msg
//	*platform.Error             100 with its Msg (the platform's own words)
//	anything else               100 with the error's text
func platformError(what string, err error) error {
	var ae *onebot.ActionError
	if errors.As(err, &ae) {
		return ae
	}
	var ue *platform.UnsupportedError
	if errors.As(err, &ue) {
		return unsupportedForm(what, ue.Why)
	}
	var bp *platform.BadParamError
	if errors.As(err, &bp) {
		return onebot.ErrBadParams("%s", bp.Msg)
	}
	msg := err.Error()
	var pe *platform.Error
	if errors.As(err, &pe) && pe.Msg != "" {
		msg = pe.Msg
	}
	if what != "" {
		msg = what + ": " + msg
	}
	return onebot.ErrFailed(msg, err)
}

// formError is platformError for an action some forms of which the
// platform may lack: its 1404 names the action, as unsupportedForm does.
func formError(action, what string, err error) error {
	var ue *platform.UnsupportedError
	if errors.As(err, &ue) {
		return unsupportedForm(action, ue.Why)
	}
	return platformError(what, err)
}

// storedMessage returns the record of a message_id the bridge handed out;
// param names the parameter in the 1400 for an unknown one.
func (b *Bridge) storedMessage(id int32, param string) (store.Message, error) {
	rec, err := b.store.Message(id)
	if err == nil && (rec.Unsent || rec.Pending) {
		// A send that failed or has not returned yet: the bot was never
		// given this id.
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return rec, onebot.ErrBadParams("%s: %d is not a known message_id", param, id)
	}
	if err != nil {
		return rec, onebot.ErrFailed("message lookup failed", err)
	}
	return rec, nil
}

// groupConv maps a group_id parameter to its conversation.
func (b *Bridge) groupConv(param string, n int64) (platform.Conv, error) {
	id, err := b.platformID(param, n)
	if err != nil {
		return platform.Conv{}, err
	}
	return platform.Conv{Kind: platform.KindGroup, ID: id}, nil
}

// userConv maps a user_id parameter to the private conversation with
// that user (or bot: telling them apart is the backend's business).
func (b *Bridge) userConv(param string, n int64) (platform.Conv, error) {
	id, err := b.platformID(param, n)
	if err != nil {
		return platform.Conv{}, err
	}
	return platform.Conv{Kind: platform.KindPrivate, ID: id}, nil
}

// decodeGroup decodes the params of an action on one group into p, then
// maps the group_id field that id points at. The field is a pointer so
// that params shared with other actions (sendParams) can leave it out;
// its absence is answered as the router's own required check would.
func (b *Bridge) decodeGroup(req *onebot.Request, p any, id **onebot.Int64) (platform.Conv, error) {
	return decodeConv(req, p, "group_id", id, b.groupConv)
}

// decodeUser is decodeGroup for an action on a private chat, by user_id.
func (b *Bridge) decodeUser(req *onebot.Request, p any, id **onebot.Int64) (platform.Conv, error) {
	return decodeConv(req, p, "user_id", id, b.userConv)
}

// decodeMember is decodeGroup for an action on one member of the group:
// it also maps user_id to the member's platform id. An unknown group is
// reported before an unknown member.
func (b *Bridge) decodeMember(req *onebot.Request, p any, group, user **onebot.Int64) (platform.Conv, string, error) {
	conv, err := b.decodeGroup(req, p, group)
	if err != nil {
		return conv, "", err
	}
	if *user == nil {
		return conv, "", onebot.ErrBadParams("user_id: required")
	}
	userID, err := b.platformID("user_id", int64(**user))
	return conv, userID, err
}

// decodeConv is decodeGroup and decodeUser; param names the id.
func decodeConv(req *onebot.Request, p any, param string, id **onebot.Int64,
	resolve func(string, int64) (platform.Conv, error)) (platform.Conv, error) {
	if err := req.Decode(p); err != nil {
		return platform.Conv{}, err
	}
	if *id == nil {
		return platform.Conv{}, onebot.ErrBadParams("%s: required", param)
	}
	return resolve(param, int64(**id))
}

// missing is the 1404 for an action whose capability the backend lacks:
// the backend's own reason when it gives one (platform.Unsupported), else
// a wording naming the backend and what it cannot do.
func (b *Bridge) missing(action, what string) error {
	if why, ok := b.unsupported[action]; ok {
		return onebot.ErrUnsupported(action, why)
	}
	return onebot.ErrUnsupported(action, fmt.Sprintf("the %s backend cannot %s", b.backend.Name(), what))
}
