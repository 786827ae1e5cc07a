"""Cost of the signal calls the shim emulates (sigprocmask, sigaction), in
microseconds per call, natively and under `pyshim run` (nothing subscribed),
beside a trapped getppid (what any call that traps costs).

    python bench/bench_sigcalls.py [--iterations N] [--repeat R] [--json FILE]

bench/sigcalls_loop.c and bench/getppid_loop.c time their own loops (start-up
excluded); configurations interleaved, medians of R.  No bar: the issue's
bars are whole commands (bench_bash.py); this shows where a shell's fork
children spend their time.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import (arguments, compile_c, interleaved, machine_line, print_table, run_command,
                    write_json)

HERE = Path(__file__).parent


def main() -> int:
    args = arguments(__doc__, repeat=7, iterations=100_000).parse_args()
    n = args.iterations
    with tempfile.TemporaryDirectory() as work:
        sig = compile_c(HERE / "sigcalls_loop.c", work)
        getppid = compile_c(HERE / "getppid_loop.c", work)
        pyshim = [sys.executable, "-m", "pyshim", "run", "--"]
        calls = {"sigprocmask": [sig, str(n), "mask"], "sigaction": [sig, str(n), "action"],
                 "getppid via syscall() (trapped, never rewritten)": [getppid, str(n)]}
        measures = {}
        for call, argv in calls.items():
            measures[(call, "native")] = lambda argv=argv: run_command(argv)
            measures[(call, "pyshim")] = lambda argv=argv: run_command(pyshim + argv)
        results = interleaved(measures, args.repeat)

    print(f"# {machine_line()}; {n} calls, median of {args.repeat}; us per call\n")
    rows = []
    for call in calls:
        native = results[(call, "native")][0] / n / 1e3
        supervised = results[(call, "pyshim")][0] / n / 1e3
        rows.append([call, f"{native:.3f}", f"{supervised:.3f}"])
    print_table(["call", "native", "pyshim run"], rows)
    write_json(args.json, {"iterations": n,
                           "ns": {f"{c} {w}": r[1] for (c, w), r in results.items()}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
