package miniotest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/certs"
	"github.com/airlockproxy/airlock/internal/testutil"
)

// Server is a running MinIO server. Its fields are read-only.
type Server struct {
	// Endpoint is the S3 and STS endpoint, http://127.0.0.1:<port>.
	Endpoint string
	// AccessKey and SecretKey are the root user's random credentials.
	AccessKey, SecretKey string
	// Region is the region requests are signed for: us-east-1.
	Region string
	// Dir holds the server's data (Dir/data), certificates directory and
	// log (Dir/minio.log).
	Dir string
	// CAFile is the CA that signed the server's certificate (StartTLS
	// only; empty for plain HTTP).
	CAFile string

	client *http.Client
}

const (
	region        = "us-east-1"
	readyLimit    = 60 * time.Second
	startAttempts = 5
	stopLimit     = 10 * time.Second
)

// Start runs a MinIO server for t and stops it in t.Cleanup. Without
// bin/minio it skips t, unless the environment variable CI is set: then it
// fails t.
func Start(t testing.TB) *Server {
	t.Helper()
	return startServer(t, false)
}

// StartTLS is Start with MinIO serving HTTPS, with a certificate for
// 127.0.0.1 from a throwaway CA written to CAFile.
func StartTLS(t testing.TB) *Server {
	t.Helper()
	return startServer(t, true)
}

func startServer(t testing.TB, useTLS bool) *Server {
	t.Helper()
	began := time.Now()
	bin, err := binary()
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("miniotest: %v; run scripts/install-minio.sh", err)
		}
		t.Fatalf("miniotest: %v (CI is set, so this fails instead of skipping); run scripts/install-minio.sh", err)
	}
	s := &Server{
		AccessKey: "root" + testutil.RandomHex(8),
		SecretKey: testutil.RandomHex(20),
		Region:    region,
		Dir:       t.TempDir(),
		client:    &http.Client{Timeout: 30 * time.Second},
	}
	if useTLS {
		pool, err := s.writeCerts()
		if err != nil {
			t.Fatalf("miniotest: %v", err)
		}
		s.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	logFile := filepath.Join(s.Dir, "minio.log")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("miniotest: tail of %s:\n%s", logFile, testutil.Tail(logFile, 30))
		}
	})
	for attempt := 1; ; attempt++ {
		err := s.start(t, bin, logFile)
		if err == nil {
			break
		}
		if attempt == startAttempts || !errors.Is(err, errExited) {
			t.Fatalf("miniotest: start MinIO (attempt %d): %v\ntail of %s:\n%s", attempt, err, logFile, testutil.Tail(logFile, 30))
		}
		// Most likely a port picked was taken in between: try others.
	}
	t.Logf("miniotest: MinIO at %s started in %v", s.Endpoint, time.Since(began).Round(time.Millisecond))
	return s
}

// writeCerts makes a CA and a server certificate for 127.0.0.1 in MinIO's
// certificates directory.
func (s *Server) writeCerts() (*x509.CertPool, error) {
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		return nil, err
	}
	leaf, err := ca.Issue([]string{"127.0.0.1", "localhost"}, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	key, err := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.Dir, "certs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s.CAFile = filepath.Join(s.Dir, "ca.pem")
	for name, data := range map[string][]byte{
		filepath.Join(dir, "public.crt"):  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Certificate[0]}),
		filepath.Join(dir, "private.key"): pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}),
		s.CAFile:                          ca.CertPEM(),
	} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return nil, err
		}
	}
	return ca.Pool(), nil
}

// errExited means the server exited before it was ready.
var errExited = errors.New("MinIO exited before it was ready")

// start runs the server once on fresh ports and waits until it is ready.
// On success it registers the server's stop with t.Cleanup.
func (s *Server) start(t testing.TB, bin, logFile string) error {
	addr, err := freeAddr()
	if err != nil {
		return fmt.Errorf("pick a port: %w", err)
	}
	console, err := freeAddr()
	if err != nil {
		return fmt.Errorf("pick a port: %w", err)
	}
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer log.Close() // the child has its own copy

	cmd := exec.Command(bin, "server", filepath.Join(s.Dir, "data"),
		"--address", addr,
		"--console-address", console,
		"--certs-dir", filepath.Join(s.Dir, "certs"),
	)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_SITE_REGION="+region,
		"MINIO_UPDATE=off",
		"HOME="+s.Dir,
	)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	s.Endpoint = "http://" + addr
	if s.CAFile != "" {
		s.Endpoint = "https://" + addr
	}
	if err := s.waitReady(exited); err != nil {
		cmd.Process.Kill()
		<-exited
		return err
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(stopLimit):
			t.Errorf("miniotest: MinIO (pid %d) did not exit within %v of SIGKILL", cmd.Process.Pid, stopLimit)
		}
	})
	return nil
}

// waitReady waits, for at most readyLimit, until the server says it is
// ready (GET /minio/health/ready answers 200) and then until it serves S3
// (a signed ListBuckets answers 200) and its STS answers AssumeRole: the
// health check passes while the object layer is still starting (S3 calls
// get 503 XMinioServerNotInitialized), and S3 can answer while IAM is
// still starting (AssumeRole gets 400 "Server not initialized"). It stops
// early if the server exits.
func (s *Server) waitReady(exited <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyLimit)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	healthy := false
	var last string // what the server said last, for the timeout message
	for {
		if !healthy {
			healthy, last = s.healthy(ctx)
		}
		if healthy {
			status, body, err := s.send(ctx, http.MethodGet, "/")
			if err == nil && status == http.StatusOK {
				status, body, err = s.assumeRole(ctx)
				if err == nil && status == http.StatusOK {
					return nil
				}
				last = fmt.Sprintf("AssumeRole: %d %v %.200s", status, err, body)
			} else {
				last = fmt.Sprintf("ListBuckets: %d %v %.200s", status, err, body)
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("%w: %v", errExited, err)
		case <-ctx.Done():
			return fmt.Errorf("not ready within %v; last answer: %s", readyLimit, last)
		case <-tick.C:
		}
	}
}

// healthy reports whether GET /minio/health/ready answers 200, and else
// what it got.
func (s *Server) healthy(ctx context.Context) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/minio/health/ready", nil)
	if err != nil {
		return false, err.Error()
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, "health: " + resp.Status
}

// binary finds bin/minio in the module root: the nearest directory,
// from the working directory up, that holds go.mod.
func binary() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory, so no bin/minio")
		}
		dir = parent
	}
	bin := filepath.Join(dir, "bin", "minio")
	fi, err := os.Stat(bin)
	if err != nil {
		return "", fmt.Errorf("MinIO not installed: %w", err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", bin)
	}
	return bin, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
