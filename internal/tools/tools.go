//go:build tools

// Package tools pins the versions of the tools that .ci/run runs with
// `go run`, so that CI uses the version recorded in go.sum.
package tools

import (
	_ "github.com/google/go-github/v60/github"
	_ "github.com/google/pprof/profile"
	_ "github.com/mattn/go-sqlite3"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "github.com/nats-io/nats.go/micro"
	_ "github.com/rhysd/actionlint/cmd/actionlint"
	_ "github.com/sethvargo/go-githubactions"
	_ "golang.org/x/perf/benchfmt"
	_ "golang.org/x/perf/benchmath"
	_ "golang.org/x/perf/benchproc"
	_ "golang.org/x/perf/benchunit"
	_ "golang.org/x/perf/cmd/benchstat"
)
