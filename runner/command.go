package runner

import (
	"strconv"
	"strings"
)

// modulePath is the action's own module, run with go run to reproduce.
const modulePath = "github.com/natsbench/natsbench-action"

// reproduce returns the shell command that repeats this run locally,
// from the module directory of the checkout.
func reproduce(c Config, baseSHA string) string {
	args := []string{"go", "run", modulePath + "@latest"}
	if baseSHA != "" {
		args = append(args, "-baseline", baseSHA)
	}
	args = append(args,
		"-count", strconv.Itoa(c.Count),
	)
	if c.MinCount > 0 && c.MinCount < c.Count {
		args = append(args, "-min-count", strconv.Itoa(c.MinCount))
		if c.TimeBudget > 0 {
			args = append(args, "-time-budget", c.TimeBudget.String())
		}
	}
	args = append(args,
		"-benchtime", c.Benchtime,
		"-bench", c.Bench,
		"-packages", strings.Join(c.Packages, ","),
	)
	if !c.NATS {
		args = append(args, "-nats=false")
	}
	if c.Shard.Count > 0 {
		args = append(args, "-shard", c.Shard.String())
	}
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./,:=@+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
