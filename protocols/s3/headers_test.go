package s3_test

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/protocols/s3"
)

// TestClassifyQuery: the query the upstream receives is the classified
// parameters in SigV4's canonical form, and what no parser reads alike is
// refused.
func TestClassifyQuery(t *testing.T) {
	for _, tt := range []struct {
		target string
		want   string
		err    error
	}{
		{target: "/bkt?list-type=2&prefix=a+b", want: "list-type=2&prefix=a%20b"},
		{target: "/bkt?prefix=a%2fb&list-type=2", want: "list-type=2&prefix=a%2Fb"},
		{target: "/bkt?list-type=2&prefix=%F0%9F%98%80~-._%2B", want: "list-type=2&prefix=%F0%9F%98%80~-._%2B"},
		{target: "/bkt?list-type=2&&prefix=p&", want: "list-type=2&prefix=p"},
		{target: "/bkt/k?uploads", want: "uploads="},
		{target: "/bkt/k?uploadId=x%3By&partNumber=1", want: "partNumber=1&uploadId=x%3By"},
		{target: "/bkt/k?x-id=GetObject&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00&X-Amz-Expires=60", want: "x-id=GetObject"},
		{target: "/bkt?list-type=2&prefix-x=1&prefix=p", err: nil, want: "list-type=2&prefix=p&prefix-x=1"},
		{target: "/bkt?list-type=2&prefix=p;", err: s3.ErrInvalidURI},
		{target: "/bkt?list-type=2&prefix=p&x;=1", err: s3.ErrInvalidURI},
		{target: "/bkt?list-type=2;prefix=p", err: s3.ErrInvalidURI},
		{target: "/bkt?list-type=2&prefix=a&prefix=b", err: s3.ErrInvalidURI},
		{target: "/bkt?list-type=2&prefix=a&%70refix=b", err: s3.ErrInvalidURI},
		{target: "/bkt?list-type=2&=x", err: s3.ErrInvalidURI},
		{target: "/bkt?list-type=2&prefix=%zz", err: s3.ErrInvalidURI},
		{target: "/bkt?list-type=2&prefix=%FF", err: s3.ErrInvalidURI},
	} {
		op, err := s3.Classify(readRequest(t, "GET", tt.target, "127.0.0.1", nil), nil)
		switch {
		case tt.err != nil && !errors.Is(err, tt.err):
			t.Errorf("%s: err = %v, want %v", tt.target, err, tt.err)
		case tt.err == nil && err != nil:
			t.Errorf("%s: %v", tt.target, err)
		case tt.err == nil && op.Query != tt.want:
			t.Errorf("%s: upstream query %q, want %q", tt.target, op.Query, tt.want)
		}
	}
}

