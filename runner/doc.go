// Package runner benchmarks a Go module at two commits, the head (the
// working tree) and a baseline (checked out in a temporary git worktree),
// the way benchstat advises: it builds one test binary per package per
// side once, then runs them in interleaved rounds whose base/head order is
// chosen at random, so drift on a shared machine hits both sides alike.
//
// It keeps the output in Go's benchmark format (base.txt, head.txt), so
// that package compare or the benchstat command can read it, and reports
// benchmarks that failed, packages that did not build and, optionally, the
// CPU hotspots of each package.
//
// The benchmarked code is untrusted (a pull request's). With
// Config.Isolate, as the action sets it when it runs as root in its
// container, the go commands and test binaries run as an unprivileged user
// with their own home, caches and temporary directory, and cannot read
// this process's environment or the checkout's git credentials. Every
// command runs under a timeout in its own session, and its whole process
// tree is killed after it. Output is parsed as it streams, within fixed
// bounds, so no benchmark can exhaust the runner's memory.
package runner
