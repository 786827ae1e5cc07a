"""A shell loop that runs /bin/true 200 times: natively, under
`pyshim run --trap all`, and under `strace -f -qq`.

    python bench/bench_bash.py [--count N] [--repeat R] [--python PY] [--json FILE]

Each run gives two times: the whole command's wall time, start-up included
(what a user waits for; the issue's bar: pyshim at most 1.5x native), and
the loop as bash times it with $EPOCHREALTIME (start-up excluded).
Configurations are interleaved, medians of R.  The pyshim command is the
`pyshim` script of PY's venv when PY (a venv's python where pyshim is
installed with `pip install .`) is given, as a user runs it; by default
`python -m pyshim` with this interpreter, whose site start-up may be slower
than a fresh venv's.
"""
from __future__ import annotations

import os
import sys
import time

from common import arguments, interleaved, machine_line, print_bars, print_table, run_command, \
    write_json

LOOP = ('s=$EPOCHREALTIME; for i in $(seq {n}); do /bin/true; done; e=$EPOCHREALTIME; '
        'echo $(( (${{e/./}} - ${{s/./}}) * 1000 ))')  # microseconds -> ns
PYSHIM = "pyshim run --trap all"


def prefixes(python: str | None) -> dict[str, list[str]]:
    script = os.path.join(os.path.dirname(python), "pyshim") if python else None
    pyshim = ([script] if script and os.access(script, os.X_OK)
              else [python or sys.executable, "-m", "pyshim"])
    return {
        "native": [],
        PYSHIM: [*pyshim, "run", "--trap", "all", "--"],
        "strace -f -qq": ["strace", "-f", "-qq", "-o", os.devnull],
    }


def timed(argv: list[str]) -> tuple[int, int]:
    """(loop ns as bash printed it, whole command ns)."""
    start = time.perf_counter_ns()
    loop = run_command(argv)
    return loop, time.perf_counter_ns() - start


def main() -> int:
    ap = arguments(__doc__, repeat=5)
    ap.add_argument("--count", type=int, default=200, metavar="N")
    ap.add_argument("--python", metavar="PY",
                    help="a venv's python where pyshim is installed: its `pyshim` script runs")
    args = ap.parse_args()

    script = ["bash", "-c", LOOP.format(n=args.count)]
    configs = prefixes(args.python)
    runs = interleaved({name: (lambda p=prefix: timed(p + script)) for name, prefix in
                        configs.items()}, args.repeat)
    loop = {name: sorted(r[0] for r in runs[name][1])[len(runs[name][1]) // 2] for name in configs}
    whole = {name: sorted(r[1] for r in runs[name][1])[len(runs[name][1]) // 2] for name in configs}

    print(f"{machine_line()}, {args.count} x /bin/true, median of {args.repeat}; pyshim: "
          f"{' '.join(configs[PYSHIM][:-4])}\n")
    print_table(["configuration", "whole command ms", "ratio", "loop ms", "loop ratio"],
                [[name, f"{whole[name] / 1e6:.1f}", f"{whole[name] / whole['native']:.2f}x",
                  f"{loop[name] / 1e6:.1f}", f"{loop[name] / loop['native']:.2f}x"]
                 for name in configs])
    bars = {f"bash loop under {PYSHIM}, whole command, <= 1.5x native":
            whole[PYSHIM] <= 1.5 * whole["native"]}
    print_bars(bars)
    write_json(args.json, {"count": args.count, "repeat": args.repeat,
                           "runs_ns": {name: runs[name][1] for name in configs}, "bars": bars})
    return 0


if __name__ == "__main__":
    sys.exit(main())
