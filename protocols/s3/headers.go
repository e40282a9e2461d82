package s3

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
)

// ErrHeader: a header Airlock does not forward on this operation (an
// unknown x-amz-* or vendor header, or one S3 does not read here), or one
// sent twice (InvalidArgument).
var ErrHeader = errors.New("header refused")

// Request headers Airlock replaces or removes, with the reason; every other
// header either reaches the upstream exactly as the client wrote it or is
// refused (forwardedHeader). The table test of the package lists the same.
var replacedHeaders = map[string]string{
	"authorization":                "signature: the upstream request is signed with the held credentials",
	"x-amz-date":                   "signature: the time of Airlock's own signature",
	"x-amz-content-sha256":         "signature: the upstream request carries UNSIGNED-PAYLOAD or its own streaming mode",
	"x-amz-security-token":         "credentials: the local key has no session token; the held one is added when there is one",
	"x-amz-decoded-content-length": "framing: set again when the upstream body is aws-chunked",
	"x-amz-trailer":                "framing: set again when the upstream body is aws-chunked",
	"x-amz-sdk-checksum-algorithm": "framing: describes the client's aws-chunked trailer",
	"content-length":               "framing: the length of the body Airlock sends",
	"transfer-encoding":            "framing: hop-by-hop",
	"host":                         "the configured upstream endpoint",
	"connection":                   "hop-by-hop",
	"keep-alive":                   "hop-by-hop",
	"proxy-authorization":          "hop-by-hop",
	"proxy-connection":             "hop-by-hop",
	"te":                           "hop-by-hop",
	"trailer":                      "hop-by-hop",
	"upgrade":                      "hop-by-hop",
	"expect":                       "hop-by-hop: Airlock sends its own 100-continue when the body has a length",
	"amz-sdk-invocation-id":        "the SDK's retry bookkeeping for the client's own request",
	"amz-sdk-request":              "the SDK's retry bookkeeping for the client's own request",
	// x-amz-copy-source is not removed but rebuilt (copySource) from the
	// bucket, key and version the rules checked, in canonical encoding.
}

// vendorPrefixes are header namespaces S3-compatible servers read with a
// meaning of their own (MinIO's x-minio-* include replication and internal
// controls). Airlock understands none of them, so they are refused.
var vendorPrefixes = []string{"x-amz-", "x-minio-", "x-rgw-", "x-ceph-", "x-goog-", "x-oss-", "x-obs-", "x-cos-", "x-emc-", "x-ibm-"}

// genericHeaders are standard HTTP headers S3 reads on any operation (or
// ignores); they are forwarded untouched.
var genericHeaders = []string{
	"accept", "accept-encoding", "accept-language", "user-agent", "date",
	"cache-control", "content-disposition", "content-encoding", "content-language",
	"content-md5", "content-type", "expires",
	"if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "range",
}

// Operation groups of amzHeaders.
var (
	anyOp        []string // nil: every operation
	objectWrites = []string{"PutObject", "CopyObject", "CreateMultipartUpload"}
	copies       = []string{"CopyObject", "UploadPartCopy"}
	sseCOps      = []string{"GetObject", "HeadObject", "GetObjectAttributes", "SelectObjectContent",
		"PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload"}
)

// amzHeader is how Airlock treats one x-amz-* request header.
type amzHeader struct {
	ops []string // operations it is forwarded on; nil: all
	// config: it sets something beyond the object's bytes and metadata
	// (ACLs, tags, retention, storage class, encryption, redirects) on
	// configOps (nil: on every operation in ops). It is then shown to
	// rules in s3.headers, and only a rule that mentions it can allow
	// the request.
	config    bool
	configOps []string
}

// Configuration headers are shown to rules as values (s3.headers) rather
// than turned into operations of their own (PutObjectAcl, …): storage
// class, redirects, encryption and object lock on a PutObject have no S3
// operation to name, and a rule can then check the value itself (only
// STANDARD, only tags starting team=). The policy engine lets only a rule
// that names such a header allow a request carrying it.

