package runner

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// buildParallelism is how many go test -c commands run at once; each
// already compiles in parallel, so more only thrashes a small machine.
const buildParallelism = 2

// maxFailureOutput bounds the output tail kept for a failed benchmark.
const maxFailureOutput = 4 << 10

// target is one package's test binary on one side.
type target struct {
	side   Side
	pkg    string // import path
	modDir string // module directory of the side
	dir    string // package directory: benchmarks may read testdata
	bin    string
	names  []string        // top-level benchmarks the pattern selects
	skip   map[string]bool // benchmarks that failed: not run again
	broken bool            // died before naming a benchmark: not run again
	nats   natsNeed        // whether its source may read NATS_URL (natsuse.go)

	// settled are the benchmarks a sequential run stopped: their results
	// are decided, not failed (profiled still, and never reported).
	settled map[string]bool
}

// active returns the selected benchmarks that have not failed.
func (t *target) active() []string {
	var out []string
	for _, n := range t.names {
		if !t.skip[n] {
			out = append(out, n)
		}
	}
	return out
}

// running returns the benchmarks that the rounds still run: those that
// have neither failed nor settled.
func (t *target) running() []string {
	var out []string
	for _, n := range t.active() {
		if !t.settled[n] {
			out = append(out, n)
		}
	}
	return out
}

// sideOutput accumulates one side's benchmark file.
type sideOutput struct {
	buf  bytes.Buffer
	last map[string]string // header values written last
	full bool              // passed maxResults: the rest is dropped
}

// state is one Run in progress. It is used from one goroutine, except
// for the builds, which write only their own targets.
type state struct {
	cfg      Config
	env      []string // the go command's and the test binaries' (git gets cfg.Env)
	sb       *sandbox // nil: the benchmarked code runs as this process's user
	out      map[Side]*sideOutput
	res      *Result
	failSeen map[string]bool
	prog     *progress
	shard    *shardState // nil unless cfg.Shard is set
	start    time.Time   // of the Run, for the time budget
	// keepBins: the test binaries sit in the baseline's stable directory
	// and stay there after the run, so that the next run's go test -c
	// finds them up to date and does not link again.
	keepBins bool
}

