package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/outcome"
	"github.com/natsbench/natsbench-action/runner"
)

// Limits on what a merge reads. Shard outputs are artifacts of runs of a
// pull request's code: every byte of them is untrusted.
const (
	// maxManifestBytes bounds a shard.json (100,000 benchmark names).
	maxManifestBytes = 16 << 20
	// maxRawBytes bounds a base.txt or head.txt.
	maxRawBytes = 64 << 20
	// maxMergedBytes bounds the raw results of all shards together, so
	// that many shards cannot make a merge run out of memory.
	maxMergedBytes = 512 << 20
	// maxShardDirs bounds the directories a merge looks into.
	maxShardDirs = 4 * runner.MaxShards
	// maxShardWord bounds a CPU name and the like from a manifest.
	maxShardWord = 256
	// maxShardError bounds a failed shard's error as the report shows it.
	maxShardError = 1 << 10
)

// shardData is one shard's output, read and checked.
type shardData struct {
	dir        string
	m          shardManifest
	base, head []byte
	report     *compare.Report
}

// merged is a merge's report and what it found on the way.
type merged struct {
	report *compare.Report
	// lost are the shards whose benchmarks are not in the report.
	lost []compare.ShardRun
}

// mergeShards reads the shard outputs that patterns (directories or
// globs) name and computes one report from their raw results, exactly as
// if one machine had measured them all: compare sees the shards' samples
// together, so the Benjamini-Hochberg correction spans every row. The
// benchmarks a sequential shard stopped at a look keep that look's
// decisions (stoppedRows).
// Missing and failed shards are named in the report; shards of different
// commits, settings or splits are refused.
func mergeShards(patterns []string) (*merged, error) {
	dirs, err := findShardDirs(patterns)
	if err != nil {
		return nil, err
	}
	var shards []*shardData
	total := 0
	for _, d := range dirs {
		s, err := readShard(d)
		if err != nil {
			return nil, err
		}
		if total += len(s.base) + len(s.head); total > maxMergedBytes {
			return nil, fmt.Errorf("merging shards: the raw results are larger than %d bytes in all", maxMergedBytes)
		}
		shards = append(shards, s)
	}
	if err := agree(shards); err != nil {
		return nil, err
	}
	sort.Slice(shards, func(i, j int) bool { return shards[i].m.Index < shards[j].m.Index })

	n := shards[0].m.Count
	byIndex := map[int]*shardData{}
	for _, s := range shards {
		byIndex[s.m.Index] = s
	}
	sizes := shards[0].m.Sizes
	for _, s := range shards {
		if len(s.m.Sizes) == n {
			sizes = s.m.Sizes
			break
		}
	}
	var runs []compare.ShardRun
	var ok []*shardData
	for i := 1; i <= n; i++ {
		run := compare.ShardRun{Shard: runner.Shard{Index: i, Count: n}.String(), Status: compare.ShardMissing}
		if len(sizes) == n {
			run.Benchmarks = sizes[i-1]
		}
		if s := byIndex[i]; s != nil {
			run.CPU = s.m.Environment.CPU
			if s.m.Error != "" {
				run.Status, run.Error = compare.ShardFailed, s.m.Error
			} else {
				run.Status = compare.ShardMerged
				run.Benchmarks = len(s.m.Benchmarks)
				ok = append(ok, s)
			}
		}
		runs = append(runs, run)
	}
	var lost []compare.ShardRun
	for _, r := range runs {
		if r.Lost() {
			lost = append(lost, r)
		}
	}
	if len(ok) == 0 {
		var why []string
		for _, r := range lost {
			why = append(why, r.LostText())
		}
		return nil, fmt.Errorf("merging shards: no shard has results: %s", strings.Join(why, "; "))
	}

	first := ok[0]
	in := compare.Input{
		BaseName: "base.txt (all shards)", HeadName: "head.txt (all shards)",
		BaseRef: first.m.Base, HeadRef: first.m.Head,
		Options: compare.Options{Alpha: first.m.Settings.Alpha, Threshold: first.m.Settings.Threshold,
			// The shards' looks: each shard stopped its benchmarks by them.
			Plan: compare.Plan{MinRounds: first.m.Settings.MinCount, MaxRounds: first.m.Settings.Count}},
		Config: compare.Config{
			Packages: first.m.Settings.Packages, Bench: first.m.Settings.Bench,
			Count: first.m.Settings.Count, Benchtime: first.m.Settings.Benchtime,
			MinCount: first.m.Settings.MinCount, TimeBudget: first.m.Settings.TimeBudget,
		},
		// Each shard's command reproduces the shard; without -shard it
		// reproduces the whole run.
		Command: strings.Replace(first.report.Command, " -shard "+first.m.Shard, "", 1),
	}
	var head bytes.Buffer
	var base *bytes.Buffer
	if first.m.Base.SHA != "" {
		base = &bytes.Buffer{}
	}
	failSeen, buildSeen, hotSeen := map[outcome.Failure]bool{}, map[[2]string]bool{}, map[[3]string]bool{}
	for _, s := range ok {
		appendRaw(&head, s.head)
		if base != nil {
			appendRaw(base, s.base)
			in.Stopped = append(in.Stopped, stoppedRows(s, in.Options.Plan)...)
		}
		// A package split over two shards is built, and may fail, in
		// both: one record is enough.
		for _, f := range s.report.Failures {
			k := f
			k.Output = ""
			if !failSeen[k] {
				failSeen[k] = true
				in.Failures = append(in.Failures, f)
			}
		}
		for _, b := range s.report.BuildErrors {
			if k := [2]string{string(b.Side), b.Package}; !buildSeen[k] {
				buildSeen[k] = true
				in.BuildErrors = append(in.BuildErrors, b)
			}
		}
		for _, h := range s.report.Hotspots {
			if k := [3]string{string(h.Side), h.Package, h.Function}; !hotSeen[k] {
				hotSeen[k] = true
				in.Hotspots = append(in.Hotspots, h)
			}
		}
	}
	in.Head = head.Bytes()
	if base != nil {
		in.Base = append([]byte{}, base.Bytes()...)
	}
	in.Created = time.Now()
	r, err := compare.Compute(in)
	if err != nil {
		return nil, fmt.Errorf("merging shards: %w", err)
	}
	attribute(r, ok)
	r.Shards = runs
	return &merged{report: r, lost: lost}, nil
}

