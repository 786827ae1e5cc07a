"""Cost of a new image under pyshim: an exec, the loader's work for the
preloaded shim, the shim's start and its Start conversation.

    python bench/bench_exec.py [--iterations N] [--repeat R] [--json FILE]

bench/exec_chain.c execs itself N times and prints the time from its first
image's start to its last's, so the run's own start-up is excluded.  Shown
in microseconds per exec, native, under `Supervisor().run` with nothing
subscribed and with every call trapped (`trap="all"`, as `pyshim run
--trap all`), and under `strace -f` and `strace -f --seccomp-bpf -e
trace=execve`.  No bar: this is the part of a shell loop's cost
(bench_bash.py) that each program it starts pays, measured alone.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from common import (arguments, compile_c, interleaved, machine_line, print_table,
                    run_command, run_supervised, write_json)
from pyshim import Supervisor

SOURCE = Path(__file__).with_name("exec_chain.c")


def main() -> int:
    ap = arguments(__doc__, repeat=7, iterations=500)
    args = ap.parse_args()
    n = args.iterations
    with tempfile.TemporaryDirectory(prefix="bench-exec-") as workdir:
        prog = compile_c(SOURCE, workdir)
        argv = [prog, str(n)]
        measures = {
            "native": lambda: run_command(argv),
            "pyshim, nothing subscribed": lambda: run_supervised(Supervisor(), argv),
            "pyshim, every call trapped": lambda: run_supervised(Supervisor(trap="all"), argv),
            "strace -f": lambda: run_command(["strace", "-f", "-qq", "-o", os.devnull, *argv]),
            "strace -f --seccomp-bpf -e trace=execve": lambda: run_command(
                ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=execve", "-o", os.devnull,
                 *argv]),
        }
        results = interleaved(measures, args.repeat)
    us = {name: r[0] / n / 1000 for name, r in results.items()}
    print(f"# a new image: {machine_line()}; {n} execs in a chain, median of {args.repeat}; "
          "us per exec from the chain's own clock (start-up excluded)\n")
    print_table(["configuration", "us per exec", "ratio", "added us"],
                [[name, f"{v:.1f}", f"{v / us['native']:.2f}x", f"{v - us['native']:.1f}"]
                 for name, v in us.items()])
    write_json(args.json, {"iterations": n, "ns": {k: r[1] for k, r in results.items()}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
