package conformance_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/internal/conformance"
	"github.com/airlockproxy/airlock/internal/miniotest"
)

// suiteLimit bounds one run of s3-tests.
const suiteLimit = 90 * time.Minute

// s3TestFiles are the s3-tests modules run: the S3 API ones (IAM, STS,
// SNS and S3 Select need services MinIO does not offer as RGW does).
var s3TestFiles = []string{"s3tests/functional/test_s3.py", "s3tests/functional/test_headers.py"}

// TestS3Tests runs ceph's s3-tests against MinIO directly and through an
// allow-all Airlock and compares the results test by test. It runs only
// when AIRLOCK_CONFORMANCE_S3 names an s3-tests checkout (make
// conformance S3TESTS=/path), with AIRLOCK_BIN.
func TestS3Tests(t *testing.T) {
	suite := os.Getenv("AIRLOCK_CONFORMANCE_S3")
	if suite == "" {
		t.Skip("AIRLOCK_CONFORMANCE_S3 (a ceph/s3-tests checkout) not set: run make conformance S3TESTS=/path")
	}
	bin := mustEnv(t, "AIRLOCK_BIN")
	outDir := reportDir(t, "s3")
	direct, behind := miniotest.Start(t), miniotest.Start(t)
	port := freePort(t)
	keyID, key := startS3Airlock(t, bin, behind, port)
	runs := []struct {
		name, endpoint, keyID, key string
		m                          *miniotest.Server
	}{
		{"direct", direct.Endpoint, direct.AccessKey, direct.SecretKey, direct},
		{"airlock", fmt.Sprintf("http://127.0.0.1:%d", port), keyID, key, behind},
	}
	var reports [2]map[string]conformance.Outcome
	var wg sync.WaitGroup
	for i, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i] = runS3Tests(t, suite, outDir, run.name, run.endpoint, run.keyID, run.key, run.m)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	sum := conformance.Summary{Suite: "ceph s3-tests (" + strings.Join(s3TestFiles, ", ") + ")"}
	var diffs bytes.Buffer
	passed := [2]int{}
	for _, r := range conformance.CompareJUnit(reports[0], reports[1]) {
		sum.Add(r)
		conformance.WriteDiff(&diffs, r)
		if reports[0][r.Name].Result == "passed" {
			passed[0]++
		}
		if reports[1][r.Name].Result == "passed" {
			passed[1]++
		}
	}
	writeReport(t, outDir, "differences.txt", diffs.String())
	var buf bytes.Buffer
	sum.Print(&buf)
	fmt.Fprintf(&buf, "   passed: %d direct, %d through Airlock (of %d tests)\n", passed[0], passed[1], len(reports[0]))
	writeReport(t, outDir, "summary.txt", buf.String())
	fmt.Print(buf.String())
	fmt.Printf("   JUnit reports and differences: %s\n", outDir)
	if os.Getenv("AIRLOCK_CONFORMANCE_STRICT") != "" && sum.Counts[conformance.Otherwise] > 0 {
		t.Errorf("%d tests differ otherwise", sum.Counts[conformance.Otherwise])
	}
}

// startS3Airlock runs `airlock run` in front of m with a policy allowing
// everything, configuration operations and headers included (those need a
// rule naming them), and returns the local key pair.
func startS3Airlock(t *testing.T, bin string, m *miniotest.Server, port int) (string, string) {
	dir := t.TempDir()
	local := filepath.Join(dir, "local")
	secret := writeFile(t, filepath.Join(dir, "s3-secret"), m.SecretKey+"\n")
	key := writeFile(t, filepath.Join(dir, "key"), "conformance-key-0123456789abcdef0123")
	cfg := writeFile(t, filepath.Join(dir, "airlock.yaml"), fmt.Sprintf(`
task: {id: conformance, ttl: 6h}
listen: {admin: '127.0.0.1:0', s3: '127.0.0.1:%d'}
local: {dir: %s}
s3:
  upstream: {endpoint: '%s', region: us-east-1}
  plain_http: true
  credentials: {source: static, access_key_id: %s, secret_access_key_file: %s}
audit: {path: %s, key_file: %s}
log: {level: error}
policy:
  rules:
    - name: all
      allow: >-
        true || s3.action in [%s] || s3.headers.all(h, h in [%s])
`, port, local, m.Endpoint, m.AccessKey, secret, filepath.Join(dir, "audit.jsonl"), key,
		quoteAll(s3Actions), quoteAll(s3ConfigHeaders)))
	creds := runAirlock(t, bin, cfg, port, local, "aws-credentials")
	var keyID, secretKey string
	for _, l := range strings.Split(creds, "\n") {
		k, v, _ := strings.Cut(l, " = ")
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			keyID = strings.TrimSpace(v)
		case "aws_secret_access_key":
			secretKey = strings.TrimSpace(v)
		}
	}
	if keyID == "" || secretKey == "" {
		t.Fatal("no local key pair in aws-credentials")
	}
	return keyID, secretKey
}

