package s3_test

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/airlockproxy/airlock/protocols/s3"
)

// escapeAll percent-encodes every byte of a key except unreserved
// characters and '/', the most conservative way a client can send it.
func escapeAll(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func validBucketName(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	return strings.Trim(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") == ""
}

// FuzzClassify: any method, target, host and header either fails or
// yields valid names, a RawKey that decodes to Key, and the same Op when
// the key is re-sent fully escaped in path style.
func FuzzClassify(f *testing.F) {
	f.Add("GET", "/bkt/a//b?x-id=GetObject", "127.0.0.1:9000", "", "")
	f.Add("PUT", "/bkt/dst?partNumber=1&uploadId=u", "127.0.0.1", "X-Amz-Copy-Source", "/src/k%3F?versionId=v")
	f.Add("GET", "/?list-type=2&prefix=a%2F", "bkt.localhost:9000", "", "")
	f.Add("POST", "/bkt?delete", "127.0.0.1", "x-amz-copy-source-range", "bytes=0-1")
	f.Fuzz(func(t *testing.T, method, target, host, headerName, headerValue string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		r := &http.Request{Method: method, URL: u, Host: host, Header: http.Header{}}
		if headerName != "" {
			r.Header[headerName] = []string{headerValue}
		}
		op, err := s3.Classify(r, []string{"localhost"})
		if err != nil {
			return
		}
		check := func(what, s string) {
			if !utf8.ValidString(s) {
				t.Fatalf("%s %q is not valid UTF-8", what, s)
			}
		}
		check("action", op.S3.Action)
		check("key", op.S3.Key)
		check("prefix", op.S3.Prefix)
		check("version", op.S3.VersionID)
		check("source key", op.S3.SourceKey)
		check("sub-resource", op.SubResource)
		if op.S3.Action == "" {
			t.Fatal("empty action")
		}
		if op.S3.Bucket != "" && !validBucketName(op.S3.Bucket) {
			t.Fatalf("bucket %q", op.S3.Bucket)
		}
		if op.S3.Key != "" {
			if op.S3.Bucket == "" || len(op.S3.Key) > 1024 {
				t.Fatalf("key %q in bucket %q", op.S3.Key, op.S3.Bucket)
			}
			if k, err := url.PathUnescape(op.RawKey); err != nil || k != op.S3.Key {
				t.Fatalf("RawKey %q decodes to %q (%v), Key is %q", op.RawKey, k, err, op.S3.Key)
			}
		}
		isCopy := op.S3.Action == "CopyObject" || op.S3.Action == "UploadPartCopy"
		if isCopy != (op.S3.SourceBucket != "") || isCopy && (op.S3.SourceKey == "" || !validBucketName(op.S3.SourceBucket)) {
			t.Fatalf("copy source %q/%q on %s", op.S3.SourceBucket, op.S3.SourceKey, op.S3.Action)
		}
		if op.NeedsBody != (op.S3.Action == "DeleteObjects") {
			t.Fatalf("NeedsBody %v on %s", op.NeedsBody, op.S3.Action)
		}

		// The same request, path style with the key fully escaped.
		u2 := &url.URL{Path: "/", RawQuery: u.RawQuery}
		if op.S3.Bucket != "" {
			u2.Path = "/" + op.S3.Bucket + "/" + op.S3.Key
			u2.RawPath = "/" + op.S3.Bucket + "/" + escapeAll(op.S3.Key)
		}
		target2 := u2.EscapedPath()
		r2 := &http.Request{Method: method, URL: u2, Host: "127.0.0.1:9000", Header: r.Header}
		op2, err := s3.Classify(r2, []string{"localhost"})
		if err != nil {
			t.Fatalf("re-escaped %q: %v", target2, err)
		}
		op.RawKey, op2.RawKey = "", ""
		if !reflect.DeepEqual(op, op2) {
			t.Fatalf("re-escaped request classified differently:\n%+v\n%+v", op, op2)
		}
	})
}

// FuzzDeleteObjects: any body either fails or yields 1..1000 valid keys
// that survive a round trip through a freshly written body.
func FuzzDeleteObjects(f *testing.F) {
	f.Add([]byte(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key><VersionId>v</VersionId></Object><Quiet>true</Quiet></Delete>`))
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><Delete><Object><Key>&x;</Key></Object></Delete>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		objs, quiet, err := s3.ParseDeleteObjects(strings.NewReader(string(body)))
		if err != nil {
			if !errors.Is(err, s3.ErrMalformedXML) {
				t.Fatalf("error %v is not ErrMalformedXML", err)
			}
			return
		}
		if len(objs) == 0 || len(objs) > s3.MaxDeleteObjects {
			t.Fatalf("%d objects", len(objs))
		}
		var b strings.Builder
		b.WriteString("<Delete>")
		for _, o := range objs {
			if o.Key == "" || len(o.Key) > 1024 || !utf8.ValidString(o.Key) || !utf8.ValidString(o.VersionID) {
				t.Fatalf("object %q", o)
			}
			b.WriteString("<Object><Key>")
			_ = xml.EscapeText(&b, []byte(o.Key))
			b.WriteString("</Key><VersionId>")
			_ = xml.EscapeText(&b, []byte(o.VersionID))
			b.WriteString("</VersionId></Object>")
		}
		fmt.Fprintf(&b, "<Quiet>%v</Quiet></Delete>", quiet)
		objs2, quiet2, err := s3.ParseDeleteObjects(strings.NewReader(b.String()))
		if err != nil || quiet2 != quiet || fmt.Sprintf("%q", objs2) != fmt.Sprintf("%q", objs) {
			t.Fatalf("round trip: %q %v %v, want %q %v", objs2, quiet2, err, objs, quiet)
		}
	})
}
