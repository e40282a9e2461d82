package credentials_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/internal/miniotest"
	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/proxy/credentials"
)

// minioRole is any syntactically valid role ARN: MinIO's AssumeRole
// ignores it.
const minioRole = "arn:aws:iam::000000000000:role/etl"

// minioFixture is a MinIO server with bucket lake holding raw/a.csv and
// curated/old.csv, written as the root user.
type minioFixture struct {
	srv  *miniotest.Server
	root *credentials.StaticS3
}

func startMinIO(t *testing.T) *minioFixture {
	t.Helper()
	srv := miniotest.Start(t)
	srv.MakeBucket(t, "lake")
	secretFile := filepath.Join(t.TempDir(), "root-secret")
	writeFile(t, secretFile, srv.SecretKey+"\n")
	root, err := credentials.NewStaticS3(srv.AccessKey, secretFile, "")
	if err != nil {
		t.Fatal(err)
	}
	f := &minioFixture{srv: srv, root: root}
	rootClient := f.client(root)
	for _, key := range []string{"raw/a.csv", "curated/old.csv", "other/b.csv"} {
		if err := put(rootClient, key); err != nil {
			t.Fatalf("put %s as root: %v", key, err)
		}
	}
	return f
}

// assumeRole builds an assume-role source against the server with root as
// the base identity.
func (f *minioFixture) assumeRole(t *testing.T, policy string, now func() time.Time) *credentials.AWSSource {
	t.Helper()
	src, err := credentials.NewAWSSource(context.Background(), credentials.AWSOptions{
		Kind:          credentials.SourceAssumeRole,
		RoleARN:       minioRole,
		STSEndpoint:   f.srv.Endpoint,
		Region:        f.srv.Region,
		SessionPolicy: policy,
		SessionName:   "job 42/run#1",
		Base:          f.root,
		Now:           now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// client is an S3 client for the server with p's credentials.
func (f *minioFixture) client(p aws.CredentialsProvider) *s3.Client {
	return s3.New(s3.Options{
		Region:       f.srv.Region,
		BaseEndpoint: aws.String(f.srv.Endpoint),
		UsePathStyle: true,
		Credentials:  p,
	})
}

// static is a provider of exactly c.
func static(c *credentials.Credential) aws.CredentialsProvider {
	return credentials.CredentialsProvider(func() (*credentials.Credential, error) { return c, nil })
}

func put(c *s3.Client, key string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(key),
		Body: bytes.NewReader([]byte("id,amount\n1,2\n"))})
	return err
}

func get(c *s3.Client, key string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String(key)})
	if err != nil {
		return err
	}
	defer out.Body.Close()
	_, err = io.Copy(io.Discard, out.Body)
	return err
}

func list(c *s3.Client, prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lake"), Prefix: aws.String(prefix)})
	return err
}

// accessDenied reports whether err is S3's AccessDenied.
func accessDenied(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "AccessDenied"
}

func TestAssumeRoleMinIO(t *testing.T) {
	t.Parallel()
	f := startMinIO(t)
	src := f.assumeRole(t, "", nil)
	c, err := src.Obtain(context.Background(), time.Hour)
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	if c.ID != c.AccessKeyID || c.ID == f.srv.AccessKey || c.Source != credentials.SourceAssumeRole ||
		c.Upstream != credentials.UpstreamS3 || c.SessionToken.IsZero() || c.SecretAccessKey.IsZero() {
		t.Errorf("credential = %+v", c)
	}
	// Asked for an hour; Duration (15m by default) caps the session.
	if left := time.Until(c.Expiry); left < 14*time.Minute || left > 16*time.Minute {
		t.Errorf("session lasts %s, want about 15m", left)
	}
	cl := f.client(static(c))
	if err := put(cl, "curated/new.csv"); err != nil {
		t.Errorf("put with the session: %v", err)
	}
	if err := get(cl, "raw/a.csv"); err != nil {
		t.Errorf("get with the session: %v", err)
	}
	if _, err := src.Renew(context.Background(), c, time.Hour); !errors.Is(err, credentials.ErrNoRenew) {
		t.Errorf("Renew = %v, want ErrNoRenew", err)
	}
	if err := src.Revoke(context.Background(), c); !errors.Is(err, credentials.ErrNoRevoke) {
		t.Errorf("Revoke = %v, want ErrNoRevoke", err)
	}
	held := strings.Join(src.Secrets(), " ")
	for name, v := range map[string]string{"secret key": c.SecretAccessKey.Reveal(), "session token": c.SessionToken.Reveal(), "base secret key": f.srv.SecretKey} {
		if !strings.Contains(held, v) {
			t.Errorf("Secrets lacks the %s", name)
		}
	}
}

