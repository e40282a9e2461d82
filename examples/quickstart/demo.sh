#!/usr/bin/env bash
# make demo: what Airlock does today, end to end, on this machine.
set -euo pipefail
cd "$(dirname "$0")"
AIRLOCK=${AIRLOCK:-../../bin/airlock}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export AUDIT_PATH="$work/audit.jsonl" AUDIT_KEY_FILE="$work/audit-key"
head -c 32 /dev/urandom | base64 > "$AUDIT_KEY_FILE"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. The rules compile and type-check"
"$AIRLOCK" policy check -c airlock.yaml

say "2. The security team's test cases pass"
"$AIRLOCK" policy test -c airlock.yaml cases.yaml

say "3. A task runs under airlock exec: it sees only local-only settings"
set +e
"$AIRLOCK" exec -c airlock.yaml --log-level warn -- sh -c '
  echo "task: AIRLOCK_TASK_ID=$AIRLOCK_TASK_ID"
  echo "task: CA for local TLS at $AIRLOCK_CA_FILE"
  echo "task: readyz says $(curl -fsS "$AIRLOCK_ADMIN_URL/readyz" 2>/dev/null || wget -qO- "$AIRLOCK_ADMIN_URL/readyz")"
  echo "task: exiting with code 7"
  exit 7'
code=$?
set -e
echo "airlock exec exited with $code (the task's own code)"

say "4. The audit log: one JSON line per event, chained with HMAC-SHA256"
cat "$AUDIT_PATH"

say "5. The chain verifies"
"$AIRLOCK" audit verify --key-file "$AUDIT_KEY_FILE" "$AUDIT_PATH"

say "6. Editing one record breaks the chain, and verify says where"
sed -i 's/exit 7/exit 0/' "$AUDIT_PATH"
if "$AIRLOCK" audit verify --key-file "$AUDIT_KEY_FILE" "$AUDIT_PATH"; then
  echo "tampering went unnoticed" >&2; exit 1
fi
echo
echo "demo finished: policy checked and tested, task run under airlock exec (exit $code), audit verified, tampering caught"
