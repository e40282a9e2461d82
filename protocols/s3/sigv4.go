package s3

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/airlockproxy/airlock/proxy/secret"
)

// LocalKey is a key pair Airlock issued to the task. It is only good for
// signing requests to Airlock itself.
type LocalKey struct {
	AccessKeyID string
	Secret      secret.Secret
}

// Verifier checks AWS Signature Version 4 on requests to the local
// endpoint: the Authorization header, presigned query parameters, and (via
// Auth.Body) the payload. It is safe for concurrent use; the zero value
// knows no keys and refuses everything.
type Verifier struct {
	// Keys are the key pairs a request may be signed with.
	Keys []LocalKey
	// Region, when set, is the only region a credential scope may name.
	// Empty accepts the region the client signed for, whatever it is (the
	// key is local; the region does not choose what the request reaches).
	Region string
	// MaxSkew bounds the distance between the request's X-Amz-Date and now
	// for header-signed requests, and how far in the future a presigned
	// URL's date may lie. Zero means 15 minutes, as S3 does.
	MaxSkew time.Duration
	// MaxChunkSize bounds one chunk of a signed aws-chunked body, which is
	// held in memory until its signature is checked. Zero means 16 MiB.
	MaxChunkSize int
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// HostSuffixes mark virtual-hosted-style requests, as the Handler's
	// do: a Signature Version 2 signature names the bucket. Nil means
	// localhost.
	HostSuffixes []string
}

// Payload modes: how the request's body is protected, from the client's
// x-amz-content-sha256.
const (
	// PayloadUnsigned: the body is not covered by the signature.
	PayloadUnsigned = "UNSIGNED-PAYLOAD"
	// PayloadHashed: the signature covers the SHA-256 of the whole body
	// (Auth.PayloadSHA256).
	PayloadHashed = "sha256"
	// PayloadStreaming: aws-chunked, every chunk signed.
	PayloadStreaming = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	// PayloadStreamingTrailer: aws-chunked, every chunk and the trailer signed.
	PayloadStreamingTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	// PayloadStreamingUnsignedTrailer: aws-chunked, unsigned, with a
	// checksum trailer (the SDKs' default for uploads over TLS).
	PayloadStreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// Auth is what Verify proved about a request.
type Auth struct {
	// KeyID is the local access key id the request was signed with.
	KeyID string
	// Date is the signing time (X-Amz-Date).
	Date time.Time
	// Region is the region of the credential scope.
	Region string
	// Presigned is true for query-string authentication.
	Presigned bool
	// SignedHeaders are the lower-case names the signature covers; other
	// headers of the request are not authenticated.
	SignedHeaders []string
	// PayloadMode is one of the Payload* constants.
	PayloadMode string
	// PayloadSHA256 is the signed lower-case hex digest of the body, in
	// PayloadHashed mode.
	PayloadSHA256 string
	// SeedSignature is the request's signature, lower-case hex: the seed of
	// the chunk signature chain in the streaming modes.
	SeedSignature string

	signingKey secret.Secret // the derived key; printing an Auth shows no key
	amzDate    string        // the signing time as signed, 20060102T150405Z
	scope      string        // date/region/s3/aws4_request
	maxChunk   int
}

// AuthError is a request the verifier refused: an S3 error code, a message
// safe to show the client, and the HTTP status S3 would answer with. Err,
// when set, is the cause, for the log. None of them holds a secret, a
// signing key or a string to sign.
type AuthError struct {
	Code    string
	Message string
	Status  int
	Err     error
}

func (e *AuthError) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *AuthError) Unwrap() error { return e.Err }

func authErr(status int, code, msg string) *AuthError {
	return &AuthError{Code: code, Message: msg, Status: status}
}

func denied(msg string) *AuthError { return authErr(http.StatusForbidden, "AccessDenied", msg) }

func malformedHeader(msg string) *AuthError {
	return authErr(http.StatusBadRequest, "AuthorizationHeaderMalformed", "The authorization header is malformed; "+msg)
}

func malformedQuery(msg string) *AuthError {
	return authErr(http.StatusBadRequest, "AuthorizationQueryParametersError", msg)
}

func invalidRequest(msg string) *AuthError {
	return authErr(http.StatusBadRequest, "InvalidRequest", msg)
}

var errSignature = authErr(http.StatusForbidden, "SignatureDoesNotMatch",
	"The request signature we calculated does not match the signature you provided. Check your key and signing method.")

const (
	algorithm    = "AWS4-HMAC-SHA256"
	amzDateFmt   = "20060102T150405Z"
	emptySHA256  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	maxPresign   = 7 * 24 * 60 * 60 // seconds: S3's limit for X-Amz-Expires
	defaultSkew  = 15 * time.Minute
	defaultChunk = 16 << 20
)

