package integration_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// rawResponse is what came back for a hand-written request.
type rawResponse struct {
	status int
	header http.Header
	body   string
}

// refusedByAirlock reports whether Airlock itself answered with an error
// (its messages start with "airlock:"), as opposed to MinIO.
func (r rawResponse) refusedByAirlock() bool {
	return r.status >= 400 && strings.Contains(r.body, "<Message>airlock:")
}

// rawDo sends a request byte for byte as written (target and header names
// untouched) over a fresh connection to Airlock's plain-HTTP endpoint,
// signed with the local key the way a client that keeps every query pair
// would sign it: split on '&' only, each part decoded once, re-encoded
// with S3's rules and sorted.
func (r *s3Rig) rawDo(t *testing.T, method, target string, hdr [][2]string, body string) rawResponse {
	t.Helper()
	host := strings.TrimPrefix(r.endpoint, "http://")
	path, query, _ := strings.Cut(target, "?")
	now := time.Now().UTC()
	amzDate := now.Format("20060102T150405Z")
	all := append([][2]string{{"Host", host}, {"X-Amz-Date", amzDate}, {"X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"}}, hdr...)
	signed := map[string][]string{}
	for _, h := range all {
		n := strings.ToLower(h[0])
		signed[n] = append(signed[n], strings.Join(strings.Fields(h[1]), " "))
	}
	names := make([]string, 0, len(signed))
	for n := range signed {
		names = append(names, n)
	}
	sort.Strings(names)
	var canon strings.Builder
	fmt.Fprintf(&canon, "%s\n%s\n%s\n", method, path, testCanonicalQuery(query))
	for _, n := range names {
		fmt.Fprintf(&canon, "%s:%s\n", n, strings.Join(signed[n], ","))
	}
	fmt.Fprintf(&canon, "\n%s\nUNSIGNED-PAYLOAD", strings.Join(names, ";"))
	day := amzDate[:8]
	scope := day + "/us-east-1/s3/aws4_request"
	sum := sha256.Sum256([]byte(canon.String()))
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	k := testHMAC([]byte("AWS4"+r.key), day)
	for _, s := range []string{"us-east-1", "s3", "aws4_request", sts} {
		k = testHMAC(k, s)
	}
	auth := fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%x", r.keyID, scope, strings.Join(names, ";"), k)

	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\n", method, target)
	for _, h := range all {
		fmt.Fprintf(&req, "%s: %s\r\n", h[0], h[1])
	}
	fmt.Fprintf(&req, "Authorization: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", auth, len(body), body)
	if _, err := io.WriteString(conn, req.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResponse{resp.StatusCode, resp.Header, string(b)}
}

func testHMAC(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func testCanonicalQuery(raw string) string {
	var pairs []string
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, _ := url.QueryUnescape(k)
		dv, _ := url.QueryUnescape(v)
		pairs = append(pairs, testEscape(dk)+"="+testEscape(dv))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

func testEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// allKeys lists the whole bucket as MinIO holds it.
func (r *s3Rig) allKeys(t *testing.T) map[string]bool {
	t.Helper()
	out, err := r.direct(t).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("lake")})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, o := range out.Contents {
		keys[*o.Key] = true
	}
	return keys
}

// TestS3QueryTricks: query strings that parsers split differently never
// make MinIO run something other than what Airlock checked. The rules
// allow listing under raw/ and curated/ only, and AbortMultipartUpload but
// not DeleteObject under curated/.
func TestS3QueryTricks(t *testing.T) {
	r := newS3Rig(t, true)
	if _, err := r.direct(t).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String("curated/keep.txt"), Body: strings.NewReader("keep")}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"list-type=2&prefix=raw/;",
		"list-type=2&prefix=raw/;x",
		"list-type=2&prefix=raw%2F;",
		"prefix=raw/;&list-type=2",
		"list-type=2&prefix=raw/&x;=1",
		"list-type=2&prefix=raw/&prefix=",
		"list-type=2&prefix=secret/&prefix=raw/",
		"list-type=2&prefix=raw/&Prefix=secret/",
		"list-type=2&prefix=raw%2f",
		"list-type=2&prefix=raw/+",
		"list-type=2&prefix=raw/%",
		"list-type=2&prefix=raw/%zz",
		"list-type=2&&prefix=raw/&",
		"list-type=2&%70refix=raw/",
		"list-type=2&prefix=raw/%00",
		"list-type=2&prefix=raw/&=x",
		"list-type=2&prefix=raw/&X-Amz-Prefix=secret/",
		"list-type=2;prefix=raw/",
		"list-type=2&prefix=raw/#frag",
		"list-type=2&prefix=raw/../",
		"list-type=2&prefix=raw/../secret/",
		"list-type=2&prefix=raw/%2E%2E/secret",
		"list-type=2&prefix=raw/..%5Csecret",
		"list-type=2&prefix=raw/./../",
		"list-type=2&prefix=raw//../",
		"list-type=2&prefix=raw/&start-after=secret/",
		"list-type=2&prefix=raw/&delimiter=/&continuation-token=c2VjcmV0Lw==",
		"prefix=raw/../&marker=a",
		"versions&prefix=raw/../",
		"uploads&prefix=raw/../",
	} {
		resp := r.rawDo(t, "GET", "/lake?"+q, nil, "")
		if resp.status != 200 {
			if resp.status == 403 && !strings.Contains(resp.body, "AccessDenied") || resp.status < 400 {
				t.Errorf("%q: %d %s", q, resp.status, resp.body)
			}
			continue
		}
		var l struct {
			Prefix   string
			Contents []struct{ Key string }
		}
		if err := xml.Unmarshal([]byte(resp.body), &l); err != nil {
			t.Fatalf("%q: %v in %s", q, err, resp.body)
		}
		for _, c := range l.Contents {
			if !strings.HasPrefix(c.Key, "raw/") && !strings.HasPrefix(c.Key, "curated/") {
				t.Errorf("%q listed %q (MinIO's prefix %q)", q, c.Key, l.Prefix)
			}
		}
	}
	// AbortMultipartUpload is allowed on curated/, DeleteObject is not: an
	// uploadId that MinIO would drop must not turn one into the other.
	for _, q := range []string{"uploadId=x;", "uploadId=x;y", "uploadId=a&uploadId=b", "uploadId=x&x;=1"} {
		resp := r.rawDo(t, "DELETE", "/lake/curated/keep.txt?"+q, nil, "")
		if !r.allKeys(t)["curated/keep.txt"] {
			t.Fatalf("DELETE ?%s (answer %d %s) deleted curated/keep.txt", q, resp.status, resp.body)
		}
	}
}

