package miniotest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// emptySHA256 is the hex SHA-256 of an empty payload.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// MakeBucket creates bucket name with a SigV4-signed PUT /name as the root
// user, and fails t unless the server answers 200.
func (s *Server) MakeBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	status, body, err := s.send(ctx, http.MethodPut, "/"+url.PathEscape(name))
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("%d %s: %s", status, http.StatusText(status), body)
	}
	if err != nil {
		t.Fatalf("miniotest: make bucket %q: %v", name, err)
	}
}

// assumeRole asks MinIO's STS for a 15-minute session as the root user,
// and returns the status and the start of the body.
func (s *Server) assumeRole(ctx context.Context) (int, []byte, error) {
	form := "Action=AssumeRole&DurationSeconds=900&Version=2011-06-15"
	sum := sha256.Sum256([]byte(form))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint+"/", strings.NewReader(form))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	creds := aws.Credentials{AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "sts", s.Region, time.Now()); err != nil {
		return 0, nil, fmt.Errorf("sign: %w", err)
	}
	return s.do(req)
}

// send makes an S3 request with an empty body as the root user, signed
// with SigV4, and returns the status and the start of the body.
func (s *Server) send(ctx context.Context, method, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.Endpoint+path, http.NoBody)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	creds := aws.Credentials{AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptySHA256, "s3", s.Region, time.Now()); err != nil {
		return 0, nil, fmt.Errorf("sign: %w", err)
	}
	return s.do(req)
}

func (s *Server) do(req *http.Request) (int, []byte, error) {
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, body, err
}
