//go:build unix

package runner

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// markerVar carries a random value in the environment of every command,
// so that a descendant that left the command's session is still known as
// the command's own.
const markerVar = "NATSBENCH_PROC"

func newMarker() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tracked is a started command.
type tracked struct {
	pid    int
	uid    int // the sandbox user's uid, or -1
	marker string
	exited bool // reaped: pid may belong to another process now
}

// live holds the commands running now, across Runs: the process tree
// walk in killTree must tell another command's processes from escaped
// ones, and processes are a property of the whole program.
var live = struct {
	sync.Mutex
	procs map[int]*tracked
}{procs: map[int]*tracked{}}

var subreaperOnce sync.Once

// startTracked starts cmd and records it. The lock is held across Start
// so that a tree walk never sees a new command before it is recorded.
func startTracked(cmd *exec.Cmd, sb *sandbox, marker string) (*tracked, error) {
	// Orphans of our commands are reparented to this process, not to
	// init, so that killTree can still find them.
	subreaperOnce.Do(becomeSubreaper)
	live.Lock()
	defer live.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &tracked{pid: cmd.Process.Pid, uid: -1, marker: marker}
	if sb != nil {
		t.uid = sb.uid
	}
	live.procs[t.pid] = t
	return t, nil
}

// done records that the command has been waited for.
func (t *tracked) done() {
	live.Lock()
	defer live.Unlock()
	t.exited = true
	delete(live.procs, t.pid)
}

// setProcAttr starts the command in a session of its own, as the
// sandbox's user when there is one, with no supplementary groups (the
// action's groups may open the Docker socket).
func setProcAttr(cmd *exec.Cmd, sb *sandbox) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if sb != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(sb.uid), Gid: uint32(sb.gid), Groups: []uint32{}}
	}
}

// quit asks a Go process to dump its goroutines and exit, as go test does
// on a timeout, so that the report can show where it hung.
func quit(cmd *exec.Cmd) error {
	return cmd.Process.Signal(syscall.SIGQUIT)
}

// killTree kills every process of the command: its descendants, its
// session and process group, and the orphans it left (reparented to this
// process) that carry its marker or run as the sandbox's user. A process
// that calls setsid, or forks twice, stays found. It repeats until none
// is left, so that a process forking while it is killed is caught too.
func killTree(t *tracked) {
	live.Lock()
	defer live.Unlock()
	if leftNothing(t) {
		return
	}
	for i := range 100 {
		victims, ok := findVictims(t)
		if !ok {
			// No process table: the session is all we can name.
			_ = syscall.Kill(-t.pid, syscall.SIGKILL)
			return
		}
		if len(victims) == 0 {
			return
		}
		if i > 0 {
			// Give the signals of the last pass time to land.
			time.Sleep(5 * time.Millisecond)
		}
		for _, v := range victims {
			_ = syscall.Kill(v.pid, syscall.SIGKILL)
		}
		for _, v := range victims {
			if v.ppid == os.Getpid() && live.procs[v.pid] == nil {
				// An orphan is ours to reap once killed.
				var ws syscall.WaitStatus
				_, _ = syscall.Wait4(v.pid, &ws, 0, nil)
			}
		}
	}
}

// sandboxUID is the user that runs the benchmarked code: nobody, which
// every Debian-based image (and the action's golang image) has.
const sandboxUID, sandboxGID = 65534, 65534

// sandbox is the unprivileged user that builds and runs the benchmarked
// code, with a home of its own for HOME, the Go caches and temporary
// files, and the files it must not read made unreadable for the run.
type sandbox struct {
	uid, gid int
	root     string // owned by root; holds the directories below
	home     string // owned by the user: HOME, GOPATH, the caches, TMPDIR
	bin      string // owned by the user: the test binaries
	scratch  string // owned by the user: CPU profiles before they are copied out
	// gocache and gomodcache are the user's Go caches: kept across runs
	// on one machine when sharedCache can, else in home.
	gocache, gomodcache string
	restore             []func()
}

