package policy

import (
	"net"
	"strconv"
	"time"
)

// Protocol names, as they appear in Request.Protocol and conn.protocol.
const (
	ProtocolPostgres = "postgres"
	ProtocolS3       = "s3"
	ProtocolHTTP     = "http"
)

// Request is everything a rule can see about one access. Protocol says which
// of SQL, S3 and HTTP is set; the others are zero. The cel tags are the CEL
// field names (DESIGN §4) and the yaml tags the policy test case format.
type Request struct {
	// ID identifies the request in its audit record and in a denial's
	// message; not visible to rules.
	ID string `yaml:"id"`
	// Guard, when set, is a built-in guard rail the request trips: it is
	// denied with this reason whatever the rules and the mode say.
	Guard string `yaml:"guard"`
	// NamedOnly, when set, lets only allow rules that name the request's
	// action as a string literal (e.g. s3.action == "PutBucketPolicy")
	// allow it: a broad rule such as s3.bucket == "lake" does not reach
	// configuration operations.
	NamedOnly bool `yaml:"named_only"`
	// Memo, when not nil, names what rules can see of this request other
	// than conn and now: every request with the same Memo must carry the
	// same Protocol, Task, SQL, S3 and HTTP. The engine then decides it
	// once and reuses the decision, as long as no rule reads conn or now.
	// Use a pointer to immutable data (a cached classification). Not
	// visible to rules.
	Memo     any       `yaml:"-"`
	Protocol string    `yaml:"protocol"`
	Task     Task      `yaml:"task"`
	Conn     Conn      `yaml:"conn"`
	SQL      SQL       `yaml:"sql"`
	S3       S3        `yaml:"s3"`
	HTTP     HTTP      `yaml:"http"`
	Now      time.Time `yaml:"now"`
}

// Task identifies the task Airlock serves.
type Task struct {
	ID     string            `cel:"id" yaml:"id"`
	Labels map[string]string `cel:"labels" yaml:"labels"`
}

// Conn describes the client connection a request arrived on.
type Conn struct {
	ID              string `cel:"id" yaml:"id"`
	Protocol        string `cel:"protocol" yaml:"protocol"`
	Client          string `cel:"client" yaml:"client"`
	User            string `cel:"user" yaml:"user"`
	ApplicationName string `cel:"application_name" yaml:"application_name"`
}

// SQL describes one statement. Table names are schema-qualified and
// functions carry their schema (pg_catalog. for built-ins).
type SQL struct {
	Kind      string   `cel:"kind" yaml:"kind"`           // kind of the top-level statement
	Kinds     []string `cel:"kinds" yaml:"kinds"`         // every kind in the statement's tree
	Command   string   `cel:"command" yaml:"command"`     // e.g. "CREATE TABLE"
	Reads     []string `cel:"reads" yaml:"reads"`         // tables read anywhere in the tree
	Writes    []string `cel:"writes" yaml:"writes"`       // tables written anywhere in the tree
	Tables    []string `cel:"tables" yaml:"tables"`       // reads and writes
	Functions []string `cel:"functions" yaml:"functions"` // functions called
	Database  string   `cel:"database" yaml:"database"`
	Text      string   `cel:"text" yaml:"text"` // normalised: literals replaced
}

// S3 describes one S3 request.
type S3 struct {
	Action       string `cel:"action" yaml:"action"` // S3 API operation name, e.g. "GetObject"
	Bucket       string `cel:"bucket" yaml:"bucket"`
	Key          string `cel:"key" yaml:"key"`
	Prefix       string `cel:"prefix" yaml:"prefix"` // listings
	SourceBucket string `cel:"source_bucket" yaml:"source_bucket"`
	SourceKey    string `cel:"source_key" yaml:"source_key"`
	VersionID    string `cel:"version_id" yaml:"version_id"`
	// Headers holds the request headers that configure more than the
	// object's bytes and metadata (x-amz-acl, x-amz-grant-*,
	// x-amz-tagging, x-amz-storage-class, x-amz-object-lock-*,
	// x-amz-server-side-encryption*, x-amz-website-redirect-location…),
	// by lower-case name; an encryption key's value reads "[REDACTED]".
	// An allow rule allows a request carrying one of them only if it
	// reads s3.headers and names that header as a string literal.
	Headers map[string]string `cel:"headers" yaml:"headers"`
}

// HTTP describes one egress request.
type HTTP struct {
	Method string `cel:"method" yaml:"method"`
	Host   string `cel:"host" yaml:"host"`
	Port   int    `cel:"port" yaml:"port"`
	Path   string `cel:"path" yaml:"path"`
}

// Action is the request's verb as the audit log records it: the SQL kind,
// the S3 operation or the HTTP method.
func (r *Request) Action() string {
	switch r.Protocol {
	case ProtocolPostgres:
		return r.SQL.Kind
	case ProtocolS3:
		return r.S3.Action
	case ProtocolHTTP:
		return r.HTTP.Method
	}
	return ""
}

// Resources lists what the request touches, for the audit log: tables,
// bucket/key pairs (the copy source first), or host:port followed by the
// path (none for CONNECT), e.g. "example.com:443" or "[::1]:80/v1/x".
func (r *Request) Resources() []string {
	switch r.Protocol {
	case ProtocolPostgres:
		return r.SQL.Tables
	case ProtocolS3:
		var out []string
		if r.S3.SourceBucket != "" {
			out = append(out, r.S3.SourceBucket+"/"+r.S3.SourceKey)
		}
		switch {
		case r.S3.Key != "":
			out = append(out, r.S3.Bucket+"/"+r.S3.Key)
		case r.S3.Prefix != "":
			out = append(out, r.S3.Bucket+"/"+r.S3.Prefix)
		case r.S3.Bucket != "":
			out = append(out, r.S3.Bucket)
		}
		return out
	case ProtocolHTTP:
		if r.HTTP.Host == "" {
			return nil
		}
		return []string{net.JoinHostPort(r.HTTP.Host, strconv.Itoa(r.HTTP.Port)) + r.HTTP.Path}
	}
	return nil
}
