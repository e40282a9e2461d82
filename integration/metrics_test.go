package integration_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/airlockproxy/airlock/internal/miniotest"
)

// pgS3Rig is `airlock run` in front of a real PostgreSQL and a real MinIO.
type pgS3Rig struct {
	pg      *pgRig
	minio   *miniotest.Server
	p       *runProc
	s3URL   string
	keyID   string
	key     string
	adminPt int
}

// putObject puts an object into lake, retrying while MinIO does not yet
// know the bucket it just made.
func putObject(t *testing.T, c *s3.Client, key string, body io.ReadSeeker, size int64) {
	t.Helper()
	var err error
	for range 20 {
		if _, err = body.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		_, err = c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(key),
			Body: body, ContentLength: aws.Int64(size)})
		if err == nil || !strings.Contains(err.Error(), "NoSuchBucket") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// newPGS3Rig starts PostgreSQL, MinIO (bucket lake; seed may fill it)
// and `airlock run` in front of both.
func newPGS3Rig(t *testing.T, ttl, extra string, seed func(*s3.Client)) *pgS3Rig {
	t.Helper()
	pg := newPGRig(t, "")
	m := miniotest.Start(t)
	m.MakeBucket(t, "lake")
	if seed != nil {
		seed((&s3Rig{minio: m}).directAt(t, m.Endpoint))
	}
	dir := pg.dir
	pgPort, s3Port, adminPort := freePort(t), freePort(t), freePort(t)
	local := filepath.Join(dir, "local")
	pw := writeFile(t, filepath.Join(dir, "pg-password"), canaryPassword+"\n")
	s3secret := writeFile(t, filepath.Join(dir, "s3-secret"), m.SecretKey+"\n")
	config := writeFile(t, filepath.Join(dir, "run.yaml"), fmt.Sprintf(`
task: {id: metrics-it, ttl: %s}
listen: {admin: '127.0.0.1:%d', postgres: '127.0.0.1:%d', s3: '127.0.0.1:%d'}
local: {dir: %s}
postgres:
  upstream: {host: 127.0.0.1, port: %d, database: app, sslmode: disable}
  plaintext: true
  session: {search_path: sales}
  credentials: {source: static, user: etl, password_file: %s}
s3:
  upstream: {endpoint: '%s', region: us-east-1, ca_file: '%s'}
  plain_http: true
  credentials: {source: static, access_key_id: %s, secret_access_key_file: %s}
audit: {path: %s, key_file: %s}
policy:
  rules:
    - {name: read-sales, allow: 'sql.kind in ["select", "copy_to"] && sql.reads.all(t, t.startsWith("sales."))'}
    - {name: never-pii, deny: '"sales.customers_pii" in sql.tables'}
    - {name: read-raw, allow: 's3.action in ["GetObject", "HeadObject"] && s3.bucket == "lake" && s3.key.startsWith("raw/")'}
%s`, ttl, adminPort, pgPort, s3Port, local, pg.pg.Port, pw, m.Endpoint, m.CAFile, m.AccessKey, s3secret,
		pg.auditPath, pg.keyFile, extra))
	p := startRun(t, config, local, adminPort)
	r := &pgS3Rig{pg: pg, minio: m, p: p, s3URL: fmt.Sprintf("http://127.0.0.1:%d", s3Port), adminPt: adminPort}
	for _, l := range strings.Split(readFile(t, filepath.Join(local, "aws-credentials")), "\n") {
		k, v, _ := strings.Cut(l, " = ")
		switch k {
		case "aws_access_key_id":
			r.keyID = v
		case "aws_secret_access_key":
			r.key = v
		}
	}
	return r
}

func (r *pgS3Rig) client() *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(r.s3URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(r.keyID, r.key, "")})
}

func (r *pgS3Rig) direct(t *testing.T) *s3.Client {
	return (&s3Rig{minio: r.minio}).directAt(t, r.minio.Endpoint)
}

