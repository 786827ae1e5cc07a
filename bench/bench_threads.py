"""Many threads at once: 32 threads sharing a number of Python-handled
getppid calls, against one thread making them all.

    python bench/bench_threads.py [--calls N] [--threads T] [--repeat R] [--json FILE]

bench/threads_loop.c creates T threads (default attributes) that make N/T
calls each, and prints the time from the first create to the last join.
Each row is a whole command timed from outside (what a user waits for);
the program's own loop time sits beside it, labelled.  Rows: natively,
under pyshim with a Python handler on getppid that answers "run it
natively", and under `strace -f` (N/10 calls, so its figures are scaled by
10).  Bar: pyshim with T threads at most 1.3x pyshim with one.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (arguments, compile_c, interleaved, last_number, machine_line, print_bars,
                    print_table, tree_env, write_json)

HERE = Path(__file__).parent
STRACE_DIVISOR = 10


def timed(argv: list[str], timeout: float) -> tuple[float, float]:
    """(whole command s, the program's own loop s) of one run of argv."""
    env = tree_env()
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, env=env,
                              timeout=timeout)
        whole = time.perf_counter() - start
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr.decode(errors="replace"))
        return whole, last_number(out, " ".join(argv), proc.returncode) / 1e9


def main() -> int:
    ap = arguments(__doc__, repeat=5)
    ap.add_argument("--calls", type=int, default=64_000, metavar="N")
    ap.add_argument("--threads", type=int, default=32, metavar="T")
    ap.add_argument("--timeout", type=float, default=300.0, metavar="S")
    args = ap.parse_args()
    n, t = args.calls, args.threads

    with tempfile.TemporaryDirectory() as work:
        prog = compile_c(HERE / "threads_loop.c", work, "-pthread")
        wrappers = {
            "native": ([], n, 1),
            "pyshim, Python handler": ([sys.executable, str(HERE / "supervise_one.py"),
                                        "handler-native", "--"], n, 1),
            "strace -f": (["strace", "-f", "-qq", "-o", os.devnull],
                          n // STRACE_DIVISOR, STRACE_DIVISOR),
        }
        measures = {}
        for name, (prefix, calls, _) in wrappers.items():
            for threads in (1, t):
                measures[(name, threads)] = (
                    lambda a=prefix + [prog, str(threads), str(calls)]: timed(a, args.timeout))
        results = interleaved(measures, args.repeat)

    print(f"# {t} threads sharing {n} getppid calls vs 1 thread making them all; "
          f"{machine_line()}; median of {args.repeat}\n")
    rows, raw, ratio = [], {}, {}
    for name, (_, _, scale) in wrappers.items():
        one, many = results[(name, 1)][1], results[(name, t)][1]
        med = lambda runs, k: sorted(r[k] for r in runs)[len(runs) // 2] * scale
        ratio[name] = med(many, 0) / med(one, 0)
        rows.append([name, f"{med(one, 0) * 1000:.0f}", f"{med(many, 0) * 1000:.0f}",
                     f"{ratio[name]:.2f}x", f"{med(one, 1) * 1000:.0f}",
                     f"{med(many, 1) * 1000:.0f}", f"{med(many, 1) / med(one, 1):.2f}x"])
        raw[name] = {"one": one, "many": many, "scale": scale}
    print_table(["command", "1 thread (ms)", f"{t} threads (ms)", "ratio",
                 "loop only, 1 (ms)", f"loop only, {t} (ms)", "loop ratio"], rows)
    if STRACE_DIVISOR != 1:
        print(f"\nstrace made {n // STRACE_DIVISOR} calls; its times are scaled by "
              f"{STRACE_DIVISOR} (start-up included).")
    print_bars({f"pyshim: {t} threads cost at most 1.3x one thread (whole command)":
                ratio["pyshim, Python handler"] <= 1.3})
    write_json(args.json, {"calls": n, "threads": t, "results": raw})
    return 0


if __name__ == "__main__":
    sys.exit(main())
