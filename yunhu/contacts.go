package yunhu

import (
	"context"
	"fmt"
	"net/http"

	"github.com/yunhu-onebot/yunhu-onebot/yunhu/yunhupb"
)

// Self returns the logged-in account's profile (GET /v1/user/info, §3.1).
// Its ID is what the push login and own-message detection need.
func (c *Client) Self(ctx context.Context) (*Self, error) {
	var resp yunhupb.UserInfoResponse
	if err := c.callProto(ctx, http.MethodGet, PathUserInfo, nil, &resp, true); err != nil {
		return nil, fmt.Errorf("user info: %w", err)
	}
	d := resp.GetData()
	if d.GetId() == "" {
		return nil, fmt.Errorf("user info: reply without user id")
	}
	c.mu.Lock()
	c.selfID = d.GetId()
	c.mu.Unlock()
	return &Self{
		ID: d.GetId(), Name: d.GetName(), AvatarURL: d.GetAvatarUrl(), AvatarID: d.GetAvatarId(),
		Phone: d.GetPhone(), Email: d.GetEmail(), Coin: d.GetCoin(), VIP: d.GetIsVip(),
		VIPExpire: secTime(d.GetVipExpiredTime()), InvitationCode: d.GetInvitationCode(),
	}, nil
}

// GetUser returns another user's profile (§3.2).
func (c *Client) GetUser(ctx context.Context, id string) (*User, error) {
	var resp yunhupb.GetUserResponse
	if err := c.callProto(ctx, http.MethodPost, PathGetUser, &yunhupb.GetUserRequest{Id: id}, &resp, true); err != nil {
		return nil, fmt.Errorf("get user %s: %w", id, err)
	}
	d := resp.GetData()
	if d.GetId() == "" {
		return nil, fmt.Errorf("get user %s: %w", id, ErrNotFound)
	}
	u := &User{
		ID: d.GetId(), Name: d.GetName(), NameID: d.GetNameId(), AvatarURL: d.GetAvatarUrl(),
		RegisterTime: d.GetRegisterTime(), OnlineDays: d.GetOnlineDay(), VIP: d.GetIsVip(),
		Remark: d.GetRemarkInfo().GetRemarkName(), Introduction: d.GetProfileInfo().GetIntroduction(),
		Gender: d.GetProfileInfo().GetGender(), Birthday: d.GetProfileInfo().GetBirthday(),
		City: d.GetProfileInfo().GetCity(), IPGeo: d.GetIpGeo(),
	}
	for _, m := range d.GetMedal() {
		u.Medals = append(u.Medals, m.GetName())
	}
	return u, nil
}

// Address-book section names used by servers that leave chat_type unset (§3.3).
var sectionTypes = map[string]ChatType{"用户": ChatTypeUser, "好友": ChatTypeUser, "我加入的群聊": ChatTypeGroup, "机器人": ChatTypeBot}

// AddressBook returns the account's friends, groups and bots (§3.3).
func (c *Client) AddressBook(ctx context.Context) (*AddressBook, error) {
	var resp yunhupb.AddressBookListResponse
	// An md5 that matches nothing asks for the full list.
	if err := c.callProto(ctx, http.MethodPost, PathAddressBookList, &yunhupb.AddressBookListRequest{Md5: "-"}, &resp, true); err != nil {
		return nil, fmt.Errorf("address book: %w", err)
	}
	ab := &AddressBook{MD5: resp.GetMd5()}
	for _, sec := range resp.GetSections() {
		t := ChatType(sec.GetChatType())
		if t == 0 {
			t = sectionTypes[sec.GetListName()]
		}
		for _, e := range sec.GetEntries() {
			ct := Contact{
				ID: e.GetChatId(), Type: t, Name: orDefault(e.GetName(), e.GetRemark()), Remark: e.GetRemark(),
				AvatarURL: e.GetAvatarUrl(), PermissionLevel: e.GetPermissionLevel(), NoDisturb: e.GetNoDisturb(),
			}
			switch t {
			case ChatTypeUser:
				ab.Friends = append(ab.Friends, ct)
			case ChatTypeGroup:
				ab.Groups = append(ab.Groups, ct)
			case ChatTypeBot:
				ab.Bots = append(ab.Bots, ct)
			default:
				c.log.Debug("address book: unknown section skipped")
			}
		}
	}
	return ab, nil
}

