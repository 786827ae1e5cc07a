"""Several supervised runs at once, as under `pytest -n auto`, against one
run alone: does waiting adapt to a busy machine?

    python bench/bench_parallel.py [--iterations N] [--runs K] [--repeat R]
                                   [--config CONFIG] [--json FILE]

Each run is bench/getppid_loop.c making N getppid calls under
bench/supervise_one.py CONFIG (by default a Python handler that answers
"run it natively").  The whole commands are timed from outside: one run
alone, then K runs started together (wall time until the last one ends).
The same is done natively and under `strace -f` (strace gets N/10 calls, as
in bench_getppid.py).  Reported: seconds, and the ratio of K at once to one
alone, for each.  Bar: pyshim's ratio at most 3x for K=4 on 2 cores.

Also printed: the floor this machine puts under that ratio.  One run alone
keeps both cores busy, one on each side of every call (W us per call, its
time per call, from the loop's own clock).  With more runs than cores, each call costs at least two
hand-offs between two processes on one core (program to supervisor and
back), and bench/handoff.c measures one (S us).  K runs on C cores then take
at least K/C x (W + 2S) per call: ratio >= K/C x (1 + 2S/W).

And what a call costs when program and supervisor do share one core: one
run pinned to one CPU (the loop's own clock, U us a call), with the context
switches its processes made (from getrusage: two a call is the least two
processes taking turns on one core can make).  K runs on C cores, each
call costing what it costs on a shared core, take K/C x U/W of one alone.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (arguments, compile_c, interleaved, machine_line, print_bars, print_table,
                    tree_env, write_json)

HERE = Path(__file__).parent
STRACE_DIVISOR = 10


def together(argv: list[str], k: int, timeout: float) -> float:
    """Wall seconds for k copies of argv started at once, until all end."""
    start = time.perf_counter()
    env = tree_env()
    procs = [subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
             for _ in range(k)]
    deadline = start + timeout
    for p in procs:
        try:
            _, err = p.communicate(timeout=max(0.1, deadline - time.perf_counter()))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
                q.wait()
            raise RuntimeError(f"{' '.join(argv)} x{k}: no exit after {timeout} s") from None
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit status {p.returncode}: "
                               f"{err.decode(errors='replace').strip()}")
    return time.perf_counter() - start


def on_one_core(argv: list[str]) -> tuple[int, int]:
    """(loop ns as the program printed it, context switches of the run's
    processes) for argv pinned to one CPU of this process's."""
    cpu = min(os.sched_getaffinity(0))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=tree_env(),
                         preexec_fn=lambda: os.sched_setaffinity(0, {cpu})).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    switches = (after.ru_nvcsw - before.ru_nvcsw) + (after.ru_nivcsw - before.ru_nivcsw)
    return int(out), switches


def main() -> int:
    ap = arguments(__doc__, repeat=3, iterations=100_000)
    ap.add_argument("--runs", type=int, default=4, metavar="K")
    ap.add_argument("--config", default="handler-native",
                    help="bench/supervise_one.py configuration (default: handler-native)")
    ap.add_argument("--timeout", type=float, default=300.0, metavar="S")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as work:
        prog = compile_c(HERE / "getppid_loop.c", work)
        n, k = args.iterations, args.runs
        commands = {
            "native": [prog, str(n)],
            f"pyshim ({args.config})": [sys.executable, str(HERE / "supervise_one.py"),
                                        args.config, "--", prog, str(n)],
            "strace -f": ["strace", "-f", "-qq", "-o", os.devnull, prog,
                          str(max(1, n // STRACE_DIVISOR))],
        }
        measures = {}
        for name, argv in commands.items():
            measures[(name, 1)] = lambda argv=argv: together(argv, 1, args.timeout)
            measures[(name, k)] = lambda argv=argv: together(argv, k, args.timeout)
        results = interleaved(measures, args.repeat)
        # W: a call's time in one run alone, from the loop's own clock
        # (the whole command also counts Python's start-up).
        loop_ns = sorted(int(subprocess.run(commands[f"pyshim ({args.config})"], capture_output=True,
                                            text=True, check=True, env=tree_env()).stdout)
                         for _ in range(3))[1]
        shared = sorted(on_one_core(commands[f"pyshim ({args.config})"]) for _ in range(3))[1]
        handoff = compile_c(HERE / "handoff.c", work)
        handoff_ns = sorted(int(subprocess.run([handoff, "100000"], capture_output=True, text=True,
                                               check=True).stdout) for _ in range(5))[2]

    print(f"# {k} runs at once vs one alone, {n} getppid calls each "
          f"(strace: {max(1, n // STRACE_DIVISOR)}); {machine_line()}; "
          f"median of {args.repeat}, whole commands\n")
    rows, raw, ratios = [], {}, {}
    for name in commands:
        one, many = results[(name, 1)][0], results[(name, k)][0]
        ratios[name] = many / one
        rows.append([name, f"{one:.3f}", f"{many:.3f}", f"{many / one:.2f}x"])
        raw[name] = {"alone_s": results[(name, 1)][1], "together_s": results[(name, k)][1]}
    print_table(["command", "one alone (s)", f"{k} at once (s)", "ratio"], rows)
    pyshim = f"pyshim ({args.config})"
    cores = os.cpu_count() or 1
    w_us = loop_ns / n / 1e3
    s_us = handoff_ns / 1e3
    floor = k / cores * (1 + 2 * s_us / w_us) if k > cores else 1.0
    print(f"\nfloor on this machine: one hand-off between two processes on one core "
          f"(bench/handoff.c) {s_us:.2f} us, a call alone {w_us:.2f} us: {k} runs on {cores} "
          f"cores cost at least {floor:.2f}x one alone ({k}/{cores} x (1 + 2 x {s_us:.2f} / "
          f"{w_us:.2f}))\n")
    u_us = shared[0] / n / 1e3
    shared_floor = k / cores * u_us / w_us if k > cores else 1.0
    print(f"sharing one core: {u_us:.2f} us a call, {shared[1] / n:.2f} context switches a "
          f"call (2 is the least two processes taking turns can make): {k} runs on {cores} "
          f"cores at that cost take {shared_floor:.2f}x one alone ({k}/{cores} x {u_us:.2f} / "
          f"{w_us:.2f}); pyshim's ratio is {ratios[pyshim] / shared_floor:.2f}x that\n")
    print_bars({f"{k} pyshim runs at once cost at most 3x one alone": ratios[pyshim] <= 3.0})
    write_json(args.json, {"iterations": n, "runs": k, "results": raw,
                           "handoff_ns": handoff_ns, "floor": floor,
                           "one_core_ns": shared[0], "one_core_switches": shared[1],
                           "one_core_floor": shared_floor})
    return 0


if __name__ == "__main__":
    sys.exit(main())
