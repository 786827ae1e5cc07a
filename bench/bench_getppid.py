"""Cost of one getppid under pyshim, against native and strace.

    python bench/bench_getppid.py [--iterations N] [--repeat R] [--json FILE]

bench/getppid_loop.c calls getppid N times and prints the loop's own duration
in ns, so start-up is excluded.  Each configuration runs R times; the median
is reported in microseconds per call.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from pyshim import Supervisor

SOURCE = Path(__file__).with_name("getppid_loop.c")
STRACE_DIVISOR = 10  # strace is slow: it gets N/10 iterations


def compile_loop(workdir: str) -> str:
    prog = os.path.join(workdir, "getppid_loop")
    subprocess.run(["gcc", "-O2", "-o", prog, str(SOURCE)], check=True)
    return prog


def _loop_ns(out, what: str, code: int) -> int:
    """The ns count the loop printed last into the file out."""
    out.seek(0)
    lines = out.read().decode(errors="replace").split()
    if code != 0 or not lines:
        raise RuntimeError(f"{what}: exit status {code}, stdout {lines[-3:]!r}")
    return int(lines[-1])


def run_command(prefix: list[str], prog: str, n: int) -> int:
    """Native, strace and `pyshim trace`: PREFIX PROG N as a subprocess."""
    argv = prefix + [prog, str(n)]
    with tempfile.TemporaryFile() as out:
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr.decode(errors="replace"))
        return _loop_ns(out, " ".join(argv), proc.returncode)


def run_supervised(make_sup, prog: str, n: int) -> int:
    """PROG N under a Supervisor built by make_sup(), in this process."""
    with tempfile.TemporaryFile() as out:
        code = make_sup().run([prog, str(n)], stdout=out)
        return _loop_ns(out, f"Supervisor.run {prog}", code)


def _handled(handler):
    def make():
        sup = Supervisor()
        sup.on("getppid")(handler)
        return sup
    return make


def configurations(n: int):
    """(name, iterations, measure(prog, iterations) -> total ns)."""
    cli = [sys.executable, "-m", "pyshim", "trace", "-o", os.devnull, "-e", "getppid", "--"]
    return [
        ("native", n, lambda p, k: run_command([], p, k)),
        ("unsubscribed", n, lambda p, k: run_supervised(Supervisor, p, k)),
        ("trapped, no Python handler", n,
         lambda p, k: run_supervised(lambda: Supervisor(trap="getppid"), p, k)),
        ("Python handler, native", n, lambda p, k: run_supervised(_handled(lambda call: None), p, k)),
        ("Python handler, returns 42", n, lambda p, k: run_supervised(_handled(lambda call: 42), p, k)),
        ("strace -f", max(1, n // STRACE_DIVISOR), lambda p, k: run_command(
            ["strace", "-f", "-qq", "-o", os.devnull], p, k)),
        ("pyshim trace -e getppid", n, lambda p, k: run_command(cli, p, k)),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=100_000, metavar="N")
    ap.add_argument("--repeat", type=int, default=5, metavar="R")
    ap.add_argument("--json", metavar="FILE", help="write the raw numbers to FILE")
    args = ap.parse_args()

    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-getppid-") as workdir:
        prog = compile_loop(workdir)
        for name, k, measure in configurations(args.iterations):
            runs = [measure(prog, k) for _ in range(args.repeat)]
            results[name] = {"iterations": k, "total_ns": runs,
                             "us_per_call": statistics.median(runs) / k / 1000}

    us = {name: r["us_per_call"] for name, r in results.items()}
    native, floor = us["native"], us["unsubscribed"]
    print(f"kernel {platform.release()}, nproc {len(os.sched_getaffinity(0))}, "
          f"N={args.iterations} (strace N/{STRACE_DIVISOR}), median of {args.repeat}\n")
    print("| configuration | us/call | ratio to native | ratio to unsubscribed |")
    print("|---|---:|---:|---:|")
    for name, v in us.items():
        print(f"| {name} | {v:.3f} | {v / native:.1f}x | {v / floor:.2f}x |")

    handled = us["Python handler, native"]
    bars = {
        "Python-handled getppid (returning natively) <= 2.5x unsubscribed": handled <= 2.5 * floor,
        "Python-handled getppid < strace": handled < us["strace -f"],
    }
    print()
    for bar, ok in bars.items():
        print(f"{'PASS' if ok else 'FAIL'}: {bar}")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"kernel": platform.release(), "nproc": len(os.sched_getaffinity(0)),
                       "iterations": args.iterations, "repeat": args.repeat,
                       "results": results, "bars": bars}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