// stoppedRows are the rows of the benchmarks that s's looks stopped, as
// its report gives them, so that the merge keeps the looks' decisions as
// one machine's run keeps its own: recomputed with every shard's rows in
// the correction, a row stopped as a change could come out unchanged. Only
// the shard's own benchmarks count; compare keeps a row only if it fits
// the row's samples, which the shard's raw results give the merge.
func stoppedRows(s *shardData, plan compare.Plan) []compare.Row {
	owned := map[compare.BenchmarkRef]bool{}
	for _, id := range s.m.Benchmarks {
		owned[compare.BenchmarkRef{Package: id.Package, Name: id.Name}] = true
	}
	var out []compare.Row
	for _, r := range compare.StoppedRows(s.report, plan) {
		if owned[compare.BenchmarkRef{Package: r.Package, Name: compare.TopLevel(r.Name)}] {
			out = append(out, r)
		}
	}
	return out
}

// appendRaw appends one shard's raw results, on a line of their own.
func appendRaw(b *bytes.Buffer, data []byte) {
	if b.Len() > 0 && !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
		b.WriteByte('\n')
	}
	b.Write(data)
}

// procsSuffix is the -GOMAXPROCS suffix go test adds to names.
var procsSuffix = regexp.MustCompile(`-\d+$`)

// attribute names on every row the shard that measured it and its CPU:
// the shard whose raw results hold the row's benchmark, else (a failed
// row has no results) the shard that owned its top-level benchmark.
func attribute(r *compare.Report, shards []*shardData) {
	type key struct{ pkg, name string }
	byResult := map[key]*shardData{}
	byOwner := map[key]*shardData{}
	for _, s := range shards {
		for _, data := range [][]byte{s.base, s.head} {
			for k := range resultNames(data) {
				byResult[key{k[0], k[1]}] = s
			}
		}
		for _, id := range s.m.Benchmarks {
			byOwner[key{id.Package, strings.TrimPrefix(id.Name, "Benchmark")}] = s
		}
		for _, f := range s.report.Failures {
			top, _, _ := strings.Cut(f.Benchmark, "/")
			if _, ok := byOwner[key{f.Package, top}]; !ok {
				byOwner[key{f.Package, top}] = s
			}
		}
	}
	for i := range r.Benchmarks {
		row := &r.Benchmarks[i]
		s := byResult[key{row.Package, row.Name}]
		if s == nil {
			top, _, _ := strings.Cut(row.Name, "/")
			top = procsSuffix.ReplaceAllString(top, "")
			if s = byOwner[key{row.Package, top}]; s == nil {
				s = byOwner[key{row.Package, ""}]
			}
		}
		if s != nil {
			row.Shard, row.CPU = s.m.Shard, s.m.Environment.CPU
		}
	}
}

