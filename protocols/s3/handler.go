package s3

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/policy"
)

// Config is what a Handler needs.
type Config struct {
	// Check decides one request and records the decision (the proxy's gate).
	Check func(*policy.Request) policy.Decision
	// Verifier checks the client's signatures against the local key.
	Verifier *Verifier
	// Endpoint is the upstream S3 service: scheme and host[:port] only.
	Endpoint *url.URL
	// Region signs upstream requests.
	Region string
	// Credentials returns the held upstream credentials, fresh each call.
	Credentials func(ctx context.Context) (aws.Credentials, error)
	// Transport reaches the upstream (its TLS settings); nil: a default.
	Transport http.RoundTripper
	// HostSuffixes mark virtual-hosted-style requests (bucket.localhost).
	HostSuffixes []string
	// Log is the diagnostic log.
	Log zerolog.Logger
	// Now is the clock for signing; nil: time.Now.
	Now func() time.Time
}

// Handler serves the S3 API on the local endpoint.
type Handler struct {
	cfg    Config
	client *http.Client
	signer *v4.Signer
	recent recentDenials
}

var _ http.Handler = (*Handler)(nil)

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Check == nil || cfg.Verifier == nil || cfg.Endpoint == nil || cfg.Credentials == nil {
		return nil, errors.New("s3: Check, Verifier, Endpoint and Credentials are required")
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.HostSuffixes) == 0 {
		cfg.HostSuffixes = []string{"localhost"}
	}
	return &Handler{
		cfg: cfg,
		// Redirects are the client's business, never followed here: the
		// upstream is the configured endpoint only.
		client: &http.Client{Transport: cfg.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
	}, nil
}

// maxDeleteBody bounds a DeleteObjects request body (1000 keys fit easily).
const maxDeleteBody = 2 << 20

// dataOps are the operations any matching rule may allow; every other
// (configuration) operation must be named by the rule that allows it.
// NamedOnly reports whether a rule must name the operation to allow it
// (a configuration operation, not one of dataOps).
func NamedOnly(action string) bool { return !slices.Contains(dataOps, action) }

var dataOps = []string{
	"GetObject", "HeadObject", "PutObject", "CopyObject", "DeleteObject", "DeleteObjects",
	"ListObjectsV2", "ListObjects", "ListObjectVersions", "ListBuckets", "HeadBucket", "GetBucketLocation",
	"CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload", "AbortMultipartUpload",
	"ListMultipartUploads", "ListParts", "GetObjectTagging", "GetObjectAttributes",
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn := policy.Conn{Protocol: policy.ProtocolS3, Client: r.RemoteAddr, User: ""}
	auth, err := h.cfg.Verifier.Verify(r)
	if err != nil {
		var ae *AuthError
		if !errors.As(err, &ae) {
			ae = &AuthError{Code: "AccessDenied", Message: "request could not be authenticated", Status: http.StatusForbidden}
		}
		id := h.guard(conn, "signature check failed: "+ae.Code, r.Method)
		writeError(w, ae.Status, ae.Code, h.recent.explain(r, h.cfg.HostSuffixes, ae.Message, h.cfg.Now()), id)
		return
	}
	conn.User = auth.KeyID
	op, err := Classify(r, h.cfg.HostSuffixes)
	if err != nil {
		id := h.guard(conn, "request not understood: "+err.Error(), r.Method)
		status, code := classifyErrorCode(err)
		writeError(w, status, code, "airlock: "+err.Error(), id)
		return
	}
	if ae, why := lengthRefusal(r, auth.PayloadMode); ae != nil {
		id := h.guardOp(conn, why, op)
		discardBody(w, r)
		writeError(w, ae.Status, ae.Code, ae.Message, id)
		return
	}
	body, err := auth.Body(r)
	if err != nil {
		id := h.guardOp(conn, "request body refused: "+err.Error(), op)
		discardBody(w, r)
		var ae *AuthError
		if errors.As(err, &ae) { // e.g. 411 MissingContentLength: the client's own S3 error
			writeError(w, ae.Status, ae.Code, ae.Message, id)
			return
		}
		writeError(w, http.StatusBadRequest, "InvalidRequest", "airlock: "+err.Error(), id)
		return
	}
	defer body.Close()
	reqs, body, err := h.requests(conn, op, body)
	if err != nil {
		id := h.guard(conn, "request body refused: "+err.Error(), op.S3.Action)
		writeError(w, http.StatusBadRequest, "MalformedXML", "airlock: "+err.Error(), id)
		return
	}
	var lastID string
	for i := range reqs {
		d := h.cfg.Check(&reqs[i])
		lastID = reqs[i].ID
		if !d.Allow {
			h.recent.note(reqs[i].S3.Bucket, reqs[i].S3.Key, d.Reason, reqs[i].ID, h.cfg.Now())
			discardBody(w, r)
			writeError(w, http.StatusForbidden, "AccessDenied", "airlock: "+d.Reason, reqs[i].ID)
			return
		}
	}
	h.forward(w, r, op, auth, body, lastID)
}

