//go:build !unix

package runner

// dirLock is a lock on a directory; there is none without flock.
type dirLock struct{}

// lockDir returns nil: the baseline takes a temporary directory.
func lockDir(string) *dirLock { return nil }

func (*dirLock) release() {}
