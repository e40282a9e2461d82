package s3

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/airlockproxy/airlock/policy"
)

// ActionUnknown is the action of a request Classify cannot name: an
// unrecognised query parameter or sub-resource, a combination S3 does not
// define, or an unexpected method. Rules deny it unless one names it.
const ActionUnknown = "Unknown"

// Limits of a DeleteObjects request, as S3 applies them.
const (
	MaxDeleteObjectsBody = 2 << 20 // bytes ParseDeleteObjects reads at most
	MaxDeleteObjects     = 1000    // objects one request may name
)

const (
	maxKeyBytes    = 1024
	maxSubResource = 64 // longest parameter name echoed in Op.SubResource
	s3XMLNamespace = "http://s3.amazonaws.com/doc/2006-03-01/"
)

// Errors Classify and ParseDeleteObjects return, wrapped with the detail.
// Each comment names the S3 error code that answers it.
var (
	// ErrInvalidBucketName: the bucket in the host or path is not a valid
	// bucket name (InvalidBucketName).
	ErrInvalidBucketName = errors.New("invalid bucket name")
	// ErrInvalidKey: an object key is empty where one is needed or is not
	// valid UTF-8 (InvalidArgument).
	ErrInvalidKey = errors.New("invalid object key")
	// ErrKeyTooLong: an object key is longer than 1024 bytes (KeyTooLongError).
	ErrKeyTooLong = errors.New("object key longer than 1024 bytes")
	// ErrInvalidURI: a path or query that cannot be read one way only: bad
	// escapes, a repeated parameter, a literal '+' in the path (InvalidURI).
	ErrInvalidURI = errors.New("invalid request URI")
	// ErrInvalidCopySource: a malformed x-amz-copy-source, or one on a
	// request that is not a copy (InvalidArgument).
	ErrInvalidCopySource = errors.New("invalid copy source")
	// ErrNotImplemented: access point ARN copy sources and RenameObject's
	// x-amz-rename-source (NotImplemented).
	ErrNotImplemented = errors.New("not implemented")
	// ErrMalformedXML: a DeleteObjects body that is not the strict form
	// ParseDeleteObjects accepts (MalformedXML).
	ErrMalformedXML = errors.New("malformed XML")
)

// Op is one classified S3 request: the operation and every object it names
// outside a body.
type Op struct {
	// S3 is what rules see. Key is the object key decoded exactly once and
	// never normalised; Prefix is set for listings ("" lists the whole
	// bucket); SourceBucket and SourceKey for CopyObject and UploadPartCopy.
	S3 policy.S3
	// SourceVersionID is the version of the copy source, if it names one.
	SourceVersionID string
	// SubResource is the query parameter that selected the operation
	// ("acl", "uploads", "uploadId", "list-type"…), "" for plain bucket and
	// object operations. With ActionUnknown it is the parameter, or the
	// '&'-joined combination, that was not recognised.
	SubResource string
	// NeedsBody is set for DeleteObjects: the keys are in the body, which
	// must be read with ParseDeleteObjects and every key checked.
	NeedsBody bool
	// RawKey is Key as the request path carried it, still escaped.
	RawKey string
	// Query is the query string the upstream must receive: every
	// parameter Classify read, decoded once, encoded again with S3's
	// rules ("name=value", sorted), so that any parser reads exactly the
	// values classified. Presigned-URL authentication parameters are left
	// out, and other X-Amz-* parameters move to Header.
	Query string
	// Header is what the upstream must receive of the client's headers:
	// those S3 reads for this operation, as the client wrote them, and
	// nothing Airlock replaces (authentication, framing, hop-by-hop).
	Header http.Header
}

