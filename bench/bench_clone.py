"""Cost of thread and process creation under pyshim, against native and strace,
and the shared memory pyshim holds per live thread.

    python bench/bench_clone.py [--repeat R] [--json FILE] [--timeout S]

bench/clone_loop.c runs a creation loop and prints the loop's own duration in
ns, so start-up is excluded:

- ``threads 1000``: pthread_create + pthread_join of an empty thread, 1000 times;
- ``forks 200``: fork + waitpid of a child that _exit(0)s at once, 200 times;
- ``alive 1000``: 1000 threads blocked at once; with all of them alive the main
  thread calls getppid once, and a pyshim handler on getppid sums the sizes of
  the run's /dev/shm segments and reads the supervisor's thread table.

Under pyshim nothing is subscribed for the first two, but every clone, fork and
vfork still goes through the Supervisor.  Each configuration runs R times in
this one run; the median is reported in microseconds per operation.  Runs use
$PYSHIM_RUN_TAG=bench<pid>, so only this run's segments are counted.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import (arguments, compile_c, machine_line, median, print_bars, print_table,
                    run_command, run_supervised, write_json)
from pyshim import Supervisor

SOURCE = Path(__file__).with_name("clone_loop.c")
SHM_DIR = "/dev/shm"
STRACE = ["strace", "-f", "-qq", "-o", os.devnull]
# clone_loop mode -> (label, count)
MODES = {"threads": ("pthread create+join (64 KiB stacks)", 1000),
         "threads-default": ("pthread create+join (default attributes)", 1000),
         "forks": ("fork+wait", 200),
         "alive": ("threads alive at once", 1000)}


def shm_segments(tag: str) -> list[tuple[str, int, int]]:
    """(name, st_size, allocated bytes) of every /dev/shm/pyshim-<tag>* file."""
    segs = []
    for name in sorted(os.listdir(SHM_DIR)):
        if name.startswith(f"pyshim-{tag}"):
            try:
                st = os.stat(os.path.join(SHM_DIR, name))
            except FileNotFoundError:
                continue
            segs.append((name, st.st_size, st.st_blocks * 512))
    return segs


def run_alive(argv: list[str], tag: str, samples: list[dict], timeout: float) -> int:
    """argv (clone_loop alive N) under a Supervisor whose getppid handler
    samples the run's shared memory and thread table, into samples."""
    sup, before = Supervisor(), len(samples)

    @sup.on("getppid")
    def sample(call):
        segs, rows = shm_segments(tag), sup.threads
        live = sum(1 for r in rows if r["state"] == "running")
        total = sum(size for _, size, _ in segs)
        samples.append({
            "segments": len(segs),
            "runs": len({name.rsplit("-", 1)[0] for name, _, _ in segs}),
            "total_bytes": total,
            "allocated_bytes": sum(alloc for _, _, alloc in segs),
            "rows": len(rows),
            "live_threads": live,
            "bytes_per_thread": total / live if live else float("inf"),
        })
        return None  # getppid runs natively

    ns = run_supervised(sup, argv, timeout)
    if len(samples) != before + 1:
        raise RuntimeError(f"the getppid handler ran {len(samples) - before} times, expected once")
    return ns