// runS3Tests runs the suite with main user (keyID, key) at endpoint and
// the other principals at m directly, and returns its results.
func runS3Tests(t *testing.T, suite, outDir, name, endpoint, keyID, key string, m *miniotest.Server) map[string]conformance.Outcome {
	host, port, _ := strings.Cut(strings.TrimPrefix(endpoint, "http://"), ":")
	conf := writeFile(t, filepath.Join(t.TempDir(), "s3tests.conf"), fmt.Sprintf(`[DEFAULT]
host = %s
port = %s
is_secure = False
ssl_verify = False
[fixtures]
bucket prefix = conf-{random}-
[s3 main]
display_name = main
user_id = main
email = main@example.com
access_key = %s
secret_key = %s
[s3 alt]
display_name = alt
user_id = alt
email = alt@example.com
access_key = %s
secret_key = %s
[s3 tenant]
display_name = tenant
user_id = tenant
email = tenant@example.com
tenant = tenant
access_key = %s
secret_key = %s
[iam]
email = iam@example.com
user_id = iam
access_key = %s
secret_key = %s
display_name = iam
[iam root]
access_key = %s
secret_key = %s
user_id = iamroot
email = iamroot@example.com
[iam alt root]
access_key = %s
secret_key = %s
user_id = iamaltroot
email = iamaltroot@example.com
`, host, port, keyID, key, m.AccessKey, m.SecretKey, m.AccessKey, m.SecretKey,
		m.AccessKey, m.SecretKey, m.AccessKey, m.SecretKey, m.AccessKey, m.SecretKey))
	plugins, err := filepath.Abs("pytest")
	if err != nil {
		t.Fatal(err)
	}
	junit := filepath.Join(outDir, name+".xml")
	args := []string{"-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "airlock_other_principals",
		"--junitxml", junit, "-o", "junit_family=xunit1"}
	if out, _ := exec.Command("/usr/bin/python3", "-c", "import pytest_timeout").CombinedOutput(); len(out) == 0 {
		args = append(args, "--timeout", "120")
	}
	if k := os.Getenv("AIRLOCK_CONFORMANCE_S3_ONLY"); k != "" {
		args = append(args, "-k", k)
	}
	args = append(args, s3TestFiles...)
	ctx, cancel := context.WithTimeout(context.Background(), suiteLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", args...)
	cmd.Dir = suite
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "S3TEST_CONF=" + conf,
		"PYTHONPATH=" + plugins, "AIRLOCK_S3_DIRECT_ENDPOINT=" + m.Endpoint,
		"AWS_REQUEST_CHECKSUM_CALCULATION=when_supported", "LANG=C.UTF-8",
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // pytest exits 1 when a test fails; the report says which
	writeReport(t, outDir, name+".log", out.String())
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Errorf("%s: s3-tests wrote no report (%v):\n%s", name, err, tail(out.String(), 3000))
		return nil
	}
	res, err := conformance.ParseJUnit(data)
	if err != nil {
		t.Errorf("%s: %v", name, err)
	}
	return res
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = `"` + s + `"`
	}
	return strings.Join(q, ", ")
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
