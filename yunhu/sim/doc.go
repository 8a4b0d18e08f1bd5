// Package sim is an in-process Yunhu (云湖) server for tests and for the
// daemon's -sandbox mode. It speaks the real user-account wire format over
// real HTTP and WebSocket, so the client under test exercises its own codec
// and transport end to end. It shares only the generated protobuf types
// (yunhu/yunhupb) and the wire constants (yunhu/wire.go) with the client,
// never its codec or HTTP code: a framing bug must not be able to hide
// behind a symmetric implementation. Section numbers (§n) refer to
// shared/reference/YUNHU-WIRE.md; §8 there is the specification followed.
//
// Use:
//
//	s := sim.New(sim.Options{Log: zaptest.NewLogger(t)})
//	ts := httptest.NewServer(s.Handler())
//	defer ts.Close()
//	defer s.Close()
//	urls := sim.Endpoints(ts.URL) // API, WS, Upload and CDN base URLs
//
// Because this package imports package yunhu for its wire constants, tests
// in package yunhu that use the simulator must be external (package
// yunhu_test), or the import is a cycle.
//
// Protocol flow, as served:
//
//	REST   POST /v1/...  header "token"; protobuf endpoints answer protobuf
//	       with Status at field 1, JSON endpoints {code,msg,data}; code 1 is
//	       success; business errors are HTTP 200 with another code.
//	WS     GET /ws; client sends JSON text frames: login first
//	       {userId,token,platform,deviceId}, then heartbeat every 30 s;
//	       server sends binary PushFrame{info{seq,cmd}, data{type_url,value}}:
//	       heartbeat_ack (seq echoed), push_message, edit_message,
//	       stream_message, draft_input, invite_apply.
//	Upload GET /v1/misc/qiniu-token* → Qiniu token; POST /upload multipart
//	       token,key,file → {key,hash,fsize}; GET /cdn/<img|file|audio|video>/<key>
//	       with Referer http(s)://myapp.jwznb.com.
//	Login  POST /v1/user/email-login {email,password,deviceId,platform} and
//	       /v1/user/verification-login {mobile,captcha,deviceId,platform},
//	       JSON, no token → {code,msg,data{token}}; a fresh token per
//	       sign-in. Accounts and the fixed SMS code are in login.go.
//
// What is faithful (documented or seen from clients of the live service):
// the paths and both body encodings; {"code":-101,"msg":"未登录"} as JSON on
// every endpoint when the token header is missing or empty, even protobuf
// ones; get-user accepting any non-empty token; per-chat msg_seq from 1 that
// recalls and edits do not consume; list-message (strictly older than the
// anchor, newest first), list-message-by-mid-seq (anchor plus msg_count
// newer), list-message-by-seq (at most 31, anchor excluded); the different
// field numbering of stored records and push frames; the echo of the
// account's own messages to all its sessions, the sending socket included;
// private-chat push addressing; recall as a push_message with
// delete_timestamp; edit_message with only its documented fields; the bare
// invite_apply notice; login validation (token owner, case-sensitive
// platform) and the 数据不合法 text reply; heartbeat_ack echoing seq and no
// login ack; multiple sessions per account; the group admin JSON error texts
// and gag durations; edit-group overwriting every field; Qiniu tokens,
// etag hash, insert-only keys and error shapes; CDN 403 without Referer.
//
// What is assumed (marked [I] at the code that does it): the reply to an
// unknown non-empty token on protobuf endpoints (a Status with -101, per the
// §8.2 convention); idempotent success for a repeated msg_id from the same
// author into the same chat (nothing stored or pushed twice) and -1 for any
// other reuse; by-seq returning records older than msg_start; list order
// newest first everywhere; the recall push carrying blank content and the
// original author as sender; recall permissions (author, group owner and
// admins) and repeated recalls succeeding silently; atomic batch recall;
// chat_id/recv_id of one's own echoed private and bot-chat messages (the
// peer); edit pushes with recv_id equal to chat_id and no chat_type; the
// texts of undocumented errors (not a friend, gagged, limited type, empty
// content, unknown message, ...); limited_msg_type applying to admins too;
// admins not acting on other admins; the order of admin checks; group
// history hidden from members who joined later when history_msg is off;
// request-list source/target types and receivers; bots being added without
// a request; gag ends stored in unix seconds; conversation previews; upload
// token lifetime; 404 for a wrong HTTP method; dropping (not throttling) a
// push session whose queue is full; sessions dropped after 90 s of client
// silence (DefaultIdleTimeout).
//
// Not served: logins by password or SMS, community, coins, stickers
// management, voice rooms, the Qiniu region lookup (clients are configured
// with the upload URL directly), and the dismiss/create group calls.
package sim