// resultNames lists the (package, name) of every result line in raw
// benchmark output, the name as compare's rows show it (without
// "Benchmark", with the -GOMAXPROCS suffix).
func resultNames(data []byte) map[[2]string]bool {
	out := map[[2]string]bool{}
	pkg := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if name, ok := strings.CutPrefix(line, "Benchmark"); ok {
			if f := strings.Fields(name); len(f) > 1 {
				out[[2]string{pkg, f[0]}] = true
			}
		}
	}
	return out
}

// findShardDirs resolves the patterns to the directories that hold a
// shard.json: a pattern's match itself, or its subdirectories (where
// actions/download-artifact puts several artifacts).
func findShardDirs(patterns []string) ([]string, error) {
	seen := map[string]bool{}
	var dirs []string
	add := func(d string) error {
		abs, err := filepath.Abs(d)
		if err != nil {
			return fmt.Errorf("resolving %s: %w", d, err)
		}
		if seen[abs] {
			return nil
		}
		seen[abs] = true
		if len(dirs) >= maxShardDirs {
			return fmt.Errorf("more than %d shard directories", maxShardDirs)
		}
		dirs = append(dirs, abs)
		return nil
	}
	isShard := func(d string) bool {
		fi, err := os.Lstat(filepath.Join(d, "shard.json"))
		return err == nil && fi.Mode().IsRegular()
	}
	for _, p := range patterns {
		matches, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("report %q: %w", p, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("report %q: no such file or directory", p)
		}
		found := false
		for _, m := range matches {
			fi, err := os.Lstat(m)
			switch {
			case err != nil:
				return nil, fmt.Errorf("report %q: %w", p, err)
			case !fi.IsDir():
				if filepath.Base(m) == "shard.json" && fi.Mode().IsRegular() {
					found = true
					if err := add(filepath.Dir(m)); err != nil {
						return nil, err
					}
				}
				continue
			case isShard(m):
				found = true
				if err := add(m); err != nil {
					return nil, err
				}
				continue
			}
			entries, err := os.ReadDir(m)
			if err != nil {
				return nil, fmt.Errorf("report %q: %w", p, err)
			}
			for _, e := range entries {
				// Symbolic links are not followed: an artifact must not
				// point the merge at files outside it.
				if sub := filepath.Join(m, e.Name()); e.IsDir() && e.Type()&os.ModeSymlink == 0 && isShard(sub) {
					found = true
					if err := add(sub); err != nil {
						return nil, err
					}
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("report %q: no shard output (shard.json) there or in its subdirectories", p)
		}
	}
	return dirs, nil
}

// readFile reads a regular file of at most limit bytes; symbolic links
// and larger files are refused.
func readFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", filepath.Base(path))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", filepath.Base(path), limit)
	}
	return data, nil
}

// readShard reads and checks one shard's output directory.
func readShard(dir string) (*shardData, error) {
	s := &shardData{dir: dir}
	fail := func(err error) (*shardData, error) {
		return nil, fmt.Errorf("reading the shard output in %s: %w", dir, err)
	}
	data, err := readFile(filepath.Join(dir, "shard.json"), maxManifestBytes)
	if err != nil {
		return fail(err)
	}
	if err := json.Unmarshal(data, &s.m); err != nil {
		return fail(fmt.Errorf("shard.json: %w", err))
	}
	if err := checkManifest(&s.m); err != nil {
		return fail(fmt.Errorf("shard.json: %w", err))
	}
	if s.m.Error != "" {
		return s, nil
	}
	if s.head, err = readFile(filepath.Join(dir, "head.txt"), maxRawBytes); err != nil {
		return fail(err)
	}
	if s.m.Base.SHA != "" {
		if s.base, err = readFile(filepath.Join(dir, "base.txt"), maxRawBytes); err != nil {
			return fail(err)
		}
	}
	// compare's rules for an untrusted report.json.
	data, err = readFile(filepath.Join(dir, "report.json"), compare.MaxReportBytes)
	if err != nil {
		return fail(err)
	}
	if s.report, err = compare.ReadJSON(bytes.NewReader(data)); err != nil {
		return fail(err)
	}
	return s, nil
}

