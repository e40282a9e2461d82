package s3_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/s3"
)

var hostSuffixes = []string{"localhost", "s3.localhost"}

// want builds an expected Op; the options add the other fields.
func want(action, bucket, key string, opts ...func(*s3.Op)) s3.Op {
	op := s3.Op{S3: policy.S3{Action: action, Bucket: bucket, Key: key}}
	for _, o := range opts {
		o(&op)
	}
	return op
}

func sub(s string) func(*s3.Op) { return func(o *s3.Op) { o.SubResource = s } }
func headers(kv ...string) func(*s3.Op) {
	return func(o *s3.Op) {
		o.S3.Headers = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			o.S3.Headers[kv[i]] = kv[i+1]
		}
	}
}
func prefix(p string) func(*s3.Op)  { return func(o *s3.Op) { o.S3.Prefix = p } }
func version(v string) func(*s3.Op) { return func(o *s3.Op) { o.S3.VersionID = v } }
func needsBody(o *s3.Op)            { o.NeedsBody = true }
func source(bucket, key, version string) func(*s3.Op) {
	return func(o *s3.Op) { o.S3.SourceBucket, o.S3.SourceKey, o.SourceVersionID = bucket, key, version }
}

// readRequest parses a request the way net/http's server does.
func readRequest(t testing.TB, method, target, host string, header map[string]string) *http.Request {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, host)
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil {
		t.Fatalf("ReadRequest %q: %v", target, err)
	}
	return r
}

