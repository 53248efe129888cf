#!/usr/bin/env bash
# The crash loop at length: kills the reference server with SIGKILL KILLS times (default 200)
# at random moments under mints, regenerations and revocations, and after each restart checks
# `PRAGMA integrity_check` and every acknowledged change (reference-server/tests/it/crash.rs; the
# test suite runs it with 20 kills).
#
#   bench/crash-loop.sh [KILLS]          # CRASH_SEED=N repeats a run's timing
set -euo pipefail
cd "$(dirname "$0")/.."
CRASH_KILLS="${1:-200}" cargo test --locked -p reference-server --test it crash:: -- --nocapture
