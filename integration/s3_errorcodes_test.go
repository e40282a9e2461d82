package integration_test

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestS3ErrorCodesMatchServer sends the same malformed request to MinIO
// directly and through Airlock and expects the same S3 error code: the
// errors Airlock raises itself speak S3's codes, not one generic code.
func TestS3ErrorCodesMatchServer(t *testing.T) {
	r := newS3Rig(t, true)
	type side struct {
		endpoint string
		creds    aws.Credentials
	}
	sides := map[string]side{
		"direct":  {r.minio.Endpoint, aws.Credentials{AccessKeyID: r.minio.AccessKey, SecretAccessKey: r.minio.SecretKey}},
		"airlock": {r.endpoint, aws.Credentials{AccessKeyID: r.keyID, SecretAccessKey: r.key}},
	}
	sign := func(t *testing.T, req *http.Request, c aws.Credentials, at time.Time) {
		t.Helper()
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		if err := signer.SignHTTP(context.Background(), c, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", at); err != nil {
			t.Fatal(err)
		}
	}
	presign := func(t *testing.T, req *http.Request, c aws.Credentials, expires string) *http.Request {
		t.Helper()
		q := req.URL.Query()
		q.Set("X-Amz-Expires", expires)
		req.URL.RawQuery = q.Encode()
		u, _, err := signer.PresignHTTP(context.Background(), c, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		out, err := http.NewRequest(req.Method, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		name, method, path string
		want               string
		// minio, when set, is the code MinIO answers where it departs
		// from S3's (Airlock answers S3's, want).
		minio   string
		prepare func(t *testing.T, req *http.Request, c aws.Credentials) *http.Request
	}{
		{"bucket name too short", "GET", "/ab?list-type=2", "InvalidBucketName", "", nil},
		{"bucket name with capitals", "GET", "/Lake_Bucket?list-type=2", "InvalidBucketName", "", nil},
		{"key longer than 1024 bytes", "GET", "/lake/" + strings.Repeat("k", 1025), "KeyTooLongError", "XMinioInvalidObjectName", nil},
		{"request time too skewed", "GET", "/lake/raw/a.csv", "RequestTimeTooSkewed", "",
			func(t *testing.T, req *http.Request, c aws.Credentials) *http.Request {
				sign(t, req, c, time.Now().Add(-time.Hour))
				return req
			}},
		{"signature does not match", "GET", "/lake/raw/a.csv", "SignatureDoesNotMatch", "",
			func(t *testing.T, req *http.Request, c aws.Credentials) *http.Request {
				sign(t, req, c, time.Now())
				a := req.Header.Get("Authorization")
				last := "0"
				if strings.HasSuffix(a, "0") {
					last = "1"
				}
				req.Header.Set("Authorization", a[:len(a)-1]+last)
				return req
			}},
		{"unknown access key", "GET", "/lake/raw/a.csv", "InvalidAccessKeyId", "",
			func(t *testing.T, req *http.Request, c aws.Credentials) *http.Request {
				c.AccessKeyID = "NOSUCHKEYNOSUCHKEY00"
				sign(t, req, c, time.Now())
				return req
			}},
		{"presigned for more than seven days", "GET", "/lake/raw/a.csv", "AuthorizationQueryParametersError", "",
			func(t *testing.T, req *http.Request, c aws.Credentials) *http.Request {
				return presign(t, req, c, "604801")
			}},
		{"presigned for zero seconds", "GET", "/lake/raw/a.csv", "AccessDenied", "",
			func(t *testing.T, req *http.Request, c aws.Credentials) *http.Request {
				return presign(t, req, c, "0")
			}},
		{"presigned expiry not a number", "GET", "/lake/raw/a.csv", "AuthorizationQueryParametersError", "",
			func(t *testing.T, req *http.Request, c aws.Credentials) *http.Request {
				return presign(t, req, c, "soon")
			}},
		{"Content-MD5 not base64", "PUT", "/lake/curated/md5", "InvalidDigest", "",
			func(t *testing.T, req *http.Request, c aws.Credentials) *http.Request {
				req.Header.Set("Content-MD5", "not-an-md5!")
				sign(t, req, c, time.Now())
				return req
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			codes := map[string]string{}
			for name, s := range sides {
				var body io.Reader
				if tc.method == "PUT" {
					body = strings.NewReader("hello")
				}
				req, err := http.NewRequest(tc.method, s.endpoint+tc.path, body)
				if err != nil {
					t.Fatal(err)
				}
				if tc.prepare != nil {
					req = tc.prepare(t, req, s.creds)
				} else {
					sign(t, req, s.creds, time.Now())
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
				resp.Body.Close()
				var e struct{ Code string }
				_ = xml.Unmarshal(data, &e)
				codes[name] = e.Code
				want := tc.want
				if name == "direct" && tc.minio != "" {
					want = tc.minio
				}
				if e.Code != want {
					t.Errorf("%s: HTTP %d code %q, want %q\n%s", name, resp.StatusCode, e.Code, tc.want, data)
				}
			}
			if tc.minio == "" && codes["direct"] != codes["airlock"] {
				t.Errorf("direct says %q, through Airlock %q", codes["direct"], codes["airlock"])
			}
		})
	}
}