// Run benchmarks cfg.Dir's working tree against cfg.Baseline (or alone,
// when there is no baseline) and writes base.txt and head.txt into
// cfg.OutputDir. Benchmarks that fail and packages that do not build are
// reported in the Result, not as an error; an error means the run itself
// could not be done. On cancellation it stops its processes, removes the
// baseline worktree and returns ctx.Err().
func Run(ctx context.Context, cfg Config) (*Result, error) {
	start := time.Now()
	cfg = cfg.withDefaults()
	if err := checkShard(cfg.Shard); err != nil {
		return nil, err
	}
	env := cfg.Env
	if env == nil {
		env = os.Environ()
	}
	root, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolving dir: %w", err)
	}
	outDir, err := filepath.Abs(cfg.OutputDir)
	if err != nil {
		return nil, fmt.Errorf("resolving output dir: %w", err)
	}
	seed := cfg.Seed
	for seed == 0 {
		seed = rand.Int64()
	}
	s := &state{
		cfg:      cfg,
		env:      env,
		out:      map[Side]*sideOutput{Base: {last: map[string]string{}}, Head: {last: map[string]string{}}},
		res:      &Result{BaseRef: cfg.Baseline, Seed: seed},
		failSeen: map[string]bool{},
		prog:     newProgress(cfg.Progress, cfg.Count, 0),
		start:    start,
	}
	if cfg.Isolate {
		sb, err := newSandbox(cfg.GoCache, cfg.GoModCache)
		if err != nil {
			return nil, fmt.Errorf("isolating the benchmarks: %w", err)
		}
		defer sb.close()
		s.sb, s.env = sb, sb.env(env)
	}

	headSHA, headRef, err := headCommit(ctx, env, root)
	if err != nil && (cfg.Baseline != "" || ctx.Err() != nil) {
		return nil, fmt.Errorf("reading the head commit: %w", err)
	}
	// Without a baseline, a directory outside git is still benchmarked.
	s.res.HeadSHA, s.res.HeadRef = headSHA, headRef
	modDirs := map[Side]string{Head: filepath.Join(root, cfg.WorkDir)}
	if s.sb != nil {
		if err := s.sb.canRead(modDirs[Head]); err != nil {
			return nil, fmt.Errorf("isolating the benchmarks: %w", err)
		}
		if headSHA != "" {
			// The token that actions/checkout persists in .git/config.
			files, err := credentialFiles(ctx, env, root)
			if err != nil {
				return nil, fmt.Errorf("isolating the benchmarks: %w", err)
			}
			for _, f := range files {
				if err := s.sb.protect(f); err != nil {
					return nil, fmt.Errorf("isolating the benchmarks: %w", err)
				}
			}
		}
	}
	sides := []Side{Head}
	stableBins, baseWorktree := false, ""
	if cfg.Baseline != "" {
		sha, err := resolveCommit(ctx, env, root, cfg.Baseline)
		if err != nil {
			return nil, fmt.Errorf("resolving baseline: %w", err)
		}
		s.res.BaseSHA = sha
		if sha != cfg.Baseline {
			s.prog.printf("baseline %s is %s", cfg.Baseline, sha)
		}
		// The sandbox's user must reach the baseline: it keeps a
		// temporary directory, which it is given below.
		var wt string
		var remove func()
		if s.sb == nil {
			wt, remove, err = addStableWorktree(ctx, env, root, sha)
			stableBins = wt != ""
		}
		if wt == "" && err == nil {
			wt, remove, err = addWorktree(ctx, env, root, sha)
		}
		if err != nil {
			return nil, err
		}
		defer remove()
		if s.sb != nil {
			// The worktree's temporary parent is private to root.
			if err := os.Chmod(filepath.Dir(wt), 0o755); err != nil {
				return nil, fmt.Errorf("sharing the baseline with the benchmarks' user: %w", err)
			}
		}
		modDirs[Base] = filepath.Join(wt, cfg.WorkDir)
		baseWorktree = wt
		sides = []Side{Base, Head}
	}
	s.res.Command = reproduce(cfg, s.res.BaseSHA)

	binDir := ""
	if s.sb != nil {
		binDir = s.sb.bin
	} else if stableBins {
		// Beside the stable worktree, under its lock. Linking a test
		// binary took 0.3s of a two-package fixture's 1.4s build.
		binDir = filepath.Join(filepath.Dir(baseWorktree), "bin")
		if err := os.MkdirAll(binDir, 0o700); err != nil {
			return nil, fmt.Errorf("making the binary directory: %w", err)
		}
		s.keepBins = true
	} else {
		binDir, err = os.MkdirTemp("", "natsbench-bin-")
		if err != nil {
			return nil, fmt.Errorf("making the binary directory: %w", err)
		}
		defer os.RemoveAll(binDir)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("making the output directory: %w", err)
	}

	s.phase(PhaseCheckout, start)

	t := time.Now()
	targets, err := s.prepare(ctx, sides, modDirs, binDir)
	if err != nil {
		return nil, err
	}
	s.phase(PhaseBuild, t)
	t = time.Now()
	if err := s.rounds(ctx, sides, targets); err != nil {
		return nil, err
	}
	s.phase(PhaseRounds, t)

	s.res.HeadFile = filepath.Join(outDir, "head.txt")
	s.res.Head = s.out[Head].bytes()
	if cfg.Baseline != "" {
		s.res.BaseFile = filepath.Join(outDir, "base.txt")
		s.res.Base = s.out[Base].bytes()
	}
	if cfg.Profile {
		if profiled := s.toProfile(targets); len(profiled) > 0 {
			t = time.Now()
			if err := s.profile(ctx, profiled, filepath.Join(outDir, "profiles")); err != nil {
				return nil, err
			}
			s.phase(PhaseProfile, t)
		}
	}
	if err := os.WriteFile(s.res.HeadFile, s.res.Head, 0o644); err != nil {
		return nil, fmt.Errorf("writing head results: %w", err)
	}
	if cfg.Baseline != "" {
		if err := os.WriteFile(s.res.BaseFile, s.res.Base, 0o644); err != nil {
			return nil, fmt.Errorf("writing base results: %w", err)
		}
	}
	s.res.Elapsed = time.Since(start)
	s.prog.printf("done in %s (%s)", roundDuration(s.res.Elapsed), phaseList(s.res.Phases))
	return s.res, nil
}

