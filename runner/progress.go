package runner

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressEvery limits how often a line about finished runs is printed,
// so that a CI log stays readable.
const progressEvery = 5 * time.Second

// progress writes human-readable progress lines. It is used from one
// goroutine only.
type progress struct {
	w           io.Writer
	rounds      int
	total, done int // measured binary runs
	start, last time.Time
	now         func() time.Time
}

func newProgress(w io.Writer, rounds, total int) *progress {
	return &progress{w: w, rounds: rounds, total: total, now: time.Now}
}

// printf writes one line, its workflow commands neutralised.
func (p *progress) printf(format string, args ...any) {
	if p.w == nil {
		return
	}
	fmt.Fprint(p.w, neutralise(fmt.Sprintf(format, args...))+"\n")
}

// neutralise keeps text that may come from the benchmarked code (names,
// refs, messages) from being read as workflow commands by the Actions
// runner, which reads "::command::" at a line's start (after spaces) and
// the older "##[command]" anywhere in it.
func neutralise(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "::") {
			l = "> " + l
		}
		lines[i] = strings.ReplaceAll(l, "##[", "# #[")
	}
	return strings.Join(lines, "\n")
}

// begin marks the start of the measured rounds.
func (p *progress) begin() {
	p.start = p.now()
	p.last = p.start
}

// ran counts one measured run in round (1-based); it prints a line at the
// end of a round, or when the last line is old.
func (p *progress) ran(round int, endOfRound bool) {
	p.done++
	now := p.now()
	if !endOfRound && now.Sub(p.last) < progressEvery {
		return
	}
	p.last = now
	left := ""
	if p.done > 0 && p.done < p.total {
		per := now.Sub(p.start) / time.Duration(p.done)
		left = fmt.Sprintf(", ~%s left", roundDuration(per*time.Duration(p.total-p.done)))
	}
	p.printf("round %d/%d: %d/%d benchmark runs done%s", round, p.rounds, p.done, p.total, left)
}

// roundDuration keeps an estimate readable: whole seconds.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
