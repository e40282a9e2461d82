package policy_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/airlockproxy/airlock/policy"
)

var update = flag.Bool("update", false, "rewrite testdata/scopedown/*.golden.json")

// testTask is the task the scope-down tests resolve task.* against.
var testTask = &policy.Task{ID: "job-1", Labels: map[string]string{"date": "2026-11-22", "pipeline": "sales", "env": "prod"}}

// compact strips the indentation of a JSON text.
func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("bad JSON in the test: %v\n%s", err, s)
	}
	return b.String()
}

func TestScopeDownPolicy(t *testing.T) {
	t.Parallel()
	const read = `"s3:GetObject","s3:GetObjectTagging","s3:GetObjectVersion","s3:GetObjectVersionTagging"`
	const write = `"s3:PutObject","s3:PutObjectTagging"`
	tests := []struct {
		name  string
		rules []policy.Rule
		task  *policy.Task
		want  string   // JSON; "" when an error is expected
		notes []string // each must be a substring of one note, in any order
		err   string   // a substring of the error
	}{{
		name: "etl-basic shapes",
		rules: []policy.Rule{
			{Name: "write-curated", Allow: `s3.action == "PutObject" && s3.bucket == "lake" && s3.key.startsWith("curated/" + task.id + "/")`},
			{Name: "read-raw", Allow: `s3.action in ["GetObject", "HeadObject"] && s3.bucket == "lake" && s3.key.glob("raw/**")`},
			{Name: "list-raw", Allow: `s3.action == "ListObjectsV2" && s3.bucket == "lake" && s3.prefix.startsWith("raw/")`},
			{Name: "read-sales", Allow: `sql.kind == "select"`},
		},
		task: testTask,
		want: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":[` + read + `],"Resource":["arn:aws:s3:::lake/raw/*"]},
			{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::lake"],"Condition":{"StringLike":{"s3:prefix":["raw/*"]}}},
			{"Effect":"Allow","Action":[` + write + `],"Resource":["arn:aws:s3:::lake/curated/job-1/*"]}]}`,
	}, {
		name:  "without the task, a concatenation keeps its known start",
		rules: []policy.Rule{{Name: "w", Allow: `s3.action == "PutObject" && s3.bucket == "lake" && s3.key.startsWith("curated/" + task.id + "/")`}},
		want: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":[` + write + `],"Resource":["arn:aws:s3:::lake/curated/*"]}]}`,
		notes: []string{`rule w: ` + "`" + `"curated/" + task.id + "/"` + "`" + ` is not fully resolved`},
	}, {
		name:  "a missing label stops resolution there",
		rules: []policy.Rule{{Name: "w", Allow: `s3.action == "PutObject" && s3.bucket == "lake" && s3.key == "out/" + task.labels["nope"] + "/x"`}},
		task:  testTask,
		want: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":[` + write + `],"Resource":["arn:aws:s3:::lake/out/*"]}]}`,
		notes: []string{"is not fully resolved"},
	}, {
		name: "disjunctions, exact keys, several buckets",
		rules: []policy.Rule{{Name: "r", Allow: `(s3.bucket == "a" || s3.bucket in ["b", "c"]) &&
			(s3.action == "GetObject" || s3.action == "DeleteObject") && s3.key in ["x.csv", "y.csv"]`}},
		want: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["s3:DeleteObject","s3:DeleteObjectVersion",` + read + `],"Resource":[
				"arn:aws:s3:::a/x.csv","arn:aws:s3:::a/y.csv","arn:aws:s3:::b/x.csv","arn:aws:s3:::b/y.csv","arn:aws:s3:::c/x.csv","arn:aws:s3:::c/y.csv"]}]}`,
	}, {
		name:  "a bucket without an action: the data operations",
		rules: []policy.Rule{{Name: "lake", Allow: `s3.bucket == "lake"`}},
		want: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["s3:AbortMultipartUpload","s3:DeleteObject","s3:DeleteObjectVersion","s3:GetObject","s3:GetObjectAttributes",
				"s3:GetObjectTagging","s3:GetObjectVersion","s3:GetObjectVersionAttributes","s3:GetObjectVersionTagging","s3:ListMultipartUploadParts",` + write + `],
				"Resource":["arn:aws:s3:::lake/*"]},
			{"Effect":"Allow","Action":["s3:GetBucketLocation","s3:ListBucket","s3:ListBucketMultipartUploads","s3:ListBucketVersions"],"Resource":["arn:aws:s3:::lake"]}]}`,
	}, {
		name: "a configuration operation only when named",
		rules: []policy.Rule{
			{Name: "cfg", Allow: `s3.bucket == "lake" && (s3.action == "GetBucketVersioning" || s3.key.startsWith("tmp/"))`},
		},
		want: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["s3:AbortMultipartUpload","s3:DeleteObject","s3:DeleteObjectVersion","s3:GetObject","s3:GetObjectAttributes",
				"s3:GetObjectTagging","s3:GetObjectVersion","s3:GetObjectVersionAttributes","s3:GetObjectVersionTagging","s3:ListMultipartUploadParts",` + write + `],
				"Resource":["arn:aws:s3:::lake/tmp/*"]},
			{"Effect":"Allow","Action":["s3:GetBucketVersioning"],"Resource":["arn:aws:s3:::lake"]}]}`,
	}, {
		name: "a key bound rules out bucket operations, a prefix bound object operations",
		rules: []policy.Rule{
			{Name: "objects", Allow: `s3.bucket == "lake" && s3.action.startsWith("List") && s3.key.startsWith("raw/")`},
			{Name: "listing", Allow: `s3.bucket == "lake" && s3.prefix.glob("raw/*/") && s3.action != "DeleteObject"`},
		},
		want: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["s3:ListBucket","s3:ListBucketVersions"],"Resource":["arn:aws:s3:::lake"],"Condition":{"StringLike":{"s3:prefix":["raw/*"]}}},
			{"Effect":"Allow","Action":["s3:ListBucketMultipartUploads"],"Resource":["arn:aws:s3:::lake"]},
			{"Effect":"Allow","Action":["s3:ListMultipartUploadParts"],"Resource":["arn:aws:s3:::lake/raw/*"]}]}`,
		notes: []string{"rule listing: `s3.action != \"DeleteObject\"` is not in the session policy"},
	}, {
		name: "a listing that may have no prefix gets no condition",
		rules: []policy.Rule{
			{Name: "l", Allow: `s3.action == "ListObjectsV2" && s3.bucket == "lake" && (s3.prefix == "" || s3.prefix.startsWith("raw/"))`},
		},
		want: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::lake"]}]}`,
	}, {
		name: "narrower grants fold into wider ones",
		rules: []policy.Rule{
			{Name: "wide", Allow: `s3.action == "GetObject" && s3.bucket == "lake"`},
			{Name: "narrow", Allow: `s3.action == "GetObject" && s3.bucket == "lake" && s3.key.startsWith("raw/")`},
			{Name: "l1", Allow: `s3.action == "ListObjectsV2" && s3.bucket == "lake" && s3.prefix.startsWith("raw/")`},
			{Name: "l2", Allow: `s3.action == "ListObjectsV2" && s3.bucket == "lake" && s3.prefix.startsWith("raw/2026/")`},
			{Name: "l3", Allow: `s3.action == "ListObjectsV2" && s3.bucket == "lake" && s3.prefix.startsWith("events/")`},
		},
		want: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":[` + read + `],"Resource":["arn:aws:s3:::lake/*"]},
			{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::lake"],"Condition":{"StringLike":{"s3:prefix":["events/*","raw/*"]}}}]}`,
	}, {
		name: "task conditions decided from the task",
		rules: []policy.Rule{
			{Name: "prod", Allow: `task.labels["env"] == "prod" && s3.action == "GetObject" && s3.bucket == "lake-" + task.labels.env`},
			{Name: "dev", Allow: `task.labels["env"] == "dev" && s3.bucket == "scratch"`},
			{Name: "has", Allow: `"pipeline" in task.labels && s3.action == "PutObject" && s3.bucket == "lake"`},
		},
		task: testTask,
		want: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":[` + read + `],"Resource":["arn:aws:s3:::lake-prod/*"]},
			{"Effect":"Allow","Action":[` + write + `],"Resource":["arn:aws:s3:::lake/*"]}]}`,
		notes: []string{"rule dev: never matches for this task"},
	}, {
		name:  "IAM wildcards and non-ASCII in a key",
		rules: []policy.Rule{{Name: "k", Allow: `s3.action == "GetObject" && s3.bucket == "lake" && s3.key in ["a*b/c", "d/${x}", "grüße/ö.csv"]`}},
		want: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":[` + read + `],"Resource":["arn:aws:s3:::lake/a*","arn:aws:s3:::lake/d/*","arn:aws:s3:::lake/gr\u00fc\u00dfe/\u00f6.csv"]}]}`,
		notes: []string{`"a*b/c" holds '*', '?' or '$'`, `"d/${x}" holds`},
	}, {
		name:  "no bucket named",
		rules: []policy.Rule{{Name: "any", Allow: `s3.action == "GetObject" && s3.key.lowerAscii().endsWith(".csv")`}},
		want: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":[` + read + `],"Resource":["arn:aws:s3:::*/*"]}]}`,
		notes: []string{"rule any: no bucket named", "rule any: `s3.key.lowerAscii().endsWith(\".csv\")` is not in the session policy"},
	}, {
		name:  "ListBuckets",
		rules: []policy.Rule{{Name: "lb", Allow: `s3.action == "ListBuckets"`}},
		want:  `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListAllMyBuckets"],"Resource":["*"]}]}`,
	}, {
		name:  "an operation outside the table widens to s3:*",
		rules: []policy.Rule{{Name: "ren", Allow: `s3.action == "RenameObject" && s3.bucket == "lake"`}},
		want: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::lake","arn:aws:s3:::lake/*"]}]}`,
		notes: []string{`S3 operation "RenameObject" is not in the scope-down table`},
	}, {
		name: "deny rules and other protocols are left out",
		rules: []policy.Rule{
			{Name: "no-pii", Deny: `s3.key.contains("pii")`},
			{Name: "sql-deny", Deny: `sql.kind == "ddl"`},
			{Name: "egress", Allow: `http.host == "example.com"`},
		},
		want:  `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["s3:*"],"Resource":["*"]}]}`,
		notes: []string{"rule no-pii: deny rules are not in the session policy", "no S3 allow rule"},
	}, {
		name:  "a rule on the task alone bounds nothing",
		rules: []policy.Rule{{Name: "pipeline-label", Allow: `task.labels["pipeline"] == "sales"`}},
		task:  testTask,
		err:   "scope_down: rule pipeline-label: an alternative of it bounds neither s3.action nor s3.bucket",
	}, {
		name:  "one unbounded alternative is enough to fail",
		rules: []policy.Rule{{Name: "half", Allow: `s3.bucket == "lake" || s3.key.startsWith("tmp/")`}},
		err:   "rule half: an alternative of it bounds neither",
	}, {
		name:  "a prefix that resolves to nothing bounds nothing",
		rules: []policy.Rule{{Name: "lbl", Allow: `s3.bucket.startsWith(task.labels["bucket"])`}},
		err:   "rule lbl: an alternative of it bounds neither",
	}, {
		name:  "a rule that does not compile",
		rules: []policy.Rule{{Name: "bad", Allow: `s3.bukket == "x"`}},
		err:   "policy.rules[0] (bad)",
	}, {
		name: "too long for STS",
		rules: func() []policy.Rule {
			var out []policy.Rule
			for i := range 40 {
				b := strconv.Itoa(i)
				out = append(out, policy.Rule{Name: "r-" + b, Allow: `s3.bucket == "bucket-` + b + `" && s3.key.startsWith("some/longer/prefix/for/` + b + `/")`})
			}
			return out
		}(),
		err: "STS takes at most 2048",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, notes, err := policy.ScopeDownPolicy(tt.rules, tt.task)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q (policy %s)", err, tt.err, doc)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := compact(t, tt.want); doc != want {
				t.Errorf("policy:\n got %s\nwant %s", doc, want)
			}
			for _, n := range tt.notes {
				if !slices.ContainsFunc(notes, func(s string) bool { return strings.Contains(s, n) }) {
					t.Errorf("no note contains %q; notes:\n%s", n, strings.Join(notes, "\n"))
				}
			}
			if tt.notes == nil && len(notes) > 0 {
				t.Errorf("unexpected notes:\n%s", strings.Join(notes, "\n"))
			}
			again, _, _ := policy.ScopeDownPolicy(tt.rules, tt.task)
			if again != doc {
				t.Errorf("not deterministic:\n%s\n%s", doc, again)
			}
			checkSound(t, tt.rules, tt.task, doc)
		})
	}
}

// policySource is what the scope-down golden test reads from a policy
// file: policy/testdata/<case>/policy.yaml or examples/policies/<name>.yaml.
type policySource struct {
	Task   *policy.Task  `yaml:"task"`
	Rules  []policy.Rule `yaml:"rules"`
	Policy struct {
		Rules []policy.Rule `yaml:"rules"`
	} `yaml:"policy"`
}

// golden is testdata/scopedown/<name>.golden.json.
type golden struct {
	Source string          `json:"source"`
	Policy json.RawMessage `json:"policy,omitempty"`
	Notes  []string        `json:"notes,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// TestScopeDownGolden generates the session policy of every test and
// example policy and compares it with its golden file (go test -update
// rewrites them). A file without a task is read with testTask.
func TestScopeDownGolden(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/*/policy.yaml")
	examples, _ := filepath.Glob("../examples/policies/*.yaml")
	for _, e := range examples {
		if !strings.HasSuffix(e, ".cases.yaml") {
			files = append(files, e)
		}
	}
	if len(files) < 5 {
		t.Fatalf("found only %q", files)
	}
	seen := map[string]bool{}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		if name == "policy" {
			name = filepath.Base(filepath.Dir(path))
		}
		seen[name+".golden.json"] = true
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var src policySource
			if err := yaml.Unmarshal(data, &src); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			rules := append(src.Rules, src.Policy.Rules...)
			task := src.Task
			if task == nil {
				task = testTask
			}
			doc, notes, err := policy.ScopeDownPolicy(rules, task)
			got := golden{Source: filepath.ToSlash(path), Notes: notes}
			if err != nil {
				got.Error = err.Error()
			} else {
				got.Policy = json.RawMessage(doc)
				checkSound(t, rules, task, doc)
			}
			out, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, '\n')
			file := filepath.Join("testdata", "scopedown", name+".golden.json")
			if *update {
				if err := os.WriteFile(file, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (go test -run TestScopeDownGolden -update writes it)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("%s differs (go test -update rewrites it):\n got %s\nwant %s", file, out, want)
			}
		})
	}
	t.Run("no stale golden files", func(t *testing.T) {
		all, _ := filepath.Glob("testdata/scopedown/*.golden.json")
		for _, f := range all {
			if !seen[filepath.Base(f)] {
				t.Errorf("%s has no policy file", f)
			}
		}
	})
}

