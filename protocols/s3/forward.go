package s3

import (
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

var dropResponse = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true,
}

// forward re-signs the request with the held credentials and sends it to
// the configured endpoint, streaming both bodies.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, op Op, auth *Auth, body io.ReadCloser, requestID string) {
	ctx := r.Context()
	creds, err := h.cfg.Credentials(ctx)
	if err != nil {
		h.cfg.Log.Error().Err(err).Str("request_id", requestID).Msg("no upstream credentials")
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "airlock: upstream credentials are unavailable; see Airlock's log", requestID)
		return
	}
	u := *h.cfg.Endpoint
	u.Path, u.RawPath = "/", "/"
	if b := op.S3.Bucket; b != "" {
		u.Path = "/" + b + "/" + op.S3.Key
		u.RawPath = "/" + b + "/" + escapeKey(op.S3.Key)
		if op.S3.Key == "" {
			u.Path, u.RawPath = "/"+b, "/"+b
		}
	}
	u.RawQuery = op.Query
	length := r.ContentLength
	if strings.HasPrefix(auth.PayloadMode, "STREAMING-") {
		length, err = strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "MissingContentLength", "airlock: x-amz-decoded-content-length is required with aws-chunked bodies", requestID)
			return
		}
	}
	if length < 0 { // refused in ServeHTTP already; never sent as an empty body
		writeError(w, errUnknownLength.Status, errUnknownLength.Code, errUnknownLength.Message, requestID)
		return
	}
	var reqBody io.Reader = body
	// A body the client signed by its SHA-256 goes upstream as
	// UNSIGNED-PAYLOAD: body's hashReader holds its last bytes back until
	// the sum matches, so the upstream never receives a whole body that
	// does not, and the upstream is spared a second SHA-256 of every byte.
	payload := "UNSIGNED-PAYLOAD"
	decoded := length
	db, _ := body.(*DecodedBody)
	reframe := db != nil && db.TrailerName() != ""
	switch {
	case reframe:
		reqBody, length, payload = newTrailerBody(db, decoded), encodedLength(decoded, db.TrailerName()), payloadUnsignedTrailer
	case length == 0:
		// Nothing goes upstream, but the body still proves it is empty
		// (its signed SHA-256, its chunk signatures) before the
		// upstream is told so.
		if err := drainEmpty(body); err != nil {
			h.bodyFailed(w, err, requestID)
			return
		}
		reqBody = http.NoBody
	}
	fr := &failedReader{r: reqBody}
	if reqBody != http.NoBody {
		reqBody = fr
	}
	out, err := http.NewRequestWithContext(ctx, r.Method, u.String(), reqBody)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalError", "airlock: could not build the upstream request", requestID)
		return
	}
	out.ContentLength = length
	for k, vs := range op.Header { // the allow-listed headers, as the client wrote them
		out.Header[k] = vs
	}
	if reframe {
		out.Header.Set("Content-Encoding", strings.Join(append([]string{"aws-chunked"}, out.Header["Content-Encoding"]...), ","))
		out.Header.Set("X-Amz-Decoded-Content-Length", strconv.FormatInt(decoded, 10))
		out.Header.Set("X-Amz-Trailer", db.TrailerName())
	}
	if strings.EqualFold(r.Header.Get("Expect"), "100-continue") && length > 0 {
		out.Header.Set("Expect", "100-continue")
	}
	out.Header.Set("X-Amz-Content-Sha256", payload)
	if err := h.signer.SignHTTP(ctx, creds, out, payload, "s3", h.cfg.Region, h.cfg.Now()); err != nil {
		writeError(w, http.StatusInternalServerError, "InternalError", "airlock: could not sign the upstream request", requestID)
		return
	}
	resp, err := h.client.Do(out)
	if err != nil {
		// The body failed verification mid-stream, or the client's
		// connection ended before its length: the transport aborted the
		// upstream request, which never got the whole body.
		if berr := fr.failure(); berr != nil {
			h.bodyFailed(w, berr, requestID)
			return
		}
		h.cfg.Log.Warn().Err(err).Str("request_id", requestID).Msg("upstream request failed")
		writeError(w, http.StatusBadGateway, "InternalError", "airlock: the upstream request failed; see Airlock's log", requestID)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		if !dropResponse[k] {
			w.Header()[k] = vs
		}
	}
	if resp.StatusCode >= 300 && resp.ContentLength != 0 && resp.ContentLength < 1<<20 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		b = scrub(b, creds.AccessKeyID, creds.SessionToken, creds.SecretAccessKey)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(b)
		return
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := pipeCopy(w, resp.Body); err != nil {
		h.cfg.Log.Debug().Err(err).Str("request_id", requestID).Msg("response body cut short")
	}
}

// bodyFailed answers a request whose body failed verification or ended
// early, after the upstream request was aborted or before it was sent:
// the upstream stored nothing.
func (h *Handler) bodyFailed(w http.ResponseWriter, err error, requestID string) {
	h.cfg.Log.Warn().Err(err).Str("request_id", requestID).Msg("request body refused; nothing was stored upstream")
	var ae *AuthError
	if !errors.As(err, &ae) {
		ae = incomplete(err)
	}
	writeError(w, ae.Status, ae.Code, ae.Message, requestID)
}

// escapeKey encodes a key for the upstream path: every byte but the
// unreserved characters and '/' is percent-encoded, once.
func escapeKey(key string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// Elements of upstream error bodies that echo credentials or signing
// material (SignatureDoesNotMatch says the key id, the string to sign and
// the canonical request, which can hold the session token).
var scrubElements = regexp.MustCompile(`(?s)<(AWSAccessKeyId|StringToSign|StringToSignBytes|CanonicalRequest|CanonicalRequestBytes|SignatureProvided|HostId)>.*?</(AWSAccessKeyId|StringToSign|StringToSignBytes|CanonicalRequest|CanonicalRequestBytes|SignatureProvided|HostId)>`)

// scrub removes credential material from an upstream error body.
func scrub(b []byte, secrets ...string) []byte {
	b = scrubElements.ReplaceAll(b, []byte("<$1>[REDACTED]</$1>"))
	for _, s := range secrets {
		if len(s) >= 4 {
			b = []byte(strings.ReplaceAll(string(b), s, "[REDACTED]"))
		}
	}
	return b
}