// Classify maps an S3 request to its operation and the objects it touches.
// The bucket comes from the Host (port stripped) when it ends with
// "."+suffix for one of hostSuffixes (virtual-hosted style; the longest
// suffix wins), otherwise from the first path segment. The key is the rest
// of the escaped path, decoded once. Query parameters that only page, filter
// or sign (prefix, max-keys, x-id, X-Amz-Signature…) do not change the
// operation; any parameter it does not know makes it ActionUnknown.
//
// An error means the request is malformed or ambiguous and must be refused;
// errors.Is against the Err values above picks the S3 error code.
func Classify(r *http.Request, hostSuffixes []string) (Op, error) {
	if r.URL == nil || r.URL.Opaque != "" {
		return Op{}, fmt.Errorf("%w: not an origin-form request target", ErrInvalidURI)
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	bucket, err := hostBucket(host, hostSuffixes)
	if err != nil {
		return Op{}, err
	}
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	if path[0] != '/' {
		return Op{}, fmt.Errorf("%w: path does not start with /", ErrInvalidURI)
	}
	// AWS reads a literal '+' in the path as a space, other servers as a
	// plus: the key would differ between the rule and the upstream.
	if strings.IndexByte(path, '+') >= 0 {
		return Op{}, fmt.Errorf("%w: literal '+' in path (send %%2B or %%20)", ErrInvalidURI)
	}
	rawKey := path[1:]
	if bucket == "" && rawKey != "" {
		var seg string
		seg, rawKey, _ = strings.Cut(rawKey, "/")
		if bucket, err = decodeBucket(seg); err != nil {
			return Op{}, err
		}
	}
	key, err := decodeKey(rawKey, true)
	if err != nil {
		return Op{}, err
	}
	query, err := classifyQuery(r.URL.RawQuery)
	if err != nil {
		return Op{}, err
	}

	op := Op{RawKey: rawKey, Query: upstreamQuery(query)}
	op.S3 = policy.S3{Bucket: bucket, Key: key, VersionID: query["versionId"]}
	op.S3.Action, op.SubResource = pickAction(r.Method, bucket, key, query)
	switch op.S3.Action {
	case "ListObjects", "ListObjectsV2", "ListObjectVersions", "ListMultipartUploads":
		op.S3.Prefix = query["prefix"]
	case "DeleteObjects":
		op.NeedsBody = true
	}
	if err := classifyCopy(&op, r.Header); err != nil {
		return Op{}, err
	}
	if err := classifyHeaders(&op, r.Header, query); err != nil {
		return Op{}, err
	}
	return op, nil
}

// pickAction names the operation from the method, the addressing level
// (service, bucket, object) and the query parameters.
func pickAction(method, bucket, key string, query map[string]string) (action, sub string) {
	var subs, unknown []string
	for name := range query {
		switch {
		case bucketOps[name] != nil || objectOps[name] != nil:
			subs = append(subs, name)
		case slices.Contains(qualifierParams, name) || ignoredParam(name):
		default:
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return ActionUnknown, clip(unknown[0])
	}
	slices.Sort(subs)
	sub = strings.Join(subs, "&")
	if len(subs) > 1 {
		return ActionUnknown, clip(sub)
	}
	switch {
	case bucket == "":
		if method == http.MethodGet && sub == "" {
			action = "ListBuckets"
		}
	case key == "":
		action = bucketOps[sub][method]
	default:
		action = objectOps[sub][method]
	}
	if action == "" {
		return ActionUnknown, sub
	}

	// Qualifiers refine an operation and are valid on it alone.
	for _, name := range qualifierParams {
		if _, ok := query[name]; ok && opQualifier[action] != name {
			return ActionUnknown, name
		}
	}
	_, hasID := query["id"]
	_, hasAnnotation := query["annotationName"]
	_, hasPart := query["partNumber"]
	switch {
	case action == "ListObjectsV2" && query["list-type"] != "2",
		action == "SelectObjectContent" && query["select-type"] != "2",
		action == "UploadPart" && !hasPart:
		return ActionUnknown, sub
	case listWithoutID[action] != "" && !hasID:
		action = listWithoutID[action]
	case action == "GetObjectAnnotation" && !hasAnnotation:
		action = "ListObjectAnnotations"
	}
	return action, sub
}

// classifyCopy turns PutObject and UploadPart into their copy forms when
// x-amz-copy-source is present, and refuses copy headers anywhere else.
func classifyCopy(op *Op, h http.Header) error {
	var source []string
	copyHeaders := false
	for name, values := range h {
		switch {
		case hasPrefixFold(name, "X-Amz-Rename-Source"):
			return fmt.Errorf("%w: x-amz-rename-source (RenameObject)", ErrNotImplemented)
		case strings.EqualFold(name, "X-Amz-Copy-Source"):
			source = append(source, values...)
			copyHeaders = true
		case hasPrefixFold(name, "X-Amz-Copy-Source-"):
			copyHeaders = true
		}
	}
	if !copyHeaders {
		return nil
	}
	switch op.S3.Action {
	case "PutObject":
		op.S3.Action = "CopyObject"
	case "UploadPart":
		op.S3.Action = "UploadPartCopy"
	default:
		return fmt.Errorf("%w: copy headers on %s", ErrInvalidCopySource, op.S3.Action)
	}
	if len(source) != 1 {
		return fmt.Errorf("%w: want one x-amz-copy-source header, got %d", ErrInvalidCopySource, len(source))
	}
	var err error
	op.S3.SourceBucket, op.S3.SourceKey, op.SourceVersionID, err = parseCopySource(source[0])
	return err
}

// parseCopySource reads "[/]bucket/key[?versionId=v]", URL-encoded, decoding
// each part once. The key must pass checkKey.
func parseCopySource(v string) (bucket, key, version string, err error) {
	if hasPrefixFold(strings.TrimPrefix(v, "/"), "arn:") || hasPrefixFold(strings.TrimPrefix(v, "/"), "arn%3a") {
		return "", "", "", fmt.Errorf("%w: access point ARN as copy source", ErrNotImplemented)
	}
	path, query, hasQuery := strings.Cut(v, "?")
	if hasQuery {
		rawVersion, ok := strings.CutPrefix(query, "versionId=")
		if !ok || rawVersion == "" || strings.ContainsAny(rawVersion, "&+") {
			return "", "", "", fmt.Errorf("%w: query other than ?versionId=", ErrInvalidCopySource)
		}
		if version, err = url.PathUnescape(rawVersion); err != nil || !utf8.ValidString(version) {
			return "", "", "", fmt.Errorf("%w: bad version escape", ErrInvalidCopySource)
		}
	}
	if strings.IndexByte(path, '+') >= 0 {
		return "", "", "", fmt.Errorf("%w: literal '+' (send %%2B or %%20)", ErrInvalidCopySource)
	}
	rawBucket, rawKey, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if bucket, err = decodeBucket(rawBucket); err != nil {
		return "", "", "", fmt.Errorf("%w: %w", ErrInvalidCopySource, err)
	}
	if key, err = decodeKey(rawKey, false); err != nil {
		return "", "", "", fmt.Errorf("%w: %w", ErrInvalidCopySource, err)
	}
	return bucket, key, version, nil
}

// hostBucket returns the bucket of a virtual-hosted-style Host, or "" when
// the host is not under one of the suffixes.
func hostBucket(host string, suffixes []string) (string, error) {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host[i:], ']') < 0 {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	best := ""
	for _, s := range suffixes {
		s = strings.Trim(s, ".")
		n := len(host) - len(s) - 1
		if s != "" && n > 0 && host[n] == '.' && strings.EqualFold(host[n+1:], s) && len(s) > len(best) {
			best = s
		}
	}
	if best == "" {
		return "", nil
	}
	bucket := host[:len(host)-len(best)-1]
	if !validBucket(bucket) {
		return "", fmt.Errorf("%w: %q in host", ErrInvalidBucketName, clip(bucket))
	}
	return bucket, nil
}

func decodeBucket(raw string) (string, error) {
	b, err := url.PathUnescape(raw)
	if err != nil || !validBucket(b) {
		return "", fmt.Errorf("%w: %q", ErrInvalidBucketName, clip(raw))
	}
	return b, nil
}

// validBucket applies S3's naming rules: 3–63 lowercase letters, digits,
// '.' and '-', starting and ending with a letter or digit, no "..".
// "minio" is refused too: MinIO serves its admin, health, metrics and STS
// APIs under /minio/, which a re-signed request must never reach.
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 || strings.Contains(b, "..") || b == "minio" {
		return false
	}
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '.' || c == '-':
			if i == 0 || i == len(b)-1 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// decodeKey decodes an escaped key once; "" is a bucket-level request when
// allowEmpty, an error otherwise.
func decodeKey(raw string, allowEmpty bool) (string, error) {
	if raw == "" && allowEmpty {
		return "", nil
	}
	key, err := url.PathUnescape(raw)
	if err != nil {
		return "", fmt.Errorf("%w: bad escape in key", ErrInvalidURI)
	}
	return key, checkKey(key)
}

// checkKey applies S3's key rules (1..1024 bytes of UTF-8) and refuses
// every key some S3 server or the filesystem under it would read as
// another key, so that the key a rule checked is the key stored:
//   - a "." or ".." segment, or one ending in '.' (dot segments are
//     resolved by some servers and HTTP stacks; Windows drops trailing dots);
//   - an empty segment ("a//b", a leading '/'), which some servers collapse;
//     a trailing '/' (a folder marker) is kept;
//   - a backslash, which some servers read as a separator;
//   - a '%' followed by two hex digits, which a server that decodes twice
//     reads as an escape;
//   - a control character (C0, DEL, C1);
//   - text not in Unicode Normalization Form C, which a normalising
//     server would store under its NFC form.
func checkKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidKey)
	case len(key) > maxKeyBytes:
		return fmt.Errorf("%w: %d bytes", ErrKeyTooLong, len(key))
	}
	for i, r := range key {
		switch {
		case r < 0x20 || 0x7f <= r && r < 0xa0:
			return fmt.Errorf("%w: control character %U", ErrInvalidKey, r)
		case r == '\\':
			return fmt.Errorf("%w: backslash", ErrInvalidKey)
		case r == '%' && i+2 < len(key) && isHex(key[i+1:i+3]):
			return fmt.Errorf("%w: %%XX sequence (a server that decodes twice reads another key)", ErrInvalidKey)
		}
	}
	for rest := key; rest != ""; {
		seg, tail, more := strings.Cut(rest, "/")
		switch {
		case seg == "" && more:
			return fmt.Errorf("%w: empty path segment", ErrInvalidKey)
		case strings.HasSuffix(seg, "."):
			return fmt.Errorf("%w: segment %q ends with '.'", ErrInvalidKey, clip(seg))
		}
		rest = tail
	}
	if !norm.NFC.IsNormalString(key) {
		return fmt.Errorf("%w: not in Unicode Normalization Form C", ErrInvalidKey)
	}
	return nil
}

