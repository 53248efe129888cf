#!/usr/bin/env python3
"""The benchmarks of BENCHMARKS.md, measured on this machine (run through bench/run.sh).

Builds the release binaries and the baseline (a minimal axum server on the reference server's
own stack, answering every POST with a fixed JSON body), then, RUNS times over (median
reported, with the range):

- validateAPIAccessToken and createAPIAccessToken with wrk at 8 and 64 connections, the
  baseline beside them in the same run;
- the server's start-up time, and its RSS idle, after those loads, after 10 conformance runs
  on a fresh server, and after the loads and 10 conformance runs on one server;
- the embedded suite (`token-conformance run`): wall time and peak memory;

and once: the 60 s load run (mixed traffic at capacity, logins included), the 413 that a
client sending its whole body before reading (Python's urllib) gets for 4 MiB, and the hostile
run (reference-server/examples/hostile/: attacks from loopback addresses against an honest
client on another; `--hostile-only`, which bench/hostile.sh runs, does just that and writes its
section).

Also runs bench/crash-loop.sh and bench/fuzz.sh and quotes their results. Needs wrk
(apt-get install wrk), GNU time (/usr/bin/time), python3, and for the fuzzing Schemathesis.
Writes BENCHMARKS.md (with bench/notes.md, the analysis) unless --no-write.
"""

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
SERVER = os.path.join(RELEASE, "reference-server")
HARNESS = os.path.join(RELEASE, "token-conformance")
BASELINE = os.path.join(RELEASE, "examples", "baseline")
LOAD = os.path.join(RELEASE, "examples", "load")
HOSTILE = os.path.join(RELEASE, "examples", "hostile")
# Open files the hostile run needs, for itself and the server (thousands of sockets each: the
# 17-network attack opens 4,250).
OPEN_FILES = 16384
USER, PASSWORD = "bench@example.com", "bench-password-7f3a"
MIB = 1024 * 1024
# Where --before builds the earlier revision (a git worktree, removed afterwards).
BEFORE_TREE = os.path.join(ROOT, "target", "bench-before")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build_before(rev):
    """Builds the server as of `rev` in a worktree under target/; returns its binary."""
    tree = BEFORE_TREE
    subprocess.run(["git", "worktree", "prune"], cwd=ROOT, check=True)
    if os.path.exists(tree):
        subprocess.run(["git", "worktree", "remove", "--force", tree], cwd=ROOT, check=True)
    subprocess.run(["git", "worktree", "add", "--detach", tree, rev], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "-p", "reference-server"], cwd=tree,
                   check=True, env=dict(os.environ, CARGO_TARGET_DIR=os.path.join(tree, "target")))
    return os.path.join(tree, "target", "release", "reference-server")


def build():
    log("building release binaries (the first build takes a few minutes)")
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "-p", "reference-server", "-p",
         "token-conformance", "--bins"], cwd=ROOT, check=True)
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "-p", "reference-server",
         "--example", "baseline", "--example", "load", "--example", "hostile"], cwd=ROOT,
        check=True)


