package wildfire

import (
	"context"
	"fmt"
)

// Robot routes (APIPath.java).
const (
	pathSend           = "/robot/message/send"
	pathProfile        = "/robot/profile"
	pathUserInfo       = "/robot/user_info"
	pathGroupInfo      = "/robot/group/get_info"
	pathGroupMembers   = "/robot/group/member/list"
	pathKickMembers    = "/robot/group/member/del"
	pathQuitGroup      = "/robot/group/member/quit"
	pathModifyGroup    = "/robot/group/modify"
	pathSetAlias       = "/robot/group/member/set_alias"
	pathSetCallback    = "/robot/set_callback"
	pathGetCallback    = "/robot/get_callback"
	pathDeleteCallback = "/robot/delete_callback"
)

// Group modify types of /robot/group/modify.
const (
	ModifyGroupName     = 0
	ModifyGroupPortrait = 1
	ModifyGroupExtra    = 2
	// ModifyGroupMute mutes the whole group with value "1" and lifts it
	// with "0".
	ModifyGroupMute = 3
)

// noArgs is the body of the calls that take no argument. Those routes do
// not read it; {} rather than nothing keeps every request a JSON object,
// since routes that do read a body answer an empty one with HTTP 500.
type noArgs struct{}

// Send posts a message as the robot. The server fills the sender in; it
// is sent anyway, as the server's SDK does.
func (c *Client) Send(ctx context.Context, conv Conversation, p Payload) (SendResult, error) {
	var out SendResult
	err := c.robot(ctx, pathSend, struct {
		Sender  string       `json:"sender"`
		Conv    Conversation `json:"conv"`
		Payload Payload      `json:"payload"`
	}{c.o.RobotID, conv, p}, &out)
	if err != nil {
		return SendResult{}, err
	}
	if out.MessageUID == 0 {
		return SendResult{}, fmt.Errorf("wildfire: %s: answer without messageUid", pathSend)
	}
	return out, nil
}

// Profile returns the robot's own profile. Its Type is always 1 (robot):
// the server's answer (OutputRobot) has no type field.
func (c *Client) Profile(ctx context.Context) (User, error) {
	var out User
	if err := c.robot(ctx, pathProfile, noArgs{}, &out); err != nil {
		return User{}, err
	}
	out.Type = 1
	return out, nil
}

// UserInfo returns a user's profile; ErrNotExist when there is none.
func (c *Client) UserInfo(ctx context.Context, userID string) (User, error) {
	var out User
	if err := c.robot(ctx, pathUserInfo, struct {
		UserID string `json:"userId"`
	}{userID}, &out); err != nil {
		return User{}, err
	}
	return out, nil
}

// GroupInfo returns a group's info. The server does not check that the
// robot is a member.
func (c *Client) GroupInfo(ctx context.Context, groupID string) (Group, error) {
	var out Group
	if err := c.robot(ctx, pathGroupInfo, struct {
		GroupID string `json:"groupId"`
	}{groupID}, &out); err != nil {
		return Group{}, err
	}
	return out, nil
}

// GroupMembers lists a group's members (removed ones left out). The server
// answers an empty list when the robot is not a member.
func (c *Client) GroupMembers(ctx context.Context, groupID string) ([]Member, error) {
	var out struct {
		Members []Member `json:"members"`
	}
	if err := c.robot(ctx, pathGroupMembers, struct {
		GroupID string `json:"groupId"`
	}{groupID}, &out); err != nil {
		return nil, err
	}
	return out.Members, nil
}

// KickMembers removes members from a group.
func (c *Client) KickMembers(ctx context.Context, groupID string, userIDs []string) error {
	return c.robot(ctx, pathKickMembers, struct {
		GroupID string   `json:"group_id"`
		Members []string `json:"members"`
	}{groupID, userIDs}, nil)
}

// QuitGroup makes the robot leave a group.
func (c *Client) QuitGroup(ctx context.Context, groupID string) error {
	return c.robot(ctx, pathQuitGroup, struct {
		GroupID string `json:"group_id"`
	}{groupID}, nil)
}

// ModifyGroup changes one property of a group; typ is one of the
// ModifyGroup constants.
func (c *Client) ModifyGroup(ctx context.Context, groupID string, typ int, value string) error {
	return c.robot(ctx, pathModifyGroup, struct {
		GroupID string `json:"group_id"`
		Type    int    `json:"type"`
		Value   string `json:"value"`
	}{groupID, typ, value}, nil)
}

// SetAlias sets the robot's own alias (group card) in a group.
func (c *Client) SetAlias(ctx context.Context, groupID, alias string) error {
	return c.robot(ctx, pathSetAlias, struct {
		GroupID  string `json:"group_id"`
		MemberID string `json:"memberId"`
		Alias    string `json:"alias"`
	}{groupID, c.o.RobotID, alias}, nil)
}

// SetCallback registers the URL the server POSTs the robot's messages to.
// The server changes a callback only while none is set and answers success
// otherwise without changing it, so the old one is deleted first.
func (c *Client) SetCallback(ctx context.Context, url string) error {
	if err := c.DeleteCallback(ctx); err != nil {
		return err
	}
	return c.robot(ctx, pathSetCallback, struct {
		URL string `json:"url"`
	}{url}, nil)
}

// Callback returns the robot's callback URL, "" when none is set.
func (c *Client) Callback(ctx context.Context) (string, error) {
	var out struct {
		URL string `json:"url"`
	}
	if err := c.robot(ctx, pathGetCallback, noArgs{}, &out); err != nil {
		return "", err
	}
	return out.URL, nil
}

// DeleteCallback removes the robot's callback URL.
func (c *Client) DeleteCallback(ctx context.Context) error {
	return c.robot(ctx, pathDeleteCallback, noArgs{}, nil)
}
