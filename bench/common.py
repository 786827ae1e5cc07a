"""What every bench/ script shares: compiling a C loop, running a command
and reading the ns count it printed, medians, and the printed report."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TREE = Path(__file__).resolve().parent.parent  # the pyshim tree this bench/ belongs to


def arguments(doc: str, repeat: int = 5, iterations: int | None = None) -> argparse.ArgumentParser:
    """The options every script takes: --repeat R, --json FILE and, given a
    default, --iterations N; the script adds its own."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    if iterations is not None:
        ap.add_argument("--iterations", type=int, default=iterations, metavar="N")
    ap.add_argument("--repeat", type=int, default=repeat, metavar="R")
    ap.add_argument("--json", metavar="FILE", help="write the raw numbers to FILE")
    return ap


def compile_c(source, workdir: str, *flags: str) -> str:
    prog = os.path.join(workdir, os.path.splitext(os.path.basename(source))[0])
    subprocess.run(["gcc", "-O2", *flags, "-o", prog, str(source)], check=True)
    return prog


def last_number(out, what: str, code: int) -> int:
    """The last whitespace-separated number written to the file `out`."""
    out.seek(0)
    words = out.read().decode(errors="replace").split()
    if code != 0 or not words:
        raise RuntimeError(f"{what}: exit status {code}, output {words[-3:]!r}")
    return int(words[-1])


def tree_env(**extra: str) -> dict:
    """This environment, with this tree's pyshim first on the path."""
    return dict(os.environ, PYTHONPATH=str(TREE), **extra)


def wall_ms(argv: list[str], env: dict | None = None, cwd: str | None = None) -> float:
    """Milliseconds argv takes as a whole command (output discarded); raises
    with the end of its stderr if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit status {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace')[-500:].strip()}")
    return took * 1000


def run_command(argv: list[str], timeout: float | None = None) -> int:
    """Runs argv and returns the number it printed last (its own timing)."""
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{' '.join(argv)}: no exit after {timeout} s") from None
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr.decode(errors="replace"))
        return last_number(out, " ".join(argv), proc.returncode)


@contextlib.contextmanager
def watchdog(what: str, timeout: float | None):
    """Supervisor.run cannot be interrupted from Python: if the block outlives
    `timeout` seconds, say what hung and exit with status 3."""
    if timeout is None:
        yield
        return

    def fire() -> None:
        sys.stderr.write(f"HANG: {what} did not return after {timeout} s\n")
        sys.stderr.flush()
        os._exit(3)

    timer = threading.Timer(timeout, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def run_supervised(sup, argv: list[str], timeout: float | None = None) -> int:
    """Runs argv under `sup` in this process; the number it printed last."""
    with tempfile.TemporaryFile() as out, watchdog(f"Supervisor.run({argv!r})", timeout):
        code = sup.run(argv, stdout=out)
        return last_number(out, f"Supervisor.run {argv[0]}", code)


def median(measure, repeat: int) -> tuple[float, list]:
    runs = [measure() for _ in range(repeat)]
    return statistics.median(runs), runs


def interleaved(measures: dict, repeat: int) -> dict:
    """{name: (median, runs)}, running every measure once per round for
    `repeat` rounds, so that the machine's drift hits them all alike."""
    runs: dict = {name: [] for name in measures}
    for _ in range(repeat):
        for name, measure in measures.items():
            runs[name].append(measure())
    return {name: (statistics.median(r), r) for name, r in runs.items()}


def machine_line() -> str:
    return f"kernel {platform.release()}, nproc {len(os.sched_getaffinity(0))}"


def print_table(header: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|---|" + "---:|" * (len(header) - 1))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def print_bars(bars: dict[str, bool]) -> None:
    print()
    for bar, ok in bars.items():
        print(f"{'PASS' if ok else 'FAIL'}: {bar}")


def write_json(path: str | None, data: dict) -> None:
    if path:
        with open(path, "w") as f:
            json.dump({"kernel": platform.release(),
                       "nproc": len(os.sched_getaffinity(0)), **data}, f, indent=2)
