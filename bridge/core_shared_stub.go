package bridge

// The actions, media.go and host.go use these names from the rest of the
// core (bridge.go, ids.go, events.go, members.go, msglog.go), beyond the
// shared list of the platform seam. Each is listed with the signature the
// callers assume; nothing is declared here.
//
//	b.backend platform.Backend; b.history, b.dir, b.admin, b.requests,
//	    b.friends, b.editor, b.reader: the capabilities, nil when missing
//	b.missing(action, what string) error
//	b.opts Options (IgnoreInvalidCQCode, MaxMediaBytes, FetchTimeout,
//	    Version, PostFormat); b.store *store.Store; b.log *zap.Logger;
//	    b.now func() time.Time; b.media *mediaRules
//	b.login(ctx context.Context) error    — error text starts "log in: "
//	b.Status() (online, good bool)
//	b.identity() *identity{ID, Number, Name}; b.self() string
//	b.oneBotID(ctx context.Context, platformID string) (int64, error)
//	b.platformID(param string, n int64) (string, error) — 1400s naming param
//	convKey(platform.Conv) string; recordConv(store.Message) platform.Conv
//	b.members.lookup(ctx, groupID, userID string) (memberInfo, bool)
//	b.members.fill(groupID string, list []platform.Member)
//	memberInfo{role platform.Role; name, card, title string}
//	b.ownRecalls.add(now time.Time, msgIDs []string) (undo func())
//	b.logSent(conv platform.Conv, id int32, msg segment.Message)
//	b.format(segment.Message) formatted{post json.RawMessage; raw string}
//	groupSender, privateSender (events.go, as today)
//	messagePrivate, messageGroup, sexUnknown (events.go constants)
//
// Defined here in the actions and used by the rest, should it need them:
// storedMessage, platformError, unsupportedForm, groupConv, userConv,
// decodeGroup, decodeUser, decodeMember, resolveConv, ensureLogin,
// toOneBot, toPlatform, decodeContent, recordOf, mapHistory, sendMessage,
// prepareEncode, partsKey, maxRecordBody, logInvalidCQ, clipParam,
// loadMedia, hostAdapter.