// credential is a parsed "<key id>/<yyyymmdd>/<region>/s3/aws4_request".
type credential struct {
	keyID, day, region string
}

// signedRequest is what the client claims: the parts of a signature.
type signedRequest struct {
	presigned bool
	cred      credential
	headers   string // SignedHeaders as sent, ';'-separated
	signature [sha256.Size]byte
	amzDate   string
	date      time.Time
	payload   string // the last line of the canonical request
	expires   int    // presigned: seconds
}

// malformed is the error for a malformed signature, by where it was sent.
func (sr *signedRequest) malformed(msg string) *AuthError {
	if sr.presigned {
		return malformedQuery(msg)
	}
	return malformedHeader(msg)
}

// Verify checks r's signature. It returns what it proved, or an *AuthError
// carrying the S3 error code: AccessDenied (no authentication, an expired
// presigned URL, unsigned x-amz-* headers), InvalidAccessKeyId,
// SignatureDoesNotMatch, RequestTimeTooSkewed, AuthorizationHeaderMalformed,
// AuthorizationQueryParametersError, InvalidArgument (both header and query
// authentication) or InvalidRequest (an unsupported algorithm or payload
// mode, no signed host header, a malformed query string). Verify does not
// read the body: Auth.Body does, checking it as it goes.
func (v *Verifier) Verify(r *http.Request) (*Auth, error) {
	query, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	if a, handled, err := v.verifyOther(r, query); handled {
		return a, err
	}
	sr, err := parseSignature(r, query)
	if err != nil {
		return nil, err
	}
	if sr.amzDate[:8] != sr.cred.day {
		return nil, sr.malformed("the credential date does not match X-Amz-Date")
	}
	if v.Region != "" && sr.cred.region != v.Region {
		return nil, sr.malformed("the region '" + limit(sr.cred.region) + "' is wrong; expecting '" + v.Region + "'")
	}
	key, ok := v.key(sr.cred.keyID)
	if !ok {
		return nil, authErr(http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
	}
	if err := v.checkTime(sr); err != nil {
		return nil, err
	}
	names, err := splitSignedHeaders(sr)
	if err != nil {
		return nil, err
	}
	if err := unsignedAmzHeaders(r.Header, names); err != nil {
		return nil, err
	}

	a := &Auth{
		KeyID:         sr.cred.keyID,
		Date:          sr.date,
		Region:        sr.cred.region,
		Presigned:     sr.presigned,
		SignedHeaders: names,
		amzDate:       sr.amzDate,
		scope:         sr.cred.day + "/" + sr.cred.region + "/s3/aws4_request",
		maxChunk:      cmp.Or(max(v.MaxChunkSize, 0), defaultChunk),
	}
	if err := a.setPayload(r, query, sr); err != nil {
		return nil, err
	}
	a.signingKey = secret.New(string(signingKey(key.Reveal(), sr.cred.day, sr.cred.region)))
	canonQuery := canonicalQuery(query, sr.presigned)
	headerBlock := canonicalHeaders(r, names)
	sent := sentPath(r.URL)
	sig := a.sign(r.Method, sent, canonQuery, headerBlock, sr)
	if !hmac.Equal(sig[:], sr.signature[:]) {
		// A client may sign the S3 encoding of the path while its HTTP
		// stack sends an equivalent spelling; both name the same key.
		alt := cmp.Or(s3Escape(r.URL.Path, false), "/")
		if alt == sent {
			return nil, errSignature
		}
		if sig = a.sign(r.Method, alt, canonQuery, headerBlock, sr); !hmac.Equal(sig[:], sr.signature[:]) {
			return nil, errSignature
		}
	}
	a.SeedSignature = hex.EncodeToString(sig[:])
	return a, nil
}

// parseSignature finds the signature in the Authorization header or the
// presigned query parameters, and the signing time.
func parseSignature(r *http.Request, query []queryParam) (*signedRequest, error) {
	_, presigned := queryValue(query, "X-Amz-Algorithm")
	if _, ok := queryValue(query, "X-Amz-Signature"); ok {
		presigned = true
	}
	headers := r.Header["Authorization"]
	switch {
	case len(headers) > 0 && presigned:
		return nil, authErr(http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified")
	case presigned:
		return parsePresigned(query)
	case len(headers) > 1:
		return nil, malformedHeader("more than one Authorization header")
	case len(headers) == 0:
		return nil, denied("Anonymous access is not allowed; sign the request with the local key")
	}
	sr, err := parseAuthorization(headers[0])
	if err != nil {
		return nil, err
	}
	return sr, headerDate(r, sr)
}

// checkTime bounds the clock skew of a header-signed request, and the
// validity window of a presigned one.
func (v *Verifier) checkTime(sr *signedRequest) error {
	t, skew := v.clock()
	switch {
	case !sr.presigned:
		return skewed(t, sr.date, skew)
	case sr.date.Sub(t) > skew:
		return denied("Request is not valid yet")
	case t.After(sr.date.Add(time.Duration(sr.expires) * time.Second)):
		return denied("Request has expired")
	}
	return nil
}

// clock returns the time now and the clock skew a request may have.
func (v *Verifier) clock() (time.Time, time.Duration) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = defaultSkew
	}
	return now(), skew
}

