package s3

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Canonical request pieces (headers, path, query, escaping) and small
// parsing helpers of the SigV4 verifier.

// canonicalHeaders is "name:value\n" for every signed header, in order:
// values trimmed, inner runs of spaces collapsed, repeated headers joined
// with ','.
func canonicalHeaders(r *http.Request, names []string) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(':')
		var vals []string
		switch n {
		case "host":
			host := r.Host
			if host == "" {
				host = r.URL.Host
			}
			vals = []string{host}
		case "content-length":
			vals = r.Header["Content-Length"]
			if len(vals) == 0 && r.ContentLength >= 0 {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		case "transfer-encoding":
			vals = r.Header["Transfer-Encoding"]
			if len(vals) == 0 {
				vals = r.TransferEncoding
			}
		default:
			vals = r.Header[textproto.CanonicalMIMEHeaderKey(n)]
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			writeTrimmed(&b, v)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// writeTrimmed writes v without leading and trailing whitespace and with
// runs of spaces collapsed to one.
func writeTrimmed(b *strings.Builder, v string) {
	v = strings.TrimSpace(v)
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteByte(c)
	}
}

// sentPath is the path as the client sent it, which is what it signed.
func sentPath(u *url.URL) string {
	p := u.RawPath
	if u.Opaque != "" {
		// "//host/path" (a client-side request pre-escaped as the SDK advises).
		p = u.Opaque
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		p = strings.TrimPrefix(p, "//")
		if i := strings.IndexByte(p, '/'); i >= 0 {
			p = p[i:]
		} else {
			p = ""
		}
	} else if p == "" {
		p = u.EscapedPath()
	}
	if p == "" {
		return "/"
	}
	return p
}

// queryParam is one decoded query parameter.
type queryParam struct{ key, value string }

// parseQuery decodes a raw query string, keeping every parameter
// (including repeated ones, and ones url.ParseQuery would drop).
func parseQuery(raw string) ([]queryParam, error) {
	if raw == "" {
		return nil, nil
	}
	out := make([]queryParam, 0, strings.Count(raw, "&")+1)
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, invalidRequest("the query string is not correctly percent-encoded")
		}
		out = append(out, queryParam{dk, dv})
	}
	return out, nil
}

func queryValue(q []queryParam, key string) (string, bool) {
	for _, p := range q {
		if p.key == key {
			return p.value, true
		}
	}
	return "", false
}

// canonicalQuery encodes every parameter with S3's rules and sorts by key,
// then value; a presigned request's X-Amz-Signature is left out.
func canonicalQuery(q []queryParam, presigned bool) string {
	if len(q) == 0 {
		return ""
	}
	enc := make([]queryParam, 0, len(q))
	for _, p := range q {
		if presigned && p.key == "X-Amz-Signature" {
			continue
		}
		enc = append(enc, queryParam{s3Escape(p.key, true), s3Escape(p.value, true)})
	}
	slices.SortFunc(enc, func(a, b queryParam) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	var b strings.Builder
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.key)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String()
}

// s3Escape percent-encodes every byte but A-Z a-z 0-9 - _ . ~ (and '/',
// unless slash is set) with upper-case hex: S3's UriEncode.
func s3Escape(s string, slash bool) string {
	const hexDigits = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) && (slash || s[i] != '/') {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (!slash && c == '/') {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
}

// signingKey derives the SigV4 key for a day and region of service s3.
func signingKey(secretKey, day, region string) []byte {
	k := hmacSum([]byte("AWS4"+secretKey), day)
	k = hmacSum(k, region)
	k = hmacSum(k, "s3")
	return hmacSum(k, "aws4_request")
}

func hmacSum(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func decodeSignature(dst *[sha256.Size]byte, s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	_, err := hex.Decode(dst[:], []byte(s))
	return err == nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isLowerToken reports whether s is a lower-case HTTP header name.
func isLowerToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// limit shortens client-supplied text quoted back in an error message.
func limit(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
