"""Cost of one getppid of a statically linked program under pyshim (the
ptrace path: a seccomp filter stops the subscribed calls only), against
native and strace, in the same run.

    python bench/bench_static.py [--iterations N] [--repeat R] [--json FILE]

bench/getppid_static.c, built with -static, makes N getppid calls and prints
the loop's own duration in ns, so start-up is excluded.  Configurations are
interleaved run by run (R rounds); the median is reported in microseconds
per call.  strace gets N/10 iterations.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from common import (arguments, compile_c, interleaved, machine_line, print_bars, print_table,
                    run_command, run_supervised, write_json)
from pyshim import Supervisor

SOURCE = Path(__file__).with_name("getppid_static.c")
STRACE_DIVISOR = 10


def handled(handler=None, after=None, name="getppid") -> Supervisor:
    sup = Supervisor()
    if handler is not None:
        sup.on(name)(handler)
    if after is not None:
        sup.after(name)(after)
    return sup


def configurations(n: int):
    """(name, iterations, measure(argv) -> the loop's ns)."""
    strace = ["strace", "-f", "-qq", "-o", os.devnull]
    return [
        ("native", n, run_command),
        # a filter is installed (openat has a Python handler); getppid is not in it
        ("getppid not subscribed", n,
         lambda argv: run_supervised(handled(lambda call: None, name="openat"), argv)),
        ("Python handler, runs it natively", n,
         lambda argv: run_supervised(handled(lambda call: None), argv)),
        ("Python handler, returns 42", n,
         lambda argv: run_supervised(handled(lambda call: 42), argv)),
        ("Python after-hook (two stops)", n,
         lambda argv: run_supervised(handled(after=lambda call, result: None), argv)),
        ("strace -f", max(1, n // STRACE_DIVISOR), lambda argv: run_command(strace + argv)),
        ("strace -f --seccomp-bpf -e getppid", max(1, n // STRACE_DIVISOR),
         lambda argv: run_command(strace + ["--seccomp-bpf", "-e", "trace=getppid"] + argv)),
    ]


def main() -> int:
    ap = arguments(__doc__, repeat=5, iterations=100_000)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-static-") as workdir:
        prog = compile_c(SOURCE, workdir, "-static")
        measures = {name: (lambda measure=measure, k=k: measure([prog, str(k)]))
                    for name, k, measure in configurations(args.iterations)}
        iterations = {name: k for name, k, _ in configurations(args.iterations)}
        medians = interleaved(measures, args.repeat)

    us = {name: ns / iterations[name] / 1000 for name, (ns, _) in medians.items()}
    native = us["native"]
    strace = us["strace -f"]
    print(f"{machine_line()}, N={args.iterations} (strace N/{STRACE_DIVISOR}), "
          f"median of {args.repeat}, interleaved\n")
    print_table(["configuration", "us/call", "ratio to native", "strace -f / this"],
                [[name, f"{v:.3f}", f"{v / native:.2f}x", f"{strace / v:.2f}x"]
                 for name, v in us.items()])
    handled_us = us["Python handler, runs it natively"]
    unsubscribed = us["getppid not subscribed"]
    bars = {
        "Python-handled getppid more than 1.5x faster than strace -f":
            strace / handled_us > 1.5,
        "getppid not subscribed at most 1.5x native per call": unsubscribed <= 1.5 * native,
    }
    print_bars(bars)
    write_json(args.json, {"iterations": args.iterations, "repeat": args.repeat,
                           "us_per_call": us,
                           "total_ns": {name: runs for name, (_, runs) in medians.items()},
                           "bars": bars})
    return 0 if all(bars.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