// phase records that the phase name ran from start until now.
func (s *state) phase(name string, start time.Time) {
	s.res.Phases = append(s.res.Phases, Phase{Name: name, Elapsed: time.Since(start)})
}

// phaseList says where the time went: "checkout 0.1s, build 2.3s, ...".
func phaseList(phases []Phase) string {
	parts := make([]string, len(phases))
	for i, p := range phases {
		parts[i] = fmt.Sprintf("%s %.1fs", p.Name, p.Elapsed.Seconds())
	}
	return strings.Join(parts, ", ")
}

// prepare lists, builds and lists the benchmarks of every package on
// every side, and returns the targets that have benchmarks to run,
// sorted by package then side.
func (s *state) prepare(ctx context.Context, sides []Side, modDirs map[Side]string, binDir string) ([]*target, error) {
	// The sides' go list commands run at once: each mostly waits on
	// its own start-up and the file system.
	type listed struct {
		pkgs []listedPackage
		err  error
	}
	lists := make([]listed, len(sides))
	var wg sync.WaitGroup
	for i, side := range sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pkgs, err := listPackages(ctx, s.goCommand(modDirs[side]), s.cfg.Packages)
			lists[i] = listed{pkgs, err}
		}()
	}
	wg.Wait()
	var targets []*target
	for i, side := range sides {
		pkgs, err := lists[i].pkgs, lists[i].err
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			s.res.BuildErrors = append(s.res.BuildErrors, BuildError{
				Side: side, Package: strings.Join(s.cfg.Packages, " "), Output: err.Error(),
			})
			continue
		}
		for _, p := range pkgs {
			targets = append(targets, &target{
				side: side, pkg: p.ImportPath, modDir: modDirs[side], dir: p.Dir,
				bin:  filepath.Join(binDir, fmt.Sprintf("%s-%03d.test", side, len(targets))),
				skip: map[string]bool{}, settled: map[string]bool{},
			})
		}
	}
	if s.cfg.Shard.Count > 0 {
		targets = s.shardTargets(targets)
	}
	s.prog.printf("building %d test binaries", len(targets))

	type outcome struct {
		buildMsg string
		failure  *Failure
		err      error
	}
	outcomes := make([]outcome, len(targets))
	built := s.buildSides(ctx, targets, binDir)
	sem := make(chan struct{}, buildParallelism)
	for i, t := range targets {
		if built[t] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			msg, ok, err := buildTest(ctx, s.goCommand(t.modDir), t.pkg, t.bin)
			if err != nil || !ok {
				outcomes[i] = outcome{buildMsg: msg, err: err}
				t.broken = true
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.sb != nil {
		// Every build is done before any benchmarked code runs, and the
		// binaries become root's: the head's code cannot rewrite the
		// base's binary, nor a build in progress.
		if err := s.sb.seal(); err != nil {
			return nil, fmt.Errorf("isolating the benchmarks: %w", err)
		}
	}
	// The binaries answer -test.list at once: each run mostly waits on
	// its own start-up. Each writes only its own target and outcome, so
	// what follows sees them in the targets' order.
	atOnce(len(targets), runtime.NumCPU(), func(i int) {
		t := targets[i]
		if t.broken {
			return
		}
		names, f, err := s.listBenchmarks(ctx, t)
		outcomes[i] = outcome{failure: f, err: err}
		t.names = names
	})
	s.keepOwned(targets)
	var ready []*target
	for i, t := range targets {
		o := outcomes[i]
		switch {
		case o.err != nil:
			return nil, o.err
		case o.buildMsg != "":
			s.res.BuildErrors = append(s.res.BuildErrors, BuildError{Side: t.side, Package: t.pkg, Output: o.buildMsg})
		case o.failure != nil:
			s.addFailure(*o.failure)
		case !t.broken && len(t.names) > 0:
			ready = append(ready, t)
		}
	}
	sort.SliceStable(ready, func(i, j int) bool { return ready[i].pkg < ready[j].pkg })
	return ready, nil
}

// goCommand is how the go command runs in dir: as the sandbox's user
// when there is one, under the build timeout.
func (s *state) goCommand(dir string) command {
	return command{dir: dir, env: s.env, timeout: s.cfg.BuildTimeout, sandbox: s.sb}
}

// listBenchmarks asks a built binary for its benchmarks and keeps those
// that the pattern selects.
func (s *state) listBenchmarks(ctx context.Context, t *target) ([]string, *Failure, error) {
	var names []string
	out := &tailBuffer{n: maxFailureOutput}
	lw := &lineWriter{
		line: func(line string) {
			fmt.Fprintln(out, line)
			if line = strings.TrimSpace(line); strings.HasPrefix(line, "Benchmark") && !strings.ContainsAny(line, " \t") &&
				len(line) <= maxName && len(names) < maxNames {
				names = append(names, line)
			}
		},
		long: func(n int) {
			fmt.Fprintf(out, "[a line of %d bytes, over the %d-byte limit, was dropped]\n", n, maxLine)
		},
	}
	r, err := s.runBinary(ctx, t, lw, "-test.list=^Benchmark")
	if err != nil {
		return nil, nil, err
	}
	lw.flush()
	if r.err != nil {
		return nil, &Failure{Side: t.side, Package: t.pkg, Reason: "failed", Output: failureOutput(r, s.cfg.Timeout, out.String())}, nil
	}
	return selectBenchmarks(s.cfg.Bench, names), nil, nil
}

// failureOutput is what a failure says of a run that did not succeed:
// its output's tail, and why it was stopped if it was.
func failureOutput(r procResult, timeout time.Duration, outTail string) string {
	var exit *exec.ExitError
	switch {
	case r.timedOut:
		return fmt.Sprintf("timed out after %s, stopped with SIGQUIT\n%s", timeout, outTail)
	case errors.Is(r.err, errOutputTooLarge):
		return fmt.Sprintf("stopped: %v\n%s", r.err, outTail)
	case r.err != nil && !errors.As(r.err, &exit):
		// It did not even start.
		return strings.TrimSpace(outTail + "\n" + r.err.Error())
	}
	return outTail
}

// runBinary runs a target's test binary in its package directory, with a
// fresh NATS server of its own when asked for and its source may read
// NATS_URL, its output streamed to out.
func (s *state) runBinary(ctx context.Context, t *target, out io.Writer, args ...string) (procResult, error) {
	env := s.env
	if s.cfg.NATS && t.needsNATS() {
		url, stop, err := StartNATS(ctx)
		if err != nil {
			return procResult{}, err
		}
		defer stop()
		env = append(slices.Clip(env), "NATS_URL="+url)
	}
	c := command{dir: t.dir, env: env, timeout: s.cfg.Timeout, quit: true, sandbox: s.sb, out: out}
	r := c.run(ctx, t.bin, args...)
	if err := ctx.Err(); err != nil {
		return r, err
	}
	return r, nil
}

// benchArgs are the flags of one measured run.
func (s *state) benchArgs(pattern string) []string {
	return []string{
		"-test.run=^$",
		"-test.bench=" + pattern,
		"-test.benchmem",
		"-test.count=1",
		"-test.benchtime=" + s.cfg.Benchtime,
		// -test.timeout does not cover benchmarks, the command's timeout
		// does; it is passed for a TestMain that runs tests anyway.
		"-test.timeout=" + s.cfg.Timeout.String(),
	}
}

// rounds runs cfg.Count rounds; in each, every package runs once per
// side, the sides in an order drawn at random for the round: half the
// rounds start with base, half with head (see balancedOrders). A
// sequential run (cfg.MinCount below cfg.Count) asks cfg.Settle after
// each round from MinCount on which benchmarks to stop, and ends when
// none is left or, past MinCount, when the time budget is spent.
func (s *state) rounds(ctx context.Context, sides []Side, targets []*target) error {
	orders := balancedOrders(rand.New(rand.NewPCG(uint64(s.res.Seed), 0)), sides, s.cfg.Count)
	s.prog.total = s.cfg.Count * len(targets)
	s.prog.begin()
	for round := 1; round <= s.cfg.Count; round++ {
		if round > s.cfg.MinCount && s.cfg.TimeBudget > 0 && time.Since(s.start) >= s.cfg.TimeBudget {
			s.res.BudgetSpent = true
			s.prog.printf("time budget of %s spent after %d rounds: no more rounds", s.cfg.TimeBudget, round-1)
			break
		}
		order := orders[round-1]
		s.res.Orders = append(s.res.Orders, order)
		var runs []*target
		for _, side := range order {
			for _, t := range targets {
				if t.side == side {
					runs = append(runs, t)
				}
			}
		}
		// Keep a package's base and head runs next to each other, in
		// the round's order: drift between them is then smallest.
		sort.SliceStable(runs, func(i, j int) bool { return runs[i].pkg < runs[j].pkg })
		for i, t := range runs {
			if !t.broken && len(t.running()) > 0 {
				if err := s.measure(ctx, t); err != nil {
					return err
				}
			}
			s.prog.ran(round, i == len(runs)-1)
		}
		s.res.Rounds = round
		if s.cfg.sequential() && round >= s.cfg.MinCount && round < s.cfg.Count {
			left, err := s.settle(ctx, round, targets)
			if err != nil {
				return err
			}
			if left == 0 {
				break
			}
		}
	}
	return nil
}

// settle asks cfg.Settle which benchmarks to stop after round and stops
// them on both sides; it returns how many benchmarks are still running.
func (s *state) settle(ctx context.Context, round int, targets []*target) (int, error) {
	var base []byte
	if s.cfg.Baseline != "" {
		base = s.out[Base].bytes()
	}
	ids, err := s.cfg.Settle(ctx, round, base, s.out[Head].bytes())
	if err != nil {
		return 0, fmt.Errorf("deciding which benchmarks are settled after round %d: %w", round, err)
	}
	stop := map[BenchmarkID]bool{}
	for _, id := range ids {
		stop[id] = true
	}
	var newly []string
	left, recorded := map[BenchmarkID]bool{}, map[BenchmarkID]bool{}
	for _, t := range targets {
		if t.broken {
			continue
		}
		for _, n := range t.running() {
			id := BenchmarkID{Package: t.pkg, Name: n}
			if !stop[id] {
				left[id] = true
				continue
			}
			t.settled[n] = true
			if !recorded[id] { // once for both sides
				recorded[id] = true
				s.res.Settled = append(s.res.Settled, SettledBenchmark{BenchmarkID: id, Rounds: round})
				newly = append(newly, strings.TrimPrefix(n, "Benchmark"))
			}
		}
	}
	if len(newly) > 0 {
		s.prog.printf("round %d: %d settled (%s), %d still running", round, len(newly), strings.Join(newly, ", "), len(left))
	}
	return len(left), nil
}

// balancedOrders draws the order of the sides for each of count rounds.
// Rather than a coin flip per round, it shuffles a sequence in which each
// side goes first equally often (one more for an odd count): running
// first or second can matter (caches, frequency, the previous process),
// and ten coin flips are lopsided too often to cancel that out.
func balancedOrders(rng *rand.Rand, sides []Side, count int) [][]Side {
	orders := make([][]Side, count)
	for i := range orders {
		orders[i] = slices.Clone(sides)
		if i%2 == 1 {
			slices.Reverse(orders[i])
		}
	}
	if count%2 == 1 && rng.IntN(2) == 1 {
		slices.Reverse(orders[count-1])
	}
	rng.Shuffle(count, func(i, j int) { orders[i], orders[j] = orders[j], orders[i] })
	return orders
}

// measure runs one target once. A benchmark that fails is reported and
// not run again; when one kills the binary, the benchmarks after it are
// run in a new process, so that one bad benchmark costs no others.
func (s *state) measure(ctx context.Context, t *target) error {
	pending := t.running()
	for len(pending) > 0 {
		pattern := s.cfg.Bench
		// A shard names its benchmarks exactly: the user's pattern
		// would also run the other shards'.
		if len(pending) != len(t.names) || s.shard != nil {
			pattern = narrowPattern(s.cfg.Bench, pending)
		}
		p := newOutputParser()
		r, err := s.runBinary(ctx, t, p, s.benchArgs(pattern)...)
		if err != nil {
			return err
		}
		o := p.finish()
		s.record(t, o)
		for _, f := range o.failed {
			s.addFailure(Failure{Side: t.side, Package: t.pkg, Benchmark: reportName(f), Reason: "failed", Output: o.failText[f]})
			t.skip[topLevel(f)] = true
		}
		if o.tooMany || o.longOutside != "" {
			// Output that cannot be read whole is not trusted further.
			msg := o.longOutside
			if o.tooMany {
				msg = fmt.Sprintf("printed more than %d MiB of results in one run", maxResults>>20)
			}
			s.addFailure(Failure{Side: t.side, Package: t.pkg, Reason: "failed", Output: msg + "\n" + o.tail})
			t.broken = true
			return nil
		}
		outTail := o.tail
		if o.crashText != "" {
			outTail = o.crashText
		}
		outTail = failureOutput(r, s.cfg.Timeout, outTail)
		tooLarge := errors.Is(r.err, errOutputTooLarge)
		if r.err == nil || !(o.crashed || r.timedOut || tooLarge || len(o.failed) == 0) {
			return nil
		}
		reason := "failed"
		switch {
		case r.timedOut:
			reason = "timeout"
		case o.crashed:
			reason = "panic"
		}
		if o.started == "" {
			s.addFailure(Failure{Side: t.side, Package: t.pkg, Reason: reason, Output: outTail})
			t.broken = true
			return nil
		}
		s.addFailure(Failure{Side: t.side, Package: t.pkg, Benchmark: reportName(o.started), Reason: reason, Output: outTail})
		t.skip[topLevel(o.started)] = true
		var next []string
		for _, n := range pending {
			if !t.skip[n] && !o.completed[n] {
				next = append(next, n)
			}
		}
		pending = next
	}
	return nil
}

// record appends a run's results to its side's file, preceded by the
// configuration lines that changed; pkg is always the target's own.
// Past maxResults on a side, results are dropped, as a failure.
func (s *state) record(t *target, o runOutput) {
	if len(o.results) == 0 {
		return
	}
	so := s.out[t.side]
	size := 0
	for _, l := range o.results {
		size += len(l) + 1
	}
	if so.full || so.buf.Len()+size > maxResults {
		so.full = true
		s.addFailure(Failure{Side: t.side, Package: t.pkg, Reason: "failed",
			Output: fmt.Sprintf("the results of the %s side passed %d MiB: the rest were dropped", t.side, maxResults>>20)})
		return
	}
	for _, k := range headerKeys {
		v := o.headers[k]
		if k == "pkg" {
			v = t.pkg
		}
		if v != "" && so.last[k] != v {
			fmt.Fprintf(&so.buf, "%s: %s\n", k, v)
			so.last[k] = v
		}
	}
	for _, l := range o.results {
		so.buf.WriteString(l)
		so.buf.WriteByte('\n')
	}
}

// bytes returns the side's file; never nil: a nil Base means "no
// baseline" to package compare, and a side that produced no result is not that.
func (so *sideOutput) bytes() []byte {
	if b := so.buf.Bytes(); b != nil {
		return b
	}
	return []byte{}
}

// addFailure records f unless the same benchmark already failed the
// same way on the same side.
func (s *state) addFailure(f Failure) {
	key := strings.Join([]string{string(f.Side), f.Package, f.Benchmark, f.Reason}, "\x00")
	if s.failSeen[key] {
		return
	}
	s.failSeen[key] = true
	s.res.Failures = append(s.res.Failures, f)
}

// maxProfile bounds a CPU profile copied out of the sandbox.
const maxProfile = 256 << 20

// copyOut copies a file that the sandbox's user wrote to dst, which the
// runner's user owns.
func (s *state) copyOut(src, dst string) error {
	in, err := s.sb.openOwned(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.LimitReader(in, maxProfile)); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// maxProfileData bounds a CPU profile's decompressed size: the profile
// parser holds it whole, and the benchmark could write a gzip bomb.
const maxProfileData = 16 << 20

// profileSmall reports whether the profile at path decompresses to at
// most maxProfileData bytes, reading it as a stream.
func profileSmall(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return false
		}
		r = gz
	}
	n, err := io.Copy(io.Discard, io.LimitReader(r, maxProfileData+1))
	return err == nil && n <= maxProfileData
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// toProfile returns the targets of the packages that cfg.ProfileOnly
// names, all of them when it is nil, each with the benchmarks to run.
func (s *state) toProfile(targets []*target) []profileRun {
	var want map[string][]string
	if s.cfg.ProfileOnly != nil {
		want = map[string][]string{}
		for _, p := range s.cfg.ProfileOnly(s.res) {
			want[p.Package] = append(want[p.Package], p.Benchmarks...)
		}
	}
	var out []profileRun
	for _, t := range targets {
		names, ok := want[t.pkg]
		if want != nil && !ok {
			continue
		}
		active := t.active()
		if t.broken || len(active) == 0 {
			continue
		}
		var picked []string
		for _, n := range active {
			if slices.Contains(names, n) {
				picked = append(picked, n)
			}
		}
		if len(picked) == 0 {
			picked = active
		}
		out = append(out, profileRun{t, picked})
	}
	return out
}

// profileRun is one profile run: a target and the benchmarks it runs.
type profileRun struct {
	t     *target
	bench []string
}

// profile runs every target once more, unmeasured, with a CPU profile,
// and keeps each profile's hotspots, in the targets' order. A profile is
// not a measurement, so the runs go at once, as many as there are CPUs.
// A run that fails here was reported by the measured rounds already, so
// it is only skipped.
func (s *state) profile(ctx context.Context, targets []profileRun, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("making the profile directory: %w", err)
	}
	s.prog.printf("profiling %d test binaries", len(targets))
	hot := make([][]Hotspot, len(targets))
	errs := make([]error, len(targets))
	atOnce(len(targets), runtime.NumCPU(), func(i int) {
		hot[i], errs[i] = s.profileOne(ctx, targets[i].t, targets[i].bench, dir)
	})
	for i := range targets {
		if errs[i] != nil {
			return errs[i]
		}
		s.res.Hotspots = append(s.res.Hotspots, hot[i]...)
	}
	return nil
}

// profileOne runs one target with a CPU profile into dir and returns its
// hotspots; an error only when the run could not be done at all.
func (s *state) profileOne(ctx context.Context, t *target, bench []string, dir string) ([]Hotspot, error) {
	file := filepath.Join(dir, string(t.side)+"-"+unsafeFileChars.ReplaceAllString(t.pkg, "_")+".pprof")
	written := file
	if s.sb != nil {
		// The user writes where it may; the runner copies it out.
		written = filepath.Join(s.sb.scratch, filepath.Base(file))
	}
	args := s.benchArgs(narrowPattern(s.cfg.Bench, bench))
	if _, err := s.runBinary(ctx, t, io.Discard, append(args, "-test.cpuprofile="+written)...); err != nil {
		return nil, err
	}
	if s.sb != nil {
		if err := s.copyOut(written, file); err != nil {
			return nil, nil
		}
	}
	if !profileSmall(file) {
		return nil, nil
	}
	hot, err := hotspots(file, t.side, t.pkg)
	if err != nil {
		return nil, nil
	}
	return hot, nil
}

// atOnce calls f(i) for every i from 0 to n-1, at most limit calls at a
// time, and returns when all have returned.
func atOnce(n, limit int, f func(i int)) {
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}