// checkOp compares an Op with RawKey left out; RawKey must decode to Key.
func checkOp(t *testing.T, got, want s3.Op) {
	t.Helper()
	if got.S3.Key != "" {
		if k, err := url.PathUnescape(got.RawKey); err != nil || k != got.S3.Key {
			t.Errorf("RawKey %q does not decode to Key %q", got.RawKey, got.S3.Key)
		}
	}
	got.RawKey, got.Query, got.Header = "", "", nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestClassify(t *testing.T) {
	copyHdr := func(v string) map[string]string { return map[string]string{"X-Amz-Copy-Source": v} }
	tests := []struct {
		name           string
		method, target string
		host           string // default 127.0.0.1:9000
		header         map[string]string
		want           s3.Op
		err            error
	}{
		// Service and bucket level.
		{name: "list buckets", method: "GET", target: "/", want: want("ListBuckets", "", "")},
		{name: "list buckets x-id and prefix", method: "GET", target: "/?x-id=ListBuckets&prefix=a&max-buckets=5", want: want("ListBuckets", "", "")},
		{name: "list directory buckets is ListBuckets", method: "GET", target: "/?x-id=ListDirectoryBuckets", want: want("ListBuckets", "", "")},
		{name: "head on service", method: "HEAD", target: "/", want: want("Unknown", "", "")},
		{name: "service sub-resource", method: "GET", target: "/?acl", want: want("Unknown", "", "", sub("acl"))},
		{name: "minio STS on service", method: "POST", target: "/?Action=AssumeRole", want: want("Unknown", "", "", sub("Action"))},
		{name: "head bucket", method: "HEAD", target: "/bkt", want: want("HeadBucket", "bkt", "")},
		{name: "bucket trailing slash", method: "HEAD", target: "/bkt/", want: want("HeadBucket", "bkt", "")},
		{name: "list objects v1", method: "GET", target: "/bkt?prefix=logs%2F2024%2F&delimiter=%2F&marker=x&max-keys=10&encoding-type=url", want: want("ListObjects", "bkt", "", prefix("logs/2024/"))},
		{name: "list objects no prefix", method: "GET", target: "/bkt", want: want("ListObjects", "bkt", "")},
		{name: "list v2", method: "GET", target: "/bkt?list-type=2&prefix=a%20b%2Bc&continuation-token=tok&start-after=k&fetch-owner=true", want: want("ListObjectsV2", "bkt", "", prefix("a b+c"), sub("list-type"))},
		{name: "list v2 plus in query is space", method: "GET", target: "/bkt?list-type=2&prefix=a+b", want: want("ListObjectsV2", "bkt", "", prefix("a b"), sub("list-type"))},
		{name: "list-type=1", method: "GET", target: "/bkt?list-type=1", want: want("Unknown", "bkt", "", sub("list-type"))},
		{name: "list versions", method: "GET", target: "/bkt?versions&prefix=p&key-marker=a&version-id-marker=b", want: want("ListObjectVersions", "bkt", "", prefix("p"), sub("versions"))},
		{name: "list uploads", method: "GET", target: "/bkt?uploads&prefix=up%2F", want: want("ListMultipartUploads", "bkt", "", prefix("up/"), sub("uploads"))},
		{name: "location", method: "GET", target: "/bkt?location", want: want("GetBucketLocation", "bkt", "", sub("location"))},
		{name: "create bucket", method: "PUT", target: "/bkt", want: want("CreateBucket", "bkt", "")},
		{name: "delete bucket", method: "DELETE", target: "/bkt", want: want("DeleteBucket", "bkt", "")},
		{name: "bucket acl", method: "GET", target: "/bkt?acl", want: want("GetBucketAcl", "bkt", "", sub("acl"))},
		{name: "bucket acl with value", method: "PUT", target: "/bkt?acl=", want: want("PutBucketAcl", "bkt", "", sub("acl"))},
		{name: "bucket policy delete", method: "DELETE", target: "/bkt?policy", want: want("DeleteBucketPolicy", "bkt", "", sub("policy"))},
		{name: "lifecycle", method: "PUT", target: "/bkt?lifecycle", want: want("PutBucketLifecycleConfiguration", "bkt", "", sub("lifecycle"))},
		{name: "object lock config", method: "GET", target: "/bkt?object-lock", want: want("GetObjectLockConfiguration", "bkt", "", sub("object-lock"))},
		{name: "analytics get", method: "GET", target: "/bkt?analytics&id=a1&x-id=GetBucketAnalyticsConfiguration", want: want("GetBucketAnalyticsConfiguration", "bkt", "", sub("analytics"))},
		{name: "analytics list", method: "GET", target: "/bkt?analytics&x-id=ListBucketAnalyticsConfigurations", want: want("ListBucketAnalyticsConfigurations", "bkt", "", sub("analytics"))},
		{name: "id without a configuration", method: "GET", target: "/bkt?acl&id=1", want: want("Unknown", "bkt", "", sub("id"))},
		{name: "delete objects", method: "POST", target: "/bkt?delete", want: want("DeleteObjects", "bkt", "", sub("delete"), needsBody)},
		{name: "delete on object is unknown", method: "POST", target: "/bkt/k?delete", want: want("Unknown", "bkt", "k", sub("delete"))},
		{name: "browser POST upload", method: "POST", target: "/bkt", want: want("Unknown", "bkt", "")},
		{name: "unknown sub-resource", method: "GET", target: "/bkt?foo", want: want("Unknown", "bkt", "", sub("foo"))},
		{name: "sub-resource case matters", method: "GET", target: "/bkt?ACL", want: want("Unknown", "bkt", "", sub("ACL"))},
		{name: "minio events", method: "GET", target: "/bkt?events=s3:ObjectCreated:*", want: want("Unknown", "bkt", "", sub("events"))},
		{name: "two sub-resources", method: "GET", target: "/bkt?tagging&acl", want: want("Unknown", "bkt", "", sub("acl&tagging"))},
		{name: "object sub-resource on bucket", method: "GET", target: "/bkt?attributes", want: want("Unknown", "bkt", "", sub("attributes"))},
		{name: "bucket sub-resource on object", method: "GET", target: "/bkt/k?versioning", want: want("Unknown", "bkt", "k", sub("versioning"))},
		{name: "OPTIONS preflight", method: "OPTIONS", target: "/bkt/k", want: want("Unknown", "bkt", "k")},
		{name: "lowercase method", method: "get", target: "/bkt/k", want: want("Unknown", "bkt", "k")},
		{name: "SigV2 presign is unknown", method: "GET", target: "/bkt/k?AWSAccessKeyId=A&Expires=1&Signature=s", want: want("Unknown", "bkt", "k", sub("AWSAccessKeyId"))},

		// Objects and keys.
		{name: "get object", method: "GET", target: "/bkt/dir/file.txt", want: want("GetObject", "bkt", "dir/file.txt")},
		{name: "get object x-id", method: "GET", target: "/bkt/k?x-id=GetObject", want: want("GetObject", "bkt", "k")},
		{name: "x-id does not change the operation", method: "GET", target: "/bkt/k?x-id=PutObject", want: want("GetObject", "bkt", "k")},
		{name: "get part and version", method: "GET", target: "/bkt/k?partNumber=2&versionId=v%2B1&response-content-type=text%2Fplain", want: want("GetObject", "bkt", "k", version("v+1"))},
		{name: "presign params", method: "GET", target: "/bkt/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=t%2B%2F&X-Amz-Signature=abc&x-id=GetObject", want: want("GetObject", "bkt", "k")},
		{name: "hoisted header in query", method: "PUT", target: "/bkt/k?X-Amz-Expected-Bucket-Owner=1&X-Amz-Signature=s", want: want("PutObject", "bkt", "k")},
		{name: "head object", method: "HEAD", target: "/bkt/k?partNumber=1", want: want("HeadObject", "bkt", "k")},
		{name: "put object", method: "PUT", target: "/bkt/k", want: want("PutObject", "bkt", "k")},
		{name: "put with partNumber alone", method: "PUT", target: "/bkt/k?partNumber=1", want: want("Unknown", "bkt", "k", sub("partNumber"))},
		{name: "delete object version", method: "DELETE", target: "/bkt/k?versionId=3HL4kqtJ&x-id=DeleteObject", want: want("DeleteObject", "bkt", "k", version("3HL4kqtJ"))},
		{name: "double slash key", method: "GET", target: "/bkt/a//b", err: s3.ErrInvalidKey},
		{name: "dot-dot key refused", method: "GET", target: "/bkt/a/../b", err: s3.ErrInvalidKey},
		{name: "dot key refused", method: "GET", target: "/bkt/./x", err: s3.ErrInvalidKey},
		{name: "escaped dot-dot decoded once, refused", method: "GET", target: "/bkt/public/%2E%2E/secret", err: s3.ErrInvalidKey},
		{name: "trailing slash key", method: "PUT", target: "/bkt/dir/", want: want("PutObject", "bkt", "dir/")},
		{name: "slash-only key", method: "GET", target: "/bkt//", err: s3.ErrInvalidKey},
		{name: "escaped slash", method: "GET", target: "/bkt/a%2Fb", want: want("GetObject", "bkt", "a/b")},
		{name: "double-escaped is refused", method: "GET", target: "/bkt/a%252Fb", err: s3.ErrInvalidKey},
		{name: "literal percent kept", method: "GET", target: "/bkt/100%25", want: want("GetObject", "bkt", "100%")},
		{name: "escaped plus", method: "GET", target: "/bkt/a%2Bb", want: want("GetObject", "bkt", "a+b")},
		{name: "literal plus refused", method: "GET", target: "/bkt/a+b", err: s3.ErrInvalidURI},
		{name: "space", method: "GET", target: "/bkt/a%20b", want: want("GetObject", "bkt", "a b")},
		{name: "unicode", method: "GET", target: "/bkt/%C3%BCn%C3%AF/%E6%96%87", want: want("GetObject", "bkt", "ünï/文")},
		{name: "raw unicode", method: "GET", target: "/bkt/ünï", want: want("GetObject", "bkt", "ünï")},
		{name: "question mark in key", method: "GET", target: "/bkt/what%3F.txt?versionId=v", want: want("GetObject", "bkt", "what?.txt", version("v"))},
		{name: "hash in key", method: "GET", target: "/bkt/a%23b", want: want("GetObject", "bkt", "a#b")},
		{name: "lowercase escapes", method: "GET", target: "/bkt/a%2fb%3f", want: want("GetObject", "bkt", "a/b?")},
		{name: "NUL in key", method: "GET", target: "/bkt/a%00b", err: s3.ErrInvalidKey},
		{name: "invalid UTF-8 key", method: "GET", target: "/bkt/%FF", err: s3.ErrInvalidKey},
		{name: "key 1024 bytes", method: "GET", target: "/bkt/" + strings.Repeat("k", 1024), want: want("GetObject", "bkt", strings.Repeat("k", 1024))},
		{name: "key 1025 bytes", method: "GET", target: "/bkt/" + strings.Repeat("k", 1025), err: s3.ErrKeyTooLong},
		{name: "key 1025 bytes escaped", method: "GET", target: "/bkt/" + strings.Repeat("%41", 1025), err: s3.ErrKeyTooLong},
		{name: "escaped bucket decoded", method: "GET", target: "/my%2Dbkt/k", want: want("GetObject", "my-bkt", "k")},
		{name: "repeated parameter", method: "GET", target: "/bkt/k?versionId=a&versionId=b", err: s3.ErrInvalidURI},
		{name: "raw semicolon is refused", method: "GET", target: "/bkt/k?versionId=a;acl", err: s3.ErrInvalidURI},
		{name: "escaped semicolon is a value", method: "GET", target: "/bkt/k?versionId=a%3Bacl", want: want("GetObject", "bkt", "k", version("a;acl"))},
		{name: "parameter without a name", method: "GET", target: "/bkt?list-type=2&=x", err: s3.ErrInvalidURI},
		{name: "bad query escape", method: "GET", target: "/bkt/k?prefix=%zz", err: s3.ErrInvalidURI},
		{name: "escaped sub-resource name", method: "GET", target: "/bkt?%61cl", want: want("GetBucketAcl", "bkt", "", sub("acl"))},

		// Bucket names.
		{name: "bucket too short", method: "GET", target: "/ab/k", err: s3.ErrInvalidBucketName},
		{name: "bucket uppercase", method: "GET", target: "/Bkt/k", err: s3.ErrInvalidBucketName},
		{name: "bucket underscore", method: "GET", target: "/b_kt/k", err: s3.ErrInvalidBucketName},
		{name: "bucket 64 chars", method: "GET", target: "/" + strings.Repeat("b", 64), err: s3.ErrInvalidBucketName},
		{name: "bucket 63 chars", method: "GET", target: "/" + strings.Repeat("b", 63), want: want("ListObjects", strings.Repeat("b", 63), "")},
		{name: "bucket leading dash", method: "GET", target: "/-bkt", err: s3.ErrInvalidBucketName},
		{name: "bucket double dot", method: "GET", target: "/b..kt", err: s3.ErrInvalidBucketName},
		{name: "empty bucket segment", method: "GET", target: "//k", err: s3.ErrInvalidBucketName},
		{name: "escaped slash in bucket", method: "GET", target: "/b%2Fkt/k", err: s3.ErrInvalidBucketName},
		{name: "minio reserved path", method: "GET", target: "/minio/admin/v3/info", err: s3.ErrInvalidBucketName},

		// Virtual-hosted style.
		{name: "vhost object", method: "GET", target: "/dir/k", host: "bkt.localhost:9000", want: want("GetObject", "bkt", "dir/k")},
		{name: "vhost bucket", method: "GET", target: "/?list-type=2&prefix=p", host: "bkt.localhost:9000", want: want("ListObjectsV2", "bkt", "", prefix("p"), sub("list-type"))},
		{name: "vhost dotted bucket", method: "GET", target: "/k", host: "my.bkt.localhost", want: want("GetObject", "my.bkt", "k")},
		{name: "vhost longest suffix", method: "GET", target: "/k", host: "bkt.s3.localhost:9000", want: want("GetObject", "bkt", "k")},
		{name: "vhost trailing dot", method: "GET", target: "/k", host: "bkt.localhost.:9000", want: want("GetObject", "bkt", "k")},
		{name: "vhost suffix case", method: "GET", target: "/k", host: "bkt.LOCALHOST:9000", want: want("GetObject", "bkt", "k")},
		{name: "vhost path keeps first segment", method: "GET", target: "/other/k", host: "bkt.localhost", want: want("GetObject", "bkt", "other/k")},
		{name: "vhost invalid bucket", method: "GET", target: "/k", host: "Bkt.localhost", err: s3.ErrInvalidBucketName},
		{name: "vhost empty label is path style", method: "GET", target: "/bkt/k", host: ".localhost", want: want("GetObject", "bkt", "k")},
		{name: "suffix alone is path style", method: "GET", target: "/bkt/k", host: "localhost:9000", want: want("GetObject", "bkt", "k")},
		{name: "ipv6 host", method: "GET", target: "/bkt/k", host: "[::1]:9000", want: want("GetObject", "bkt", "k")},
		{name: "other host is path style", method: "GET", target: "/bkt/k", host: "bkt.example.com", want: want("GetObject", "bkt", "k")},

		// Object sub-resources and multipart.
		{name: "object acl", method: "PUT", target: "/bkt/k?acl", want: want("PutObjectAcl", "bkt", "k", sub("acl"))},
		{name: "object tagging delete", method: "DELETE", target: "/bkt/k?tagging&versionId=v", want: want("DeleteObjectTagging", "bkt", "k", sub("tagging"), version("v"))},
		{name: "attributes", method: "GET", target: "/bkt/k?attributes", want: want("GetObjectAttributes", "bkt", "k", sub("attributes"))},
		{name: "restore", method: "POST", target: "/bkt/k?restore", want: want("RestoreObject", "bkt", "k", sub("restore"))},
		{name: "select", method: "POST", target: "/bkt/k?select&select-type=2", want: want("SelectObjectContent", "bkt", "k", sub("select"))},
		{name: "select without type", method: "POST", target: "/bkt/k?select", want: want("Unknown", "bkt", "k", sub("select"))},
		{name: "select-type elsewhere", method: "GET", target: "/bkt/k?select-type=2", want: want("Unknown", "bkt", "k", sub("select-type"))},
		{name: "legal hold", method: "PUT", target: "/bkt/k?legal-hold", want: want("PutObjectLegalHold", "bkt", "k", sub("legal-hold"))},
		{name: "retention", method: "GET", target: "/bkt/k?retention", want: want("GetObjectRetention", "bkt", "k", sub("retention"))},
		{name: "create upload", method: "POST", target: "/bkt/k?uploads", want: want("CreateMultipartUpload", "bkt", "k", sub("uploads"))},
		{name: "upload part", method: "PUT", target: "/bkt/k?partNumber=1&uploadId=u", want: want("UploadPart", "bkt", "k", sub("uploadId"))},
		{name: "upload part without number", method: "PUT", target: "/bkt/k?uploadId=u", want: want("Unknown", "bkt", "k", sub("uploadId"))},
		{name: "complete upload", method: "POST", target: "/bkt/k?uploadId=u", want: want("CompleteMultipartUpload", "bkt", "k", sub("uploadId"))},
		{name: "abort upload", method: "DELETE", target: "/bkt/k?uploadId=u&x-id=AbortMultipartUpload", want: want("AbortMultipartUpload", "bkt", "k", sub("uploadId"))},
		{name: "list parts", method: "GET", target: "/bkt/k?uploadId=u&max-parts=10&part-number-marker=2", want: want("ListParts", "bkt", "k", sub("uploadId"))},
		{name: "list parts with partNumber", method: "GET", target: "/bkt/k?uploadId=u&partNumber=1", want: want("Unknown", "bkt", "k", sub("partNumber"))},
		{name: "uploads and uploadId", method: "POST", target: "/bkt/k?uploads&uploadId=u", want: want("Unknown", "bkt", "k", sub("uploadId&uploads"))},
		{name: "rename object", method: "PUT", target: "/bkt/k?renameObject", want: want("Unknown", "bkt", "k", sub("renameObject"))},
		{name: "rename source header", method: "PUT", target: "/bkt/k?renameObject", header: map[string]string{"X-Amz-Rename-Source": "/bkt/other"}, err: s3.ErrNotImplemented},

		// Copies.
		{name: "copy", method: "PUT", target: "/bkt/dst", header: copyHdr("src-bkt/dir/a%20b%2Bc.txt"), want: want("CopyObject", "bkt", "dst", source("src-bkt", "dir/a b+c.txt", ""))},
		{name: "copy leading slash and version", method: "PUT", target: "/bkt/dst", header: copyHdr("/src-bkt/k%3Fq?versionId=v%2F1"), want: want("CopyObject", "bkt", "dst", source("src-bkt", "k?q", "v/1"))},
		{name: "copy source dot-dot refused", method: "PUT", target: "/bkt/dst", header: copyHdr("src-bkt/public/../secret"), err: s3.ErrInvalidKey},
		{name: "copy escaped slash in key", method: "PUT", target: "/bkt/dst", header: copyHdr("src-bkt%2Fdir/k"), err: s3.ErrInvalidCopySource},
		{name: "upload part copy", method: "PUT", target: "/bkt/dst?partNumber=3&uploadId=u", header: map[string]string{"X-Amz-Copy-Source": "src-bkt/k", "X-Amz-Copy-Source-Range": "bytes=0-9"}, want: want("UploadPartCopy", "bkt", "dst", sub("uploadId"), source("src-bkt", "k", ""))},
		{name: "copy source on get", method: "GET", target: "/bkt/k", header: copyHdr("src-bkt/k"), err: s3.ErrInvalidCopySource},
		{name: "copy source on unknown", method: "PUT", target: "/bkt/k?foo", header: copyHdr("src-bkt/k"), err: s3.ErrInvalidCopySource},
		{name: "copy source on tagging", method: "PUT", target: "/bkt/k?tagging", header: copyHdr("src-bkt/k"), err: s3.ErrInvalidCopySource},
		{name: "copy source on create bucket", method: "PUT", target: "/bkt", header: copyHdr("src-bkt/k"), err: s3.ErrInvalidCopySource},
		{name: "copy range without source", method: "PUT", target: "/bkt/k", header: map[string]string{"X-Amz-Copy-Source-Range": "bytes=0-1"}, err: s3.ErrInvalidCopySource},
		{name: "copy source in query", method: "PUT", target: "/bkt/k?X-Amz-Copy-Source=src-bkt%2Fk", err: s3.ErrInvalidCopySource},
		{name: "copy source arn", method: "PUT", target: "/bkt/k", header: copyHdr("arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/k"), err: s3.ErrNotImplemented},
		{name: "copy source escaped arn", method: "PUT", target: "/bkt/k", header: copyHdr("arn%3Aaws%3As3%3A%3A%3Aaccesspoint%2Fap/object/k"), err: s3.ErrNotImplemented},
		{name: "copy source no key", method: "PUT", target: "/bkt/k", header: copyHdr("src-bkt"), err: s3.ErrInvalidCopySource},
		{name: "copy source empty key", method: "PUT", target: "/bkt/k", header: copyHdr("src-bkt/"), err: s3.ErrInvalidCopySource},
		{name: "copy source bad bucket", method: "PUT", target: "/bkt/k", header: copyHdr("Src/k"), err: s3.ErrInvalidCopySource},
		{name: "copy source other query", method: "PUT", target: "/bkt/k", header: copyHdr("src-bkt/k?acl"), err: s3.ErrInvalidCopySource},
		{name: "copy source extra query", method: "PUT", target: "/bkt/k", header: copyHdr("src-bkt/k?versionId=a&acl"), err: s3.ErrInvalidCopySource},
		{name: "copy source raw question mark", method: "PUT", target: "/bkt/k", header: copyHdr("src-bkt/a?b"), err: s3.ErrInvalidCopySource},
		{name: "copy source literal plus", method: "PUT", target: "/bkt/k", header: copyHdr("src-bkt/a+b"), err: s3.ErrInvalidCopySource},
		{name: "copy source bad escape", method: "PUT", target: "/bkt/k", header: copyHdr("src-bkt/a%zz"), err: s3.ErrInvalidCopySource},
		{name: "copy source key too long", method: "PUT", target: "/bkt/k", header: copyHdr("src-bkt/" + strings.Repeat("k", 1025)), err: s3.ErrKeyTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := tt.host
			if host == "" {
				host = "127.0.0.1:9000"
			}
			got, err := s3.Classify(readRequest(t, tt.method, tt.target, host, tt.header), hostSuffixes)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v (op %+v)", err, tt.err, got)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			checkOp(t, got, tt.want)
		})
	}
}

