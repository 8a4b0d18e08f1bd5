package yunhu

import "time"

// Wire constants of the Yunhu client protocol, shared with the simulator
// (yunhu/sim). Section numbers (§n) refer to shared/reference/YUNHU-WIRE.md.
// Only values live here: codecs and HTTP logic are deliberately not shared, so
// that a framing bug cannot hide behind a symmetric implementation.

// Default service URLs (§1.1). Every one of them is configurable in Options so
// that tests and -sandbox can point the client at the simulator.
const (
	DefaultAPIURL    = "https://chat-go.jwzhd.com"
	DefaultWSURL     = "wss://chat-ws-go.jwzhd.com/ws"
	DefaultUploadURL = "https://upload-z2.qiniup.com"
	DefaultImageCDN  = "https://chat-img.jwznb.com/"
	DefaultFileCDN   = "https://chat-file.jwznb.com/"
	DefaultAudioCDN  = "https://chat-audio1.jwznb.com/"
	DefaultVideoCDN  = "https://chat-video1.jwznb.com/"
)

// HTTP headers (§1.2, §1.1).
const (
	HeaderToken       = "token"   // account token; sent lowercase like the official apps
	HeaderReferer     = "Referer" // CDN downloads only
	HeaderContentType = "Content-Type"

	// Referer is required by every CDN host; without it downloads get 403 (§1.1).
	Referer = "http://myapp.jwznb.com"

	ContentTypeProtobuf = "application/x-protobuf"
	ContentTypeJSON     = "application/json"

	// QiniuUserAgent is what the official apps send to the upload host (§5.3).
	QiniuUserAgent = "QiniuDart"
)

// REST endpoint paths (Appendix A). The comment gives the body encoding:
// proto = protobuf request and protobuf response (field 1 Status),
// JSON = JSON request and {code,msg,data} response.
const (
	PathSendMessage            = "/v1/msg/send-message"                // proto → StatusResponse
	PathEditMessage            = "/v1/msg/edit-message"                // proto (SendMessageRequest) → StatusResponse
	PathRecallMessage          = "/v1/msg/recall-msg"                  // proto → StatusResponse
	PathRecallMessageBatch     = "/v1/msg/recall-msg-batch"            // proto → StatusResponse
	PathListMessage            = "/v1/msg/list-message"                // proto → ListMessageResponse
	PathListMessageBySeq       = "/v1/msg/list-message-by-seq"         // proto → ListMessageResponse
	PathListMessageByMidSeq    = "/v1/msg/list-message-by-mid-seq"     // proto → ListMessageResponse
	PathPicListMessageByMidSeq = "/v1/msg/pic-list-message-by-mid-seq" // proto → ListMessageResponse
	PathListMessageEditRecord  = "/v1/msg/list-message-edit-record"    // JSON
	PathButtonReport           = "/v1/msg/button-report"               // proto → StatusResponse
	PathMessageForward         = "/v1/msg/msg-forward"                 // JSON
	PathDeleteMessage          = "/v1/msg/delete"                      // JSON
	PathFileDownloadRecord     = "/v1/msg/file-download-record"        // JSON

	PathUserInfo            = "/v1/user/info"                         // GET → UserInfoResponse
	PathGetUser             = "/v1/user/get-user"                     // proto → GetUserResponse; any non-empty token
	PathAddressBookList     = "/v1/friend/address-book-list"          // proto → AddressBookListResponse
	PathRequestList         = "/v1/friend/request-list"               // empty → RequestListResponse
	PathAgreeApply          = "/v1/friend/agree-apply"                // JSON {id, agree}
	PathApply               = "/v1/friend/apply"                      // JSON {chatId, chatType, remark}
	PathDeleteFriend        = "/v1/friend/delete-friend"              // JSON {chatId, chatType}
	PathNoNotify            = "/v1/friend/no-notify"                  // JSON {chatId, noNotify}
	PathConversationList    = "/v1/conversation/list"                 // proto (optional body) → ConversationListResponse
	PathDismissNotification = "/v1/conversation/dismiss-notification" // JSON {chatId}

	PathGroupInfo           = "/v1/group/info"                   // proto → GroupInfoResponse
	PathGroupListMember     = "/v1/group/list-member"            // proto → ListMemberResponse
	PathGroupRemoveMember   = "/v1/group/remove-member"          // JSON {groupId, userId}
	PathGroupGagMember      = "/v1/group/gag-member"             // JSON {groupId, userId, gag}
	PathGroupEditGroup      = "/v1/group/edit-group"             // proto → StatusResponse
	PathGroupEditMyNickname = "/v1/group/edit-my-group-nickname" // JSON {groupId, nickname}
	PathGroupInvite         = "/v1/group/invite"                 // JSON {chatId, chatType, groupId}
	PathGroupBotList        = "/v1/group/bot-list"               // proto → BotListResponse
	PathGroupDismiss        = "/v1/group/dismiss-group"          // proto → StatusResponse

	PathQiniuTokenImage = "/v1/misc/qiniu-token"       // GET → JSON {data:{token}}
	PathQiniuTokenAudio = "/v1/misc/qiniu-token-audio" // GET
	PathQiniuTokenFile  = "/v1/misc/qiniu-token2"      // GET
	PathQiniuTokenVideo = "/v1/misc/qiniu-token-video" // GET
)