// classifyQuery decodes a raw query once. Unlike url.ParseQuery it splits on
// '&' only, as S3 does; it refuses what parsers read differently: a raw ';'
// (Go's url.ParseQuery drops the whole pair), a bad escape, invalid UTF-8,
// an empty name, and a repeated name, whose meaning would depend on which
// one the upstream reads.
func classifyQuery(raw string) (map[string]string, error) {
	params := make(map[string]string)
	if strings.IndexByte(raw, ';') >= 0 {
		return nil, fmt.Errorf("%w: raw ';' in query (send %%3B)", ErrInvalidURI)
	}
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(part, "=")
		name, err1 := url.QueryUnescape(rawName)
		value, err2 := url.QueryUnescape(rawValue)
		if err1 != nil || err2 != nil || !utf8.ValidString(name) || !utf8.ValidString(value) {
			return nil, fmt.Errorf("%w: bad escape or UTF-8 in query", ErrInvalidURI)
		}
		if name == "" {
			return nil, fmt.Errorf("%w: query parameter without a name", ErrInvalidURI)
		}
		if hasPrefixFold(name, "X-Amz-Copy-Source") || hasPrefixFold(name, "X-Amz-Rename-Source") {
			return nil, fmt.Errorf("%w: %s in query string", ErrInvalidCopySource, clip(name))
		}
		if _, dup := params[name]; dup {
			return nil, fmt.Errorf("%w: repeated query parameter %q", ErrInvalidURI, clip(name))
		}
		params[name] = value
	}
	return params, nil
}

