// Package bench holds the whole-path benchmarks: the Yunhu simulator's
// pushes through the daemon to OneBot clients on loopback, and actions
// back, next to plain gorilla/websocket and net/http baselines measured in
// the same run; and the daemon binary's memory under hostile clients
// (attack_test.go). It has no code of its own; see wholepath_test.go and
// docs/PERFORMANCE.md for the commands and the figures.
package bench