func TestClassifyHeaderEdgeCases(t *testing.T) {
	r := readRequest(t, "PUT", "/bkt/dst", "127.0.0.1", nil)
	r.Header["x-amz-copy-source"] = []string{"src-bkt/a"} // not canonicalised
	r.Header["X-Amz-Copy-Source"] = []string{"src-bkt/b"}
	if _, err := s3.Classify(r, nil); !errors.Is(err, s3.ErrInvalidCopySource) {
		t.Errorf("two copy sources: err = %v", err)
	}
	r.Header = http.Header{"x-amz-copy-source": {"src-bkt/a"}}
	op, err := s3.Classify(r, nil)
	if err != nil || op.S3.Action != "CopyObject" || op.S3.SourceKey != "a" {
		t.Errorf("lowercase header: %+v, %v", op, err)
	}
	r.Header = http.Header{"X-Amz-Copy-Source": {""}}
	if _, err := s3.Classify(r, nil); !errors.Is(err, s3.ErrInvalidCopySource) {
		t.Errorf("empty copy source: err = %v", err)
	}
	op, err = s3.Classify(readRequest(t, "GET", "/bkt/a%2Fb%20c", "127.0.0.1", nil), nil)
	if err != nil || op.RawKey != "a%2Fb%20c" {
		t.Errorf("RawKey = %q, %v; want the escaped key as sent", op.RawKey, err)
	}
	r = readRequest(t, "GET", "/bkt/k", "127.0.0.1", nil)
	r.URL.Opaque = "x"
	if _, err := s3.Classify(r, nil); !errors.Is(err, s3.ErrInvalidURI) {
		t.Errorf("opaque URL: err = %v", err)
	}
}

// sdkServer records how Classify sees each request the real SDK sends.
type sdkServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []sdkRequest
}

type sdkRequest struct {
	op   s3.Op
	err  error
	body string
	uri  string
}

func newSDKServer(t *testing.T) *sdkServer {
	s := &sdkServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		op, err := s3.Classify(r, hostSuffixes)
		s.mu.Lock()
		s.seen = append(s.seen, sdkRequest{op: op, err: err, body: string(body), uri: r.Host + " " + r.Method + " " + r.RequestURI})
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sdkServer) take() []sdkRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := s.seen
	s.seen = nil
	return seen
}

// httpClient dials the test server whatever host the SDK addresses.
func (s *sdkServer) httpClient() *http.Client {
	addr := s.Listener.Addr().String()
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) },
	}}
}

// client is an SDK client for the endpoint; client-side input validation is
// off so that operations can be sent with only a bucket and key.
func (s *sdkServer) client(endpoint string, pathStyle bool) *awss3.Client {
	return awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: pathStyle,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
		HTTPClient:   s.httpClient(),
		Retryer:      aws.NopRetryer{},
		APIOptions: []func(*middleware.Stack) error{func(st *middleware.Stack) error {
			_, _ = st.Initialize.Remove("OperationInputValidation") // absent on operations with no required input
			return nil
		}},
	})
}

type sdkCall func(context.Context, *awss3.Client) error

// call adapts an SDK method and its input to an sdkCall.
func call[In, Out any](m func(*awss3.Client, context.Context, *In, ...func(*awss3.Options)) (*Out, error), in *In) sdkCall {
	return func(ctx context.Context, c *awss3.Client) error {
		_, err := m(c, ctx, in)
		return err
	}
}

type sdkCase struct {
	name string
	call sdkCall
	want s3.Op
}

