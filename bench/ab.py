#!/usr/bin/env python3
"""Two builds of the reference server side by side with the axum baseline: validation at 8
and 64 connections and durable mints at 8 and 64, alternating A, B and the baseline in each
round so the machine's other work falls on all three alike. Prints medians (ranges) and each
build's validation at 64 connections as a ratio of the baseline measured in the same round,
the figure of issue 27's goal.

    bench/ab.py --a OLD/reference-server --b target/release/reference-server [--runs 3]

Build the baseline first (bench/run.sh does, or `cargo build --release -p reference-server
--example baseline`). Needs wrk.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the same wrk, tokens and process helpers as bench/run.sh)

VALIDATE = "/integration/v1/validateAPIAccessToken/"
MINT = "/integration/v1/createAPIAccessToken/"


def measure(binary, seconds):
    """One server's four loads, and the baseline's two validations on the same tokens."""
    with tempfile.TemporaryDirectory() as d:
        server = bench.Process([binary, "--listen", "127.0.0.1:0", "--db",
                                os.path.join(d, "ab.db"), "--user",
                                f"{bench.USER}:{bench.PASSWORD}"], "reference server")
        refresh, access = bench.tokens(server.url)
        validate = urllib.parse.urlencode({"api_access_token": access["api_access_token"],
                                           "user_id": access["user_id"]})
        mint = urllib.parse.urlencode({"refresh_token": refresh["refresh_token"],
                                       "user_id": refresh["user_id"]})
        got = {}
        for c in (8, 64):
            got[f"validate_{c}"] = bench.wrk(server.url, VALIDATE, validate, c, seconds)
        for c in (8, 64):
            got[f"mint_{c}"] = bench.wrk(server.url, MINT, mint, c, seconds)
        server.stop()
    return got, validate


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="the first build's reference-server binary")
    ap.add_argument("--b", required=True, help="the second build's reference-server binary")
    ap.add_argument("--runs", type=int, default=3, help="rounds; medians are reported")
    ap.add_argument("--seconds", type=int, default=10, help="seconds per wrk measurement")
    args = ap.parse_args()
    rounds = {"a": [], "b": [], "baseline": []}
    for i in range(args.runs):
        for label in ("a", "b"):
            bench.log(f"round {i + 1} of {args.runs}: {label}")
            got, validate = measure(getattr(args, label), args.seconds)
            rounds[label].append(got)
        baseline = bench.Process([bench.BASELINE, "127.0.0.1:0"], "baseline")
        rounds["baseline"].append({f"validate_{c}": bench.wrk(baseline.url, VALIDATE, validate,
                                                              c, args.seconds)
                                   for c in (8, 64)})
        baseline.stop()

    def med(label, key, field):
        xs = [r[key][field] for r in rounds[label]]
        return statistics.median(xs), min(xs), max(xs)

    for key in ("validate_8", "validate_64", "mint_8", "mint_64"):
        for label in ("a", "b", "baseline"):
            if key in rounds[label][0]:
                rps, p99 = med(label, key, "rps"), med(label, key, "p99")
                print(f"{key:12} {label:8} {rps[0]:9,.0f}/s ({rps[1]:,.0f}-{rps[2]:,.0f})  "
                      f"p99 {p99[0]:6.2f} ms ({p99[1]:.2f}-{p99[2]:.2f})")
    for label in ("a", "b"):
        pairs = list(zip(rounds[label], rounds["baseline"]))
        rate = [x["validate_64"]["rps"] / y["validate_64"]["rps"] for x, y in pairs]
        p99 = [x["validate_64"]["p99"] / y["validate_64"]["p99"] for x, y in pairs]
        print(f"{label}: validation at 64 connections {statistics.median(rate):.2f}x the "
              f"baseline ({min(rate):.2f}-{max(rate):.2f}), p99 {statistics.median(p99):.2f}x")
    print(json.dumps(rounds), file=sys.stderr)


if __name__ == "__main__":
    main()
