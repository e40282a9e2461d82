#!/bin/sh
# Regenerates policy/pure_functions.txt, the built-ins rules may call as
# f.pure(), from the pg_proc catalog of a throwaway PostgreSQL 15 cluster
# (internal/pgtest starts and removes it). The same test, without
# -update-pure, fails when the checked-in file is stale.
set -eu
cd "$(dirname "$0")/.."
CI=1 go test -count=1 -run '^TestPureFunctionsCurrent$' ./policy/ -args -update-pure