// sdkCases covers every operation the SDK has that Classify names; each
// call builds fresh inputs.
func sdkCases() []sdkCase {
	const b, k = "data-bkt", "dir/file.txt"
	bkt, key := aws.String(b), aws.String(k)
	type C = awss3.Client
	return []sdkCase{
		// Listings and buckets.
		{"ListBuckets", call((*C).ListBuckets, &awss3.ListBucketsInput{Prefix: aws.String("data-"), MaxBuckets: aws.Int32(3)}), want("ListBuckets", "", "")},
		{"HeadBucket", call((*C).HeadBucket, &awss3.HeadBucketInput{Bucket: bkt}), want("HeadBucket", b, "")},
		{"GetBucketLocation", call((*C).GetBucketLocation, &awss3.GetBucketLocationInput{Bucket: bkt}), want("GetBucketLocation", b, "", sub("location"))},
		{"ListObjectsV2", call((*C).ListObjectsV2, &awss3.ListObjectsV2Input{Bucket: bkt, Prefix: aws.String("logs/2026 01/a+b?"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(5), StartAfter: aws.String("x"), FetchOwner: aws.Bool(true), EncodingType: types.EncodingTypeUrl}), want("ListObjectsV2", b, "", prefix("logs/2026 01/a+b?"), sub("list-type"))},
		{"ListObjectsV2 whole bucket", call((*C).ListObjectsV2, &awss3.ListObjectsV2Input{Bucket: bkt, ContinuationToken: aws.String("tok/=+")}), want("ListObjectsV2", b, "", sub("list-type"))},
		{"ListObjects", call((*C).ListObjects, &awss3.ListObjectsInput{Bucket: bkt, Prefix: aws.String("p/"), Marker: aws.String("m")}), want("ListObjects", b, "", prefix("p/"))},
		{"ListObjectVersions", call((*C).ListObjectVersions, &awss3.ListObjectVersionsInput{Bucket: bkt, Prefix: aws.String("v/"), KeyMarker: aws.String("a"), VersionIdMarker: aws.String("b")}), want("ListObjectVersions", b, "", prefix("v/"), sub("versions"))},
		{"ListMultipartUploads", call((*C).ListMultipartUploads, &awss3.ListMultipartUploadsInput{Bucket: bkt, Prefix: aws.String("u/"), UploadIdMarker: aws.String("x")}), want("ListMultipartUploads", b, "", prefix("u/"), sub("uploads"))},
		{"CreateBucket", call((*C).CreateBucket, &awss3.CreateBucketInput{Bucket: bkt}), want("CreateBucket", b, "")},
		{"DeleteBucket", call((*C).DeleteBucket, &awss3.DeleteBucketInput{Bucket: bkt}), want("DeleteBucket", b, "")},
		{"CreateSession", call((*C).CreateSession, &awss3.CreateSessionInput{Bucket: bkt}), want("CreateSession", b, "", sub("session"))},

		// Objects.
		{"GetObject", call((*C).GetObject, &awss3.GetObjectInput{Bucket: bkt, Key: key}), want("GetObject", b, k)},
		{"GetObject part version overrides", call((*C).GetObject, &awss3.GetObjectInput{Bucket: bkt, Key: key, VersionId: aws.String("v1+/="), PartNumber: aws.Int32(2), ResponseContentType: aws.String("text/plain"), ResponseContentDisposition: aws.String(`attachment; filename="x"`), Range: aws.String("bytes=0-1")}), want("GetObject", b, k, version("v1+/="))},
		{"HeadObject", call((*C).HeadObject, &awss3.HeadObjectInput{Bucket: bkt, Key: key, PartNumber: aws.Int32(1)}), want("HeadObject", b, k)},
		{"PutObject", call((*C).PutObject, &awss3.PutObjectInput{Bucket: bkt, Key: key, Body: strings.NewReader("hello"), Metadata: map[string]string{"a": "b"}, Tagging: aws.String("t=1")}), want("PutObject", b, k, headers("x-amz-tagging", "t=1"))},
		{"CopyObject", call((*C).CopyObject, &awss3.CopyObjectInput{Bucket: bkt, Key: key, CopySource: aws.String("src-bkt/in%20dir/a%2Bb%3F.txt?versionId=v9")}), want("CopyObject", b, k, source("src-bkt", "in dir/a+b?.txt", "v9"))},
		{"DeleteObject", call((*C).DeleteObject, &awss3.DeleteObjectInput{Bucket: bkt, Key: key, VersionId: aws.String("v2")}), want("DeleteObject", b, k, version("v2"))},
		{"DeleteObjects", call((*C).DeleteObjects, &awss3.DeleteObjectsInput{Bucket: bkt, Delete: &types.Delete{Quiet: aws.Bool(true), Objects: []types.ObjectIdentifier{{Key: aws.String("a")}, {Key: aws.String("b<&>"), VersionId: aws.String("v")}}}}), want("DeleteObjects", b, "", sub("delete"), needsBody)},
		{"CreateMultipartUpload", call((*C).CreateMultipartUpload, &awss3.CreateMultipartUploadInput{Bucket: bkt, Key: key}), want("CreateMultipartUpload", b, k, sub("uploads"))},
		{"UploadPart", call((*C).UploadPart, &awss3.UploadPartInput{Bucket: bkt, Key: key, UploadId: aws.String("up/1+"), PartNumber: aws.Int32(1), Body: strings.NewReader("part")}), want("UploadPart", b, k, sub("uploadId"))},
		{"UploadPartCopy", call((*C).UploadPartCopy, &awss3.UploadPartCopyInput{Bucket: bkt, Key: key, UploadId: aws.String("up1"), PartNumber: aws.Int32(2), CopySource: aws.String("/src-bkt/big.bin"), CopySourceRange: aws.String("bytes=0-99")}), want("UploadPartCopy", b, k, sub("uploadId"), source("src-bkt", "big.bin", ""))},
		{"CompleteMultipartUpload", call((*C).CompleteMultipartUpload, &awss3.CompleteMultipartUploadInput{Bucket: bkt, Key: key, UploadId: aws.String("up1"), MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: aws.String("e"), PartNumber: aws.Int32(1)}}}}), want("CompleteMultipartUpload", b, k, sub("uploadId"))},
		{"AbortMultipartUpload", call((*C).AbortMultipartUpload, &awss3.AbortMultipartUploadInput{Bucket: bkt, Key: key, UploadId: aws.String("up1")}), want("AbortMultipartUpload", b, k, sub("uploadId"))},
		{"ListParts", call((*C).ListParts, &awss3.ListPartsInput{Bucket: bkt, Key: key, UploadId: aws.String("up1"), MaxParts: aws.Int32(3), PartNumberMarker: aws.String("1")}), want("ListParts", b, k, sub("uploadId"))},
		{"GetObjectTagging", call((*C).GetObjectTagging, &awss3.GetObjectTaggingInput{Bucket: bkt, Key: key, VersionId: aws.String("v")}), want("GetObjectTagging", b, k, sub("tagging"), version("v"))},
		{"PutObjectTagging", call((*C).PutObjectTagging, &awss3.PutObjectTaggingInput{Bucket: bkt, Key: key, Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}}), want("PutObjectTagging", b, k, sub("tagging"))},
		{"DeleteObjectTagging", call((*C).DeleteObjectTagging, &awss3.DeleteObjectTaggingInput{Bucket: bkt, Key: key}), want("DeleteObjectTagging", b, k, sub("tagging"))},
		{"GetObjectAttributes", call((*C).GetObjectAttributes, &awss3.GetObjectAttributesInput{Bucket: bkt, Key: key, ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag}}), want("GetObjectAttributes", b, k, sub("attributes"))},
		{"RestoreObject", call((*C).RestoreObject, &awss3.RestoreObjectInput{Bucket: bkt, Key: key, RestoreRequest: &types.RestoreRequest{Days: aws.Int32(1)}}), want("RestoreObject", b, k, sub("restore"))},
		{"SelectObjectContent", call((*C).SelectObjectContent, &awss3.SelectObjectContentInput{Bucket: bkt, Key: key, Expression: aws.String("select * from s3object"), ExpressionType: types.ExpressionTypeSql}), want("SelectObjectContent", b, k, sub("select"))},
		{"GetObjectAcl", call((*C).GetObjectAcl, &awss3.GetObjectAclInput{Bucket: bkt, Key: key}), want("GetObjectAcl", b, k, sub("acl"))},
		{"PutObjectAcl", call((*C).PutObjectAcl, &awss3.PutObjectAclInput{Bucket: bkt, Key: key, ACL: types.ObjectCannedACLPrivate}), want("PutObjectAcl", b, k, sub("acl"), headers("x-amz-acl", "private"))},
		{"GetObjectRetention", call((*C).GetObjectRetention, &awss3.GetObjectRetentionInput{Bucket: bkt, Key: key}), want("GetObjectRetention", b, k, sub("retention"))},
		{"PutObjectRetention", call((*C).PutObjectRetention, &awss3.PutObjectRetentionInput{Bucket: bkt, Key: key, Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance}}), want("PutObjectRetention", b, k, sub("retention"))},
		{"GetObjectLegalHold", call((*C).GetObjectLegalHold, &awss3.GetObjectLegalHoldInput{Bucket: bkt, Key: key}), want("GetObjectLegalHold", b, k, sub("legal-hold"))},
		{"PutObjectLegalHold", call((*C).PutObjectLegalHold, &awss3.PutObjectLegalHoldInput{Bucket: bkt, Key: key, LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}}), want("PutObjectLegalHold", b, k, sub("legal-hold"))},
		{"GetObjectTorrent", call((*C).GetObjectTorrent, &awss3.GetObjectTorrentInput{Bucket: bkt, Key: key}), want("GetObjectTorrent", b, k, sub("torrent"))},
		{"UpdateObjectEncryption", call((*C).UpdateObjectEncryption, &awss3.UpdateObjectEncryptionInput{Bucket: bkt, Key: key}), want("UpdateObjectEncryption", b, k, sub("encryption"))},
		{"GetObjectAnnotation", call((*C).GetObjectAnnotation, &awss3.GetObjectAnnotationInput{Bucket: bkt, Key: key, AnnotationName: aws.String("n")}), want("GetObjectAnnotation", b, k, sub("annotation"))},
		{"ListObjectAnnotations", call((*C).ListObjectAnnotations, &awss3.ListObjectAnnotationsInput{Bucket: bkt, Key: key}), want("ListObjectAnnotations", b, k, sub("annotation"))},
		{"PutObjectAnnotation", call((*C).PutObjectAnnotation, &awss3.PutObjectAnnotationInput{Bucket: bkt, Key: key, AnnotationName: aws.String("n")}), want("PutObjectAnnotation", b, k, sub("annotation"))},
		{"DeleteObjectAnnotation", call((*C).DeleteObjectAnnotation, &awss3.DeleteObjectAnnotationInput{Bucket: bkt, Key: key, AnnotationName: aws.String("n")}), want("DeleteObjectAnnotation", b, k, sub("annotation"))},

		// Bucket configuration.
		{"GetBucketAcl", call((*C).GetBucketAcl, &awss3.GetBucketAclInput{Bucket: bkt}), want("GetBucketAcl", b, "", sub("acl"))},
		{"PutBucketAcl", call((*C).PutBucketAcl, &awss3.PutBucketAclInput{Bucket: bkt, ACL: types.BucketCannedACLPrivate}), want("PutBucketAcl", b, "", sub("acl"), headers("x-amz-acl", "private"))},
		{"GetBucketPolicy", call((*C).GetBucketPolicy, &awss3.GetBucketPolicyInput{Bucket: bkt}), want("GetBucketPolicy", b, "", sub("policy"))},
		{"PutBucketPolicy", call((*C).PutBucketPolicy, &awss3.PutBucketPolicyInput{Bucket: bkt, Policy: aws.String("{}")}), want("PutBucketPolicy", b, "", sub("policy"))},
		{"DeleteBucketPolicy", call((*C).DeleteBucketPolicy, &awss3.DeleteBucketPolicyInput{Bucket: bkt}), want("DeleteBucketPolicy", b, "", sub("policy"))},
		{"GetBucketPolicyStatus", call((*C).GetBucketPolicyStatus, &awss3.GetBucketPolicyStatusInput{Bucket: bkt}), want("GetBucketPolicyStatus", b, "", sub("policyStatus"))},
		{"GetBucketVersioning", call((*C).GetBucketVersioning, &awss3.GetBucketVersioningInput{Bucket: bkt}), want("GetBucketVersioning", b, "", sub("versioning"))},
		{"PutBucketVersioning", call((*C).PutBucketVersioning, &awss3.PutBucketVersioningInput{Bucket: bkt, VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}), want("PutBucketVersioning", b, "", sub("versioning"))},
		{"GetBucketLifecycleConfiguration", call((*C).GetBucketLifecycleConfiguration, &awss3.GetBucketLifecycleConfigurationInput{Bucket: bkt}), want("GetBucketLifecycleConfiguration", b, "", sub("lifecycle"))},
		{"PutBucketLifecycleConfiguration", call((*C).PutBucketLifecycleConfiguration, &awss3.PutBucketLifecycleConfigurationInput{Bucket: bkt}), want("PutBucketLifecycleConfiguration", b, "", sub("lifecycle"))},
		{"DeleteBucketLifecycle", call((*C).DeleteBucketLifecycle, &awss3.DeleteBucketLifecycleInput{Bucket: bkt}), want("DeleteBucketLifecycle", b, "", sub("lifecycle"))},
		{"GetBucketTagging", call((*C).GetBucketTagging, &awss3.GetBucketTaggingInput{Bucket: bkt}), want("GetBucketTagging", b, "", sub("tagging"))},
		{"PutBucketTagging", call((*C).PutBucketTagging, &awss3.PutBucketTaggingInput{Bucket: bkt, Tagging: &types.Tagging{}}), want("PutBucketTagging", b, "", sub("tagging"))},
		{"DeleteBucketTagging", call((*C).DeleteBucketTagging, &awss3.DeleteBucketTaggingInput{Bucket: bkt}), want("DeleteBucketTagging", b, "", sub("tagging"))},
		{"GetBucketEncryption", call((*C).GetBucketEncryption, &awss3.GetBucketEncryptionInput{Bucket: bkt}), want("GetBucketEncryption", b, "", sub("encryption"))},
		{"PutBucketEncryption", call((*C).PutBucketEncryption, &awss3.PutBucketEncryptionInput{Bucket: bkt}), want("PutBucketEncryption", b, "", sub("encryption"))},
		{"DeleteBucketEncryption", call((*C).DeleteBucketEncryption, &awss3.DeleteBucketEncryptionInput{Bucket: bkt}), want("DeleteBucketEncryption", b, "", sub("encryption"))},
		{"GetBucketCors", call((*C).GetBucketCors, &awss3.GetBucketCorsInput{Bucket: bkt}), want("GetBucketCors", b, "", sub("cors"))},
		{"PutBucketCors", call((*C).PutBucketCors, &awss3.PutBucketCorsInput{Bucket: bkt}), want("PutBucketCors", b, "", sub("cors"))},
		{"DeleteBucketCors", call((*C).DeleteBucketCors, &awss3.DeleteBucketCorsInput{Bucket: bkt}), want("DeleteBucketCors", b, "", sub("cors"))},
		{"GetBucketNotificationConfiguration", call((*C).GetBucketNotificationConfiguration, &awss3.GetBucketNotificationConfigurationInput{Bucket: bkt}), want("GetBucketNotificationConfiguration", b, "", sub("notification"))},
		{"PutBucketNotificationConfiguration", call((*C).PutBucketNotificationConfiguration, &awss3.PutBucketNotificationConfigurationInput{Bucket: bkt}), want("PutBucketNotificationConfiguration", b, "", sub("notification"))},
		{"GetBucketOwnershipControls", call((*C).GetBucketOwnershipControls, &awss3.GetBucketOwnershipControlsInput{Bucket: bkt}), want("GetBucketOwnershipControls", b, "", sub("ownershipControls"))},
		{"PutBucketOwnershipControls", call((*C).PutBucketOwnershipControls, &awss3.PutBucketOwnershipControlsInput{Bucket: bkt}), want("PutBucketOwnershipControls", b, "", sub("ownershipControls"))},
		{"DeleteBucketOwnershipControls", call((*C).DeleteBucketOwnershipControls, &awss3.DeleteBucketOwnershipControlsInput{Bucket: bkt}), want("DeleteBucketOwnershipControls", b, "", sub("ownershipControls"))},
		{"GetPublicAccessBlock", call((*C).GetPublicAccessBlock, &awss3.GetPublicAccessBlockInput{Bucket: bkt}), want("GetPublicAccessBlock", b, "", sub("publicAccessBlock"))},
		{"PutPublicAccessBlock", call((*C).PutPublicAccessBlock, &awss3.PutPublicAccessBlockInput{Bucket: bkt}), want("PutPublicAccessBlock", b, "", sub("publicAccessBlock"))},
		{"DeletePublicAccessBlock", call((*C).DeletePublicAccessBlock, &awss3.DeletePublicAccessBlockInput{Bucket: bkt}), want("DeletePublicAccessBlock", b, "", sub("publicAccessBlock"))},
		{"GetObjectLockConfiguration", call((*C).GetObjectLockConfiguration, &awss3.GetObjectLockConfigurationInput{Bucket: bkt}), want("GetObjectLockConfiguration", b, "", sub("object-lock"))},
		{"PutObjectLockConfiguration", call((*C).PutObjectLockConfiguration, &awss3.PutObjectLockConfigurationInput{Bucket: bkt}), want("PutObjectLockConfiguration", b, "", sub("object-lock"))},
		{"GetBucketLogging", call((*C).GetBucketLogging, &awss3.GetBucketLoggingInput{Bucket: bkt}), want("GetBucketLogging", b, "", sub("logging"))},
		{"PutBucketLogging", call((*C).PutBucketLogging, &awss3.PutBucketLoggingInput{Bucket: bkt}), want("PutBucketLogging", b, "", sub("logging"))},
		{"GetBucketWebsite", call((*C).GetBucketWebsite, &awss3.GetBucketWebsiteInput{Bucket: bkt}), want("GetBucketWebsite", b, "", sub("website"))},
		{"PutBucketWebsite", call((*C).PutBucketWebsite, &awss3.PutBucketWebsiteInput{Bucket: bkt}), want("PutBucketWebsite", b, "", sub("website"))},
		{"DeleteBucketWebsite", call((*C).DeleteBucketWebsite, &awss3.DeleteBucketWebsiteInput{Bucket: bkt}), want("DeleteBucketWebsite", b, "", sub("website"))},
		{"GetBucketReplication", call((*C).GetBucketReplication, &awss3.GetBucketReplicationInput{Bucket: bkt}), want("GetBucketReplication", b, "", sub("replication"))},
		{"PutBucketReplication", call((*C).PutBucketReplication, &awss3.PutBucketReplicationInput{Bucket: bkt}), want("PutBucketReplication", b, "", sub("replication"))},
		{"DeleteBucketReplication", call((*C).DeleteBucketReplication, &awss3.DeleteBucketReplicationInput{Bucket: bkt}), want("DeleteBucketReplication", b, "", sub("replication"))},
		{"GetBucketRequestPayment", call((*C).GetBucketRequestPayment, &awss3.GetBucketRequestPaymentInput{Bucket: bkt}), want("GetBucketRequestPayment", b, "", sub("requestPayment"))},
		{"PutBucketRequestPayment", call((*C).PutBucketRequestPayment, &awss3.PutBucketRequestPaymentInput{Bucket: bkt}), want("PutBucketRequestPayment", b, "", sub("requestPayment"))},
		{"GetBucketAccelerateConfiguration", call((*C).GetBucketAccelerateConfiguration, &awss3.GetBucketAccelerateConfigurationInput{Bucket: bkt}), want("GetBucketAccelerateConfiguration", b, "", sub("accelerate"))},
		{"PutBucketAccelerateConfiguration", call((*C).PutBucketAccelerateConfiguration, &awss3.PutBucketAccelerateConfigurationInput{Bucket: bkt}), want("PutBucketAccelerateConfiguration", b, "", sub("accelerate"))},
		{"GetBucketAbac", call((*C).GetBucketAbac, &awss3.GetBucketAbacInput{Bucket: bkt}), want("GetBucketAbac", b, "", sub("abac"))},
		{"PutBucketAbac", call((*C).PutBucketAbac, &awss3.PutBucketAbacInput{Bucket: bkt}), want("PutBucketAbac", b, "", sub("abac"))},
		{"GetBucketAnalyticsConfiguration", call((*C).GetBucketAnalyticsConfiguration, &awss3.GetBucketAnalyticsConfigurationInput{Bucket: bkt, Id: aws.String("a1")}), want("GetBucketAnalyticsConfiguration", b, "", sub("analytics"))},
		{"ListBucketAnalyticsConfigurations", call((*C).ListBucketAnalyticsConfigurations, &awss3.ListBucketAnalyticsConfigurationsInput{Bucket: bkt, ContinuationToken: aws.String("t")}), want("ListBucketAnalyticsConfigurations", b, "", sub("analytics"))},
		{"PutBucketAnalyticsConfiguration", call((*C).PutBucketAnalyticsConfiguration, &awss3.PutBucketAnalyticsConfigurationInput{Bucket: bkt, Id: aws.String("a1")}), want("PutBucketAnalyticsConfiguration", b, "", sub("analytics"))},
		{"DeleteBucketAnalyticsConfiguration", call((*C).DeleteBucketAnalyticsConfiguration, &awss3.DeleteBucketAnalyticsConfigurationInput{Bucket: bkt, Id: aws.String("a1")}), want("DeleteBucketAnalyticsConfiguration", b, "", sub("analytics"))},
		{"GetBucketInventoryConfiguration", call((*C).GetBucketInventoryConfiguration, &awss3.GetBucketInventoryConfigurationInput{Bucket: bkt, Id: aws.String("i1")}), want("GetBucketInventoryConfiguration", b, "", sub("inventory"))},
		{"ListBucketInventoryConfigurations", call((*C).ListBucketInventoryConfigurations, &awss3.ListBucketInventoryConfigurationsInput{Bucket: bkt}), want("ListBucketInventoryConfigurations", b, "", sub("inventory"))},
		{"PutBucketInventoryConfiguration", call((*C).PutBucketInventoryConfiguration, &awss3.PutBucketInventoryConfigurationInput{Bucket: bkt, Id: aws.String("i1")}), want("PutBucketInventoryConfiguration", b, "", sub("inventory"))},
		{"DeleteBucketInventoryConfiguration", call((*C).DeleteBucketInventoryConfiguration, &awss3.DeleteBucketInventoryConfigurationInput{Bucket: bkt, Id: aws.String("i1")}), want("DeleteBucketInventoryConfiguration", b, "", sub("inventory"))},
		{"GetBucketMetricsConfiguration", call((*C).GetBucketMetricsConfiguration, &awss3.GetBucketMetricsConfigurationInput{Bucket: bkt, Id: aws.String("m1")}), want("GetBucketMetricsConfiguration", b, "", sub("metrics"))},
		{"ListBucketMetricsConfigurations", call((*C).ListBucketMetricsConfigurations, &awss3.ListBucketMetricsConfigurationsInput{Bucket: bkt}), want("ListBucketMetricsConfigurations", b, "", sub("metrics"))},
		{"PutBucketMetricsConfiguration", call((*C).PutBucketMetricsConfiguration, &awss3.PutBucketMetricsConfigurationInput{Bucket: bkt, Id: aws.String("m1")}), want("PutBucketMetricsConfiguration", b, "", sub("metrics"))},
		{"DeleteBucketMetricsConfiguration", call((*C).DeleteBucketMetricsConfiguration, &awss3.DeleteBucketMetricsConfigurationInput{Bucket: bkt, Id: aws.String("m1")}), want("DeleteBucketMetricsConfiguration", b, "", sub("metrics"))},
		{"GetBucketIntelligentTieringConfiguration", call((*C).GetBucketIntelligentTieringConfiguration, &awss3.GetBucketIntelligentTieringConfigurationInput{Bucket: bkt, Id: aws.String("t1")}), want("GetBucketIntelligentTieringConfiguration", b, "", sub("intelligent-tiering"))},
		{"ListBucketIntelligentTieringConfigurations", call((*C).ListBucketIntelligentTieringConfigurations, &awss3.ListBucketIntelligentTieringConfigurationsInput{Bucket: bkt}), want("ListBucketIntelligentTieringConfigurations", b, "", sub("intelligent-tiering"))},
		{"PutBucketIntelligentTieringConfiguration", call((*C).PutBucketIntelligentTieringConfiguration, &awss3.PutBucketIntelligentTieringConfigurationInput{Bucket: bkt, Id: aws.String("t1")}), want("PutBucketIntelligentTieringConfiguration", b, "", sub("intelligent-tiering"))},
		{"DeleteBucketIntelligentTieringConfiguration", call((*C).DeleteBucketIntelligentTieringConfiguration, &awss3.DeleteBucketIntelligentTieringConfigurationInput{Bucket: bkt, Id: aws.String("t1")}), want("DeleteBucketIntelligentTieringConfiguration", b, "", sub("intelligent-tiering"))},
		{"CreateBucketMetadataConfiguration", call((*C).CreateBucketMetadataConfiguration, &awss3.CreateBucketMetadataConfigurationInput{Bucket: bkt}), want("CreateBucketMetadataConfiguration", b, "", sub("metadataConfiguration"))},
		{"GetBucketMetadataConfiguration", call((*C).GetBucketMetadataConfiguration, &awss3.GetBucketMetadataConfigurationInput{Bucket: bkt}), want("GetBucketMetadataConfiguration", b, "", sub("metadataConfiguration"))},
		{"DeleteBucketMetadataConfiguration", call((*C).DeleteBucketMetadataConfiguration, &awss3.DeleteBucketMetadataConfigurationInput{Bucket: bkt}), want("DeleteBucketMetadataConfiguration", b, "", sub("metadataConfiguration"))},
		{"CreateBucketMetadataTableConfiguration", call((*C).CreateBucketMetadataTableConfiguration, &awss3.CreateBucketMetadataTableConfigurationInput{Bucket: bkt}), want("CreateBucketMetadataTableConfiguration", b, "", sub("metadataTable"))},
		{"GetBucketMetadataTableConfiguration", call((*C).GetBucketMetadataTableConfiguration, &awss3.GetBucketMetadataTableConfigurationInput{Bucket: bkt}), want("GetBucketMetadataTableConfiguration", b, "", sub("metadataTable"))},
		{"DeleteBucketMetadataTableConfiguration", call((*C).DeleteBucketMetadataTableConfiguration, &awss3.DeleteBucketMetadataTableConfigurationInput{Bucket: bkt}), want("DeleteBucketMetadataTableConfiguration", b, "", sub("metadataTable"))},
		{"UpdateBucketMetadataAnnotationTableConfiguration", call((*C).UpdateBucketMetadataAnnotationTableConfiguration, &awss3.UpdateBucketMetadataAnnotationTableConfigurationInput{Bucket: bkt}), want("UpdateBucketMetadataAnnotationTableConfiguration", b, "", sub("metadataAnnotationTable"))},
		{"UpdateBucketMetadataInventoryTableConfiguration", call((*C).UpdateBucketMetadataInventoryTableConfiguration, &awss3.UpdateBucketMetadataInventoryTableConfigurationInput{Bucket: bkt}), want("UpdateBucketMetadataInventoryTableConfiguration", b, "", sub("metadataInventoryTable"))},
		{"UpdateBucketMetadataJournalTableConfiguration", call((*C).UpdateBucketMetadataJournalTableConfiguration, &awss3.UpdateBucketMetadataJournalTableConfigurationInput{Bucket: bkt}), want("UpdateBucketMetadataJournalTableConfiguration", b, "", sub("metadataJournalTable"))},

		// Operations Classify does not name.
		{"RenameObject is unknown", call((*C).RenameObject, &awss3.RenameObjectInput{Bucket: bkt, Key: key}), want("Unknown", b, k, sub("renameObject"))},
	}
}

