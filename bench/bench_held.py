"""A thread's subscribed calls while other threads' calls are held.

    python bench/bench_held.py [--iterations N] [--repeat R] [--json FILE]

bench/held_loop.c starts HOLDERS threads whose getppid calls the supervisor
holds (call.defer()); once all are held, the main thread times N getpid
calls, each answered by a Python handler (it returns None: run natively).
Printed: microseconds per getpid with 0, 1, 100 and 1000 calls held, in one
run, next to native and to getpid answered in C (subscribed, no handler);
the configurations take turns, round by round, so drift hits all alike.
The cost per call stays flat as held calls grow: the dispatcher finds
events through the run's ready set and never looks at a held channel.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import (arguments, compile_c, interleaved, machine_line, print_table, run_command,
                    run_supervised, write_json)
from pyshim import Supervisor

SOURCE = Path(__file__).with_name("held_loop.c")
HOLDERS = (0, 1, 100, 1000)


def holding(holders: int, python_handler: bool = True) -> Supervisor:
    """getppid is held; the first gettid waits until `holders` calls are,
    the second lets them go; getpid is handled in Python (or in C)."""
    sup = Supervisor(trap="getpid")
    held, barrier, gettids = [], [], []

    @sup.on("getppid")
    def hold(call):
        d = call.defer()
        held.append(d)
        if len(held) == holders and barrier:
            barrier.pop().native()
        return d

    @sup.on("gettid")
    def gettid(call):
        gettids.append(call)
        if len(gettids) == 2:  # the holders go
            for d in held:
                d.native()
            return None
        if len(held) == holders:
            return None
        d = call.defer()
        barrier.append(d)
        return d

    if python_handler:
        sup.on("getpid")(lambda call: None)
    return sup


def main() -> int:
    ap = arguments(__doc__, repeat=5, iterations=100_000)
    args = ap.parse_args()

    n = args.iterations
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-held-") as workdir:
        prog = compile_c(SOURCE, workdir, "-pthread")
        configs = [("native, 0 held", lambda: run_command([prog, "0", str(n)]))]
        configs += [(f"getpid answered in C, {h} held",
                     lambda h=h: run_supervised(holding(h, python_handler=False),
                                                [prog, str(h), str(n)], timeout=120))
                    for h in HOLDERS]
        configs += [(f"getpid Python-handled, {h} held",
                     lambda h=h: run_supervised(holding(h), [prog, str(h), str(n)], timeout=120))
                    for h in HOLDERS]
        for name, (ns, runs) in interleaved(dict(configs), args.repeat).items():
            results[name] = {"total_ns": runs, "us_per_call": ns / n / 1000}

    us = {name: r["us_per_call"] for name, r in results.items()}
    print(f"{machine_line()}, N={n} getpid calls, median of {args.repeat}, "
          "default thread attributes\n")
    unheld = {kind: us[f"getpid {kind}, 0 held"] for kind in ("answered in C", "Python-handled")}
    rows = [["native, 0 held", f"{us['native, 0 held']:.3f}", "-"]]
    for name, v in us.items():
        if name.startswith("getpid"):
            kind = "answered in C" if "in C" in name else "Python-handled"
            rows.append([name, f"{v:.3f}", f"{v / unheld[kind]:.2f}x"])
    print_table(["configuration", "us per getpid", "ratio to 0 held"], rows)
    write_json(args.json, {"iterations": n, "repeat": args.repeat, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