def main() -> int:
    ap = arguments(__doc__, repeat=5)
    ap.add_argument("--timeout", type=int, default=600, metavar="S",
                    help="give up on one measurement after S seconds (default 600)")
    args = ap.parse_args()

    tag = f"bench{os.getpid()}"
    os.environ["PYSHIM_RUN_TAG"] = tag
    if leftover := shm_segments(tag):
        raise SystemExit(f"segments with run tag {tag} exist before the run: {leftover}")

    samples: list[dict] = []
    how = {  # how to run argv -> the loop's ns
        "native": lambda argv: run_command(argv, args.timeout),
        "pyshim": lambda argv: run_supervised(Supervisor(), argv, args.timeout),
        "strace -f": lambda argv: run_command(STRACE + argv, args.timeout),
    }
    configs = [(mode, h, how[h]) for mode in ("threads", "threads-default", "forks") for h in how]
    configs += [("alive", "native", how["native"]),
                ("alive", "pyshim", lambda argv: run_alive(argv, tag, samples, args.timeout))]

    results, us, whole = {}, {}, {}  # (mode, how) -> us per op, whole run ms
    with tempfile.TemporaryDirectory(prefix="bench-clone-") as workdir:
        prog = compile_c(SOURCE, workdir, "-pthread")
        for mode, h, measure in configs:
            label, k = MODES[mode]
            walls: list[float] = []

            def timed(measure=measure, argv=[prog, mode, str(k)], walls=walls):
                start = time.perf_counter()
                ns = measure(argv)
                walls.append(time.perf_counter() - start)
                return ns

            ns, runs = median(timed, args.repeat)
            us[mode, h] = ns / k / 1000
            whole[mode, h] = statistics.median(walls) * 1000
            name = f"{label} x{k}, {h}" if mode != "alive" else f"{k} {label}, {h}"
            results[name] = {"mode": mode, "how": h, "count": k, "total_ns": runs,
                             "us_per_op": us[mode, h], "whole_ms": walls}
    leaked = shm_segments(tag)

    print(f"{machine_line()}, median of {args.repeat}, "
          f"us per op = loop ns / count (start-up excluded); whole run = the program "
          f"from spawn to exit (pyshim: Supervisor.run in this process)\n")
    print_table(["configuration", "us per op", "ratio to native", "whole run ms",
                 "whole ratio"],
                [[name, f"{r['us_per_op']:.2f}", f"{r['us_per_op'] / us[r['mode'], 'native']:.2f}x",
                  f"{whole[r['mode'], r['how']]:.1f}",
                  f"{whole[r['mode'], r['how']] / whole[r['mode'], 'native']:.2f}x"]
                 for name, r in results.items()])
    print()
    for mode in ("threads", "threads-default", "forks"):
        s, p, n = us[mode, "strace -f"], us[mode, "pyshim"], us[mode, "native"]
        print(f"strace -f, {MODES[mode][0]}: {s / n:.2f}x native, {s / p:.2f}x pyshim")

    # Shared memory: the median sample by bytes per live thread (all R should agree).
    shm = sorted(samples, key=lambda s: s["bytes_per_thread"])[len(samples) // 2]
    print(f"\nshared memory with {MODES['alive'][1]} threads alive (pyshim): "
          f"{shm['segments']} segments, {shm['total_bytes']} bytes total "
          f"({shm['allocated_bytes']} allocated in tmpfs), {shm['live_threads']} live threads "
          f"({shm['rows']} rows in sup.threads), {shm['bytes_per_thread']:.1f} bytes per live thread")
    if len({(s["segments"], s["total_bytes"], s["live_threads"], s["rows"]) for s in samples}) > 1:
        print("  note: the samples differ between runs: "
              + "; ".join(f"{s['segments']} seg, {s['total_bytes']} B, {s['live_threads']} live, "
                          f"{s['rows']} rows" for s in samples))
    if any(s["runs"] != 1 for s in samples):
        print(f"  note: segments of more than one run id were seen: {[s['runs'] for s in samples]}")
    if leaked:
        print(f"  note: {len(leaked)} segments with tag {tag} left after all runs: "
              f"{[n for n, _, _ in leaked]}")

    bars = {
        "pthread create+join under pyshim <= 3x native": us["threads", "pyshim"] <= 3 * us["threads", "native"],
        "pthread create+join, default attributes, whole run, pyshim <= 2x native":
            whole["threads-default", "pyshim"] <= 2 * whole["threads-default", "native"],
        "fork+wait, whole run, pyshim <= 1.5x native":
            whole["forks", "pyshim"] <= 1.5 * whole["forks", "native"],
        "fork+wait under pyshim <= 2x native": us["forks", "pyshim"] <= 2 * us["forks", "native"],
        "shared memory per live thread <= 4096 bytes": shm["bytes_per_thread"] <= 4096,
    }
    print_bars(bars)
    write_json(args.json, {"repeat": args.repeat, "results": results, "shm_samples": samples,
                           "bytes_per_thread": [s["bytes_per_thread"] for s in samples],
                           "leaked_segments": leaked, "bars": bars})
    return 0


if __name__ == "__main__":
    sys.exit(main())