// trickyKeys are sent by the SDK and must come back byte for byte.
var trickyKeys = []string{
	"dir/", "a+b", "a b", "  ", "100%", "a%zz", "ünï/文件.txt", "what?.txt", "a#b", "~tilde", "a;b=c&d",
	"'\"<>`{}|^", strings.Repeat("é", 512), "...x/.x/a..b",
}

// refusedKeys are keys some S3 server would read as another key.
var refusedKeys = []string{
	"a//b", "a/../b", "./x", "../x", "x/.", "x/..", "/leading", "a%2Fb", "a%252F", "a\\b", "\x01ctl", "a\x7fb",
	"a\u0085b", "x.", "dir./y", "e\u0301",
}

func TestClassifySDK(t *testing.T) {
	srv := newSDKServer(t)
	for _, style := range []struct {
		name      string
		endpoint  string
		pathStyle bool
	}{
		{"path", "http://127.0.0.1:9000", true},
		{"virtual", "http://localhost:9000", false},
	} {
		c := srv.client(style.endpoint, style.pathStyle)
		for _, tt := range sdkCases() {
			t.Run(style.name+"/"+tt.name, func(t *testing.T) { runSDK(t, srv, c, tt.call, tt.want) })
		}
		for _, k := range trickyKeys {
			t.Run(style.name+"/key "+k, func(t *testing.T) {
				in := &awss3.GetObjectInput{Bucket: aws.String("data-bkt"), Key: aws.String(k)}
				runSDK(t, srv, c, call((*awss3.Client).GetObject, in), want("GetObject", "data-bkt", k))
			})
		}
		for _, k := range refusedKeys {
			t.Run(style.name+"/refused key "+k, func(t *testing.T) {
				in := &awss3.GetObjectInput{Bucket: aws.String("data-bkt"), Key: aws.String(k)}
				_, _ = c.GetObject(context.Background(), in)
				seen := srv.take()
				if len(seen) != 1 || !errors.Is(seen[0].err, s3.ErrInvalidKey) {
					t.Fatalf("GetObject %q: %+v, want ErrInvalidKey", k, seen)
				}
			})
		}
	}
}

