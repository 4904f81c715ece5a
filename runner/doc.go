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
package runner
