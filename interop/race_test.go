//go:build race

package interop

// raceEnabled builds the daemon under test with the race detector too.
const raceEnabled = true
