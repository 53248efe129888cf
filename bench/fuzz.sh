#!/usr/bin/env bash
# Fuzzes the reference server with Schemathesis against the contract it serves: every check,
# every phase (examples, coverage, fuzzing, and the stateful phase, which follows the
# contract's OpenAPI links from a real refresh token to validate, mint, regenerate and revoke).
#
#   bench/fuzz.sh [EXAMPLES]       # default 500 examples per operation and phase
#
# Needs Schemathesis (pip install schemathesis); without it, exits 77 (the usual "skipped").
# REFERENCE_SERVER=path skips the release build and fuzzes that binary (the test suite runs a
# short variant this way); FUZZ_SEED=N repeats a run. Exits non-zero on any failure
# Schemathesis reports.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

EXAMPLES="${1:-500}"
# On PATH, or importable by python3 (pip may install it where no PATH entry points).
if command -v schemathesis >/dev/null; then
    SCHEMATHESIS=(schemathesis)
elif python3 -c 'import schemathesis' 2>/dev/null; then
    SCHEMATHESIS=(python3 -m schemathesis.cli)
else
    echo "schemathesis not found: pip install schemathesis" >&2
    exit 77
fi
build_release
WORK="$(mktemp -d)"
trap 'stop_server; rm -rf "$WORK"' EXIT

# The contract's own example credentials, so the examples phase logs in too; throttling off,
# since fuzzing sends thousands of wrong passwords on purpose.
export FUZZ_USERNAME='dave@example.com' FUZZ_PASSWORD='P@s$w0rd!'
start_server "$WORK/fuzz.db" --user "$FUZZ_USERNAME:$FUZZ_PASSWORD" --max-failed-logins 1000000

# Schemathesis keeps a cache of what failed (for `st replay`) where it runs: under target/,
# out of the repository.
mkdir -p "$ROOT/target/schemathesis"
cd "$ROOT/target/schemathesis"
PYTHONPATH="$ROOT/bench${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=fuzz_hooks \
    "${SCHEMATHESIS[@]}" run "$SERVER_URL/openapi/api_authentication/" \
    --url "$SERVER_URL" \
    --checks all \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$EXAMPLES" \
    ${FUZZ_SEED:+--seed "$FUZZ_SEED"} \
    --no-color