// amzHeaders lists the x-amz-* headers Airlock forwards. Names ending in
// '-' are families (x-amz-meta-*).
var amzHeaders = map[string]amzHeader{
	"x-amz-expected-bucket-owner":                                 {ops: anyOp},
	"x-amz-source-expected-bucket-owner":                          {ops: copies},
	"x-amz-request-payer":                                         {ops: anyOp},
	"x-amz-user-agent":                                            {ops: anyOp},
	"x-amz-checksum-crc32":                                        {ops: anyOp},
	"x-amz-checksum-crc32c":                                       {ops: anyOp},
	"x-amz-checksum-crc64nvme":                                    {ops: anyOp},
	"x-amz-checksum-sha1":                                         {ops: anyOp},
	"x-amz-checksum-sha256":                                       {ops: anyOp},
	"x-amz-checksum-algorithm":                                    {ops: []string{"CreateMultipartUpload"}},
	"x-amz-checksum-type":                                         {ops: []string{"PutObject", "CreateMultipartUpload", "CompleteMultipartUpload"}},
	"x-amz-checksum-mode":                                         {ops: []string{"GetObject", "HeadObject"}},
	"x-amz-meta-":                                                 {ops: objectWrites},
	"x-amz-metadata-directive":                                    {ops: []string{"CopyObject"}},
	"x-amz-copy-source":                                           {ops: copies},
	"x-amz-copy-source-range":                                     {ops: []string{"UploadPartCopy"}},
	"x-amz-copy-source-if-match":                                  {ops: copies},
	"x-amz-copy-source-if-none-match":                             {ops: copies},
	"x-amz-copy-source-if-modified-since":                         {ops: copies},
	"x-amz-copy-source-if-unmodified-since":                       {ops: copies},
	"x-amz-copy-source-server-side-encryption-customer-algorithm": {ops: copies},
	"x-amz-copy-source-server-side-encryption-customer-key":       {ops: copies},
	"x-amz-copy-source-server-side-encryption-customer-key-md5":   {ops: copies},
	"x-amz-mp-object-size":                                        {ops: []string{"CompleteMultipartUpload"}},
	"x-amz-object-attributes":                                     {ops: []string{"GetObjectAttributes"}},
	"x-amz-max-parts":                                             {ops: []string{"GetObjectAttributes"}},
	"x-amz-part-number-marker":                                    {ops: []string{"GetObjectAttributes"}},
	"x-amz-optional-object-attributes":                            {ops: []string{"ListObjectsV2", "ListObjects", "ListObjectVersions"}},
	"x-amz-mfa":                                                   {ops: []string{"DeleteObject", "DeleteObjects", "PutBucketVersioning"}},
	"x-amz-confirm-remove-self-bucket-access":                     {ops: []string{"PutBucketPolicy"}},
	"x-amz-skip-destination-validation":                           {ops: []string{"PutBucketNotificationConfiguration"}},

	// Configuration carried by headers.
	"x-amz-acl":                                       {ops: []string{"PutObject", "CopyObject", "CreateMultipartUpload", "PutObjectAcl", "CreateBucket", "PutBucketAcl"}, config: true},
	"x-amz-grant-full-control":                        {ops: []string{"PutObject", "CopyObject", "CreateMultipartUpload", "PutObjectAcl", "CreateBucket", "PutBucketAcl"}, config: true},
	"x-amz-grant-read":                                {ops: []string{"PutObject", "CopyObject", "CreateMultipartUpload", "PutObjectAcl", "CreateBucket", "PutBucketAcl"}, config: true},
	"x-amz-grant-read-acp":                            {ops: []string{"PutObject", "CopyObject", "CreateMultipartUpload", "PutObjectAcl", "CreateBucket", "PutBucketAcl"}, config: true},
	"x-amz-grant-write":                               {ops: []string{"CreateBucket", "PutBucketAcl"}, config: true},
	"x-amz-grant-write-acp":                           {ops: []string{"PutObject", "CopyObject", "CreateMultipartUpload", "PutObjectAcl", "CreateBucket", "PutBucketAcl"}, config: true},
	"x-amz-tagging":                                   {ops: objectWrites, config: true},
	"x-amz-tagging-directive":                         {ops: []string{"CopyObject"}, config: true},
	"x-amz-storage-class":                             {ops: objectWrites, config: true},
	"x-amz-website-redirect-location":                 {ops: objectWrites, config: true},
	"x-amz-object-lock-mode":                          {ops: objectWrites, config: true},
	"x-amz-object-lock-retain-until-date":             {ops: objectWrites, config: true},
	"x-amz-object-lock-legal-hold":                    {ops: objectWrites, config: true},
	"x-amz-bypass-governance-retention":               {ops: []string{"DeleteObject", "DeleteObjects", "PutObjectRetention"}, config: true},
	"x-amz-bucket-object-lock-enabled":                {ops: []string{"CreateBucket"}, config: true},
	"x-amz-object-ownership":                          {ops: []string{"CreateBucket"}, config: true},
	"x-amz-server-side-encryption":                    {ops: objectWrites, config: true},
	"x-amz-server-side-encryption-aws-kms-key-id":     {ops: objectWrites, config: true},
	"x-amz-server-side-encryption-context":            {ops: objectWrites, config: true},
	"x-amz-server-side-encryption-bucket-key-enabled": {ops: objectWrites, config: true},
	"x-amz-server-side-encryption-customer-algorithm": {ops: sseCOps, config: true, configOps: objectWrites},
	"x-amz-server-side-encryption-customer-key":       {ops: sseCOps, config: true, configOps: objectWrites},
	"x-amz-server-side-encryption-customer-key-md5":   {ops: sseCOps, config: true, configOps: objectWrites},
}

