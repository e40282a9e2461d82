package proxy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/internal/miniotest"
	"github.com/airlockproxy/airlock/proxy"
)

// TestReadyzCredentialExpired: /readyz turns 503, naming the upstream,
// once a held credential has expired (here: the clock moves past an STS
// session's expiry before its renewal ran).
func TestReadyzCredentialExpired(t *testing.T) {
	m := miniotest.Start(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(m.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := baseYAML(t, "2h") + fmt.Sprintf(`s3:
  upstream: {endpoint: '%s', region: us-east-1}
  plain_http: true
  credentials:
    source: assume-role
    role_arn: 'arn:aws:iam::000000000000:role/etl'
    sts_endpoint: '%s'
    duration: 15m
    base: {source: static, access_key_id: %s, secret_access_key_file: %s}
`, m.Endpoint, m.Endpoint, m.AccessKey, secret)
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	srv, admin := startWith(t, yml, proxy.Options{Log: zerolog.Nop(), Now: now})
	defer srv.Shutdown(proxy.StopReason{Kind: "quit"})
	code, body := get(t, admin+"/readyz")
	if code != 200 || !strings.Contains(body, `"credentials.s3":"ok"`) {
		t.Fatalf("readyz with a fresh credential: %d %s", code, body)
	}
	_, metrics := get(t, admin+"/metrics")
	if !strings.Contains(metrics, `source="assume-role",state="valid",task="t-1",upstream="s3"}`) {
		t.Errorf("no credential expiry series:\n%s", metrics)
	}
	skew.Store(int64(20 * time.Minute)) // past the 15-minute session, before task.ttl
	code, body = get(t, admin+"/readyz")
	if code != 503 || !strings.Contains(body, `"deadline":"ok"`) || !strings.Contains(body, `"credentials.s3":"`) || strings.Contains(body, `"credentials.s3":"ok"`) || !strings.Contains(body, "expired") {
		t.Errorf("readyz with an expired credential: %d %s", code, body)
	}
	if _, metrics := get(t, admin+"/metrics"); !strings.Contains(metrics, `state="expired",task="t-1",upstream="s3"}`) {
		t.Error("the expiry series does not say expired")
	}
}
