package compare

import (
	"strings"
	"testing"
)

const hostile = "BenchmarkX|<img src=x onerror=alert(1)>@octocat[link](http://e)"

func TestEscape(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"BenchmarkFoo/size=10-8", "BenchmarkFoo/size=10-8"},
		{hostile, "BenchmarkX&#124;&lt;img src=x onerror=alert\\(1\\)&gt;@" + zwj + "octocat\\[link\\]\\(http:" + zwsp + "//e\\)"},
		{"a & b", "a &amp; b"},
		{"&amp;", "&amp;amp;"},
		{"# heading", "\\# heading"},
		{"![img](x)", "\\!\\[img\\]\\(x\\)"},
		{"`code` **b** _i_ ~s~", "\\`code\\` \\*\\*b\\*\\* \\_i\\_ \\~s\\~"},
		{"line1\nline2\r\t|", "line1 line2  &#124;"},
		{"see www.evil.com", "see www" + zwsp + ".evil.com"},
		{"WWW.EVIL.COM", "WWW" + zwsp + ".EVIL.COM"},
		{"x@example.com", "x@" + zwj + "example.com"},
		{"back\\slash", "back\\\\slash"},
		{"<!-- natsbench-action -->", "&lt;\\!-- natsbench-action --&gt;"},
		{"µs ± 3%", "µs ± 3%"},
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// TestEscapeProperties checks what must never get through, whatever the input.
func TestEscapeProperties(t *testing.T) {
	inputs := []string{hostile, "@everyone", "a|b||c", "<script>alert(1)</script>", "[x](javascript:alert(1))", "https://evil.example/?q=1", "\x00\x1b[31mred", "```\n# h\n```"}
	for _, in := range inputs {
		got := Escape(in)
		for _, bad := range []string{"|", "<", ">", "](", "://", "\n", "```", "\x1b", "\x00"} {
			if strings.Contains(got, bad) {
				t.Errorf("Escape(%q) = %q contains %q", in, got, bad)
			}
		}
		if i := strings.Index(got, "@"); i >= 0 && !strings.HasPrefix(got[i+1:], zwj) {
			t.Errorf("Escape(%q) = %q leaves a mention", in, got)
		}
	}
}

func TestFence(t *testing.T) {
	tests := []struct {
		in, info, want string
	}{
		{"plain", "text", "```text\nplain\n```\n"},
		{"a ``` b\n", "text", "````text\na ``` b\n````\n"},
		{"`````\nx", "sh", "``````sh\n`````\nx\n``````\n"},
		{"crlf\r\nline\n\n", "", "```\ncrlf\nline\n```\n"},
		{"x", "text\n```<b>", "```textb\nx\n```\n"},
		// Printed to a job's log, no line may be a workflow command.
		{"::add-mask::x\n  ::set-env name=A::b\nok ##[error]y", "", "```\n\u200b::add-mask::x\n  \u200b::set-env name=A::b\nok ##\u200b[error]y\n```\n"},
	}
	for _, tt := range tests {
		if got := Fence(tt.in, tt.info); got != tt.want {
			t.Errorf("Fence(%q, %q)\n got %q\nwant %q", tt.in, tt.info, got, tt.want)
		}
	}
}
