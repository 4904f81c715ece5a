package comment

import (
	"strings"
	"unicode/utf8"
)

// MaxBody is GitHub's limit on an issue comment body, in characters; a longer
// body is refused with 422. FitBody counts bytes, which is never fewer than
// characters, so a fitted body is always accepted.
const MaxBody = 65536

// MaxSummary is GitHub's limit on one step's job summary (1 MiB); a larger
// summary is dropped with an error annotation.
const MaxSummary = 1 << 20

// truncNote ends a body that FitBody had to cut.
const truncNote = "\n\n---\n_This report was cut to fit GitHub's size limit; the full report is in the job summary and the report artifact._\n"

// FitBody returns body unchanged when it is at most limit bytes long.
// Otherwise it cuts it at a line boundary, closes any code fence and
// <details> element left open so the rest of the page still renders, and
// appends a note saying so; the result is at most limit bytes and valid UTF-8.
func FitBody(body string, limit int) string {
	if limit <= 0 || len(body) <= limit {
		return body
	}
	if limit < len(truncNote)+64 {
		// Too small for a note: a plain cut at a character boundary.
		return cutRunes(body, limit)
	}
	budget := limit - len(truncNote)
	for budget > 0 {
		kept := cutLine(body, budget)
		closing := closers(kept)
		if len(kept)+len(closing) <= limit-len(truncNote) {
			return kept + closing + truncNote
		}
		budget -= len(closing)
	}
	return cutRunes(body, limit)
}

// cutLine returns the longest prefix of s of at most n bytes that ends at a
// line break, or at a character boundary when the last line break is far back
// (one huge line should not empty the body).
func cutLine(s string, n int) string {
	if len(s) <= n {
		return s
	}
	p := cutRunes(s, n)
	if i := strings.LastIndexByte(p, '\n'); i >= len(p)/2 {
		return p[:i+1]
	}
	return p
}

// cutRunes returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// closers returns the text that closes the code fence and <details>
// elements that md leaves open.
func closers(md string) string {
	fence := ""
	open := 0
	for line := range strings.Lines(md) {
		t := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == "" {
				fence = ""
			}
			continue
		}
		if f := fenceOf(t); f != "" {
			fence = f
			continue
		}
		lower := strings.ToLower(t)
		open += strings.Count(lower, "<details") - strings.Count(lower, "</details>")
	}
	var b strings.Builder
	if !strings.HasSuffix(md, "\n") && md != "" {
		b.WriteByte('\n')
	}
	if fence != "" {
		b.WriteString(fence + "\n")
	}
	for ; open > 0; open-- {
		b.WriteString("\n</details>\n")
	}
	return b.String()
}

// fenceOf returns the opening fence (``` or ~~~, three or more) that starts
// line t, or "".
func fenceOf(t string) string {
	for _, c := range []byte{'`', '~'} {
		n := 0
		for n < len(t) && t[n] == c {
			n++
		}
		if n >= 3 {
			return t[:n]
		}
	}
	return ""
}
