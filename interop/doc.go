// Package interop tests yunhu-onebot end to end with real OneBot
// frameworks as its clients. It is a module of its own so that the
// frameworks stay test-only dependencies of the project.
//
// The tests build the daemon from the parent directory, start it with
// -sandbox (an in-process Yunhu simulator, so nothing leaves 127.0.0.1),
// run a bot written with ZeroBot (github.com/wdvxdr1123/ZeroBot) and one
// written with Koishi (koishi/bot.js, its OneBot adapter; needs Node.js
// and `npm ci` in koishi/, else those tests skip) against it over forward
// and over reverse WebSocket, make simulated Yunhu users talk through the
// sandbox's control API, and check what Yunhu received.
//
// ZeroBot keeps its state in package globals and cannot be stopped or
// restarted, so each bot runs in a child process (this test binary
// re-executed), killed when its test ends.
package interop