// TestS3KeyForms: keys that servers normalise differently are refused by
// Airlock itself, so no key outside the allowed prefix is read or written.
func TestS3KeyForms(t *testing.T) {
	r := newS3Rig(t, true)
	for _, p := range []string{
		"raw/../secret/s.csv",
		"raw/%2E%2E/secret/s.csv",
		"raw/%2e%2e/secret/s.csv",
		"raw/./../secret/s.csv",
		"raw/..%2Fsecret/s.csv",
		"raw/%2E%2E%2Fsecret%2Fs.csv",
		"raw//../secret/s.csv",
		"raw/..%5Csecret/s.csv",
		`raw/..\secret/s.csv`,
		"raw/%252E%252E/secret/s.csv",
		"raw/%2e%2e%5csecret%5cs.csv",
		"raw/a.csv/..",
		"raw/.",
		"raw/a.csv%00",
		"raw/a.csv.",
	} {
		resp := r.rawDo(t, "GET", "/lake/"+p, nil, "")
		if strings.Contains(resp.body, "seed secret") {
			t.Errorf("GET %s read secret/s.csv", p)
		}
		if !resp.refusedByAirlock() {
			t.Errorf("GET %s: %d %q, want Airlock's refusal", p, resp.status, resp.body)
		}
	}
	// Forms no server here reads as a dot segment, which Airlock passes
	// through as the keys they are: they must not read secret/ either.
	for _, p := range []string{
		"raw/%EF%BC%8E%EF%BC%8E/secret/s.csv", // fullwidth full stops (NFKC: "..")
		"raw/%E2%80%A4%E2%80%A4/secret/s.csv", // one dot leaders
		"raw/..%E2%88%95secret/s.csv",         // division slash
	} {
		resp := r.rawDo(t, "GET", "/lake/"+p, nil, "")
		if strings.Contains(resp.body, "seed secret") || resp.status == 200 {
			t.Errorf("GET %s: %d %q", p, resp.status, resp.body)
		}
	}
	resp := r.rawDo(t, "GET", "/lake/raw/%C0%AE%C0%AE/secret/s.csv", nil, "") // overlong UTF-8 dots
	if !resp.refusedByAirlock() {
		t.Errorf("overlong UTF-8 dots: %d %q, want Airlock's refusal", resp.status, resp.body)
	}
	before := r.allKeys(t)
	for _, p := range []string{
		"curated/../secret/x",
		"curated/%2E%2E/secret/x",
		"curated/.%2E/secret/x",
		"curated/..%2Fsecret%2Fx",
		"curated/..%5Csecret%5Cx",
		"curated//x",
		"curated/./x",
		"curated/x.",
		"curated/x/.",
		"curated/a%00b",
		"curated/a%0Ab",
		"curated/a%7Fb",
		"curated/a%5Cb",
		"curated/%252E%252E/secret/x",
		"curated/e%CC%81", // NFD: e + combining acute
	} {
		resp := r.rawDo(t, "PUT", "/lake/"+p, nil, "x")
		if !resp.refusedByAirlock() {
			t.Errorf("PUT %s: %d %q, want Airlock's refusal", p, resp.status, resp.body)
		}
	}
	// The same forms in a copy source and in a DeleteObjects body.
	ctx := context.Background()
	c := r.client(t)
	for _, src := range []string{"lake/raw/../secret/s.csv", "lake/raw/%2E%2E/secret/s.csv", "lake/raw/..%2Fsecret%2Fs.csv",
		"lake/raw/..%5Csecret%5Cs.csv", "lake/raw//../secret/s.csv", "lake/raw/%252E%252E/secret/s.csv"} {
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("lake"), Key: aws.String("curated/copied"), CopySource: aws.String(src)})
		if err == nil || !strings.Contains(err.Error(), "airlock:") {
			t.Errorf("CopyObject from %s: %v, want Airlock's refusal", src, err)
		}
	}
	for _, k := range []string{"tmp/../secret/s.csv", `tmp/..\secret\s.csv`, "tmp//../secret/s.csv", "tmp/./1"} {
		_, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("lake"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String(k)}}}})
		if err == nil || !strings.Contains(err.Error(), "airlock:") {
			t.Errorf("DeleteObjects %q: %v, want Airlock's refusal", k, err)
		}
	}
	after := r.allKeys(t)
	if !after["secret/s.csv"] || !after["tmp/1"] {
		t.Error("a refused DeleteObjects deleted an object")
	}
	for k := range after {
		if !before[k] {
			t.Errorf("a refused PUT created %q in MinIO", k)
		}
	}
	// Ordinary keys with dots, spaces, '+' and Unicode in NFC still work.
	for _, p := range []string{"curated/a.b..c/x.csv", "curated/%C3%A9t%C3%A9.txt", "curated/a%20b%2Bc", "curated/...x", "curated/dir/"} {
		resp := r.rawDo(t, "PUT", "/lake/"+p, nil, "ok")
		if resp.status != 200 {
			t.Errorf("PUT %s: %d %s", p, resp.status, resp.body)
		}
	}
}