// soundOps are S3 operations with the IAM action S3 checks for each,
// written apart from the generator's table: checkSound's oracle.
var soundOps = []struct {
	action, version, iam string
	level                string // service, bucket, object
	listing              bool   // s3.prefix is set
	prefixKey            bool   // S3 sets the s3:prefix condition key
	data                 bool   // allowed by a rule that does not name it
}{
	{action: "GetObject", iam: "s3:GetObject", level: "object", data: true},
	{action: "GetObject", version: "v1", iam: "s3:GetObjectVersion", level: "object", data: true},
	{action: "HeadObject", iam: "s3:GetObject", level: "object", data: true},
	{action: "PutObject", iam: "s3:PutObject", level: "object", data: true},
	{action: "CopyObject", iam: "s3:PutObject", level: "object", data: true},
	{action: "CreateMultipartUpload", iam: "s3:PutObject", level: "object", data: true},
	{action: "UploadPart", iam: "s3:PutObject", level: "object", data: true},
	{action: "CompleteMultipartUpload", iam: "s3:PutObject", level: "object", data: true},
	{action: "AbortMultipartUpload", iam: "s3:AbortMultipartUpload", level: "object", data: true},
	{action: "ListParts", iam: "s3:ListMultipartUploadParts", level: "object", data: true},
	{action: "DeleteObject", iam: "s3:DeleteObject", level: "object", data: true},
	{action: "DeleteObject", version: "v1", iam: "s3:DeleteObjectVersion", level: "object", data: true},
	{action: "DeleteObjects", iam: "s3:DeleteObject", level: "object", data: true},
	{action: "GetObjectTagging", iam: "s3:GetObjectTagging", level: "object", data: true},
	{action: "GetObjectAttributes", iam: "s3:GetObjectAttributes", level: "object", data: true},
	{action: "PutObjectTagging", iam: "s3:PutObjectTagging", level: "object"},
	{action: "ListObjectsV2", iam: "s3:ListBucket", level: "bucket", listing: true, prefixKey: true, data: true},
	{action: "ListObjects", iam: "s3:ListBucket", level: "bucket", listing: true, prefixKey: true, data: true},
	{action: "ListObjectVersions", iam: "s3:ListBucketVersions", level: "bucket", listing: true, prefixKey: true, data: true},
	{action: "ListMultipartUploads", iam: "s3:ListBucketMultipartUploads", level: "bucket", listing: true, data: true},
	{action: "HeadBucket", iam: "s3:ListBucket", level: "bucket", data: true},
	{action: "GetBucketLocation", iam: "s3:GetBucketLocation", level: "bucket", data: true},
	{action: "GetBucketVersioning", iam: "s3:GetBucketVersioning", level: "bucket"},
	{action: "PutBucketPolicy", iam: "s3:PutBucketPolicy", level: "bucket"},
	{action: "ListBuckets", iam: "s3:ListAllMyBuckets", level: "service", data: true},
}

