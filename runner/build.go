package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// listedPackage is the part of `go list -json` that the runner reads.
type listedPackage struct {
	ImportPath string
	Dir        string
}

// maxMessage bounds a compiler or go command message kept for the report.
const maxMessage = 8 << 10

// listPackages returns the packages matching patterns in the module at
// modDir that have benchmark functions in their test files. A module
// directory that does not exist (on the base side) has none.
func listPackages(ctx context.Context, env []string, modDir string, patterns []string) ([]listedPackage, error) {
	if _, err := os.Stat(modDir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	args := append([]string{"list", "-e", "-json=ImportPath,Dir"}, patterns...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = modDir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("go list: %s", tail(stderr.String(), maxMessage))
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(&stdout)
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading go list output: %w", err)
		}
		if p.Dir != "" && hasBenchmarks(p.Dir) {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs, nil
}

// hasBenchmarks reports whether a test file in dir declares a benchmark.
// It parses the files itself rather than trusting go list, so that a
// package whose test files do not even parse is built and its error shown;
// parsing (not a text search) keeps a benchmark quoted in a string, such as
// a test's fixture, from costing a test binary build.
func hasBenchmarks(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			return true // let go test -c report it
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && isBenchmarkName(fd.Name.Name) {
				return true
			}
		}
	}
	return false
}

// isBenchmarkName applies go test's rule: "Benchmark" alone, or followed
// by a character that is not a lower-case letter.
func isBenchmarkName(name string) bool {
	rest, ok := strings.CutPrefix(name, "Benchmark")
	if !ok {
		return false
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return rest == "" || !unicode.IsLower(r)
}

// buildTest compiles the test binary of pkg into bin. A compile error is
// returned as the go command's message with ok false.
func buildTest(ctx context.Context, env []string, modDir, importPath, bin string) (msg string, ok bool, err error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, importPath)
	cmd.Dir = modDir
	cmd.Env = env
	out, runErr := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return "", false, ctx.Err()
	}
	if runErr != nil {
		return tail(string(out), maxMessage), false, nil
	}
	if _, statErr := os.Stat(bin); statErr != nil {
		// go test -c writes nothing for a package without test files.
		return "", false, nil
	}
	return "", true, nil
}