// TestClassifyHeaders: headers are forwarded by an allow-list per
// operation; configuration headers are shown to rules.
func TestClassifyHeaders(t *testing.T) {
	for _, tt := range []struct {
		name           string
		method, target string
		header         map[string]string
		forwarded      map[string]string // headers the upstream receives (all of them)
		config         map[string]string // s3.headers
		err            error
	}{
		{name: "metadata kept as sent, empty value too", method: "PUT", target: "/bkt/k",
			header:    map[string]string{"x-amz-meta-CamelCase": "V a", "x-amz-meta-empty": "", "Content-Type": "text/plain"},
			forwarded: map[string]string{"X-Amz-Meta-Camelcase": "V a", "X-Amz-Meta-Empty": "", "Content-Type": "text/plain"}},
		{name: "content-encoding untouched", method: "PUT", target: "/bkt/k",
			header: map[string]string{"Content-Encoding": "deflate, gzip"}, forwarded: map[string]string{"Content-Encoding": "deflate, gzip"}},
		{name: "aws-chunked taken out, the rest as written", method: "PUT", target: "/bkt/k",
			header: map[string]string{"Content-Encoding": "deflate , aws-chunked,  gzip"}, forwarded: map[string]string{"Content-Encoding": "deflate ,  gzip"}},
		{name: "aws-chunked alone", method: "PUT", target: "/bkt/k",
			header: map[string]string{"Content-Encoding": "aws-chunked"}, forwarded: map[string]string{}},
		{name: "auth, framing, hop-by-hop and unread headers dropped", method: "GET", target: "/bkt/k",
			header: map[string]string{"Authorization": "x", "X-Amz-Date": "d", "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD",
				"X-Amz-Security-Token": "t", "X-Forwarded-For": "10.0.0.1", "X-Real-Ip": "10.0.0.1", "Cookie": "c", "Amz-Sdk-Request": "attempt=1",
				"X-Amz-Decoded-Content-Length": "5", "X-Amz-Trailer": "x-amz-checksum-crc32", "X-Amz-Sdk-Checksum-Algorithm": "CRC32",
				"Expect": "100-continue", "Te": "trailers", "Upgrade": "h2c", "Proxy-Authorization": "Basic eA==", "Forwarded": "for=10.0.0.1",
				"X-Forwarded-Host": "secret.example", "Origin": "http://x", "Traceparent": "00-1-2-01", "X-Amzn-Trace-Id": "Root=1",
				"Range": "bytes=0-1", "If-Match": `"e"`, "User-Agent": "ua"},
			forwarded: map[string]string{"Range": "bytes=0-1", "If-Match": `"e"`, "User-Agent": "ua"}},
		{name: "acl on PutObject is configuration", method: "PUT", target: "/bkt/k",
			header:    map[string]string{"x-amz-acl": "public-read", "x-amz-grant-read": "id=1"},
			forwarded: map[string]string{"X-Amz-Acl": "public-read", "X-Amz-Grant-Read": "id=1"},
			config:    map[string]string{"x-amz-acl": "public-read", "x-amz-grant-read": "id=1"}},
		{name: "every object-write configuration header", method: "POST", target: "/bkt/k?uploads",
			header: map[string]string{"x-amz-tagging": "a=b", "x-amz-storage-class": "GLACIER", "x-amz-website-redirect-location": "/x",
				"x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z", "x-amz-object-lock-legal-hold": "ON",
				"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": "k"},
			forwarded: map[string]string{"X-Amz-Tagging": "a=b", "X-Amz-Storage-Class": "GLACIER", "X-Amz-Website-Redirect-Location": "/x",
				"X-Amz-Object-Lock-Mode": "GOVERNANCE", "X-Amz-Object-Lock-Retain-Until-Date": "2030-01-01T00:00:00Z", "X-Amz-Object-Lock-Legal-Hold": "ON",
				"X-Amz-Server-Side-Encryption": "aws:kms", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "k"},
			config: map[string]string{"x-amz-tagging": "a=b", "x-amz-storage-class": "GLACIER", "x-amz-website-redirect-location": "/x",
				"x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z", "x-amz-object-lock-legal-hold": "ON",
				"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": "k"}},
		{name: "storage class STANDARD is S3's own default: forwarded, not configuration", method: "PUT", target: "/bkt/k",
			header: map[string]string{"x-amz-storage-class": "STANDARD"}, forwarded: map[string]string{"X-Amz-Storage-Class": "STANDARD"}},
		{name: "SSE-C key redacted for rules, forwarded", method: "PUT", target: "/bkt/k",
			header:    map[string]string{"x-amz-server-side-encryption-customer-algorithm": "AES256", "x-amz-server-side-encryption-customer-key": "c2VjcmV0", "x-amz-server-side-encryption-customer-key-MD5": "bWQ1"},
			forwarded: map[string]string{"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256", "X-Amz-Server-Side-Encryption-Customer-Key": "c2VjcmV0", "X-Amz-Server-Side-Encryption-Customer-Key-Md5": "bWQ1"},
			config:    map[string]string{"x-amz-server-side-encryption-customer-algorithm": "AES256", "x-amz-server-side-encryption-customer-key": s3.Redacted, "x-amz-server-side-encryption-customer-key-md5": "bWQ1"}},
		{name: "SSE-C on a read is not configuration", method: "GET", target: "/bkt/k",
			header:    map[string]string{"x-amz-server-side-encryption-customer-algorithm": "AES256"},
			forwarded: map[string]string{"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256"}},
		{name: "copy with directives", method: "PUT", target: "/bkt/k",
			header:    map[string]string{"x-amz-copy-source": "src/a", "x-amz-metadata-directive": "REPLACE", "x-amz-tagging-directive": "COPY", "x-amz-meta-New": "1"},
			forwarded: map[string]string{"X-Amz-Copy-Source": "/src/a", "X-Amz-Metadata-Directive": "REPLACE", "X-Amz-Tagging-Directive": "COPY", "X-Amz-Meta-New": "1"},
			config:    map[string]string{"x-amz-tagging-directive": "COPY"}},
		{name: "copy source rebuilt from the checked values", method: "PUT", target: "/bkt/k?partNumber=2&uploadId=u",
			header:    map[string]string{"x-amz-copy-source": "src-bkt/dir%2fa%20b%E2%82%AC~?versionId=v%2B1", "x-amz-copy-source-range": "bytes=0-9"},
			forwarded: map[string]string{"X-Amz-Copy-Source": "/src-bkt/dir/a%20b%E2%82%AC~?versionId=v%2B1", "X-Amz-Copy-Source-Range": "bytes=0-9"}},
		{name: "copy source key with '?' and '#' stays escaped", method: "PUT", target: "/bkt/k", header: map[string]string{"x-amz-copy-source": "src/a%3FversionId%3Dv%23f"},
			forwarded: map[string]string{"X-Amz-Copy-Source": "/src/a%3FversionId%3Dv%23f"}},
		{name: "bypass governance on delete", method: "DELETE", target: "/bkt/k",
			header: map[string]string{"x-amz-bypass-governance-retention": "true"}, forwarded: map[string]string{"X-Amz-Bypass-Governance-Retention": "true"},
			config: map[string]string{"x-amz-bypass-governance-retention": "true"}},
		{name: "presigned URL's hoisted header becomes a header", method: "PUT", target: "/bkt/k?X-Amz-Signature=00&x-amz-acl=public-read&X-Amz-Meta-A=1",
			forwarded: map[string]string{"X-Amz-Acl": "public-read", "X-Amz-Meta-A": "1"}, config: map[string]string{"x-amz-acl": "public-read"}},
		{name: "hoisted and real header both", method: "PUT", target: "/bkt/k?x-amz-acl=private", header: map[string]string{"x-amz-acl": "public-read"}, err: s3.ErrHeader},
		{name: "unknown x-amz header", method: "PUT", target: "/bkt/k", header: map[string]string{"x-amz-write-offset-bytes": "0"}, err: s3.ErrHeader},
		{name: "unknown hoisted header", method: "GET", target: "/bkt/k?X-Amz-Foo=1", err: s3.ErrHeader},
		{name: "MinIO vendor header", method: "PUT", target: "/bkt/k", header: map[string]string{"X-Minio-Source-Mtime": "2020-01-01T00:00:00Z"}, err: s3.ErrHeader},
		{name: "acl on GetObject", method: "GET", target: "/bkt/k", header: map[string]string{"x-amz-acl": "public-read"}, err: s3.ErrHeader},
		{name: "metadata on GetObject", method: "GET", target: "/bkt/k", header: map[string]string{"x-amz-meta-a": "1"}, err: s3.ErrHeader},
		{name: "tagging on UploadPart", method: "PUT", target: "/bkt/k?partNumber=1&uploadId=u", header: map[string]string{"x-amz-tagging": "a=b"}, err: s3.ErrHeader},
		{name: "metadata directive on PutObject", method: "PUT", target: "/bkt/k", header: map[string]string{"x-amz-metadata-directive": "REPLACE"}, err: s3.ErrHeader},
	} {
		t.Run(tt.name, func(t *testing.T) {
			op, err := s3.Classify(readRequest(t, tt.method, tt.target, "127.0.0.1", tt.header), nil)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, vs := range op.Header {
				got[k] = strings.Join(vs, "|")
			}
			if !reflect.DeepEqual(got, tt.forwarded) {
				t.Errorf("forwarded %v\nwant      %v", got, tt.forwarded)
			}
			if len(op.S3.Headers) != 0 || len(tt.config) != 0 {
				if !reflect.DeepEqual(op.S3.Headers, tt.config) {
					t.Errorf("s3.headers %v\nwant       %v", op.S3.Headers, tt.config)
				}
			}
		})
	}
	// A header sent twice (two lines, or two cases of one name) is refused.
	r := readRequest(t, "PUT", "/bkt/k", "127.0.0.1", nil)
	r.Header = http.Header{"X-Amz-Acl": {"private", "public-read"}}
	if _, err := s3.Classify(r, nil); !errors.Is(err, s3.ErrHeader) {
		t.Errorf("two x-amz-acl lines: err = %v", err)
	}
	r.Header = http.Header{"X-Amz-Meta-A": {"1"}, "x-amz-meta-a": {"2"}}
	if _, err := s3.Classify(r, nil); !errors.Is(err, s3.ErrHeader) {
		t.Errorf("x-amz-meta-a in two cases: err = %v", err)
	}
}