var quotedRE = regexp.MustCompile(`"([^"\\]*)"`)

// checkSound checks that the session policy doc allows every request the
// rules allow, over operations × buckets × keys × prefixes drawn from
// fixed samples and the rules' own string literals. Without a task, the
// rules are run for two different tasks.
func checkSound(t *testing.T, rules []policy.Rule, task *policy.Task, doc string) {
	t.Helper()
	e, err := policy.Compile(rules, policy.Options{})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	var d iamPolicy
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("policy is not JSON: %v\n%s", err, doc)
	}
	buckets := []string{"lake", "other"}
	keys := []string{"raw/a.csv", "curated/job-1/x.parquet", "curated/job-2/x", "events/date=2026-11-22/a.parquet",
		"out/2026-11-22/a.parquet", "tmp/x", "x.csv", "a/b", "ü/ö"}
	prefixes := []string{"", "raw/", "raw/2026/", "events/", "curated/", "other/"}
	for _, r := range rules {
		for _, m := range quotedRE.FindAllStringSubmatch(r.Allow+r.Deny, -1) {
			l := m[1]
			if !utf8.ValidString(l) {
				continue // Classify refuses such keys, and bucket names are ASCII
			}
			buckets = append(buckets, l, l+"x", "lake-"+l)
			keys = append(keys, l, l+"x", l+"/x", "raw/"+l, l+"job-1/x")
			prefixes = append(prefixes, l, l+"x")
		}
	}
	tasks := []policy.Task{*testTask, {ID: "job-2", Labels: map[string]string{"date": "2026-11-23", "env": "dev", "bucket": "lake"}}}
	if task != nil {
		tasks = []policy.Task{*task}
	}
	checked, allowed, failures := 0, 0, 0
	try := func(req *policy.Request, iamAction, resource string, prefixKey bool) {
		checked++
		if !e.Decide(req).Allow {
			return
		}
		allowed++
		if !d.allows(t, iamAction, resource, req.S3.Prefix, prefixKey && req.S3.Prefix != "") && failures < 10 {
			failures++
			t.Errorf("the rules allow %s %+v (task %s) but the session policy does not allow %s on %s:\n%s",
				req.S3.Action, req.S3, req.Task.ID, iamAction, resource, doc)
		}
	}
	for _, task := range tasks {
		for _, op := range soundOps {
			base := policy.Request{Protocol: policy.ProtocolS3, Task: task, NamedOnly: !op.data,
				S3: policy.S3{Action: op.action, VersionID: op.version}}
			switch op.level {
			case "service":
				req := base
				try(&req, op.iam, "arn:aws:s3:::", false)
				continue
			case "bucket":
				for _, b := range buckets {
					if b == "" {
						continue // S3 requests below the service name a bucket
					}
					ps := []string{""}
					if op.listing {
						ps = prefixes
					}
					for _, p := range ps {
						req := base
						req.S3.Bucket, req.S3.Prefix = b, p
						try(&req, op.iam, "arn:aws:s3:::"+b, op.prefixKey)
					}
				}
			case "object":
				for _, b := range buckets {
					for _, k := range keys {
						if b == "" || k == "" {
							continue
						}
						req := base
						req.S3.Bucket, req.S3.Key = b, k
						try(&req, op.iam, "arn:aws:s3:::"+b+"/"+k, false)
					}
				}
			}
		}
	}
	if checked < 100 {
		t.Errorf("only %d requests checked", checked)
	}
	t.Logf("soundness: %d requests, %d allowed by the rules, all allowed by the session policy", checked, allowed)
}

