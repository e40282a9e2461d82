package credentials_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/proxy/credentials"
	"github.com/airlockproxy/airlock/proxy/secret"
)

// fakeSTS speaks the STS Query API for AssumeRoleWithWebIdentity (and
// AssumeRole): a form POST in, an XML document out.
type fakeSTS struct {
	*httptest.Server
	canary string

	mu       sync.Mutex
	requests []url.Values
	n        int
	errCode  string // answer every call with this error code
	expiry   time.Time
}

func newFakeSTS(t *testing.T, canary string) *fakeSTS {
	t.Helper()
	f := &fakeSTS{canary: canary, expiry: time.Now().Add(time.Hour).UTC().Truncate(time.Second)}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSTS) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		http.Error(w, "want a form POST", http.StatusBadRequest)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, r.PostForm)
	f.n++
	n, code, expiry := f.n, f.errCode, f.expiry
	f.mu.Unlock()
	action := r.PostForm.Get("Action")
	w.Header().Set("Content-Type", "text/xml")
	if code != "" {
		w.WriteHeader(http.StatusBadRequest)
		// A careless server echoes what it was sent: the token must still
		// not reach an error.
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>%s</Code><Message>Couldn't verify token %s</Message></Error>
  <RequestId>req-err-%d</RequestId>
</ErrorResponse>`, code, r.PostForm.Get("WebIdentityToken"), n)
		return
	}
	fmt.Fprintf(w, `<%[1]sResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <%[1]sResult>
    <Credentials>
      <AccessKeyId>ASIAFAKE%[2]d</AccessKeyId>
      <SecretAccessKey>%[3]s-secret-%[2]d</SecretAccessKey>
      <SessionToken>%[3]s-session-%[2]d</SessionToken>
      <Expiration>%[4]s</Expiration>
    </Credentials>
    <SubjectFromWebIdentityToken>system:serviceaccount:etl:job</SubjectFromWebIdentityToken>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/etl/job</Arn><AssumedRoleId>AROAFAKE:job</AssumedRoleId></AssumedRoleUser>
  </%[1]sResult>
  <ResponseMetadata><RequestId>req-%[2]d</RequestId></ResponseMetadata>
</%[1]sResponse>`, action, n, f.canary, expiry.Format(time.RFC3339))
}

func (f *fakeSTS) set(fn func(f *fakeSTS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeSTS) sent() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.requests...)
}

func webIdentity(t *testing.T, sts *fakeSTS, tokenFile string, mod func(*credentials.AWSOptions)) *credentials.AWSSource {
	t.Helper()
	opts := credentials.AWSOptions{
		Kind:        credentials.SourceWebIdentity,
		RoleARN:     "arn:aws:iam::123456789012:role/etl",
		STSEndpoint: sts.URL,
		Region:      "eu-west-1",
		TokenFile:   tokenFile,
		SessionName: "nightly/sales run#7 ☃",
		Duration:    time.Hour,
	}
	if mod != nil {
		mod(&opts)
	}
	src, err := credentials.NewAWSSource(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestWebIdentity(t *testing.T) {
	t.Parallel()
	const canary = "CANARY-wi-51c2"
	sts := newFakeSTS(t, canary)
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, canary+"-jwt-1\n")
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::lake/raw/*"]}]}`
	src := webIdentity(t, sts, tokenFile, func(o *credentials.AWSOptions) { o.SessionPolicy = policy })

	c, err := src.Obtain(context.Background(), 2*time.Hour)
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	if c.ID != "ASIAFAKE1" || c.AccessKeyID != "ASIAFAKE1" || c.Source != credentials.SourceWebIdentity || c.Upstream != credentials.UpstreamS3 ||
		c.SecretAccessKey.Reveal() != canary+"-secret-1" || c.SessionToken.Reveal() != canary+"-session-1" || !c.Expiry.Equal(sts.expiry) {
		t.Errorf("credential = %+v (expiry %s)", c, c.Expiry)
	}
	req := sts.sent()[0]
	want := map[string]string{
		"Action":           "AssumeRoleWithWebIdentity",
		"Version":          "2011-06-15",
		"RoleArn":          "arn:aws:iam::123456789012:role/etl",
		"WebIdentityToken": canary + "-jwt-1", // the file, trailing newline trimmed
		"RoleSessionName":  "nightly-sales-run-7--",
		"DurationSeconds":  "3600", // asked 2h, capped at Duration
		"Policy":           policy,
	}
	for k, v := range want {
		if got := req.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}

	// A rotated token is read at the next call; validity below Duration
	// is asked for as it is, and never below 15m.
	writeFile(t, tokenFile, canary+"-jwt-2")
	for _, tc := range []struct {
		validity time.Duration
		want     string
	}{{40 * time.Minute, "2400"}, {5 * time.Minute, "900"}} {
		c2, err := src.Obtain(context.Background(), tc.validity)
		if err != nil {
			t.Fatal(err)
		}
		if c2.ID == c.ID {
			t.Errorf("second Obtain returned the same key %s", c.ID)
		}
		all := sts.sent()
		last := all[len(all)-1]
		if got := last.Get("WebIdentityToken"); got != canary+"-jwt-2" {
			t.Errorf("token sent = %q, want the rotated one", got)
		}
		if got := last.Get("DurationSeconds"); got != tc.want {
			t.Errorf("validity %s: DurationSeconds = %s, want %s", tc.validity, got, tc.want)
		}
	}

	if _, err := src.Renew(context.Background(), c, time.Hour); !errors.Is(err, credentials.ErrNoRenew) {
		t.Errorf("Renew = %v, want ErrNoRenew", err)
	}
	if err := src.Revoke(context.Background(), c); !errors.Is(err, credentials.ErrNoRevoke) {
		t.Errorf("Revoke = %v, want ErrNoRevoke: the session stays valid until it expires", err)
	}
	expired := *c
	expired.Expiry = time.Now().Add(-time.Minute)
	if err := src.Revoke(context.Background(), &expired); err != nil {
		t.Errorf("Revoke of an expired session = %v, want nil", err)
	}
	held := strings.Join(src.Secrets(), "\n")
	for _, v := range []string{canary + "-jwt-1", canary + "-jwt-2", canary + "-secret-1", canary + "-session-3"} {
		if !strings.Contains(held, v) {
			t.Errorf("Secrets lacks %s", v)
		}
	}
}

