package integration_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/airlockproxy/airlock/internal/miniotest"
)

// TestBenchS3 compares PUT and GET of 1 MiB, 64 MiB and 1 GiB objects
// straight to MinIO and through Airlock, twice: all plain HTTP, and all TLS
// (MinIO on HTTPS, Airlock's default HTTPS listener, where the SDK sends
// aws-chunked bodies with a CRC32 trailer, and HTTPS from Airlock to
// MinIO). It reads Airlock's peak RSS (VmHWM) after each size. It runs only under `make bench` (AIRLOCK_BENCH=1);
// AIRLOCK_BENCH_S3_MAX caps the largest size in MiB (default 1024).
func TestBenchS3(t *testing.T) {
	if os.Getenv("AIRLOCK_BENCH") == "" {
		t.Skip("a benchmark: run with make bench (AIRLOCK_BENCH=1)")
	}
	maxMiB := int64(1024)
	if s := os.Getenv("AIRLOCK_BENCH_S3_MAX"); s != "" {
		maxMiB, _ = strconv.ParseInt(s, 10, 64)
	}
	// mixed: the task talks plain HTTP to Airlock on loopback, Airlock
	// talks HTTPS to MinIO (a deployment choice, compared with direct-https).
	rigs := map[string]*s3Rig{"http": newS3Rig(t, true), "https": newS3RigOn(t, false, miniotest.StartTLS(t)),
		"mixed": newS3RigOn(t, true, miniotest.StartTLS(t))}
	// relay-http: the direct client through a bare byte relay (no
	// parsing, no checks, no re-signing) in front of the plain MinIO: what
	// any proxy hop costs on this machine, the floor for airlock-http.
	minioURL, err := url.Parse(rigs["http"].minio.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	minioPort, _ := strconv.Atoi(minioURL.Port())
	relayEndpoint := fmt.Sprintf("http://127.0.0.1:%d", startGoRelay(t, minioPort))
	tlsRelayEndpoint := startTLSRelay(t, rigs["https"].minio)
	ctx := context.Background()
	fmt.Printf("\nS3 PUT/GET MB/s, one object at a time, median of N (2 cores shared by client, Airlock and MinIO)\n")
	fmt.Printf("%-6s %-4s %3s %12s %11s %6s %13s %6s %13s %12s %6s %14s %6s %14s %6s %12s\n", "size", "op", "N", "direct-http", "relay-http", "ratio", "airlock-http", "ratio",
		"direct-https", "relay-https", "ratio", "airlock-https", "ratio", "airlock-mixed", "ratio", "airlock RSS")
	for _, mib := range []int64{1, 64, 1024} {
		if mib > maxMiB {
			continue
		}
		size := mib << 20
		n := map[int64]int{1: 15, 64: 5, 1024: 3}[mib]
		key := fmt.Sprintf("bench-%d", mib)
		for _, op := range []string{"PUT", "GET"} {
			rate := map[string]float64{}
			for _, target := range []string{"direct-http", "relay-http", "http", "direct-https", "relay-https", "https", "mixed"} {
				rig := rigs[strings.TrimPrefix(strings.TrimPrefix(target, "direct-"), "relay-")]
				client := rig.client(t)
				switch {
				case strings.HasPrefix(target, "direct-"):
					client = rig.direct(t)
				case target == "relay-http":
					client = rig.directAt(t, relayEndpoint)
				case target == "relay-https":
					client = rig.directAt(t, tlsRelayEndpoint)
				}
				if op == "GET" {
					// The rules let the task read raw/ only: seed it directly.
					if _, err := rig.direct(t).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String("raw/" + key), Body: newPattern(size)}); err != nil {
						t.Fatal(err)
					}
				}
				var times []time.Duration
				for range n {
					start := time.Now()
					var err error
					if op == "PUT" {
						_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String("curated/" + key), Body: newPattern(size)})
					} else {
						err = getAll(ctx, client, "raw/"+key, size)
					}
					if err != nil {
						t.Fatalf("%s %s %d MiB: %v", target, op, mib, err)
					}
					times = append(times, time.Since(start))
				}
				slices.Sort(times)
				rate[target] = float64(size) / 1e6 / times[len(times)/2].Seconds()
			}
			fmt.Printf("%-6s %-4s %3d %12.0f %11.0f %5.2fx %13.0f %5.2fx %13.0f %12.0f %5.2fx %14.0f %5.2fx %14.0f %5.2fx %12s\n", sizeName(mib), op, n, rate["direct-http"],
				rate["relay-http"], rate["relay-http"]/rate["direct-http"], rate["http"], rate["http"]/rate["direct-http"],
				rate["direct-https"], rate["relay-https"], rate["relay-https"]/rate["direct-https"], rate["https"], rate["https"]/rate["direct-https"],
				rate["mixed"], rate["mixed"]/rate["direct-https"],
				fmt.Sprintf("%d/%d/%d MiB", peakRSS(t, rigs["http"].pid)>>20, peakRSS(t, rigs["https"].pid)>>20, peakRSS(t, rigs["mixed"].pid)>>20))
		}
	}
	fmt.Println("relay-http: the direct client through a bare Go byte relay (two goroutines, 64 KiB buffers) in the test process: the cost of any proxy hop")
	fmt.Println("relay-https: the same relay terminating TLS with MinIO's certificate and dialling MinIO over TLS: the cost of any TLS-terminating hop")
	fmt.Println("airlock-mixed: task → Airlock plain HTTP on loopback, Airlock → MinIO HTTPS; its ratio is to direct-https")
	fmt.Println("  (its PUTs are slower: over plain HTTP the SDK signs the body's SHA-256, which Airlock must check, instead of a CRC trailer)")
	fmt.Println("airlock RSS: VmHWM of the http/https/mixed instances so far (peak, not current)")
}

