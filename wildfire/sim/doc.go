// Package sim is an in-process WildfireChat community im-server (1.2.4) for
// tests and the sandbox: the robot API served on the client http port
// (RobotHandler, routes under /robot/...), the admin API served on the admin
// port (AdminHandler, routes under /admin/...), and the callback POSTs the
// server makes to robots (OutputMessageData) and to the recall-forward URL
// (OutputRecallMessageData).
//
// It is written from the server's documented and source-read behaviour, not
// from the client package, and deliberately imports nothing of the client: a
// misreading of the wire shared by both would otherwise pass every test.
//
// What it models: the signature check (nonce|secret|timestamp SHA-1, the 2 h
// window with future timestamps accepted, the admin no_check_time option),
// the per-rid leaky-bucket rate limit, the {code,msg,result} envelope and the
// nested shape of a failed signature check, HTTP 500 with an empty body for
// unknown or unrouted paths and with the exception text for bodies the server
// cannot read, users, robots with their callback state (the set_callback
// quirk), groups with member types, group mute, private and group messages,
// the send checks (content types robots and users may not send, membership,
// mute, silent members), recall with the rewritten type-80 message
// re-published to robots, group notification messages (105, 106, 107, 110,
// 111, 112, 113, 114, 115, 116, 122) and friends for the admin friend list.
//
// Tests drive it through the same wire a client uses, or through the Go API:
// AddUser, AddRobot, CreateGroup, Say, Recall, Kick, Quit, Rename, MuteAll,
// Messages, Callbacks, WaitCallbacks and FailNext.
package sim
