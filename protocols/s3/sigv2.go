package s3

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Signature Version 2: HMAC-SHA1 over a string to sign of the method,
// Content-MD5, Content-Type, the date (the Expires time for query
// authentication), every x-amz-* header and the resource. boto3's
// generate_presigned_url, the AWS CLI's presign (v1), s3fs and s3cmd make
// such query URLs (AWSAccessKeyId, Signature, Expires) by default; the
// header form is "Authorization: AWS <key id>:<signature>". Airlock checks
// either against the local key on the local hop only: upstream requests are
// signed with Signature Version 4 like any other.

// v2SubResources are the query parameters a Signature Version 2 string to
// sign includes in its resource (sorted by name, values decoded), as S3
// and the SDKs that sign this way list them.
var v2SubResources = map[string]bool{
	"accelerate": true, "acl": true, "analytics": true, "cors": true, "defaultObjectAcl": true,
	"delete": true, "inventory": true, "lifecycle": true, "location": true, "logging": true,
	"metrics": true, "notification": true, "object-lock": true, "partNumber": true, "policy": true,
	"replication": true, "requestPayment": true, "restore": true, "select": true, "select-type": true,
	"storageClass": true, "tagging": true, "torrent": true, "uploadId": true, "uploads": true,
	"versionId": true, "versioning": true, "versions": true, "website": true,
	"response-cache-control": true, "response-content-disposition": true, "response-content-encoding": true,
	"response-content-language": true, "response-content-type": true, "response-expires": true,
}

const (
	v2Scheme    = "AWS "
	maxV2Expiry = 7 * 24 * time.Hour // as long as a SigV4 presigned URL may live
	// v2Fix is what to do about a Signature Version 2 request Airlock
	// cannot take: every SDK signs with Version 4 when asked.
	v2Fix = "; sign with Signature Version 4 instead (boto3/botocore: Config(signature_version=\"s3v4\"); AWS CLI: aws configure set default.s3.signature_version s3v4)"
)

// verifyOther handles what is not Signature Version 4: Version 2 (checked
// by verifyV2) and browser-form POST uploads (refused, naming the way
// that works). handled is false for everything else.
func (v *Verifier) verifyOther(r *http.Request, query []queryParam) (a *Auth, handled bool, err error) {
	if isSigV2(r, query) {
		a, err = v.verifyV2(r, query)
		return a, true, err
	}
	if r.Method == http.MethodPost && len(r.Header["Authorization"]) == 0 &&
		strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "multipart/form-data") {
		return nil, true, authErr(http.StatusNotImplemented, "NotImplemented",
			"browser-form POST uploads (a signed POST policy) are not supported by Airlock; upload with PutObject or a presigned PUT URL")
	}
	return nil, false, nil
}

// isSigV2 reports whether r carries Signature Version 2 authentication:
// an "AWS key:signature" Authorization header, or AWSAccessKeyId or
// Signature in the query without Version 4's X-Amz-* parameters.
func isSigV2(r *http.Request, query []queryParam) bool {
	for _, h := range r.Header["Authorization"] {
		if strings.HasPrefix(h, v2Scheme) {
			return true
		}
	}
	for _, p := range query {
		switch p.key {
		case "X-Amz-Algorithm", "X-Amz-Signature", "X-Amz-Credential":
			return false
		}
	}
	_, key := queryValue(query, "AWSAccessKeyId")
	_, sig := queryValue(query, "Signature")
	return key || sig
}

// v2Request is what a Signature Version 2 request claims.
type v2Request struct {
	presigned bool
	keyID     string
	signature []byte // the decoded signature; any length (a wrong one fails to match)
	dateLine  string // the string to sign's date: Expires, the Date header, or empty with x-amz-date
	date      time.Time
	expires   time.Time
}

