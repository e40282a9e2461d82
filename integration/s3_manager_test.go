package integration_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestS3ManagerUploader: the SDK's multipart uploader (parts of 5 MiB sent
// concurrently, each with a CRC32 trailer; the upload's checksum algorithm
// named at CreateMultipartUpload) through Airlock over TLS. The object in
// MinIO is exactly what was sent; an upload to a denied prefix fails at
// CreateMultipartUpload and leaves no upload behind.
func TestS3ManagerUploader(t *testing.T) {
	r := newS3Rig(t, false)
	ctx := context.Background()
	data := randomBytes(17<<20 + 3) // four parts, the last short
	up := manager.NewUploader(r.client(t), func(u *manager.Uploader) { u.PartSize = 5 << 20; u.Concurrency = 3 })
	out, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String("curated/managed.bin"), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	if out.UploadID == "" {
		t.Fatal("the uploader did not use multipart")
	}
	if got, ok := r.object(t, "curated/managed.bin"); !ok || !bytes.Equal(got, data) {
		t.Fatalf("MinIO holds %d bytes, want the %d sent", len(got), len(data))
	}

	_, err = up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String("raw/managed.bin"), Body: bytes.NewReader(data)})
	wantAccessDenied(t, err, "no rule allows")
	if _, ok := r.object(t, "raw/managed.bin"); ok {
		t.Fatal("a denied multipart upload reached MinIO")
	}
	ups, err := r.direct(t).ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("lake")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Fatalf("%d multipart uploads left open", len(ups.Uploads))
	}
}