// TestS3ConfigHeaders: headers that configure more than the object's bytes
// reach MinIO only through a rule that names them in s3.headers; unknown
// x-amz-* and vendor headers are refused. Rules: write-curated does not
// read s3.headers; tagged allows x-amz-tagging, x-amz-tagging-directive
// and x-amz-storage-class under tagged/.
func TestS3ConfigHeaders(t *testing.T) {
	r := newS3Rig(t, true)
	ctx := context.Background()
	c := r.client(t)
	put := func(key string, set func(*s3.PutObjectInput)) error {
		in := &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(key), Body: strings.NewReader("data")}
		set(in)
		_, err := c.PutObject(ctx, in)
		return err
	}
	const named = "in s3.headers"
	for _, tt := range []struct {
		key string
		set func(*s3.PutObjectInput)
	}{
		{"curated/acl.txt", func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLPublicRead }},
		{"curated/grant.txt", func(in *s3.PutObjectInput) {
			in.GrantRead = aws.String(`uri="http://acs.amazonaws.com/groups/global/AllUsers"`)
		}},
		{"curated/tags.txt", func(in *s3.PutObjectInput) { in.Tagging = aws.String("team=etl") }},
		{"curated/class.txt", func(in *s3.PutObjectInput) { in.StorageClass = types.StorageClassReducedRedundancy }},
		{"curated/redirect.txt", func(in *s3.PutObjectInput) { in.WebsiteRedirectLocation = aws.String("/elsewhere") }},
		{"curated/hold.txt", func(in *s3.PutObjectInput) { in.ObjectLockLegalHoldStatus = types.ObjectLockLegalHoldStatusOn }},
		{"curated/lock.txt", func(in *s3.PutObjectInput) {
			in.ObjectLockMode = types.ObjectLockModeGovernance
			in.ObjectLockRetainUntilDate = aws.Time(time.Now().Add(time.Hour))
		}},
		{"curated/sse.txt", func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAes256 }},
		{"tagged/acl.txt", func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLPrivate; in.Tagging = aws.String("a=b") }},
	} {
		why := named
		if strings.HasPrefix(tt.key, "tagged/") {
			why = "no rule allows" // the tagged rule's own condition refuses x-amz-acl
		}
		wantAccessDenied(t, put(tt.key, tt.set), why)
		if _, ok := r.object(t, tt.key); ok {
			t.Errorf("%s: a denied PutObject reached MinIO", tt.key)
		}
	}
	// The rule that names them allows them, and MinIO applies them.
	if err := put("tagged/t.txt", func(in *s3.PutObjectInput) {
		in.Tagging = aws.String("team=etl")
		in.StorageClass = types.StorageClassReducedRedundancy
	}); err != nil {
		t.Fatalf("tagged PutObject: %v", err)
	}
	tags, err := r.direct(t).GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("lake"), Key: aws.String("tagged/t.txt")})
	if err != nil || len(tags.TagSet) != 1 || *tags.TagSet[0].Key != "team" || *tags.TagSet[0].Value != "etl" {
		t.Fatalf("MinIO's tags on tagged/t.txt: %+v %v", tags, err)
	}
	head, err := r.direct(t).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("lake"), Key: aws.String("tagged/t.txt")})
	if err != nil || head.StorageClass != types.StorageClassReducedRedundancy {
		t.Fatalf("MinIO's storage class on tagged/t.txt: %v %v", head, err)
	}
	// A copy that replaces tags: allowed under tagged/, denied under curated/.
	cp := func(dst string) error {
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("lake"), Key: aws.String(dst), CopySource: aws.String("lake/raw/a.csv"),
			TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("copied=yes")})
		return err
	}
	if err := cp("tagged/copy.csv"); err != nil {
		t.Fatalf("tagged copy: %v", err)
	}
	wantAccessDenied(t, cp("curated/copy.csv"), named)
	if _, ok := r.object(t, "curated/copy.csv"); ok {
		t.Error("a denied copy reached MinIO")
	}
	// Headers Airlock does not understand are refused, not passed.
	for _, h := range [][2]string{{"x-amz-write-offset-bytes", "0"}, {"X-Minio-Source-Mtime", "2001-01-01T00:00:00Z"}, {"x-amz-meta-a", "1"}} {
		method, key := "PUT", "curated/unknown.txt"
		if h[0] == "x-amz-meta-a" {
			method, key = "GET", "raw/a.csv" // metadata on a read
		}
		resp := r.rawDo(t, method, "/lake/"+key, [][2]string{h}, "x")
		if !resp.refusedByAirlock() {
			t.Errorf("%s %s with %s: %d %s, want Airlock's refusal", method, key, h[0], resp.status, resp.body)
		}
	}
	if _, ok := r.object(t, "curated/unknown.txt"); ok {
		t.Error("a request with an unknown header reached MinIO")
	}
}

