package egress_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"testing"
)

// TestCanaryProxyAuthorization: a secret-looking Proxy-Authorization never
// reaches an upstream, the diagnostic log (at debug level), the audit log,
// or any answer, allowed or denied, forwarded, tunnelled or malformed.
func TestCanaryProxyAuthorization(t *testing.T) {
	const canary = "canary-7f3a9c1e5b2d4f6a8c0e"
	auth := "Bearer " + canary
	var seen strings.Builder
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := httputil.DumpRequest(r, true)
		seen.Write(b)
		w.Write([]byte("ok"))
	}))
	defer upstream.Close()
	echo, _ := listenCounting(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := ln.Addr().String()
	ln.Close()
	r := newRig(t, rigOptions{egress: []string{`http.path != "/denied" && http.port != 1`}})

	var answers strings.Builder
	keep := func(resp *http.Response, tunnel bool) {
		b, _ := httputil.DumpResponse(resp, !tunnel || resp.StatusCode != http.StatusOK) // an open tunnel's body never ends
		answers.Write(b)
	}
	for _, target := range []string{upstream.URL + "/allowed", upstream.URL + "/denied", "http://" + refused + "/down", "http://127.0.0.1:1/denied-port"} {
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Proxy-Authorization", auth)
		resp, err := r.client(nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		keep(resp, false)
		resp.Body.Close()
	}
	for _, target := range []string{echo, "127.0.0.1:1", refused, "bad..target:80", "no-port"} {
		_, _, resp := r.connect(t, target, "Proxy-Authorization: "+auth)
		keep(resp, true)
	}
	_, _, resp := r.connect(t, echo, "Proxy-Authorization: "+auth, "X-Big: "+strings.Repeat("x", 70<<10))
	keep(resp, true)

	if got := len(r.decided()); got != 10 {
		t.Fatalf("%d checks, want 10: the canary paths were not all taken", got)
	}
	if !strings.Contains(seen.String(), "GET /allowed") {
		t.Fatalf("the allowed request did not arrive:\n%s", seen.String())
	}
	for what, text := range map[string]string{
		"upstream": seen.String(), "answers": answers.String(), "diagnostic log": r.diag.String(), "audit log": r.audit(t),
	} {
		if strings.Contains(text, canary) {
			t.Errorf("the Proxy-Authorization canary is in the %s:\n%s", what, text)
		}
	}
	if !strings.Contains(r.diag.String(), "egress request failed") {
		t.Errorf("the failed upstream request was not logged:\n%s", r.diag.String())
	}
}
