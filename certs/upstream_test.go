package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/certs"
)

// upstreamPKI is a set of files and servers for the UpstreamTLS tests.
type upstreamPKI struct {
	caFile      string // the CA that signed the db.internal server
	otherCAFile string // a CA that signed nothing here
	garbageFile string
	clientCert  string // signed by clientCA
	clientKey   string
	strangerKey string // a key that matches no certificate
	dbAddr      string // server with a cert for db.internal only
	selfAddr    string // server with a self-signed cert
	mtlsAddr    string // server that requires a client cert from clientCA
}

func newUpstreamPKI(t *testing.T) upstreamPKI {
	t.Helper()
	dir := t.TempDir()
	var p upstreamPKI

	serverCA, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.caFile = filepath.Join(dir, "ca.pem")
	if err := serverCA.WriteCertFile(p.caFile); err != nil {
		t.Fatal(err)
	}
	otherCA, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.otherCAFile = filepath.Join(dir, "other-ca.pem")
	if err := otherCA.WriteCertFile(p.otherCAFile); err != nil {
		t.Fatal(err)
	}
	p.garbageFile = writeFile(t, dir, "garbage.pem", []byte("not a certificate"))

	dbLeaf, err := serverCA.Issue([]string{"db.internal"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p.dbAddr = startServer(t, "tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*dbLeaf}})

	self := newTestCert(t, leafTemplate("self.internal", x509.ExtKeyUsageServerAuth, "self.internal"), ecKey(t), nil)
	p.selfAddr = startServer(t, "tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{
		Certificate: [][]byte{self.cert.Raw}, PrivateKey: self.key, Leaf: self.cert,
	}}})

	now := time.Now()
	clientCA := newTestCert(t, caTemplate("Client CA", now.Add(-time.Hour), now.Add(time.Hour)), ecKey(t), nil)
	client := newTestCert(t, leafTemplate("etl-task", x509.ExtKeyUsageClientAuth), ecKey(t), &clientCA)
	p.clientCert = writeFile(t, dir, "client.pem", client.certPEM())
	p.clientKey = writeFile(t, dir, "client-key.pem", client.keyPEM(t, "ec"))
	p.strangerKey = writeFile(t, dir, "stranger-key.pem", testCert{key: ecKey(t)}.keyPEM(t, "pkcs8"))
	clientPool := x509.NewCertPool()
	clientPool.AddCert(clientCA.cert)
	p.mtlsAddr = startServer(t, "tcp4", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{*dbLeaf},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientPool,
	})
	return p
}