// TestClassifyRefusesSDK covers SDK operations Classify must refuse.
func TestClassifyRefusesSDK(t *testing.T) {
	srv := newSDKServer(t)
	c := srv.client("http://127.0.0.1:9000", true)
	type C = awss3.Client
	for _, tt := range []struct {
		name string
		call sdkCall
		err  error
	}{
		{"RenameObject", call((*C).RenameObject, &awss3.RenameObjectInput{Bucket: aws.String("data-bkt"), Key: aws.String("new"), RenameSource: aws.String("/data-bkt/old")}), s3.ErrNotImplemented},
		{"CopyObject from access point", call((*C).CopyObject, &awss3.CopyObjectInput{Bucket: aws.String("data-bkt"), Key: aws.String("k"), CopySource: aws.String("arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/k")}), s3.ErrNotImplemented},
		{"CopyObject with unencoded plus", call((*C).CopyObject, &awss3.CopyObjectInput{Bucket: aws.String("data-bkt"), Key: aws.String("k"), CopySource: aws.String("src-bkt/a+b")}), s3.ErrInvalidCopySource},
		{"WriteGetObjectResponse", call((*C).WriteGetObjectResponse, &awss3.WriteGetObjectResponseInput{RequestRoute: aws.String("route"), RequestToken: aws.String("t")}), s3.ErrInvalidBucketName},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_ = tt.call(context.Background(), c)
			seen := srv.take()
			if len(seen) != 1 {
				t.Fatalf("the SDK sent %d requests, want 1", len(seen))
			}
			if !errors.Is(seen[0].err, tt.err) {
				t.Errorf("%s: err = %v, want %v (op %+v)", seen[0].uri, seen[0].err, tt.err, seen[0].op)
			}
		})
	}
}