// sharedCacheName is the directory, in the temporary directory, of the
// sandbox's Go caches kept across runs. In the action's container there
// is one run; elsewhere (tests, a root user's CLI) a cold build cache
// costs a minute per run. Code that a run's benchmark leaves in it runs
// in later runs on the machine as the same unprivileged user only.
const sharedCacheName = "natsbench-sandbox-cache"

// sharedCache returns the directory of the caches kept across runs,
// made if missing: root's, mode 0711, not a link, and its go-build and
// mod subdirectories the user's. Anything else (someone else made it) is
// an error, and the run uses caches of its own.
func sharedCache(uid, gid int) (string, error) {
	dir := filepath.Join(os.TempDir(), sharedCacheName)
	if err := os.Mkdir(dir, 0o711); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	owned := func(p string, uid int, perm os.FileMode) error {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !fi.IsDir() || !ok || int(st.Uid) != uid || fi.Mode().Perm() != perm {
			return fmt.Errorf("%s is not a directory of uid %d with mode %s", p, uid, perm)
		}
		return nil
	}
	if err := owned(dir, 0, 0o711); err != nil {
		return "", err
	}
	for _, sub := range []string{"go-build", "mod"} {
		p := filepath.Join(dir, sub)
		if err := os.Mkdir(p, 0o700); err == nil {
			if err := os.Chown(p, uid, gid); err != nil {
				return "", err
			}
		}
		if err := owned(p, uid, 0o700); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// adoptCache gives the directory p, made if missing, and everything in it
// to the sandbox's user, and lets it pass through p's parents: it is a Go
// cache that a workflow restored (owned by the runner's user) and will
// save again. A link at p is refused, and links inside are not followed.
func adoptCache(p string, uid, gid int) error {
	if err := os.MkdirAll(p, 0o755); err != nil {
		return err
	}
	if fi, err := os.Lstat(p); err != nil {
		return err
	} else if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", p)
	}
	for d := filepath.Dir(p); d != filepath.Dir(d); d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
				return err
			}
		}
	}
	return filepath.WalkDir(p, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

// newSandbox makes the sandbox's directories and makes this process
// non-dumpable, so that its /proc files (environ, fd, mem) belong to
// root and are closed to other users and to ptrace. gocache and
// gomodcache, when set, are the user's caches (see adoptCache). It needs
// root.
func newSandbox(gocache, gomodcache string) (*sandbox, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("running the benchmarks as another user needs root")
	}
	if err := setNonDumpable(); err != nil {
		return nil, fmt.Errorf("hiding the action's process from the benchmarks: %w", err)
	}
	root, err := os.MkdirTemp("", "natsbench-sandbox-")
	if err != nil {
		return nil, fmt.Errorf("making the sandbox: %w", err)
	}
	s := &sandbox{uid: sandboxUID, gid: sandboxGID, root: root}
	s.home, s.bin, s.scratch = filepath.Join(root, "home"), filepath.Join(root, "bin"), filepath.Join(root, "scratch")
	s.gocache, s.gomodcache = filepath.Join(s.home, ".cache", "go-build"), filepath.Join(s.home, "go", "pkg", "mod")
	if c, err := sharedCache(s.uid, s.gid); err == nil {
		s.gocache, s.gomodcache = filepath.Join(c, "go-build"), filepath.Join(c, "mod")
	}
	for _, c := range []struct{ dir, into *string }{{&gocache, &s.gocache}, {&gomodcache, &s.gomodcache}} {
		if *c.dir == "" {
			continue
		}
		if err := adoptCache(*c.dir, s.uid, s.gid); err != nil {
			s.close()
			return nil, fmt.Errorf("giving the Go cache %s to the benchmarks' user: %w", *c.dir, err)
		}
		*c.into = *c.dir
	}
	for _, d := range []string{s.home, s.bin, s.scratch} {
		if err := os.Mkdir(d, 0o700); err != nil {
			s.close()
			return nil, fmt.Errorf("making the sandbox: %w", err)
		}
		if err := os.Chown(d, s.uid, s.gid); err != nil {
			s.close()
			return nil, fmt.Errorf("making the sandbox: %w", err)
		}
	}
	// The user may pass through root's directory to its own, no more.
	if err := os.Chmod(root, 0o711); err != nil {
		s.close()
		return nil, fmt.Errorf("making the sandbox: %w", err)
	}
	return s, nil
}

