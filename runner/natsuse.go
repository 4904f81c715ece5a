package runner

import (
	"bufio"
	"bytes"
	"go/scanner"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// natsVar is the variable that gives a benchmark its NATS server.
const natsVar = "NATS_URL"

// maxNATSDirs bounds the package directories one decision reads: the
// package's and those of the packages of its module it imports,
// transitively. Past it, the answer is yes.
const maxNATSDirs = 500

// natsNeed caches a target's answer: starting a NATS server for every
// run of a package that never reads NATS_URL costs each run its start-up
// and shutdown.
type natsNeed int8

const (
	natsUnknown natsNeed = iota
	natsYes
	natsNo
)

// needsNATS reports whether the target's package may read NATS_URL, from
// its source, as hasBenchmarks finds benchmarks: computed once a target.
func (t *target) needsNATS() bool {
	if t.nats == natsUnknown {
		t.nats = natsNo
		if usesNATS(t.modDir, t.dir) {
			t.nats = natsYes
		}
	}
	return t.nats == natsYes
}

// usesNATS reports whether a Go file of the package in dir, test file or
// not, or of a package of the same module that it imports (transitively),
// has a string literal containing NATS_URL. Comments do not count: a doc
// saying that a package does not use NATS_URL should not cost it a
// server. The rule is conservative where it cannot tell: a file it cannot
// read or scan, or too many packages, answer yes. It cannot see the name
// built at run time ("NATS_" + "URL") or read by a package of another
// module; such a benchmark finds NATS_URL empty.
func usesNATS(modDir, dir string) bool {
	modPath := modulePathOf(modDir)
	seen := map[string]bool{}
	queue := []string{dir}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if seen[d] {
			continue
		}
		seen[d] = true
		if len(seen) > maxNATSDirs {
			return true
		}
		mentions, imports, ok := scanPackageDir(d)
		if !ok || mentions {
			return true
		}
		if modPath == "" {
			continue
		}
		for _, imp := range imports {
			if rest, ok := strings.CutPrefix(imp, modPath+"/"); ok && rest != "" && path.Clean(rest) == rest && !strings.HasPrefix(rest, "../") {
				queue = append(queue, filepath.Join(modDir, filepath.FromSlash(rest)))
			}
		}
	}
	return false
}

// scanPackageDir reads the Go files in dir: whether a string literal in
// one mentions NATS_URL, and the import paths they name. ok is false when
// a file could not be read or scanned. A directory that does not exist
// (an import of a package elsewhere) has neither.
func scanPackageDir(dir string) (mentions bool, imports []string, ok bool) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return false, nil, true
	}
	if err != nil {
		return false, nil, false
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return false, nil, false
		}
		m, imps, ok := scanFile(src)
		if !ok || m {
			return m, nil, ok
		}
		imports = append(imports, imps...)
	}
	return false, imports, true
}

// scanFile finds, with Go's scanner (which skips comments), the string
// literals that mention NATS_URL and the import paths of one file.
func scanFile(src []byte) (mentions bool, imports []string, ok bool) {
	var s scanner.Scanner
	fset := token.NewFileSet()
	failed := false
	s.Init(fset.AddFile("", -1, len(src)), src, func(token.Position, string) { failed = true }, 0)
	inImport := false
	for {
		_, tok, lit := s.Scan()
		switch tok {
		case token.EOF:
			return false, imports, !failed
		case token.IMPORT:
			inImport = true
		case token.FUNC, token.TYPE, token.VAR, token.CONST:
			inImport = false
		case token.STRING, token.CHAR:
			v, err := strconv.Unquote(lit)
			if err != nil {
				v = lit
			}
			if strings.Contains(v, natsVar) {
				return true, nil, true
			}
			if inImport {
				imports = append(imports, v)
			}
		}
	}
}

// modulePathOf is the module path declared in dir's go.mod, "" if none.
func modulePathOf(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			if p, err := strconv.Unquote(strings.TrimSpace(rest)); err == nil {
				return p
			}
			return strings.TrimSpace(strings.SplitN(strings.TrimSpace(rest), "//", 2)[0])
		}
	}
	return ""
}
