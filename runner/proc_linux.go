package runner

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// subreaper is whether becomeSubreaper succeeded.
var subreaper atomic.Bool

// becomeSubreaper makes this process the parent of its descendants'
// orphans. Failing it, orphans go to init and only their session or
// process group finds them.
func becomeSubreaper() {
	subreaper.Store(unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == nil)
}

// leftNothing reports, cheaply, that the command t, exited and reaped,
// left no process behind, so that killTree need not read the whole
// process table (about 10 ms on a busy machine, after each of a run's
// hundreds of commands). As a subreaper, this process adopts every
// orphan of its descendants: a process the command left is then a child
// of one of this process's threads, or a descendant of one. When the
// threads' only children are commands still running, there is none.
// Commands start with live locked, so no child appears during the check;
// a thread that exits meanwhile (its children move to another) changes
// the list of threads, which is then read again. Anything unexpected
// answers false: the full walk decides. Called with live locked.
func leftNothing(t *tracked) bool {
	if !t.exited || !subreaper.Load() {
		return false
	}
	threads := func() ([]string, bool) {
		entries, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return nil, false
		}
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name()
		}
		return names, true
	}
	before, ok := threads()
	if !ok {
		return false
	}
	for _, tid := range before {
		b, err := os.ReadFile("/proc/self/task/" + tid + "/children")
		if err != nil {
			return false
		}
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil || live.procs[pid] == nil {
				return false
			}
		}
	}
	after, ok := threads()
	return ok && slices.Equal(before, after)
}

// setNonDumpable makes this process's /proc files root's and closes it to
// ptrace by processes without CAP_SYS_PTRACE.
func setNonDumpable() error {
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}

// procInfo is one process of /proc.
type procInfo struct {
	pid, ppid, pgid, sid int
	zombie               bool
}

// readProcs reads the process table; ok is false when there is no /proc.
func readProcs() (map[int]procInfo, bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	procs := make(map[int]procInfo, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			procs[pid] = p
		}
	}
	return procs, len(procs) > 0
}

// readProc reads one process's stat; a process that is gone reads as not
// ok. (Its status, for the uid, costs as much again: procUID reads it
// only for the few processes whose uid decides.)
func readProc(pid int) (procInfo, bool) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	// "pid (comm) state ppid pgrp session ...": comm may hold anything.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return procInfo{}, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 4 {
		return procInfo{}, false
	}
	p := procInfo{pid: pid, zombie: f[0] == "Z" || f[0] == "X"}
	p.ppid, _ = strconv.Atoi(f[1])
	p.pgid, _ = strconv.Atoi(f[2])
	p.sid, _ = strconv.Atoi(f[3])
	return p, true
}

// procUID returns pid's real uid, -1 when it cannot be read.
func procUID(pid int) int {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if u := strings.Fields(rest); len(u) > 0 {
				if uid, err := strconv.Atoi(u[0]); err == nil {
					return uid
				}
			}
			break
		}
	}
	return -1
}

// hasMarker reports whether pid's environment holds the marker.
func hasMarker(pid int, marker string) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	return bytes.Contains(append([]byte{0}, env...), []byte("\x00"+markerVar+"="+marker+"\x00"))
}

// findVictims returns the processes of t still there (see killTree).
// A zombie is returned only when it is an orphan of ours to reap. Called
// with live locked.
func findVictims(t *tracked) ([]procInfo, bool) {
	procs, ok := readProcs()
	if !ok {
		return nil, false
	}
	self := os.Getpid()
	var victims []procInfo
	for _, q := range procs {
		if q.pid == self {
			continue
		}
		if l := live.procs[q.pid]; l != nil && l != t {
			continue
		}
		// Whose is it: this command's tree, another's, or an orphan of ours?
		owner := "none"
		for cur, steps := q.pid, 0; steps < len(procs)+1; steps++ {
			if cur == t.pid && !t.exited {
				owner = "command"
				break
			}
			if l := live.procs[cur]; l != nil && l != t {
				owner = "other"
				break
			}
			if cur == self {
				owner = "self"
				break
			}
			p, ok := procs[cur]
			if !ok || p.ppid == 0 || p.ppid == cur {
				break
			}
			cur = p.ppid
		}
		mine := owner == "command" || q.sid == t.pid || q.pgid == t.pid
		if !mine && owner == "self" {
			mine = t.uid >= 0 && procUID(q.pid) == t.uid || !q.zombie && hasMarker(q.pid, t.marker)
		}
		if !mine || owner == "other" {
			continue
		}
		if q.zombie && q.ppid != self {
			continue // its parent reaps it
		}
		if q.zombie && live.procs[q.pid] != nil {
			continue // os/exec reaps it
		}
		victims = append(victims, q)
	}
	return victims, true
}
