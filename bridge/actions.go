package bridge

import (
	"context"
	"errors"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/store"
	"github.com/yunhu-onebot/yunhu-onebot/yunhu"
)

// registerActions adds every OneBot action to r: the v11 actions
// (shared/reference/onebot-11/api/public.md), the go-cqhttp / Shamrock ones
// frameworks call (history, forward, mark read), and Yunhu's extensions
// named in the same style. What Yunhu cannot do is registered too and
// answers 1404 saying why, so that a bot learns the reason instead of
// "unknown action". get_guild_service_profile stays unregistered on
// purpose: Koishi treats its 1404 as "no guilds" and carries on.
func (b *Bridge) registerActions(r *onebot.Router) {
	for name, fn := range map[string]onebot.ActionFunc{
		// Messages (actions_msg.go).
		"send_private_msg": b.sendPrivateMsg,
		"send_group_msg":   b.sendGroupMsg,
		"send_msg":         b.sendMsg,
		"delete_msg":       b.deleteMsg,
		"get_msg":          b.getMsg,
		"mark_msg_as_read": b.markMsgAsRead,
		"clear_msgs":       b.clearMsgs,

		// History and forwarding (actions_history.go).
		"get_history_msg":          b.getHistoryMsg,
		"get_group_msg_history":    b.getGroupMsgHistory,
		"send_group_forward_msg":   b.sendGroupForwardMsg,
		"send_private_forward_msg": b.sendPrivateForwardMsg,

		// Yunhu extensions (actions_yunhu.go).
		"edit_msg":             b.editMsg,
		"delete_msg_batch":     b.deleteMsgBatch,
		"forward_msg":          b.forwardMsg,
		"click_button":         b.clickButton,
		"get_msg_edit_history": b.getMsgEditHistory,

		// Account and friends (actions_info.go, actions_friend.go).
		"get_login_info":         b.getLoginInfo,
		"get_status":             b.getStatus,
		"get_version_info":       b.getVersionInfo,
		"can_send_image":         canSend,
		"can_send_record":        canSend,
		"clean_cache":            cleanCache,
		"get_stranger_info":      b.getStrangerInfo,
		"get_friend_list":        b.getFriendList,
		"set_friend_add_request": b.setFriendAddRequest,

		// Groups (actions_group.go).
		"get_group_list":        b.getGroupList,
		"get_group_info":        b.getGroupInfo,
		"get_group_member_list": b.getGroupMemberList,
		"get_group_member_info": b.getGroupMemberInfo,
		"set_group_kick":        b.setGroupKick,
		"set_group_ban":         b.setGroupBan,
		"set_group_name":        b.setGroupName,
		"set_group_card":        b.setGroupCard,
		"set_group_leave":       b.setGroupLeave,
		"set_group_add_request": b.setGroupAddRequest,

		// What Yunhu cannot do.
		"get_forward_msg":         unsupported("Yunhu has no merged-forward messages: send_*_forward_msg forwards messages one by one and renders custom nodes as one markdown message, so there is no forward id to expand"),
		"send_like":               unsupported("Yunhu has no profile likes"),
		"set_group_whole_ban":     unsupported("Yunhu has no mute-all setting for groups; mute members one by one with set_group_ban"),
		"set_group_anonymous_ban": unsupported("Yunhu has no anonymous members"),
		"set_group_anonymous":     unsupported("Yunhu has no anonymous chat"),
		"set_group_admin":         unsupported("the bridge cannot change admins: the Yunhu call for it (group/manage-setting) is only seen in one client and not implemented"),
		"set_group_special_title": unsupported("Yunhu has no member titles"),
		"get_group_honor_info":    unsupported("Yunhu has no group honours"),
		"get_cookies":             unsupported("Yunhu has no web cookies for bots; the account token is not handed out"),
		"get_csrf_token":          unsupported("Yunhu has no CSRF token"),
		"get_credentials":         unsupported("Yunhu has no web cookies for bots; the account token is not handed out"),
		"get_image":               unsupported("the bridge keeps no media files: use the url of the image segment (Yunhu's CDN wants the Referer http://myapp.jwznb.com)"),
		"get_record":              unsupported("the bridge keeps no media files and converts no audio: use the url of the record segment"),
		"set_restart":             unsupported("restart the daemon through its service manager"),
	} {
		r.Register(name, fn)
	}
}

