package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
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

// maxListOutput bounds what go list may print: two short fields a package.
const maxListOutput = 64 << 20

// listPackages returns the packages matching patterns in the module at
// c.dir that have benchmark functions in their test files. A module
// directory that does not exist (on the base side) has none.
func listPackages(ctx context.Context, c command, patterns []string) ([]listedPackage, error) {
	if _, err := os.Stat(c.dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	args := append([]string{"list", "-e", "-json=ImportPath,Dir", "--"}, patterns...)
	stdout := &limitedBuffer{max: maxListOutput}
	stderr := &tailBuffer{n: maxMessage}
	c.stdout, c.out = stdout, stderr
	if r := c.run(ctx, "go", args...); r.err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		msg := stderr.String()
		if r.timedOut {
			msg = fmt.Sprintf("timed out after %s\n%s", c.timeout, msg)
		} else if msg == "" || errors.Is(r.err, errOutputTooLarge) {
			msg = strings.TrimSpace(r.err.Error() + "\n" + msg)
		}
		return nil, fmt.Errorf("go list: %s", msg)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(stdout.buf))
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
	names, ok := sourceBenchmarks(dir)
	return !ok || len(names) > 0 // a file that does not parse: let go test -c report it
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

// buildTest compiles the test binary of pkg into bin, in c.dir. A compile
// error is returned as the go command's message with ok false.
//
// Every go test -c of the runner passes -vet=off: a benchmark run is not
// a vet run, a vet finding would stop the package's benchmarks, and vet
// costs build time on every run.
func buildTest(ctx context.Context, c command, importPath, bin string) (msg string, ok bool, err error) {
	out := &tailBuffer{n: maxMessage}
	c.out = out
	// go list named it: an import path never starts with "-".
	r := c.run(ctx, "go", "test", "-c", "-vet=off", "-o", bin, importPath)
	if ctx.Err() != nil {
		return "", false, ctx.Err()
	}
	if r.err != nil {
		msg := out.String()
		if r.timedOut {
			msg = fmt.Sprintf("timed out after %s\n%s", c.timeout, msg)
		} else if msg == "" {
			msg = r.err.Error()
		}
		return msg, false, nil
	}
	if _, statErr := os.Stat(bin); statErr != nil {
		// go test -c writes nothing for a package without test files.
		return "", false, nil
	}
	return "", true, nil
}

// majorVersion is an import path's last element that go test -c may drop
// from a binary's name (example.com/m/v2 builds m.test).
var majorVersion = regexp.MustCompile(`^v[0-9]+$`)

// buildSides compiles each side's test binaries in one go command a side,
// both sides at once, and returns the targets it built. A go command
// loads and checks the dependencies once however many packages it
// builds: one command a side instead of one a package saved about a
// third of the build's CPU time on a two-package fixture. The targets it
// does not return are left to buildTest, one package a command: those
// whose binary names it cannot tell apart (two packages named alike, an
// import path ending in a major version), and those that failed, so that
// a package that does not compile gets its own message.
func (s *state) buildSides(ctx context.Context, targets []*target, binDir string) map[*target]bool {
	bySide := map[Side][]*target{}
	for _, t := range targets {
		bySide[t.side] = append(bySide[t.side], t)
	}
	built := map[*target]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for side, ts := range bySide {
		byName := map[string][]*target{}
		for _, t := range ts {
			if name := path.Base(t.pkg); !majorVersion.MatchString(name) {
				byName[name+".test"] = append(byName[name+".test"], t)
			}
		}
		names := map[*target]string{}
		var pkgs []string
		for name, same := range byName {
			if len(same) == 1 {
				names[same[0]] = name
				pkgs = append(pkgs, same[0].pkg)
			}
		}
		if len(pkgs) < 2 {
			continue // nothing to save
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := filepath.Join(binDir, string(side)+"-build")
			if !s.keepBins {
				defer os.RemoveAll(dir)
			}
			c := s.goCommand(ts[0].modDir)
			c.out = &tailBuffer{n: maxMessage}
			// go list named them: an import path never starts with "-".
			r := c.run(ctx, "go", append([]string{"test", "-c", "-vet=off", "-o", dir + string(filepath.Separator)}, pkgs...)...)
			if r.timedOut || ctx.Err() != nil {
				return // a binary may be half written
			}
			if s.keepBins && r.err != nil {
				// The directory may hold a failed package's binary of
				// an earlier run: build each package on its own.
				return
			}
			// A package that does not compile stops only its own
			// binary: the others are whole, written by this command
			// into a directory of this run's.
			mu.Lock()
			defer mu.Unlock()
			for t, name := range names {
				if placeBinary(filepath.Join(dir, name), t.bin, s.keepBins) == nil {
					built[t] = true
				}
			}
		}()
	}
	wg.Wait()
	return built
}

// placeBinary puts the binary built at from where the target runs it.
// Kept, it is linked rather than moved, so that the next go test -c
// finds it in place, up to date, and skips the link.
func placeBinary(from, to string, keep bool) error {
	if !keep {
		return os.Rename(from, to)
	}
	if _, err := os.Stat(from); err != nil {
		return err
	}
	_ = os.Remove(to)
	return os.Link(from, to) // on failure, buildTest builds it at to
}
