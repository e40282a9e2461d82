package integration_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/internal/miniotest"
	"github.com/airlockproxy/airlock/internal/pgtest"
)

// canaryRig is PostgreSQL with an upstream role whose password is the
// canary, and MinIO whose root secret key is Airlock's base identity for
// STS AssumeRole (scope_down on): both upstream secrets are recognisable,
// and neither may appear in any byte Airlock writes or hands the task.
type canaryRig struct {
	pg     *pgtest.Server
	minio  *miniotest.Server
	dir    string
	audit  string
	config string
}

const canaryRules = `
    - {name: read-sales, allow: 'sql.kind == "select" && sql.reads.all(t, t.startsWith("sales."))'}
    - {name: never-pii, deny: '"sales.customers_pii" in sql.tables'}
    - {name: write-curated, allow: 's3.action in ["PutObject", "HeadObject", "GetObject"] && s3.bucket == "lake" && s3.key.startsWith("curated/" + task.id + "/")'}
    - {name: list-curated, allow: 's3.action == "ListObjectsV2" && s3.bucket == "lake" && s3.prefix.startsWith("curated/")'}`

// newCanaryRig: s3Creds, when not nil, gives the s3.credentials value
// instead of the assume-role default.
func newCanaryRig(t *testing.T, pgPassword string, s3Creds func(m *miniotest.Server, dir string) string) *canaryRig {
	t.Helper()
	pg := pgtest.Start(t, pgtest.Options{})
	pg.CreateDB(t, "app")
	pg.Psql(t, "app", `
CREATE SCHEMA sales;
CREATE TABLE sales.orders (id int);
CREATE TABLE sales.customers_pii (email text);
INSERT INTO sales.orders SELECT generate_series(1, 7);
CREATE ROLE etl LOGIN PASSWORD '`+canaryPassword+`';
GRANT USAGE ON SCHEMA sales TO etl;
GRANT SELECT ON ALL TABLES IN SCHEMA sales TO etl;`)
	m := miniotest.Start(t)
	m.MakeBucket(t, "lake")
	dir := t.TempDir()
	r := &canaryRig{pg: pg, minio: m, dir: dir, audit: filepath.Join(dir, "audit.jsonl")}
	pw := writeFile(t, filepath.Join(dir, "pg-password"), pgPassword+"\n")
	root := writeFile(t, filepath.Join(dir, "minio-root-secret"), m.SecretKey+"\n")
	key := writeFile(t, filepath.Join(dir, "audit-key"), "canary-audit-key-0123456789abcdef")
	creds := ""
	if s3Creds != nil {
		creds = s3Creds(m, dir)
	} else {
		creds = fmt.Sprintf(`{source: assume-role, role_arn: 'arn:aws:iam::000000000000:role/etl', sts_endpoint: '%s', scope_down: true,
                  base: {source: static, access_key_id: %s, secret_access_key_file: %s}}`, m.Endpoint, m.AccessKey, root)
	}
	r.config = writeFile(t, filepath.Join(dir, "airlock.yaml"), fmt.Sprintf(`
task: {id: canary-1, ttl: 5m}
listen: {admin: '127.0.0.1:0', postgres: '127.0.0.1:0', s3: '127.0.0.1:0'}
postgres:
  upstream: {host: 127.0.0.1, port: %d, database: app, sslmode: disable}
  session: {search_path: sales}
  credentials: {source: static, user: etl, password_file: %s}
s3:
  upstream: {endpoint: '%s', region: us-east-1}
  credentials: %s
audit: {path: %s, key_file: %s}
exec: {allow_same_uid: true}  # the tests run the task as themselves
log: {level: debug}
policy:
  rules:%s
`, pg.Port, pw, m.Endpoint, creds, r.audit, key, canaryRules))
	return r
}

// taskScript is the task: it records its environment and every admin
// endpoint, then makes allowed and denied PostgreSQL and S3 requests.
const taskScript = `
env > "$OUT/child-env"
for p in startup readyz livez credentials metrics; do curl -s "$AIRLOCK_ADMIN_URL/$p" > "$OUT/admin-$p"; done
psql -X -A -t -c "SELECT count(*) FROM orders" > "$OUT/psql-ok" 2>&1
psql -X -A -t -c "SELECT * FROM customers_pii" > "$OUT/psql-denied" 2>&1
echo report > "$OUT/report.csv"
aws s3 cp "$OUT/report.csv" "s3://lake/curated/$AIRLOCK_TASK_ID/report.csv" > "$OUT/s3-ok" 2>&1
aws s3 cp "$OUT/report.csv" s3://lake/raw/report.csv > "$OUT/s3-denied" 2>&1
aws s3 ls s3://lake/curated/ --recursive > "$OUT/s3-list" 2>&1
true
`

