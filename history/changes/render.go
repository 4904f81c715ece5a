package changes

import (
	"fmt"
	"strings"
	"time"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/history"
)

// DefaultMaxListed bounds the change points a summary lists; the rest are
// counted.
const DefaultMaxListed = 20

// SummaryOptions tune Summary.
type SummaryOptions struct {
	// MaxListed bounds the change points listed; zero is
	// DefaultMaxListed.
	MaxListed int
	// Series and Records are how much was analysed, said when nothing
	// new was found.
	Series, Records int
	// Known is how many change points the whole history holds, new or
	// not; the summary points to where they are listed.
	Known int
}

// Summary renders the new change points for a trusted run's job summary,
// worst first: a table (row, shift with its interval, p, before → after
// commits with the compare link) and, for each, the commands that confirm
// it in a folded block. With none it says so. Its size is bounded by
// MaxListed whatever the history holds; every name is escaped.
func Summary(cs []Change, opt SummaryOptions) string {
	if opt.MaxListed <= 0 {
		opt.MaxListed = DefaultMaxListed
	}
	var b strings.Builder
	b.WriteString("### 🔎 Change points since the previous run\n\n")
	if len(cs) == 0 {
		fmt.Fprintf(&b, "No new change point in %s of %s.", plural(opt.Series, "series", "series"), plural(opt.Records, "record", "records"))
		if opt.Known > 0 {
			fmt.Fprintf(&b, " The history holds %s found earlier; `go run %s@latest history` lists them.", plural(opt.Known, "change point", "change points"), Module)
		}
		b.WriteString("\n")
		return b.String()
	}
	b.WriteString("The history suspects, an interleaved run decides: each change point below is a persistent shift in this branch's records, " +
		"between the last record before it and the first after. Rerun the two commits interleaved (the commands under each) to confirm or refute it.\n\n")
	b.WriteString("| | Benchmark | Unit | Shift | 95% CI | p | Before → after |\n|:-:|:--|:--|--:|:-:|--:|:--|\n")
	listed := cs[:min(len(cs), opt.MaxListed)]
	for i, c := range listed {
		fmt.Fprintf(&b, "| %d | %s | %s | %s %s | %s | %s | %s |\n", i+1,
			mdName(c.Key), compare.Escape(c.Key.Unit),
			icon(c), bold(fmt.Sprintf("%+.1f%%", c.ShiftPct)), interval(c), formatP(c.PValue), commitRange(c))
	}
	if more := len(cs) - len(listed); more > 0 {
		fmt.Fprintf(&b, "\n…and %s, smaller; `go run %s@latest history` lists them all.\n", plural(more, "more change point", "more change points"), Module)
	}
	b.WriteString("\n")
	for i, c := range listed {
		fmt.Fprintf(&b, "<details><summary>%d. Confirm %s %s, %+.1f%%</summary>\n\n", i+1,
			mdName(c.Key), compare.Escape(c.Key.Unit), c.ShiftPct)
		if c.Command == "" {
			b.WriteString("No command: the record's commit ids or the benchmark's name cannot be put in one safely.\n\n</details>\n\n")
			continue
		}
		fmt.Fprintf(&b, "Measured on %s. Locally, both commits built and run in alternating rounds on one machine:\n\n", compare.Escape(c.Env))
		b.WriteString(fence(c.Command, "sh"))
		fmt.Fprintf(&b, "\nOr with the workflow (`workflow_dispatch` inputs `baseline` = `%s`, the commit before, and `head` = `%s`, the commit after):\n\n", c.Before.SHA, c.After.SHA)
		b.WriteString(fence(c.Dispatch, "sh"))
		b.WriteString("\n</details>\n\n")
	}
	return b.String()
}

// mdName is "package › name", escaped; the name alone when the report
// named no package.
func mdName(k history.Key) string {
	if k.Package == "" {
		return compare.Escape(k.Name)
	}
	return compare.Escape(k.Package) + " › " + compare.Escape(k.Name)
}

// icon marks a regression red and an improvement green.
func icon(c Change) string {
	if c.Regression() {
		return "🔴"
	}
	return "🟢"
}

func bold(s string) string { return "**" + s + "**" }

func interval(c Change) string {
	return fmt.Sprintf("%+.1f%% … %+.1f%%", c.Low, c.High)
}

// commitRange is "`before` → `after`" with the dates of the records,
// linked to the compare view when there is one. Commit ids are hex
// (checked by Validate when the history was read, and again here) and
// so need no escaping.
func commitRange(c Change) string {
	if !hexRE.MatchString(c.Before.SHA) || !hexRE.MatchString(c.After.SHA) {
		return "(bad commit id)"
	}
	s := fmt.Sprintf("`%s` → `%s`", short(c.Before.SHA), short(c.After.SHA))
	if c.CompareURL != "" {
		s = fmt.Sprintf("[%s](%s)", s, c.CompareURL)
	}
	return s + fmt.Sprintf(" (%s → %s)", day(c.Before), day(c.After))
}

// day is the date of a record's commit, or of its run when the commit
// time is unknown.
func day(r Run) string {
	t := r.CommitTime
	if t.IsZero() {
		t = r.RunTime
	}
	return t.UTC().Format(time.DateOnly)
}

// fence puts text in a fenced code block whose fence is longer than any
// run of backquotes in it, so that nothing in the text can close it.
func fence(text, lang string) string {
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	f := strings.Repeat("`", max(3, longest+1))
	return f + lang + "\n" + text + "\n" + f + "\n"
}

// Plain lists change points as plain text for a terminal, worst first:
// one line each, then the compare link and the two commands, indented.
// Names are kept on their line and free of control sequences.
func Plain(cs []Change) string {
	var b strings.Builder
	if len(cs) == 0 {
		b.WriteString("No change point in the history.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "%s, worst first (the history suspects, an interleaved run decides):\n\n", plural(len(cs), "change point", "change points"))
	for i, c := range cs {
		fmt.Fprintf(&b, "%d. %s %s: %+.1f%% [%+.1f%%, %+.1f%%] %s, p=%s\n", i+1, plainText(strings.TrimSpace(c.Key.Package+" "+c.Key.Name)),
			plainText(c.Key.Unit), c.ShiftPct, c.Low, c.High, c.word(), formatP(c.PValue))
		fmt.Fprintf(&b, "   %s (%s) -> %s (%s) on %s\n", plainText(short(c.Before.SHA)), day(c.Before), plainText(short(c.After.SHA)), day(c.After), plainText(c.Env))
		if c.CompareURL != "" {
			fmt.Fprintf(&b, "   compare:  %s\n", c.CompareURL)
		}
		if c.Command != "" {
			fmt.Fprintf(&b, "   confirm:  %s\n", c.Command)
			fmt.Fprintf(&b, "   dispatch: %s\n", c.Dispatch)
		}
	}
	return b.String()
}

// plainText keeps a hostile name on its line and free of terminal
// control sequences.
func plainText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return '?'
		}
		return r
	}, s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
