package s3_test

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/s3"
	"github.com/airlockproxy/airlock/proxy/secret"
)

// TestDenialCarriesReason: a denied request's answer names the S3 code and
// the reason (the rule) in the XML body and in headers, which is all a
// HEAD answer has: x-amz-request-id, x-amz-error-code and
// x-amz-error-message, and MinIO's x-minio-error-code / x-minio-error-desc.
func TestDenialCarriesReason(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("a denied request reached the upstream")
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	h, err := s3.New(s3.Config{
		Check: func(r *policy.Request) policy.Decision {
			r.ID = "req-123"
			return policy.Decision{Reason: "denied by rule never-secret \"quoted\"\r\nX-Injected: 1", Rules: []string{"never-secret"}}
		},
		Verifier:    &s3.Verifier{Keys: []s3.LocalKey{{AccessKeyID: testKeyID, Secret: secret.New(testSecret)}}},
		Endpoint:    u,
		Region:      testRegion,
		Credentials: func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, nil },
		Log:         zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	local := httptest.NewServer(h)
	defer local.Close()
	for _, method := range []string{"HEAD", "GET"} {
		r, err := http.NewRequest(method, local.URL+"/lake/secret/s.csv", nil)
		if err != nil {
			t.Fatal(err)
		}
		signHeader(t, r, emptyHash, time.Now()) // the handler's verifier runs on the real clock
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: status %d %s", method, resp.StatusCode, body)
		}
		const wantMsg = "airlock: denied by rule never-secret 'quoted'??X-Injected: 1"
		for k, want := range map[string]string{
			"X-Amz-Request-Id": "req-123", "X-Amz-Error-Code": "AccessDenied", "X-Amz-Error-Message": wantMsg,
			"X-Minio-Error-Code": "AccessDenied", "X-Minio-Error-Desc": `"` + wantMsg + `"`, "X-Injected": "",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: header %s = %q, want %q", method, k, got, want)
			}
		}
		if method == "HEAD" {
			if len(body) != 0 {
				t.Errorf("HEAD answer has a body: %q", body)
			}
			continue
		}
		var e struct{ Code, Message, RequestId string }
		if err := xml.Unmarshal(body, &e); err != nil || e.Code != "AccessDenied" || e.RequestId != "req-123" ||
			!strings.HasPrefix(e.Message, "airlock: denied by rule never-secret") {
			t.Errorf("GET body %+v (%v): %s", e, err, body)
		}
	}

	// An unsigned retry (pandas over s3fs retries with anon=True) hears
	// why the signed request was denied; another object does not.
	for path, want := range map[string]string{
		"/lake/secret/s.csv": "Anonymous access is not allowed; sign the request with the local key; the last signed request for lake/secret/s.csv was denied: airlock: denied by rule never-secret",
		"/lake/other.csv":    "Anonymous access is not allowed; sign the request with the local key",
	} {
		resp, err := http.Get(local.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("X-Amz-Error-Message")
		if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(got, want) || (path == "/lake/other.csv" && got != want) {
			t.Errorf("unsigned GET %s: %d %q, want %q", path, resp.StatusCode, got, want)
		}
	}
}
