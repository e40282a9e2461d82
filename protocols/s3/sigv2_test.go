package s3_test

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/protocols/s3"
)

// v2Request is a request as a client sent it: method, absolute URL as
// written (its path and query bytes are what reach the server), headers.
type v2Request struct {
	Name    string            `json:"name"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// wire parses the request as a server reads it off the connection.
func (c v2Request) wire(t testing.TB) *http.Request {
	t.Helper()
	rest, ok := strings.CutPrefix(c.URL, "http://")
	if !ok {
		t.Fatalf("%s: not an http URL: %s", c.Name, c.URL)
	}
	host, target, _ := strings.Cut(rest, "/")
	var b strings.Builder
	fmt.Fprintf(&b, "%s /%s HTTP/1.1\r\nHost: %s\r\n", c.Method, target, host)
	for k, v := range c.Headers {
		if !strings.EqualFold(k, "Content-Length") {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(c.Body), c.Body)
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	return r
}

// boto3Requests runs testdata/sigv2/boto3_requests.py: requests boto3
// itself signs with Signature Version 2 at testNow.
func boto3Requests(t *testing.T) []v2Request {
	t.Helper()
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3 with boto3 is needed: %v", err)
		}
		t.Skip("python3 with boto3 is not installed")
	}
	out, err := exec.Command("python3", "testdata/sigv2/boto3_requests.py",
		fmt.Sprint(testNow.Unix()), testKeyID, testSecret).Output()
	if err != nil {
		t.Fatalf("boto3_requests.py: %v", err)
	}
	var reqs []v2Request
	if err := json.Unmarshal(out, &reqs); err != nil {
		t.Fatal(err)
	}
	if len(reqs) < 10 {
		t.Fatalf("boto3_requests.py made %d requests", len(reqs))
	}
	return reqs
}

// TestVerifySigV2Boto3 verifies what boto3 signs with Signature Version 2:
// its default presigned URLs (path and virtual-hosted style, response
// overrides, version ids, a Content-Type the URL was signed with) and
// header-signed requests (metadata headers, ?acl, listings). Each must
// verify; after it, the query keeps only the operation, which classifies
// as the operation boto3 meant. A changed path, another key, a later clock
// and a changed header must each fail with S3's error code.
func TestVerifySigV2Boto3(t *testing.T) {
	wantAction := map[string]string{
		"presign get": "GetObject", "presign get with response override": "GetObject",
		"presign get version": "GetObject", "presign put": "PutObject", "presign put content-type": "PutObject",
		"presign head": "HeadObject", "presign delete": "DeleteObject", "presign list": "ListObjects",
		"presign virtual-hosted get": "GetObject", "header get": "GetObject",
		"header put with metadata": "PutObject", "header get acl": "GetObjectAcl",
		"header list v2": "ListObjectsV2", "header delete": "DeleteObject",
	}
	seen := 0
	for _, c := range boto3Requests(t) {
		t.Run(c.Name, func(t *testing.T) {
			want, ok := wantAction[c.Name]
			if !ok {
				t.Fatalf("no expected action for %q", c.Name)
			}
			seen++
			r := c.wire(t)
			a, err := newVerifier(testNow).Verify(r)
			if err != nil {
				t.Fatalf("Verify: %v\n%s %s", err, c.Method, c.URL)
			}
			if a.KeyID != testKeyID || a.PayloadMode != s3.PayloadUnsigned {
				t.Errorf("auth %+v", a)
			}
			for _, name := range []string{"Signature", "AWSAccessKeyId", "Expires", "content-type"} {
				if r.URL.Query().Has(name) {
					t.Errorf("query after Verify still holds %s: %s", name, r.URL.RawQuery)
				}
			}
			op, err := s3.Classify(r, []string{"localhost"})
			if err != nil || op.S3.Action != want || op.S3.Bucket != "bkt" {
				t.Errorf("Classify = %+v, %v; want %s on bkt", op.S3, err, want)
			}
			if strings.HasPrefix(c.Name, "presign get") && c.Name != "presign get version" && op.S3.Key != "dir/a b+c é.txt" {
				t.Errorf("key %q", op.S3.Key)
			}

			// Tampered variants.
			tampered := c
			tampered.URL = strings.Replace(c.URL, "/bkt", "/bkx", 1)
			if strings.Contains(c.URL, "bkt.localhost") {
				tampered.URL = strings.Replace(c.URL, "bkt.localhost", "bkx.localhost", 1)
			}
			if got := codeOf(t, verifyErr(newVerifier(testNow), tampered.wire(t))); got != "SignatureDoesNotMatch" {
				t.Errorf("other bucket: %q, want SignatureDoesNotMatch", got)
			}
			other := c
			other.URL = strings.Replace(c.URL, "AWSAccessKeyId="+testKeyID, "AWSAccessKeyId=AKIAOTHERKEY", 1)
			other.Headers = map[string]string{}
			for k, v := range c.Headers {
				other.Headers[k] = strings.Replace(v, "AWS "+testKeyID+":", "AWS AKIAOTHERKEY:", 1)
			}
			if got := codeOf(t, verifyErr(newVerifier(testNow), other.wire(t))); got != "SignatureDoesNotMatch" {
				t.Errorf("signed by one key, claiming another: %q, want SignatureDoesNotMatch", got)
			}
			later := newVerifier(testNow.Add(11 * time.Minute)) // presigned for 600 s
			err = verifyErr(later, c.wire(t))
			if strings.HasPrefix(c.Name, "presign") {
				if codeOf(t, err) != "AccessDenied" || !strings.Contains(err.Error(), "Request has expired") {
					t.Errorf("11 minutes later: %v, want AccessDenied: Request has expired", err)
				}
			} else if err != nil {
				t.Errorf("header-signed, 11 minutes later (within the skew): %v", err)
			}
			if !strings.HasPrefix(c.Name, "presign") {
				if got := codeOf(t, verifyErr(newVerifier(testNow.Add(20*time.Minute)), c.wire(t))); got != "RequestTimeTooSkewed" {
					t.Errorf("20 minutes later: %q, want RequestTimeTooSkewed", got)
				}
				extra := c
				extra.Headers = map[string]string{"X-Amz-Acl": "public-read"}
				for k, v := range c.Headers {
					extra.Headers[k] = v
				}
				if got := codeOf(t, verifyErr(newVerifier(testNow), extra.wire(t))); got != "SignatureDoesNotMatch" {
					t.Errorf("an added x-amz-acl header: %q, want SignatureDoesNotMatch", got)
				}
			}
		})
	}
	if seen != len(wantAction) {
		t.Errorf("checked %d of %d boto3 requests", seen, len(wantAction))
	}
}

func verifyErr(v *s3.Verifier, r *http.Request) error {
	_, err := v.Verify(r)
	return err
}

// TestVerifySigV2Vectors: strings to sign written out by hand from the
// Signature Version 2 definition, signed by Python's hmac (not by any S3
// library), then verified. Each case also names what must fail.
func TestVerifySigV2Vectors(t *testing.T) {
	if err := exec.Command("python3", "-c", "import hmac").Run(); err != nil {
		t.Skip("python3 is not installed")
	}
	date := testNow.Format(http.TimeFormat)
	expires := fmt.Sprint(testNow.Add(time.Hour).Unix())
	cases := []struct {
		name     string
		method   string
		target   string // path and query as sent
		host     string
		headers  map[string]string
		sts      string // the string to sign, by hand
		query    bool   // presigned: the signature goes into the query
		wantCode string // "" for success
	}{
		{name: "GET, Date only", method: "GET", target: "/bkt/photos/puppy.jpg", headers: map[string]string{"Date": date},
			sts: "GET\n\n\n" + date + "\n/bkt/photos/puppy.jpg"},
		{name: "PUT with MD5, type, x-amz headers (sorted, lower-cased, repeated values joined)", method: "PUT", target: "/bkt/db-backup.dat.gz",
			headers: map[string]string{"Date": date, "Content-Md5": "4gJE4saaMU4BqNR0kLY+lw==", "Content-Type": "application/x-download",
				"X-Amz-Meta-ReviewedBy": "joe@example.com", "X-Amz-Meta-FileChecksum": "0x02661779", "X-Amz-Meta-Checksumalgorithm": "crc32"},
			sts: "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\n" + date + "\n" +
				"x-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\nx-amz-meta-reviewedby:joe@example.com\n/bkt/db-backup.dat.gz"},
		{name: "x-amz-date with a numeric zone (s3cmd)", method: "GET", target: "/bkt/k", headers: map[string]string{"X-Amz-Date": testNow.Format(time.RFC1123Z)},
			sts: "GET\n\n\n\nx-amz-date:" + testNow.Format(time.RFC1123Z) + "\n/bkt/k"},
		{name: "x-amz-date empties the date line", method: "DELETE", target: "/bkt/k", headers: map[string]string{"X-Amz-Date": date},
			sts: "DELETE\n\n\n\nx-amz-date:" + date + "\n/bkt/k"},
		{name: "sub-resources sorted, values decoded; paging not signed", method: "GET", target: "/bkt/k?versionId=a%2Fb&acl&prefix=p", headers: map[string]string{"Date": date},
			sts: "GET\n\n\n" + date + "\n/bkt/k?acl&versionId=a/b"},
		{name: "virtual-hosted: bucket from the host", method: "GET", host: "bkt.localhost:9000", target: "/k%20x", headers: map[string]string{"Date": date},
			sts: "GET\n\n\n" + date + "\n/bkt/k%20x"},
		{name: "virtual-hosted: signed path-style is wrong", method: "GET", host: "bkt.localhost:9000", target: "/k", headers: map[string]string{"Date": date},
			sts: "GET\n\n\n" + date + "\n/k", wantCode: "SignatureDoesNotMatch"},
		{name: "presigned", method: "GET", target: "/bkt/k?response-content-type=text%2Fplain", query: true,
			sts: "GET\n\n\n" + expires + "\n/bkt/k?response-content-type=text/plain"},
		{name: "presigned, Content-Type from the header", method: "PUT", target: "/bkt/k", query: true, headers: map[string]string{"Content-Type": "text/csv"},
			sts: "PUT\n\ntext/csv\n" + expires + "\n/bkt/k"},
		{name: "presigned, method differs", method: "PUT", target: "/bkt/k", query: true,
			sts: "GET\n\n\n" + expires + "\n/bkt/k", wantCode: "SignatureDoesNotMatch"},
		{name: "presigned, unsigned sub-resource added", method: "GET", target: "/bkt/k?tagging", query: true,
			sts: "GET\n\n\n" + expires + "\n/bkt/k", wantCode: "SignatureDoesNotMatch"},
		{name: "presigned, unknown parameter", method: "GET", target: "/bkt/k?attributes", query: true,
			sts: "GET\n\n\n" + expires + "\n/bkt/k", wantCode: "InvalidRequest"},
		{name: "Date header signed but x-amz-date sent", method: "GET", target: "/bkt/k", headers: map[string]string{"Date": date, "X-Amz-Date": date},
			sts: "GET\n\n\n" + date + "\n/bkt/k", wantCode: "SignatureDoesNotMatch"},
	}
	msgs := make([]string, len(cases))
	for i, c := range cases {
		msgs[i] = c.sts
	}
	sigs := pythonHMACSHA1(t, testSecret, msgs)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sig := sigs[i]
			host := c.host
			if host == "" {
				host = "127.0.0.1:9000"
			}
			req := v2Request{Name: c.name, Method: c.method, URL: "http://" + host + c.target, Headers: map[string]string{}}
			for k, v := range c.headers {
				req.Headers[k] = v
			}
			if c.query {
				sep := "?"
				if strings.Contains(c.target, "?") {
					sep = "&"
				}
				req.URL += sep + "AWSAccessKeyId=" + testKeyID + "&Expires=" + expires + "&Signature=" + urlQueryEscape(sig)
			} else {
				req.Headers["Authorization"] = "AWS " + testKeyID + ":" + sig
			}
			err := verifyErr(newVerifier(testNow), req.wire(t))
			if got := codeOf(t, err); got != c.wantCode {
				t.Fatalf("Verify = %v; want code %q", err, c.wantCode)
			}
			if err != nil && strings.Contains(err.Error(), testSecret) {
				t.Fatal("the error holds the secret")
			}
		})
	}
}

func urlQueryEscape(s string) string {
	return strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(s)
}

// pythonHMACSHA1 is base64(HMAC-SHA1(key, msg)) of each msg, computed by
// Python in one run.
func pythonHMACSHA1(t *testing.T, key string, msgs []string) []string {
	t.Helper()
	in, err := json.Marshal(msgs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", "-c", `import base64, hashlib, hmac, json, sys
key = sys.argv[1].encode()
msgs = json.load(sys.stdin)
json.dump([base64.b64encode(hmac.new(key, m.encode(), hashlib.sha1).digest()).decode() for m in msgs], sys.stdout)`, key)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var sigs []string
	if err := json.Unmarshal(out, &sigs); err != nil || len(sigs) != len(msgs) {
		t.Fatalf("python hmac: %v, %d signatures for %d messages", err, len(sigs), len(msgs))
	}
	return sigs
}

// TestVerifySigV2Refusals: what Signature Version 2 cannot do gets an
// error that names it and the fix, and malformed requests S3's code.
func TestVerifySigV2Refusals(t *testing.T) {
	expires := fmt.Sprint(testNow.Add(time.Hour).Unix())
	cases := []struct {
		name, method, url string
		headers           map[string]string
		code, says        string
	}{
		{"no signature", "GET", "http://h/bkt/k?AWSAccessKeyId=" + testKeyID + "&Expires=" + expires, nil,
			"AuthorizationQueryParametersError", "exactly one non-empty Signature"},
		{"no expiry", "GET", "http://h/bkt/k?AWSAccessKeyId=" + testKeyID + "&Signature=AAAA", nil,
			"AuthorizationQueryParametersError", "Expires"},
		{"expiry not a number", "GET", "http://h/bkt/k?AWSAccessKeyId=" + testKeyID + "&Signature=AAAA&Expires=tomorrow", nil,
			"AuthorizationQueryParametersError", "Expires"},
		{"expiry too far", "GET", "http://h/bkt/k?AWSAccessKeyId=" + testKeyID + "&Signature=AAAA&Expires=" + fmt.Sprint(testNow.Add(30*24*time.Hour).Unix()), nil,
			"AuthorizationQueryParametersError", "7 days"},
		{"unknown key", "GET", "http://h/bkt/k?AWSAccessKeyId=AKIANOBODY&Signature=AAAA&Expires=" + expires, nil,
			"InvalidAccessKeyId", ""},
		{"header and query", "GET", "http://h/bkt/k?AWSAccessKeyId=" + testKeyID + "&Signature=AAAA&Expires=" + expires,
			map[string]string{"Authorization": "AWS " + testKeyID + ":AAAA"}, "InvalidArgument", "Only one auth mechanism"},
		{"header without colon", "GET", "http://h/bkt/k", map[string]string{"Authorization": "AWS " + testKeyID, "Date": testNow.Format(http.TimeFormat)},
			"AuthorizationHeaderMalformed", "AWS <key id>:<signature>"},
		{"header without date", "GET", "http://h/bkt/k", map[string]string{"Authorization": "AWS " + testKeyID + ":AAAA"},
			"AccessDenied", "Date"},
		{"aws-chunked", "PUT", "http://h/bkt/k", map[string]string{"Authorization": "AWS " + testKeyID + ":AAAA", "Date": testNow.Format(http.TimeFormat), "Content-Encoding": "aws-chunked"},
			"InvalidRequest", "signature_version"},
		{"query parameter not covered", "GET", "http://h/bkt/k?retention&AWSAccessKeyId=" + testKeyID + "&Signature=AAAA&Expires=" + expires, nil,
			"InvalidRequest", `"retention" is not covered by a Signature Version 2 signature; sign with Signature Version 4`},
		{"signed Content-Type not sent", "PUT", "http://h/bkt/k?content-type=text%2Fcsv&AWSAccessKeyId=" + testKeyID + "&Signature=AAAA&Expires=" + expires, nil,
			"InvalidRequest", "send that value as the content-type header"},
		{"browser-form POST", "POST", "http://h/bkt", map[string]string{"Content-Type": "multipart/form-data; boundary=x"},
			"NotImplemented", "presigned PUT"},
		{"wrong signature", "GET", "http://h/bkt/k?AWSAccessKeyId=" + testKeyID + "&Signature=AAAAAAAAAAAAAAAAAAAAAAAAAAA%3D&Expires=" + expires, nil,
			"SignatureDoesNotMatch", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := verifyErr(newVerifier(testNow), v2Request{Name: c.name, Method: c.method, URL: c.url, Headers: c.headers}.wire(t))
			if got := codeOf(t, err); got != c.code || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("Verify = %v; want %s saying %q", err, c.code, c.says)
			}
		})
	}
}

// BenchmarkVerifySigV2Presigned: a Signature Version 2 presigned GET with a
// response override, as boto3 makes it. Verify strips the query
// authentication, so each round starts from a fresh copy of the query.
func BenchmarkVerifySigV2Presigned(b *testing.B) {
	expires := fmt.Sprint(testNow.Add(time.Hour).Unix())
	m := hmacSHA1Base64(testSecret, "GET\n\n\n"+expires+"\n/bucket/data/2026/03/14/part-00042.parquet?response-content-type=application/octet-stream")
	r := v2Request{Name: "bench", Method: "GET", URL: "http://127.0.0.1:9000/bucket/data/2026/03/14/part-00042.parquet?response-content-type=application%2Foctet-stream&AWSAccessKeyId=" +
		testKeyID + "&Signature=" + urlQueryEscape(m) + "&Expires=" + expires, Headers: map[string]string{"Range": "bytes=0-1048575"}}.wire(b)
	raw := r.URL.RawQuery
	v := newVerifier(testNow)
	b.ReportAllocs()
	for b.Loop() {
		r.URL.RawQuery = raw
		if _, err := v.Verify(r); err != nil {
			b.Fatal(err)
		}
	}
}

func hmacSHA1Base64(key, msg string) string {
	m := hmac.New(sha1.New, []byte(key))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
