//go:build !race

package botdb

// raceEnabled scales the large tests down under the race detector.
const raceEnabled = false
