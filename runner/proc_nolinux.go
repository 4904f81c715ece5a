//go:build unix && !linux

package runner

import "errors"

func becomeSubreaper() {}

// leftNothing cannot tell outside Linux: killTree kills the session.
func leftNothing(*tracked) bool { return false }

func setNonDumpable() error {
	return errors.New("hiding a process from others needs Linux")
}

// procInfo is one process.
type procInfo struct{ pid, ppid int }

// findVictims has no process table to read outside Linux: killTree kills
// the session.
func findVictims(*tracked) ([]procInfo, bool) { return nil, false }
