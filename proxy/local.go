package proxy

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/airlockproxy/airlock/proxy/secret"
)

// LocalSecrets holds this run's local-only secrets: what the task presents to
// Airlock. They are useless anywhere else and die with the process.
type LocalSecrets struct {
	// PGToken is the PostgreSQL password the task logs in to Airlock with.
	PGToken secret.Secret
	// S3KeyID and S3Secret are the key pair the task signs S3 requests with.
	S3KeyID  string
	S3Secret secret.Secret
}

// NewLocalSecrets draws fresh random local secrets.
func NewLocalSecrets() (*LocalSecrets, error) {
	tok, err := randomString(32)
	if err != nil {
		return nil, fmt.Errorf("draw local token: %w", err)
	}
	key, err := randomString(30)
	if err != nil {
		return nil, fmt.Errorf("draw local S3 key: %w", err)
	}
	var id [10]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("draw local S3 key id: %w", err)
	}
	return &LocalSecrets{
		PGToken:  secret.New(tok),
		S3KeyID:  "AKAIRLOCK" + strings.ToUpper(base32NoPad(id[:])),
		S3Secret: secret.New(key),
	}, nil
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func base32NoPad(b []byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var out []byte
	var buf, bits uint
	for _, c := range b {
		buf = buf<<8 | uint(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, alphabet[(buf>>bits)&31])
		}
	}
	return string(out)
}