// TestClassifyPresigned sends presigned URLs, whose X-Amz-* query
// parameters must not change the operation.
func TestClassifyPresigned(t *testing.T) {
	srv := newSDKServer(t)
	ctx := context.Background()
	b, k := aws.String("data-bkt"), aws.String("dir/a b+c.txt")
	for _, style := range []struct {
		endpoint  string
		pathStyle bool
	}{{"http://127.0.0.1:9000", true}, {"http://localhost:9000", false}} {
		pc := awss3.NewPresignClient(srv.client(style.endpoint, style.pathStyle))
		for _, tt := range []struct {
			name    string
			presign func() (string, string, http.Header, error)
			want    s3.Op
		}{
			{"GetObject", func() (string, string, http.Header, error) {
				r, err := pc.PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: b, Key: k, VersionId: aws.String("v1"), ResponseContentDisposition: aws.String("attachment")})
				return r.URL, r.Method, r.SignedHeader, err
			}, want("GetObject", "data-bkt", "dir/a b+c.txt", version("v1"))},
			{"PutObject", func() (string, string, http.Header, error) {
				r, err := pc.PresignPutObject(ctx, &awss3.PutObjectInput{Bucket: b, Key: k, ExpectedBucketOwner: aws.String("123")})
				return r.URL, r.Method, r.SignedHeader, err
			}, want("PutObject", "data-bkt", "dir/a b+c.txt")},
			{"HeadObject", func() (string, string, http.Header, error) {
				r, err := pc.PresignHeadObject(ctx, &awss3.HeadObjectInput{Bucket: b, Key: k})
				return r.URL, r.Method, r.SignedHeader, err
			}, want("HeadObject", "data-bkt", "dir/a b+c.txt")},
			{"DeleteObject", func() (string, string, http.Header, error) {
				r, err := pc.PresignDeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: b, Key: k})
				return r.URL, r.Method, r.SignedHeader, err
			}, want("DeleteObject", "data-bkt", "dir/a b+c.txt")},
			{"UploadPart", func() (string, string, http.Header, error) {
				r, err := pc.PresignUploadPart(ctx, &awss3.UploadPartInput{Bucket: b, Key: k, UploadId: aws.String("u"), PartNumber: aws.Int32(4)})
				return r.URL, r.Method, r.SignedHeader, err
			}, want("UploadPart", "data-bkt", "dir/a b+c.txt", sub("uploadId"))},
			{"HeadBucket", func() (string, string, http.Header, error) {
				r, err := pc.PresignHeadBucket(ctx, &awss3.HeadBucketInput{Bucket: b})
				return r.URL, r.Method, r.SignedHeader, err
			}, want("HeadBucket", "data-bkt", "")},
		} {
			t.Run(style.endpoint+"/"+tt.name, func(t *testing.T) {
				u, method, hdr, err := tt.presign()
				if err != nil {
					t.Fatal(err)
				}
				req, err := http.NewRequestWithContext(ctx, method, u, nil)
				if err != nil {
					t.Fatal(err)
				}
				for name, v := range hdr {
					req.Header[name] = v
				}
				req.Host = req.URL.Host
				resp, err := srv.httpClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				seen := srv.take()
				if len(seen) != 1 || seen[0].err != nil {
					t.Fatalf("seen %+v", seen)
				}
				if !strings.Contains(seen[0].uri, "X-Amz-Signature=") {
					t.Fatalf("not a presigned request: %s", seen[0].uri)
				}
				checkOp(t, seen[0].op, tt.want)
			})
		}
	}
}

// runSDK sends one SDK call and checks the one request it produced.
func runSDK(t *testing.T, srv *sdkServer, c *awss3.Client, call sdkCall, w s3.Op) {
	t.Helper()
	err := call(context.Background(), c) // the server's empty answers often fail to parse
	seen := srv.take()
	if len(seen) != 1 {
		t.Fatalf("the SDK sent %d requests, want 1 (SDK error: %v)", len(seen), err)
	}
	got := seen[0]
	if got.err != nil {
		t.Fatalf("%s: %v", got.uri, got.err)
	}
	checkOp(t, got.op, w)
	if t.Failed() {
		t.Logf("request: %s", got.uri)
	}
	if got.op.NeedsBody {
		objs, quiet, err := s3.ParseDeleteObjects(strings.NewReader(got.body))
		wantObjs := []s3.ObjectID{{Key: "a"}, {Key: "b<&>", VersionID: "v"}}
		if err != nil || !quiet || fmt.Sprint(objs) != fmt.Sprint(wantObjs) {
			t.Errorf("ParseDeleteObjects(SDK body) = %v, %v, %v; want %v, true\n%s", objs, quiet, err, wantObjs, got.body)
		}
	}
}

func deleteBody(objects ...string) string {
	return `<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` + strings.Join(objects, "") + `</Delete>`
}