func TestWebIdentityErrors(t *testing.T) {
	t.Parallel()
	const canary = "CANARY-wierr-9e41"
	for _, code := range []string{"AccessDenied", "InvalidIdentityToken", "ExpiredTokenException"} {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			sts := newFakeSTS(t, canary)
			sts.set(func(f *fakeSTS) { f.errCode = code })
			tokenFile := filepath.Join(t.TempDir(), "token")
			writeFile(t, tokenFile, canary+"-jwt")
			var logs syncBuffer
			src := webIdentity(t, sts, tokenFile, func(o *credentials.AWSOptions) {
				o.Log = zerolog.New(&logs).Level(zerolog.DebugLevel)
			})
			_, err := src.Obtain(context.Background(), time.Hour)
			if err == nil {
				t.Fatal("Obtain succeeded")
			}
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != code {
				t.Errorf("error %v: want an APIError with code %s", err, code)
			}
			msg := err.Error()
			if !strings.Contains(msg, "sts AssumeRoleWithWebIdentity (HTTP 400, request id req-err-") ||
				!strings.Contains(msg, code+": Couldn't verify token [REDACTED]") {
				t.Errorf("error = %q", msg)
			}
			for name, text := range map[string]string{"error": msg + fmt.Sprintf(" %+v %#v", err, err), "log": logs.String()} {
				if strings.Contains(text, canary) {
					t.Errorf("%s holds the web identity token: %s", name, text)
				}
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		sts := newFakeSTS(t, canary)
		tokenFile := filepath.Join(t.TempDir(), "token")
		writeFile(t, tokenFile, canary+"-jwt")
		src := webIdentity(t, sts, tokenFile, nil)
		sts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := src.Obtain(ctx, time.Hour)
		if err == nil || !strings.Contains(err.Error(), "sts AssumeRoleWithWebIdentity") || strings.Contains(err.Error(), canary) {
			t.Errorf("Obtain against a closed server = %v", err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		sts := newFakeSTS(t, canary)
		tokenFile := filepath.Join(t.TempDir(), "token")
		writeFile(t, tokenFile, canary+"-jwt")
		src := webIdentity(t, sts, tokenFile, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := src.Obtain(ctx, time.Hour); !errors.Is(err, context.Canceled) {
			t.Errorf("Obtain with a canceled ctx = %v; want context.Canceled", err)
		}
	})
	t.Run("token file gone", func(t *testing.T) {
		t.Parallel()
		sts := newFakeSTS(t, canary)
		tokenFile := filepath.Join(t.TempDir(), "token")
		writeFile(t, tokenFile, canary+"-jwt")
		src := webIdentity(t, sts, tokenFile, nil)
		writeFile(t, tokenFile, "")
		_, err := src.Obtain(context.Background(), time.Hour)
		if err == nil || !strings.Contains(err.Error(), "is empty") || len(sts.sent()) != 0 {
			t.Errorf("Obtain with an empty token file = %v, %d calls", err, len(sts.sent()))
		}
	})
}

func TestAssumeRoleFakeSTS(t *testing.T) {
	t.Parallel()
	const canary = "CANARY-ar-77d0"
	sts := newFakeSTS(t, canary)
	base, err := credentials.NewStaticS3("AKIABASE", writeTemp(t, canary+"-base-secret"), "")
	if err != nil {
		t.Fatal(err)
	}
	src, err := credentials.NewAWSSource(context.Background(), credentials.AWSOptions{
		Kind: credentials.SourceAssumeRole, RoleARN: "arn:aws:iam::123456789012:role/etl", STSEndpoint: sts.URL,
		Base: base, SessionName: strings.Repeat("x", 80), SourceIdentity: "alice@example.com", Duration: 30 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Obtain(context.Background(), time.Hour); err != nil {
		t.Fatal(err)
	}
	req := sts.sent()[0]
	for k, v := range map[string]string{"Action": "AssumeRole", "RoleSessionName": strings.Repeat("x", 64), "SourceIdentity": "alice@example.com",
		"DurationSeconds": "1800", "Policy": ""} {
		if got := req.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if !strings.Contains(strings.Join(src.Secrets(), " "), canary+"-base-secret") {
		t.Error("Secrets lacks the base identity's secret key")
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	writeFile(t, p, content)
	return p
}

func TestAWSSourceConfigErrors(t *testing.T) {
	t.Parallel()
	tokenFile := writeTemp(t, "jwt")
	role := "arn:aws:iam::1:role/etl"
	tests := []struct {
		name string
		opts credentials.AWSOptions
		want string
	}{
		{"unknown kind", credentials.AWSOptions{Kind: "vault"}, `source "vault": want default, assume-role or web-identity`},
		{"duration under 15m", credentials.AWSOptions{Kind: credentials.SourceAssumeRole, RoleARN: role, Duration: 10 * time.Minute},
			"duration: 10m0s is shorter than STS's minimum session of 15m0s"},
		{"duration over 12h", credentials.AWSOptions{Kind: credentials.SourceWebIdentity, RoleARN: role, TokenFile: tokenFile, Duration: 13 * time.Hour},
			"duration: 13h0m0s is longer than STS's maximum session of 12h0m0s"},
		{"no role", credentials.AWSOptions{Kind: credentials.SourceAssumeRole}, `role_arn: "" is not an ARN`},
		{"no token file", credentials.AWSOptions{Kind: credentials.SourceWebIdentity, RoleARN: role}, "token_file: source web-identity needs"},
		{"unreadable token file", credentials.AWSOptions{Kind: credentials.SourceWebIdentity, RoleARN: role, TokenFile: tokenFile + ".missing"},
			"read token_file: open "},
		{"bad policy", credentials.AWSOptions{Kind: credentials.SourceAssumeRole, RoleARN: role, SessionPolicy: "{"}, "session policy is not valid JSON"},
		{"long policy", credentials.AWSOptions{Kind: credentials.SourceAssumeRole, RoleARN: role, SessionPolicy: `"` + strings.Repeat("x", 2050) + `"`},
			"session policy is 2052 characters; STS takes at most 2048"},
		{"bad endpoint", credentials.AWSOptions{Kind: credentials.SourceAssumeRole, RoleARN: role, STSEndpoint: "sts.local"}, `sts_endpoint: "sts.local" is not an http(s) URL`},
		{"bad source identity", credentials.AWSOptions{Kind: credentials.SourceAssumeRole, RoleARN: role, SourceIdentity: "a b"}, `source_identity: "a b"`},
		{"fields of another kind", credentials.AWSOptions{Kind: credentials.SourceDefault, RoleARN: role, TokenFile: tokenFile},
			"role_arn: not used by source default\ntoken_file: not used by source default"},
		{"base for web identity", credentials.AWSOptions{Kind: credentials.SourceWebIdentity, RoleARN: role, TokenFile: tokenFile,
			Base: aws.AnonymousCredentials{}}, "base: not used by source web-identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := credentials.NewAWSSource(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewAWSSource = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestDefaultSource reads the SDK's default chain from the environment,
// with the shared files empty (t.Setenv: not parallel).
func TestDefaultSource(t *testing.T) {
	const canary = "CANARY-def-3a1f"
	dir := t.TempDir()
	for _, name := range []string{"config", "credentials"} {
		writeFile(t, filepath.Join(dir, name), "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIADEFAULT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", canary+"-secret")
	t.Setenv("AWS_SESSION_TOKEN", canary+"-token")

	src, err := credentials.NewAWSSource(context.Background(), credentials.AWSOptions{Kind: credentials.SourceDefault})
	if err != nil {
		t.Fatal(err)
	}
	c, err := src.Obtain(context.Background(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "AKIADEFAULT" || c.Source != credentials.SourceDefault || c.SecretAccessKey.Reveal() != canary+"-secret" ||
		c.SessionToken.Reveal() != canary+"-token" || !c.Expiry.IsZero() {
		t.Errorf("credential = %+v", c)
	}
	if !strings.Contains(strings.Join(src.Secrets(), " "), canary+"-token") {
		t.Error("Secrets lacks the session token")
	}

	// Expiring credentials from a credential_process: the broker drives
	// renewal, so each Obtain asks the chain afresh, past the SDK's cache
	// (which would keep the first until it expires).
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	out := filepath.Join(dir, "process.json")
	expiry := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	writeProcess := func(id string) {
		writeFile(t, out, fmt.Sprintf(`{"Version":1,"AccessKeyId":%q,"SecretAccessKey":"%s-ps","SessionToken":"%s-pt","Expiration":%q}`,
			id, canary, canary, expiry.Format(time.RFC3339)))
	}
	writeProcess("ASIAPROC1")
	writeFile(t, filepath.Join(dir, "config"), "[default]\ncredential_process = cat "+out+"\n")
	proc, err := credentials.NewAWSSource(context.Background(), credentials.AWSOptions{Kind: credentials.SourceDefault})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ASIAPROC1", "ASIAPROC2"} {
		writeProcess(id)
		c, err := proc.Obtain(context.Background(), time.Hour)
		if err != nil || c.ID != id || !c.Expiry.Equal(expiry) || c.SessionToken.Reveal() != canary+"-pt" {
			t.Errorf("Obtain = %+v, %v; want %s expiring at %s", c, err, id, expiry)
		}
	}
	if _, err := proc.Renew(context.Background(), nil, time.Hour); !errors.Is(err, credentials.ErrNoRenew) {
		t.Errorf("Renew = %v, want ErrNoRenew", err)
	}

	writeFile(t, filepath.Join(dir, "config"), "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	empty, err := credentials.NewAWSSource(context.Background(), credentials.AWSOptions{Kind: credentials.SourceDefault})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := empty.Obtain(ctx, time.Hour); err == nil || !strings.HasPrefix(err.Error(), "aws default credential chain") {
		t.Errorf("Obtain from an empty chain = %v", err)
	}
}

func TestStaticS3(t *testing.T) {
	t.Parallel()
	const canary = "CANARY-st-0b7e"
	fromFile, err := credentials.NewStaticS3("AKIASTATIC", writeTemp(t, canary+"\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := fromFile.Obtain(context.Background(), time.Hour)
	if err != nil || c.ID != "AKIASTATIC" || c.AccessKeyID != "AKIASTATIC" || c.SecretAccessKey.Reveal() != canary ||
		c.Source != credentials.SourceStatic || c.Upstream != credentials.UpstreamS3 || !c.Expiry.IsZero() || !c.SessionToken.IsZero() {
		t.Fatalf("Obtain = %+v, %v", c, err)
	}
	if r, err := fromFile.Renew(context.Background(), c, time.Hour); r != c || err != nil {
		t.Errorf("Renew = %v, %v; want c unchanged", r, err)
	}
	if err := fromFile.Revoke(context.Background(), c); !errors.Is(err, credentials.ErrNoRevoke) {
		t.Errorf("Revoke = %v", err)
	}
	if ac, err := fromFile.Retrieve(context.Background()); err != nil || ac.AccessKeyID != "AKIASTATIC" || ac.SecretAccessKey != canary {
		t.Errorf("Retrieve = %+v, %v", ac, err)
	}
	if got := fromFile.Secrets(); len(got) != 1 || got[0] != canary {
		t.Errorf("Secrets = %q", got)
	}
	for _, tc := range []struct {
		id, file, env, want string
	}{
		{"AKIA", "", "", "needs secret_access_key_file or secret_access_key_env"},
		{"", writeTemp(t, "x"), "", "needs access_key_id"},
		{"AKIA", "/nonexistent/secret", "", "read secret_access_key_file"},
		{"AKIA", "", "AIRLOCK_TEST_UNSET_VARIABLE_7c1", "secret_access_key_env: AIRLOCK_TEST_UNSET_VARIABLE_7c1 is not set"},
		{"AKIA", writeTemp(t, "\n"), "", "the secret access key is empty"},
	} {
		if _, err := credentials.NewStaticS3(tc.id, tc.file, tc.env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewStaticS3(%q, %q, %q) = %v, want %q", tc.id, tc.file, tc.env, err, tc.want)
		}
	}
}

func TestCredentialsProvider(t *testing.T) {
	t.Parallel()
	expiry := time.Now().Add(time.Hour)
	var cur *credentials.Credential
	var curErr error
	p := credentials.CredentialsProvider(func() (*credentials.Credential, error) { return cur, curErr })

	cur = &credentials.Credential{ID: "ASIA1", Source: credentials.SourceAssumeRole, Upstream: credentials.UpstreamS3, Expiry: expiry,
		AccessKeyID: "ASIA1", SecretAccessKey: secret.New("sk"), SessionToken: secret.New("tok")}
	got, err := p.Retrieve(context.Background())
	want := aws.Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "sk", SessionToken: "tok", Source: "airlock-assume-role", CanExpire: true, Expires: expiry}
	if err != nil || got != want {
		t.Errorf("Retrieve = %+v, %v; want %+v", got, err, want)
	}
	cur = &credentials.Credential{ID: "AKIA2", Source: credentials.SourceStatic, AccessKeyID: "AKIA2", SecretAccessKey: secret.New("sk2")}
	if got, _ := p.Retrieve(context.Background()); got.CanExpire || got.AccessKeyID != "AKIA2" {
		t.Errorf("Retrieve of a static key = %+v", got)
	}
	cur = &credentials.Credential{ID: "pg", User: "etl", Password: secret.New("pw")}
	if _, err := p.Retrieve(context.Background()); err == nil {
		t.Error("Retrieve of a PostgreSQL login: no error")
	}
	curErr = &credentials.ExpiredError{Upstream: "s3", Expiry: expiry}
	var exp *credentials.ExpiredError
	if _, err := p.Retrieve(context.Background()); !errors.As(err, &exp) {
		t.Errorf("Retrieve after expiry = %v; want the broker's ExpiredError", err)
	}
}

// TestAWSSecretsCanary formats every value the sources hand out and looks
// for the secrets in them.
func TestAWSSecretsCanary(t *testing.T) {
	t.Parallel()
	const canary = "CANARY-fmt-d4e2"
	sts := newFakeSTS(t, canary)
	tokenFile := writeTemp(t, canary+"-jwt")
	var logs syncBuffer
	src := webIdentity(t, sts, tokenFile, func(o *credentials.AWSOptions) { o.Log = zerolog.New(&logs).Level(zerolog.DebugLevel) })
	c, err := src.Obtain(context.Background(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	static, err := credentials.NewStaticS3("AKIA", writeTemp(t, canary+"-static"), "")
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := static.Obtain(context.Background(), time.Hour)
	var b bytes.Buffer
	for _, v := range []any{c, *c, sc, *sc, static, *static} {
		fmt.Fprintf(&b, "%v %+v %#v %s\n", v, v, v, v)
	}
	zl := zerolog.New(&b)
	zl.Info().Interface("credential", c).Interface("static", static).Msg("")
	b.WriteString(logs.String())
	if strings.Contains(b.String(), canary) {
		t.Errorf("a formatted credential or the log holds a secret:\n%s", b.String())
	}
	if n := len(src.Secrets()); n != 3 {
		t.Errorf("Secrets has %d values, want the token, the secret key and the session token", n)
	}
}