// skewed refuses a header-signed request whose date is more than skew
// away from now.
func skewed(now, date time.Time, skew time.Duration) error {
	if d := now.Sub(date); d > skew || d < -skew {
		return authErr(http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
	}
	return nil
}

func (v *Verifier) key(id string) (secret.Secret, bool) {
	for _, k := range v.Keys {
		if k.AccessKeyID == id && id != "" {
			return k.Secret, true
		}
	}
	return secret.Secret{}, false
}

// sign computes the request signature over the canonical request.
func (a *Auth) sign(method, uri, query, headers string, sr *signedRequest) [sha256.Size]byte {
	buf := make([]byte, 0, len(method)+len(uri)+len(query)+len(headers)+len(sr.headers)+len(sr.payload)+8)
	buf = append(buf, method...)
	buf = append(buf, '\n')
	buf = append(buf, uri...)
	buf = append(buf, '\n')
	buf = append(buf, query...)
	buf = append(buf, '\n')
	buf = append(buf, headers...)
	buf = append(buf, '\n')
	buf = append(buf, sr.headers...)
	buf = append(buf, '\n')
	buf = append(buf, sr.payload...)
	digest := sha256.Sum256(buf)

	sts := make([]byte, 0, 128+len(a.scope))
	sts = append(sts, algorithm+"\n"...)
	sts = append(sts, a.amzDate...)
	sts = append(sts, '\n')
	sts = append(sts, a.scope...)
	sts = append(sts, '\n')
	sts = hex.AppendEncode(sts, digest[:])
	var out [sha256.Size]byte
	m := hmac.New(sha256.New, []byte(a.signingKey.Reveal()))
	m.Write(sts)
	m.Sum(out[:0])
	return out
}

// setPayload reads the payload mode from x-amz-content-sha256 (header, or
// for presigned URLs the query, defaulting to UNSIGNED-PAYLOAD).
func (a *Auth) setPayload(r *http.Request, query []queryParam, sr *signedRequest) error {
	vals := r.Header["X-Amz-Content-Sha256"]
	if a.Presigned {
		if q, ok := queryValue(query, "X-Amz-Content-Sha256"); ok {
			vals = []string{q}
		}
	}
	var mode string
	switch {
	case len(vals) > 1:
		return invalidRequest("more than one x-amz-content-sha256")
	case len(vals) == 0 && a.Presigned:
		mode = PayloadUnsigned
	case len(vals) == 0:
		return invalidRequest("Missing required header for this request: x-amz-content-sha256")
	default:
		mode = vals[0]
	}
	sr.payload = mode
	switch mode {
	case PayloadUnsigned:
	case PayloadStreaming, PayloadStreamingTrailer, PayloadStreamingUnsignedTrailer:
		if a.Presigned {
			return invalidRequest("a presigned request cannot stream an aws-chunked payload")
		}
	default:
		if len(mode) != 2*sha256.Size || !isHex(mode) {
			return invalidRequest("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a supported STREAMING-* value, or the hex SHA-256 of the body")
		}
		a.PayloadSHA256 = strings.ToLower(mode)
		mode = PayloadHashed
	}
	a.PayloadMode = mode
	return nil
}

// parseAuthorization parses
// "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…".
func parseAuthorization(h string) (*signedRequest, error) {
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if alg != algorithm {
		return nil, invalidRequest("The authorization mechanism you have provided is not supported. Please use " + algorithm + ".")
	}
	if !ok {
		return nil, malformedHeader("expected Credential, SignedHeaders and Signature")
	}
	var cred, signed, sig string
	var seen int
	for part := range strings.SplitSeq(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, malformedHeader("expected Credential, SignedHeaders and Signature")
		}
		var dst *string
		switch k {
		case "Credential":
			dst = &cred
		case "SignedHeaders":
			dst = &signed
		case "Signature":
			dst = &sig
		default:
			return nil, malformedHeader("unexpected component " + strconv.Quote(limit(k)))
		}
		if *dst != "" || val == "" {
			return nil, malformedHeader("duplicate or empty " + k)
		}
		*dst = val
		seen++
	}
	if seen != 3 {
		return nil, malformedHeader("expected Credential, SignedHeaders and Signature")
	}
	sr := &signedRequest{headers: signed}
	if err := sr.parseCredential(cred); err != nil {
		return nil, err
	}
	if !decodeSignature(&sr.signature, sig) {
		return nil, malformedHeader("the signature must be 64 hex digits")
	}
	return sr, nil
}

