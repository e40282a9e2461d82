package egress_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/egress"
)

// TestForwardAllowed: an allowed absolute-form GET reaches the host it
// names, without hop-by-hop headers or Proxy-Authorization, after exactly
// one check with the request's method, host, port and path.
func TestForwardAllowed(t *testing.T) {
	var up counter
	upstream := httptest.NewServer(http.HandlerFunc(up.serve))
	defer upstream.Close()
	host, port := hostPort(t, upstream.URL)
	r := newRig(t, rigOptions{egress: []string{`http.host == "127.0.0.1" && http.path.startsWith("/data/")`}})

	req, _ := http.NewRequest(http.MethodGet, upstream.URL+"/data/a%20b?q=1", nil)
	req.Header.Set("Proxy-Authorization", "Basic dXNlcjpwYXNz")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "must not travel")
	req.Header.Set("X-Keep", "travels")
	resp, err := r.client(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got := body(t, resp)
	if resp.StatusCode != http.StatusOK || got != "upstream saw GET /data/a%20b?q=1" {
		t.Fatalf("status %d body %q", resp.StatusCode, got)
	}
	if resp.Header.Get("X-Hop-Resp") != "" {
		t.Error("a response header named in Connection reached the client")
	}
	n, h := up.seen()
	if n != 1 || h.Get("X-Keep") != "travels" || h.Get("X-Hop") != "" || h.Get("Proxy-Authorization") != "" {
		t.Errorf("upstream saw %d requests, headers %v", n, h)
	}
	checks := r.decided()
	if len(checks) != 1 {
		t.Fatalf("%d checks, want 1: %+v", len(checks), checks)
	}
	want := policy.HTTP{Method: "GET", Host: host, Port: port, Path: "/data/a%20b"}
	if c := checks[0]; c.Protocol != policy.ProtocolHTTP || c.HTTP != want || c.Conn.Protocol != policy.ProtocolHTTP || c.Conn.Client == "" || c.ID == "" {
		t.Errorf("checked %+v, want http %+v", c, want)
	}
	if a := r.audit(t); !strings.Contains(a, `"rules":["egress.allow[0]"]`) || !strings.Contains(a, `"action":"GET"`) {
		t.Errorf("audit log lacks the allowing rule:\n%s", a)
	}
}

// TestForwardDenied: a denied request is answered 403 naming the reason and
// the request id, and the upstream sees nothing.
func TestForwardDenied(t *testing.T) {
	var up counter
	upstream := httptest.NewServer(http.HandlerFunc(up.serve))
	defer upstream.Close()
	r := newRig(t, rigOptions{egress: []string{`http.host == "example.com"`}})

	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, upstream.URL+"/x", strings.NewReader("body"))
		resp, err := r.client(nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		text := body(t, resp)
		id := resp.Header.Get(egress.RequestIDHeader)
		if resp.StatusCode != http.StatusForbidden || id == "" || !strings.Contains(text, "no rule allows") || !strings.Contains(text, "request id "+id) {
			t.Errorf("%s: status %d, id %q, body %q", method, resp.StatusCode, id, text)
		}
	}
	if n, _ := up.seen(); n != 0 {
		t.Fatalf("a denied request reached the upstream (%d)", n)
	}
	if checks := r.decided(); len(checks) != 2 || checks[1].HTTP.Method != "POST" {
		t.Fatalf("checks: %+v", checks)
	}
}

// TestDenyRuleBeatsEgressAllow: a matching deny rule in policy.rules wins
// over egress.allow; S3 and SQL requests are not allowed by an egress
// expression that names no variable.
func TestDenyRuleBeatsEgressAllow(t *testing.T) {
	var up counter
	upstream := httptest.NewServer(http.HandlerFunc(up.serve))
	defer upstream.Close()
	r := newRig(t, rigOptions{
		rules:  []policy.Rule{{Name: "no-admin", Deny: `http.path.startsWith("/admin")`}},
		egress: []string{`true`},
	})
	c := r.client(nil)
	for path, want := range map[string]int{"/admin/users": http.StatusForbidden, "/public": http.StatusOK} {
		resp, err := c.Get(upstream.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		text := body(t, resp)
		if resp.StatusCode != want {
			t.Errorf("%s: %d %q, want %d", path, resp.StatusCode, text, want)
		}
		if want == http.StatusForbidden && !strings.Contains(text, "denied by rule no-admin") {
			t.Errorf("%s: denial does not name the rule: %q", path, text)
		}
	}
	if n, _ := up.seen(); n != 1 {
		t.Fatalf("upstream saw %d requests, want only /public", n)
	}
	engine, err := policy.Compile(nil, policy.Options{Egress: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []policy.Request{
		{Protocol: policy.ProtocolS3, S3: policy.S3{Action: "GetObject", Bucket: "b", Key: "k"}},
		{Protocol: policy.ProtocolPostgres, SQL: policy.SQL{Kind: "select"}},
	} {
		if d := engine.Decide(&req); d.Allow || slices.Contains(d.Rules, "egress.allow[0]") {
			t.Errorf("%s request allowed by an egress expression: %+v", req.Protocol, d)
		}
	}
}

// TestMalformedRequests: what is not a well-formed proxy request is denied
// with a request id and recorded, and nothing is dialled.
func TestMalformedRequests(t *testing.T) {
	addr, accepted := listenCounting(t)
	_, port := hostPort(t, addr)
	r := newRig(t, rigOptions{egress: []string{`true`}})
	for _, tc := range []struct {
		name   string
		target string
		status int
		want   string
	}{
		{"no port", "127.0.0.1", http.StatusBadRequest, "names no port"},
		{"user info", "user@127.0.0.1:" + itoa(port), http.StatusBadRequest, "bad CONNECT target"},
		{"numeric name", "127.1:" + itoa(port), http.StatusBadRequest, "numeric"},
		{"port zero", "127.0.0.1:0", http.StatusBadRequest, "out of range"},
		{"oversized headers", "127.0.0.1:" + itoa(port), http.StatusRequestHeaderFieldsTooLarge, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var extra []string
			if tc.status == http.StatusRequestHeaderFieldsTooLarge {
				extra = append(extra, "X-Big: "+strings.Repeat("a", egress.MaxHeaderBytes))
			}
			_, _, resp := r.connect(t, tc.target, extra...)
			text := body(t, resp)
			id := resp.Header.Get(egress.RequestIDHeader)
			if resp.StatusCode != tc.status || id == "" || !strings.Contains(text, tc.want) || !strings.Contains(text, id) {
				t.Errorf("status %d id %q body %q", resp.StatusCode, id, text)
			}
		})
	}
	// A relative request is not a proxy request; a dot segment is refused.
	for path, want := range map[string]string{"/": "not a proxy request", "http://127.0.0.1:" + itoa(port) + "/a/%2e%2e/admin": ". or .. segment"} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+r.addr+"/", nil)
		req.URL.Opaque = path
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		text := body(t, resp)
		if resp.StatusCode/100 != 4 || resp.Header.Get(egress.RequestIDHeader) == "" {
			t.Errorf("%s: %d %q", path, resp.StatusCode, text)
		}
		if rec := r.decided(); !strings.Contains(rec[len(rec)-1].Guard, want) {
			t.Errorf("%s: guard %q, want %q", path, rec[len(rec)-1].Guard, want)
		}
	}
	if n := accepted(); n != 0 {
		t.Fatalf("a malformed request was dialled (%d)", n)
	}
	if got := len(r.decided()); got != 7 {
		t.Fatalf("%d checks recorded, want one per request (7)", got)
	}
}
