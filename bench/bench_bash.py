"""A shell loop that runs /bin/true 200 times: natively, under
`pyshim run --trap all`, and under `strace -f -qq`.

    python bench/bench_bash.py [--count N] [--repeat R] [--json FILE]

bash times its own loop with $EPOCHREALTIME (start-up excluded); the whole
command's wall time, start-up included, is reported beside it.
"""
from __future__ import annotations

import os
import sys
import time

from common import (arguments, machine_line, median, print_bars, print_table, run_command,
                    write_json)

LOOP = ('s=$EPOCHREALTIME; for i in $(seq {n}); do /bin/true; done; e=$EPOCHREALTIME; '
        'echo $(( (${{e/./}} - ${{s/./}}) * 1000 ))')  # microseconds -> ns


def prefixes() -> dict[str, list[str]]:
    return {
        "native": [],
        "pyshim run --trap all": [sys.executable, "-m", "pyshim", "run", "--trap", "all", "--"],
        "strace -f -qq": ["strace", "-f", "-qq", "-o", os.devnull],
    }


def wall(argv: list[str]) -> int:
    start = time.perf_counter_ns()
    run_command(argv)
    return time.perf_counter_ns() - start


def main() -> int:
    ap = arguments(__doc__, repeat=5)
    ap.add_argument("--count", type=int, default=200, metavar="N")
    args = ap.parse_args()

    script = ["bash", "-c", LOOP.format(n=args.count)]
    loop, total, raw = {}, {}, {}
    for name, prefix in prefixes().items():
        loop[name], raw[name] = median(lambda: run_command(prefix + script), args.repeat)
        total[name], _ = median(lambda: wall(prefix + script), args.repeat)

    print(f"{machine_line()}, {args.count} x /bin/true, median of {args.repeat}\n")
    native = loop["native"]
    print_table(["configuration", "loop ms", "ratio to native", "whole command ms"],
                [[name, f"{loop[name] / 1e6:.1f}", f"{loop[name] / native:.2f}x",
                  f"{total[name] / 1e6:.1f}"] for name in loop])
    bars = {"bash loop under pyshim run --trap all <= 2x native":
            loop["pyshim run --trap all"] <= 2 * native}
    print_bars(bars)
    write_json(args.json, {"count": args.count, "repeat": args.repeat, "loop_ns": raw,
                           "whole_command_ns": total, "bars": bars})
    return 0


if __name__ == "__main__":
    sys.exit(main())
