package s3_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// FuzzVerifySigV2 feeds arbitrary Signature Version 2 requests (method,
// target, host, Authorization, Date, Content-Type) to Verify: no panic,
// failures only as *AuthError without the secret, and a success only for
// the key it knows, with the query authentication gone from the query.
func FuzzVerifySigV2(f *testing.F) {
	date := testNow.Format(http.TimeFormat)
	sign := func(sts string) string {
		m := hmac.New(sha1.New, []byte(testSecret))
		m.Write([]byte(sts))
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	exp := fmt.Sprint(testNow.Add(time.Hour).Unix())
	f.Add("GET", "/bkt/k", "127.0.0.1:9000", "AWS "+testKeyID+":"+sign("GET\n\n\n"+date+"\n/bkt/k"), date, "")
	f.Add("PUT", "/bkt/k?acl", "127.0.0.1:9000", "AWS "+testKeyID+":"+sign("PUT\n\ntext/plain\n"+date+"\n/bkt/k?acl"), date, "text/plain")
	f.Add("GET", "/k?AWSAccessKeyId="+testKeyID+"&Expires="+exp+"&Signature="+url.QueryEscape(sign("GET\n\n\n"+exp+"\n/bkt/k")), "bkt.localhost", "", "", "")
	f.Add("GET", "/bkt?AWSAccessKeyId="+testKeyID+"&Expires="+exp+"&Signature="+url.QueryEscape(sign("GET\n\n\n"+exp+"\n/bkt/"))+"&prefix=a", "h", "", "", "")
	f.Add("GET", "/b/k?Signature=&AWSAccessKeyId=&Expires=", "h", "", "", "")
	f.Add("GET", "/b/k?Signature=a+b&AWSAccessKeyId=x&Expires=99999999999999&content-type=x", "h", "", "", "x")
	f.Add("GET", "/b/k", "h", "AWS :", "Mon, 02 Jan 2006 15:04:05 GMT", "")
	f.Add("GET", "/b/k?versionId=%zz&acl=&acl", "h", "AWS a:b:c", "20260314T150926Z", "")
	v := newVerifier(testNow)
	f.Fuzz(func(t *testing.T, method, target, host, authz, date, ctype string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			u = &url.URL{Path: target}
		}
		r := &http.Request{Method: method, URL: u, Host: host, Header: http.Header{}, Body: http.NoBody, RequestURI: target}
		for k, val := range map[string]string{"Authorization": authz, "Date": date, "Content-Type": ctype} {
			if val != "" {
				r.Header.Set(k, val)
			}
		}
		a, err := v.Verify(r)
		if err != nil {
			checkAuthError(t, err)
			return
		}
		if a.KeyID != testKeyID || a.PayloadMode == "" {
			t.Fatalf("auth %+v", a)
		}
		if q, _ := url.ParseQuery(r.URL.RawQuery); q.Has("Signature") || q.Has("AWSAccessKeyId") {
			t.Fatalf("query authentication left in the query: %q", r.URL.RawQuery)
		}
	})
}
