package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReferenceIsCurrent: docs/config.md is what the generator writes from
// proxy/config.go today.
func TestReferenceIsCurrent(t *testing.T) {
	var b bytes.Buffer
	if err := write(&b, "../../proxy/config.go"); err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Fatal("docs/config.md is stale: run go run ./internal/configdoc > docs/config.md")
	}
	for _, want := range []string{"`postgres.credentials.admin_dsn_file`", "`s3.credentials.scope_down`", "`audit.key_file`", "`task.ttl` | duration"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the reference lacks %s", want)
		}
	}
}

// TestUndocumentedField: a field without a comment is an error, not a
// silent gap in the reference.
func TestUndocumentedField(t *testing.T) {
	src := filepath.Join(t.TempDir(), "config.go")
	os.WriteFile(src, []byte("package proxy\n\ntype Config struct {\n\t// Mode is documented.\n\tMode string `yaml:\"mode\"`\n\tSecret string `yaml:\"secret\"`\n}\n"), 0o600)
	err := write(&bytes.Buffer{}, src)
	if err == nil || !strings.Contains(err.Error(), "secret is not documented") {
		t.Fatalf("got %v", err)
	}
}
