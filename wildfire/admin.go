package wildfire

import (
	"context"
	"fmt"
)

// Admin routes (APIPath.java).
const (
	pathRecall     = "/admin/message/recall"
	pathGetMessage = "/admin/message/get_one"
	pathFriendList = "/admin/friend/list"
	pathGroupsOf   = "/admin/group/of_user"
)

// Recall recalls a message as operator, with no time limit. Its result (the
// recalled content, or "" when it was already recalled) is not needed.
func (c *Client) Recall(ctx context.Context, operator string, messageUID int64) error {
	return c.admin(ctx, pathRecall, struct {
		Operator   string `json:"operator"`
		MessageUID int64  `json:"messageUid"`
	}{operator, messageUID}, nil)
}

// GetMessage returns a stored message; ErrNotExist when there is none.
func (c *Client) GetMessage(ctx context.Context, messageUID int64) (Message, error) {
	var w wireMessage
	if err := c.admin(ctx, pathGetMessage, struct {
		MessageUID int64 `json:"messageUid"`
	}{messageUID}, &w); err != nil {
		return Message{}, err
	}
	m, err := w.message()
	if err != nil {
		return Message{}, fmt.Errorf("wildfire: %s: %w", pathGetMessage, err)
	}
	return m, nil
}

// FriendIDs lists the ids of a user's friends.
func (c *Client) FriendIDs(ctx context.Context, userID string) ([]string, error) {
	var out struct {
		List []string `json:"list"`
	}
	if err := c.admin(ctx, pathFriendList, struct {
		UserID string `json:"userId"`
	}{userID}, &out); err != nil {
		return nil, err
	}
	return out.List, nil
}

// GroupIDsOf lists the ids of the groups a user is in.
func (c *Client) GroupIDsOf(ctx context.Context, userID string) ([]string, error) {
	var out struct {
		GroupIDs []string `json:"groupIds"`
	}
	if err := c.admin(ctx, pathGroupsOf, struct {
		UserID string `json:"userId"`
	}{userID}, &out); err != nil {
		return nil, err
	}
	return out.GroupIDs, nil
}
