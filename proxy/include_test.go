package proxy_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/proxy"
)

// TestPolicyInclude: policy.include adds each named preset as a rule named
// preset.<name> after the file's rules; unknown or repeated names and rule
// names taking the preset. prefix are configuration errors.
func TestPolicyInclude(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown preset", "policy: {include: [housekeeping, catalog]}\n",
			`policy.include[1]: unknown preset "catalog" (known: housekeeping, catalog-metadata, s3-bucket-probes)`},
		{"repeated preset", "policy: {include: [s3-bucket-probes, s3-bucket-probes]}\n", `policy.include[1]: "s3-bucket-probes" is included twice`},
		{"reserved rule name", "policy: {rules: [{name: preset.mine, allow: 'true'}]}\n", `policy.rules[0].name: "preset.mine": the prefix "preset." is kept for policy.include`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := proxy.ParseConfig([]byte(tc.yaml), env(nil))
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}

	dealloc := policy.Request{Protocol: policy.ProtocolPostgres, SQL: policy.SQL{Kind: "deallocate", Kinds: []string{"deallocate"}, Command: "DEALLOCATE ALL", Text: "DEALLOCATE ALL"}}
	probe := policy.Request{Protocol: policy.ProtocolS3, S3: policy.S3{Action: "HeadBucket", Bucket: "lake"}}
	for _, tc := range []struct {
		include         string
		wantSQL, wantS3 []string
	}{
		{"", nil, nil},
		{"include: [housekeeping]", []string{"preset.housekeeping"}, nil},
		{"include: [housekeeping, s3-bucket-probes]", []string{"preset.housekeeping"}, []string{"preset.s3-bucket-probes"}},
	} {
		c, err := proxy.ParseConfig([]byte("policy: {"+tc.include+"}\n"), env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%q: %v", tc.include, err)
		}
		e, err := c.CompilePolicy()
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []struct {
			req  policy.Request
			want []string
		}{{dealloc, tc.wantSQL}, {probe, tc.wantS3}} {
			d := e.Decide(&x.req)
			if d.Allow != (x.want != nil) || !slices.Equal(d.Rules, x.want) {
				t.Errorf("%q, %s: allow=%v rules=%v, want rules %v", tc.include, x.req.Action(), d.Allow, d.Rules, x.want)
			}
		}
	}
}
