package certs_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/certs"
)

func TestWriteCertFile(t *testing.T) {
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		path  func(dir string) string
		setup func(t *testing.T, path string)
	}{
		{"new file", func(dir string) string { return filepath.Join(dir, "ca.pem") }, nil},
		{"missing parent directories", func(dir string) string { return filepath.Join(dir, "run", "airlock", "ca.pem") }, nil},
		{
			"replaces an existing file",
			func(dir string) string { return filepath.Join(dir, "ca.pem") },
			func(t *testing.T, path string) {
				if err := os.WriteFile(path, []byte("old contents"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tt.path(dir)
			if tt.setup != nil {
				tt.setup(t, path)
			}
			if err := ca.WriteCertFile(path); err != nil {
				t.Fatalf("WriteCertFile: %v", err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(data, []byte("PRIVATE KEY")) {
				t.Fatal("file contains a private key")
			}
			if !bytes.Equal(data, ca.CertPEM()) {
				t.Error("file differs from CertPEM()")
			}
			block, rest := pem.Decode(data)
			if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
				t.Fatal("file is not exactly one CERTIFICATE PEM block")
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if !cert.Equal(ca.Certificate()) {
				t.Error("written certificate is not the CA's")
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o644 {
				t.Errorf("mode = %v, want 0644", fi.Mode().Perm())
			}
			entries, err := os.ReadDir(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("directory holds %d entries, want only ca.pem (temporary file left behind?)", len(entries))
			}
		})
	}
}

func TestWriteCertFileErrors(t *testing.T) {
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	notDir := writeFile(t, dir, "file", []byte("x"))
	tests := []struct {
		name string
		path string
		want string
	}{
		{"parent is a file", filepath.Join(notDir, "ca.pem"), "create directory"},
		{"target is a directory", dir, "rename into place"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ca.WriteCertFile(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("%s holds %d entries after failed writes, want 1 (temporary files left behind?)", dir, len(entries))
	}
}