// shaPattern is a git object name, as a manifest must give its commits.
var shaPattern = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})?$`)

// checkManifest validates a shard.json as untrusted input, and cuts its
// free text to size.
func checkManifest(m *shardManifest) error {
	var errs []error
	bad := func(format string, args ...any) {
		if len(errs) < 10 {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	if m.Schema != ShardSchema {
		// The text is the artifact's: say only that it is wrong.
		return fmt.Errorf("schema is not %q", ShardSchema)
	}
	if m.Count < 1 || m.Count > runner.MaxShards || m.Index < 1 || m.Index > m.Count {
		return fmt.Errorf("shard %d/%d is not i/n with 1 <= i <= n <= %d", m.Index, m.Count, runner.MaxShards)
	}
	if want := (runner.Shard{Index: m.Index, Count: m.Count}).String(); m.Shard != want {
		bad("shard does not say %s", want)
	}
	for _, ref := range []compare.Ref{m.Base, m.Head} {
		if !shaPattern.MatchString(ref.SHA) {
			bad("a commit is not a hexadecimal object name")
		}
		if len(ref.Ref) > maxShardWord {
			bad("a ref is over %d bytes", maxShardWord)
		}
	}
	if m.Head.SHA == "" && m.Error == "" {
		bad("no head commit")
	}
	if len(m.Sizes) != m.Count && !(m.Error != "" && len(m.Sizes) == 0) {
		bad("sizes has %d entries for %d shards", len(m.Sizes), m.Count)
	}
	for _, n := range m.Sizes {
		if n < 0 || n > compare.MaxRows {
			bad("a size is not between 0 and %d", compare.MaxRows)
			break
		}
	}
	if len(m.Benchmarks) > compare.MaxRows {
		bad("benchmarks has %d entries, over %d", len(m.Benchmarks), compare.MaxRows)
	}
	for _, id := range m.Benchmarks {
		if len(id.Package) > 4096 || len(id.Name) > 4096 {
			bad("a benchmark name is over 4096 bytes")
			break
		}
	}
	if len(m.Sizes) == m.Count && m.Error == "" && len(m.Benchmarks) != m.Sizes[m.Index-1] {
		// A shard may own more than the split gave it (a benchmark the
		// source did not show), never fewer.
		if len(m.Benchmarks) < m.Sizes[m.Index-1] {
			bad("owns %d benchmarks, its split gave it %d", len(m.Benchmarks), m.Sizes[m.Index-1])
		}
	}
	if len(m.Environment.CPU) > maxShardWord || len(m.Environment.GoVersion) > maxShardWord ||
		len(m.Environment.GOOS) > maxShardWord || len(m.Environment.GOARCH) > maxShardWord {
		bad("environment names are over %d bytes", maxShardWord)
	}
	if s := m.Settings; len(s.Packages) > 1000 || len(s.Bench) > 4096 || len(s.Benchtime) > maxShardWord ||
		len(s.Timeout) > maxShardWord || len(s.WorkingDirectory) > 4096 {
		bad("settings are over their bounds")
	}
	if s := m.Settings; s.MinCount != 0 && (s.MinCount < MinMinCount || s.MinCount >= s.Count || s.Count > MaxSequentialCount) ||
		len(s.TimeBudget) > maxShardWord {
		// The looks' boundaries are computed for every round up to count.
		bad("settings min_count %d and count %d are not a sequential run's (%d <= min_count < count <= %d)", s.MinCount, s.Count, MinMinCount, MaxSequentialCount)
	}
	if len(m.Error) > maxShardError {
		m.Error = strings.ToValidUTF8(m.Error[:maxShardError], "") + "…"
	}
	return errors.Join(errs...)
}

// agree refuses shards that are not parts of one run: another shard
// count, other commits, other settings, or the same shard twice.
func agree(shards []*shardData) error {
	if len(shards) == 0 {
		return errors.New("merging shards: no shard outputs")
	}
	ref := shards[0]
	seen := map[int]*shardData{}
	for _, s := range shards {
		if o := seen[s.m.Index]; o != nil {
			return fmt.Errorf("merging shards: shard %s is in both %s and %s", s.m.Shard, o.dir, s.dir)
		}
		seen[s.m.Index] = s
		if s.m.Count != ref.m.Count {
			return fmt.Errorf("merging shards: shard %s and shard %s are of different splits (%d and %d shards)", ref.m.Shard, s.m.Shard, ref.m.Count, s.m.Count)
		}
		if s.m.Error != "" || ref.m.Error != "" {
			// A failed shard may not know its commits: only its
			// settings are compared.
		} else if s.m.Base.SHA != ref.m.Base.SHA || s.m.Head.SHA != ref.m.Head.SHA {
			return fmt.Errorf("merging shards: shards of different commits: shard %s measured head %s against base %s, shard %s head %s against base %s",
				ref.m.Shard, short(ref.m.Head.SHA), short(ref.m.Base.SHA), s.m.Shard, short(s.m.Head.SHA), short(s.m.Base.SHA))
		}
		if d := settingsDiff(ref.m.Settings, s.m.Settings); len(d) > 0 {
			return fmt.Errorf("merging shards: shards of different settings: shard %s and shard %s differ in %s", ref.m.Shard, s.m.Shard, strings.Join(d, ", "))
		}
		if len(ref.m.Sizes) == ref.m.Count && len(s.m.Sizes) == s.m.Count && !slices.Equal(ref.m.Sizes, s.m.Sizes) {
			return fmt.Errorf("merging shards: shard %s and shard %s split the benchmarks differently (sizes %v and %v): did they see the same packages?", ref.m.Shard, s.m.Shard, ref.m.Sizes, s.m.Sizes)
		}
	}
	return nil
}

// settingsDiff names the settings in which a and b differ.
func settingsDiff(a, b shardSettings) []string {
	var d []string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			name, _, _ := strings.Cut(va.Type().Field(i).Tag.Get("json"), ",")
			d = append(d, name)
		}
	}
	return d
}

// short is a commit's abbreviation in messages; "none" for no commit.
func short(sha string) string {
	if sha == "" {
		return "none"
	}
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// mergeAction is ModeMerge in the action: merge the shards' outputs and
// publish one report, comment included. It runs no benchmark code, so it
// may run where the token can write (workflow_run for forks). As in post
// mode, nothing in the artifacts decides where the comment goes: the pull
// request comes from GitHub's event, or from GitHub's API for the
// workflow_run's head.
func mergeAction(ctx context.Context, a *githubactions.Action, cfg Config, env ghEnv, ev event) error {
	var patterns []string
	for _, p := range cfg.Shards {
		patterns = append(patterns, env.path(p))
	}
	m, err := mergeShards(patterns)
	if err != nil {
		a.Errorf("input \"report\": %v", err)
		return fmt.Errorf("input \"report\": %w", err)
	}
	for _, l := range m.lost {
		a.Warningf("%s", compare.Escape(l.LostText()))
	}
	r := m.report
	p := newActionPublisher(a, cfg, env)
	if ev.Run != nil {
		// workflow_run: the run that made the shards is the one to link.
		p.runURL = ev.RunURL
	} else {
		r.RunURL = env.runURL()
		if ev.isPR() {
			r.Extra = map[string]string{"pr_number": strconv.Itoa(ev.PR)}
		}
	}
	p.history = useHistory(ctx, a, cfg, env, ev, env.path(cfg.WorkingDirectory), r, time.Now())
	if cfg.Comment && (ev.isPR() || ev.Run != nil) {
		p.comment = commentOn(ctx, a, cfg, env, ev)
	}
	return finish(ctx, a, cfg, p, r)
}

// runMerge is `merge [flags] DIR...`: the merge on the command line,
// printing the report.
func runMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("natsbench merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	outDir := fs.String("output-dir", DefaultOutputDir, "directory for the merged report.json and report.md")
	failOn := fs.Bool("fail-on-regression", false, "exit with status 1 if anything regressed, failed on head, was removed, did not build or a shard is lost")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: natsbench merge [-output-dir DIR] [-fail-on-regression] DIR...\n\nEach DIR (or glob) is a shard's output directory (OUTPUT-DIR/shard-i-of-n of\n`natsbench -shard i/n`) or a directory holding several. The shards' raw results\nare compared together, as if one machine had run them all.\n\nFlags:")
		fs.PrintDefaults()
	}
	if help, err := parseFlags(fs, args, "merge: "); help || err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("merge: want at least one shard directory")
	}
	m, err := mergeShards(fs.Args())
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	for _, l := range m.lost {
		fmt.Fprintln(stderr, "natsbench: warning:", compare.Escape(l.LostText()))
	}
	cfg := Config{OutputDir: *outDir, FailOnRegression: *failOn}
	p := &publisher{dir: cfg.OutputDir, stdout: stdout}
	out, warnings := p.publish(ctx, m.report)
	if len(warnings) > 0 {
		return errors.Join(warnings...)
	}
	fmt.Fprintf(stderr, "natsbench: %d regressions, %d improvements; report in %s\n", out.Regressions, out.Improvements, out.ReportMarkdown)
	return gate(cfg, m.report)
}