// unsupported answers 1404 with the reason, for every call of an action.
func unsupported(why string) onebot.ActionFunc {
	return func(_ context.Context, req *onebot.Request) (any, error) {
		return nil, onebot.ErrUnsupported(req.Action, why)
	}
}

// unsupportedForm is the 1404 for a form of a supported action that Yunhu
// cannot do, e.g. set_group_card for another member: the reason goes in
// the message too, since "unsupported action" would be wrong.
func unsupportedForm(action, why string) error {
	return &onebot.ActionError{Retcode: onebot.RetcodeUnknownAction, Msg: action + ": " + why, Wording: why}
}

// platformError turns a failed Yunhu call into the action's failure:
// retcode 100 carrying Yunhu's own explanation when it gave one.
func platformError(what string, err error) error {
	return onebot.ErrFailed(what+": "+yunhuMessage(err), err)
}

// yunhuMessage is the server's text of a Yunhu failure (often Chinese,
// always the most precise), else the error itself.
func yunhuMessage(err error) string {
	var ae *yunhu.APIError
	if errors.As(err, &ae) && ae.Msg != "" {
		return ae.Msg
	}
	return err.Error()
}

// storedMessage returns the record of a message_id the bridge handed out;
// param names the parameter in the 1400 for an unknown one.
func (b *Bridge) storedMessage(id int32, param string) (store.Message, error) {
	rec, err := b.store.Message(id)
	if err == nil && rec.Unsent {
		// A send that failed: the bot was never given this id.
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

// recordChat is the chat a stored message belongs to.
func recordChat(rec store.Message) yunhu.Chat {
	return yunhu.Chat{ID: rec.ChatID, Type: yunhu.ChatType(rec.ChatType)}
}

// groupChat maps a group_id parameter to its chat.
func (b *Bridge) groupChat(param string, n int64) (yunhu.Chat, error) {
	id, err := b.yunhuID(param, n)
	if err != nil {
		return yunhu.Chat{}, err
	}
	return yunhu.Chat{ID: id, Type: yunhu.ChatTypeGroup}, nil
}

// userChat maps a user_id parameter to the private chat with that user or
// bot.
func (b *Bridge) userChat(param string, n int64) (yunhu.Chat, error) {
	id, err := b.yunhuID(param, n)
	if err != nil {
		return yunhu.Chat{}, err
	}
	return b.privateChat(id), nil
}

// decodeGroup decodes the params of an action on one group into p, then
// maps the group_id field that id points at. The field is a pointer so
// that params shared with other actions (sendParams) can leave it out;
// its absence is answered as the router's own required check would.
func (b *Bridge) decodeGroup(req *onebot.Request, p any, id **onebot.Int64) (yunhu.Chat, error) {
	return decodeChat(req, p, "group_id", id, b.groupChat)
}

// decodeUser is decodeGroup for an action on a private chat, by user_id.
func (b *Bridge) decodeUser(req *onebot.Request, p any, id **onebot.Int64) (yunhu.Chat, error) {
	return decodeChat(req, p, "user_id", id, b.userChat)
}

// decodeMember is decodeGroup for an action on one member of the group:
// it also maps user_id to the member's Yunhu id. An unknown group is
// reported before an unknown member.
func (b *Bridge) decodeMember(req *onebot.Request, p any, group, user **onebot.Int64) (yunhu.Chat, string, error) {
	chat, err := b.decodeGroup(req, p, group)
	if err != nil {
		return chat, "", err
	}
	if *user == nil {
		return chat, "", onebot.ErrBadParams("user_id: required")
	}
	userID, err := b.yunhuID("user_id", int64(**user))
	return chat, userID, err
}

// decodeChat is decodeGroup and decodeUser; param names the id.
func decodeChat(req *onebot.Request, p any, param string, id **onebot.Int64,
	resolve func(string, int64) (yunhu.Chat, error)) (yunhu.Chat, error) {
	if err := req.Decode(p); err != nil {
		return yunhu.Chat{}, err
	}
	if *id == nil {
		return yunhu.Chat{}, onebot.ErrBadParams("%s: required", param)
	}
	return resolve(param, int64(**id))
}