func TestParseDeleteObjects(t *testing.T) {
	many := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "<Object><Key>k%d</Key></Object>", i)
		}
		return deleteBody(b.String())
	}
	tests := []struct {
		name  string
		body  string
		want  []s3.ObjectID
		quiet bool
		err   error // besides ErrMalformedXML
		ok    bool
	}{
		{name: "SDK form", ok: true, quiet: true,
			body: `<?xml version="1.0" encoding="UTF-8"?>` + deleteBody(`<Object><Key>a/b</Key><VersionId>v1</VersionId></Object><Object><Key>c</Key></Object><Quiet>true</Quiet>`),
			want: []s3.ObjectID{{Key: "a/b", VersionID: "v1"}, {Key: "c"}}},
		{name: "no namespace, whitespace, quiet false", ok: true,
			body: "\n<Delete>\n  <Quiet> false </Quiet>\n  <Object>\n    <Key>k</Key>\n  </Object>\n</Delete>\n",
			want: []s3.ObjectID{{Key: "k"}}},
		{name: "prefixed namespace", ok: true,
			body: `<s3:Delete xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><s3:Object><s3:Key>k</s3:Key></s3:Object></s3:Delete>`,
			want: []s3.ObjectID{{Key: "k"}}},
		{name: "escapes and CDATA kept exactly", ok: true,
			body: deleteBody(`<Object><Key>a&amp;b&lt;&#x41;&#233; <![CDATA[<x>]]> </Key></Object>`),
			want: []s3.ObjectID{{Key: "a&b<Aé <x> "}}},
		{name: "conditional delete fields", ok: true,
			body: deleteBody(`<Object><ETag>"e"</ETag><Key>k</Key><Size>3</Size><LastModifiedTime>2026-01-01T00:00:00Z</LastModifiedTime><VersionId></VersionId></Object>`),
			want: []s3.ObjectID{{Key: "k"}}},
		{name: "dot-dot key refused", body: deleteBody(`<Object><Key>public/../secret</Key></Object>`), err: s3.ErrInvalidKey},
		{name: "backslash key refused", body: deleteBody(`<Object><Key>public\..\secret</Key></Object>`), err: s3.ErrInvalidKey},
		{name: "1024-byte key", ok: true, body: deleteBody(`<Object><Key>` + strings.Repeat("k", 1024) + `</Key></Object>`), want: []s3.ObjectID{{Key: strings.Repeat("k", 1024)}}},
		{name: "1000 objects", ok: true, body: many(1000)},
		{name: "1001 objects", body: many(1001)},
		{name: "empty", body: ""},
		{name: "whitespace only", body: " \n"},
		{name: "truncated", body: deleteBody(`<Object><Key>k</Key></Object>`)[:40]},
		{name: "no objects", body: deleteBody(`<Quiet>true</Quiet>`)},
		{name: "DOCTYPE", body: `<!DOCTYPE Delete>` + deleteBody(`<Object><Key>k</Key></Object>`)},
		{name: "entity declaration", body: `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "secret">]>` + deleteBody(`<Object><Key>&x;</Key></Object>`)},
		{name: "external entity", body: `<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + deleteBody(`<Object><Key>&x;</Key></Object>`)},
		{name: "undeclared entity", body: deleteBody(`<Object><Key>&x;</Key></Object>`)},
		{name: "HTML entity", body: deleteBody(`<Object><Key>&nbsp;</Key></Object>`)},
		{name: "processing instruction", body: `<?xml-stylesheet href="x"?>` + deleteBody(`<Object><Key>k</Key></Object>`)},
		{name: "late XML declaration", body: ` <?xml version="1.0"?>` + deleteBody(`<Object><Key>k</Key></Object>`)},
		{name: "non-UTF-8 encoding", body: `<?xml version="1.0" encoding="ISO-8859-1"?>` + deleteBody(`<Object><Key>k</Key></Object>`)},
		{name: "comment", body: deleteBody(`<!-- hidden --><Object><Key>k</Key></Object>`)},
		{name: "unknown element in Delete", body: deleteBody(`<Object><Key>k</Key></Object><Extra/>`)},
		{name: "unknown element in Object", body: deleteBody(`<Object><Key>k</Key><Owner>x</Owner></Object>`)},
		{name: "element inside Key", body: deleteBody(`<Object><Key>a<Key>b</Key></Key></Object>`)},
		{name: "key in second object", body: deleteBody(`<Object><Key>a</Key></Object><Object><VersionId>v</VersionId></Object>`)},
		{name: "version in each object", ok: true, body: deleteBody(`<Object><Key>a</Key><VersionId>1</VersionId></Object><Object><VersionId>2</VersionId><Key>b</Key></Object>`), want: []s3.ObjectID{{Key: "a", VersionID: "1"}, {Key: "b", VersionID: "2"}}},
		{name: "two keys", body: deleteBody(`<Object><Key>a</Key><Key>b</Key></Object>`)},
		{name: "no key", body: deleteBody(`<Object><VersionId>v</VersionId></Object>`)},
		{name: "empty key", body: deleteBody(`<Object><Key></Key></Object>`), err: s3.ErrInvalidKey},
		{name: "key too long", body: deleteBody(`<Object><Key>` + strings.Repeat("k", 1025) + `</Key></Object>`), err: s3.ErrKeyTooLong},
		{name: "invalid UTF-8", body: deleteBody("<Object><Key>\xff</Key></Object>")},
		{name: "attribute", body: deleteBody(`<Object id="1"><Key>k</Key></Object>`)},
		{name: "other root", body: `<Remove><Object><Key>k</Key></Object></Remove>`},
		{name: "other namespace", body: `<Delete xmlns="urn:other"><Object><Key>k</Key></Object></Delete>`},
		{name: "child in other namespace", body: deleteBody(`<Object xmlns="urn:other"><Key>k</Key></Object>`)},
		{name: "child leaves namespace", body: deleteBody(`<Object><Key xmlns="">k</Key></Object>`)},
		{name: "undeclared prefix", body: deleteBody(`<x:Object><Key>k</Key></x:Object>`)},
		{name: "text in Delete", body: deleteBody(`hello<Object><Key>k</Key></Object>`)},
		{name: "text in Object", body: deleteBody(`<Object>hello<Key>k</Key></Object>`)},
		{name: "second root", body: deleteBody(`<Object><Key>k</Key></Object>`) + `<Delete><Object><Key>x</Key></Object></Delete>`},
		{name: "trailing text", body: deleteBody(`<Object><Key>k</Key></Object>`) + `x`},
		{name: "quiet not boolean", body: deleteBody(`<Object><Key>k</Key></Object><Quiet>1</Quiet>`)},
		{name: "quiets around an object", body: deleteBody(`<Quiet>true</Quiet><Object><Key>k</Key></Object><Quiet>false</Quiet>`)},
		{name: "two quiets", body: deleteBody(`<Object><Key>k</Key></Object><Quiet>true</Quiet><Quiet>false</Quiet>`)},
		{name: "over 2 MiB", body: deleteBody(`<Object><Key>k</Key></Object>` + strings.Repeat(" ", s3.MaxDeleteObjectsBody))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, quiet, err := s3.ParseDeleteObjects(strings.NewReader(tt.body))
			if !tt.ok {
				if !errors.Is(err, s3.ErrMalformedXML) || (tt.err != nil && !errors.Is(err, tt.err)) {
					t.Fatalf("err = %v, want %v and %v (objects %q)", err, s3.ErrMalformedXML, tt.err, objs)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if quiet != tt.quiet {
				t.Errorf("quiet = %v, want %v", quiet, tt.quiet)
			}
			if tt.want != nil && fmt.Sprintf("%q", objs) != fmt.Sprintf("%q", tt.want) {
				t.Errorf("objects = %q, want %q", objs, tt.want)
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestParseDeleteObjectsReadError(t *testing.T) {
	_, _, err := s3.ParseDeleteObjects(failingReader{})
	if err == nil || errors.Is(err, s3.ErrMalformedXML) {
		t.Errorf("err = %v, want the read error", err)
	}
}

func ExampleClassify() {
	r := httptest.NewRequest("PUT", "http://127.0.0.1:9000/reports/2026/q1.csv", nil)
	r.Header.Set("X-Amz-Copy-Source", "staging/q1%20draft.csv?versionId=3")
	op, err := s3.Classify(r, []string{"localhost"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %s/%s from %s/%s version %s\n", op.S3.Action, op.S3.Bucket, op.S3.Key,
		op.S3.SourceBucket, op.S3.SourceKey, op.SourceVersionID)

	r = httptest.NewRequest("GET", "http://reports.localhost:9000/?list-type=2&prefix=2026%2F", nil)
	op, _ = s3.Classify(r, []string{"localhost"})
	fmt.Printf("%s %s prefix %q\n", op.S3.Action, op.S3.Bucket, op.S3.Prefix)

	r = httptest.NewRequest("GET", "http://127.0.0.1:9000/reports?website", nil)
	op, _ = s3.Classify(r, []string{"localhost"})
	fmt.Println(op.S3.Action)
	// Output:
	// CopyObject reports/2026/q1.csv from staging/q1 draft.csv version 3
	// ListObjectsV2 reports prefix "2026/"
	// GetBucketWebsite
}

func ExampleParseDeleteObjects() {
	body := `<Delete><Object><Key>tmp/a</Key></Object><Object><Key>tmp/b</Key><VersionId>7</VersionId></Object></Delete>`
	objects, quiet, err := s3.ParseDeleteObjects(strings.NewReader(body))
	fmt.Println(objects, quiet, err)
	// Output: [{tmp/a } {tmp/b 7}] false <nil>
}
