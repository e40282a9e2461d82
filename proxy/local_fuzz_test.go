package proxy

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzCarriesSecret: a value carrying a held secret, as written or
// percent-encoded as a query, a path or twice, inside anything, is always
// recognised; no value makes the check panic.
func FuzzCarriesSecret(f *testing.F) {
	f.Add("Cn4ry/p@ss:w+rd%42", "postgres://u:", "@db/x")
	f.Add("s3cr3t", "", "")
	f.Add("a%zz", "100%", "%")
	f.Add("\\x00ü", "\\", "+")
	f.Fuzz(func(t *testing.T, secret, before, after string) {
		if secret == "" {
			return
		}
		forms := secretForms([]string{secret})
		for _, v := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret), url.QueryEscape(url.QueryEscape(secret))} {
			if !carriesSecret(before+v+after, forms) {
				t.Fatalf("%q not recognised in %q", secret, before+v+after)
			}
		}
		_ = carriesSecret(before+after, forms) // must not panic
		if !strings.Contains(before+after, secret) && len(secret) > len(before+after)*3 {
			if carriesSecret(before+after, forms) {
				t.Fatalf("%q found in %q, which is too short to carry it", secret, before+after)
			}
		}
	})
}
