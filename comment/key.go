package comment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// MaxMatrixJSON bounds the matrix DefaultKey reads: a real matrix leg is a
// few short values.
const MaxMatrixJSON = 64 << 10

// DefaultKey returns the comment key of a job that sets no comment-key:
// "workflow/job", and for a leg of a matrix job its matrix values too, as
// in "bench/go (go=1.24, os=ubuntu-latest)", so that legs keep one comment
// each instead of overwriting one.
//
// matrixJSON is the job's matrix as the action's `matrix` input gets it,
// ${{ toJSON(matrix) }}: "null" outside a matrix, and "" where nobody set
// it (the local CLI); both give "workflow/job", the key jobs had before.
// Values are listed by sorted name, so the key does not depend on the order
// they are written in; strings appear as they are, quoted only if they
// could be mistaken for the separators, and other values as compact JSON.
//
// When matrixJSON is not a JSON object, DefaultKey returns "workflow/job"
// and an error to show as a warning: it names the fix, setting comment-key.
func DefaultKey(workflow, job, matrixJSON string) (string, error) {
	base := workflow + "/" + job
	vals, err := matrixValues(matrixJSON)
	if err != nil {
		return base, fmt.Errorf("reading the job's matrix (input \"matrix\"): %w; "+
			"if this is a matrix job, all its legs share the comment key %q and overwrite one comment: "+
			"set comment-key to a value unique to each leg, such as ${{ github.job }}-${{ strategy.job-index }}", err, base)
	}
	if len(vals) == 0 {
		return base, nil
	}
	return base + " (" + strings.Join(vals, ", ") + ")", nil
}

// matrixValues returns name=value for each matrix value, sorted by name;
// none outside a matrix.
func matrixValues(matrixJSON string) ([]string, error) {
	s := strings.TrimSpace(matrixJSON)
	if s == "" || s == "null" {
		return nil, nil
	}
	if len(s) > MaxMatrixJSON {
		return nil, fmt.Errorf("%d bytes, over the %d that a matrix leg needs", len(s), MaxMatrixJSON)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not a JSON object: text after the object")
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make([]string, 0, len(names))
	for _, k := range names {
		v, err := matrixValue(m[k])
		if err != nil {
			return nil, fmt.Errorf("value of %q: %w", k, err)
		}
		out = append(out, plain(k)+"="+v)
	}
	return out, nil
}

// matrixValue formats one value: a string as it is (see plain), anything
// else as compact JSON with sorted object keys.
func matrixValue(v any) (string, error) {
	if s, ok := v.(string); ok {
		return plain(s), nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// plain returns s, or s quoted when it is empty, has space at an end or
// holds a character of the key's own syntax, so that two different
// matrices never give the same key, or one that is not printable: a
// matrix value may come from a pull request, and a key shown in the log
// must stay on one line, where it cannot start a workflow command.
func plain(s string) string {
	if s == "" || strings.TrimSpace(s) != s || strings.ContainsAny(s, `,=()"`) ||
		strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}
