package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/airlockproxy/airlock/internal/miniotest"
	"github.com/airlockproxy/airlock/internal/pgtest"
	"github.com/airlockproxy/airlock/policy"
)

// suggestTask is the task learn mode observes: psql reads and writes
// PostgreSQL, boto3 reads its input and writes and lists its output in S3.
const suggestTask = `
set -e
psql -X -v ON_ERROR_STOP=1 -A -t \
  -c "SELECT count(*), sum(amount) FROM orders WHERE day = '2026-11-22'" \
  -c "BEGIN" \
  -c "INSERT INTO staging.daily (day, total) SELECT day, sum(amount) FROM orders WHERE day = '2026-11-22' GROUP BY day" \
  -c "COMMIT" > "$OUT/psql"
python3 "$OUT/task.py" > "$OUT/s3"
`

const suggestTaskPy = `
import os, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
task = os.environ["AIRLOCK_TASK_ID"]
body = s3.get_object(Bucket="lake", Key="raw/2026-11-22/orders.csv")["Body"].read()
s3.put_object(Bucket="lake", Key="curated/%s/daily/part-0.csv" % task, Body=body.upper())
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix="curated/%s/daily/" % task).get("Contents", [])]
print(len(body), keys)
`

// hostileS3Py tries each S3 request of the hostile corpus (a JSON list on
// stdin) and prints, per request, the error code or "ALLOWED".
const hostileS3Py = `
import json, os, sys, boto3, botocore
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
calls = {
    "GetObject": lambda r: s3.get_object(Bucket=r["bucket"], Key=r["key"]),
    "PutObject": lambda r: s3.put_object(Bucket=r["bucket"], Key=r["key"], Body=b"x"),
    "DeleteObject": lambda r: s3.delete_object(Bucket=r["bucket"], Key=r["key"]),
    "ListObjectsV2": lambda r: s3.list_objects_v2(Bucket=r["bucket"], Prefix=r["prefix"]),
    "ListBuckets": lambda r: s3.list_buckets(),
    "PutBucketPolicy": lambda r: s3.put_bucket_policy(Bucket=r["bucket"], Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::%s/*" % r["bucket"]]}]})),
    "PutObjectAcl": lambda r: s3.put_object_acl(Bucket=r["bucket"], Key=r["key"], ACL="public-read"),
    "PutBucketAcl": lambda r: s3.put_bucket_acl(Bucket=r["bucket"], ACL="public-read"),
    "DeleteBucket": lambda r: s3.delete_bucket(Bucket=r["bucket"]),
    "PutBucketLifecycleConfiguration": lambda r: s3.put_bucket_lifecycle_configuration(Bucket=r["bucket"], LifecycleConfiguration={
        "Rules": [{"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}]}),
}
for r in json.load(sys.stdin):
    try:
        calls[r["action"]](r)
        print(r["name"], r["action"], "ALLOWED")
    except botocore.exceptions.ClientError as e:
        print(r["name"], r["action"], e.response["Error"]["Code"])
`

// TestSuggestObserveEnforce observes a real task in observe mode, suggests
// rules from its audit log (strict: the suggestion must deny the hostile
// corpus), enforces them, runs the same task unchanged, and runs the
// hostile corpus through the enforcing proxy: every request is denied.
func TestSuggestObserveEnforce(t *testing.T) {
	needTool(t, "python3", "-c", "import boto3")
	t.Run("psql boto3", func(t *testing.T) {
		observeSuggestEnforce(t, suggestTask, "include: [housekeeping]", `sql.functions.all(f, f in ["pg_catalog.sum"])`)
	})
	t.Run("psycopg SQLAlchemy boto3", func(t *testing.T) {
		needTool(t, debianPython, "-c", "import psycopg, psycopg2, sqlalchemy, boto3")
		observeSuggestEnforce(t, clientsTask, "include: [housekeeping, catalog-metadata]")
	})
}

// clientsTask is the task with Debian's psycopg 3 (server-side prepared
// statements after five runs, a transaction block) and SQLAlchemy over
// psycopg2 (dialect start-up queries, table reflection).
const clientsTask = `
set -e
cat > "$OUT/db.py" <<'PY'
import psycopg, sqlalchemy as sa
with psycopg.connect() as conn:
    for _ in range(7):
        row = conn.execute("SELECT count(*), sum(amount) FROM orders WHERE day = %s", ("2026-11-22",)).fetchone()
    with conn.transaction():
        conn.execute("INSERT INTO staging.daily (day, total) SELECT day, sum(amount) FROM orders WHERE day = %s GROUP BY day", ("2026-11-22",))
print(row)
eng = sa.create_engine("postgresql+psycopg2://")
with eng.connect() as c:
    print(sa.inspect(c).has_table("orders", schema="sales"))
    print(c.execute(sa.text("SELECT max(amount) FROM sales.orders")).scalar())
PY
/usr/bin/python3 "$OUT/db.py" > "$OUT/psql"
/usr/bin/python3 "$OUT/task.py" > "$OUT/s3"
`