class Process:
    """A server started on a free loopback port; `url` once it listens."""

    def __init__(self, argv, banner):
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        self.url = None
        for line in self.proc.stdout:
            m = re.search(banner + r" listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
                break
        if not self.url:
            raise RuntimeError(f"{argv[0]} did not start")

    @property
    def pid(self):
        return self.proc.pid

    def memory_mib(self, field="VmRSS"):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return None

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def start_server(db, *extra):
    return Process([SERVER, "--listen", "127.0.0.1:0", "--db", db, "--user",
                    f"{USER}:{PASSWORD}", *extra], "reference server")


def post(url, op, fields):
    body = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(f"{url}/integration/v1/{op}/", data=body, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def startup_ms(db):
    """Time from spawn until the first answer to a request, in ms."""
    started = time.monotonic()
    p = start_server(db)
    while True:
        try:
            urllib.request.urlopen(f"{p.url}/openapi/api_authentication/", timeout=5).read()
            break
        except OSError:
            time.sleep(0.002)
    elapsed = (time.monotonic() - started) * 1000
    idle = p.memory_mib()
    p.stop()
    return elapsed, idle


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url, path, body, connections, seconds):
    """wrk's requests/s, p50 and p99 (ms), and non-2xx answers."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write('wrk.method = "POST"\n')
        f.write(f"wrk.body = {json.dumps(body)}\n")
        f.write('wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n')
        script = f.name
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script,
         url + path], capture_output=True, text=True, check=True).stdout
    os.unlink(script)

    def latency(pct):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * UNITS[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": latency(50), "p99": latency(99),
            "non2xx": int(non2xx.group(1)) if non2xx else 0}


def conformance_runs(server, n):
    env = dict(os.environ, TOKEN_CONFORMANCE_PASSWORD=PASSWORD)
    for i in range(n):
        r = subprocess.run(
            [HARNESS, "run", "--target", server.url, "--control-url",
             server.url + "/conformance/v1", "--username", USER],
            capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise RuntimeError(f"conformance run {i + 1} failed:\n{r.stdout[-3000:]}")


def tokens(url):
    refresh = post(url, "createRefreshToken", {"username": USER, "password": PASSWORD,
                                               "name": "bench"})
    access = post(url, "createAPIAccessToken", {"refresh_token": refresh["refresh_token"],
                                                "user_id": refresh["user_id"]})
    return refresh, access


def one_round(seconds):
    """One repetition of everything measured RUNS times."""
    got = {}
    started = time.monotonic()

    def step(what):
        log(f"  {time.monotonic() - started:6.1f} s  {what}")

    with tempfile.TemporaryDirectory() as d:
        step("start-up")
        got["startup_ms"], got["rss_idle"] = startup_ms(os.path.join(d, "startup.db"))
        step("wrk: validate and mint beside the baseline")

        # Loads, with the baseline beside them; then 10 conformance runs on the same server.
        server = start_server(os.path.join(d, "load.db"), "--test-control")
        baseline = Process([BASELINE, "127.0.0.1:0"], "baseline")
        refresh, access = tokens(server.url)
        validate = urllib.parse.urlencode({"api_access_token": access["api_access_token"],
                                           "user_id": access["user_id"]})
        mint = urllib.parse.urlencode({"refresh_token": refresh["refresh_token"],
                                       "user_id": refresh["user_id"]})
        for c in (8, 64):
            got[f"validate_{c}"] = wrk(server.url, "/integration/v1/validateAPIAccessToken/",
                                       validate, c, seconds)
            got[f"baseline_{c}"] = wrk(baseline.url, "/integration/v1/validateAPIAccessToken/",
                                       validate, c, seconds)
            got[f"mint_{c}"] = wrk(server.url, "/integration/v1/createAPIAccessToken/", mint, c,
                                   seconds)
        baseline.stop()
        got["rss_after_load"] = server.memory_mib()
        step("10 conformance runs after the loads")
        conformance_runs(server, 10)
        got["rss_after_load_and_10_runs"] = server.memory_mib()
        server.stop()

        # A fresh server, 10 conformance runs.
        step("10 conformance runs on a fresh server")
        server = start_server(os.path.join(d, "runs.db"), "--test-control")
        conformance_runs(server, 3)
        got["rss_after_3_runs"] = server.memory_mib()
        conformance_runs(server, 7)
        got["rss_after_10_runs"] = server.memory_mib()
        server.stop()

    # The embedded suite, as a user runs it: wall time and peak memory of the whole process.
    step("the embedded suite")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        r = subprocess.run(["/usr/bin/time", "-o", t.name, "-f", "%M %e", HARNESS, "run"],
                           cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("the embedded suite failed:\n" + r.stdout[-3000:])
        peak_kib, wall = t.read().split()[-2:]
    got["suite_peak_mib"] = int(peak_kib) / 1024
    got["suite_wall_s"] = float(wall)
    step("done")
    return got


def load_run(seconds):
    with tempfile.TemporaryDirectory() as d:
        server = start_server(os.path.join(d, "mixed.db"))
        before = server.memory_mib()
        r = subprocess.run([LOAD, server.url, USER, PASSWORD, str(seconds), "64",
                            str(server.pid)], capture_output=True, text=True)
        # Normal answers afterwards.
        refresh, access = tokens(server.url)
        after = post(server.url, "validateAPIAccessToken", {
            "api_access_token": access["api_access_token"], "user_id": access["user_id"]})
        settled = server.memory_mib()
        server.stop()
    return {"report": r.stdout.strip(), "ok": r.returncode == 0,
            "after_ok": after.get("token_status") == "ACTIVE", "rss_before": before,
            "rss_settled": settled}


def more_open_files():
    """Raises this process's open files limit (inherited by what it starts) where allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def hostile_run(seconds):
    """The hostile run: a Markdown table, the raw figures, and the open files limit used."""
    limit = more_open_files()
    with tempfile.TemporaryDirectory() as d:
        server = start_server(os.path.join(d, "hostile.db"))
        r = subprocess.run([HOSTILE, server.url, USER, PASSWORD, str(server.pid), str(seconds)],
                           capture_output=True, text=True)
        server.stop()
    lines = r.stdout.strip().splitlines()
    table = "\n".join(l for l in lines if l.startswith("|"))
    raw = next((l for l in lines if l.startswith("[")), "[]")
    if r.returncode != 0:
        table += f"\n\n(the hostile run failed: {r.stderr.strip()[-500:]})"
    return {"table": table, "raw": json.loads(raw), "open_files": limit, "seconds": seconds,
            "date": time.strftime("%Y-%m-%d")}


def payload_413():
    """What urllib, which sends the whole body before reading, gets for a 4 MiB body."""
    with tempfile.TemporaryDirectory() as d:
        server = start_server(os.path.join(d, "413.db"))
        req = urllib.request.Request(f"{server.url}/integration/v1/createRefreshToken/",
                                     data=b"x" * (4 * MIB), method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            urllib.request.urlopen(req, timeout=30)
            result = "2xx"
        except urllib.error.HTTPError as e:
            result = str(e.code)
        except OSError as e:
            result = f"no answer ({e})"
        server.stop()
    return result


def before_and_after(before, seconds, runs):
    """The same loads against an earlier build of the server (`before`) and this one,
    alternating, RUNS times each: validate and mint at 64 connections, then 5 s of logins at 32
    connections (argon2id: the load that used to take the server to gigabytes), with RSS after
    each. Returns {label: [round, ...]}."""
    got = {"before": [], "after": []}
    for i in range(runs):
        for label, binary in (("before", before), ("after", SERVER)):
            log(f"  {label} {i + 1} of {runs}")
            with tempfile.TemporaryDirectory() as d:
                server = Process([binary, "--listen", "127.0.0.1:0", "--db",
                                  os.path.join(d, "c.db"), "--user", f"{USER}:{PASSWORD}"],
                                 "reference server")
                refresh, access = tokens(server.url)
                validate = urllib.parse.urlencode({
                    "api_access_token": access["api_access_token"], "user_id": access["user_id"]})
                mint = urllib.parse.urlencode({"refresh_token": refresh["refresh_token"],
                                               "user_id": refresh["user_id"]})
                login = urllib.parse.urlencode({"username": USER, "password": PASSWORD,
                                                "name": "bench"})
                r = {"validate": wrk(server.url, "/integration/v1/validateAPIAccessToken/",
                                     validate, 64, seconds),
                     "mint": wrk(server.url, "/integration/v1/createAPIAccessToken/", mint, 64,
                                 seconds)}
                r["rss_after_loads"] = server.memory_mib()
                r["login"] = wrk(server.url, "/integration/v1/createRefreshToken/", login, 32, 5)
                r["rss_after_logins"] = server.memory_mib()
                server.stop()
            got[label].append(r)
    return got


def before_after_table(got, rev):
    rows = ["| figure | before (" + rev + ") | after |", "|---|---|---|"]

    def cell(label, key, sub=None, unit="", digits=0):
        return fmt(med(got[label], key, sub), unit, digits)

    for op in ("validate", "mint"):
        name = {"validate": "validateAPIAccessToken", "mint": "createAPIAccessToken"}[op]
        rows.append(f"| {name}, 64 connections | "
                    + " | ".join(f"{cell(l, op, 'rps', '/s')}, p99 {cell(l, op, 'p99', ' ms', 2)}"
                                 for l in ("before", "after")) + " |")
    rows.append("| server RSS after those loads | "
                + " | ".join(cell(l, "rss_after_loads", None, " MiB", 1)
                             for l in ("before", "after")) + " |")
    rows.append("| 5 s of logins at 32 connections | "
                + " | ".join(f"{cell(l, 'login', 'rps', '/s')}, p99 "
                             f"{cell(l, 'login', 'p99', ' ms', 1)}, non-2xx "
                             f"{cell(l, 'login', 'non2xx')}" for l in ("before", "after")) + " |")
    rows.append("| server RSS after the logins | "
                + " | ".join(cell(l, "rss_after_logins", None, " MiB", 1)
                             for l in ("before", "after")) + " |")
    return "\n".join(rows)


def script(name, *args):
    """Runs a bench/ script; its exit status and the lines worth quoting."""
    r = subprocess.run(["bash", os.path.join(ROOT, "bench", name), *map(str, args)],
                       capture_output=True, text=True)
    out = r.stdout + r.stderr
    keep = [l.strip() for l in out.splitlines()
            if re.search(r"crash loop:|test result:|API Links|Scenarios:|generated|"
                         r"passed|failures?,|No issues|Seed:", l)]
    return r.returncode, keep


def med(rounds, key, sub=None):
    values = [r[key][sub] if sub else r[key] for r in rounds]
    return statistics.median(values), min(values), max(values)


def fmt(triple, unit="", digits=0):
    m, lo, hi = triple
    if len({round(lo, digits), round(hi, digits)}) == 1:
        return f"{m:,.{digits}f}{unit}"
    return f"{m:,.{digits}f}{unit} ({lo:,.{digits}f}–{hi:,.{digits}f})"


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / MIB
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    wrk_v = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    wrk_v = (wrk_v.stdout or wrk_v.stderr).splitlines()[0].split(" Copyright")[0]
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Linux {platform.release()}; "
            f"{rustc}; {wrk_v}; load generator and server on the same machine")


def replace_section(title, text):
    """Puts `text` in place of BENCHMARKS.md's section `title` (up to the next `## `)."""
    path = os.path.join(ROOT, "BENCHMARKS.md")
    old = open(path).read()
    start = old.find(title)
    if start < 0:
        sys.exit(f"BENCHMARKS.md has no section {title!r}")
    end = old.find("\n## ", start + 1)
    end = len(old) if end < 0 else end + 1
    with open(path, "w") as f:
        f.write(old[:start] + text.strip() + "\n\n" + old[end:])
    log(f"wrote {title!r} into BENCHMARKS.md")


def report(rounds, load, status_413, extra):
    r = rounds
    ratio = [x["validate_64"]["rps"] / x["baseline_64"]["rps"] for x in r]
    ratio = (statistics.median(ratio), min(ratio), max(ratio))
    rows = []

    def row(figure, measured, goal, met):
        rows.append(f"| {figure} | {measured} | {goal} | {'met' if met else '**not met**'} |")

    for c in (8, 64):
        v, b = med(r, f"validate_{c}", "rps"), med(r, f"baseline_{c}", "rps")
        p50, p99 = med(r, f"validate_{c}", "p50"), med(r, f"validate_{c}", "p99")
        bp99 = med(r, f"baseline_{c}", "p99")
        goal = ("≥ 0.85× the baseline; p99 ≤ 1.25× the baseline's" if c == 64
                else "(no goal; for comparison)")
        met = c != 64 or (ratio[0] >= 0.85 and p99[0] <= 1.25 * bp99[0])
        row(f"validateAPIAccessToken, {c} connections (wrk)",
            f"{fmt(v, '/s')}, p50 {fmt(p50, ' ms', 2)}, p99 {fmt(p99, ' ms', 2)}; baseline "
            f"{fmt(b, '/s')}, p99 {fmt(bp99, ' ms', 2)}"
            + (f"; ratio {fmt(ratio, '×', 2)}" if c == 64 else ""), goal, met)
    for c in (8, 64):
        m = med(r, f"mint_{c}", "rps")
        p50, p99 = med(r, f"mint_{c}", "p50"), med(r, f"mint_{c}", "p99")
        goal = "≥ 8,000 durable mints/s" + (", p99 < 20 ms" if c == 64 else "")
        met = m[0] >= 8000 and (c != 64 or p99[0] < 20)
        row(f"createAPIAccessToken, {c} connections, `synchronous=FULL`",
            f"{fmt(m, '/s')}, p50 {fmt(p50, ' ms', 2)}, p99 {fmt(p99, ' ms', 2)}", goal, met)
    row("server start-up, to its first answer", fmt(med(r, "startup_ms"), " ms", 1),
        "(no goal)", True)
    row("server RSS idle", fmt(med(r, "rss_idle"), " MiB", 1), "(no goal)", True)
    row("server RSS after the wrk loads above", fmt(med(r, "rss_after_load"), " MiB", 1),
        "(no goal)", True)
    a3 = med(r, "rss_after_3_runs")
    row("server RSS after 3 conformance runs against it", fmt(a3, " MiB", 1), "(no goal)", True)
    a10 = med(r, "rss_after_10_runs")
    row("server RSS after 10 conformance runs against it", fmt(a10, " MiB", 1), "< 64 MiB",
        a10[2] < 64)
    al = med(r, "rss_after_load_and_10_runs")
    row("server RSS after the loads above and 10 conformance runs", fmt(al, " MiB", 1),
        "< 64 MiB", al[2] < 64)
    sp = med(r, "suite_peak_mib")
    row("`token-conformance run` (embedded), peak memory", fmt(sp, " MiB", 1), "< 128 MiB",
        sp[2] < 128)
    row("`token-conformance run` (embedded), wall time", fmt(med(r, "suite_wall_s"), " s", 2),
        "(no goal)", True)
    row(f"load run: {load['seconds']} s of mixed traffic at 64 connections, logins included",
        f"{'no' if load['ok'] else 'some'} 5xx but 503; RSS {load['rss_before']:.1f} MiB "
        f"before, {load['peak']} peak, {load['rss_settled']:.1f} MiB after; normal answers "
        f"after: {'yes' if load['after_ok'] else 'NO'}",
        "no 5xx but 503, RSS bounded, normal answers after", load["ok"] and load["after_ok"])
    row("413 for a 4 MiB body, client sends it all before reading (urllib)",
        f"{status_413}", "the 413 is read", status_413 == "413")
    crash_ok, crash_lines = extra["crash"]
    crash = next((l for l in crash_lines if "checked" in l), "not run")
    row(f"kill -9 under write load, {extra['kills']} times (`bench/crash-loop.sh`)", crash,
        "0 acknowledged writes lost, integrity ok", crash_ok == 0)
    fuzz_ok, fuzz_lines = extra["fuzz"]
    fuzz = "; ".join(l for l in fuzz_lines if "generated" in l or "API Links" in l) or "not run"
    row(f"Schemathesis {extra['fuzz_version']}, all checks and phases, {extra['examples']} "
        "examples (`bench/fuzz.sh`)", fuzz, "0 failures, stateful phase included",
        fuzz_ok == 0)
    return "\n".join(rows), ratio


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported")
    ap.add_argument("--seconds", type=int, default=10, help="seconds per wrk measurement")
    ap.add_argument("--load-seconds", type=int, default=60, help="seconds of the load run")
    ap.add_argument("--kills", type=int, default=200, help="kills of the crash loop")
    ap.add_argument("--examples", type=int, default=500, help="Schemathesis examples")
    ap.add_argument("--before", metavar="REV",
                    help="also measure the server as of this git revision, side by side")
    ap.add_argument("--no-build", action="store_true", help="use the release binaries as built")
    ap.add_argument("--no-write", action="store_true", help="print, do not write BENCHMARKS.md")
    ap.add_argument("--hostile-seconds", type=int, default=10,
                    help="seconds of each attack of the hostile run")
    ap.add_argument("--hostile-only", action="store_true",
                    help="run only the hostile run, print its section and write it into "
                         "BENCHMARKS.md (unless --no-write)")
    args = ap.parse_args()
    if args.hostile_only:
        if not args.no_build:
            build()
        section = HOSTILE_SECTION.format(**hostile_run(args.hostile_seconds))
        print(section)
        if not args.no_write:
            replace_section("## Hostile clients", section)
        return
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    if not args.no_build:
        build()
    rounds = []
    for i in range(args.runs):
        log(f"round {i + 1} of {args.runs}")
        rounds.append(one_round(args.seconds))
        log(json.dumps(rounds[-1]))
    log(f"load run, {args.load_seconds} s")
    load = load_run(args.load_seconds)
    load["seconds"] = args.load_seconds
    m = re.search(r"peak ([\d.]+) MiB", load["report"])
    load["peak"] = f"{m.group(1)} MiB" if m else "?"
    status_413 = payload_413()
    log(f"hostile run, {args.hostile_seconds} s per attack")
    hostile = hostile_run(args.hostile_seconds)
    log(f"crash loop, {args.kills} kills")
    extra = {"kills": args.kills, "crash": script("crash-loop.sh", args.kills)}
    log(f"fuzzing, {args.examples} examples")
    extra["examples"] = args.examples
    extra["fuzz"] = script("fuzz.sh", args.examples)
    version = subprocess.run([sys.executable, "-c",
                              "import importlib.metadata as m; print(m.version('schemathesis'))"],
                             capture_output=True, text=True).stdout.strip()
    extra["fuzz_version"] = version or "(not installed)"
    table, _ = report(rounds, load, status_413, extra)
    compared = "Not measured this time (`bench/run.sh --before REV`)."
    if args.before:
        log(f"before and after: {args.before}")
        binary = build_before(args.before)
        try:
            compared = before_after_table(
                before_and_after(binary, args.seconds, args.runs), args.before)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", BEFORE_TREE], cwd=ROOT,
                           check=False)
    # The sections measured elsewhere are carried over as they are: the proxy's (bench/proxy.sh)
    # and the release profile's (builds with other profiles, see that section).
    proxy = ""
    old_path = os.path.join(ROOT, "BENCHMARKS.md")
    if os.path.exists(old_path):
        old = open(old_path).read()
        for title in ("## The validating proxy", "## The release profile"):
            start = old.find(title)
            if start >= 0:
                end = old.find("\n## ", start + 1)
                proxy += old[start:end if end >= 0 else len(old)].strip() + "\n\n"
    notes_path = os.path.join(ROOT, "bench", "notes.md")
    notes = open(notes_path).read().strip() if os.path.exists(notes_path) else ""
    text = TEMPLATE.format(
        date=time.strftime("%Y-%m-%d"), machine=machine(), runs=args.runs,
        seconds=args.seconds, table=table, load=load["report"],
        crash="\n".join(extra["crash"][1]), fuzz="\n".join(extra["fuzz"][1]), notes=notes,
        hostile=HOSTILE_SECTION.format(**hostile),
        compared=compared, proxy=proxy,
        raw=json.dumps(rounds, indent=1))
    print(table)
    if not args.no_write:
        with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as f:
            f.write(text)
        log("wrote BENCHMARKS.md")