// FriendRequests returns the friend / group / bot requests and how many of
// them are pending (§3.4).
func (c *Client) FriendRequests(ctx context.Context) ([]FriendRequest, int, error) {
	var resp yunhupb.RequestListResponse
	if err := c.callProto(ctx, http.MethodPost, PathRequestList, nil, &resp, true); err != nil {
		return nil, 0, fmt.Errorf("request list: %w", err)
	}
	out := make([]FriendRequest, 0, len(resp.GetRequests()))
	for _, r := range resp.GetRequests() {
		out = append(out, FriendRequest{
			ID: int64(r.GetRequestId()), Name: r.GetName(), AvatarURL: r.GetAvatar(),
			InviterID:  orDefault(r.GetInviterId(), r.GetInviterId2()),
			SourceType: ChatType(r.GetSourceType()), TargetType: ChatType(r.GetTargetType()),
			TargetID: r.GetTargetId(), ReceiverID: r.GetReceiverId(), GroupName: r.GetGroupName(),
			BotName: r.GetBotName(), Result: r.GetResult(), InviteTime: secTime(r.GetInviteAt()),
			ProcessedAt: r.GetProcessedAt(), ProcessorName: r.GetProcessorName(), Note: r.GetNote(),
		})
	}
	return out, int(resp.GetPending()), nil
}

// AgreeApply decides request id with AgreeAccept, AgreeReject, ... (§3.5).
func (c *Client) AgreeApply(ctx context.Context, id int64, agree int) error {
	req := struct {
		ID    int64 `json:"id"`
		Agree int   `json:"agree"`
	}{id, agree}
	if err := c.callJSON(ctx, PathAgreeApply, req, nil, false); err != nil {
		return fmt.Errorf("agree apply %d: %w", id, err)
	}
	return nil
}

// Apply asks to add a friend (ChatTypeUser), join a group (ChatTypeGroup) or
// add a bot (ChatTypeBot), with a note for the approver (§3.5). The server
// answers code -9 when already added.
func (c *Client) Apply(ctx context.Context, chat Chat, note string) error {
	req := struct {
		ChatID   string `json:"chatId"`
		ChatType int32  `json:"chatType"`
		Remark   string `json:"remark"`
	}{chat.ID, int32(chat.Type), note}
	if err := c.callJSON(ctx, PathApply, req, nil, false); err != nil {
		return fmt.Errorf("apply to %s %s: %w", chat.Type, chat.ID, err)
	}
	return nil
}

// DeleteFriend removes a friend (ChatTypeUser), leaves a group
// (ChatTypeGroup) or removes a bot (ChatTypeBot) (§3.5).
func (c *Client) DeleteFriend(ctx context.Context, chat Chat) error {
	req := struct {
		ChatID   string `json:"chatId"`
		ChatType int32  `json:"chatType"`
	}{chat.ID, int32(chat.Type)}
	if err := c.callJSON(ctx, PathDeleteFriend, req, nil, false); err != nil {
		return fmt.Errorf("delete %s %s: %w", chat.Type, chat.ID, err)
	}
	return nil
}

// Conversations returns the conversation list (§3.6).
func (c *Client) Conversations(ctx context.Context) ([]Conversation, error) {
	var resp yunhupb.ConversationListResponse
	if err := c.callProto(ctx, http.MethodPost, PathConversationList, nil, &resp, true); err != nil {
		return nil, fmt.Errorf("conversation list: %w", err)
	}
	out := make([]Conversation, 0, len(resp.GetConversations()))
	for _, d := range resp.GetConversations() {
		out = append(out, Conversation{
			Chat: Chat{ID: d.GetChatId(), Type: ChatType(d.GetChatType())},
			Name: d.GetRemark(), RealName: d.GetName(), Preview: d.GetChatContent(),
			Time: msTime(d.GetTimestampMs()), Unread: d.GetUnreadMsg(), At: d.GetAt(),
			AvatarURL: d.GetAvatarUrl(), DoNotDisturb: d.GetDoNotDisturb(),
		})
	}
	return out, nil
}

// DismissNotification marks a conversation read (§3.7).
func (c *Client) DismissNotification(ctx context.Context, chatID string) error {
	req := struct {
		ChatID string `json:"chatId"`
	}{chatID}
	if err := c.callJSON(ctx, PathDismissNotification, req, nil, false); err != nil {
		return fmt.Errorf("dismiss notification of %s: %w", chatID, err)
	}
	return nil
}