// observeSuggestEnforce runs task in observe mode, suggests strictly,
// requires wants in the suggestion, enforces it, runs task again and the
// hostile corpus through the enforcing proxy.
func observeSuggestEnforce(t *testing.T, task string, wants ...string) {
	pg := pgtest.Start(t, pgtest.Options{})
	pg.CreateDB(t, "app")
	pg.Psql(t, "app", `
CREATE SCHEMA sales;
CREATE SCHEMA staging;
CREATE TABLE sales.orders (id serial PRIMARY KEY, day date, amount numeric);
CREATE TABLE sales.customers_pii (id int, email text);
CREATE TABLE staging.daily (day date, total numeric);
INSERT INTO sales.orders (day, amount) SELECT '2026-11-22', g FROM generate_series(1, 10) g;
CREATE ROLE etl LOGIN PASSWORD '`+canaryPassword+`';
GRANT USAGE ON SCHEMA sales, staging TO etl;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA sales, staging TO etl;
GRANT USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA sales TO etl;`)
	m := miniotest.Start(t)
	m.MakeBucket(t, "lake")
	m.MakeBucket(t, "archive")
	direct := (&s3Rig{minio: m}).direct(t)
	for _, o := range [][3]string{{"lake", "raw/2026-11-22/orders.csv", "day,amount\n2026-11-22,1\n"}, {"lake", "secret/keys.csv", "k\n"}, {"archive", "raw/2026-11-22/orders.csv", "old\n"}} {
		if _, err := direct.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(o[0]), Key: aws.String(o[1]), Body: strings.NewReader(o[2])}); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(out, "task.py"), suggestTaskPy)
	pw := writeFile(t, filepath.Join(dir, "pg-password"), canaryPassword+"\n")
	secret := writeFile(t, filepath.Join(dir, "s3-secret"), m.SecretKey+"\n")
	key := writeFile(t, filepath.Join(dir, "audit-key"), "suggest-audit-key-0123456789abcdef")
	base := func(audit string) string {
		return fmt.Sprintf(`
task: {id: learn-1, ttl: 5m}
listen: {admin: '127.0.0.1:0', postgres: '127.0.0.1:0', s3: '127.0.0.1:0'}
postgres:
  upstream: {host: 127.0.0.1, port: %d, database: app, sslmode: disable}
  session: {search_path: sales}
  credentials: {source: static, user: etl, password_file: %s}
s3:
  upstream: {endpoint: '%s', region: us-east-1, ca_file: '%s'}
  credentials: {source: static, access_key_id: %s, secret_access_key_file: %s}
audit: {path: %s, key_file: %s}
exec: {allow_same_uid: true}  # the tests run the task as themselves
`, pg.Port, pw, m.Endpoint, m.CAFile, m.AccessKey, secret, audit, key)
	}
	runTask := func(config string) result {
		t.Helper()
		res := airlock(t, []string{"OUT=" + out}, "exec", "-c", config, "--", "sh", "-c", task)
		if res.code != 0 {
			t.Fatalf("task exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		return res
	}

	// Observe.
	observeLog := filepath.Join(dir, "observe.jsonl")
	observeCfg := writeFile(t, filepath.Join(dir, "observe.yaml"), base(observeLog)+"mode: observe\npolicy: {rules: []}\n")
	runTask(observeCfg)
	observedS3, observedDB := readFile(t, filepath.Join(out, "s3")), readFile(t, filepath.Join(out, "psql"))
	mustContain(t, "task output", observedS3, "curated/learn-1/daily/part-0.csv")

	// Suggest, strictly.
	sug := airlock(t, nil, "policy", "suggest", "-c", observeCfg, "--strict", observeLog)
	t.Logf("suggestion:\n%s\n%s", sug.stdout, sug.stderr)
	if sug.code != 0 {
		t.Fatalf("policy suggest --strict: exit %d\n%s", sug.code, sug.stderr)
	}
	mustContain(t, "suggest stderr", sug.stderr, "0 allowed by the suggestion", "self-check: covers")
	mustContain(t, "suggestion", sug.stdout, append(wants, `s3.key.startsWith("curated/" + task.id + "/daily/")`)...)
	if strings.Contains(sug.stdout, `startsWith("pg_catalog.")`) {
		t.Error("the suggestion allows every built-in")
	}

	// Enforce the suggestion: the same task passes unchanged.
	enforceLog := filepath.Join(dir, "enforce.jsonl")
	enforceCfg := writeFile(t, filepath.Join(dir, "enforce.yaml"), base(enforceLog)+"mode: enforce\n"+sug.stdout)
	runTask(enforceCfg)
	if got := readFile(t, filepath.Join(out, "s3")); got != observedS3 {
		t.Errorf("task output under enforce: %q, observed %q", got, observedS3)
	}
	if got, want := readFile(t, filepath.Join(out, "psql")), observedDB; got != want {
		t.Errorf("database output under enforce: %q, observed %q", got, want)
	}
	if strings.Contains(readFile(t, enforceLog), `"decision":"deny"`) {
		t.Errorf("the enforced run has denials:\n%s", readFile(t, enforceLog))
	}
	seq := pg.Psql(t, "app", "SELECT last_value FROM sales.orders_id_seq")

	// The hostile corpus through the enforcing proxy: every statement and
	// request is denied.
	corpus, err := policy.LoadHostileCorpus()
	if err != nil {
		t.Fatal(err)
	}
	var psqlArgs []string
	for _, e := range corpus.SQL {
		text, _ := e.Text("sales.orders")
		psqlArgs = append(psqlArgs, fmt.Sprintf("psql -X -A -t -c %s >> \"$OUT/hostile-sql\" 2>&1 && echo %s >> \"$OUT/hostile-sql\"", shellQuote(text), shellQuote("ALLOWED: "+e.Name)))
	}
	writeFile(t, filepath.Join(out, "hostile-sql"), "")
	res := airlock(t, []string{"OUT=" + out}, "exec", "-c", enforceCfg, "--", "sh", "-c", strings.Join(psqlArgs, "\n")+"\ntrue")
	hostileSQL := readFile(t, filepath.Join(out, "hostile-sql"))
	if res.code != 0 || strings.Contains(hostileSQL, "ALLOWED") || strings.Count(hostileSQL, "airlock: ") < len(corpus.SQL) {
		t.Errorf("hostile statements: exit %d\n%s\n%s", res.code, hostileSQL, res.stderr)
	}
	if got := pg.Psql(t, "app", "SELECT last_value FROM sales.orders_id_seq"); got != seq {
		t.Errorf("the sequence moved: %s → %s", seq, got)
	}
	if got := pg.Psql(t, "app", "SELECT count(*) FROM sales.orders"); got != "10" {
		t.Errorf("orders: %s rows", got)
	}

	type s3Try struct {
		Name, Action, Bucket, Key, Prefix string
	}
	observed := []policy.Request{
		{Protocol: policy.ProtocolS3, Task: policy.Task{ID: "learn-1"}, S3: policy.S3{Action: "GetObject", Bucket: "lake", Key: "raw/2026-11-22/orders.csv"}},
		{Protocol: policy.ProtocolS3, Task: policy.Task{ID: "learn-1"}, S3: policy.S3{Action: "PutObject", Bucket: "lake", Key: "curated/learn-1/daily/part-0.csv"}},
		{Protocol: policy.ProtocolS3, Task: policy.Task{ID: "learn-1"}, S3: policy.S3{Action: "ListObjectsV2", Bucket: "lake", Prefix: "curated/learn-1/daily/"}},
	}
	var tries []map[string]string
	for _, e := range corpus.S3 {
		for _, r := range e.Requests(observed) {
			tries = append(tries, map[string]string{"name": e.Name, "action": r.S3.Action, "bucket": r.S3.Bucket, "key": r.S3.Key, "prefix": r.S3.Prefix})
		}
	}
	data, err := json.Marshal(tries)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(out, "hostile.py"), hostileS3Py)
	writeFile(t, filepath.Join(out, "hostile.json"), string(data))
	res = airlock(t, []string{"OUT=" + out}, "exec", "-c", enforceCfg, "--", "sh", "-c", `python3 "$OUT/hostile.py" < "$OUT/hostile.json"`)
	// Each is denied: by a rule (AccessDenied), or, for a key with a ".."
	// segment, refused before any rule (InvalidArgument, as S3 names a key it will not take).
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	denied := 0
	for _, l := range lines {
		if strings.HasSuffix(l, " AccessDenied") || strings.HasSuffix(l, " InvalidArgument") && strings.Contains(l, "sibling") {
			denied++
		}
	}
	if res.code != 0 || len(lines) != len(tries) || denied != len(tries) {
		t.Errorf("hostile S3 requests (%d, %d denied): exit %d\n%s\n%s", len(tries), denied, res.code, res.stdout, res.stderr)
	}
	t.Logf("hostile S3:\n%s", res.stdout)
	if _, ok := (&s3Rig{minio: m}).object(t, "curated/airlock-hostile-task/daily/part-0.csv"); ok {
		t.Error("a hostile object was written")
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
