"""Cost of one getppid under pyshim, against native and strace.

    python bench/bench_getppid.py [--iterations N] [--repeat R] [--json FILE]
                                  [--baseline REV]

bench/getppid_loop.c calls getppid N times and prints the loop's own duration
in ns, so start-up is excluded.  Each configuration runs R times; the median
is reported in microseconds per call.  With --baseline REV, the supervised
configurations also run under revision REV of pyshim (built in a temporary
git worktree), in the same run: before and after a change.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

import baseline
from common import (arguments, compile_c, machine_line, median, print_bars, print_table,
                    run_command, run_supervised, write_json)
from pyshim import Supervisor

SOURCE = Path(__file__).with_name("getppid_loop.c")
STRACE_DIVISOR = 10  # strace is slow: it gets N/10 iterations


def handled(handler) -> Supervisor:
    sup = Supervisor()
    sup.on("getppid")(handler)
    return sup


def configurations(n: int):
    """(name, iterations, measure(argv) -> the loop's ns)."""
    strace = ["strace", "-f", "-qq", "-o", os.devnull]
    cli = [sys.executable, "-m", "pyshim", "trace", "-o", os.devnull, "-e", "getppid", "--"]
    return [
        ("native", n, run_command),
        ("unsubscribed", n, lambda argv: run_supervised(Supervisor(), argv)),
        ("trapped, no Python handler", n,
         lambda argv: run_supervised(Supervisor(trap="getppid"), argv)),
        ("Python handler, native", n, lambda argv: run_supervised(handled(lambda call: None), argv)),
        ("Python handler, returns 42", n, lambda argv: run_supervised(handled(lambda call: 42), argv)),
        ("strace -f", max(1, n // STRACE_DIVISOR), lambda argv: run_command(strace + argv)),
        ("pyshim trace -e getppid", n, lambda argv: run_command(cli + argv)),
    ]


def compared(prog: str, n: int, repeat: int, rev: str, tree: str) -> dict:
    """The supervised rows again, under this tree and under `rev`, measured
    the same way (bench/supervise_one.py in a child process) and interleaved
    run by run, so that both see the same machine."""
    results = {}
    for config, label in (("unsubscribed", "unsubscribed"),
                          ("trapped", "trapped, no Python handler"),
                          ("handler-native", "Python handler, native"),
                          ("handler-value", "Python handler, returns 42")):
        runs = {None: [], tree: []}
        for _ in range(repeat):
            for which in runs:
                runs[which].append(baseline.measure(which, config, [prog, str(n)]))
        for which, name in ((None, f"{label} [this tree]"), (tree, f"{label} [{rev}]")):
            ns = statistics.median(runs[which])
            results[name] = {"iterations": n, "total_ns": runs[which], "us_per_call": ns / n / 1000}
    return results


def main() -> int:
    ap = arguments(__doc__, repeat=5, iterations=100_000)
    ap.add_argument("--baseline", metavar="REV",
                    help="also measure the supervised rows under git revision REV")
    args = ap.parse_args()

    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-getppid-") as workdir:
        prog = compile_c(SOURCE, workdir)
        for name, k, measure in configurations(args.iterations):
            ns, runs = median(lambda: measure([prog, str(k)]), args.repeat)
            results[name] = {"iterations": k, "total_ns": runs, "us_per_call": ns / k / 1000}
        if args.baseline:
            tree = baseline.build(args.baseline, workdir)
            try:
                results.update(compared(prog, args.iterations, args.repeat, args.baseline, tree))
            finally:
                baseline.remove(tree)

    us = {name: r["us_per_call"] for name, r in results.items()}
    native, floor = us["native"], us["unsubscribed"]
    print(f"{machine_line()}, N={args.iterations} (strace N/{STRACE_DIVISOR}), "
          f"median of {args.repeat}\n")
    print_table(["configuration", "us/call", "ratio to native", "ratio to unsubscribed"],
                [[name, f"{v:.3f}", f"{v / native:.1f}x", f"{v / floor:.2f}x"]
                 for name, v in us.items()])

    handled_us = us["Python handler, native"]
    bars = {
        "Python-handled getppid (returning natively) <= 2.5x unsubscribed": handled_us <= 2.5 * floor,
        "Python-handled getppid < strace": handled_us < us["strace -f"],
    }
    print_bars(bars)
    write_json(args.json, {"iterations": args.iterations, "repeat": args.repeat,
                           "results": results, "bars": bars})
    return 0


if __name__ == "__main__":
    sys.exit(main())
