//go:build race

package botdb

// raceEnabled scales the large tests down under the race detector, which
// slows the server and the store about tenfold.
const raceEnabled = true
