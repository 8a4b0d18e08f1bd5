// Package sim is an in-process WuKongIM v2.2.5 server for tests and the
// sandbox: the HTTP API (Handler) and the JSON-RPC WebSocket endpoint
// (WSHandler), with the quirks a real server shows on the wire.
//
// It is written from the wire transcript of a real server, not from the
// client package, and deliberately imports nothing of the client: a
// misreading of the wire shared by both would otherwise pass every test.
//
// What it models: per-(uid, device_flag) tokens with master/slave levels,
// groups with subscribers and blacklists, dense per-channel seqs (a private
// pair shares one seq space under the internal "A@B" id), unchecked HTTP
// sends and checked JSON-RPC sends, recv pushes to every online connection
// of each recipient (the sender's own connections included for HTTP sends,
// excluded for the sending connection of a JSON-RPC send), redelivery of
// un-acked pushes, silent auth refusal, kicks that leave the socket open,
// the idle drop, the wedging of a connection's inbound side by one bad
// frame, and the HTTP query endpoints with their window semantics and
// error bodies. Optionally it posts the webhooks (msg.notify, msg.offline,
// user.onlinestatus) to Options.WebhookURL.
//
// Tests drive it through the same wire a client uses, or through the Go
// API: RegisterToken, CreateGroup, Say, Messages, DropAll, FailNext,
// HoldConnects, Connections and the Wait helpers.
package sim
