package audit_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/airlockproxy/airlock/proxy/audit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// schemaOrder is every key a record may have, in the order it must appear.
var schemaOrder = []string{
	"time", "seq", "event", "task", "request_id", "conn", "client", "user",
	"protocol", "action", "resources", "statement", "statement_sha256",
	"statement_truncated", "kinds", "functions", "decision", "mode", "would_deny", "rules", "reason",
	"latency_us", "credential", "phase", "last_seq", "policy_sha256", "detail", "prev", "mac",
}

func TestGolden(t *testing.T) {
	got := writeLog(t, testKey, sampleRecords())
	path := filepath.Join("testdata", "golden", "records.jsonl")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := splitLines(got), splitLines(want)
		for i := range min(len(gl), len(wl)) {
			if !bytes.Equal(gl[i], wl[i]) {
				t.Fatalf("line %d differs from %s:\n got: %s\nwant: %s", i+1, path, gl[i], wl[i])
			}
		}
		t.Fatalf("got %d lines, %s has %d", len(gl), path, len(wl))
	}
	if rechained := rechain(t, splitLines(got), testKey); !bytes.Equal(rechained, got) {
		t.Errorf("macs differ from an independent HMAC-SHA256 of each line")
	}
}

func TestRecordLayout(t *testing.T) {
	recs := sampleRecords()
	lines := splitLines(writeLog(t, testKey, recs))
	if len(lines) != len(recs) {
		t.Fatalf("got %d lines, want %d", len(lines), len(recs))
	}
	for i, line := range lines {
		keys := objectKeys(t, line)
		if keys[0] != "time" || keys[len(keys)-1] != "mac" || keys[len(keys)-2] != "prev" {
			t.Errorf("line %d: keys %v: want time first, prev then mac last", i+1, keys)
		}
		at := -1
		for _, k := range keys {
			j := slices.Index(schemaOrder, k)
			if j <= at {
				t.Errorf("line %d: key %q out of schema order (keys %v)", i+1, k, keys)
			}
			at = j
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if recs[i].Event == audit.EventDecision {
			for _, k := range []string{"decision", "rules", "reason"} {
				if _, ok := m[k]; !ok {
					t.Errorf("line %d: decision record without %q", i+1, k)
				}
			}
		}
	}

	var denied struct {
		Statement          string  `json:"statement"`
		StatementSHA256    string  `json:"statement_sha256"`
		StatementTruncated bool    `json:"statement_truncated"`
		LatencyUS          float64 `json:"latency_us"`
	}
	if err := json.Unmarshal(lines[2], &denied); err != nil {
		t.Fatal(err)
	}
	full := recs[2].Statement
	sum := sha256.Sum256([]byte(full))
	switch {
	case !denied.StatementTruncated:
		t.Error("long statement not marked statement_truncated")
	case len(denied.Statement) != audit.MaxStatement-1 || !utf8.ValidString(denied.Statement):
		t.Errorf("statement cut to %d bytes (valid UTF-8: %v), want %d: the cut must not split a rune",
			len(denied.Statement), utf8.ValidString(denied.Statement), audit.MaxStatement-1)
	case denied.Statement != full[:len(denied.Statement)]:
		t.Error("truncated statement is not a prefix of the full one")
	case denied.StatementSHA256 != hex.EncodeToString(sum[:]):
		t.Error("statement_sha256 is not the hash of the full statement")
	case !bytes.Contains(lines[2], []byte(`"latency_us":41.250,`)):
		t.Errorf("latency_us not written with three decimals: %s", lines[2][len(lines[2])-400:])
	}
	if !bytes.Contains(lines[5], []byte(`"phase":"exit","last_seq":6,`)) {
		t.Errorf("exit record without its checkpoint: %s", lines[5])
	}
	if !bytes.Contains(lines[0], []byte(`"prev":"`+zeros+`"`)) {
		t.Errorf("first record's prev is not all zeros: %s", lines[0])
	}
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"

// objectKeys returns the top-level keys of a JSON object, in order.
func objectKeys(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", line)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("read key: %v in %s", err, line)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("read value of %v: %v", tok, err)
		}
	}
	return keys
}
