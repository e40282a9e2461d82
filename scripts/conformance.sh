#!/usr/bin/env bash
# Runs the conformance suites differentially: PostgreSQL's own regression
# suite and ceph's s3-tests, each directly and through an allow-all Airlock
# (internal/conformance). Installs what it needs: the regression suite for
# the exact server version from Debian's source package (a deb-src entry is
# added when none provides it), the suite's regress.so built against that
# server's headers, and the Debian Python packages s3-tests needs.
#
# Usage: scripts/conformance.sh [S3TESTS_DIR]
#   S3TESTS_DIR: a checkout of https://github.com/ceph/s3-tests (it has no
#   package); without it the S3 half is skipped and says so.
# Environment: CONFORMANCE_ONLY=a,b runs only those regression files;
#   CONFORMANCE_S3_ONLY=expr passes `-k expr` to pytest.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
s3tests=${1:-}
cache="$repo/.cache/conformance"
say() { echo "conformance: $*"; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

# --- the server and its exact Debian version ---------------------------------
bindir=${PGTEST_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[[ -x "$bindir/postgres" ]] || { say "no PostgreSQL server found (run make deps)"; exit 1; }
major=$(basename "$(dirname "$bindir")")
pkg="postgresql-$major"
ver=$(dpkg-query -W -f='${Version}' "$pkg")
upstream=${ver%%-*}
say "server $pkg $ver ($("$bindir/postgres" --version))"

src="$cache/pg-$ver"
regress="$src/tree/src/test/regress"
# srcs_for SUITE_URI: whether some deb-src entry names that archive.
srcs_for() { { grep -ls 'deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null || true; } | xargs -r grep -qsE "$1"; }
if [[ ! -f "$regress/parallel_schedule" ]] && ! apt-cache showsrc "$pkg" 2>/dev/null | grep -qx "Version: $ver"; then
	codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
	list=/etc/apt/sources.list.d/airlock-conformance-src.sources
	entries=""
	srcs_for 'deb.debian.org/debian/?( |$)' || entries+="Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

"
	srcs_for 'debian-security' || entries+="Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $codename-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"
	if [[ -n "$entries" ]]; then
		say "adding deb-src entries for $codename: $list"
		printf '%s' "$entries" | as_root tee "$list" >/dev/null
		as_root apt-get update -qq
	fi
fi
if [[ ! -f "$regress/parallel_schedule" ]]; then
	mkdir -p "$src"
	say "downloading the source of $pkg $ver into $src"
	if ! (cd "$src" && apt-get source --download-only "$pkg=$ver" >/dev/null 2>"$src/apt.log"); then
		# A mirror may lack the newest security upload's source: take the
		# newest source of the same major version there is, and say so.
		near=$(apt-cache showsrc "$pkg" | sed -n 's/^Version: //p' | grep -vxF "$ver" | sort -V | tail -1)
		[[ -n "$near" ]] || { cat "$src/apt.log"; exit 1; }
		say "WARNING: the source of $pkg $ver cannot be downloaded here; using $near's suite (same major version)"
		(cd "$src" && apt-get source --download-only "$pkg=$near" >/dev/null 2>"$src/apt.log")
		upstream=${near%%-*}
	fi
	say "unpacking src/test/regress"
	tar -C "$src" -xf "$src/${pkg}_${upstream}.orig.tar."* --wildcards "postgresql-$upstream/src/test/regress/*"
	ln -sfn "postgresql-$upstream" "$src/tree"
fi
regress="$src/tree/src/test/regress"

# --- regress.so (C functions some files load) ---------------------------------
lib="$src/lib"
if [[ ! -f "$lib/regress.so" ]]; then
	dev="postgresql-server-dev-$major"
	if ! installed "$dev" || [[ $(dpkg-query -W -f='${Version}' "$dev") != "$ver" ]]; then
		say "installing $dev=$ver (the server's headers, same version: no server upgrade)"
		as_root apt-get install -y -qq --no-install-recommends "$dev=$ver" >/dev/null
	fi
	mkdir -p "$lib"
	cc -O1 -fPIC -shared -I"$(/usr/lib/postgresql/$major/bin/pg_config --includedir-server 2>/dev/null || pg_config --includedir-server)" \
		"$regress/regress.c" -o "$lib/regress.so"
fi

# --- s3-tests' Python packages (PyPI may be unreachable: Debian's) -------------
run='TestPostgresRegress'
if [[ -n "$s3tests" ]]; then
	[[ -f "$s3tests/s3tests/functional/test_s3.py" ]] || { say "$s3tests is not a ceph/s3-tests checkout"; exit 1; }
	want=()
	for p in python3-pytest python3-pytest-timeout python3-lxml python3-munch python3-isodate python3-tz python3-boto3; do
		installed "$p" || { apt-cache show "$p" >/dev/null 2>&1 && want+=("$p"); }
	done
	if ((${#want[@]})); then
		say "installing ${want[*]}"
		as_root apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
	fi
	run='TestPostgresRegress|TestS3Tests'
else
	say "S3 half skipped: give a ceph/s3-tests checkout (make conformance S3TESTS=/path; github.com/ceph/s3-tests)"
fi

cd "$repo"
go build -o bin/airlock ./cmd/airlock
rm -rf "$cache/pg" "$cache/s3"
AIRLOCK_CONFORMANCE_PG="$regress" AIRLOCK_CONFORMANCE_LIB="$lib" AIRLOCK_BIN="$repo/bin/airlock" \
	AIRLOCK_CONFORMANCE_OUT="$cache" AIRLOCK_CONFORMANCE_ONLY="${CONFORMANCE_ONLY:-}" \
	AIRLOCK_CONFORMANCE_S3="$s3tests" AIRLOCK_CONFORMANCE_S3_ONLY="${CONFORMANCE_S3_ONLY:-}" \
	go test -v -count=1 -timeout 4h -run "^($run)\$" ./internal/conformance/ | grep -v -e "^\s*\(pgregress\|s3tests\)_test.go" -e "^=== RUN" -e "^--- \(PASS\|SKIP\)" -e "^\s*\(pgtest\|miniotest\):"
