package report

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3Lister reads logs from S3 with the SDK's default credential chain
// (environment, shared config and credentials files, SSO, web identity,
// container and instance roles). AWS_ENDPOINT_URL points it at an
// S3-compatible store, addressed path-style.
type s3Lister struct{ c *s3.Client }

func newS3Lister(ctx context.Context) (*s3Lister, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		// Objects uploaded without a checksum are normal here; the chain
		// is what proves a log intact.
		o.DisableLogOutputChecksumValidationSkipped = true
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
		}
	})
	return &s3Lister{c: c}, nil
}

// expand lists s3://bucket/prefix: every *.jsonl object under it, or the
// one object the URL names exactly.
func (l *s3Lister) expand(ctx context.Context, u string) ([]Source, error) {
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(u, "s3://"), "/")
	if bucket == "" {
		return nil, fmt.Errorf("read %s: no bucket", u)
	}
	var out []Source
	p := s3.NewListObjectsV2Paginator(l.c, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", u, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if key == prefix || strings.HasSuffix(key, ".jsonl") {
				out = append(out, l.source(bucket, key))
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("list %s: no *.jsonl objects", u)
	}
	return out, nil
}

func (l *s3Lister) source(bucket, key string) Source {
	return Source{Name: "s3://" + bucket + "/" + key, Open: func(ctx context.Context) (io.ReadCloser, error) {
		out, err := l.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
		if err != nil {
			return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
		}
		return out.Body, nil
	}}
}
