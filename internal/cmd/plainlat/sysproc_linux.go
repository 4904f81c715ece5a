package main

import "syscall"

// syscallTerm is the signal that asks a child to exit cleanly.
const syscallTerm = syscall.SIGTERM

// childAttr puts each child in a process group of its own, so that a
// terminal's Ctrl-C reaches this program only and it stops the children
// in order (botdb before its server), and has the kernel kill a child if
// this program dies without stopping it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
