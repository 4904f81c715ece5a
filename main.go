// Command natsbench is the natsbench-action GitHub Action and its local
// command line: it benchmarks a Go repository's head against its
// baseline in interleaved rounds, compares them with benchstat's
// statistics and reports the significant changes. See README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/natsbench/natsbench-action/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		// app.ErrGate (fail-on-regression) exits 1 like any error.
		fmt.Fprintln(os.Stderr, "natsbench:", err)
		os.Exit(1)
	}
}

// run is the program without the process: main's only job is to exit.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return app.Run(ctx, args, getenv, stdout, stderr)
}
