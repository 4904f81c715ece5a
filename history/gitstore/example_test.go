package gitstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/natsbench/natsbench-action/history/gitstore"
)

// A writer appends its record unless the branch holds it already, so that
// a retry after a lost race adds it once; a refusal for permission is a
// warning, not a failure.
func ExampleRemote_Update() {
	ctx := context.Background()
	r := gitstore.Remote{
		URL:    "https://github.com/owner/repo.git",
		Branch: "natsbench-history",
		Token:  "the action's token",
	}
	record := []byte(`{"run":42}` + "\n")
	dir, _ := os.MkdirTemp("", "history-")
	defer os.RemoveAll(dir)
	res, err := r.Update(ctx, dir, "history: run 42", func(dir string) error {
		p := filepath.Join(dir, "2026-12.jsonl")
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if bytes.Contains(b, record) {
			return nil
		}
		return os.WriteFile(p, append(b, record...), 0o644)
	}, gitstore.UpdateOptions{})
	switch {
	case errors.Is(err, gitstore.ErrDenied):
		fmt.Printf("::warning::history not written: %v\n", err)
	case err != nil:
		fmt.Println("error:", err)
	default:
		fmt.Println("history at", res.Commit)
	}
}