// TestS3MetadataFidelity: user metadata (key case, empty values, spacing)
// and Content-Encoding stored through Airlock equal what MinIO stores for
// the same request sent to it directly, on PutObject and on CopyObject
// with x-amz-metadata-directive: REPLACE.
func TestS3MetadataFidelity(t *testing.T) {
	r := newS3Rig(t, true)
	ctx := context.Background()
	meta := map[string]string{"CamelCase": "Mixed  Case  value", "empty": "", "lower": "x", "Dots.And_Under": "é"}
	in := func(key string) *s3.PutObjectInput {
		return &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(key), Body: strings.NewReader("data"),
			Metadata: meta, ContentEncoding: aws.String("deflate, gzip"), ContentType: aws.String("text/csv; charset=utf-8")}
	}
	if _, err := r.direct(t).PutObject(ctx, in("curated/direct.txt")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.client(t).PutObject(ctx, in("curated/airlock.txt")); err != nil {
		t.Fatal(err)
	}
	// The same through a raw request whose header names keep the client's case.
	resp := r.rawDo(t, "PUT", "/lake/curated/raw.txt", [][2]string{
		{"x-amz-meta-CamelCase", "Mixed  Case  value"}, {"x-amz-meta-empty", ""}, {"X-AMZ-META-LOWER", "x"}, {"x-amz-meta-Dots.And_Under", "é"},
		{"content-encoding", "deflate, gzip"}, {"Content-Type", "text/csv; charset=utf-8"},
	}, "data")
	if resp.status != 200 {
		t.Fatalf("raw PUT: %d %s", resp.status, resp.body)
	}
	copyIn := func(key string) *s3.CopyObjectInput {
		return &s3.CopyObjectInput{Bucket: aws.String("lake"), Key: aws.String(key), CopySource: aws.String("lake/raw/a.csv"),
			MetadataDirective: types.MetadataDirectiveReplace, Metadata: meta, ContentEncoding: aws.String("deflate, gzip")}
	}
	if _, err := r.direct(t).CopyObject(ctx, copyIn("curated/copy-direct.txt")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.client(t).CopyObject(ctx, copyIn("curated/copy-airlock.txt")); err != nil {
		t.Fatal(err)
	}
	stored := func(key string) string {
		h, err := r.direct(t).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("lake"), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return fmt.Sprintf("meta=%q encoding=%q type=%q", h.Metadata, aws.ToString(h.ContentEncoding), aws.ToString(h.ContentType))
	}
	want := stored("curated/direct.txt")
	if !strings.Contains(want, `"empty":""`) || !strings.Contains(want, `"deflate, gzip"`) {
		t.Logf("MinIO stores, sent directly: %s", want)
	}
	for _, k := range []string{"curated/airlock.txt", "curated/raw.txt"} {
		if got := stored(k); got != want {
			t.Errorf("%s through Airlock:\n got %s\nwant %s (sent directly)", k, got, want)
		}
	}
	if got, want := stored("curated/copy-airlock.txt"), stored("curated/copy-direct.txt"); got != want {
		t.Errorf("copy with REPLACE through Airlock:\n got %s\nwant %s (sent directly)", got, want)
	}
}

// TestS3MetadataBoto3: boto3 (what ceph's s3-tests use) stores the same user
// metadata through Airlock as directly, and reads back the same headers.
func TestS3MetadataBoto3(t *testing.T) {
	needTool(t, "python3", "-c", "import boto3")
	r := newS3Rig(t, false)
	script := writeFile(t, filepath.Join(r.dir, "meta.py"), `
import os, boto3, json
via = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
direct = boto3.client("s3", endpoint_url=os.environ["MINIO_URL"], aws_access_key_id=os.environ["MINIO_KEY"],
                      aws_secret_access_key=os.environ["MINIO_SECRET"], region_name="us-east-1")
cases = [{"meta1": "bar"}, {"Meta1": ""}, {"CamelCase": " two  spaces "}, {"a": "x", "B": "y", "empty": ""},
         {"meta1": "Hello World\xe9"}, {"meta1": "\x04mymeta"}, {"meta1": "h\u00e9llo"}]
for i, meta in enumerate(cases):
    seen = []
    for name, c in (("direct", direct), ("airlock", via)):
        key = "curated/boto-%d-%s" % (i, name)
        try:
            c.put_object(Bucket="lake", Key=key, Body=b"x", Metadata=meta, ContentEncoding="deflate, gzip")
        except Exception as e:
            seen.append("put failed: %s" % type(e).__name__)
            seen.append("")
            continue
        h = direct.head_object(Bucket="lake", Key=key)
        hdrs = {k: v for k, v in h["ResponseMetadata"]["HTTPHeaders"].items() if k.startswith("x-amz-meta-") or k == "content-encoding"}
        seen.append(json.dumps([h["Metadata"], hdrs], sort_keys=True))
        c.copy_object(Bucket="lake", Key=key + "-copy", CopySource="lake/raw/a.csv", MetadataDirective="REPLACE", Metadata=meta)
        h = direct.head_object(Bucket="lake", Key=key + "-copy")
        seen.append(json.dumps(h["Metadata"], sort_keys=True))
    print("case", i, "same" if seen[:2] == seen[2:] else "DIFFERENT %r" % seen)
`)
	out, err := r.shell(t, fmt.Sprintf("MINIO_URL=%s MINIO_KEY=%s MINIO_SECRET=%s python3 %s", r.minio.Endpoint, r.minio.AccessKey, r.minio.SecretKey, script))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	mustContain(t, "boto3 metadata", out, "case 0 same", "case 1 same", "case 2 same", "case 3 same", "case 4 same", "case 5 same", "case 6 same")
}