// requests turns the operation into the policy requests that must all be
// allowed: a copy is a read of its source and a write of its destination;
// DeleteObjects is a delete of every key in its body.
func (h *Handler) requests(conn policy.Conn, op Op, body io.ReadCloser) ([]policy.Request, io.ReadCloser, error) {
	base := policy.Request{Protocol: policy.ProtocolS3, Conn: conn, S3: op.S3}
	switch {
	case op.S3.Action == "Unknown":
		base.Guard = "unknown S3 operation (sub-resource " + op.SubResource + ")"
	case NamedOnly(op.S3.Action):
		base.NamedOnly = true
	}
	if op.S3.SourceBucket != "" {
		src := policy.Request{Protocol: policy.ProtocolS3, Conn: conn,
			S3: policy.S3{Action: "GetObject", Bucket: op.S3.SourceBucket, Key: op.S3.SourceKey, VersionID: op.SourceVersionID}}
		return []policy.Request{src, base}, body, nil
	}
	if !op.NeedsBody {
		return []policy.Request{base}, body, nil
	}
	data, err := io.ReadAll(io.LimitReader(body, maxDeleteBody+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > maxDeleteBody {
		return nil, nil, fmt.Errorf("DeleteObjects body over %d bytes", maxDeleteBody)
	}
	objs, _, err := ParseDeleteObjects(bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	out := make([]policy.Request, 0, len(objs))
	for _, o := range objs {
		q := base
		q.S3.Key, q.S3.VersionID = o.Key, o.VersionID
		out = append(out, q)
	}
	return out, io.NopCloser(bytes.NewReader(data)), nil
}

// guard records a denial no rule decides and returns its request id.
func (h *Handler) guard(conn policy.Conn, reason, action string) string {
	req := policy.Request{Protocol: policy.ProtocolS3, Conn: conn, Guard: reason, S3: policy.S3{Action: action}}
	h.cfg.Check(&req)
	return req.ID
}

// guardOp records a denial no rule decides, with the operation's action
// and resources, and returns its request id.
func (h *Handler) guardOp(conn policy.Conn, reason string, op Op) string {
	req := policy.Request{Protocol: policy.ProtocolS3, Conn: conn, Guard: reason, S3: op.S3}
	h.cfg.Check(&req)
	return req.ID
}

// s3Error is S3's XML error body.
type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
}

// writeError answers with S3's XML error. The code and message go into
// headers too, because a HEAD answer has no body and SDKs then show only
// the status: x-amz-error-code / x-amz-error-message, and the names MinIO
// sends on HEAD errors (x-minio-error-code, x-minio-error-desc, quoted).
func writeError(w http.ResponseWriter, status int, code, msg, requestID string) {
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("x-amz-request-id", requestID)
	h.Set("x-amz-error-code", headerSafe(code))
	h.Set("x-amz-error-message", headerSafe(msg))
	h.Set("x-minio-error-code", headerSafe(code))
	h.Set("x-minio-error-desc", `"`+headerSafe(msg)+`"`)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(s3Error{Code: code, Message: msg, RequestID: requestID})
}

// headerSafe makes s a header value: printable ASCII only (anything else
// becomes '?'), double quotes as single ones, at most 512 bytes.
func headerSafe(s string) string {
	b := []byte(s[:min(len(s), 512)])
	for i, c := range b {
		switch {
		case c == '"':
			b[i] = '\''
		case c < 0x20 || c > 0x7e:
			b[i] = '?'
		}
	}
	return string(b)
}

// hostOf strips a port.
func hostOf(hostport string) string {
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.Contains(hostport[i:], "]") {
		return hostport[:i]
	}
	return hostport
}
