package compare

import (
	"strings"
	"unicode"
)

// Zero-width characters used to defuse text without changing how it
// reads: a joiner after '@' stops @mentions (and e-mail autolinks); a
// space inside "://" and "www." stops autolinks.
const (
	zwj  = "\u200d"
	zwsp = "\u200b"
)

// Escape makes untrusted text (benchmark names, function names, refs)
// safe as inline markdown, including inside a table cell: it cannot start
// a table cell, HTML, a link or image, emphasis, a heading, a code span
// or fence, or notify anyone. Newlines and other control characters
// become spaces, so the text stays on its line.
func Escape(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for i, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '|':
			// An entity, not "\|": it can't be undone by a preceding backslash.
			b.WriteString("&#124;")
		case r == '@':
			b.WriteString("@" + zwj)
		case r == ':' && strings.HasPrefix(s[i:], "://"):
			b.WriteString(":" + zwsp)
		case r == '.' && i >= 3 && strings.EqualFold(s[i-3:i], "www"):
			b.WriteString(zwsp + ".")
		case strings.ContainsRune("\\`*_[](){}#!~$", r):
			// Backslash escapes are literal ASCII punctuation in CommonMark.
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\u2028' || r == '\u2029' || unicode.IsControl(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// defuseCommands keeps untrusted lines from being read as workflow
// commands where the markdown is printed to a job's log (the local CLI run
// in a workflow): the runner reads "::command::" at a line's start after
// white space, and the older "##[command]" anywhere. A zero-width space,
// which is not white space to the runner, goes before each, so the line
// reads the same.
func defuseCommands(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if t := strings.TrimLeftFunc(l, unicode.IsSpace); strings.HasPrefix(t, "::") {
			l = l[:len(l)-len(t)] + zwsp + t
		}
		lines[i] = strings.ReplaceAll(l, "##[", "##"+zwsp+"[")
	}
	return strings.Join(lines, "\n")
}

// Fence wraps untrusted multi-line text (compiler output, a panic) in a
// fenced code block that it cannot close: the fence is one backtick
// longer than the longest run of backticks in the text. Inside a code
// block nothing is markdown, HTML or a mention, and no line is a
// workflow command (see defuseCommands). The block starts and ends on a
// line of its own.
func Fence(s, info string) string {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.TrimRight(s, "\n")
	s = defuseCommands(s)
	// The info string is ours, but keep it to one safe word anyway.
	info = strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' {
			return r
		}
		return -1
	}, info)
	return fence + info + "\n" + s + "\n" + fence + "\n"
}