// iamPolicy evaluates the subset of IAM the generator writes.
type iamPolicy struct {
	Version   string
	Statement []struct {
		Effect    string
		Action    []string
		Resource  []string
		Condition map[string]map[string][]string
	}
}

func (p *iamPolicy) allows(t *testing.T, action, resource, prefix string, hasPrefix bool) bool {
	t.Helper()
	allowed := false
	for _, s := range p.Statement {
		if !slices.ContainsFunc(s.Action, func(a string) bool { return iamMatch(strings.ToLower(a), strings.ToLower(action)) }) ||
			!slices.ContainsFunc(s.Resource, func(r string) bool { return iamMatch(r, resource) }) {
			continue
		}
		ok := true
		for op, keys := range s.Condition {
			for key, vals := range keys {
				if op != "StringLike" || key != "s3:prefix" {
					t.Fatalf("condition %s %s is beyond this evaluator", op, key)
				}
				ok = ok && hasPrefix && slices.ContainsFunc(vals, func(v string) bool { return iamMatch(v, prefix) })
			}
		}
		if !ok {
			continue
		}
		if s.Effect == "Deny" {
			return false
		}
		allowed = true
	}
	return allowed
}

// iamMatch matches s against an IAM pattern: '*' any run, '?' one character.
func iamMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if iamMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		_, n := utf8.DecodeRuneInString(s)
		return s != "" && iamMatch(pattern[1:], s[n:])
	}
	_, n := utf8.DecodeRuneInString(pattern)
	return strings.HasPrefix(s, pattern[:n]) && iamMatch(pattern[n:], s[n:])
}

