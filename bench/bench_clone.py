"""Cost of thread and process creation under pyshim, against native and strace,
and the shared memory pyshim holds per live thread.

    python bench/bench_clone.py [--repeat R] [--json FILE]

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

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from pyshim import Supervisor

SOURCE = Path(__file__).with_name("clone_loop.c")
SHM_DIR = "/dev/shm"
THREADS, FORKS, ALIVE = 1000, 200, 1000
STRACE = ["strace", "-f", "-qq", "-o", os.devnull]
TIMEOUT_S = 600  # one measurement; a hang past this is reported, not waited out


def compile_loop(workdir: str) -> str:
    prog = os.path.join(workdir, "clone_loop")
    subprocess.run(["gcc", "-O2", "-pthread", "-o", prog, str(SOURCE)], check=True)
    return prog


def _loop_ns(out, what: str, code: int) -> int:
    """The ns count the loop printed last into the file out."""
    out.seek(0)
    lines = out.read().decode(errors="replace").split()
    if code != 0 or not lines:
        raise RuntimeError(f"{what}: exit status {code}, stdout {lines[-3:]!r}")
    return int(lines[-1])


def run_command(prefix: list[str], prog: str, mode: str, n: int) -> int:
    """Native and strace: PREFIX PROG MODE N as a subprocess."""
    argv = prefix + [prog, mode, str(n)]
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{' '.join(argv)}: no exit after {TIMEOUT_S} s") from None
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr.decode(errors="replace"))
        return _loop_ns(out, " ".join(argv), proc.returncode)


class _Watchdog:
    """Supervisor.run cannot be interrupted from Python: if it outlives
    TIMEOUT_S, say what hung and how to reproduce it, then exit."""

    def __init__(self, what: str):
        self.timer = threading.Timer(TIMEOUT_S, self._fire)
        self.timer.daemon = True
        self.what = what

    def _fire(self) -> None:
        sys.stderr.write(f"HANG: {self.what} did not return after {TIMEOUT_S} s\n")
        sys.stderr.flush()
        os._exit(3)

    def __enter__(self):
        self.timer.start()

    def __exit__(self, *exc):
        self.timer.cancel()


def run_supervised(sup: Supervisor, prog: str, mode: str, n: int) -> int:
    """PROG MODE N under sup, in this process."""
    argv = [prog, mode, str(n)]
    what = f"Supervisor().run({argv!r})"
    with tempfile.TemporaryFile() as out, _Watchdog(what):
        code = sup.run(argv, stdout=out)
        return _loop_ns(out, what, code)


def shm_segments(tag: str) -> list[tuple[str, int, int]]:
    """(name, st_size, allocated bytes) of every /dev/shm/pyshim-<tag>* file."""
    prefix = f"pyshim-{tag}"
    segs = []
    for name in sorted(os.listdir(SHM_DIR)):
        if name.startswith(prefix):
            try:
                st = os.stat(os.path.join(SHM_DIR, name))
            except FileNotFoundError:
                continue
            segs.append((name, st.st_size, st.st_blocks * 512))
    return segs


def run_alive(prog: str, n: int, tag: str) -> tuple[int, dict]:
    """PROG alive N under a Supervisor whose getppid handler samples the
    run's shared memory and thread table while all N threads are alive."""
    sup = Supervisor()
    samples = []

    @sup.on("getppid")
    def measure(call):
        segs = shm_segments(tag)
        rows = sup.threads
        samples.append({
            "segments": len(segs),
            "runs": len({name.rsplit("-", 1)[0] for name, _, _ in segs}),
            "total_bytes": sum(size for _, size, _ in segs),
            "allocated_bytes": sum(alloc for _, _, alloc in segs),
            "rows": len(rows),
            "live_threads": sum(1 for r in rows if r["state"] == "running"),
        })
        return None  # getppid runs natively

    ns = run_supervised(sup, prog, "alive", n)
    if len(samples) != 1:
        raise RuntimeError(f"the getppid handler ran {len(samples)} times, expected once")
    return ns, samples[0]


