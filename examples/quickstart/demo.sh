#!/usr/bin/env bash
# make demo: a throwaway PostgreSQL and MinIO, a sample ETL task (etl.py)
# under `airlock exec`, its allowed and denied operations, the audit log.
# Everything lives in a temporary directory removed at the end; run it again
# as often as you like.
set -euo pipefail
cd "$(dirname "$0")"
repo=$(cd ../.. && pwd)
AIRLOCK=$repo/bin/airlock
MINIO=$repo/bin/minio
PY=/usr/bin/python3 # Debian's, with python3-psycopg2 and python3-boto3 (scripts/deps.sh)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
bindir=$(pg_config --bindir 2>/dev/null || true)
[[ -x "$bindir/initdb" ]] || bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
# PostgreSQL refuses to run as root: run it as the unprivileged test user.
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u airlocktest -- "$@"; else "$@"; fi; }

work=$(mktemp -d /tmp/airlock-demo.XXXXXX)
chmod 755 "$work"
pgport=$(free_port); s3port=$(free_port); consoleport=$(free_port)
export AIRLOCK_PG_PORT=$(free_port) AIRLOCK_S3_PORT=$(free_port)
minio_pid=""
cleanup() {
	[[ -n "$minio_pid" ]] && kill "$minio_pid" 2>/dev/null && wait "$minio_pid" 2>/dev/null || true
	[[ -d "$work/pg/data" ]] && as_pg "$bindir/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

say "1. A throwaway PostgreSQL (port $pgport) with a sales schema, and MinIO (port $s3port) with a bucket"
pgpw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
mkdir -p "$work/pg"
echo "$pgpw" > "$work/pg/pwfile"
[[ $(id -u) -eq 0 ]] && chown -R airlocktest "$work/pg"
as_pg "$bindir/initdb" -D "$work/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
	--pwfile="$work/pg/pwfile" -E UTF8 >/dev/null
as_pg "$bindir/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
	-o "-p $pgport -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
psql -X -q -h "$work/pg" -p "$pgport" -U postgres -c "CREATE DATABASE shop"
psql -X -q -h "$work/pg" -p "$pgport" -U postgres -d shop -f seed.sql
echo "postgres: sales.orders has $(psql -X -A -t -h "$work/pg" -p "$pgport" -U postgres -d shop -c 'SELECT count(*) FROM sales.orders') rows"
s3key=demo-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n'); s3secret=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
MINIO_ROOT_USER=$s3key MINIO_ROOT_PASSWORD=$s3secret MINIO_BROWSER=off \
	"$MINIO" server "$work/minio" --address "127.0.0.1:$s3port" --console-address "127.0.0.1:$consoleport" >"$work/minio.log" 2>&1 &
minio_pid=$!
ready=""
for _ in $(seq 1 120); do
	"$PY" - "$s3port" "$s3key" "$s3secret" <<'PYEOF' 2>/dev/null && { ready=1; break; } || sleep 0.5
import sys, boto3, botocore
kw = dict(endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], region_name="us-east-1")
try:
    boto3.client("s3", **kw).create_bucket(Bucket="lake")
except botocore.exceptions.ClientError as e:
    if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
        raise
# MinIO's STS comes up after its S3 API, and Airlock's assume-role needs it.
boto3.client("sts", **kw).assume_role(RoleArn="arn:aws:iam::000000000000:role/etl", RoleSessionName="ready-probe", DurationSeconds=900)
PYEOF
done
if [[ -z "$ready" ]]; then
	echo "MinIO did not become ready; its log:" >&2
	tail -20 "$work/minio.log" >&2
	exit 1
fi
echo "minio: bucket lake ready, STS answering"

# What only Airlock holds: the bootstrap admin DSN (to create the task's
# role) and the S3 secret key. The task never sees either.
echo "host=127.0.0.1 port=$pgport user=postgres password=$pgpw dbname=shop sslmode=disable" > "$work/bootstrap"
echo "$s3secret" > "$work/s3-secret"
chmod 600 "$work/bootstrap" "$work/s3-secret"
head -c 32 /dev/urandom | base64 > "$work/audit-key"
export PG_PORT=$pgport PG_ADMIN_DSN_FILE=$work/bootstrap S3_ENDPOINT=http://127.0.0.1:$s3port \
	S3_ACCESS_KEY_ID=$s3key S3_SECRET_FILE=$work/s3-secret AUDIT_PATH=$work/audit.jsonl AUDIT_KEY_FILE=$work/audit-key \
	AIRLOCK_TASK_ID=quickstart-$(date +%H%M%S) RUN_DATE=$(date +%F)

say "2. The rules compile, and the security team's cases pass"
"$AIRLOCK" policy check -c airlock.yaml
"$AIRLOCK" policy test -c airlock.yaml cases.yaml
echo "the session policy Airlock attaches to its S3 session (scope_down), generated from the rules:"
"$AIRLOCK" policy scope-down -c airlock.yaml

say "3. The ETL task runs under airlock exec (its own output below)"
set +e
"$AIRLOCK" exec -c airlock.yaml --log-level warn -- "$PY" etl.py
code=$?
set -e
echo "airlock exec exited with $code (the task's own code)"

say "4. What Airlock decided (airlock audit summary)"
"$AIRLOCK" audit summary "$AUDIT_PATH"

say "5. The audit chain verifies"
"$AIRLOCK" audit verify --key-file "$AUDIT_KEY_FILE" "$AUDIT_PATH"

say "6. After the task: its ephemeral role is gone, the CSV is in the lake, nothing else is"
roles=$(psql -X -A -t -h "$work/pg" -p "$pgport" -U postgres -d shop -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'airlock\_%'")
echo "postgres: airlock_ roles left: $roles"
"$PY" - "$s3port" "$s3key" "$s3secret" <<'PYEOF'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], region_name="us-east-1")
for o in s3.list_objects_v2(Bucket="lake").get("Contents", []):
    print(f"minio: s3://lake/{o['Key']} ({o['Size']} bytes)")
PYEOF
if [[ $code -ne 0 || $roles -ne 0 ]]; then
	echo "demo FAILED" >&2
	exit 1
fi
echo
echo "demo finished: the task read sales and wrote its CSV, its PII read and its write outside curated/ were denied, every decision is in a verified audit chain, its role is gone, and its 15-minute S3 session (held by the generated session policy to curated/<date>/) ends by itself"

# The run's report outlives the work directory: one self-contained page.
report=${AIRLOCK_DEMO_REPORT:-/tmp/airlock-demo-report.html}
say "7. The audit report of this run (open it in a browser; it loads nothing from the network)"
"$AIRLOCK" audit report --key-file "$AUDIT_KEY_FILE" -o "$report" "$AUDIT_PATH"
echo "report: $report"
