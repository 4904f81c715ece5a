package gitstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/natsbench/natsbench-action/internal/gittest"
	"github.com/natsbench/natsbench-action/internal/testutil"
)

// yearRepo makes a bare repository whose branch holds a year of daily
// records, one commit per record, in monthly JSON Lines files: 365 lines
// of about 14 KB (200 rows each). It returns the repository's path and
// the bytes of the files at the tip. Making its import stream (116 MB:
// every commit carries its month's file so far), importing and packing
// it took 4 s, which every benchmark process paid again: it is made once
// per machine and content (testutil.Cached, keyed by the records' hash
// and yearFormat) and only read.
func yearRepo(b *testing.B) (string, int) {
	b.Helper()
	lines := yearLines()
	h := sha256.New()
	h.Write([]byte(yearFormat))
	size := 0
	for _, l := range lines {
		h.Write(l)
		size += len(l)
	}
	dir := testutil.Cached(b, "gitstore-year-"+hex.EncodeToString(h.Sum(nil)[:8]), func(dir string) error {
		bare := gittest.MustBare(b, filepath.Join(dir, "repo.git"))
		cmd := exec.Command("git", "fast-import", "--quiet")
		cmd.Dir = bare
		cmd.Env = gittest.Env()
		cmd.Stdin = bytes.NewReader(yearStream(lines))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("fast-import: %v: %s", err, out)
		}
		gittest.Must(b, bare, "repack", "-adq")
		return nil
	})
	bare := filepath.Join(dir, "repo.git")
	b.Logf("repository: %s", strings.ReplaceAll(gittest.Must(b, bare, "count-objects", "-vH"), "\n", ", "))
	return bare, size
}

// yearFormat names how yearStream lays the records out in commits: change
// it with yearStream, so that the cached repository is made again.
const yearFormat = "daily commits, monthly files, v1"

// yearLines are the year's records, one JSON line a day.
func yearLines() [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	lines := make([][]byte, 365)
	for day := range lines {
		var line bytes.Buffer
		fmt.Fprintf(&line, `{"schema":"natsbench/history/v1","sha":"%040x","time":"2026-01-01T00:00:00Z","rows":[`, rng.Uint64())
		for row := range 200 {
			if row > 0 {
				line.WriteByte(',')
			}
			c := rng.Float64() * 1e6
			fmt.Fprintf(&line, `{"pkg":"p%d","name":"BenchmarkRow%d-4","unit":"sec/op","n":10,"center":%.6g,"low":%.6g,"high":%.6g}`,
				row%10, row, c, c*0.97, c*1.03)
		}
		line.WriteString("]}\n")
		lines[day] = line.Bytes()
	}
	return lines
}

// yearStream is the fast-import stream of the year: a commit a day that
// appends that day's line to its month's file.
func yearStream(lines [][]byte) []byte {
	var stream bytes.Buffer
	months := map[string][]byte{}
	for day, line := range lines {
		month := fmt.Sprintf("2026-%02d.jsonl", day*12/365+1)
		months[month] = append(months[month], line...)
		body := months[month]
		fmt.Fprintf(&stream, "commit refs/heads/%s\ncommitter bench <b@example.com> %d +0000\ndata 6\nrecord\n", branch, 1767225600+day*86400)
		fmt.Fprintf(&stream, "M 644 inline %s\ndata %d\n", month, len(body))
		stream.Write(body)
		stream.WriteByte('\n')
	}
	return stream.Bytes()
}

// countingWriter counts the bytes the server sends.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return w.ResponseWriter.Write(p)
}

// BenchmarkFetchYear reads a year of daily records: the cost of every
// run's read of the history.
func BenchmarkFetchYear(b *testing.B) {
	bare, size := yearRepo(b)
	var sent atomic.Int64
	git := gittest.HTTPHandler(b, filepath.Dir(bare), gittest.Read, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		git.ServeHTTP(countingWriter{w, &sent}, r)
	}))
	b.Cleanup(srv.Close)
	for _, tc := range []struct{ name, url string }{
		{"file", "file://" + bare},
		{"http", srv.URL + "/repo.git"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := Remote{URL: tc.url, Branch: branch}
			sent.Store(0)
			cpu0 := testutil.ChildCPUTime(b)
			base := b.TempDir()
			for i := 0; b.Loop(); i++ {
				dir := filepath.Join(base, strconv.Itoa(i))
				found, err := r.Fetch(b.Context(), dir)
				if err != nil || !found {
					b.Fatalf("Fetch: %v, %v", found, err)
				}
			}
			// CPU of git on both ends (all children of this process): a
			// figure that a loaded machine's wall time hides.
			b.ReportMetric(float64((testutil.ChildCPUTime(b)-cpu0).Milliseconds())/float64(b.N), "git-cpu-ms/op")
			b.ReportMetric(float64(size), "files-B")
			if tc.name == "http" {
				b.ReportMetric(float64(sent.Load())/float64(b.N), "wire-B/op")
			}
		})
	}
}
