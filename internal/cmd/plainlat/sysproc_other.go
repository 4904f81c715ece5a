//go:build !linux

package main

import (
	"os"
	"syscall"
)

// syscallTerm is the signal that asks a child to exit cleanly.
var syscallTerm os.Signal = syscall.SIGTERM

// childAttr has nothing to add outside Linux.
func childAttr() *syscall.SysProcAttr { return nil }
