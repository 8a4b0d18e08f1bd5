// Package wukongim is a client for a WuKongIM v2 server: its HTTP API (a
// trusted service API with no authentication) and its WebSocket JSON-RPC
// endpoint, on which one user receives pushes and sends messages. It knows
// nothing about OneBot; callers consume its plain Go types. Section and fact
// numbers in comments (§n, fact n) refer to
// shared/reference/WUKONGIM-V2-WIRE.md, a transcript of a v2.2.5 server.
//
// Protocol flow:
//
//	HTTP   POST {api}/message/send, /channel/messagesync, /conversation/sync,
//	       /messages, /user/token, /channel, /channel/subscriber_add|_remove,
//	       /channel/blacklist_add|_remove; GET /channel/max_message_seq,
//	       /message/byclientmsgno. snake_case JSON, payload base64,
//	       message_id a number, header flags 0/1.
//	       ← 200 {"status":200} | bare objects | 400 {"msg","status":400}
//	         | 200 {"status":404} | 500 with an empty body
//	WS     → {"jsonrpc":"2.0","method":"connect","id":"c1","params":{uid,token,deviceFlag,deviceId,version,clientTimestamp}}
//	       ← {"jsonrpc":"2.0","id":"c1","result":{…,"reasonCode":1}}   (a refused token gets no answer at all)
//	       ← {"method":"recv","params":{messageId (string),messageSeq,…}}  → {"method":"recvack","params":{messageId,messageSeq}}
//	       → {"method":"send","id":"s2","params":{…}}  ← {"id":"s2","result":{messageId,messageSeq,reasonCode}}
//	       → {"method":"ping","id":"p3"}  ← {"jsonrpc":"2.0","id":"p3"}  (every PingInterval; the server never pings)
//	       ← {"method":"disconnect","params":{"reasonCode":12,…}}  another device took over: close and back off
//	       ← {"error":{…}}  the server's decoder is wedged for good (fact 9): reconnect
package wukongim
