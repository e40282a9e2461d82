package proxy_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/proxy"
)

// TestEgressWired: with an egress section the server serves the forward
// proxy on listen.http_proxy, hands the task HTTPS_PROXY, decides with
// egress.allow[i] under policy.rules' deny rules, records every decision,
// and ends open tunnels when it stops.
func TestEgressWired(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up "+r.URL.Path) }))
	defer upstream.Close()
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	srv, te := startEgress(t, `
task: {id: t-egress, ttl: 1m}
listen: {admin: '127.0.0.1:0', http_proxy: '127.0.0.1:0'}
shutdown: {drain: 200ms}
egress:
  allow: ['http.host == "127.0.0.1"']
policy:
  rules:
    - {name: no-secret-path, deny: 'http.path.startsWith("/secret")'}
`)
	addr := srv.Addrs()["http_proxy"]
	if addr == nil {
		t.Fatal("no http_proxy listener")
	}
	if !slices.Contains(srv.TaskEnv(), "HTTPS_PROXY=http://"+addr.String()) {
		t.Errorf("task env lacks HTTPS_PROXY: %v", srv.TaskEnv())
	}
	proxyURL, _ := url.Parse("http://" + addr.String())
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}, Timeout: 10 * time.Second}
	for _, step := range []struct {
		path string
		want int
	}{{"/data", http.StatusOK}, {"/secret/x", http.StatusForbidden}} {
		resp, err := client.Get(upstream.URL + step.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != step.want {
			t.Errorf("%s: %d %q, want %d", step.path, resp.StatusCode, b, step.want)
		}
	}

	// An open tunnel ends when the server stops.
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "CONNECT "+echo.Addr().String()+" HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	if code := srv.Shutdown(proxy.StopReason{Kind: "quit", Detail: "test"}); code != 0 {
		t.Fatalf("shutdown: exit %d", code)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("tunnel after shutdown: %v, want EOF", err)
	}

	decisions := te.decisions(t)
	up := strings.TrimPrefix(upstream.URL, "http://")
	want := []string{"http GET " + up + "/data allow egress.allow[0]", "http GET " + up + "/secret/x deny no-secret-path,egress.allow[0]",
		"http CONNECT " + echo.Addr().String() + " allow egress.allow[0]"}
	if !slices.Equal(decisions, want) {
		t.Fatalf("decisions:\n%s\nwant:\n%s", strings.Join(decisions, "\n"), strings.Join(want, "\n"))
	}
}

// startEgress starts a server with every protocol handler the config asks
// for. yml is the config without local and audit, which startEgress points
// into a temporary directory.
func startEgress(t *testing.T, yml string) (*proxy.Server, *testEnv) {
	t.Helper()
	dir := t.TempDir()
	te := &testEnv{dir: dir, auditPath: filepath.Join(dir, "audit.jsonl"), keyPath: filepath.Join(dir, "key")}
	os.WriteFile(te.keyPath, []byte("0123456789abcdef0123456789abcdef\n"), 0o600)
	cfg, err := proxy.ParseConfig([]byte(yml+`
local: {dir: '`+filepath.Join(dir, "local")+`'}
audit: {path: '`+te.auditPath+`', key_file: '`+te.keyPath+`', flush_interval: 10ms}
`), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := proxy.New(cfg, proxy.Options{Log: zerolog.Nop(), Handlers: proxy.ProtocolHandlers})
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return srv, te
}

// decisions lists the audit log's decisions as "protocol action resources decision rules".
func (te *testEnv) decisions(t *testing.T) []string {
	var out []string
	for _, r := range te.verify(t) {
		if r["event"] == "decision" {
			out = append(out, strings.Join([]string{r["protocol"].(string), r["action"].(string),
				strings.Join(strs(r["resources"]), ","), r["decision"].(string), strings.Join(strs(r["rules"]), ",")}, " "))
		}
	}
	return out
}

func strs(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// TestEgressInterceptsVirtualHostedS3: a CONNECT to bucket.<S3 upstream
// host> is intercepted and served by the S3 handler, which reads the bucket
// from the host (the upstream host is one of its virtual-host suffixes).
// The request is denied, so nothing is dialled: the upstream's name need
// not resolve.
func TestEgressInterceptsVirtualHostedS3(t *testing.T) {
	secretPath := filepath.Join(t.TempDir(), "s3-secret")
	os.WriteFile(secretPath, []byte("upstream-secret-not-used\n"), 0o600)
	srv, te := startEgress(t, `
task: {id: t-vhost, ttl: 1m}
listen: {admin: '127.0.0.1:0', s3: '127.0.0.1:0', http_proxy: '127.0.0.1:0'}
s3:
  upstream: {endpoint: 'https://s3.example.test', region: us-east-1}
  credentials: {source: static, access_key_id: AKIDUPSTREAM, secret_access_key_file: '`+secretPath+`'}
egress: {allow: []}
policy:
  rules:
    - {name: write-curated, allow: 's3.action == "PutObject" && s3.bucket == "lake" && s3.key.startsWith("curated/")'}
`)
	env := map[string]string{}
	for _, kv := range srv.TaskEnv() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	pem, err := os.ReadFile(env["AIRLOCK_CA_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	proxyURL, _ := url.Parse(env["HTTPS_PROXY"])
	client := awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("https://s3.example.test"), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second},
	})
	_, err = client.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String("raw/x.csv"), Body: strings.NewReader("x")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || !strings.Contains(ae.ErrorMessage(), "no rule allows") {
		t.Fatalf("got %v, want AccessDenied from the S3 rules", err)
	}
	if code := srv.Shutdown(proxy.StopReason{Kind: "quit", Detail: "test"}); code != 0 {
		t.Fatalf("shutdown: exit %d", code)
	}
	decisions := te.decisions(t)
	if want := []string{"s3 PutObject lake/raw/x.csv deny "}; !slices.Equal(decisions, want) {
		t.Fatalf("decisions %q, want %q", decisions, want)
	}
}
