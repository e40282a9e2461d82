#!/usr/bin/env bash
# Installs the pinned MinIO server into the repository's bin/ (used by
# internal/miniotest). Idempotent: does nothing when bin/minio already runs.
# A cold build takes several minutes; later runs reuse the Go build cache.
set -euo pipefail

MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$repo/bin"
minio="$bin/minio"

if [[ -x "$minio" ]] && "$minio" --version >/dev/null 2>&1; then
	echo "install-minio: $minio already works, nothing to do"
	exit 0
fi

if ! command -v go >/dev/null 2>&1; then
	echo "install-minio: go is not on PATH; install Go first" >&2
	exit 1
fi

mkdir -p "$bin"
# Keep whatever GOFLAGS the caller set (CI may pass -buildvcs=false); a module
# installed by version has no VCS checkout, so that flag is harmless.
echo "install-minio: building $MINIO_MODULE@$MINIO_VERSION into $bin (several minutes when cold)"
start=$(date +%s)
# GOBIN installs the binary straight into bin/; GOWORK=off keeps a go.work in
# a parent directory from interfering; CGO is not needed by MinIO.
GOBIN="$bin" GOWORK=off CGO_ENABLED=0 go install "$MINIO_MODULE@$MINIO_VERSION"
"$minio" --version >/dev/null
echo "install-minio: installed $minio in $(( $(date +%s) - start ))s"
