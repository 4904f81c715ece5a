//go:build unix

package runner

import (
	"os"
	"path/filepath"
	"syscall"
)

// dirLock is an exclusive lock on a directory, held through a lock file
// in it.
type dirLock struct {
	dir string
	f   *os.File
}

// lockDir makes dir (mode 0700) and takes its lock without waiting; nil
// when it cannot: the directory cannot be made, or another run holds it.
func lockDir(dir string) *dirLock {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil
	}
	name := filepath.Join(dir, "lock")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil
	}
	// release removes the file before it unlocks: a lock taken on a
	// file that is no longer at name guards nothing.
	fi, err := f.Stat()
	ni, nerr := os.Lstat(name)
	if err != nil || nerr != nil || !os.SameFile(fi, ni) {
		f.Close()
		return nil
	}
	return &dirLock{dir: dir, f: f}
}

// release removes the lock file and the directory, if nothing else is
// in it, and unlocks: a run leaves only its test binaries in the cache
// (bin/, replaced by the next run of the same repository).
func (l *dirLock) release() {
	_ = os.Remove(filepath.Join(l.dir, "lock"))
	_ = os.Remove(l.dir)
	_ = l.f.Close()
}