// startTLSRelay serves TLS with m's own certificate, so that clients that
// trust m trust it, and relays each connection's plaintext to m over a new
// TLS connection: HTTP/1.1 both ways, no parsing. It returns its endpoint.
func startTLSRelay(t *testing.T, m *miniotest.Server) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(m.Dir, "certs", "public.crt"), filepath.Join(m.Dir, "certs", "private.key"))
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(m.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	up, err := url.Parse(m.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	upCfg := &tls.Config{RootCAs: roots, ServerName: up.Hostname()}
	serveRelay(t, ln, func() (net.Conn, error) { return tls.Dial("tcp", up.Host, upCfg) })
	return "https://" + ln.Addr().String()
}

func getAll(ctx context.Context, c *s3.Client, key string, size int64) error {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String(key)})
	if err != nil {
		return err
	}
	defer out.Body.Close()
	n, err := io.Copy(io.Discard, out.Body)
	if err == nil && n != size {
		err = fmt.Errorf("read %d bytes, want %d", n, size)
	}
	return err
}

func sizeName(mib int64) string {
	if mib >= 1024 {
		return fmt.Sprintf("%dGiB", mib>>10)
	}
	return fmt.Sprintf("%dMiB", mib)
}

// peakRSS is a process's VmHWM in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// pattern is a seekable body of size bytes that costs no memory: the SDK
// rewinds bodies to hash or retry them.
type pattern struct{ size, off int64 }

func newPattern(size int64) *pattern { return &pattern{size: size} }

var patternBlock = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}()

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.size {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.size-p.off)]
	n := 0
	for n < len(b) {
		n += copy(b[n:], patternBlock[(p.off+int64(n))%int64(len(patternBlock)):])
	}
	p.off += int64(n)
	return n, nil
}

func (p *pattern) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += p.off
	case io.SeekEnd:
		off += p.size
	}
	if off < 0 {
		return 0, errors.New("pattern: negative offset")
	}
	p.off = off
	return off, nil
}
