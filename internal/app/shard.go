package app

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/runner"
)

// ShardSchema identifies the shard.json format: what a shard ran, so that
// a merge can check the shards belong together and say what is missing.
const ShardSchema = "natsbench/shard/v1"

// shardManifest is shard.json, written beside a shard's base.txt,
// head.txt and report.json.
type shardManifest struct {
	Schema string `json:"schema"`
	// Shard is "i/n"; Index and Count are its parts.
	Shard string      `json:"shard"`
	Index int         `json:"index"`
	Count int         `json:"count"`
	Base  compare.Ref `json:"base"`
	Head  compare.Ref `json:"head"`
	// Settings are those that must agree for results to be merged.
	Settings shardSettings `json:"settings"`
	// Benchmarks are the benchmarks this shard owned (top-level
	// functions; an empty name is a whole package).
	Benchmarks []runner.BenchmarkID `json:"benchmarks"`
	// Sizes is the number of benchmarks of every shard, so that a merge
	// can tell what a missing shard would have measured.
	Sizes []int `json:"sizes"`
	// Environment is the machine the shard ran on.
	Environment shardEnvironment `json:"environment"`
	// Error is why the run failed; its results are then absent.
	Error string `json:"error,omitempty"`
}

// shardSettings are the settings that shape results: shards measured
// with different ones are not one run.
type shardSettings struct {
	WorkingDirectory string   `json:"working_directory"`
	Packages         []string `json:"packages"`
	Bench            string   `json:"bench"`
	Count            int      `json:"count"`
	MinCount         int      `json:"min_count,omitempty"` // absent: count
	TimeBudget       string   `json:"time_budget,omitempty"`
	Benchtime        string   `json:"benchtime"`
	Timeout          string   `json:"timeout"`
	NATS             bool     `json:"nats"`
	Threshold        float64  `json:"threshold"`
	Alpha            float64  `json:"alpha"`
}

// shardEnvironment is where a shard ran.
type shardEnvironment struct {
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	CPU        string `json:"cpu"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
}

// shardDirName is the directory of shard i of n in an output-dir. Each
// shard writes into its own, so that artifacts downloaded into one
// directory (merge-multiple) do not overwrite each other's files.
func shardDirName(sh runner.Shard) string {
	return fmt.Sprintf("shard-%d-of-%d", sh.Index, sh.Count)
}

// shardOutputDir is where a run writes its files: the output-dir, or its
// shard's directory in it.
func shardOutputDir(cfg Config) string {
	if cfg.Run.Shard == (runner.Shard{}) {
		return cfg.OutputDir
	}
	return filepath.Join(cfg.OutputDir, shardDirName(cfg.Run.Shard))
}

// settingsOf records cfg's settings that must agree between shards.
func settingsOf(cfg Config) shardSettings {
	rec := cfg.record()
	return shardSettings{
		WorkingDirectory: cfg.WorkingDirectory,
		Packages:         cfg.Run.Packages,
		Bench:            cfg.Run.Bench,
		Count:            cfg.Run.Count,
		MinCount:         rec.MinCount,
		TimeBudget:       rec.TimeBudget,
		Benchtime:        cfg.Run.Benchtime,
		Timeout:          cfg.Run.Timeout.String(),
		NATS:             cfg.Run.NATS,
		Threshold:        cfg.Compare.Threshold,
		Alpha:            cfg.Compare.Alpha,
	}
}

// writeShard writes shard.json into dir for a run that produced res and
// r, or that failed with runErr (res and r nil).
func writeShard(dir string, cfg Config, res *runner.Result, r *compare.Report, runErr error) error {
	sh := cfg.Run.Shard
	m := shardManifest{
		Schema: ShardSchema, Shard: sh.String(), Index: sh.Index, Count: sh.Count,
		Settings:   settingsOf(cfg),
		Benchmarks: []runner.BenchmarkID{},
		Sizes:      []int{},
		Environment: shardEnvironment{
			GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, NumCPU: runtime.NumCPU(),
			GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		},
	}
	if res != nil && res.Shard != nil {
		m.Benchmarks, m.Sizes = res.Shard.Owned, res.Shard.Sizes
	}
	if r != nil {
		m.Base, m.Head = r.Base, r.Head
		e := r.Environment
		m.Environment.GOOS, m.Environment.GOARCH, m.Environment.CPU = e.GOOS, e.GOARCH, e.CPU
		if e.GoVersion != "" {
			m.Environment.GoVersion = e.GoVersion
		}
	}
	if runErr != nil {
		m.Error = runErr.Error()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing shard.json: %w", err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("writing shard.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "shard.json"), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing shard.json: %w", err)
	}
	return nil
}
