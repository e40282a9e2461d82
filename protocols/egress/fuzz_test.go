package egress_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/airlockproxy/airlock/protocols/egress"
)

// FuzzParseTarget: whatever the CONNECT target or URL authority, parsing
// does not panic, and what it accepts is canonical: a lower-case host with
// no brackets, port or spaces, a port in range, and a String form that
// parses back to the same target.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"example.com:443", "[::1]:80", "10.0.0.1:5432", "a:0", "[::ffff:1.2.3.4]:1", "x_y.internal.:65535", "127.1:80"} {
		f.Add(s, 0)
		f.Add(s, 443)
	}
	f.Fuzz(func(t *testing.T, in string, def int) {
		if def < 0 || def > 65535 {
			def = 0
		}
		got, err := egress.ParseTarget(in, def)
		if err != nil {
			return
		}
		if got.Host == "" || got.Port < 1 || got.Port > 65535 {
			t.Fatalf("ParseTarget(%q) = %+v", in, got)
		}
		if strings.ContainsAny(got.Host, "[]/@% \t\r\n") || strings.IndexFunc(got.Host, unicode.IsUpper) >= 0 || strings.HasSuffix(got.Host, ".") {
			t.Fatalf("ParseTarget(%q): host %q is not canonical", in, got.Host)
		}
		again, err := egress.ParseTarget(got.String(), 0)
		if err != nil || again != got {
			t.Fatalf("ParseTarget(%q) = %+v, but its String %q parses to %+v, %v", in, got, got.String(), again, err)
		}
	})
}