// redactedHeaders are shown to rules as present, never by value: they are
// encryption keys.
var redactedHeaders = map[string]bool{
	"x-amz-server-side-encryption-customer-key":             true,
	"x-amz-copy-source-server-side-encryption-customer-key": true,
}

// Redacted is the value rules see for a header that holds a secret.
const Redacted = "[REDACTED]"

// headerKind is what classifyHeaders does with a header, by canonical name.
type headerKind struct {
	lower   string // the name in lower case
	drop    bool   // replacedHeaders: never forwarded as sent
	generic bool   // genericHeaders: forwarded as sent
	amz     *amzHeader
}

var headerKinds = func() map[string]headerKind {
	m := make(map[string]headerKind)
	for n := range replacedHeaders {
		m[textproto.CanonicalMIMEHeaderKey(n)] = headerKind{lower: n, drop: true}
	}
	for _, n := range genericHeaders {
		m[textproto.CanonicalMIMEHeaderKey(n)] = headerKind{lower: n, generic: true}
	}
	for n, h := range amzHeaders {
		m[textproto.CanonicalMIMEHeaderKey(n)] = headerKind{lower: n, amz: &h}
	}
	return m
}()

// absentValue holds, for configuration headers some clients always send,
// the value S3 applies when the header is absent: carrying it configures
// nothing, so rules do not see it (s3cmd sends x-amz-storage-class:
// STANDARD on every upload). The header is still forwarded as written.
var absentValue = map[string]string{"x-amz-storage-class": "STANDARD"}

// kindOf looks a canonical header name up; x-amz-meta-* share one entry.
func kindOf(canon string) (headerKind, bool) {
	if k, ok := headerKinds[canon]; ok && canon != "X-Amz-Meta-" {
		return k, true
	}
	if len(canon) > len("x-amz-meta-") && hasPrefixFold(canon, "x-amz-meta-") {
		k := headerKinds["X-Amz-Meta-"]
		k.lower = strings.ToLower(canon)
		return k, true
	}
	return headerKind{}, false
}

