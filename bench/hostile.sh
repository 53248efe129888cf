#!/usr/bin/env bash
# The hostile run alone (about 4 minutes): builds the release binaries, starts the reference
# server, plays the attacks of reference-server/examples/hostile/ against it while an honest
# client keeps working, prints the "Hostile clients" section and writes it into BENCHMARKS.md.
# bench/run.sh runs it too, with everything else.
#
#   bench/hostile.sh                      # 10 s per attack (the login flood 25 s)
#   bench/hostile.sh --hostile-seconds 5  # shorter
#   bench/hostile.sh --no-write           # print only
#   bench/hostile.sh --no-build           # use the release binaries as built
set -euo pipefail
exec python3 "$(dirname "$0")/bench.py" --hostile-only "$@"