// Sign-in endpoints (Appendix A, user.md). Both are JSON both ways and are
// called without a token header; data.token is the account token.
const (
	PathEmailLogin        = "/v1/user/email-login"        // JSON {email, password, deviceId, platform}
	PathVerificationLogin = "/v1/user/verification-login" // JSON {mobile, captcha, deviceId, platform}
)

// Status codes (§1.4). Success is 1, not 0.
const (
	CodeOK           = 1
	CodeFailed       = -1
	CodeAlreadyAdded = -9   // friend/apply: 您已添加过对方
	CodeNotLoggedIn  = -101 // 未登录

	MsgSuccess     = "success"
	MsgNotLoggedIn = "未登录"
)

// Chat types (§1.5).
const (
	ChatTypeUser  = 1
	ChatTypeGroup = 2
	ChatTypeBot   = 3
)

// Content types (§1.5).
const (
	ContentText      = 1
	ContentImage     = 2
	ContentMarkdown  = 3
	ContentFile      = 4
	ContentForm      = 5
	ContentPost      = 6
	ContentSticker   = 7 // personal expression or pack sticker
	ContentHTML      = 8
	ContentVideo     = 10
	ContentAudio     = 11 // voice
	ContentVideoCall = 12
	ContentVoiceCall = 13
	ContentA2UI      = 14
)

// Group permission levels (§4.1, §4.2).
const (
	PermissionMember = 0
	PermissionAdmin  = 2
	PermissionOwner  = 100
)

// Allowed gag-member durations in seconds (§4.3); GagPermanent is -1 (§7 #24).
const (
	GagNone      = 0
	GagPermanent = -1
)

// GagDurations lists every value gag-member accepts.
func GagDurations() []int { return []int{0, 600, 3600, 21600, 43200, -1} }

// Friend request decisions for agree-apply (§3.5).
const (
	AgreeAccept    = 1
	AgreeReject    = 2
	AgreeExpired   = 3
	AgreeDismissed = 4
)

// Message record direction (§2.5.1).
const (
	DirectionLeft  = "left"  // somebody else's message
	DirectionRight = "right" // the requesting account's own message
)

// BySeqMax is the most records list-message-by-seq returns (§2.5.4).
const BySeqMax = 31

// Push socket commands (§6.1, §6.2).
const (
	// Client → server (JSON text frames).
	WSCmdLogin     = "login"
	WSCmdHeartbeat = "heartbeat"
	WSCmdInputInfo = "inputInfo"

	// Server → client (binary protobuf PushFrame.info.cmd).
	WSCmdHeartbeatAck  = "heartbeat_ack"
	WSCmdPushMessage   = "push_message"
	WSCmdEditMessage   = "edit_message"
	WSCmdStreamMessage = "stream_message"
	WSCmdDraftInput    = "draft_input"
	WSCmdInviteApply   = "invite_apply"
	WSCmdFileSend      = "file_send_message"
	WSCmdLiveHangUp    = "live_video_user_hang_up"
	WSCmdBotBoard      = "bot_board_message"

	// WSInvalid is the text the server answers to frames of a session that is
	// not logged in (§6.1).
	WSInvalid = "数据不合法"
)

// Type URLs of the Any-like PushFrame.data (§6.2).
const (
	TypeURLPushMessage   = "type.googleapis.com/proto.PushMessage"
	TypeURLStreamMessage = "type.googleapis.com/proto.StreamMessage"
	TypeURLMsgInput      = "type.googleapis.com/proto.MsgInput"
	TypeURLLiveMessage   = "type.googleapis.com/proto.LiveMessage"
)

// HeartbeatInterval is how often the real clients send a heartbeat (§6.1).
const HeartbeatInterval = 30 * time.Second

// Platforms accepted by the WS login, case-sensitive (§6.1).
func Platforms() []string {
	return []string{"windows", "macos", "android", "linux", "ios", "fuchsia", "Web"}
}

// Upload key prefixes used by the real clients (§5.3).
const (
	KeyPrefixFile       = "disk/"
	KeyPrefixExpression = "expression/"
	KeyPrefixSticker    = "sticker/"
)

// Qiniu buckets named by the upload token policies (§5.1).
const (
	BucketImage = "chat68"
	BucketAudio = "chat68-audio"
	BucketFile  = "chat68-file"
	BucketVideo = "chat68-video"
)
