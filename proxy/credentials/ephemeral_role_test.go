package credentials_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/internal/pgtest"
	"github.com/airlockproxy/airlock/proxy/audit"
	"github.com/airlockproxy/airlock/proxy/credentials"
)

// upstream is a throwaway cluster with database app, group roles etl_read
// and etl_write (which may create tables in app), data_owner to take over
// what ephemeral roles leave, and an admin DSN file naming app.
type upstream struct {
	*pgtest.Server
	dsnFile string
	admin   *pgx.Conn
}

func startUpstream(t *testing.T, opts pgtest.Options) *upstream {
	t.Helper()
	s := pgtest.Start(t, opts)
	s.CreateDB(t, "app")
	s.Psql(t, "app", `
		CREATE ROLE etl_read NOLOGIN;
		CREATE ROLE etl_write NOLOGIN;
		CREATE ROLE unrelated NOLOGIN;
		CREATE ROLE data_owner NOLOGIN;
		GRANT USAGE, CREATE ON SCHEMA public TO etl_write;`)
	u := &upstream{Server: s, dsnFile: filepath.Join(t.TempDir(), "admin.dsn")}
	writeFile(t, u.dsnFile, s.DSN("app")+"\n")
	u.admin = connect(t, s.DSN("app"))
	return u
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// loginAs connects to app over TCP as c's user with c's password.
func (u *upstream) loginAs(ctx context.Context, c *credentials.Credential) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("host=127.0.0.1 port=" + strconv.Itoa(u.Port) + " dbname=app sslmode=disable")
	if err != nil {
		return nil, err
	}
	cfg.User, cfg.Password = c.User, c.Password.Reveal()
	return pgx.ConnectConfig(ctx, cfg)
}