// FuzzScopeDownPolicy: for any rule that compiles, ScopeDownPolicy does
// not panic, and a policy it writes is valid JSON within STS's limit and
// allows everything the rule allows.
func FuzzScopeDownPolicy(f *testing.F) {
	for _, seed := range []string{
		`s3.action == "PutObject" && s3.bucket == "lake" && s3.key.startsWith("curated/" + task.id + "/")`,
		`s3.action in ["GetObject", "HeadObject"] && s3.bucket == "lake" && s3.key.glob("raw/**")`,
		`s3.action == "ListObjectsV2" && s3.bucket == "lake" && s3.prefix.startsWith("raw/")`,
		`(s3.bucket == "a" || s3.bucket in ["b", "c"]) && !(s3.action == "DeleteObject") && s3.key in ["x", ""]`,
		`s3.bucket.glob("lake-*") && s3.key.glob("a\\*b/?/**") && task.labels["env"] == "prod"`,
		`s3.action.startsWith("List") && s3.bucket == "lake" && (s3.prefix == "" || s3.prefix.glob("p/*"))`,
		`s3.bucket == "lake" && (s3.action == "GetBucketVersioning" || s3.key.startsWith(task.labels.date))`,
		`(s3.bucket in[""])`,
		"s3.bucket.glob(\"\xb70\")",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		rules := []policy.Rule{{Name: "fuzz", Allow: expr}}
		if _, err := policy.Compile(rules, policy.Options{}); err != nil {
			return
		}
		doc, _, err := policy.ScopeDownPolicy(rules, testTask)
		if err != nil {
			return
		}
		if len(doc) > policy.MaxSessionPolicy || !json.Valid([]byte(doc)) {
			t.Fatalf("bad policy for %q: %s", expr, doc)
		}
		checkSound(t, rules, testTask, doc)
	})
}
