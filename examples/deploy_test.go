package examples_test

// Tests for the deployment examples that cannot run here (no Docker engine,
// no cluster, no Airflow): compose/ and airflow/. They check what would
// break first when the examples drift from the code: the Airlock configs
// load and validate with every file they name actually mounted, the
// commands and mount paths agree, and the task gets no real secret.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/proxy"
)

// fileFields returns pointers to every set config field that names a file
// Airlock reads (the *_file fields and the upstream TLS files), keyed by
// their YAML path.
func fileFields(c *proxy.Config) map[string]*string {
	out := map[string]*string{}
	var walk func(v reflect.Value, p string)
	walk = func(v reflect.Value, p string) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem(), p)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
				if name == "" || name == "-" {
					continue
				}
				f := v.Field(i)
				fp := strings.TrimPrefix(p+"."+name, ".")
				isFile := strings.HasSuffix(name, "_file") || name == "sslrootcert" || name == "sslcert" || name == "sslkey"
				if f.Kind() == reflect.String && isFile && f.String() != "" {
					out[fp] = f.Addr().Interface().(*string)
					continue
				}
				walk(f, fp)
			}
		}
	}
	walk(reflect.ValueOf(c), "")
	return out
}

// validateWithFiles points every file field at a file on this machine
// (resolve maps the path the container sees to one; an error means the
// file is not mounted) and runs Validate.
func validateWithFiles(t *testing.T, c *proxy.Config, resolve func(string) (string, error)) {
	t.Helper()
	files := fileFields(c)
	if len(files) == 0 {
		t.Fatal("the config names no files; fileFields is broken or the example lost its secrets")
	}
	for field, p := range files {
		host, err := resolve(*p)
		if err != nil {
			t.Errorf("%s: %v", field, err)
			continue
		}
		*p = host
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// --- compose ---------------------------------------------------------------

type composeService struct {
	Image       string                                `yaml:"image"`
	Build       *struct{ Context, Dockerfile string } `yaml:"build"`
	Command     []string                              `yaml:"command"`
	Entrypoint  []string                              `yaml:"entrypoint"`
	Environment map[string]string                     `yaml:"environment"`
	Volumes     []string                              `yaml:"volumes"`
	Secrets     []string                              `yaml:"secrets"`
	NetworkMode string                                `yaml:"network_mode"`
	DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
	Healthcheck *struct{ Test []string }              `yaml:"healthcheck"`
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

// The Compose specification's service attributes; anything else is a typo.
var composeServiceKeys = strings.Fields(`annotations attach blkio_config build cap_add cap_drop cgroup
	cgroup_parent command configs container_name cpu_count cpu_percent cpu_period cpu_quota
	cpu_rt_period cpu_rt_runtime cpu_shares cpus cpuset credential_spec depends_on deploy develop
	device_cgroup_rules devices dns dns_opt dns_search domainname entrypoint env_file environment
	expose extends external_links extra_hosts gpus group_add healthcheck hostname image init ipc
	isolation label_file labels links logging mac_address mem_limit mem_reservation mem_swappiness
	memswap_limit models network_mode networks oom_kill_disable oom_score_adj pid pids_limit platform
	ports post_start pre_stop privileged profiles provider pull_policy read_only restart runtime scale
	secrets security_opt shm_size stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs
	tty ulimits use_api_socket user userns_mode uts volumes volumes_from working_dir`)

var composeVar = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}`)

// interpolate does Compose's ${NAME:-default} with an empty environment.
func interpolate(s string) string {
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		return composeVar.FindStringSubmatch(m)[2]
	})
}

type mount struct {
	source, target string
	readOnly       bool
	bind           bool // source is a path on the host, relative to compose/
}

func parseMount(s string) mount {
	parts := strings.Split(s, ":")
	m := mount{source: parts[0]}
	if len(parts) > 1 {
		m.target = parts[1]
	}
	m.readOnly = len(parts) > 2 && slices.Contains(strings.Split(parts[2], ","), "ro")
	m.bind = strings.HasPrefix(m.source, ".") || strings.HasPrefix(m.source, "/")
	return m
}

func loadCompose(t *testing.T) *composeFile {
	t.Helper()
	data, err := os.ReadFile("compose/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for name, svc := range raw.Services {
		for k := range svc {
			if !slices.Contains(composeServiceKeys, k) {
				t.Errorf("services.%s.%s is not a Compose service attribute", name, k)
			}
		}
	}
	var cf composeFile
	if err := yaml.Unmarshal(data, &cf); err != nil {
		t.Fatalf("compose.yaml does not have the shape this test reads: %v", err)
	}
	return &cf
}

func TestComposeExample(t *testing.T) {
	cf := loadCompose(t)
	for _, name := range []string{"postgres", "minio", "setup", "airlock", "task"} {
		if _, ok := cf.Services[name]; !ok {
			t.Fatalf("compose.yaml has no service %q", name)
		}
	}

	// Images are pinned; Airlock is built from this repository.
	for name, svc := range cf.Services {
		if svc.Build != nil {
			continue
		}
		_, tag, ok := strings.Cut(path.Base(svc.Image), ":")
		if !ok || tag == "latest" {
			t.Errorf("services.%s.image %q: pin a tag", name, svc.Image)
		}
	}
	if cf.Services["minio"].Image == "" || !strings.Contains(cf.Services["minio"].Image, ":RELEASE.") {
		t.Errorf("minio is not pinned to a RELEASE tag: %q", cf.Services["minio"].Image)
	}
	al := cf.Services["airlock"]
	if al.Build == nil {
		t.Fatal("services.airlock has no build")
	}
	dockerfile := filepath.Join("compose", al.Build.Context, al.Build.Dockerfile)
	if df, err := os.ReadFile(dockerfile); err != nil {
		t.Errorf("services.airlock.build: %v", err)
	} else if !bytes.Contains(df, []byte(`ENTRYPOINT ["airlock"]`)) {
		t.Errorf("%s: the command below assumes ENTRYPOINT [\"airlock\"]", dockerfile)
	}

	// Every host path any service mounts exists, and so does every secret file.
	named := map[string]bool{}
	for name := range cf.Volumes {
		named[name] = true
	}
	for name, svc := range cf.Services {
		for _, v := range svc.Volumes {
			m := parseMount(v)
			if m.bind {
				if _, err := os.Stat(filepath.Join("compose", m.source)); err != nil {
					t.Errorf("services.%s.volumes %q: %v", name, v, err)
				}
			} else if !named[m.source] {
				t.Errorf("services.%s.volumes %q: volume %q is not declared", name, v, m.source)
			}
		}
		for _, s := range svc.Secrets {
			if _, ok := cf.Secrets[s]; !ok {
				t.Errorf("services.%s.secrets: %q is not declared", name, s)
			}
		}
	}
	for name, s := range cf.Secrets {
		if _, err := os.Stat(filepath.Join("compose", s.File)); err != nil {
			t.Errorf("secrets.%s: %v", name, err)
		}
		if !strings.HasPrefix(name, "dev-") || !strings.HasPrefix(filepath.Base(s.File), "dev-") {
			t.Errorf("secrets.%s (%s): committed secrets are named dev-*", name, s.File)
		}
	}

	// airlock run -c PATH, where PATH is the mounted config.
	if len(al.Command) != 3 || al.Command[0] != "run" || al.Command[1] != "-c" {
		t.Fatalf("services.airlock.command = %q; want [run -c CONFIG]", al.Command)
	}
	var configHost string
	for _, v := range al.Volumes {
		if m := parseMount(v); m.bind && m.target == al.Command[2] {
			configHost = filepath.Join("compose", m.source)
		}
	}
	if configHost == "" {
		t.Fatalf("services.airlock does not mount its config %s", al.Command[2])
	}
	data, err := os.ReadFile(configHost)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for k, v := range al.Environment {
		env[k] = interpolate(v)
	}
	c, err := proxy.ParseConfig(data, func(n string) (string, bool) { v, ok := env[n]; return v, ok })
	if err != nil {
		t.Fatalf("%s: %v", configHost, err)
	}
	checkScopeDown(t, configHost, c)
	if date := interpolate(cf.Services["task"].Environment["RUN_DATE"]); c.Task.Labels["date"] == "" || c.Task.Labels["date"] != date {
		t.Errorf("task.labels.date %q differs from the task's RUN_DATE %q: the task would write where the rules deny", c.Task.Labels["date"], date)
	}

	// Every file the config names is mounted into the airlock service.
	validateWithFiles(t, c, func(p string) (string, error) {
		for _, s := range al.Secrets {
			if p == "/run/secrets/"+s {
				return filepath.Join("compose", cf.Secrets[s].File), nil
			}
		}
		for _, v := range al.Volumes {
			m := parseMount(v)
			if rel, err := filepath.Rel(m.target, p); m.bind && err == nil && !strings.HasPrefix(rel, "..") {
				return filepath.Join("compose", m.source, rel), nil
			}
		}
		return "", fmt.Errorf("%s is not mounted into services.airlock", p)
	})

	// Healthy means ready: the distroless image has no shell, so airlock itself checks.
	if al.Healthcheck == nil || !slices.Contains(al.Healthcheck.Test, "airlock") || !slices.Contains(al.Healthcheck.Test, "wait") {
		t.Errorf("services.airlock.healthcheck should run airlock wait: %+v", al.Healthcheck)
	}

	// The task: Airlock's network, started once Airlock is healthy, the
	// local dir read-only, no secrets, sources the env file.
	task := cf.Services["task"]
	if task.NetworkMode != "service:airlock" {
		t.Errorf("services.task.network_mode = %q; want service:airlock (Airlock listens on loopback)", task.NetworkMode)
	}
	if task.DependsOn["airlock"].Condition != "service_healthy" {
		t.Errorf("services.task.depends_on.airlock.condition = %q; want service_healthy", task.DependsOn["airlock"].Condition)
	}
	if len(task.Secrets) != 0 {
		t.Errorf("services.task.secrets = %q; the task gets no real secret", task.Secrets)
	}
	localVolume := ""
	for _, v := range al.Volumes {
		if m := parseMount(v); !m.bind && m.target == c.Local.Dir {
			localVolume = m.source
		}
	}
	if localVolume == "" {
		t.Errorf("services.airlock does not mount a volume at local.dir %s", c.Local.Dir)
	}
	shared := false
	for _, v := range task.Volumes {
		m := parseMount(v)
		if m.source == localVolume && m.target == c.Local.Dir {
			shared = true
			if !m.readOnly {
				t.Errorf("services.task mounts %s writable; want :ro", v)
			}
		}
		if strings.Contains(m.source, "secrets") {
			t.Errorf("services.task mounts %s", v)
		}
	}
	if !shared {
		t.Errorf("services.task does not mount %s at %s", localVolume, c.Local.Dir)
	}
	if script := strings.Join(task.Command, " "); !strings.Contains(script, ". "+c.Local.Dir+"/env") {
		t.Errorf("services.task.command does not source %s/env:\n%s", c.Local.Dir, script)
	}
}

// --- airflow ---------------------------------------------------------------

var (
	dagVolume    = regexp.MustCompile(`k8s\.V1Volume\(name="([^"]+)",\s*(\w+)=k8s\.V1\w+\(([^)]*)\)`)
	dagMount     = regexp.MustCompile(`k8s\.V1VolumeMount\(name="([^"]+)",\s*mount_path="([^"]+)"(,\s*read_only=True)?`)
	dagArgs      = regexp.MustCompile(`args=\["run",\s*"-c",\s*"([^"]+)"\]`)
	dagEnvAnnot  = regexp.MustCompile(`annotation\("(\w+)",\s*"([^"]+)"\)`)
	dagObjName   = regexp.MustCompile(`(?:secret_)?name="([^"]+)"`)
	dagProbeWait = regexp.MustCompile(`startup_probe=k8s\.V1Probe\(\s*_exec=k8s\.V1ExecAction\(command=\["airlock",\s*"wait"`)
	configVar    = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`)
)

type dagVol struct{ kind, object string }

// dagParts splits etl_dag.py into the Airlock container's definition and
// the operator call (the task container), and reads the volumes.
func dagParts(t *testing.T, src string) (airlock, operator string, volumes map[string]dagVol) {
	t.Helper()
	start := strings.Index(src, "airlock = k8s.V1Container(")
	end := strings.Index(src[max(start, 0):], "\n)\n")
	op := strings.Index(src, "KubernetesPodOperator(\n")
	if start < 0 || end < 0 || op < 0 {
		t.Fatal("etl_dag.py: expected `airlock = k8s.V1Container(` … `)` and a KubernetesPodOperator( call")
	}
	volumes = map[string]dagVol{}
	for _, m := range dagVolume.FindAllStringSubmatch(src, -1) {
		v := dagVol{kind: m[2]}
		if n := dagObjName.FindStringSubmatch(m[3]); n != nil {
			v.object = n[1]
		}
		volumes[m[1]] = v
	}
	return src[start : start+end], src[op:], volumes
}

func TestAirflowExample(t *testing.T) {
	// The ConfigMap and the config inside it.
	data, err := os.ReadFile("airflow/airlock-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Data map[string]string `yaml:"data"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&cm); err != nil || cm.APIVersion != "v1" || cm.Kind != "ConfigMap" || cm.Metadata.Name == "" {
		t.Fatalf("airlock-config.yaml: want one ConfigMap: %v %+v", err, cm)
	}
	if err := dec.Decode(new(any)); !errors.Is(err, io.EOF) {
		t.Fatalf("airlock-config.yaml: want only the ConfigMap; got more (%v)", err)
	}
	text := cm.Data["airlock.yaml"]
	if text == "" {
		t.Fatal("airlock-config.yaml: no data.airlock.yaml")
	}

	src, err := os.ReadFile("airflow/etl_dag.py")
	if err != nil {
		t.Fatal(err)
	}
	airlock, operator, volumes := dagParts(t, string(src))

	// Every ${VAR} the config uses is an env var of the Airlock container,
	// filled from an annotation the operator sets.
	envs := map[string]string{}
	for _, m := range dagEnvAnnot.FindAllStringSubmatch(airlock, -1) {
		envs[m[1]] = m[2]
		if !strings.Contains(operator, `"`+m[2]+`": "{{`) {
			t.Errorf("env %s reads annotation %s, which the operator does not set from a template", m[1], m[2])
		}
	}
	for _, m := range configVar.FindAllStringSubmatch(text, -1) {
		if _, ok := envs[m[1]]; !ok {
			t.Errorf("airlock.yaml uses ${%s}, which the Airlock container does not set", m[1])
		}
	}
	c, err := proxy.ParseConfig([]byte(text), func(n string) (string, bool) {
		switch n {
		case "AIRLOCK_TASK_ID":
			return "nightly_sales.load_orders.scheduled__2026-11-22T00:00:00+00:00", true
		case "RUN_DATE":
			return "2026-11-22", true
		}
		return "", false
	})
	if err != nil {
		t.Fatalf("airlock.yaml: %v", err)
	}
	checkScopeDown(t, "airflow airlock.yaml", c)
	if c.Postgres == nil || c.Postgres.Credentials.Source != "ephemeral-role" || c.S3 == nil || c.S3.Credentials.Source != "assume-role" {
		t.Errorf("airlock.yaml: want postgres ephemeral-role and s3 assume-role")
	}

	// airlock run -c PATH: PATH is a key of the ConfigMap, mounted where the args say.
	args := dagArgs.FindStringSubmatch(airlock)
	if args == nil {
		t.Fatal(`etl_dag.py: the Airlock container has no args=["run", "-c", CONFIG]`)
	}
	mounts := dagMount.FindAllStringSubmatch(airlock, -1)
	configMounted := false
	for _, m := range mounts {
		if v := volumes[m[1]]; v.kind == "config_map" && v.object == cm.Metadata.Name &&
			m[2] == path.Dir(args[1]) && cm.Data[path.Base(args[1])] != "" {
			configMounted = true
		}
	}
	if !configMounted {
		t.Errorf("etl_dag.py: %s is not ConfigMap %s mounted into the Airlock container", args[1], cm.Metadata.Name)
	}
	if !strings.Contains(airlock, `restart_policy="Always"`) || !dagProbeWait.MatchString(airlock) {
		t.Error(`etl_dag.py: the Airlock container should be a native sidecar (restart_policy="Always") with an airlock wait startup probe`)
	}

	// The files the config names are in Secrets mounted into Airlock only.
	validateWithFiles(t, c, func(p string) (string, error) {
		for _, m := range mounts {
			if v := volumes[m[1]]; v.kind == "secret" && strings.HasPrefix(p, m[2]+"/") {
				return standInFile(t), nil
			}
		}
		return "", fmt.Errorf("%s is not in a Secret mounted into the Airlock container", p)
	})
	localShared := false
	for _, m := range dagMount.FindAllStringSubmatch(operator, -1) {
		v := volumes[m[1]]
		if v.kind == "secret" {
			t.Errorf("etl_dag.py: the task container mounts Secret %s", v.object)
		}
		if v.kind == "empty_dir" && m[2] == c.Local.Dir {
			localShared = true
			if m[3] == "" {
				t.Errorf("etl_dag.py: the task mounts %s writable; want read_only=True", m[2])
			}
		}
	}
	if !localShared || !slices.ContainsFunc(mounts, func(m []string) bool { return m[2] == c.Local.Dir && volumes[m[1]].kind == "empty_dir" }) {
		t.Errorf("etl_dag.py: local.dir %s is not an emptyDir shared by Airlock and the task", c.Local.Dir)
	}
	if !strings.Contains(operator, ". "+c.Local.Dir+"/env") {
		t.Errorf("etl_dag.py: the task does not source %s/env", c.Local.Dir)
	}

	// The rules do what the README says.
	cd, err := os.ReadFile("airflow/cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases, err := policy.ParseTests(cd)
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.CompilePolicy()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if passed, failed := e.RunTests(cases, &out); failed != 0 || passed != len(cases) || passed == 0 {
		t.Errorf("airflow/cases.yaml:\n%s", out.String())
	}
}

// standInFile is an existing file for Validate to open.
func standInFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "stand-in")
	if err := os.WriteFile(p, []byte("stand-in-0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAirflowDAGCompiles byte-compiles the DAG (without Airflow: syntax only).
func TestAirflowDAGCompiles(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	cfile := filepath.Join(t.TempDir(), "etl_dag.pyc") // not __pycache__ in the tree
	out, err := exec.Command(py, "-c", "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)",
		"airflow/etl_dag.py", cfile).CombinedOutput()
	if err != nil {
		t.Fatalf("py_compile airflow/etl_dag.py: %v\n%s", err, out)
	}
}
