"""Whole commands with nothing subscribed: what pyshim costs a program whose
calls nobody asked for (tar, find), against native and strace.

    python bench/bench_unsubscribed.py [--repeat R] [--json FILE]

Rows, interleaved, median of R, wall time of the whole command:
native; `pyshim run --` (this tree: libc sites of the calls on the
rewrite allowlist run without a trap after their first); the same with
PYSHIM_NO_REWRITE=1 (every call traps, as before the fast path); `strace -f`;
`strace -f --seccomp-bpf -e trace=getppid` (strace's way of letting calls
nobody asked for run natively).  Bar: pyshim at most 1.3x native.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from common import (arguments, interleaved, machine_line, print_bars, print_table, tree_env,
                    wall_ms, write_json)

HERE = Path(__file__).parent


def main() -> int:
    ap = arguments(__doc__, repeat=5)
    args = ap.parse_args()
    env = tree_env()
    with tempfile.TemporaryDirectory() as work:
        commands = {
            "tar cf x.tar /usr/include": ["tar", "cf", os.path.join(work, "x.tar"), "/usr/include"],
            "find /usr/lib /usr/share -name '*.so*'": ["find", "/usr/lib", "/usr/share", "-name",
                                                       "*.so*"],
        }
        wrappers = {
            "native": ([], env),
            "pyshim run": ([sys.executable, "-m", "pyshim", "run", "--"], env),
            "pyshim run, PYSHIM_NO_REWRITE=1": ([sys.executable, "-m", "pyshim", "run", "--"],
                                                tree_env(PYSHIM_NO_REWRITE="1")),
            "strace -f": (["strace", "-f", "-qq", "-o", os.devnull], env),
            "strace -f --seccomp-bpf -e trace=getppid": (
                ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=getppid", "-o",
                 os.devnull], env),
        }
        measures = {(c, w): (lambda a=prefix + argv, e=e: wall_ms(a, e))
                    for c, argv in commands.items() for w, (prefix, e) in wrappers.items()}
        results = interleaved(measures, args.repeat)

    print(f"# whole commands, nothing subscribed; {machine_line()}; median of {args.repeat}\n")
    rows, bars, raw = [], {}, {}
    for c in commands:
        native = results[(c, "native")][0]
        for w in wrappers:
            ms = results[(c, w)][0]
            rows.append([c, w, f"{ms:.0f}", f"{ms / native:.2f}x"])
            raw[f"{c} | {w}"] = results[(c, w)][1]
        bars[f"{c}: pyshim run at most 1.3x native"] = results[(c, "pyshim run")][0] <= 1.3 * native
    print_table(["command", "how", "ms", "ratio to native"], rows)
    print_bars(bars)
    write_json(args.json, {"ms": raw})
    return 0


if __name__ == "__main__":
    sys.exit(main())