func (u *upstream) queryString(t *testing.T, sql string, args ...any) string {
	t.Helper()
	var s string
	if err := u.admin.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func (u *upstream) roleExists(t *testing.T, role string) bool {
	return u.queryString(t, "SELECT count(*)::text FROM pg_roles WHERE rolname = $1", role) == "1"
}

func (u *upstream) validUntil(t *testing.T, role string) time.Time {
	t.Helper()
	var v time.Time
	if err := u.admin.QueryRow(context.Background(), "SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1", role).Scan(&v); err != nil {
		t.Fatalf("rolvaliduntil of %s: %v", role, err)
	}
	return v
}

func TestEphemeralRoleLifecycle(t *testing.T) {
	t.Parallel()
	u := startUpstream(t, pgtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := credentials.NewEphemeralRole(credentials.EphemeralRoleOptions{
		AdminDSNFile:    u.dsnFile,
		TaskID:          "Nightly-Load.42",
		Grant:           []string{"etl_read", "etl_write"},
		ReassignTo:      "data_owner",
		ConnectionLimit: 3,
		TerminateWait:   10 * time.Second,
	})

	before := time.Now()
	c, err := src.Obtain(ctx, 90*time.Minute)
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	if !regexp.MustCompile(`^airlock_nightly_load_42_[a-z0-9]{8}$`).MatchString(c.ID) || c.User != c.ID {
		t.Errorf("role %q, user %q", c.ID, c.User)
	}
	if c.Source != credentials.SourceEphemeralRole || c.Upstream != credentials.UpstreamPostgres {
		t.Errorf("source %q, upstream %q", c.Source, c.Upstream)
	}
	if want := before.Add(90 * time.Minute); c.Expiry.Before(want.Add(-2*time.Second)) || c.Expiry.After(want.Add(2*time.Second)) {
		t.Errorf("expiry %s, want about %s", c.Expiry, want)
	}
	if len(c.Password.Reveal()) < 40 {
		t.Errorf("password has %d characters", len(c.Password.Reveal()))
	}

	// The role as created.
	if got := u.validUntil(t, c.ID); !got.Equal(c.Expiry) {
		t.Errorf("VALID UNTIL %s, want %s", got, c.Expiry)
	}
	attrs := u.queryString(t, "SELECT concat_ws(' ', rolcanlogin, rolinherit, rolconnlimit, rolsuper, rolcreaterole) FROM pg_roles WHERE rolname = $1", c.ID)
	if attrs != "t t 3 f f" {
		t.Errorf("login inherit connlimit super createrole = %s", attrs)
	}
	groups := u.queryString(t, `
		SELECT coalesce(string_agg(g.rolname, ',' ORDER BY g.rolname), '')
		FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
		WHERE r.rolname = $1`, c.ID)
	if groups != "etl_read,etl_write" {
		t.Errorf("member of %q, want etl_read,etl_write", groups)
	}

	// The task logs in over TCP with the password and makes a table.
	task, err := u.loginAs(ctx, c)
	if err != nil {
		t.Fatalf("log in as %s: %v", c.ID, err)
	}
	defer task.Close(context.Background())
	if _, err := task.Exec(ctx, "CREATE TABLE made_by_task (id int); INSERT INTO made_by_task VALUES (1)"); err != nil {
		t.Fatalf("create a table as the role: %v", err)
	}
	if owner := u.queryString(t, "SELECT tableowner::text FROM pg_tables WHERE tablename = 'made_by_task'"); owner != c.ID {
		t.Errorf("table owner %s, want %s", owner, c.ID)
	}

	// Renew moves VALID UNTIL; the password stays.
	c2, err := src.Renew(ctx, c, 3*time.Hour)
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if !c2.Expiry.After(c.Expiry) || c2.ID != c.ID || !c2.Password.Equal(c.Password) {
		t.Errorf("renewed to %+v from %+v", c2, c)
	}
	if got := u.validUntil(t, c.ID); !got.Equal(c2.Expiry) {
		t.Errorf("VALID UNTIL after Renew %s, want %s", got, c2.Expiry)
	}

	// Revoke ends the session, hands the table over and drops the role.
	if err := src.Revoke(ctx, c2); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if _, err := task.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("the role's session survived Revoke")
	}
	if u.roleExists(t, c.ID) {
		t.Error("role still exists after Revoke")
	}
	if owner := u.queryString(t, "SELECT tableowner::text FROM pg_tables WHERE tablename = 'made_by_task'"); owner != "data_owner" {
		t.Errorf("table owner after Revoke %s, want data_owner", owner)
	}
	if _, err := u.loginAs(ctx, c); err == nil {
		t.Error("logged in after Revoke")
	}
	// Again: nothing left to do.
	if err := src.Revoke(ctx, c2); err != nil {
		t.Errorf("second Revoke: %v", err)
	}
	// The group roles are untouched.
	if !u.roleExists(t, "etl_read") || !u.roleExists(t, "etl_write") || !u.roleExists(t, "data_owner") {
		t.Error("a group role went missing")
	}
}

func TestEphemeralRoleNoGrantsNoLimit(t *testing.T) {
	t.Parallel()
	u := startUpstream(t, pgtest.Options{})
	ctx := context.Background()
	src := credentials.NewEphemeralRole(credentials.EphemeralRoleOptions{AdminDSNFile: u.dsnFile, TaskID: "t"})
	c, err := src.Obtain(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.queryString(t, "SELECT rolconnlimit::text FROM pg_roles WHERE rolname = $1", c.ID); got != "-1" {
		t.Errorf("connection limit %s, want none", got)
	}
	conn, err := u.loginAs(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	// Without reassign_to, what the role owns goes to the admin.
	u.Psql(t, "app", "GRANT CREATE ON SCHEMA public TO "+pgx.Identifier{c.ID}.Sanitize()+"; SET ROLE "+pgx.Identifier{c.ID}.Sanitize()+"; CREATE TABLE t1 (); RESET ROLE;")
	if err := src.Revoke(ctx, c); err != nil {
		t.Fatal(err)
	}
	if owner := u.queryString(t, "SELECT tableowner::text FROM pg_tables WHERE tablename = 't1'"); owner != "postgres" {
		t.Errorf("table owner %s, want the admin, postgres", owner)
	}
}

// TestEphemeralRoleStatementLog logs every statement on the server and
// looks for the password there: the role is created with a verifier.
func TestEphemeralRoleStatementLog(t *testing.T) {
	t.Parallel()
	u := startUpstream(t, pgtest.Options{Conf: map[string]string{"log_statement": "all"}})
	ctx := context.Background()
	src := credentials.NewEphemeralRole(credentials.EphemeralRoleOptions{AdminDSNFile: u.dsnFile, TaskID: "logged", Grant: []string{"etl_read"}, ReassignTo: "data_owner"})
	c, err := src.Obtain(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := u.loginAs(ctx, c)
	if err != nil {
		t.Fatalf("log in with the password behind the verifier: %v", err)
	}
	conn.Close(ctx)
	if c, err = src.Renew(ctx, c, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := src.Revoke(ctx, c); err != nil {
		t.Fatal(err)
	}

	var log string
	for range 100 { // the server writes its log asynchronously to us
		b, err := os.ReadFile(u.LogFile)
		if err != nil {
			t.Fatal(err)
		}
		if log = string(b); strings.Contains(log, "DROP ROLE") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"CREATE ROLE " + `"` + c.ID + `"`, "PASSWORD 'SCRAM-SHA-256$4096:", "ALTER ROLE", "DROP ROLE"} {
		if !strings.Contains(log, want) {
			t.Errorf("server log lacks %q: is log_statement on?", want)
		}
	}
	if strings.Contains(log, c.Password.Reveal()) {
		t.Error("the plaintext password is in the server log")
	}
}

// TestEphemeralRoleAdminDSNStaysSecret checks that errors carry no part of
// the admin connection string's password.
func TestEphemeralRoleAdminDSNStaysSecret(t *testing.T) {
	t.Parallel()
	const canary = "CanaryAdminPw42"
	dir := t.TempDir()
	tests := []struct {
		name, dsn, want string
	}{
		{"unreachable URL", "postgres://admin:" + canary + "@127.0.0.1:1/app?sslmode=disable&connect_timeout=5", "connect as admin"},
		{"bad URL", "postgres://admin:" + canary + "@127.0.0.1:notaport/app", "not a valid connection string"},
		{"bad key/value", "host=127.0.0.1 password=" + canary + " port=notaport", "not a valid connection string"},
		{"bad quoting", "host=127.0.0.1 password='" + canary, "not a valid connection string"},
		{"empty", "\n", "is empty"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(dir, strconv.Itoa(i)+".dsn")
			writeFile(t, file, tt.dsn)
			src := credentials.NewEphemeralRole(credentials.EphemeralRoleOptions{AdminDSNFile: file, TaskID: "t"})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := src.Obtain(ctx, time.Hour)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Obtain = %v; want %q", err, tt.want)
			}
			_, rerr := credentials.RevokeStale(ctx, file, "", time.Now(), zerolog.Nop())
			for _, e := range []error{err, rerr} {
				if e == nil || strings.Contains(e.Error(), canary) {
					t.Errorf("error %q holds the admin password (or is nil)", e)
				}
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		src := credentials.NewEphemeralRole(credentials.EphemeralRoleOptions{AdminDSNFile: filepath.Join(dir, "nope"), TaskID: "t"})
		if _, err := src.Obtain(context.Background(), time.Hour); err == nil || !strings.Contains(err.Error(), "read admin DSN file") {
			t.Errorf("Obtain = %v", err)
		}
	})
}

func TestRoleName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		task, want string
	}{
		{"Task-42", "airlock_task_42_abcd1234"},
		{"run-0f3a9c2e", "airlock_run_0f3a9c2e_abcd1234"},
		{"", "airlock__abcd1234"},
		{"Ünïcode job/1", "airlock__n_code_job_1_abcd1234"},
		{`"; DROP ROLE x; --`, "airlock____drop_role_x_____abcd1234"},
		{strings.Repeat("a", 100), "airlock_" + strings.Repeat("a", 46) + "_abcd1234"},
	}
	for _, tt := range tests {
		got := credentials.RoleName(tt.task, "abcd1234")
		if got != tt.want || len(got) > 63 {
			t.Errorf("RoleName(%q) = %q (%d bytes), want %q", tt.task, got, len(got), tt.want)
		}
	}
}

func TestRevokeStale(t *testing.T) {
	t.Parallel()
	u := startUpstream(t, pgtest.Options{})
	ctx := context.Background()
	// A killed Airlock left airlock_old_…: expired, owning a table.
	u.Psql(t, "app", `
		CREATE ROLE airlock_old_job_aaaaaaaa LOGIN VALID UNTIL '2001-01-01' IN ROLE etl_read;
		GRANT CREATE ON SCHEMA public TO airlock_old_job_aaaaaaaa;
		SET ROLE airlock_old_job_aaaaaaaa; CREATE TABLE left_behind (); RESET ROLE;
		CREATE ROLE airlock_forever LOGIN;
		CREATE ROLE someone_expired LOGIN VALID UNTIL '2001-01-01';
		CREATE ROLE airlockxold LOGIN VALID UNTIL '2001-01-01';`)
	live, err := credentials.NewEphemeralRole(credentials.EphemeralRoleOptions{AdminDSNFile: u.dsnFile, TaskID: "job"}).Obtain(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	dropped, err := credentials.RevokeStale(ctx, u.dsnFile, "data_owner", time.Now(), zerolog.Nop())
	if err != nil || strings.Join(dropped, ",") != "airlock_old_job_aaaaaaaa" {
		t.Fatalf("RevokeStale = %q, %v; want the old role only", dropped, err)
	}
	if u.roleExists(t, "airlock_old_job_aaaaaaaa") {
		t.Error("stale role still exists")
	}
	for _, r := range []string{live.ID, "airlock_forever", "someone_expired", "airlockxold", "etl_read"} {
		if !u.roleExists(t, r) {
			t.Errorf("RevokeStale dropped %s", r)
		}
	}
	if owner := u.queryString(t, "SELECT tableowner::text FROM pg_tables WHERE tablename = 'left_behind'"); owner != "data_owner" {
		t.Errorf("left_behind owned by %s, want data_owner", owner)
	}
	// Once the live role's time is up it goes too, and then nothing is left.
	dropped, err = credentials.RevokeStale(ctx, u.dsnFile, "data_owner", live.Expiry.Add(time.Second), zerolog.Nop())
	if err != nil || strings.Join(dropped, ",") != live.ID {
		t.Errorf("RevokeStale after the expiry = %q, %v; want %s", dropped, err, live.ID)
	}
	if dropped, err = credentials.RevokeStale(ctx, u.dsnFile, "data_owner", time.Now(), zerolog.Nop()); err != nil || len(dropped) != 0 {
		t.Errorf("RevokeStale again = %q, %v; want nothing", dropped, err)
	}
}

// TestRevokeTask: scoped to one task id, revocation drops that task's
// roles, expired or not, and no role of another task whose name begins
// alike.
func TestRevokeTask(t *testing.T) {
	t.Parallel()
	u := startUpstream(t, pgtest.Options{})
	ctx := context.Background()
	u.Psql(t, "app", `
		CREATE ROLE airlock_job_1_aaaaaaaa LOGIN VALID UNTIL '2001-01-01';
		CREATE ROLE airlock_job_12_cccccccc LOGIN VALID UNTIL '2001-01-01';
		CREATE ROLE airlock_job_1_x_dddddddd LOGIN VALID UNTIL '2001-01-01';`)
	live, err := credentials.NewEphemeralRole(credentials.EphemeralRoleOptions{AdminDSNFile: u.dsnFile, TaskID: "Job-1"}).Obtain(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := credentials.RevokeTask(ctx, u.dsnFile, "data_owner", "Job-1", zerolog.Nop())
	want := []string{"airlock_job_1_aaaaaaaa", live.ID}
	slices.Sort(want)
	if err != nil || !slices.Equal(dropped, want) {
		t.Fatalf("RevokeTask = %q, %v; want %q", dropped, err, want)
	}
	for _, r := range []string{"airlock_job_12_cccccccc", "airlock_job_1_x_dddddddd"} {
		if !u.roleExists(t, r) {
			t.Errorf("RevokeTask dropped %s, another task's role", r)
		}
	}
	if u.roleExists(t, live.ID) {
		t.Errorf("the task's live role %s still exists", live.ID)
	}
}

// TestBrokerWithEphemeralRole wires the broker to a real role on the real
// clock: issued at Start, usable, dropped and recorded at Stop.
func TestBrokerWithEphemeralRole(t *testing.T) {
	t.Parallel()
	u := startUpstream(t, pgtest.Options{})
	ctx := context.Background()
	rec := &recorder{}
	b := credentials.NewBroker(credentials.BrokerOptions{Recorder: rec, Deadline: time.Now().Add(time.Hour)})
	b.Add(credentials.UpstreamPostgres, credentials.NewEphemeralRole(credentials.EphemeralRoleOptions{
		AdminDSNFile: u.dsnFile, TaskID: "brokered", Grant: []string{"etl_read"}, ReassignTo: "data_owner",
	}), credentials.SourceEphemeralRole, 5*time.Minute)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := b.Current(credentials.UpstreamPostgres)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.validUntil(t, c.ID); got.Sub(time.Now()) < 64*time.Minute || got.Sub(time.Now()) > 66*time.Minute {
		t.Errorf("VALID UNTIL %s: want the deadline plus the margin, 65m from now", got)
	}
	conn, err := u.loginAs(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if u.roleExists(t, c.ID) {
		t.Error("role survived Stop")
	}
	want := []string{audit.CredentialIssued + " " + c.ID, audit.CredentialRevoked + " " + c.ID}
	if got := rec.statuses(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("records %q, want %q", got, want)
	}
}

func FuzzRoleName(f *testing.F) {
	for _, s := range []string{"", "Task-42", "Ünïcode job/1", strings.Repeat("é", 64), "\x00\xff"} {
		f.Add(s)
	}
	valid := regexp.MustCompile(`^airlock_[a-z0-9_]*_abcd1234$`)
	f.Fuzz(func(t *testing.T, task string) {
		got := credentials.RoleName(task, "abcd1234")
		if len(got) > 63 || !valid.MatchString(got) {
			t.Errorf("RoleName(%q) = %q (%d bytes)", task, got, len(got))
		}
	})
}
