"""strace's lines, verbatim: what share of `strace -f`'s output lines
`pyshim trace` prints too, for ten everyday commands.

    python bench/strace_lines.py [--misses N] [--only NAME,...] [--timeout S]
                                 [--keep DIR] [--verbose] [--json FILE]

Each command runs in a fresh copy of a small prepared directory (a few
files, a git repo with one commit), at the same path, with the same
environment (a fixed PATH, HOME, TZ and LANG=C.UTF-8: with LANG=C,
pyshim's own Python would coerce the locale and hand LC_CTYPE=C.UTF-8 to
the program), three times: under `strace -f -o FILE`, under
`python -m pyshim trace -o FILE`, and under strace again.

Both outputs are normalized alike before comparing:

- strace's `<unfinished ...>` / `<... NAME resumed>` pairs are merged into
  one line; the pid column (`123 ` of strace -f -o, `[pid 123] ` of either)
  is stripped, and the padding before ` = ` collapsed to one space (strace
  aligns results at column 40, pid column included);
- `+++ exited/killed ... +++` and `--- SIG... ---` lines are dropped;
- hex numbers of 6 digits or more become 0xADDR, getrandom's bytes RANDOM;
  tv_sec/tv_nsec/tv_usec and st_*time values become T, date comments
  `/* 2024-... */` become `/* T */`; the machine's changing counters in
  sysinfo and statfs results (uptime, loads, free memory and blocks, procs)
  become N;
- every decimal number (100 or more) equal to a pid or tid of that trace
  (its pid column, and the results of clone, clone3, fork, vfork, getpid,
  gettid, getppid, set_tid_address, wait4) becomes PID.

pyshim cannot see the calls made before its preloaded shim loads, so the
dynamic loader's calls are left out of strace's lines, per process image
(a process's lines from a successful execve to the next). strace's image
of each execve is paired with pyshim's image of the same program and argv
(the n-th with the n-th); the command's first image, whose execve pyshim
never sees, with pyshim's lines before any execve. In the paired strace
image, the lines after the execve and before the anchor are dropped: the
anchor is the first line from which the syscall names of pyshim's first
5 lines (else 4, 3, 2) follow in order, else the first line that also
occurs in pyshim's image. The command's own execve is dropped too.
Images without a pyshim counterpart keep every line. This is the issue's
per-image rule, anchored on names first: "drop syscalls pyshim never
prints" would drop almost nothing (the loader's openat, mmap, read and
close are every program's calls too), and "the first line in common"
alone often stops at the loader's second call, `brk(NULL) = 0xADDR`,
which is also the program's first.

The measure: the share of strace's remaining lines that occur in pyshim's
output, as a multiset match (each pyshim line matches at most one strace
line). The reference column matches the same strace lines against all of
the second strace run's lines. With --misses N: the N syscalls most
frequent among unmatched strace lines, each with one unmatched strace line
and the closest pyshim line of that syscall that matched nothing.
"""
from __future__ import annotations

import argparse
import collections
import difflib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from common import machine_line, print_table, write_json

STRACE = "/usr/bin/strace"
ANCHOR_WIDTH = 5
MIN_PID = 100          # smaller numbers are left alone: too many sizes and fds
SHOWN_CHARS = 240      # longest line shown in --misses

# -- the commands and their directory --

WORDS = ["pear", "apple", "fig", "kiwi", "plum", "date", "lime", "mango", "cherry", "grape"]
SQL = "create table t(x); insert into t values(1); select * from t;"


def commands(have_sqlite: bool) -> list[tuple[str, list[str], str]]:
    """(name, argv, directory in the copy) for each command."""
    cmds = [
        ("ls -la d", ["ls", "-la", "d"], "."),
        ("git status", ["git", "status"], "repo"),
        ("python3 -c 'import json, csv'", ["python3", "-c", "import json, csv"], "."),
        ("tar cf out.tar d", ["tar", "cf", "out.tar", "d"], "."),
        ("sqlite3 db '...'", ["sqlite3", "db", SQL], "."),
        ("sort words.txt", ["sort", "words.txt"], "."),
        ("sh -c 'cat words.txt | wc -l'", ["sh", "-c", "cat words.txt | wc -l"], "."),
        ("find d -name '*.txt'", ["find", "d", "-name", "*.txt"], "."),
        ("stat words.txt", ["stat", "words.txt"], "."),
        ("cp words.txt words2.txt", ["cp", "words.txt", "words2.txt"], "."),
    ]
    return [c for c in cmds if have_sqlite or c[1][0] != "sqlite3"]


