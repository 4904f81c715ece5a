// Command renderaction points an action.yml at a published image: the
// release workflow runs it (through scripts/release-action-yml.sh) on the
// release commit. Usage: renderaction IMAGE FILE, where IMAGE is
// ghcr.io/<owner>/natsbench-action:X.Y.Z or ...@sha256:<digest>; FILE is
// rewritten in place.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/natsbench/natsbench-action/internal/release"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "renderaction:", err)
		os.Exit(1)
	}
}

// run is the command without the process.
func run(args []string, stdout io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: renderaction IMAGE FILE, got %d arguments", len(args))
	}
	image, path := args[0], args[1]
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	out, err := release.Render(src, image)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "%s: runs.image is docker://%s\n", path, image)
	return nil
}