// classifyHeaders builds op.Header, the headers the upstream receives,
// and op.S3.Headers, the configuration headers rules see. A presigned
// URL's X-Amz-* query parameters other than its authentication count as
// headers, as S3 reads them. Unknown x-amz-* and vendor headers, known
// ones on an operation that does not take them, and repeated x-amz-*
// headers are refused; other headers S3 does not read are dropped.
func classifyHeaders(op *Op, in http.Header, query map[string]string) error {
	if op.S3.Action == ActionUnknown {
		return nil // denied whatever it carries; nothing is forwarded
	}
	out := make(http.Header, len(in))
	add := func(name string, values []string) error {
		canon := textproto.CanonicalMIMEHeaderKey(name)
		k, known := kindOf(canon)
		switch {
		case k.drop:
			return nil
		case canon == "Content-Encoding":
			if values = withoutAWSChunked(values); len(values) > 0 {
				out[canon] = append(out[canon], values...)
			}
			return nil
		case k.generic:
			out[canon] = append(out[canon], values...)
			return nil
		case !hasVendorPrefix(canon):
			return nil // S3 does not read it: X-Forwarded-For, tracing, cookies…
		case !known || k.amz.ops != nil && !slices.Contains(k.amz.ops, op.S3.Action):
			return fmt.Errorf("%w: %s on %s", ErrHeader, clip(strings.ToLower(canon)), op.S3.Action)
		}
		if _, dup := out[canon]; dup || len(values) != 1 {
			return fmt.Errorf("%w: %s sent more than once", ErrHeader, clip(k.lower))
		}
		if canon == "X-Amz-Copy-Source" {
			values = []string{copySource(op)} // exactly the source the rules checked
		}
		out[canon] = values
		if k.amz.config && (k.amz.configOps == nil || slices.Contains(k.amz.configOps, op.S3.Action)) &&
			!strings.EqualFold(values[0], absentValue[k.lower]) {
			if op.S3.Headers == nil {
				op.S3.Headers = make(map[string]string)
			}
			v := values[0]
			if redactedHeaders[k.lower] {
				v = Redacted
			}
			op.S3.Headers[k.lower] = v
		}
		return nil
	}
	for name, values := range in {
		if err := add(name, values); err != nil {
			return err
		}
	}
	for name, value := range query {
		if !hasPrefixFold(name, "X-Amz-") || presignParam(name) {
			continue
		}
		if err := add(name, []string{value}); err != nil {
			return err
		}
	}
	op.Header = out
	return nil
}

// copySource is x-amz-copy-source rebuilt from the checked source:
// "/bucket/key[?versionId=v]", the key and version encoded once.
func copySource(op *Op) string {
	v := "/" + op.S3.SourceBucket + "/" + escapeKey(op.S3.SourceKey)
	if op.SourceVersionID != "" {
		v += "?versionId=" + s3Escape(op.SourceVersionID, true)
	}
	return v
}

func hasVendorPrefix(name string) bool {
	for _, p := range vendorPrefixes {
		if hasPrefixFold(name, p) {
			return true
		}
	}
	return false
}

// presignParam reports whether a query parameter authenticates a presigned
// URL (the upstream request is signed in headers instead).
func presignParam(name string) bool {
	switch strings.ToLower(name) {
	case "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
		"x-amz-signedheaders", "x-amz-signature", "x-amz-security-token", "x-amz-content-sha256":
		return true
	}
	return false
}

// withoutAWSChunked removes the aws-chunked coding (Airlock decodes that
// framing) and keeps every other byte of the header as the client wrote
// it: "deflate, aws-chunked, gzip" becomes "deflate, gzip", and a value
// without aws-chunked is untouched.
func withoutAWSChunked(vs []string) []string {
	var out []string
	for _, v := range vs {
		parts := strings.Split(v, ",")
		keep := parts[:0]
		removed := false
		for _, p := range parts {
			if strings.EqualFold(strings.TrimSpace(p), "aws-chunked") {
				removed = true
				continue
			}
			keep = append(keep, p)
		}
		if !removed {
			out = append(out, v)
			continue
		}
		if rest := strings.TrimSpace(strings.Join(keep, ",")); strings.Trim(rest, ", \t") != "" {
			out = append(out, rest)
		}
	}
	return out
}
