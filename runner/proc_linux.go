package runner

import (
	"bytes"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// becomeSubreaper makes this process the parent of its descendants'
// orphans. Failing it, orphans go to init and only their session or
// process group finds them.
func becomeSubreaper() {
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// setNonDumpable makes this process's /proc files root's and closes it to
// ptrace by processes without CAP_SYS_PTRACE.
func setNonDumpable() error {
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}

// procInfo is one process of /proc.
type procInfo struct {
	pid, ppid, pgid, sid, uid int
	zombie                    bool
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

// readProc reads one process's stat and status; a process that is gone
// reads as not ok.
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
	p := procInfo{pid: pid, zombie: f[0] == "Z" || f[0] == "X", uid: -1}
	p.ppid, _ = strconv.Atoi(f[1])
	p.pgid, _ = strconv.Atoi(f[2])
	p.sid, _ = strconv.Atoi(f[3])
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return procInfo{}, false
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if u := strings.Fields(rest); len(u) > 0 {
				p.uid, _ = strconv.Atoi(u[0])
			}
			break
		}
	}
	return p, true
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
			mine = t.uid >= 0 && q.uid == t.uid || !q.zombie && hasMarker(q.pid, t.marker)
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
