// Package yunhu is a client for Yunhu's (云湖) user-account protocol, the one
// the official apps speak: protobuf or JSON over HTTPS for requests, Qiniu for
// media, and a WebSocket for pushes. It knows nothing about OneBot; the bridge
// consumes its plain Go types (Message, Content, Group, ...). Section numbers
// in comments (§n) refer to shared/reference/YUNHU-WIRE.md.
//
// Protocol flow:
//
//	REST   POST {api}/v1/...  header "token: <account token>"
//	         body: protobuf (most endpoints) or JSON (a few, camelCase)
//	       ← HTTP 200 + protobuf whose field 1 is Status{code 1 = ok}
//	         or JSON {"code":1,"msg":"success","data":…}
//	         a missing/bad token answers JSON {"code":-101,"msg":"未登录"}
//	         even on protobuf endpoints → ErrUnauthorized
//	Upload GET {api}/v1/misc/qiniu-token* → upload token
//	       POST {upload-url} multipart token,key,file → {"key","hash"}
//	       key = md5(bytes).ext ("disk/…" for files) goes into send-message
//	Push   GET /v1/user/info → own user id
//	       WS {ws-url}: → {"cmd":"login","data":{userId,token,platform,deviceId}}
//	                    → {"cmd":"heartbeat"} now and every 30 s
//	                    ← binary PushFrame{info{seq,cmd}, data{type_url,value}}
//	                      cmd heartbeat_ack | push_message (recall if
//	                      delete_timestamp≠0) | edit_message | stream_message |
//	                      invite_apply | draft_input | …
//	       silence for two heartbeat periods, a drop or "数据不合法" →
//	       reconnect with backoff; sent messages come back as pushes too.
//
// Stored records (list-message*) and push payloads number the same fields
// differently (§7 #10); both are converted into Message here.
package yunhu