def base_env(home: str, tag: str) -> dict:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8",
            "TZ": "UTC", "TERM": "dumb", "GIT_CONFIG_NOSYSTEM": "1",
            "PYSHIM_RUN_TAG": tag}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def check(argv: list[str], cwd: Path, env: dict, timeout: float) -> None:
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{' '.join(argv)}: no exit after {timeout} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit status {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace')[-300:].strip()}")


def prepare(template: Path, env: dict, timeout: float) -> None:
    """The directory every run starts from: d/ (four small files), words.txt,
    and repo/, a git repo with one commit and one untracked file."""
    for name in ("a.txt", "b.txt", "notes.md", "sub/c.txt"):
        write(template / "d" / name, f"{name}\n" * 3)
    write(template / "words.txt", "".join(f"{WORDS[(i * 7) % 10]}{i}\n" for i in range(200)))
    repo = template / "repo"
    write(repo / "README", "one commit\n")
    write(repo / "src" / "main.py", "print('hi')\n")
    git_env = dict(env, GIT_AUTHOR_DATE="2024-01-01T00:00:00Z",
                   GIT_COMMITTER_DATE="2024-01-01T00:00:00Z")
    ident = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    check(["git", "init", "-q", "-b", "main", "."], repo, git_env, timeout)
    check(["git", "add", "."], repo, git_env, timeout)
    check(["git", *ident, "commit", "-q", "-m", "init"], repo, git_env, timeout)
    write(repo / "untracked.txt", "new\n")


def fresh_copy(template: Path, work: Path) -> None:
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(template, work, symlinks=True)


# -- running --

def run_traced(argv: list[str], cwd: Path, env: dict, timeout: float) -> int:
    """Runs a tracer (in its own session, so a timeout kills all it started);
    its exit status; raises with its stderr if it did not run the command."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise RuntimeError(f"{' '.join(argv[:6])} ...: no exit after {timeout} s, "
                           "killed") from None
    text = err.decode(errors="replace")
    if proc.returncode != 0 and ("Traceback" in text or "strace:" in text):
        raise RuntimeError(f"{' '.join(argv[:6])} ...: exit status {proc.returncode}: "
                           f"{text[-500:].strip()}")
    return proc.returncode


def trace_runs(cmd: list[str], template: Path, work: Path, cwd: str, env: dict,
               outdir: Path, timeout: float) -> dict[str, tuple[int, str]]:
    """{run: (exit status, raw trace)} for strace, pyshim and strace again."""
    tracers = {
        "strace": lambda out: [STRACE, "-f", "-o", out, "--", *cmd],
        "pyshim": lambda out: [sys.executable, "-m", "pyshim", "trace", "-o", out, "--", *cmd],
        "strace2": lambda out: [STRACE, "-f", "-o", out, "--", *cmd],
    }
    runs = {}
    for run, argv in tracers.items():
        fresh_copy(template, work)
        out = outdir / f"{run}.txt"
        code = run_traced(argv(str(out)), work / cwd, env, timeout)
        if not out.exists():
            raise RuntimeError(f"{run}: wrote no trace (exit status {code})")
        runs[run] = (code, out.read_text(errors="backslashreplace"))
    shutil.rmtree(work)
    return runs


# -- reading a trace: lines per pid --

PID_COLUMN = re.compile(r"^(?:\[pid\s+(\d+)\]|(\d+))\s+")
UNFINISHED = " <unfinished ...>"
RESUMED = re.compile(r"^<\.\.\. [A-Za-z0-9_?]+ resumed>")
NAME = re.compile(r"^([A-Za-z0-9_?]+)\(")
ALIGN = re.compile(r"\)\s+= ")
PID_RESULT = re.compile(r"^(?:clone|clone3|fork|vfork|getpid|gettid|getppid|set_tid_address"
                        r"|wait4)\(.*\)\s+= (\d+)")
HEX = re.compile(r"0x[0-9a-f]{6,}")
RANDOM = re.compile(r'^getrandom\("(?:[^"\\]|\\.)*"(?:\.\.\.)?')
TIMES = re.compile(r"\b(tv_sec|tv_nsec|tv_usec|st_[amc]time|st_[amc]time_nsec)="
                   r"-?\d+(?:\.\d+)?")
DATE_COMMENT = re.compile(r"/\* \d{4}-\d\d-\d\dT[^*]*\*/")
MACHINE_STATE = re.compile(r"\b(uptime|loads|freeram|sharedram|bufferram|freeswap|procs|f_bfree"
                           r"|f_bavail|f_ffree)=(?:\[[^]]*\]|\d+)")
NUMBER = re.compile(r"\b\d+\b")
EXECVE_OK = re.compile(r"^execve\((.*), 0xADDR /\* \d+ vars \*/\) = 0$")


def by_pid(text: str) -> tuple[list[tuple[str, str]], set[int]]:
    """[(pid, line)] in output order, pid columns stripped, unfinished and
    resumed halves merged (at the resumption), exit and signal lines
    dropped; and the pids and tids the trace names. Lines without a pid
    column (pyshim's while there is one thread) get pid "main"."""
    lines: list[tuple[str, str]] = []
    pending: dict[str, str] = {}
    pids: set[int] = set()
    for raw in text.splitlines():
        m = PID_COLUMN.match(raw)
        pid = m.group(1) or m.group(2) if m else "main"
        line = raw[m.end():] if m else raw
        if m:
            pids.add(int(pid))
        if not line or line.startswith(("+++ ", "--- ")):
            continue
        if line.endswith(UNFINISHED):
            pending[pid] = line[:-len(UNFINISHED)]
            continue
        r = RESUMED.match(line)
        if r and pid in pending:
            line = pending.pop(pid) + line[r.end():]
        line = ALIGN.sub(") = ", line)
        res = PID_RESULT.match(line)
        if res:
            pids.add(int(res.group(1)))
        lines.append((pid, line))
    lines.extend((pid, head + UNFINISHED) for pid, head in pending.items())
    return lines, {p for p in pids if p >= MIN_PID}


def main_pid(lines: list[tuple[str, str]]) -> str | None:
    """The pid of pyshim's unprefixed lines: the one prefixed pid that no
    clone, fork or vfork returned."""
    pids = {pid for pid, _ in lines if pid != "main"}
    children = {m.group(1) for _, line in lines
                if (m := re.match(r"^(?:clone3?|v?fork)\(.*\) = (\d+)$", line))}
    parents = pids - children
    return parents.pop() if len(parents) == 1 else None


def normalize(line: str, pids: set[int]) -> str:
    line = HEX.sub("0xADDR", line)
    line = RANDOM.sub('getrandom("RANDOM"', line)
    line = TIMES.sub(r"\1=T", line)
    line = DATE_COMMENT.sub("/* T */", line)
    line = MACHINE_STATE.sub(r"\1=N", line)
    return NUMBER.sub(lambda m: "PID" if int(m.group()) in pids else m.group(), line)


def read_trace(text: str) -> list[tuple[str, str]]:
    """[(pid, normalized line)]."""
    lines, pids = by_pid(text)
    main = main_pid(lines)
    return [(main if pid == "main" and main else pid, normalize(line, pids))
            for pid, line in lines]


# -- process images and the loader's lines --

class Image:
    """A process's lines from a successful execve (or its start) to the next."""

    def __init__(self, pid: str, key: str | None, first: bool):
        self.pid, self.key, self.first = pid, key, first
        self.lines: list[str] = []


def images(trace: list[tuple[str, str]]) -> list[Image]:
    """Every process's images, processes in order of first line."""
    per_pid: dict[str, list[Image]] = {}
    out = []
    for pid, line in trace:
        m = EXECVE_OK.match(line)
        if pid not in per_pid or m:
            image = Image(pid, m.group(1) if m else None, first=not per_pid)
            per_pid.setdefault(pid, []).append(image)
            out.append(image)
        per_pid[pid][-1].lines.append(line)
    return out


def syscall(line: str) -> str:
    m = NAME.match(line)
    return m.group(1) if m else line.split(" ", 1)[0]


def anchor(body: list[str], seen: list[str]) -> tuple[int, str]:
    """Where the program's own lines start in `body` (strace's image after
    its execve), given pyshim's lines `seen` of that image; and how found."""
    if not seen:
        return 0, "pyshim saw nothing"
    names = [syscall(line) for line in body]
    want = [syscall(line) for line in seen[:ANCHOR_WIDTH]]
    for k in range(len(want), 1, -1):
        for i in range(len(body) - k + 1):
            if names[i:i + k] == want[:k]:
                return i, f"names of {k} lines"
    common = set(seen)
    for i, line in enumerate(body):
        if line in common:
            return i, "first line in common"
    return 0, "no anchor"


def drop_loader(strace: list[tuple[str, str]], pyshim: list[tuple[str, str]],
                notes: list[str]) -> tuple[list[str], int]:
    """strace's lines without the loader's (see the docstring), and how
    many were dropped."""
    counterparts: dict[str | None, list[Image]] = collections.defaultdict(list)
    for image in images(pyshim):
        counterparts["(first)" if image.first and image.key is None else image.key].append(image)
    kept: list[str] = []
    dropped = 0
    for image in images(strace):
        if image.key is None:                    # a forked child: no loader
            kept.extend(image.lines)
            continue
        pair = counterparts["(first)" if image.first else image.key]
        if not pair:
            notes.append(f"no pyshim image for strace's {image.lines[0][:100]}")
            kept.extend(image.lines)
            continue
        seen = pair.pop(0).lines
        if not image.first:
            seen = seen[1:]                      # pyshim's execve line
        at, how = anchor(image.lines[1:], seen)
        notes.append(f"{image.key[:70]}: {at + image.first} loader lines dropped ({how})")
        kept.extend(image.lines[:0 if image.first else 1] + image.lines[1 + at:])
        dropped += at + image.first
    return kept, dropped


# -- the measure --

def matched(lines: list[str], other: list[str]) -> int:
    return sum((collections.Counter(lines) & collections.Counter(other)).values())


def unmatched(lines: list[str], other: list[str]) -> list[str]:
    """`lines` that `other` has no match for, in order."""
    left = collections.Counter(lines) - collections.Counter(other)
    out = []
    for line in lines:
        if left[line] > 0:
            left[line] -= 1
            out.append(line)
    return out


def measure(name: str, runs: dict[str, tuple[int, str]]) -> dict:
    strace, pyshim, strace2 = (read_trace(runs[r][1]) for r in ("strace", "pyshim", "strace2"))
    notes: list[str] = []
    codes = {r: runs[r][0] for r in runs}
    if len(set(codes.values())) > 1:
        notes.append(f"exit statuses differ: {codes}")
    kept, dropped = drop_loader(strace, pyshim, notes)
    seen = [line for _, line in pyshim]
    again = [line for _, line in strace2]
    return {"command": name, "lines": kept, "dropped": dropped, "pyshim": seen,
            "matched": matched(kept, seen), "self": matched(kept, again),
            "misses": unmatched(kept, seen), "extra": unmatched(seen, kept),
            "notes": notes}


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else "-"


def print_results(results: list[dict]) -> None:
    rows = [[r["command"], str(len(r["lines"])), str(r["dropped"]), str(r["matched"]),
             pct(r["matched"], len(r["lines"])), pct(r["self"], len(r["lines"]))]
            for r in results]
    total = sum(len(r["lines"]) for r in results)
    hits = sum(r["matched"] for r in results)
    rows.append(["**total**", str(total), str(sum(r["dropped"] for r in results)), str(hits),
                 pct(hits, total), pct(sum(r["self"] for r in results), total)])
    print_table(["command", "strace lines", "loader lines dropped", "matched", "share %",
                 "strace vs strace %"], rows)


def closest(line: str, candidates: list[str]) -> str | None:
    best, best_ratio = None, -1.0
    for cand in candidates[:400]:
        ratio = difflib.SequenceMatcher(None, line, cand, autojunk=False).ratio()
        if ratio > best_ratio:
            best, best_ratio = cand, ratio
    return best


def print_misses(results: list[dict], n: int) -> None:
    counts: collections.Counter = collections.Counter()
    totals: collections.Counter = collections.Counter()
    first: dict[str, dict] = {}
    for r in results:
        totals.update(syscall(line) for line in r["lines"])
        for line in r["misses"]:
            counts[syscall(line)] += 1
            first.setdefault(syscall(line), {"command": r["command"], "line": line, "r": r})
    print(f"\n## the {n} syscalls most frequent among unmatched strace lines\n")
    for i, (name, count) in enumerate(counts.most_common(n), 1):
        ex = first[name]
        r = ex["r"]
        cands = ([x for x in r["extra"] if syscall(x) == name]
                 or [x for x in r["pyshim"] if syscall(x) == name])
        near = closest(ex["line"], cands)
        print(f"{i}. {name}: {count} unmatched of {totals[name]}  (e.g. in {ex['command']})")
        print(f"   strace: {ex['line'][:SHOWN_CHARS]}")
        print(f"   pyshim: {near[:SHOWN_CHARS] if near else f'(no {name} line at all)'}")


# -- main --

def keep_files(keep: Path, index: int, runs: dict, result: dict) -> None:
    keep.mkdir(parents=True, exist_ok=True)
    for run, (_, text) in runs.items():
        (keep / f"{index:02d}-{run}.txt").write_text(text)
    (keep / f"{index:02d}-strace-kept.txt").write_text("\n".join(result["lines"]) + "\n")
    (keep / f"{index:02d}-pyshim-norm.txt").write_text("\n".join(result["pyshim"]) + "\n")
    (keep / f"{index:02d}-misses.txt").write_text("\n".join(result["misses"]) + "\n")


def cleanup_shm(tag: str) -> None:
    """Removes the segments of this script's pyshim runs that are left."""
    from pyshim import shm
    shm.gc(tag)
    left = [n for n in os.listdir(shm.SHM_DIR) if n.startswith(f"{shm.PREFIX}{tag}")]
    if left:
        print(f"warning: shared memory left in {shm.SHM_DIR}: {left}", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--misses", type=int, default=0, metavar="N",
                    help="show the N syscalls most frequent among unmatched strace lines")
    ap.add_argument("--only", metavar="NAME,...",
                    help="only commands whose name contains one of these words")
    ap.add_argument("--timeout", type=float, default=120.0, metavar="S",
                    help="seconds each traced run may take (default 120)")
    ap.add_argument("--keep", metavar="DIR",
                    help="write raw and normalized traces and misses to DIR")
    ap.add_argument("--verbose", action="store_true",
                    help="print, per command, how the loader's lines were found")
    ap.add_argument("--json", metavar="FILE", help="write the counts to FILE")
    args = ap.parse_args()
    if not os.access(STRACE, os.X_OK):
        print(f"error: {STRACE} not found", file=sys.stderr)
        return 2

    have_sqlite = shutil.which("sqlite3", path="/usr/local/bin:/usr/bin:/bin") is not None
    cmds = commands(have_sqlite)
    if args.only:
        words = args.only.split(",")
        cmds = [c for c in cmds if any(w in c[0] for w in words)]
    tag = "strlines" + os.urandom(4).hex()
    strace_version = subprocess.run([STRACE, "-V"], capture_output=True, text=True,
                                    timeout=30).stdout.split("\n")[0]
    print(f"# strace's lines, verbatim; {machine_line()}; {strace_version}\n")
    if not have_sqlite:
        print("(sqlite3 is not installed: its command is skipped)\n")

    results, failed = [], []
    with tempfile.TemporaryDirectory(prefix="strace-lines-") as tmp:
        template, work = Path(tmp) / "template", Path(tmp) / "w"
        env = base_env(str(work), tag)
        try:
            prepare(template, env, args.timeout)
            for i, (name, argv, cwd) in enumerate(cmds):
                try:
                    runs = trace_runs(argv, template, work, cwd, env, Path(tmp),
                                      args.timeout)
                except RuntimeError as e:
                    failed.append(f"{name}: {e}")
                    continue
                result = measure(name, runs)
                results.append(result)
                if args.keep:
                    keep_files(Path(args.keep), i, runs, result)
        finally:
            cleanup_shm(tag)

    print_results(results)
    for r in results:
        shown = r["notes"] if args.verbose else [n for n in r["notes"] if "dropped" not in n]
        for note in shown:
            print(f"- {r['command']}: {note}")
    for f in failed:
        print(f"FAILED: {f}")
    if args.misses:
        print_misses(results, args.misses)
    write_json(args.json, {"commands": {
        r["command"]: {"strace_lines": len(r["lines"]), "loader_dropped": r["dropped"],
                       "matched": r["matched"], "strace_vs_strace": r["self"]}
        for r in results}, "failed": failed})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