// verifyV2 checks a Signature Version 2 request. For query authentication
// it then removes the authentication parameters (and the Content-Type,
// Content-MD5 and x-amz-* values botocore copies into the query, which
// must equal the headers sent) from r.URL.RawQuery: what remains is the
// operation, classified and forwarded like any other.
func (v *Verifier) verifyV2(r *http.Request, query []queryParam) (*Auth, error) {
	var sr *v2Request
	var err error
	headers := r.Header["Authorization"]
	_, qKey := queryValue(query, "AWSAccessKeyId")
	_, qSig := queryValue(query, "Signature")
	switch {
	case len(headers) > 0 && (qKey || qSig):
		return nil, authErr(http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; only the Signature query parameter or the Authorization header should be specified")
	case len(headers) > 1:
		return nil, malformedHeader("more than one Authorization header")
	case len(headers) == 1:
		sr, err = parseV2Header(r, headers[0])
	default:
		sr, err = parseV2Query(r, query)
	}
	if err != nil {
		return nil, err
	}
	key, ok := v.key(sr.keyID)
	if !ok {
		return nil, authErr(http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
	}
	if err := v.checkTimeV2(sr); err != nil {
		return nil, err
	}
	a := &Auth{KeyID: sr.keyID, Date: sr.date, Presigned: sr.presigned, SignedHeaders: v2SignedHeaders(r.Header)}
	if err := a.setPayloadV2(r); err != nil {
		return nil, err
	}
	paths, err := v.v2Resources(r)
	if err != nil {
		return nil, err
	}
	sub := v2SubResource(r.URL.RawQuery)
	prefix := v2StringToSign(r, sr.dateLine)
	for _, p := range paths {
		m := hmac.New(sha1.New, []byte(key.Reveal()))
		m.Write([]byte(prefix))
		m.Write([]byte(p))
		m.Write([]byte(sub))
		if hmac.Equal(m.Sum(nil), sr.signature) {
			if sr.presigned {
				r.URL.RawQuery = v2StripQuery(r.URL.RawQuery)
			}
			return a, nil
		}
	}
	return nil, errSignature
}

// parseV2Header parses "AWS <key id>:<base64 signature>" and takes the
// signing time from x-amz-date or Date.
func parseV2Header(r *http.Request, h string) (*v2Request, error) {
	cred := strings.TrimPrefix(h, v2Scheme)
	id, sig, ok := strings.Cut(cred, ":")
	if !ok || id == "" || sig == "" {
		return nil, malformedHeader("Signature Version 2 expects \"AWS <key id>:<signature>\"")
	}
	sr := &v2Request{keyID: id, signature: decodeV2Signature(sig)}
	// With x-amz-date the string to sign's date line is empty: the
	// header is signed among the x-amz-* headers instead.
	if vs := r.Header["X-Amz-Date"]; len(vs) > 0 {
		t, err := parseV2Date(vs[0])
		if len(vs) > 1 || err != nil {
			return nil, denied("AWS authentication requires a valid Date or x-amz-date header")
		}
		sr.date = t
		return sr, nil
	}
	vs := r.Header["Date"]
	if len(vs) != 1 {
		return nil, denied("AWS authentication requires a valid Date or x-amz-date header")
	}
	t, err := parseV2Date(vs[0])
	if err != nil {
		return nil, denied("AWS authentication requires a valid Date or x-amz-date header")
	}
	sr.date, sr.dateLine = t, vs[0]
	return sr, nil
}

// parseV2Date reads a Date or x-amz-date value: an HTTP date, the same
// with a numeric zone (s3cmd: "+0000"), or ISO 8601 basic.
func parseV2Date(s string) (time.Time, error) {
	for _, layout := range []string{amzDateFmt, time.RFC1123Z} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	t, err := http.ParseTime(s)
	return t.UTC(), err
}

// parseV2Query reads AWSAccessKeyId, Signature and Expires, and refuses
// query parameters the signature does not cover and Airlock cannot ignore.
func parseV2Query(r *http.Request, query []queryParam) (*v2Request, error) {
	var vals [3]string
	for i, name := range []string{"AWSAccessKeyId", "Signature", "Expires"} {
		n := 0
		for _, p := range query {
			if p.key == name {
				vals[i] = p.value
				n++
			}
		}
		if n != 1 || vals[i] == "" {
			return nil, malformedQuery("Query-string authentication (Signature Version 2) requires exactly one non-empty " + name)
		}
	}
	if len(vals[2]) > 12 || !isDigits(vals[2]) {
		return nil, malformedQuery("Expires must be a time in seconds since the Unix epoch")
	}
	exp, _ := strconv.ParseInt(vals[2], 10, 64)
	sr := &v2Request{presigned: true, keyID: vals[0], dateLine: vals[2], expires: time.Unix(exp, 0).UTC()}
	// A decoded '+' in a client's unescaped signature reads as a space.
	sr.signature = decodeV2Signature(strings.ReplaceAll(vals[1], " ", "+"))
	for _, p := range query {
		switch lk := strings.ToLower(p.key); {
		case p.key == "AWSAccessKeyId" || p.key == "Signature" || p.key == "Expires":
		case lk == "content-type" || lk == "content-md5" || strings.HasPrefix(lk, "x-amz-"):
			// Signed as headers: the request must send them as such.
			if got := r.Header.Values(lk); len(got) != 1 || strings.TrimSpace(got[0]) != strings.TrimSpace(p.value) {
				return nil, invalidRequest("the presigned URL was signed with " + limit(lk) + ": " + limit(p.value) + "; send that value as the " + limit(lk) + " header")
			}
		case v2SubResources[p.key] || ignoredParam(p.key):
		default:
			return nil, invalidRequest("query parameter " + strconv.Quote(limit(p.key)) + " is not covered by a Signature Version 2 signature" + v2Fix)
		}
	}
	return sr, nil
}

func decodeV2Signature(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != sha1.Size {
		return nil // matches no signature
	}
	return b
}

// checkTimeV2 bounds a header-signed request's clock skew, and a
// presigned one's expiry.
func (v *Verifier) checkTimeV2(sr *v2Request) error {
	t, skew := v.clock()
	switch {
	case !sr.presigned:
		return skewed(t, sr.date, skew)
	case t.After(sr.expires):
		return denied("Request has expired")
	case sr.expires.Sub(t) > maxV2Expiry+skew:
		return malformedQuery("Expires must be within 7 days (604800 seconds) from now")
	default:
		sr.date = t
	}
	return nil
}

// setPayloadV2: Signature Version 2 does not sign the body (Content-MD5,
// when sent, is signed and checked by the upstream). A hex SHA-256 in
// x-amz-content-sha256 is checked as with Version 4; aws-chunked bodies,
// whose framing needs a Version 4 seed signature, are refused.
func (a *Auth) setPayloadV2(r *http.Request) error {
	for _, ce := range r.Header.Values("Content-Encoding") {
		if strings.Contains(strings.ToLower(ce), "aws-chunked") {
			return invalidRequest("aws-chunked bodies need Signature Version 4" + v2Fix)
		}
	}
	vals := r.Header["X-Amz-Content-Sha256"]
	switch {
	case len(vals) == 0 || vals[0] == PayloadUnsigned:
		a.PayloadMode = PayloadUnsigned
	case len(vals) == 1 && len(vals[0]) == 2*sha256.Size && isHex(vals[0]):
		a.PayloadMode, a.PayloadSHA256 = PayloadHashed, strings.ToLower(vals[0])
	default:
		return invalidRequest("x-amz-content-sha256 with Signature Version 2 must be UNSIGNED-PAYLOAD or the hex SHA-256 of the body" + v2Fix)
	}
	return nil
}

// v2SignedHeaders lists what a Version 2 signature covers among headers.
func v2SignedHeaders(h http.Header) []string {
	out := []string{"content-md5", "content-type", "date"}
	for k := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
			out = append(out, lk)
		}
	}
	slices.Sort(out)
	return out
}