// parsePresigned reads the X-Amz-* query parameters.
func parsePresigned(query []queryParam) (*signedRequest, error) {
	get := func(name string) (string, error) {
		var val string
		n := 0
		for _, p := range query {
			if p.key == name {
				val = p.value
				n++
			}
		}
		if n != 1 || val == "" {
			return "", malformedQuery("Query-string authentication requires exactly one non-empty " + name)
		}
		return val, nil
	}
	var vals [6]string
	for i, name := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		var err error
		if vals[i], err = get(name); err != nil {
			return nil, err
		}
	}
	if vals[0] != algorithm {
		return nil, malformedQuery("X-Amz-Algorithm only supports \"" + algorithm + "\"")
	}
	sr := &signedRequest{presigned: true, headers: vals[4], amzDate: vals[2]}
	if err := sr.parseCredential(vals[1]); err != nil {
		return nil, err
	}
	var err error
	if sr.date, err = time.Parse(amzDateFmt, sr.amzDate); err != nil || len(sr.amzDate) != len(amzDateFmt) {
		return nil, malformedQuery("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	if !decodeSignature(&sr.signature, vals[5]) {
		return nil, malformedQuery("X-Amz-Signature must be 64 hex digits")
	}
	if sr.expires, err = strconv.Atoi(vals[3]); err != nil || sr.expires < 0 || sr.expires > maxPresign || len(vals[3]) > 6 {
		return nil, malformedQuery("X-Amz-Expires must be a number of seconds from 0 to 604800")
	}
	return sr, nil
}

// headerDate takes the signing time from X-Amz-Date, or else from Date.
func headerDate(r *http.Request, sr *signedRequest) error {
	if v := r.Header["X-Amz-Date"]; len(v) > 0 {
		if len(v) > 1 || len(v[0]) != len(amzDateFmt) {
			return denied("AWS authentication requires a valid Date or x-amz-date header")
		}
		t, err := time.Parse(amzDateFmt, v[0])
		if err != nil {
			return denied("AWS authentication requires a valid Date or x-amz-date header")
		}
		sr.amzDate, sr.date = v[0], t
		return nil
	}
	if v := r.Header["Date"]; len(v) == 1 {
		if t, err := http.ParseTime(v[0]); err == nil {
			sr.date = t.UTC()
			sr.amzDate = sr.date.Format(amzDateFmt)
			return nil
		}
	}
	return denied("AWS authentication requires a valid Date or x-amz-date header")
}

// parseCredential parses "<key id>/<yyyymmdd>/<region>/s3/aws4_request".
func (sr *signedRequest) parseCredential(s string) error {
	parts := strings.Split(s, "/")
	switch {
	case len(parts) != 5 || parts[0] == "" || parts[2] == "" || parts[4] != "aws4_request":
		return sr.malformed("the Credential must be <key id>/<yyyymmdd>/<region>/s3/aws4_request")
	case len(parts[1]) != 8 || !isDigits(parts[1]):
		return sr.malformed("the credential date must be yyyymmdd")
	case parts[3] != "s3":
		return sr.malformed("the service '" + limit(parts[3]) + "' is wrong; expecting 's3'")
	}
	sr.cred = credential{keyID: parts[0], day: parts[1], region: parts[2]}
	return nil
}

// splitSignedHeaders checks that the list is lower-case, sorted, without
// duplicates, and names host.
func splitSignedHeaders(sr *signedRequest) ([]string, error) {
	names := strings.Split(sr.headers, ";")
	host := false
	for i, n := range names {
		if n == "" || !isLowerToken(n) || (i > 0 && names[i-1] >= n) {
			return nil, sr.malformed("SignedHeaders must be sorted lower-case header names separated by ';'")
		}
		host = host || n == "host"
	}
	if !host {
		return nil, invalidRequest("the host header must be signed")
	}
	return names, nil
}

// unsignedAmzHeaders refuses x-amz-* headers the signature does not cover,
// as S3 does: they change what a request means (copy sources, ACLs).
func unsignedAmzHeaders(h http.Header, signed []string) error {
	for k := range h {
		if len(k) < 6 || !strings.EqualFold(k[:6], "x-amz-") {
			continue
		}
		if !slices.Contains(signed, strings.ToLower(k)) {
			return denied("There were headers present in the request which were not signed: " + limit(strings.ToLower(k)))
		}
	}
	return nil
}