func TestUpstreamTLSConnect(t *testing.T) {
	p := newUpstreamPKI(t)
	tests := []struct {
		name    string
		cfg     certs.UpstreamTLS
		host    string
		addr    string
		want    string // the server's answer; empty means the connection must fail
		wantErr string // for failures, a fragment of the error
	}{
		{"verify-full, name matches via host", certs.UpstreamTLS{Mode: "verify-full", CAFile: p.caFile}, "db.internal", p.dbAddr, "ok", ""},
		{"verify-full, name matches via server_name", certs.UpstreamTLS{Mode: "verify-full", CAFile: p.caFile, ServerName: "db.internal"}, "127.0.0.1", p.dbAddr, "ok", ""},
		{"verify-full, cert for another name", certs.UpstreamTLS{Mode: "verify-full", CAFile: p.caFile}, "pg.internal", p.dbAddr, "", "valid for db.internal, not pg.internal"},
		{"verify-full, cert without the IP", certs.UpstreamTLS{Mode: "verify-full", CAFile: p.caFile}, "127.0.0.1", p.dbAddr, "", "IP SANs"},
		{"verify-full, server_name wrong", certs.UpstreamTLS{Mode: "verify-full", CAFile: p.caFile, ServerName: "other.internal"}, "db.internal", p.dbAddr, "", "other.internal"},
		{"default mode is verify-full", certs.UpstreamTLS{CAFile: p.caFile}, "pg.internal", p.dbAddr, "", "not pg.internal"},
		{"verify-full, wrong CA", certs.UpstreamTLS{Mode: "verify-full", CAFile: p.otherCAFile}, "db.internal", p.dbAddr, "", "unknown authority"},
		{"verify-full, self-signed", certs.UpstreamTLS{Mode: "verify-full", CAFile: p.caFile}, "self.internal", p.selfAddr, "", "unknown authority"},
		{"verify-ca, cert for another name", certs.UpstreamTLS{Mode: "verify-ca", CAFile: p.caFile}, "127.0.0.1", p.dbAddr, "ok", ""},
		{"verify-ca, wrong CA", certs.UpstreamTLS{Mode: "verify-ca", CAFile: p.otherCAFile}, "127.0.0.1", p.dbAddr, "", "verify server chain"},
		{"verify-ca, system roots", certs.UpstreamTLS{Mode: "verify-ca"}, "127.0.0.1", p.dbAddr, "", "verify server chain"},
		{"verify-ca, self-signed", certs.UpstreamTLS{Mode: "verify-ca", CAFile: p.caFile}, "127.0.0.1", p.selfAddr, "", "verify server chain"},
		{"require, self-signed", certs.UpstreamTLS{Mode: "require"}, "127.0.0.1", p.selfAddr, "ok", ""},
		{"require, another name", certs.UpstreamTLS{Mode: "require"}, "127.0.0.1", p.dbAddr, "ok", ""},
		{"client cert presented", certs.UpstreamTLS{Mode: "verify-full", CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}, "db.internal", p.mtlsAddr, "client etl-task", ""},
		{"client cert with require", certs.UpstreamTLS{Mode: "require", CertFile: p.clientCert, KeyFile: p.clientKey}, "127.0.0.1", p.mtlsAddr, "client etl-task", ""},
		{"no client cert for mTLS server", certs.UpstreamTLS{Mode: "verify-full", CAFile: p.caFile}, "db.internal", p.mtlsAddr, "", "certificate required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.cfg.Config(tt.host)
			if err != nil {
				t.Fatalf("Config: %v", err)
			}
			got, _, err := talk(t, tt.addr, cfg)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("connection succeeded (server said %q), want it to fail", got)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("connection failed: %v", err)
			}
			if got != tt.want {
				t.Errorf("server said %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUpstreamTLSConfigFields(t *testing.T) {
	p := newUpstreamPKI(t)
	tests := []struct {
		name         string
		cfg          certs.UpstreamTLS
		host         string
		wantNil      bool
		wantName     string
		wantInsecure bool
		wantVerify   bool // VerifyConnection set
		wantRoots    bool // RootCAs set
		wantCerts    int
	}{
		{name: "disable", cfg: certs.UpstreamTLS{Mode: "disable"}, host: "db", wantNil: true},
		{name: "require", cfg: certs.UpstreamTLS{Mode: "require"}, host: "db", wantName: "db", wantInsecure: true},
		{name: "verify-ca", cfg: certs.UpstreamTLS{Mode: "verify-ca", CAFile: p.caFile}, host: "db", wantName: "db", wantInsecure: true, wantVerify: true},
		{name: "verify-full system roots", cfg: certs.UpstreamTLS{}, host: "db", wantName: "db"},
		{name: "verify-full CA file", cfg: certs.UpstreamTLS{Mode: "verify-full", CAFile: p.caFile}, host: "db", wantName: "db", wantRoots: true},
		{name: "server_name overrides host", cfg: certs.UpstreamTLS{ServerName: "db.internal"}, host: "10.0.0.5", wantName: "db.internal"},
		{name: "client cert", cfg: certs.UpstreamTLS{CertFile: p.clientCert, KeyFile: p.clientKey}, host: "db", wantName: "db", wantCerts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.cfg.Config(tt.host)
			if err != nil {
				t.Fatalf("Config: %v", err)
			}
			if tt.wantNil {
				if cfg != nil {
					t.Fatal("want a nil *tls.Config")
				}
				return
			}
			if cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
			}
			if cfg.ServerName != tt.wantName {
				t.Errorf("ServerName = %q, want %q", cfg.ServerName, tt.wantName)
			}
			if cfg.InsecureSkipVerify != tt.wantInsecure {
				t.Errorf("InsecureSkipVerify = %v, want %v", cfg.InsecureSkipVerify, tt.wantInsecure)
			}
			if (cfg.VerifyConnection != nil) != tt.wantVerify {
				t.Errorf("VerifyConnection set = %v, want %v", cfg.VerifyConnection != nil, tt.wantVerify)
			}
			if (cfg.RootCAs != nil) != tt.wantRoots {
				t.Errorf("RootCAs set = %v, want %v", cfg.RootCAs != nil, tt.wantRoots)
			}
			if len(cfg.Certificates) != tt.wantCerts {
				t.Errorf("len(Certificates) = %d, want %d", len(cfg.Certificates), tt.wantCerts)
			}
		})
	}

	if _, err := (certs.UpstreamTLS{}).Config(""); err == nil || !strings.Contains(err.Error(), "server_name") {
		t.Errorf("verify-full without a host: error = %v, want one pointing at server_name", err)
	}
	if _, err := (certs.UpstreamTLS{Mode: "bogus"}).Config("db"); err == nil || !strings.Contains(err.Error(), "mode:") {
		t.Errorf("Config with a bad mode: error = %v, want the Validate error", err)
	}
}

func TestUpstreamTLSValidate(t *testing.T) {
	p := newUpstreamPKI(t)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	unreadable := writeFile(t, t.TempDir(), "unreadable.pem", []byte("x"))
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(unreadable); err == nil {
		_ = f.Close()
		unreadable = "" // running as root: permissions are not enforced
	}

	tests := []struct {
		name    string
		cfg     certs.UpstreamTLS
		wantErr string // empty: valid; otherwise the whole message or a fragment
		exact   bool
	}{
		{name: "zero value", cfg: certs.UpstreamTLS{}},
		{name: "disable", cfg: certs.UpstreamTLS{Mode: "disable"}},
		{name: "require", cfg: certs.UpstreamTLS{Mode: "require"}},
		{name: "verify-ca with CA", cfg: certs.UpstreamTLS{Mode: "verify-ca", CAFile: p.caFile}},
		{name: "verify-full with everything", cfg: certs.UpstreamTLS{Mode: "verify-full", CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey, ServerName: "db.internal"}},
		{
			name:    "unknown mode",
			cfg:     certs.UpstreamTLS{Mode: "verify_full"},
			wantErr: `mode: "verify_full" is not one of disable, require, verify-ca, verify-full`,
			exact:   true,
		},
		{name: "upper-case mode", cfg: certs.UpstreamTLS{Mode: "VERIFY-FULL"}, wantErr: `mode: "VERIFY-FULL" is not one of`},
		{name: "cert without key", cfg: certs.UpstreamTLS{CertFile: p.clientCert}, wantErr: "key_file: is required when cert_file is set", exact: true},
		{name: "key without cert", cfg: certs.UpstreamTLS{KeyFile: p.clientKey}, wantErr: "cert_file: is required when key_file is set", exact: true},
		{name: "missing CA file", cfg: certs.UpstreamTLS{CAFile: missing}, wantErr: "ca_file: open " + missing},
		{name: "CA file without certificates", cfg: certs.UpstreamTLS{CAFile: p.garbageFile}, wantErr: "ca_file: no PEM certificates found"},
		{name: "missing cert file", cfg: certs.UpstreamTLS{CertFile: missing, KeyFile: p.clientKey}, wantErr: "cert_file: open " + missing},
		{name: "missing key file", cfg: certs.UpstreamTLS{CertFile: p.clientCert, KeyFile: missing}, wantErr: "key_file: open " + missing},
		{name: "unreadable key file", cfg: certs.UpstreamTLS{CertFile: p.clientCert, KeyFile: unreadable}, wantErr: "key_file: open"},
		{name: "key file is a directory", cfg: certs.UpstreamTLS{CertFile: p.clientCert, KeyFile: t.TempDir()}, wantErr: "key_file: read"},
		{name: "CA file is a directory", cfg: certs.UpstreamTLS{CAFile: t.TempDir()}, wantErr: "ca_file: read"},
		{name: "key does not match cert", cfg: certs.UpstreamTLS{CertFile: p.clientCert, KeyFile: p.strangerKey}, wantErr: "cert_file, key_file: load client certificate"},
		{name: "cert file is garbage", cfg: certs.UpstreamTLS{CertFile: p.garbageFile, KeyFile: p.clientKey}, wantErr: "cert_file, key_file: load client certificate"},
		{name: "disable with ca_file", cfg: certs.UpstreamTLS{Mode: "disable", CAFile: p.caFile}, wantErr: `ca_file: has no effect when mode is "disable"`},
		{name: "disable with server_name", cfg: certs.UpstreamTLS{Mode: "disable", ServerName: "db"}, wantErr: "server_name: has no effect"},
		{name: "require with ca_file", cfg: certs.UpstreamTLS{Mode: "require", CAFile: p.caFile}, wantErr: `ca_file: is not used when mode is "require"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "unreadable key file" && unreadable == "" {
				t.Skip("file permissions are not enforced for this user")
			}
			err := tt.cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr == "":
			case err == nil:
				t.Fatalf("Validate succeeded, want %q", tt.wantErr)
			case tt.exact && err.Error() != tt.wantErr:
				t.Errorf("error = %q, want %q", err, tt.wantErr)
			case !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}

	// File errors keep their cause for errors.Is.
	err := certs.UpstreamTLS{CAFile: missing}.Validate()
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("errors.Is(%v, os.ErrNotExist) = false, want true", err)
	}
}
