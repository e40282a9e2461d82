#!/usr/bin/env bash
# Installs what `make test` and `make demo` need on a fresh Debian machine:
# Debian packages (psql, PgBouncer, psycopg2, psycopg 3, asyncpg, SQLAlchemy,
# boto3, s3cmd, Chromium for the audit report's headless browser test, the
# AWS CLI when Debian has it, the PostgreSQL server when
# initdb is missing), the unprivileged user internal/pgtest runs PostgreSQL
# as when tests run as root, and MinIO in bin/ (scripts/install-minio.sh).
#
# Idempotent: every step checks first and says what it does; a second run
# takes well under two seconds. Without root, missing packages are listed and
# the script goes on (the tests that need them skip or fail with a message).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { echo "deps: $*"; }

is_root=false
[[ $(id -u) -eq 0 ]] && is_root=true

# installed PKG: whether dpkg has PKG fully installed.
installed() {
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

# find_initdb: whether a PostgreSQL server is available the way
# internal/pgtest looks for one (PATH, pg_config --bindir, Debian's layout).
find_initdb() {
	command -v initdb >/dev/null 2>&1 && return 0
	if command -v pg_config >/dev/null 2>&1; then
		[[ -x "$(pg_config --bindir 2>/dev/null)/initdb" ]] && return 0
	fi
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

# --- Debian packages -------------------------------------------------------
missing=()
if command -v psql >/dev/null 2>&1; then
	say "psql present ($(command -v psql))"
else
	missing+=(postgresql-client)
fi
if find_initdb; then
	say "PostgreSQL server binaries present (initdb)"
else
	missing+=(postgresql)
fi
for pkg in pgbouncer python3-psycopg2 python3-boto3 python3-asyncpg python3-psycopg python3-sqlalchemy s3cmd chromium; do
	if installed "$pkg"; then say "$pkg present"; else missing+=("$pkg"); fi
done
# promtool (Debian's prometheus package) checks the /metrics exposition.
if command -v promtool >/dev/null 2>&1; then
	say "promtool present ($(command -v promtool))"
else
	missing+=(prometheus)
fi
want_awscli=false
if command -v aws >/dev/null 2>&1; then
	say "aws CLI present ($(command -v aws))"
else
	want_awscli=true
fi

if ((${#missing[@]} > 0)) || $want_awscli; then
	if ! $is_root; then
		((${#missing[@]} > 0)) && say "not root: install these Debian packages yourself: ${missing[*]}"
		$want_awscli && say "not root: the aws CLI is missing (Debian package awscli, where it exists)"
		say "continuing without them"
	else
		if ! command -v apt-get >/dev/null 2>&1; then
			say "no apt-get on this machine: install ${missing[*]} by hand"
		else
			say "apt-get update"
			apt-get update -qq
			if $want_awscli; then
				candidate=$(apt-cache policy awscli 2>/dev/null | awk '/Candidate:/ {print $2}')
				if [[ -n $candidate && $candidate != "(none)" ]]; then
					missing+=(awscli)
				else
					say "awscli: Debian has no candidate here; skipping (install the AWS CLI another way for make demo)"
				fi
			fi
			if [[ " ${missing[*]} " == *" postgresql "* ]]; then
				# Tests run their own throwaway clusters: keep Debian from
				# creating and starting a 'main' cluster of its own.
				mkdir -p /etc/postgresql-common
				if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
					echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
				fi
			fi
			if ((${#missing[@]} > 0)); then
				say "apt-get install ${missing[*]}"
				DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
			fi
		fi
	fi
fi

# --- unprivileged user for PostgreSQL (it refuses to run as root) ----------
if $is_root; then
	if id -u airlocktest >/dev/null 2>&1; then
		say "user airlocktest present"
	else
		say "creating system user airlocktest (internal/pgtest runs PostgreSQL as it)"
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin airlocktest
	fi
fi

# --- MinIO -----------------------------------------------------------------
"$repo/scripts/install-minio.sh"
