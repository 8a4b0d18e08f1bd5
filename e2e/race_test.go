//go:build race

package e2e

// raceEnabled: the race detector makes 10 MiB requests some hundred times
// slower to parse, so the sweep sends fewer of them.
const raceEnabled = true