// upstreamQuery encodes the classified parameters in SigV4's canonical
// form: each name and value percent-encoded with S3's rules, "name=value"
// pairs sorted by name. X-Amz-* parameters stay out: the presigned-URL
// ones authenticate the client's request only, and classifyHeaders turns
// the others (headers a presigned URL carries in its query) into headers.
func upstreamQuery(params map[string]string) string {
	pairs := make([]queryParam, 0, len(params))
	for name, value := range params {
		if !hasPrefixFold(name, "X-Amz-") {
			pairs = append(pairs, queryParam{s3Escape(name, true), s3Escape(value, true)})
		}
	}
	slices.SortFunc(pairs, func(a, b queryParam) int { return strings.Compare(a.key, b.key) })
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.key)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String()
}

// ignoredParam reports whether a query parameter leaves the operation and
// its objects unchanged: paging, filtering, response overrides, the SDK's
// x-id and SigV4 query auth or hoisted x-amz-* headers.
func ignoredParam(name string) bool {
	switch name {
	case "versionId", "prefix", "delimiter", "marker", "max-keys", "continuation-token",
		"start-after", "encoding-type", "fetch-owner", "key-marker", "version-id-marker",
		"upload-id-marker", "max-uploads", "max-parts", "part-number-marker",
		"max-buckets", "bucket-region", "max-directory-buckets",
		"annotation-prefix", "max-annotation-results", "x-id",
		"response-cache-control", "response-content-disposition", "response-content-encoding",
		"response-content-language", "response-content-type", "response-expires":
		return true
	}
	return hasPrefixFold(name, "X-Amz-")
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// clip bounds a client-chosen name echoed in SubResource and errors.
func clip(s string) string {
	if len(s) <= maxSubResource {
		return s
	}
	s = s[:maxSubResource]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// bucketOps and objectOps map sub-resource → method → operation; "" is the
// plain bucket or object.
var bucketOps = map[string]map[string]string{
	"":                        {"GET": "ListObjects", "HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"},
	"list-type":               {"GET": "ListObjectsV2"},
	"versions":                {"GET": "ListObjectVersions"},
	"uploads":                 {"GET": "ListMultipartUploads"},
	"delete":                  {"POST": "DeleteObjects"},
	"location":                {"GET": "GetBucketLocation"},
	"session":                 {"GET": "CreateSession"},
	"acl":                     {"GET": "GetBucketAcl", "PUT": "PutBucketAcl"},
	"policy":                  {"GET": "GetBucketPolicy", "PUT": "PutBucketPolicy", "DELETE": "DeleteBucketPolicy"},
	"policyStatus":            {"GET": "GetBucketPolicyStatus"},
	"versioning":              {"GET": "GetBucketVersioning", "PUT": "PutBucketVersioning"},
	"lifecycle":               {"GET": "GetBucketLifecycleConfiguration", "PUT": "PutBucketLifecycleConfiguration", "DELETE": "DeleteBucketLifecycle"},
	"tagging":                 {"GET": "GetBucketTagging", "PUT": "PutBucketTagging", "DELETE": "DeleteBucketTagging"},
	"encryption":              {"GET": "GetBucketEncryption", "PUT": "PutBucketEncryption", "DELETE": "DeleteBucketEncryption"},
	"cors":                    {"GET": "GetBucketCors", "PUT": "PutBucketCors", "DELETE": "DeleteBucketCors"},
	"notification":            {"GET": "GetBucketNotificationConfiguration", "PUT": "PutBucketNotificationConfiguration"},
	"ownershipControls":       {"GET": "GetBucketOwnershipControls", "PUT": "PutBucketOwnershipControls", "DELETE": "DeleteBucketOwnershipControls"},
	"publicAccessBlock":       {"GET": "GetPublicAccessBlock", "PUT": "PutPublicAccessBlock", "DELETE": "DeletePublicAccessBlock"},
	"object-lock":             {"GET": "GetObjectLockConfiguration", "PUT": "PutObjectLockConfiguration"},
	"logging":                 {"GET": "GetBucketLogging", "PUT": "PutBucketLogging"},
	"website":                 {"GET": "GetBucketWebsite", "PUT": "PutBucketWebsite", "DELETE": "DeleteBucketWebsite"},
	"replication":             {"GET": "GetBucketReplication", "PUT": "PutBucketReplication", "DELETE": "DeleteBucketReplication"},
	"requestPayment":          {"GET": "GetBucketRequestPayment", "PUT": "PutBucketRequestPayment"},
	"accelerate":              {"GET": "GetBucketAccelerateConfiguration", "PUT": "PutBucketAccelerateConfiguration"},
	"abac":                    {"GET": "GetBucketAbac", "PUT": "PutBucketAbac"},
	"analytics":               {"GET": "GetBucketAnalyticsConfiguration", "PUT": "PutBucketAnalyticsConfiguration", "DELETE": "DeleteBucketAnalyticsConfiguration"},
	"inventory":               {"GET": "GetBucketInventoryConfiguration", "PUT": "PutBucketInventoryConfiguration", "DELETE": "DeleteBucketInventoryConfiguration"},
	"metrics":                 {"GET": "GetBucketMetricsConfiguration", "PUT": "PutBucketMetricsConfiguration", "DELETE": "DeleteBucketMetricsConfiguration"},
	"intelligent-tiering":     {"GET": "GetBucketIntelligentTieringConfiguration", "PUT": "PutBucketIntelligentTieringConfiguration", "DELETE": "DeleteBucketIntelligentTieringConfiguration"},
	"metadataConfiguration":   {"GET": "GetBucketMetadataConfiguration", "POST": "CreateBucketMetadataConfiguration", "DELETE": "DeleteBucketMetadataConfiguration"},
	"metadataTable":           {"GET": "GetBucketMetadataTableConfiguration", "POST": "CreateBucketMetadataTableConfiguration", "DELETE": "DeleteBucketMetadataTableConfiguration"},
	"metadataAnnotationTable": {"PUT": "UpdateBucketMetadataAnnotationTableConfiguration"},
	"metadataInventoryTable":  {"PUT": "UpdateBucketMetadataInventoryTableConfiguration"},
	"metadataJournalTable":    {"PUT": "UpdateBucketMetadataJournalTableConfiguration"},
}

var objectOps = map[string]map[string]string{
	"":           {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "DELETE": "DeleteObject"},
	"uploads":    {"POST": "CreateMultipartUpload"},
	"uploadId":   {"GET": "ListParts", "PUT": "UploadPart", "POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload"},
	"acl":        {"GET": "GetObjectAcl", "PUT": "PutObjectAcl"},
	"tagging":    {"GET": "GetObjectTagging", "PUT": "PutObjectTagging", "DELETE": "DeleteObjectTagging"},
	"retention":  {"GET": "GetObjectRetention", "PUT": "PutObjectRetention"},
	"legal-hold": {"GET": "GetObjectLegalHold", "PUT": "PutObjectLegalHold"},
	"attributes": {"GET": "GetObjectAttributes"},
	"torrent":    {"GET": "GetObjectTorrent"},
	"restore":    {"POST": "RestoreObject"},
	"select":     {"POST": "SelectObjectContent"},
	"encryption": {"PUT": "UpdateObjectEncryption"},
	"annotation": {"GET": "GetObjectAnnotation", "PUT": "PutObjectAnnotation", "DELETE": "DeleteObjectAnnotation"},
}

// qualifierParams refine one operation each (opQualifier) and make any
// other operation ActionUnknown.
var qualifierParams = []string{"annotationName", "id", "partNumber", "select-type"}

var opQualifier = map[string]string{
	"GetObject": "partNumber", "HeadObject": "partNumber", "UploadPart": "partNumber",
	"SelectObjectContent": "select-type",
	"GetObjectAnnotation": "annotationName", "PutObjectAnnotation": "annotationName", "DeleteObjectAnnotation": "annotationName",
	"GetBucketAnalyticsConfiguration": "id", "PutBucketAnalyticsConfiguration": "id", "DeleteBucketAnalyticsConfiguration": "id",
	"GetBucketInventoryConfiguration": "id", "PutBucketInventoryConfiguration": "id", "DeleteBucketInventoryConfiguration": "id",
	"GetBucketMetricsConfiguration": "id", "PutBucketMetricsConfiguration": "id", "DeleteBucketMetricsConfiguration": "id",
	"GetBucketIntelligentTieringConfiguration": "id", "PutBucketIntelligentTieringConfiguration": "id", "DeleteBucketIntelligentTieringConfiguration": "id",
}

// listWithoutID: a GET of a configuration without ?id= lists them all.
var listWithoutID = map[string]string{
	"GetBucketAnalyticsConfiguration":          "ListBucketAnalyticsConfigurations",
	"GetBucketInventoryConfiguration":          "ListBucketInventoryConfigurations",
	"GetBucketMetricsConfiguration":            "ListBucketMetricsConfigurations",
	"GetBucketIntelligentTieringConfiguration": "ListBucketIntelligentTieringConfigurations",
}

// ObjectID names one object of a DeleteObjects request.
type ObjectID struct {
	Key       string
	VersionID string
}

// ParseDeleteObjects reads a DeleteObjects body strictly: at most
// MaxDeleteObjectsBody bytes of UTF-8 XML with no DTD, entity declaration,
// comment or processing instruction but the XML declaration; root <Delete>
// (in S3's namespace or none) holding 1..MaxDeleteObjects <Object> with one
// non-empty <Key> and optional <VersionId>, <ETag>, <LastModifiedTime>,
// <Size>, and an optional <Quiet>true|false</Quiet>. Anything else is
// ErrMalformedXML. It returns the objects in order and the Quiet flag.
func ParseDeleteObjects(body io.Reader) ([]ObjectID, bool, error) {
	data, err := io.ReadAll(io.LimitReader(body, MaxDeleteObjectsBody+1))
	if err != nil {
		return nil, false, fmt.Errorf("read DeleteObjects body: %w", err)
	}
	if len(data) > MaxDeleteObjectsBody {
		return nil, false, fmt.Errorf("%w: body over %d bytes", ErrMalformedXML, MaxDeleteObjectsBody)
	}
	objects, quiet, err := parseDeleteObjects(xml.NewDecoder(bytes.NewReader(data)))
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrMalformedXML, err)
	}
	return objects, quiet, nil
}

