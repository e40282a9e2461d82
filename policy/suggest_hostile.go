package policy

import (
	"bytes"
	_ "embed"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The hostile corpus (hostile.yaml): statements and S3 requests that a
// compromised version of a task would try, which a suggestion must deny
// unless the task itself did the same. airlock policy suggest runs it
// against every suggestion.

//go:embed hostile.yaml
var hostileYAML []byte

// HostileCorpus is the parsed hostile.yaml.
type HostileCorpus struct {
	SQL []HostileSQL `yaml:"sql"`
	S3  []HostileS3  `yaml:"s3"`
}

// HostileSQL is one hostile statement. Its text may hold {table}: a table
// the task read.
type HostileSQL struct {
	Name   string        `yaml:"name"`
	Why    string        `yaml:"why"`
	SQL    string        `yaml:"sql"`
	Expect HostileExpect `yaml:"expect"`
}

// HostileExpect is what the classifier must find in a hostile statement:
// its kind (when set), functions and tables among those it finds, and
// whether a guard rail denies it.
type HostileExpect struct {
	Kind      string   `yaml:"kind"`
	Functions []string `yaml:"functions"`
	Reads     []string `yaml:"reads"`
	Writes    []string `yaml:"writes"`
	Guard     bool     `yaml:"guard"`
}

// HostileS3 is one hostile S3 request, made for each bucket the task used
// (see Requests).
type HostileS3 struct {
	Name    string `yaml:"name"`
	Why     string `yaml:"why"`
	Request S3     `yaml:"request"`
}

// LoadHostileCorpus parses the corpus built into Airlock.
func LoadHostileCorpus() (*HostileCorpus, error) {
	var c HostileCorpus
	dec := yaml.NewDecoder(bytes.NewReader(hostileYAML))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("hostile corpus: %w", err)
	}
	for _, e := range c.SQL {
		if e.Name == "" || e.SQL == "" || e.Why == "" {
			return nil, fmt.Errorf("hostile corpus: sql entry %q needs name, why and sql", e.Name)
		}
	}
	for _, e := range c.S3 {
		if e.Name == "" || e.Why == "" || e.Request.Action == "" {
			return nil, fmt.Errorf("hostile corpus: s3 entry %q needs name, why and request.action", e.Name)
		}
	}
	return &c, nil
}

// HostileTable is the table {table} stands for in the hostile statements
// tried against a suggestion made from observed: the first, in order, of
// the tables the task read or wrote; "" when it touched none.
func HostileTable(observed []Request) string {
	var tables []string
	for i := range observed {
		if observed[i].Protocol == ProtocolPostgres {
			tables = append(tables, observed[i].SQL.Tables...)
		}
	}
	if len(tables) == 0 {
		return ""
	}
	return slices.Min(tables)
}

// Text is the statement with {table} replaced, or false when it names
// {table} and table is "".
func (h HostileSQL) Text(table string) (string, bool) {
	if strings.Contains(h.SQL, "{table}") && table == "" {
		return "", false
	}
	return strings.ReplaceAll(h.SQL, "{table}", table), true
}

// hostileTaskID stands for another task's id in {key_other_task}.
const hostileTaskID = "airlock-hostile-task"

// Requests makes the entry's request for each bucket observed used, in
// order of the buckets' names. In each, {bucket} is the bucket, {key} the
// first key (in order) the task used there, {dir} that key's directory
// (up to and including its last '/'), {key_other_task} that key with
// each directory named after the task id renamed, and {task} the task id.
// A bucket for which a placeholder the entry uses cannot be filled gets no
// request, and neither does one whose request the task made itself.
func (h HostileS3) Requests(observed []Request) []Request {
	type use struct{ key, task string }
	buckets := map[string]*use{}
	for i := range observed {
		r := &observed[i]
		if r.Protocol != ProtocolS3 || r.S3.Bucket == "" {
			continue
		}
		u := buckets[r.S3.Bucket]
		if u == nil {
			u = &use{task: r.Task.ID}
			buckets[r.S3.Bucket] = u
		}
		if r.S3.Key != "" && (u.key == "" || r.S3.Key < u.key) {
			u.key, u.task = r.S3.Key, r.Task.ID
		}
	}
	var out []Request
	for _, b := range slices.Sorted(maps.Keys(buckets)) {
		u := buckets[b]
		vals := map[string]string{"{bucket}": b, "{task}": u.task}
		if u.key != "" {
			vals["{key}"] = u.key
			if i := strings.LastIndexByte(u.key, '/'); i >= 0 {
				vals["{dir}"] = u.key[:i+1]
			}
			if other := withTaskSegment(u.key, u.task); other != u.key {
				vals["{key_other_task}"] = strings.ReplaceAll(other, taskSegment, hostileTaskID)
			}
		}
		s3 := h.Request
		ok := true
		for _, f := range []*string{&s3.Bucket, &s3.Key, &s3.Prefix, &s3.SourceBucket, &s3.SourceKey} {
			*f, ok = fill(*f, vals, ok)
		}
		if !ok {
			continue
		}
		req := Request{Protocol: ProtocolS3, Task: Task{ID: u.task}, S3: s3}
		if slices.ContainsFunc(observed, func(o Request) bool { return sameS3(&o, &req) }) || slices.ContainsFunc(out, func(o Request) bool { return sameS3(&o, &req) }) {
			continue
		}
		out = append(out, req)
	}
	return out
}

// placeholder is a name fill replaces.
var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

// fill replaces the placeholders of s (once, left to right); ok turns
// false when s holds one that vals lacks.
func fill(s string, vals map[string]string, ok bool) (string, bool) {
	out := placeholder.ReplaceAllStringFunc(s, func(p string) string {
		v, found := vals[p]
		ok = ok && found
		return v
	})
	return out, ok
}

func sameS3(a, b *Request) bool {
	return a.Protocol == ProtocolS3 && a.S3.Action == b.S3.Action && a.S3.Bucket == b.S3.Bucket && a.S3.Key == b.S3.Key &&
		a.S3.Prefix == b.S3.Prefix && a.S3.SourceBucket == b.S3.SourceBucket && a.S3.SourceKey == b.S3.SourceKey
}