// FuzzUpstreamQuery: whatever query Classify accepts, the one it forwards
// is read by Go's url.ParseQuery (MinIO) and by SigV4's canonical rules
// (AWS) as exactly the classified request: it is already in canonical
// form, every parameter once, and classifying it again gives the same Op.
func FuzzUpstreamQuery(f *testing.F) {
	for _, s := range []string{
		"list-type=2&prefix=raw/;", "list-type=2&prefix=raw/&x;=1", "list-type=2&prefix=a&prefix=b",
		"list-type=2&prefix=a+b%2B", "uploadId=x%3By&partNumber=1", "uploads", "versionId=&x-id=GetObject",
		"list-type=2&prefix=%E2%82%AC&delimiter=%2F", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0&x-amz-acl=private",
		"list-type=2&&prefix=p&=", "list-type=2&prefix=%zz", "acl&versionId=v%26x", "delete",
	} {
		f.Add("GET", "/bkt/key", s)
		f.Add("PUT", "/bkt", s)
	}
	f.Fuzz(func(t *testing.T, method, path, rawQuery string) {
		u, err := url.ParseRequestURI(path)
		if err != nil || u.RawQuery != "" {
			return
		}
		u.RawQuery = rawQuery
		r := &http.Request{Method: method, URL: u, Host: "127.0.0.1", Header: http.Header{}}
		op, err := s3.Classify(r, nil)
		if err != nil {
			return
		}
		if strings.ContainsAny(op.Query, ";+ #") {
			t.Fatalf("upstream query %q holds a byte parsers read differently", op.Query)
		}
		goView, err := url.ParseQuery(op.Query)
		if err != nil {
			t.Fatalf("url.ParseQuery(%q): %v", op.Query, err)
		}
		prevName := ""
		for i, pair := range strings.Split(op.Query, "&") {
			if op.Query == "" {
				break
			}
			name, value, ok := strings.Cut(pair, "=")
			if !ok || name == "" || i > 0 && name <= prevName {
				t.Fatalf("upstream query %q is not sorted name=value pairs", op.Query)
			}
			prevName = name
			for _, part := range []string{name, value} {
				dec, err := url.PathUnescape(part) // SigV4 decoding: '+' is itself
				if err != nil || escapeCanonical(dec) != part {
					t.Fatalf("%q in %q is not in canonical encoding", part, op.Query)
				}
			}
			dn, _ := url.PathUnescape(name)
			dv, _ := url.PathUnescape(value)
			if vs := goView[dn]; len(vs) != 1 || vs[0] != dv {
				t.Fatalf("Go reads %q=%q from %q, SigV4 %q", dn, vs, op.Query, dv)
			}
		}
		if v := goView.Get("prefix"); op.S3.Prefix != "" && v != op.S3.Prefix {
			t.Fatalf("Go reads prefix %q, Airlock checked %q", v, op.S3.Prefix)
		}
		if v := goView.Get("versionId"); v != op.S3.VersionID {
			t.Fatalf("Go reads versionId %q, Airlock checked %q", v, op.S3.VersionID)
		}
		u2 := *u
		u2.RawQuery = op.Query
		op2, err := s3.Classify(&http.Request{Method: method, URL: &u2, Host: "127.0.0.1", Header: op.Header}, nil)
		if err != nil {
			t.Fatalf("the forwarded query %q is refused: %v", op.Query, err)
		}
		if !reflect.DeepEqual(op.S3, op2.S3) || op.SubResource != op2.SubResource || op.Query != op2.Query {
			t.Fatalf("forwarded query %q classifies as %+v, not %+v", op.Query, op2, op)
		}
	})
}

// escapeCanonical is SigV4's UriEncode of a query name or value.
func escapeCanonical(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
		}
	}
	return b.String()
}

// BenchmarkClassify: a PutObject as the Go SDK sends it, with metadata,
// tags and checksums.
func BenchmarkClassify(b *testing.B) {
	r := readRequest(b, "PUT", "/lake/curated/2026/12/03/part-00001.parquet?x-id=PutObject", "127.0.0.1:9000", map[string]string{
		"Content-Type": "application/octet-stream", "X-Amz-Meta-Run": "42", "X-Amz-Tagging": "team=etl",
		"X-Amz-Checksum-Crc32": "AAAAAA==", "X-Amz-Sdk-Checksum-Algorithm": "CRC32", "X-Amz-Date": "20261203T000000Z",
		"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD", "Authorization": "AWS4-HMAC-SHA256 Credential=x", "User-Agent": "aws-sdk-go-v2",
		"Amz-Sdk-Invocation-Id": "1", "Amz-Sdk-Request": "attempt=1; max=3", "Accept-Encoding": "identity",
	})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s3.Classify(r, nil); err != nil {
			b.Fatal(err)
		}
	}
}
