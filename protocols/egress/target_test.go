package egress_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/airlockproxy/airlock/protocols/egress"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in      string
		def     int
		want    egress.Target
		wantErr error
	}{
		{"example.com:443", 0, egress.Target{Host: "example.com", Port: 443}, nil},
		{"Bucket.S3.EU-West-1.AmazonAWS.com.:443", 0, egress.Target{Host: "bucket.s3.eu-west-1.amazonaws.com", Port: 443}, nil},
		{"my_host-1.internal:8080", 0, egress.Target{Host: "my_host-1.internal", Port: 8080}, nil},
		{"10.0.0.1:5432", 0, egress.Target{Host: "10.0.0.1", Port: 5432}, nil},
		{"[2001:DB8::1]:443", 0, egress.Target{Host: "2001:db8::1", Port: 443}, nil},
		{"[::ffff:169.254.169.254]:80", 0, egress.Target{Host: "169.254.169.254", Port: 80}, nil},
		{"example.com", 80, egress.Target{Host: "example.com", Port: 80}, nil},
		{"[::1]", 443, egress.Target{Host: "::1", Port: 443}, nil},
		{"example.com", 0, egress.Target{}, egress.ErrBadPort},
		{"example.com:", 80, egress.Target{}, egress.ErrBadPort},
		{"example.com:0", 0, egress.Target{}, egress.ErrBadPort},
		{"example.com:65536", 0, egress.Target{}, egress.ErrBadPort},
		{"example.com:+80", 0, egress.Target{}, egress.ErrBadPort},
		{"example.com:0x50", 0, egress.Target{}, egress.ErrBadPort},
		{":443", 0, egress.Target{}, egress.ErrBadHost},
		{"user:pw@example.com:443", 0, egress.Target{}, egress.ErrBadHost},
		{"example.com/path:443", 0, egress.Target{}, egress.ErrBadHost},
		{"exa mple.com:443", 0, egress.Target{}, egress.ErrBadHost},
		{"a..b:443", 0, egress.Target{}, egress.ErrBadHost},
		{"::1:443", 0, egress.Target{}, egress.ErrBadHost},
		{"[fe80::1%eth0]:443", 0, egress.Target{}, egress.ErrBadHost},
		{"[10.0.0.1]:443", 0, egress.Target{}, egress.ErrBadHost},
		{"[::1]x:443", 0, egress.Target{}, egress.ErrBadHost},
		{"[::1:443", 0, egress.Target{}, egress.ErrBadHost},
		{"127.1:80", 0, egress.Target{}, egress.ErrBadHost},
		{"0x7f.0.0.1:80", 0, egress.Target{}, egress.ErrBadHost},
		{"2130706433:80", 0, egress.Target{}, egress.ErrBadHost},
		{"010.0.0.1:80", 0, egress.Target{}, egress.ErrBadHost},
	} {
		got, err := egress.ParseTarget(tc.in, tc.def)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("ParseTarget(%q, %d) = %+v, %v; want %v", tc.in, tc.def, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseTarget(%q, %d) = %+v, %v; want %+v", tc.in, tc.def, got, err, tc.want)
		}
	}
}

func ExampleParseTarget() {
	t, err := egress.ParseTarget("Lake.S3.amazonaws.com:443", 0)
	fmt.Println(t.Host, t.Port, err)
	t, err = egress.ParseTarget("[::ffff:10.0.0.1]", 80)
	fmt.Println(t, err)
	_, err = egress.ParseTarget("example.com", 0)
	fmt.Println(err)
	// Output:
	// lake.s3.amazonaws.com 443 <nil>
	// 10.0.0.1:80 <nil>
	// not a port: "example.com" names no port
}