// taskEnv builds the task's connection variables from the listeners'
// actual addresses.
func taskEnv(cfg *Config, local *LocalSecrets, addrs map[string]net.Addr, caFile, bundleFile, adminURL string) []string {
	vars := map[string]string{
		"AIRLOCK_TASK_ID":   cfg.Task.ID,
		"AIRLOCK_ADMIN_URL": adminURL,
	}
	if caFile != "" {
		vars["AIRLOCK_CA_FILE"] = caFile
		vars["NODE_EXTRA_CA_CERTS"] = caFile
		vars["SSL_CERT_FILE"] = bundleFile
		vars["REQUESTS_CA_BUNDLE"] = bundleFile
		vars["CURL_CA_BUNDLE"] = bundleFile
	}
	if a, ok := addrs["postgres"]; ok && cfg.Postgres != nil {
		host, port, _ := net.SplitHostPort(a.String())
		vars["PGHOST"] = host
		vars["PGPORT"] = port
		vars["PGUSER"] = "airlock"
		vars["PGDATABASE"] = cfg.Postgres.Upstream.Database
		vars["PGPASSWORD"] = local.PGToken.Reveal()
		vars["PGSSLROOTCERT"] = caFile
	}
	if a, ok := addrs["s3"]; ok && cfg.S3 != nil {
		scheme := "https"
		if cfg.S3.PlainHTTP {
			scheme = "http"
		}
		vars["AWS_ENDPOINT_URL"] = scheme + "://" + a.String()
		vars["AWS_ENDPOINT_URL_S3"] = scheme + "://" + a.String()
		vars["AWS_ACCESS_KEY_ID"] = local.S3KeyID
		vars["AWS_SECRET_ACCESS_KEY"] = local.S3Secret.Reveal()
		vars["AWS_REGION"] = cfg.S3.Upstream.Region
		vars["AWS_DEFAULT_REGION"] = cfg.S3.Upstream.Region
		vars["AWS_EC2_METADATA_DISABLED"] = "true"
		if caFile != "" {
			vars["AWS_CA_BUNDLE"] = bundleFile
		}
	}
	if a, ok := addrs["http_proxy"]; ok && cfg.Egress != nil {
		vars["HTTPS_PROXY"] = "http://" + a.String()
		vars["HTTP_PROXY"] = "http://" + a.String()
		vars["NO_PROXY"] = "127.0.0.1,localhost,::1"
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	slices.Sort(out)
	return out
}

// Families of variables that carry credentials; the child never inherits
// them from Airlock's own environment.
var scrubbedPrefixes = []string{"AWS_", "PG", "VAULT_", "AIRLOCK_", "AZURE_", "GOOGLE_", "GCP_", "DATABASE_URL", "KUBECONFIG"}

// childEnv is the child's environment: Airlock's own minus anything that
// could carry a credential (the families above, the variables the config
// names, and any variable whose value carries a held secret, see
// carriesSecret), plus the task's connection variables. It also returns
// the names of the variables withheld for carrying a secret.
func childEnv(parent []string, named []string, secrets []string, task []string) (env, withheld []string) {
	forms := secretForms(secrets)
	out := make([]string, 0, len(parent)+len(task))
next:
	for _, kv := range parent {
		k, v, _ := strings.Cut(kv, "=")
		for _, p := range scrubbedPrefixes {
			if strings.HasPrefix(k, p) {
				continue next
			}
		}
		if slices.Contains(named, k) {
			continue
		}
		if carriesSecret(v, forms) {
			withheld = append(withheld, k)
			continue
		}
		out = append(out, kv)
	}
	return append(out, task...), withheld
}

// secretForms lists each non-empty secret as written and in the encodings
// a value may carry it in: percent-encoded as in a URL path, a query or
// userinfo (which escape different characters), and twice.
func secretForms(secrets []string) []string {
	var out []string
	add := func(f string) {
		if f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	for _, s := range secrets {
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		add(url.UserPassword("u", s).String()[2:])
		// Encoded twice: decoding alone can miss these when a stray '%'
		// just before joins the secret's first characters.
		add(url.QueryEscape(url.QueryEscape(s)))
		add(url.PathEscape(url.PathEscape(s)))
	}
	return out
}

// maxDecode bounds how many layers of percent-encoding carriesSecret peels.
const maxDecode = 3

// carriesSecret reports whether v contains one of forms, as written, with
// backslash escapes removed (a JSON or shell value), or after undoing up to
// maxDecode layers of percent-encoding (either case of hex digits, '+' as a
// space or not).
func carriesSecret(v string, forms []string) bool {
	seen := map[string]bool{}
	queue := []string{v}
	if strings.Contains(v, `\`) {
		queue = append(queue, unbackslash(v))
	}
	for range maxDecode + 1 {
		var next []string
		for _, c := range queue {
			if seen[c] {
				continue
			}
			seen[c] = true
			for _, f := range forms {
				if strings.Contains(c, f) {
					return true
				}
			}
			if !strings.Contains(c, "%") && !strings.Contains(c, "+") {
				continue
			}
			if d, err := url.PathUnescape(c); err == nil {
				next = append(next, d)
			}
			if d, err := url.QueryUnescape(c); err == nil {
				next = append(next, d)
			}
			next = append(next, lenientUnescape(c))
		}
		queue = next
	}
	return false
}

// unbackslash drops each backslash that escapes the next byte.
func unbackslash(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// lenientUnescape decodes every valid %XX and leaves the rest, so that one
// stray '%' does not hide an encoded secret next to it.
func lenientUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// writeLocalFiles writes run mode's files for the task into dir: pg-token,
// aws-credentials (shared-credentials format), env (sourceable). ca.pem is
// written by the caller. Files are 0640 in a 0750 directory. Each file is
// replaced atomically, and env is written last: a task that sees env can read
// the others.
func writeLocalFiles(dir string, local *LocalSecrets, env []string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create local dir: %w", err)
	}
	var sh strings.Builder
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&sh, "export %s=%s\n", k, shellQuote(v))
	}
	files := []struct{ name, content string }{
		{"pg-token", local.PGToken.Reveal() + "\n"},
		{"aws-credentials", fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
			local.S3KeyID, local.S3Secret.Reveal())},
		{"env", sh.String()},
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(dir, f.name), []byte(f.content), 0o640); err != nil {
			return err
		}
	}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
