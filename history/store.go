package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"time"
)

// RecordsDir is the directory of the branch that holds the records, one
// JSON Lines file per month of run time (records/2026-12.jsonl).
const RecordsDir = "records"

// Limits on what Load reads.
const (
	// MaxFileBytes bounds one records file; a larger one is skipped.
	MaxFileBytes = 32 << 20
	// MaxLineBytes bounds one record.
	MaxLineBytes = 4 << 20
	// MaxTotalBytes bounds everything Load reads; files past it are
	// skipped, newest kept.
	MaxTotalBytes = 256 << 20
	// MaxFiles bounds the records files read (a century of months).
	MaxFiles = 1200
)

var fileRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}\.jsonl$`)

// Warning is a part of the store that was skipped, and why. Warnings are
// values: the caller shows them; the good records are still loaded.
type Warning struct {
	File    string // relative to the store, e.g. records/2026-12.jsonl
	Line    int    // 0 when the whole file is meant
	Problem string
}

func (w Warning) Error() string {
	if w.Line > 0 {
		return fmt.Sprintf("history %s line %d skipped: %s", w.File, w.Line, w.Problem)
	}
	return fmt.Sprintf("history %s skipped: %s", w.File, w.Problem)
}

// History is the records of a store, oldest run first.
type History struct {
	Records []Record
}

// Load reads the records under dir (the checked-out history branch). A
// missing records directory is an empty history. Bad files and bad
// records are skipped and reported; the error is only for a directory
// that cannot be read at all.
func Load(dir string, now time.Time) (*History, []Warning, error) {
	root := filepath.Join(dir, RecordsDir)
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return &History{}, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading history: %w", err)
	}
	var files []fs.DirEntry
	var warns []Warning
	for _, e := range entries {
		rel := RecordsDir + "/" + e.Name()
		switch {
		case !fileRE.MatchString(e.Name()):
			if !e.IsDir() {
				warns = append(warns, Warning{File: rel, Problem: "not a records file (want YYYY-MM.jsonl)"})
			}
		case !e.Type().IsRegular():
			warns = append(warns, Warning{File: rel, Problem: "not a regular file"})
		default:
			files = append(files, e)
		}
	}
	// Newest first, so that the bounds keep the recent past.
	sort.Slice(files, func(i, j int) bool { return files[i].Name() > files[j].Name() })
	h := &History{}
	seen := map[string]bool{}
	total := 0
	for i, e := range files {
		rel := RecordsDir + "/" + e.Name()
		if i >= MaxFiles {
			warns = append(warns, Warning{File: rel, Problem: fmt.Sprintf("more than %d records files", MaxFiles)})
			continue
		}
		info, err := e.Info()
		if err != nil {
			warns = append(warns, Warning{File: rel, Problem: err.Error()})
			continue
		}
		if info.Size() > MaxFileBytes {
			warns = append(warns, Warning{File: rel, Problem: fmt.Sprintf("%d bytes, over %d", info.Size(), MaxFileBytes)})
			continue
		}
		if total+int(info.Size()) > MaxTotalBytes {
			warns = append(warns, Warning{File: rel, Problem: fmt.Sprintf("the history is over %d bytes", MaxTotalBytes)})
			continue
		}
		total += int(info.Size())
		recs, w, err := readFile(filepath.Join(root, e.Name()), rel, now)
		warns = append(warns, w...)
		if err != nil {
			warns = append(warns, Warning{File: rel, Problem: err.Error()})
			continue
		}
		for _, r := range recs {
			if seen[r.ID] {
				warns = append(warns, Warning{File: rel, Problem: fmt.Sprintf("record %s appears twice", r.ID)})
				continue
			}
			seen[r.ID] = true
			h.Records = append(h.Records, r)
		}
	}
	h.sort()
	return h, warns, nil
}

func (h *History) sort() {
	sort.SliceStable(h.Records, func(i, j int) bool {
		a, b := h.Records[i], h.Records[j]
		if !a.RunTime.Equal(b.RunTime) {
			return a.RunTime.Before(b.RunTime)
		}
		return a.ID < b.ID
	})
}

// readFile reads one records file. Lines are bounded; a bad line is a
// warning, not the loss of the file.
func readFile(path, rel string, now time.Time) ([]Record, []Warning, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var recs []Record
	var warns []Warning
	br := bufio.NewReaderSize(io.LimitReader(f, MaxFileBytes+1), 64<<10)
	for line := 1; ; line++ {
		b, long, err := readLine(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return recs, warns, err
		}
		switch {
		case long:
			warns = append(warns, Warning{File: rel, Line: line, Problem: fmt.Sprintf("over %d bytes", MaxLineBytes)})
			continue
		case len(bytes.TrimSpace(b)) == 0:
			continue
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			warns = append(warns, Warning{File: rel, Line: line, Problem: "not a record: " + clip(err.Error())})
			continue
		}
		if err := r.Validate(now); err != nil {
			warns = append(warns, Warning{File: rel, Line: line, Problem: err.Error()})
			continue
		}
		recs = append(recs, r)
	}
	return recs, warns, nil
}

// readLine returns the next line without its newline; a line longer than
// MaxLineBytes is drained and reported as long instead of buffered.
func readLine(br *bufio.Reader) (line []byte, long bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if !long {
			buf = append(buf, chunk...)
			if len(buf) > MaxLineBytes {
				long, buf = true, nil
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && (len(buf) > 0 || long):
			return bytes.TrimRight(buf, "\r\n"), long, nil
		case err != nil:
			return nil, false, err
		}
		return bytes.TrimRight(buf, "\r\n"), long, nil
	}
}

// Append adds rec to the store under dir unless a record with its ID is
// there already, then keeps only the newest keep records (0 keeps all).
// It is the mutation a history write makes on a fresh checkout of the
// branch, so it must give the same result however often it runs.
func Append(dir string, rec Record, keep int, now time.Time) (added bool, err error) {
	if err := rec.Validate(now); err != nil {
		return false, fmt.Errorf("history record: %w", err)
	}
	h, _, err := Load(dir, now)
	if err != nil {
		return false, err
	}
	if !slices.ContainsFunc(h.Records, func(r Record) bool { return r.ID == rec.ID }) {
		line, err := json.Marshal(rec)
		if err != nil {
			return false, fmt.Errorf("encoding history record: %w", err)
		}
		root := filepath.Join(dir, RecordsDir)
		if err := os.MkdirAll(root, 0o755); err != nil {
			return false, fmt.Errorf("writing history: %w", err)
		}
		name := filepath.Join(root, rec.RunTime.UTC().Format("2006-01")+".jsonl")
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return false, fmt.Errorf("writing history: %w", err)
		}
		_, werr := f.Write(append(line, '\n'))
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return false, fmt.Errorf("writing history: %w", werr)
		}
		added = true
		h.Records = append(h.Records, rec)
		h.sort()
	}
	if keep > 0 && len(h.Records) > keep {
		if err := prune(dir, h.Records[:len(h.Records)-keep]); err != nil {
			return added, err
		}
	}
	return added, nil
}

// prune removes the given records from their files, rewriting each file
// it touches and removing files left empty. Lines it cannot read are
// kept as they are: retention must not be what loses them.
func prune(dir string, old []Record) error {
	drop := map[string]bool{}
	months := map[string]bool{}
	for _, r := range old {
		drop[r.ID] = true
		months[r.RunTime.UTC().Format("2006-01")] = true
	}
	for m := range months {
		name := filepath.Join(dir, RecordsDir, m+".jsonl")
		b, err := os.ReadFile(name)
		if err != nil {
			return fmt.Errorf("pruning history: %w", err)
		}
		var out bytes.Buffer
		for _, line := range bytes.SplitAfter(b, []byte("\n")) {
			var id struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(line, &id) == nil && drop[id.ID] {
				continue
			}
			out.Write(line)
		}
		if len(bytes.TrimSpace(out.Bytes())) == 0 {
			err = os.Remove(name)
		} else {
			err = os.WriteFile(name, out.Bytes(), 0o644)
		}
		if err != nil {
			return fmt.Errorf("pruning history: %w", err)
		}
	}
	return nil
}
