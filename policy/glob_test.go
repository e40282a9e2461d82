package policy_test

import (
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/policy"
)

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		s, pattern string
		want       bool
	}{
		{"sales.orders", "sales.*", true},
		{"sales.orders", "sales.?rders", true},
		{"sales.orders", "sales.", false},
		{"raw/a/b.csv", "raw/*", false},
		{"raw/a/b.csv", "raw/**", true},
		{"raw/a/b.csv", "raw/**/*.csv", true},
		{"raw/b.csv", "raw/**/*.csv", false}, // ** then / needs a slash
		{"raw/b.csv", "raw/**.csv", true},
		{"raw/", "raw/*", true},
		{"", "*", true},
		{"", "", true},
		{"a", "", false},
		{"a*b", `a\*b`, true},
		{"axb", `a\*b`, false},
		{"a/b", "a?b", false},
		{"añb", "a?b", true},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "a*a*a*a*a*a*a*a*a*a*b", true},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "a*a*a*a*a*a*a*a*a*a*b", false},
		{"x/y/z", "**", true},
		{"x/y/z", "*/**", true},
		{"x", "***", true},
		{"x/y", "*", false},
		// Invalid UTF-8: each byte is itself, not U+FFFD.
		{"\x88", "\x80", false},
		{"\x80", "\x80", true},
		{"\uFFFD", "\x80", false},
		{"\x80", "\uFFFD", false},
		{"a\x80b", "a?b", true},
		{"raw/\xff\xfe.csv", "raw/*.csv", true},
	} {
		got, err := policy.Glob(tc.s, tc.pattern)
		if err != nil || got != tc.want {
			t.Errorf("Glob(%q, %q) = %v, %v; want %v", tc.s, tc.pattern, got, err, tc.want)
		}
	}
	if _, err := policy.Glob("x", strings.Repeat("a", 64)); err == nil {
		t.Error("a 64-element pattern should be refused")
	}
	if _, err := policy.Glob("x", strings.Repeat("a", 63)); err != nil {
		t.Errorf("a 63-element pattern should compile: %v", err)
	}
}

func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{{"raw/a/b.csv", "raw/**/*.csv"}, {"a*b", `a\*b`}, {"añb", "a?b"}, {"", "***"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, s, pattern string) {
		ok, err := policy.Glob(s, pattern)
		if err != nil {
			return
		}
		// A pattern without wildcards or escapes matches exactly itself.
		if !strings.ContainsAny(pattern, `*?\`) && ok != (s == pattern) {
			t.Fatalf("literal pattern %q vs %q: %v", pattern, s, ok)
		}
		// Any string matches itself when every wildcard is escaped. (Byte
		// by byte: invalid UTF-8 must stay as it is, and these three are
		// ASCII, never inside a multi-byte sequence.)
		var esc strings.Builder
		for i := range len(s) {
			if strings.IndexByte(`*?\`, s[i]) >= 0 {
				esc.WriteByte('\\')
			}
			esc.WriteByte(s[i])
		}
		if m, err := policy.Glob(s, esc.String()); err == nil && !m {
			t.Fatalf("escaped %q does not match itself", s)
		}
	})
}
