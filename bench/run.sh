#!/usr/bin/env bash
# Measures everything in BENCHMARKS.md on this machine and rewrites it (about 15 minutes):
# validate and mint throughput beside a minimal axum baseline, start-up, memory, the embedded
# suite, a 60 s load run, the 413 for clients that send first, the crash loop (200 kills) and
# the fuzzing. See bench/bench.py --help for the knobs (--runs, --seconds, --no-write, ...).
#
# Needs wrk and GNU time (apt-get install wrk time), python3, and Schemathesis
# (pip install schemathesis) for the fuzzing.
set -euo pipefail
exec python3 "$(dirname "$0")/bench.py" "$@"
