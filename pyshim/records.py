"""Records: every traced call of a run, as a stream of msgpack maps.

``pyshim trace --record FILE`` writes one; ``pyshim inspect FILE`` reads it.

A record is a header map followed by one map (a *frame*) per call::

    {"format": "pyshim-record", "version": 1, "command": [...],
     "start": <unix time>, "pyshim": <version>}
    {"t": <s since start, at entry>, "pid": .., "tid": .., "nr": .., "name": "openat",
     "args": [6 raw unsigned registers], "strings": {"1": "/etc/passwd"},
     "result": <int, None if the call never returned>, "duration": <s>}
    ...

Frames are written when their call completes, so they are not in order of
``t``.  Each frame stands alone: a reader may stop anywhere, and a record cut
in the middle of a frame (the run was killed) reads up to its last whole
frame.  For clone, fork and vfork the child's pid (or the new thread's tid,
with CLONE_THREAD) is the result.

Public API: :class:`RecordWriter`, :func:`read`, :func:`summarize`,
:func:`format_summary`.
"""
from __future__ import annotations

import heapq
import io
import json
import os
import time
from collections.abc import Iterator

import msgpack

FORMAT = "pyshim-record"
VERSION = 1
CLONE_THREAD = 0x10000
SLOWEST = 10
_READ_SIZE = 64 * 1024
_FORK_NAMES = ("clone", "fork", "vfork")
_EXEC_NAMES = ("execve", "execveat")


