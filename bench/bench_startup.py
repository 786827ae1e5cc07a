"""Start-up: what a run costs before the program does anything.

    python bench/bench_startup.py [--repeat R] [--python PY] [--json FILE]

Two rows, each a ratio against what a user would run instead, measured in
the same run, interleaved:

- ``pyshim run -- /bin/true`` against ``python -c pass`` (the same
  interpreter: PY, by default this one with this tree on PYTHONPATH; give
  the python of a venv where pyshim is installed with `pip install .` to
  measure what a user runs: the venv's `pyshim` script is then timed too).
  Bar: at most 2x.
- ``Supervisor().run(["/bin/true"])`` in this process against
  ``subprocess.run(["/bin/true"])``, one of each per round between the
  other commands (caches as cold as a test suite leaves them).  Bar: at
  most 1.5x.  Beside it, labelled and not judged: the same two back to
  back in a loop of LOOP rounds (--loop), caches warm.

Medians of R runs, in milliseconds; `strace -f /bin/true` and
`strace -f --seccomp-bpf /bin/true` are shown beside the first row.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from common import (arguments, interleaved, machine_line, print_bars, print_table, tree_env,
                    wall_ms, write_json)

HERE = Path(__file__).parent


def wall(argv: list[str], env=None) -> float:
    # Run from / so that `-m pyshim` finds the installed package, not a tree
    # in the current directory.
    return wall_ms(argv, env, cwd="/")


def in_process(fn) -> float:
    start = time.perf_counter()
    code = fn()
    took = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"exit status {code}")
    return took * 1000


def main() -> int:
    ap = arguments(__doc__, repeat=21)
    ap.add_argument("--loop", type=int, default=300, metavar="LOOP",
                    help="rounds of the back-to-back in-process pair (default 300)")
    ap.add_argument("--python", metavar="PY",
                    help="interpreter for the command-line rows (default: this one, "
                         "with this tree's pyshim first on its path)")
    args = ap.parse_args()

    env = None
    if args.python is None:
        args.python = sys.executable
        env = tree_env()
    from pyshim import Supervisor

    true = "/bin/true"
    script = os.path.join(os.path.dirname(args.python), "pyshim")
    has_script = env is None and os.access(script, os.X_OK)
    measures = {
        "python -c pass": lambda: wall([args.python, "-c", "pass"], env),
        "pyshim run -- /bin/true": lambda: wall([args.python, "-m", "pyshim", "run", "--", true],
                                                env),
        **({"pyshim script: pyshim run -- /bin/true": lambda: wall([script, "run", "--", true])}
           if has_script else {}),
        "strace -f /bin/true": lambda: wall(["strace", "-f", "-qq", "-o", os.devnull, true]),
        "strace -f --seccomp-bpf /bin/true": lambda: wall(
            ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=openat", "-o", os.devnull,
             true]),
        "subprocess.run([/bin/true])": lambda: in_process(
            lambda: subprocess.run([true]).returncode),
        "Supervisor().run([/bin/true])": lambda: in_process(lambda: Supervisor().run([true])),
    }
    for measure in measures.values():  # warm caches: imports, page cache
        measure()
    results = interleaved(measures, args.repeat)
    ms = {name: r[0] for name, r in results.items()}
    warm = interleaved({"subprocess.run, back to back": measures["subprocess.run([/bin/true])"],
                        "Supervisor().run, back to back":
                            measures["Supervisor().run([/bin/true])"]}, args.loop)
    ms.update({name: r[0] for name, r in warm.items()})

    print(f"# start-up, whole commands; {machine_line()}; median of {args.repeat}; "
          f"interpreter {args.python}\n")
    if env is not None:
        print("(this tree on PYTHONPATH, with this interpreter's site-packages: not what a "
              "user runs; give --python VENV/bin/python of a `pip install .` venv for that)\n")
    rows = []
    script_row = "pyshim script: pyshim run -- /bin/true"
    for name, base in (("python -c pass", None),
                       ("pyshim run -- /bin/true", "python -c pass"),
                       *([(script_row, "python -c pass")] if has_script else []),
                       ("strace -f /bin/true", None),
                       ("strace -f --seccomp-bpf /bin/true", None),
                       ("subprocess.run([/bin/true])", None),
                       ("Supervisor().run([/bin/true])", "subprocess.run([/bin/true])"),
                       ("subprocess.run, back to back", None),
                       ("Supervisor().run, back to back", "subprocess.run, back to back")):
        rows.append([name, f"{ms[name]:.2f}", f"{ms[name] / ms[base]:.2f}x" if base else ""])
    print_table(["what", "ms", "ratio"], rows)
    print("\n(`pyshim run` rows are `python -m pyshim run`, which also imports runpy; "
          "the script row is the `pyshim` command pip installs, what a user runs, and "
          "the bar's row when it is there; the back-to-back rows are a kinder variant, "
          "caches warm, not the bar's.)")
    cli = ms[script_row if has_script else "pyshim run -- /bin/true"] / ms["python -c pass"]
    embedded = ms["Supervisor().run([/bin/true])"] / ms["subprocess.run([/bin/true])"]
    print_bars({"pyshim run -- /bin/true at most 2x python -c pass": cli <= 2.0,
                "Supervisor().run at most 1.5x subprocess.run": embedded <= 1.5})
    write_json(args.json, {"ms": {name: r[1] for name, r in results.items()}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