def configurations():
    """(name, clone_loop mode, count, measure(prog, count) -> total ns)."""
    t, f, a = "pthread create+join", "fork+wait", "threads alive at once"
    return [
        (f"{t} x{THREADS}, native", "threads", THREADS,
         lambda p, k: run_command([], p, "threads", k)),
        (f"{t} x{THREADS}, pyshim", "threads", THREADS,
         lambda p, k: run_supervised(Supervisor(), p, "threads", k)),
        (f"{t} x{THREADS}, strace -f", "threads", THREADS,
         lambda p, k: run_command(STRACE, p, "threads", k)),
        (f"{f} x{FORKS}, native", "forks", FORKS,
         lambda p, k: run_command([], p, "forks", k)),
        (f"{f} x{FORKS}, pyshim", "forks", FORKS,
         lambda p, k: run_supervised(Supervisor(), p, "forks", k)),
        (f"{f} x{FORKS}, strace -f", "forks", FORKS,
         lambda p, k: run_command(STRACE, p, "forks", k)),
        (f"{ALIVE} {a}, native", "alive", ALIVE,
         lambda p, k: run_command([], p, "alive", k)),
    ]


def main() -> int:
    global TIMEOUT_S
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, metavar="R")
    ap.add_argument("--json", metavar="FILE", help="write the raw numbers to FILE")
    ap.add_argument("--timeout", type=int, default=TIMEOUT_S, metavar="S",
                    help=f"give up on one measurement after S seconds (default {TIMEOUT_S})")
    args = ap.parse_args()
    TIMEOUT_S = args.timeout

    tag = f"bench{os.getpid()}"
    os.environ["PYSHIM_RUN_TAG"] = tag
    leftover = shm_segments(tag)
    if leftover:
        raise SystemExit(f"segments with run tag {tag} exist before the run: {leftover}")

    results: dict[str, dict] = {}
    samples: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-clone-") as workdir:
        prog = compile_loop(workdir)
        for name, mode, k, measure in configurations():
            runs = [measure(prog, k) for _ in range(args.repeat)]
            results[name] = {"mode": mode, "count": k, "total_ns": runs,
                             "us_per_op": statistics.median(runs) / k / 1000}
        alive_runs = []
        for _ in range(args.repeat):
            ns, sample = run_alive(prog, ALIVE, tag)
            alive_runs.append(ns)
            samples.append(sample)
        results[f"{ALIVE} threads alive at once, pyshim"] = {
            "mode": "alive", "count": ALIVE, "total_ns": alive_runs,
            "us_per_op": statistics.median(alive_runs) / ALIVE / 1000}
    leaked = shm_segments(tag)

    native = {r["mode"]: r["us_per_op"] for name, r in results.items() if name.endswith(", native")}
    us = {name: r["us_per_op"] for name, r in results.items()}

    def of(mode: str, how: str) -> float:
        return next(r["us_per_op"] for name, r in results.items()
                    if r["mode"] == mode and name.endswith(", " + how))

    print(f"kernel {platform.release()}, nproc {len(os.sched_getaffinity(0))}, "
          f"median of {args.repeat}, us per op = loop ns / count (start-up excluded)\n")
    print("| configuration | us per op | ratio to native |")
    print("|---|---:|---:|")
    for name, v in us.items():
        print(f"| {name} | {v:.2f} | {v / native[results[name]['mode']]:.2f}x |")

    print()
    for mode, label in (("threads", "pthread create+join"), ("forks", "fork+wait")):
        s, p, n = of(mode, "strace -f"), of(mode, "pyshim"), native[mode]
        print(f"strace -f, {label}: {s / n:.2f}x native, {s / p:.2f}x pyshim")

    # Shared memory: the median sample by bytes per live thread (all R should agree).
    for s in samples:
        s["bytes_per_thread"] = s["total_bytes"] / s["live_threads"] if s["live_threads"] else float("inf")
    per_thread = [s["bytes_per_thread"] for s in samples]
    shm = sorted(samples, key=lambda s: s["bytes_per_thread"])[len(samples) // 2]
    print()
    print(f"shared memory with {ALIVE} threads alive (pyshim): {shm['segments']} segments, "
          f"{shm['total_bytes']} bytes total ({shm['allocated_bytes']} allocated in tmpfs), "
          f"{shm['live_threads']} live threads ({shm['rows']} rows in sup.threads), "
          f"{shm['bytes_per_thread']:.1f} bytes per live thread")
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
        "pthread create+join under pyshim <= 3x native": of("threads", "pyshim") <= 3 * native["threads"],
        "fork+wait under pyshim <= 2x native": of("forks", "pyshim") <= 2 * native["forks"],
        "shared memory per live thread <= 4096 bytes": shm["bytes_per_thread"] <= 4096,
    }
    print()
    for bar, ok in bars.items():
        print(f"{'PASS' if ok else 'FAIL'}: {bar}")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"kernel": platform.release(), "nproc": len(os.sched_getaffinity(0)),
                       "repeat": args.repeat, "results": results, "shm_samples": samples,
                       "bytes_per_thread": per_thread, "leaked_segments": leaked,
                       "bars": bars}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