// TestSessionPolicyMinIO: a session policy narrows what the session can
// do, whatever the base identity (here MinIO's root) may.
func TestSessionPolicyMinIO(t *testing.T) {
	t.Parallel()
	f := startMinIO(t)
	const onlyRaw = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::lake/raw/*"]}]}`
	c, err := f.assumeRole(t, onlyRaw, nil).Obtain(context.Background(), time.Hour)
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	cl := f.client(static(c))
	if err := get(cl, "raw/a.csv"); err != nil {
		t.Errorf("GetObject under raw/: %v", err)
	}
	if err := put(cl, "raw/new.csv"); !accessDenied(err) {
		t.Errorf("PutObject = %v, want AccessDenied", err)
	}
	if err := get(cl, "curated/old.csv"); !accessDenied(err) {
		t.Errorf("GetObject outside raw/ = %v, want AccessDenied", err)
	}
}

// TestAssumeRoleBrokerMinIO drives an assume-role source through a real
// Broker on a fake clock: at two thirds of the session the broker asks
// for a new one (STS cannot extend a session), holds the new access key,
// and keeps the old one as retired until Stop.
func TestAssumeRoleBrokerMinIO(t *testing.T) {
	t.Parallel()
	f := startMinIO(t)
	clock := &fakeClock{now: time.Now()} // MinIO's expiries are on the real clock
	start := clock.Now()
	src := f.assumeRole(t, "", clock.Now)
	rec := &recorder{}
	logs := &syncBuffer{}
	b := credentials.NewBroker(credentials.BrokerOptions{
		Recorder: rec, Log: zerolog.New(logs), Now: clock.Now, After: clock.After, Jitter: noJitter,
		Deadline: start.Add(time.Hour),
	})
	b.Add(credentials.UpstreamS3, src, credentials.SourceAssumeRole, 5*time.Minute)
	t.Cleanup(func() { _ = b.Stop(context.Background()) })
	if err := b.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	current := func() (*credentials.Credential, error) { return b.Current(credentials.UpstreamS3) }
	first, err := current()
	if err != nil {
		t.Fatal(err)
	}
	// The broker asked for 1h5m; the session is Duration's 15m.
	if life := first.Expiry.Sub(start); life < 14*time.Minute || life > 16*time.Minute {
		t.Errorf("first session lasts %s, want about 15m", life)
	}
	if err := put(f.client(credentials.CredentialsProvider(current)), "curated/first.csv"); err != nil {
		t.Errorf("put with the broker's credential: %v", err)
	}

	at, _ := clock.Wake(t) // the renewal
	if d := at.Sub(start); d < 9*time.Minute || d > 11*time.Minute {
		t.Errorf("renewed after %s, want about 10m (two thirds of 15m)", d)
	}
	second, err := current()
	if err != nil {
		t.Fatal(err)
	}
	if second.ID == first.ID {
		t.Fatalf("renewal kept access key %s; want a new session", first.ID)
	}
	if got := b.List(); len(got) != 1 || got[0].ID != second.ID {
		t.Errorf("List = %+v, want only %s", got, second.ID)
	}
	want := []string{"issued " + first.ID, "issued " + second.ID}
	if got := rec.statuses(); !slices.Equal(got, want) {
		t.Errorf("records = %q, want %q", got, want)
	}
	if r := rec.last(); r.Detail != "replaces "+first.ID {
		t.Errorf("replacement record detail = %q", r.Detail)
	}
	// The retired session still works (STS cannot end it) and its secrets
	// are still kept from the child.
	held := strings.Join(b.Secrets(), " ")
	for _, c := range []*credentials.Credential{first, second} {
		if !strings.Contains(held, c.SessionToken.Reveal()) {
			t.Errorf("broker Secrets lacks %s's session token", c.ID)
		}
		if err := get(f.client(static(c)), "raw/a.csv"); err != nil {
			t.Errorf("get with %s: %v", c.ID, err)
		}
	}
	p := credentials.CredentialsProvider(current)
	if ac, err := p.Retrieve(context.Background()); err != nil || ac.AccessKeyID != second.ID || !ac.CanExpire || !ac.Expires.Equal(second.Expiry) {
		t.Errorf("provider Retrieve = %s, %v; want %s", ac.AccessKeyID, err, second.ID)
	}
	if err := get(f.client(p), "curated/first.csv"); err != nil {
		t.Errorf("get with the renewed credential: %v", err)
	}

	if err := b.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// Unexpired STS sessions cannot be revoked: a released record and a
	// warning each (Stop revokes in parallel: compare as sets).
	for _, w := range slices.Clone(want) {
		want = append(want, "released "+strings.TrimPrefix(w, "issued "))
	}
	got := rec.statuses()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("records after Stop = %q, want %q", got, want)
	}
	if n := strings.Count(logs.String(), "cannot be revoked"); n != 2 {
		t.Errorf("%d cannot-be-revoked warnings, want 2:\n%s", n, logs)
	}
	if _, err := p.Retrieve(context.Background()); err == nil {
		t.Error("provider after Stop: no error")
	}
}

// TestScopeDownMinIO generates the session policy from rules, assumes the
// role with it, and checks that MinIO allows what the rules allow and
// denies the rest, as Airlock's engine decides it.
func TestScopeDownMinIO(t *testing.T) {
	t.Parallel()
	rules := []policy.Rule{
		{Name: "write-curated", Allow: `s3.action == "PutObject" && s3.bucket == "lake" && s3.key.startsWith("curated/" + task.id + "/")`},
		{Name: "read-raw", Allow: `s3.action in ["GetObject", "HeadObject"] && s3.bucket == "lake" && s3.key.glob("raw/**")`},
		{Name: "list-raw", Allow: `s3.action == "ListObjectsV2" && s3.bucket == "lake" && s3.prefix.startsWith("raw/")`},
	}
	task := policy.Task{ID: "job-1"}
	doc, notes, err := policy.ScopeDownPolicy(rules, &task)
	if err != nil || len(notes) != 0 {
		t.Fatalf("ScopeDownPolicy = %v, notes %q", err, notes)
	}
	engine, err := policy.Compile(rules, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := startMinIO(t)
	c, err := f.assumeRole(t, doc, nil).Obtain(context.Background(), time.Hour)
	if err != nil {
		t.Fatalf("Obtain with the scope-down policy: %v\n%s", err, doc)
	}
	cl := f.client(static(c))
	checks := []struct {
		action, key, prefix string
		allow               bool
		do                  func() error
	}{
		{"PutObject", "curated/job-1/out.csv", "", true, func() error { return put(cl, "curated/job-1/out.csv") }},
		{"PutObject", "curated/job-2/out.csv", "", false, func() error { return put(cl, "curated/job-2/out.csv") }},
		{"PutObject", "raw/x.csv", "", false, func() error { return put(cl, "raw/x.csv") }},
		{"GetObject", "raw/a.csv", "", true, func() error { return get(cl, "raw/a.csv") }},
		{"GetObject", "other/b.csv", "", false, func() error { return get(cl, "other/b.csv") }},
		{"GetObject", "curated/old.csv", "", false, func() error { return get(cl, "curated/old.csv") }},
		{"ListObjectsV2", "", "raw/", true, func() error { return list(cl, "raw/") }},
		{"ListObjectsV2", "", "other/", false, func() error { return list(cl, "other/") }},
		{"ListObjectsV2", "", "", false, func() error { return list(cl, "") }},
	}
	// The widest policy the generator writes for data operations (a rule
	// naming only a bucket) is accepted too: MinIO knows every action in it.
	wide, _, err := policy.ScopeDownPolicy([]policy.Rule{{Name: "lake", Allow: `s3.bucket == "lake"`}}, &task)
	if err != nil {
		t.Fatal(err)
	}
	wc, err := f.assumeRole(t, wide, nil).Obtain(context.Background(), time.Hour)
	if err != nil {
		t.Fatalf("Obtain with %s: %v", wide, err)
	}
	if err := put(f.client(static(wc)), "anywhere/x.csv"); err != nil {
		t.Errorf("put with the bucket-wide policy: %v", err)
	}
	for _, ck := range checks {
		req := policy.Request{Protocol: policy.ProtocolS3, Task: task,
			S3: policy.S3{Action: ck.action, Bucket: "lake", Key: ck.key, Prefix: ck.prefix}}
		if d := engine.Decide(&req); d.Allow != ck.allow {
			t.Fatalf("test is broken: the engine decides %s %s%s: %v", ck.action, ck.key, ck.prefix, d.Allow)
		}
		err := ck.do()
		switch {
		case ck.allow && err != nil:
			t.Errorf("%s %s%s: %v; the rules allow it", ck.action, ck.key, ck.prefix, err)
		case !ck.allow && !accessDenied(err):
			t.Errorf("%s %s%s = %v; want AccessDenied, as the rules deny it", ck.action, ck.key, ck.prefix, err)
		}
	}
}