TEMPLATE = """# Benchmarks

Measured by `bench/run.sh` on {date}. Each figure is the median of {runs} runs (the range
in brackets when the runs differ); each wrk measurement lasts {seconds} s. The
baseline is `reference-server/examples/baseline.rs`, a minimal axum server on the same stack
answering every POST with a fixed JSON body, measured in the same run. Release builds.

Machine: {machine}.

| figure | measured | goal | |
|---|---|---|---|
{table}

## Before and after

The same loads against the server as of an earlier revision and as of now, alternating, in the
same run (medians of {runs}).

{compared}

## The load run

```
{load}
```

{hostile}

{proxy}## The crash loop

```
{crash}
```

## The fuzzing

```
{fuzz}
```

## Notes

{notes}

## Raw figures

```json
{raw}
```
"""

HOSTILE_SECTION = """## Hostile clients

Measured by `bench/hostile.sh` (also part of `bench/run.sh`) on {date}:
`reference-server/examples/hostile/` against a release build with its default limits. Each
attack comes from loopback addresses of its own (127.x.y.z, each a client of its own; none in
the honest client's /24) for {seconds} s (the login flood 25 s), while an honest client on
127.0.0.200, which signed in before the attacks, validates an access token every 20 ms and
logs in every half second, each on a new connection; then 3 s more without the attack
("after"). Every attack is against the same server and the honest user's account, one after
the other, so the account's failures add up. A cell gives the honest client's successes out
of its tries (validations 200, logins 201), the p99 of all its calls, and any other answer it
got. Server memory and open files are read from /proc every 100 ms. Open files limit
{open_files} for both.

{table}
"""

if __name__ == "__main__":
    main()
