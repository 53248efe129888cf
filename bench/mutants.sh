#!/usr/bin/env bash
# Mutation testing of the reference server: cargo-mutants changes its request handling, body
# parsing and storage one mutant at a time (an operator flipped, a function body replaced by a
# default, a match arm deleted), and the embedded conformance suite (tests/suite.rs: every
# written and generated case against one embedded server, snapshots compared) must fail on
# each. MUTANTS.md reports the outcome and triages every survivor.
#
#   bench/mutants.sh [ARGS...]      # extra arguments go to cargo mutants (--shard 1/4, -F regex)
#   MUTANTS_FILES="reference-server/src/token.rs" bench/mutants.sh    # other files than these
#
# Needs cargo-mutants (`cargo install cargo-mutants --locked`, 27.x). The outcome lands in
# target/mutants/mutants.out/ (outcomes.json, caught.txt, missed.txt, unviable.txt, timeout.txt).
# On this 2-core machine a full run takes about 50 minutes (MUTANTS.md): shard it with
# --shard K/N on several machines, or narrow it with -F REGEX. It is a benchmark, not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo mutants --version >/dev/null 2>&1; then
    echo "cargo-mutants is not installed: cargo install cargo-mutants --locked" >&2
    exit 77
fi

# What is mutated: what answers a request and what stores its effect. The web page, Swagger UI,
# the command line and the control protocol are other products of the server, judged by their
# own tests, not by the conformance suite.
FILES=(
    reference-server/src/api.rs
    reference-server/src/body.rs
    reference-server/src/multipart.rs
    reference-server/src/token.rs
    'reference-server/src/store/*.rs'
)
if [[ -n "${MUTANTS_FILES:-}" ]]; then
    read -r -a FILES <<<"$MUTANTS_FILES"
fi
file_args=()
for f in "${FILES[@]}"; do
    file_args+=(-f "$f")
done

# Within those files, what no request to the six operations runs, so the suite cannot see it;
# each has tests of its own in reference-server/tests (MUTANTS.md, "Out of the suite's reach"):
EXCLUDE=(
    # The token page and its sign-in links (web.rs, browser.rs).
    '::(web_session|sign_in_link|refresh_tokens_of|unrevoked_named_from|page_count)\b'
    '::(regenerate_refresh_token_by_id|revoke_refresh_token_by_id|revoke_refresh_tokens_named_from|refresh_by_id)\b'
    '::(create_web_session|end_web_session|create_sign_in_link|use_sign_in_link)\b'
    '\b(touch_web_session|end_web_sessions_of|revoke_refresh_token_by_id)\b'
    '\busable_link\b'
    # The command line (`conf`, `purge`), start-up and Swagger's feature flag (http.rs,
    # process.rs), the embedded server's count of what a run left (deployment tests), and the
    # hook the storage-fault tests fill the disk through (`configure`).
    '::(count_password_users|count_active|set_feature_flag|configure|purge)\b'
    '\bfeature_flag\b|FeatureFlag::|LifespanKey::(from_conf_key|unit)\b'
    # The contract document the server serves (http.rs), not one of the operations.
    'replace openapi -> '
    # What a storage fault becomes (api.rs provokes full disks, locks and I/O errors), and
    # how it is written to the log.
    'impl From<rusqlite::Error> for StoreError|impl std::fmt::Display for StoreError'
    # Reading the rest of a refused body before closing (http.rs sends 4 MiB before reading):
    # the harness's client reads the 413 while it sends, so it cannot tell.
    '\blinger\b'
)
exclude_args=()
for e in "${EXCLUDE[@]}"; do
    exclude_args+=(-E "$e")
done

# One case at a time: with cases in parallel, other cases' writes empty the server's caches
# between a case's steps and hide a cache that answers stale (tests/suite.rs).
export TOKEN_CONFORMANCE_SUITE_JOBS=1

mkdir -p target/mutants
started=$(date +%s)
# The unmutated tree must pass first. cargo-mutants' own baseline would run the mutated
# package's tests, not the workspace's (27.1: run_baseline ignores --test-workspace), so it is
# run here and skipped there.
cargo test --locked --test suite >target/mutants/baseline.log 2>&1 || {
    echo "the suite fails on the unmutated tree: target/mutants/baseline.log" >&2
    exit 1
}
# The suite is the test: cargo-mutants builds each mutant and runs `cargo test --workspace
# --test suite` (the root package's tests/suite.rs), which starts the mutated server
# in-process.
status=0
cargo mutants \
    --package reference-server \
    "${file_args[@]}" \
    "${exclude_args[@]}" \
    --test-workspace=true \
    --baseline skip \
    --timeout 120 \
    --output target/mutants \
    --no-shuffle \
    --cargo-arg=--test --cargo-arg=suite \
    "$@" || status=$?
elapsed=$(( $(date +%s) - started ))

out=target/mutants/mutants.out
count() { if [[ -s "$out/$1" ]]; then grep -c . "$out/$1"; else echo 0; fi; }
caught=$(count caught.txt)
missed=$(count missed.txt)
unviable=$(count unviable.txt)
timeout=$(count timeout.txt)
viable=$(( caught + missed + timeout ))
echo
echo "mutants: caught $caught, missed $missed, timed out $timeout, unviable $unviable"
if (( viable > 0 )); then
    echo "caught $(( (caught + timeout) * 1000 / viable / 10 )).$(( (caught + timeout) * 1000 / viable % 10 ))% of viable mutants (a timeout counts as caught), in ${elapsed} s"
fi
# cargo-mutants exits 2 when some mutants were missed, 3 when some timed out: an outcome, not
# a failure of this script.
case "$status" in
    0 | 2 | 3) exit 0 ;;
    *) exit "$status" ;;
esac