// v2StringToSign is the string to sign up to the resource: method,
// Content-MD5, Content-Type, date line and the canonical x-amz-* headers
// (lower-case names, sorted, values trimmed and comma-joined).
func v2StringToSign(r *http.Request, dateLine string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(strings.TrimSpace(r.Header.Get("Content-Md5")))
	b.WriteByte('\n')
	b.WriteString(strings.TrimSpace(r.Header.Get("Content-Type")))
	b.WriteByte('\n')
	b.WriteString(dateLine)
	b.WriteByte('\n')
	names := make([]string, 0, 4)
	for k := range r.Header {
		if len(k) >= 6 && strings.EqualFold(k[:6], "x-amz-") {
			names = append(names, k)
		}
	}
	slices.SortFunc(names, func(x, y string) int { return strings.Compare(strings.ToLower(x), strings.ToLower(y)) })
	for _, k := range names {
		b.WriteString(strings.ToLower(k))
		b.WriteByte(':')
		for i, v := range r.Header[k] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.TrimSpace(v))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// v2Resources are the spellings of the signed resource's path a client may
// have signed: "/bucket/key" with the path as sent, and with S3's own
// encoding of it. A virtual-hosted-style request's bucket comes from the
// Host, exactly as Classify reads it.
func (v *Verifier) v2Resources(r *http.Request) ([]string, error) {
	suffixes := v.HostSuffixes
	if len(suffixes) == 0 {
		suffixes = []string{"localhost"}
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	bucket, err := hostBucket(host, suffixes)
	if err != nil {
		return nil, invalidRequest("the bucket name in the Host header is not valid")
	}
	sent := r.URL.EscapedPath()
	if r.RequestURI != "" && strings.HasPrefix(r.RequestURI, "/") {
		sent, _, _ = strings.Cut(r.RequestURI, "?")
	}
	if sent == "" {
		sent = "/"
	}
	out := []string{sent}
	if alt := s3Escape(r.URL.Path, false); alt != sent && alt != "" {
		out = append(out, alt)
	}
	if bucket == "" && len(sent) > 1 && strings.IndexByte(sent[1:], '/') < 0 {
		out = append(out, sent+"/") // a bucket: SDKs sign "/bucket/"
	}
	if bucket != "" {
		for i := range out {
			out[i] = "/" + bucket + out[i]
		}
	}
	return out, nil
}

// v2SubResource is the signed tail of the resource: the query's
// sub-resources, sorted by name, values decoded, "?" first.
func v2SubResource(raw string) string {
	type kv struct {
		k, v string
		eq   bool
	}
	var subs []kv
	for part := range strings.SplitSeq(raw, "&") {
		k, val, eq := strings.Cut(part, "=")
		if !v2SubResources[k] {
			continue
		}
		if d, err := url.PathUnescape(val); err == nil {
			val = d
		}
		subs = append(subs, kv{k, val, eq})
	}
	if len(subs) == 0 {
		return ""
	}
	slices.SortStableFunc(subs, func(x, y kv) int { return strings.Compare(x.k, y.k) })
	var b strings.Builder
	for i, s := range subs {
		b.WriteByte("?&"[min(i, 1)])
		b.WriteString(s.k)
		if s.eq {
			b.WriteByte('=')
			b.WriteString(s.v)
		}
	}
	return b.String()
}

// v2StripQuery drops query authentication and the header values copied
// into the query, keeping everything else as the client wrote it.
func v2StripQuery(raw string) string {
	parts := strings.Split(raw, "&")
	kept := parts[:0]
	for _, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		switch lk := strings.ToLower(k); {
		case k == "AWSAccessKeyId" || k == "Signature" || k == "Expires",
			lk == "content-type" || lk == "content-md5" || strings.HasPrefix(lk, "x-amz-"):
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "&")
}