// seal gives the built test binaries, and their directory, to root:
// the user may run them, not change them. Anything but a regular file is
// removed rather than followed.
func (s *sandbox) seal() error {
	entries, err := os.ReadDir(s.bin)
	if err != nil {
		return fmt.Errorf("sealing the test binaries: %w", err)
	}
	paths := []string{s.bin}
	for _, e := range entries {
		p := filepath.Join(s.bin, e.Name())
		if !e.Type().IsRegular() {
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("sealing the test binaries: %w", err)
			}
			continue
		}
		paths = append(paths, p)
	}
	for _, p := range paths {
		if err := os.Lchown(p, 0, 0); err != nil {
			return fmt.Errorf("sealing the test binaries: %w", err)
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return fmt.Errorf("sealing the test binaries: %w", err)
		}
	}
	return nil
}

// close gives back the modes protect took away and removes the sandbox.
func (s *sandbox) close() {
	for i := len(s.restore) - 1; i >= 0; i-- {
		s.restore[i]()
	}
	s.restore = nil
	_ = os.RemoveAll(s.root)
}

// sandboxOverrides are the variables the sandbox sets for itself.
var sandboxOverrides = []string{"HOME", "USER", "LOGNAME", "GOPATH", "GOCACHE", "GOMODCACHE", "GOTMPDIR", "TMPDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "GOENV"}

// env is env with the user's home, caches and temporary directory.
func (s *sandbox) env(env []string) []string {
	out := make([]string, 0, len(env)+len(sandboxOverrides))
next:
	for _, kv := range env {
		for _, k := range sandboxOverrides {
			if strings.HasPrefix(kv, k+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	h := s.home
	return append(out,
		"HOME="+h, "USER=nobody", "LOGNAME=nobody",
		"GOPATH="+filepath.Join(h, "go"),
		"GOCACHE="+s.gocache,
		"GOMODCACHE="+s.gomodcache,
		"GOTMPDIR="+h, "TMPDIR="+h,
		"XDG_CACHE_HOME="+filepath.Join(h, ".cache"),
		"XDG_CONFIG_HOME="+filepath.Join(h, ".config"),
		"GOENV="+filepath.Join(h, ".config", "go", "env"),
	)
}

// protect takes group and other permissions off path for the sandbox's
// lifetime, if it exists: the owner (the runner's user on the host)
// keeps its access.
func (s *sandbox) protect(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("protecting %s: %w", path, err)
	}
	mode := fi.Mode().Perm()
	if mode&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, mode&^0o077); err != nil {
		return fmt.Errorf("protecting %s: %w", path, err)
	}
	s.restore = append(s.restore, func() { _ = os.Chmod(path, mode) })
	return nil
}

// canRead reports, naming the directory, when the sandbox's user could
// not read dir: a directory on the way lacks search permission for
// others, or dir lacks read permission.
func (s *sandbox) canRead(dir string) error {
	for d, last := filepath.Clean(dir), true; ; d, last = filepath.Dir(d), false {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("checking the sandbox's access: %w", err)
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		perm := fi.Mode().Perm()
		need := os.FileMode(0o001)
		if last {
			need = 0o005
		}
		owned := st != nil && int(st.Uid) == s.uid
		if !owned && perm&need != need {
			return fmt.Errorf("the benchmarks run as uid %d, which cannot read %s (mode %s): make it readable by others", s.uid, d, perm)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// openOwned opens a file that the sandbox's user wrote, refusing a
// symbolic link, anything but a regular file, and a file of another
// owner (a hard link): root must not be led to copy out a file that the
// user could not read.
func (s *sandbox) openOwned(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	st, _ := fi.Sys().(*syscall.Stat_t)
	if err != nil || !fi.Mode().IsRegular() || st == nil || int(st.Uid) != s.uid {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file of uid %d", path, s.uid)
	}
	return f, nil
}
