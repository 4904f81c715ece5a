package gitstore

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/internal/gittest"
)

// yearRepo makes a bare repository whose branch holds a year of daily
// records, one commit per record, in monthly JSON Lines files: 365 lines
// of about 14 KB (200 rows each). It returns the repository's path and
// the bytes of the files at the tip.
func yearRepo(b *testing.B) (string, int) {
	b.Helper()
	root := b.TempDir()
	bare := gittest.MustBare(b, filepath.Join(root, "repo.git"))
	rng := rand.New(rand.NewPCG(1, 2))
	var stream bytes.Buffer
	months := map[string]*bytes.Buffer{}
	size := 0
	for day := range 365 {
		month := fmt.Sprintf("2026-%02d.jsonl", day*12/365+1)
		if months[month] == nil {
			months[month] = &bytes.Buffer{}
		}
		var line strings.Builder
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
		size += line.Len()
		months[month].WriteString(line.String())
		body := months[month].Bytes()
		fmt.Fprintf(&stream, "commit refs/heads/%s\ncommitter bench <b@example.com> %d +0000\ndata 6\nrecord\n", branch, 1767225600+day*86400)
		fmt.Fprintf(&stream, "M 644 inline %s\ndata %d\n%s\n", month, len(body), body)
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = bare
	cmd.Env = gittest.Env()
	cmd.Stdin = &stream
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("fast-import: %v: %s", err, out)
	}
	gittest.Must(b, bare, "repack", "-adq")
	b.Logf("repository: %s", strings.ReplaceAll(gittest.Must(b, bare, "count-objects", "-vH"), "\n", ", "))
	return bare, size
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
			cpu0 := childCPU(b)
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
			b.ReportMetric(float64((childCPU(b)-cpu0).Milliseconds())/float64(b.N), "git-cpu-ms/op")
			b.ReportMetric(float64(size), "files-B")
			if tc.name == "http" {
				b.ReportMetric(float64(sent.Load())/float64(b.N), "wire-B/op")
			}
		})
	}
}

// childCPU is the user and system time of this process's finished
// children.
func childCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