// metricValue returns the value of the series whose line starts with
// prefix (name and labels), or -1.
func metricValue(metrics, prefix string) float64 {
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, prefix+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(l, prefix)), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// TestMetricsAfterTraffic scrapes /metrics after PostgreSQL and S3
// traffic and checks every family Airlock advertises, then runs promtool.
func TestMetricsAfterTraffic(t *testing.T) {
	r := newPGS3Rig(t, "5m", "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := r.p.shellWithEnv(ctx, "psql -XAt -c 'SELECT count(*) FROM orders' -c 'SELECT * FROM customers_pii' -c 'DELETE FROM orders' 2>&1").CombinedOutput()
	mustContain(t, "psql", string(out), "100", "never-pii")
	putObject(t, r.direct(t), "raw/a.csv", strings.NewReader(strings.Repeat("x", 100000)), 100000)
	c := r.client()
	obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String("raw/a.csv")})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, obj.Body)
	obj.Body.Close()
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String("secret/x")}); err == nil {
		t.Fatal("GetObject outside raw/ was allowed")
	}

	m := scrape(t, r.p.admin)
	for prefix, min := range map[string]float64{
		`airlock_decisions_total{decision="allow",protocol="postgres",rule="read-sales"}`: 1,
		`airlock_decisions_total{decision="deny",protocol="postgres",rule="never-pii"}`:   1,
		`airlock_decisions_total{decision="deny",protocol="postgres",rule="no_rule"}`:     1,
		`airlock_decisions_total{decision="allow",protocol="s3",rule="read-raw"}`:         1,
		`airlock_decisions_total{decision="deny",protocol="s3",rule="no_rule"}`:           1,
		`airlock_decision_duration_seconds_count{protocol="postgres"}`:                    3,
		`airlock_bytes_total{direction="downstream",protocol="postgres"}`:                 100,
		`airlock_bytes_total{direction="upstream",protocol="postgres"}`:                   50,
		`airlock_bytes_total{direction="downstream",protocol="s3"}`:                       100000,
		`airlock_bytes_total{direction="upstream",protocol="s3"}`:                         100,
		`airlock_connections_accepted_total{protocol="postgres"}`:                         1,
		`airlock_connections_accepted_total{protocol="s3"}`:                               1,
		`airlock_connections{protocol="s3"}`:                                              0,
		`airlock_audit_healthy`:                                                           1,
	} {
		if v := metricValue(m, prefix); v < min {
			t.Errorf("%s = %v, want at least %v", prefix, v, min)
		}
	}
	for _, re := range []string{
		`airlock_credential_expiry_timestamp_seconds\{id="[^"]+",source="static",state="valid",task="metrics-it",upstream="postgres"\} 0`,
		`airlock_credential_expiry_timestamp_seconds\{id="[^"]+",source="static",state="valid",task="metrics-it",upstream="s3"\} 0`,
	} {
		if !regexp.MustCompile(re).MatchString(m) {
			t.Errorf("metrics lack %s:\n%s", re, grepLines(m, "credential"))
		}
	}
	if strings.Contains(m, `decision="deny",protocol="postgres",rule="read-sales"`) {
		t.Error("a denial is counted under the allow rule read-sales")
	}
	if strings.Contains(m, canaryPassword) || strings.Contains(m, r.minio.SecretKey) {
		t.Fatal("a secret is in /metrics")
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool missing (scripts/deps.sh installs Debian's prometheus package)")
		}
		t.Skip("promtool is not installed (Debian package prometheus; scripts/deps.sh); the families were checked")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(m)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// slowReader reads body in small pieces with pauses, as a slow consumer.
func slowRead(body io.Reader, piece int, pause time.Duration, limit time.Duration) (int64, error) {
	buf := make([]byte, piece)
	var n int64
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		k, err := body.Read(buf)
		n += int64(k)
		if err != nil {
			return n, err
		}
		time.Sleep(pause)
	}
	return n, errors.New("still reading at the test's limit")
}

// TestDeadlineCutsS3Transfer: a GET still streaming at task.ttl is cut
// (the client sees an error, never a short success), and Airlock exits
// with the deadline's code within shutdown.drain.
func TestDeadlineCutsS3Transfer(t *testing.T) {
	const size = 256 << 20
	r := newPGS3Rig(t, "5s", "shutdown: {drain: 3s}\n", func(c *s3.Client) { putObject(t, c, "raw/big", newPattern(size), size) })
	ctx := context.Background()
	obj, err := r.client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String("raw/big")})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	// 64 KiB every 10 ms: about 6 MiB/s, 40 s for the object.
	n, err := slowRead(obj.Body, 64<<10, 10*time.Millisecond, 60*time.Second)
	cutAt := time.Now()
	if err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("the transfer ended cleanly after %d of %d bytes: a short success", n, size)
	}
	if n >= size {
		t.Fatalf("the whole object arrived (%d bytes): not cut at the deadline", n)
	}
	t.Logf("cut after %d bytes: %v", n, err)
	select {
	case <-r.p.done:
	case <-time.After(3*time.Second + 2*time.Second):
		t.Fatal("airlock did not exit within shutdown.drain of the cut")
	}
	if el := time.Since(cutAt); el > 3*time.Second {
		t.Errorf("exit %s after the cut; shutdown.drain is 3s", el)
	}
	if code := r.p.cmd.ProcessState.ExitCode(); code != 124 {
		t.Errorf("exit code %d, want 124 (deadline)", code)
	}
}