class RecordWriter:
    """Writes a record: the header now, a frame per write(), flushed on close().

        with RecordWriter("run.rec", ["ls", "/tmp"]) as w:
            w.write({"t": 0.0, "pid": 7, "tid": 7, "nr": 0, "name": "read", ...})

    ``start`` is the run's start as unix time and ``clock`` the same instant
    on time.monotonic(), so a frame's ``t`` is ``monotonic() - clock``.
    """

    def __init__(self, path: str | os.PathLike, command: list[str]):
        import pyshim

        self.path = os.fspath(path)
        self.frames = 0
        self._packer = msgpack.Packer()
        self._file = open(self.path, "wb", buffering=_READ_SIZE)
        self.start = time.time()
        self.clock = time.monotonic()
        self._file.write(self._packer.pack({
            "format": FORMAT, "version": VERSION, "command": list(command),
            "start": self.start, "pyshim": pyshim.__version__}))

    def write(self, frame: dict) -> None:
        """Appends one frame (a map of the keys above)."""
        self._file.write(self._packer.pack(frame))
        self.frames += 1

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed

    def __enter__(self) -> "RecordWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Reader:
    """Iterates over a record's header and frames; afterwards ``truncated``
    says whether the file ended inside a frame."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self.truncated = False

    def _bad(self, why: str) -> ValueError:
        return ValueError(f"{self.path}: not a pyshim record ({why})")

    def __iter__(self) -> Iterator[dict]:
        with open(self.path, "rb") as f:
            unpacker = msgpack.Unpacker(f, read_size=_READ_SIZE, raw=False,
                                        max_buffer_size=16 * 1024 * 1024)
            try:
                header = next(unpacker)
            except StopIteration:
                raise self._bad("empty" if f.tell() == 0 else "cut short in its header") from None
            except (ValueError, msgpack.UnpackException) as exc:
                raise self._bad(f"unreadable header: {exc}") from None
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise self._bad("no pyshim-record header")
            if header.get("version") != VERSION:
                raise ValueError(f"{self.path}: pyshim record version {header.get('version')!r}; "
                                 f"this pyshim reads version {VERSION}")
            yield header
            while True:
                offset = unpacker.tell()
                try:
                    frame = next(unpacker)
                except StopIteration:
                    break
                except (ValueError, msgpack.UnpackException) as exc:
                    raise ValueError(f"{self.path}: garbage at byte {offset}: {exc}") from None
                if not isinstance(frame, dict):
                    raise ValueError(f"{self.path}: garbage at byte {offset}: not a frame")
                yield frame
            self.truncated = unpacker.tell() < os.fstat(f.fileno()).st_size


def read(path: str | os.PathLike) -> Iterator[dict]:
    """Yields the header of the record at `path`, then each frame, reading it
    in chunks (constant memory).  A last frame cut short ends the iteration
    quietly; a file that is not a record raises ValueError."""
    yield from _Reader(path)


def _is_error(result) -> bool:
    return isinstance(result, int) and -4095 <= result <= -1


def summarize(path: str | os.PathLike) -> dict:
    """Streams the record at `path` into a JSON-serializable summary: calls,
    errors and time per syscall, the process tree, the slowest calls."""
    reader = _Reader(path)
    frames = iter(reader)
    header = next(frames)
    counts: dict[str, list] = {}          # name -> [calls, errors, total_s]
    procs: dict[int, dict] = {}           # pid -> {"pid", "parent", "threads", "exec"}
    threads: dict[int, dict] = {}         # pid -> {tid: None}, an ordered set
    slowest: list = []                    # min-heap of (duration, n, frame)

    def process(pid: int) -> dict:
        proc = procs.get(pid)
        if proc is None:
            proc = procs[pid] = {"pid": pid, "parent": None, "threads": [], "exec": None}
            threads[pid] = {}
        return proc

    n = 0
    for frame in frames:
        n += 1
        name = frame.get("name") or f"syscall_{frame.get('nr')}"
        result = frame.get("result")
        duration = frame.get("duration") or 0.0
        row = counts.get(name)
        if row is None:
            row = counts[name] = [0, 0, 0.0]
        row[0] += 1
        row[1] += _is_error(result)
        row[2] += duration
        pid, tid = frame.get("pid"), frame.get("tid")
        if isinstance(pid, int):
            process(pid)
            if isinstance(tid, int):
                threads[pid][tid] = None
            if name in _FORK_NAMES and isinstance(result, int) and result > 0:
                args = frame.get("args") or [0]
                if name == "clone" and args[0] & CLONE_THREAD:
                    threads[pid][result] = None
                else:
                    process(result)["parent"] = pid
            elif name in _EXEC_NAMES and result == 0:
                path_arg = "0" if name == "execve" else "1"
                process(pid)["exec"] = (frame.get("strings") or {}).get(path_arg)
        if len(slowest) < SLOWEST or duration > slowest[0][0]:
            item = (duration, n, {
                "name": name, "pid": pid, "tid": tid, "result": result,
                "duration": frame.get("duration"), "strings": frame.get("strings") or {}})
            if len(slowest) < SLOWEST:
                heapq.heappush(slowest, item)
            else:
                heapq.heapreplace(slowest, item)
    for pid, proc in procs.items():
        proc["threads"] = list(threads[pid])
    order = sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return {
        "command": header.get("command"),
        "pyshim": header.get("pyshim"),
        "start": header.get("start"),
        "frames": n,
        "truncated": reader.truncated,
        "syscalls": {name: {"calls": c, "errors": e, "total_s": round(t, 9)}
                     for name, (c, e, t) in order},
        "processes": list(procs.values()),
        "slowest": [item[2] for item in sorted(slowest, key=lambda i: (-i[0], i[1]))],
    }


def _shell_join(argv) -> str:
    import shlex

    return " ".join(shlex.quote(str(a)) for a in argv or [])


def _result_text(result) -> str:
    if result is None:
        return "?"
    if _is_error(result):
        return f"-1 {_errno_name(-result)}"
    return hex(result) if result >= 1 << 32 else str(result)


def _errno_name(err: int) -> str:
    import errno

    return errno.errorcode.get(err, f"ERRNO_{err}")


def format_summary(summary: dict) -> str:
    """The summary as a readable report."""
    out = io.StringIO()
    w = out.write
    calls = sum(s["calls"] for s in summary["syscalls"].values())
    errors = sum(s["errors"] for s in summary["syscalls"].values())
    procs = summary["processes"]
    nthreads = sum(len(p["threads"]) for p in procs)
    start = summary.get("start")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(start)) if start else "?"
    w(f"{_shell_join(summary.get('command'))}: {calls} calls, {errors} errors, "
      f"{len(procs)} process{'es' if len(procs) != 1 else ''}, "
      f"{nthreads} thread{'s' if nthreads != 1 else ''} "
      f"(started {when}, pyshim {summary.get('pyshim')})\n")
    if summary.get("truncated"):
        w("truncated: the record ends inside a frame (was the run killed?)\n")

    w("\nsyscall                    calls   errors    total s\n")
    for name, s in summary["syscalls"].items():
        w(f"{name:<24} {s['calls']:>7} {s['errors'] or '':>8} {s['total_s']:>10.6f}\n")
    w(f"{'total':<24} {calls:>7} {errors or '':>8} "
      f"{sum(s['total_s'] for s in summary['syscalls'].values()):>10.6f}\n")

    w("\nprocesses (pid, threads, image)\n")
    by_pid = {p["pid"]: p for p in procs}
    children: dict = {}
    for p in procs:
        parent = p["parent"] if p["parent"] in by_pid and p["parent"] != p["pid"] else None
        children.setdefault(parent, []).append(p)

    def tree(parent, depth: int, seen: set) -> None:
        for p in children.get(parent, []):
            if p["pid"] in seen:
                continue
            seen.add(p["pid"])
            others = [t for t in p["threads"] if t != p["pid"]]
            extra = f" +{len(others)} thread{'s' if len(others) != 1 else ''}" if others else ""
            image = p.get("exec")
            if image is None and parent is None and depth == 0 and p is procs[0]:
                image = _shell_join(summary.get("command"))
            w(f"{'  ' * (depth + 1)}{p['pid']}{extra}{'  ' + image if image else ''}\n")
            tree(p["pid"], depth + 1, seen)
    tree(None, 0, set())
    if not procs:
        w("  (none)\n")

    if summary["slowest"]:
        w("\nslowest calls\n")
        for f in summary["slowest"]:
            strings = ", ".join(json.dumps(v, ensure_ascii=False)
                                for _, v in sorted(f["strings"].items(), key=lambda kv: int(kv[0])))
            duration = f["duration"] if f["duration"] is not None else 0.0
            w(f"  {duration:10.6f}s  [pid {f['tid']}] {f['name']}({strings})"
              f" = {_result_text(f['result'])}\n")
    return out.getvalue().rstrip("\n")