func (r *canaryRig) run(t *testing.T) (result, map[string]string) {
	t.Helper()
	out := filepath.Join(r.dir, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	res := airlock(t, []string{"OUT=" + out}, "exec", "-c", r.config, "--", "sh", "-c", taskScript)
	files := map[string]string{"airlock stdout": res.stdout, "airlock stderr": res.stderr}
	for _, dir := range []string{out, r.dir} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasSuffix(e.Name(), "secret") || e.Name() == "pg-password" {
				continue // the secrets' own files
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = string(b)
		}
	}
	return res, files
}

func noCanary(t *testing.T, files map[string]string, canaries ...string) {
	t.Helper()
	for name, content := range files {
		for _, c := range canaries {
			if strings.Contains(content, c) {
				t.Errorf("an upstream secret is in %s", name)
			}
		}
	}
}

// TestCanaryWholeSession runs a whole session (PostgreSQL and S3 via STS
// AssumeRole, allowed and denied operations) and greps everything Airlock
// wrote and gave the task for the upstream secrets.
func TestCanaryWholeSession(t *testing.T) {
	needTool(t, "aws", "--version")
	r := newCanaryRig(t, canaryPassword, nil)
	res, files := r.run(t)
	if res.code != 0 {
		t.Fatalf("exec: %d\n%s", res.code, res.stderr)
	}
	noCanary(t, files, canaryPassword, r.minio.SecretKey)
	mustContain(t, "psql", files["psql-ok"], "7")
	mustContain(t, "psql denied", files["psql-denied"], "denied by rule never-pii")
	mustContain(t, "s3 allowed", files["s3-ok"], "upload:")
	mustContain(t, "s3 denied", files["s3-denied"], "AccessDenied")
	mustContain(t, "s3 list", files["s3-list"], "curated/canary-1/report.csv")
	mustContain(t, "/credentials", files["admin-credentials"], `"source":"assume-role"`, `"source":"static"`)
	if strings.Contains(files["admin-credentials"], r.minio.AccessKey) {
		t.Error("the S3 upstream is the root identity, not an STS session")
	}
	mustContain(t, "audit log", files["audit.jsonl"], `"event":"credential"`, `"source":"assume-role"`, `"status":"issued"`)
	for _, v := range []string{"PGPASSWORD=", "AWS_SECRET_ACCESS_KEY=", "AWS_ENDPOINT_URL=https://127.0.0.1:"} {
		mustContain(t, "child env", files["child-env"], v)
	}
	if _, ok := r.minioObject(t, "curated/canary-1/report.csv"); !ok {
		t.Error("the allowed upload is not in MinIO")
	}
	if _, ok := r.minioObject(t, "raw/report.csv"); ok {
		t.Error("the denied upload reached MinIO")
	}
	if v := airlock(t, nil, "audit", "verify", "--key-file", filepath.Join(r.dir, "audit-key"), r.audit); v.code != 0 {
		t.Fatalf("audit verify: %s %s", v.stdout, v.stderr)
	}
}

// TestCanaryUpstreamAuthFailure: the upstreams refuse Airlock's
// credentials (a wrong PostgreSQL password, a wrong S3 secret key: MinIO
// then answers SignatureDoesNotMatch, whose body echoes the key id, the
// string to sign and the canonical request). The wrong values are canaries
// too, and the task gets clear errors without them.
func TestCanaryUpstreamAuthFailure(t *testing.T) {
	needTool(t, "aws", "--version")
	const wrongPG, wrongS3 = "CANARY-wrong-pg-5d2a91", "CANARYwrongS3secret0123456789abcdefABCD"
	r := newCanaryRig(t, wrongPG, func(m *miniotest.Server, dir string) string {
		f := writeFile(t, filepath.Join(dir, "wrong-secret"), wrongS3+"\n")
		return fmt.Sprintf("{source: static, access_key_id: %s, secret_access_key_file: %s}", m.AccessKey, f)
	})
	res, files := r.run(t)
	if res.code != 0 {
		t.Fatalf("exec: %d\n%s", res.code, res.stderr)
	}
	noCanary(t, files, canaryPassword, r.minio.SecretKey, wrongPG, wrongS3)
	// The task is told the upstream refused; the reason is in Airlock's log.
	mustContain(t, "psql", files["psql-ok"], "the upstream database refused the connection")
	mustContain(t, "airlock log", files["airlock stderr"], "password authentication failed")
	mustContain(t, "aws s3 cp", files["s3-ok"], "SignatureDoesNotMatch")
}

func (r *canaryRig) minioObject(t *testing.T, key string) ([]byte, bool) {
	rig := &s3Rig{minio: r.minio}
	return rig.object(t, key)
}