// parseDeleteObjects walks the tokens once, keeping the path of open
// elements; every element, text and markup kind must be one it expects.
func parseDeleteObjects(d *xml.Decoder) ([]ObjectID, bool, error) {
	var (
		objects     []ObjectID
		open        []string // names of the open elements, root first
		space       string   // the root's namespace, which every element shares
		text        strings.Builder
		seen        = make(map[string]bool) // <Quiet> and the current <Object>'s children
		quiet, done bool
	)
	for n := 1; ; n++ {
		tok, err := d.Token()
		switch {
		case err == io.EOF && done:
			return objects, quiet, nil
		case err == io.EOF:
			return nil, false, errors.New("no <Delete> element")
		case err != nil:
			return nil, false, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if done {
				return nil, false, errors.New("content after </Delete>")
			}
			if len(open) == 0 {
				if name != "Delete" || (t.Name.Space != "" && t.Name.Space != s3XMLNamespace) {
					return nil, false, errors.New("root element is not <Delete>")
				}
				space = t.Name.Space
			}
			if t.Name.Space != space {
				return nil, false, fmt.Errorf("<%s> in namespace %q", clip(name), clip(t.Name.Space))
			}
			for _, a := range t.Attr {
				if a.Name.Space != "xmlns" && (a.Name.Space != "" || a.Name.Local != "xmlns") {
					return nil, false, fmt.Errorf("attribute %q on <%s>", clip(a.Name.Local), clip(name))
				}
			}
			open = append(open, name)
			switch path := strings.Join(open, "/"); path {
			case "Delete":
			case "Delete/Object":
				if len(objects) == MaxDeleteObjects {
					return nil, false, fmt.Errorf("more than %d objects", MaxDeleteObjects)
				}
				objects = append(objects, ObjectID{})
				for p := range seen {
					seen[p] = p == "Delete/Quiet" && seen[p]
				}
			case "Delete/Quiet", "Delete/Object/Key", "Delete/Object/VersionId",
				"Delete/Object/ETag", "Delete/Object/LastModifiedTime", "Delete/Object/Size":
				if seen[path] {
					return nil, false, fmt.Errorf("repeated <%s>", name)
				}
				seen[path] = true
				text.Reset()
			default:
				return nil, false, fmt.Errorf("unexpected element %s", clip(path))
			}
		case xml.EndElement:
			switch strings.Join(open, "/") {
			case "Delete/Object/Key":
				objects[len(objects)-1].Key = text.String()
			case "Delete/Object/VersionId":
				objects[len(objects)-1].VersionID = text.String()
			case "Delete/Object":
				if err := checkKey(objects[len(objects)-1].Key); err != nil {
					return nil, false, err
				}
			case "Delete/Quiet":
				switch strings.Trim(text.String(), " \t\r\n") {
				case "true":
					quiet = true
				case "false":
				default:
					return nil, false, errors.New("<Quiet> is not true or false")
				}
			case "Delete":
				if len(objects) == 0 {
					return nil, false, errors.New("no <Object>")
				}
				done = true
			}
			open = open[:len(open)-1]
		case xml.CharData:
			if len(open) == 3 || len(open) == 2 && open[1] == "Quiet" {
				text.Write(t)
			} else if strings.Trim(string(t), " \t\r\n") != "" {
				return nil, false, errors.New("text outside a value")
			}
		case xml.ProcInst:
			if t.Target != "xml" || n != 1 {
				return nil, false, fmt.Errorf("processing instruction <?%s", clip(t.Target))
			}
		case xml.Directive:
			return nil, false, errors.New("DTD or declaration (<!...>)")
		default:
			return nil, false, fmt.Errorf("unexpected %T", tok)
		}
	}
}

// classifyErrorCode is the HTTP status and S3 error code S3 answers an
// error of Classify with: the code each error variable's comment names,
// InvalidRequest for anything else.
func classifyErrorCode(err error) (int, string) {
	switch {
	case errors.Is(err, ErrInvalidBucketName):
		return http.StatusBadRequest, "InvalidBucketName"
	case errors.Is(err, ErrKeyTooLong):
		return http.StatusBadRequest, "KeyTooLongError"
	case errors.Is(err, ErrInvalidURI):
		return http.StatusBadRequest, "InvalidURI"
	case errors.Is(err, ErrInvalidKey), errors.Is(err, ErrInvalidCopySource):
		return http.StatusBadRequest, "InvalidArgument"
	case errors.Is(err, ErrNotImplemented):
		return http.StatusNotImplemented, "NotImplemented"
	case errors.Is(err, ErrMalformedXML):
		return http.StatusBadRequest, "MalformedXML"
	}
	return http.StatusBadRequest, "InvalidRequest"
}
