// Package examples_test keeps the examples from rotting: every YAML file
// parses, every config validates (its ${…} filled with stand-ins), every
// policy compiles, and every policy's cases pass.
package examples_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/proxy"
)

// standIns fills the ${…} references of example configs.
func standIns(t *testing.T) func(string) (string, bool) {
	dir := t.TempDir()
	file := filepath.Join(dir, "stand-in")
	os.WriteFile(file, []byte("x"), 0o600)
	return func(name string) (string, bool) {
		switch {
		case strings.HasSuffix(name, "_FILE"):
			return file, true
		case strings.HasSuffix(name, "PORT"):
			return "5432", true
		case name == "S3_ENDPOINT":
			return "http://127.0.0.1:9000", true
		}
		return "", false
	}
}

func TestEveryYAMLParses(t *testing.T) {
	files, _ := filepath.Glob("*/*.yaml")
	more, _ := filepath.Glob("*/*/*.yaml")
	files = append(files, more...)
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		yamlDocs(t, f)
	}
}

// yamlDocs parses every document of a YAML file; a syntax error fails t.
func yamlDocs(t *testing.T, f string) []any {
	t.Helper()
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var docs []any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		if err := dec.Decode(&v); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Errorf("%s: %v", f, err)
			}
			return docs
		}
		docs = append(docs, v)
	}
}

func TestConfigsValidate(t *testing.T) {
	for _, f := range []string{"quickstart/airlock.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c, err := proxy.ParseConfig(data, standIns(t))
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		checkScopeDown(t, f, c)
	}
}

// checkScopeDown: a config that asks for scope_down gets a session policy
// from its rules (an unbounded rule would stop Airlock at start).
func checkScopeDown(t *testing.T, name string, c *proxy.Config) {
	t.Helper()
	if c.S3 == nil || !c.S3.Credentials.ScopeDown {
		return
	}
	doc, _, err := policy.ScopeDownPolicy(c.Policy.Rules, &policy.Task{ID: c.Task.ID, Labels: c.Task.Labels})
	if err != nil {
		t.Errorf("%s: scope_down: %v", name, err)
		return
	}
	if !strings.Contains(doc, "arn:aws:s3:::") {
		t.Errorf("%s: scope_down policy names no resource: %s", name, doc)
	}
}

// TestPolicies compiles each policies/*.yaml (and the quickstart's) and runs
// its <name>.cases.yaml.
func TestPolicies(t *testing.T) {
	files, _ := filepath.Glob("policies/*.yaml")
	files = append(files, "quickstart/airlock.yaml")
	ran := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".cases.yaml") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c, err := proxy.ParseConfig(data, standIns(t))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		e, err := policy.Compile(c.Policy.Rules, policy.Options{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		casesFile := strings.TrimSuffix(f, ".yaml") + ".cases.yaml"
		if f == "quickstart/airlock.yaml" {
			casesFile = "quickstart/cases.yaml"
		}
		cd, err := os.ReadFile(casesFile)
		if err != nil {
			t.Errorf("%s has no cases file %s", f, casesFile)
			continue
		}
		cases, err := policy.ParseTests(cd)
		if err != nil {
			t.Fatalf("%s: %v", casesFile, err)
		}
		var out bytes.Buffer
		if p, failed := e.RunTests(cases, &out); failed != 0 || p != len(cases) {
			t.Errorf("%s:\n%s", casesFile, out.String())
		}
		ran++
	}
	if ran < 4 {
		t.Fatalf("ran %d policies", ran)
	}
}

// TestKubernetesConfig: the Airlock config inside the ConfigMap parses and
// its policy compiles.
func TestKubernetesConfig(t *testing.T) {
	data, err := os.ReadFile("kubernetes/job-native-sidecar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var cm struct {
		Kind string            `yaml:"kind"`
		Data map[string]string `yaml:"data"`
	}
	if err := dec.Decode(&cm); err != nil || cm.Kind != "ConfigMap" || cm.Data["airlock.yaml"] == "" {
		t.Fatalf("first document should be the ConfigMap: %v %+v", err, cm)
	}
	c, err := proxy.ParseConfig([]byte(cm.Data["airlock.yaml"]), func(n string) (string, bool) { return "job-1", n == "AIRLOCK_TASK_ID" })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompilePolicy(); err != nil {
		t.Fatal(err)
	}
	if c.Postgres.Credentials.Source != "ephemeral-role" || c.Local.Dir != "/var/run/airlock" {
		t.Fatalf("unexpected config: %+v", c)
	}
}

// TestProbesRunInThePod: the admin listener is loopback-only, and kubelet
// sends httpGet and tcpSocket probes from the node, where 127.0.0.1 is the
// node itself: such a probe on Airlock never passes. Probes must exec
// `airlock wait` inside the container.
func TestProbesRunInThePod(t *testing.T) {
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Kubernetes examples: %v", err)
	}
	probes := 0
	for _, f := range files {
		for _, doc := range yamlDocs(t, f) {
			walkProbes(doc, func(name string, p map[string]any) {
				probes++
				if _, ok := p["exec"]; !ok {
					t.Errorf("%s: %s is not an exec probe (kubelet's httpGet/tcpSocket come from the node, not the pod's loopback)", f, name)
				}
			})
		}
	}
	if probes == 0 {
		t.Fatal("no probes found: the walk is broken")
	}
}

func walkProbes(v any, f func(string, map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if p, ok := x.(map[string]any); ok && strings.HasSuffix(k, "Probe") {
				f(k, p)
			}
			walkProbes(x, f)
		}
	case []any:
		for _, x := range v {
			walkProbes(x, f)
		}
	}
}
