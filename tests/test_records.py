"""Records (`pyshim trace --record`, `pyshim inspect FILE`) and the live
count of calls `pyshim trace` shows on a terminal."""
import errno
import io
import json
import os
import pty
import re
import subprocess
import sys
import time
import tracemalloc
from collections import Counter

import msgpack
import pytest

import pyshim
from conftest import pyshim_cli, tagged_processes
from pyshim import records, trace
from pyshim.trace import Tracer

SCRIPT = "cat /etc/hostname; ls /nonexistent; true"
CLONE_THREAD = 0x10000
FRAME_KEYS = {"t", "pid", "tid", "nr", "name", "args", "strings", "result", "duration"}


def is_error(result):
    return isinstance(result, int) and -4095 <= result <= -1


@pytest.fixture
def recorded(tmp_path):
    """A real run recorded by the CLI: (path, CompletedProcess, started, header, frames)."""
    path = tmp_path / "run.rec"
    before = time.time()
    out = pyshim_cli("trace", "--record", str(path), "--", "sh", "-c", SCRIPT)
    items = list(records.read(path))
    return path, out, before, items[0], items[1:]


def tree(frames):
    """root pid, and the children of the root seen in fork/clone frames."""
    root = frames[0]["pid"]
    forks = [f for f in frames if f["name"] in ("clone", "fork", "vfork") and f["result"] > 0
             and not (f["name"] == "clone" and f["args"][0] & CLONE_THREAD)]
    return root, forks


# -- a real run --

def test_record_run_prints_no_trace_and_keeps_the_program_output(recorded):
    path, out, _, _, _ = recorded
    assert out.returncode == 0
    with open("/etc/hostname") as f:
        assert out.stdout == f.read()
    # with --record alone, no trace lines: only ls's own complaint (and no progress: a pipe)
    assert out.stderr.splitlines() == [
        "ls: cannot access '/nonexistent': No such file or directory"]


def test_record_header(recorded):
    _, _, before, header, _ = recorded
    assert header["format"] == "pyshim-record" and header["version"] == 1
    assert header["command"] == ["sh", "-c", SCRIPT]
    assert header["pyshim"] == pyshim.__version__
    assert before <= header["start"] <= time.time()


def test_record_frames(recorded):
    _, _, _, _, frames = recorded
    assert len(frames) > 50
    for f in frames:
        assert set(f) == FRAME_KEYS
        assert isinstance(f["args"], list) and len(f["args"]) == 6
        assert all(isinstance(a, int) and 0 <= a < 1 << 64 for a in f["args"])
        assert f["t"] >= 0 and f["duration"] >= 0
        assert f["result"] is None or isinstance(f["result"], int)
        assert f["name"] == pyshim.syscalls.name(f["nr"])
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in f["strings"].items())
    root, forks = tree(frames)
    children = [f["result"] for f in forks]
    assert len(children) == 2 and all(f["pid"] == root for f in forks)
    # each child exec'd its program (the path captured on entry) and then opened or stat'ed
    # its argument: cat succeeds, ls fails with ENOENT
    for child, prog, target, ok in ((children[0], "cat", "/etc/hostname", True),
                                    (children[1], "ls", "/nonexistent", False)):
        execs = [f for f in frames if f["pid"] == child and f["name"] == "execve"
                 and f["result"] == 0]
        assert len(execs) == 1 and execs[0]["strings"]["0"].endswith("/" + prog)
        uses = [f for f in frames if f["pid"] == child and target in f["strings"].values()]
        assert uses, f"no frame of {prog} names {target}"
        if ok:
            assert any(f["name"] == "openat" and f["strings"] == {"1": target}
                       and f["result"] >= 0 for f in uses)
        else:
            assert all(f["result"] == -errno.ENOENT for f in uses)
    # calls that never return (exit_group) have no result.  (Not every exit is
    # asserted: the supervisor may reap a process before it reads its Exit event.)
    exits = [f for f in frames if f["name"] == "exit_group"]
    assert exits and {f["pid"] for f in exits} <= {root, *children}
    assert all(f["result"] is None for f in exits)


def tally(frames):
    calls = Counter(f["name"] for f in frames)
    errors = Counter(f["name"] for f in frames if is_error(f["result"]))
    return calls, errors


def test_inspect_text(recorded):
    path, _, _, _, frames = recorded
    out = pyshim_cli("inspect", str(path))
    assert out.returncode == 0 and out.stderr == ""
    text = out.stdout
    calls, errors = tally(frames)
    assert text.splitlines()[0].startswith(
        f"sh -c '{SCRIPT}': {len(frames)} calls, {sum(errors.values())} errors, "
        f"3 processes, 3 threads (started ")
    for name in calls:
        row = re.search(rf"^{name} +(\d+) +(\d*) +[\d.]+$", text, re.M)
        assert row, f"no row for {name}"
        assert int(row.group(1)) == calls[name]
        assert int(row.group(2) or 0) == errors[name]
    # the table is sorted by calls
    rows = re.findall(r"^(\w+) +(\d+) +\d* +[\d.]+$", text, re.M)
    counts = [int(n) for name, n in rows if name != "total"]
    assert counts == sorted(counts, reverse=True)
    # the process tree: sh at the root, its two children indented below it
    root, forks = tree(frames)
    tree_text = text.split("\nprocesses (", 1)[1].split("\n\n", 1)[0]
    assert f"\n  {root}  sh -c '{SCRIPT}'\n" in tree_text
    for f, prog in zip(forks, ("cat", "ls")):
        assert re.search(rf"^    {f['result']}  \S*/{prog}$", tree_text, re.M)
    slow = text.split("slowest calls\n", 1)[1].splitlines()
    assert len(slow) == 10
    durations = [float(line.split("s", 1)[0]) for line in slow]
    assert durations == sorted(durations, reverse=True)
    assert max(durations) == pytest.approx(max(f["duration"] for f in frames), abs=1e-6)


def test_inspect_json(recorded):
    path, _, _, header, frames = recorded
    out = pyshim_cli("inspect", "--json", str(path))
    assert out.returncode == 0
    summary = json.loads(out.stdout)
    assert summary == records.summarize(path)
    assert {k: summary[k] for k in ("command", "pyshim", "start")} == {
        k: header[k] for k in ("command", "pyshim", "start")}
    assert summary["frames"] == len(frames) and summary["truncated"] is False
    calls, errors = tally(frames)
    assert {n: (s["calls"], s["errors"]) for n, s in summary["syscalls"].items()} == {
        n: (calls[n], errors[n]) for n in calls}
    assert list(summary["syscalls"]) == sorted(calls, key=lambda n: (-calls[n], n))
    for name, s in summary["syscalls"].items():
        total = sum(f["duration"] for f in frames if f["name"] == name)
        assert s["total_s"] == pytest.approx(total, abs=1e-6)
    root, forks = tree(frames)
    procs = {p["pid"]: p for p in summary["processes"]}
    assert set(procs) == {root} | {f["result"] for f in forks}
    assert procs[root]["parent"] is None
    for f in forks:
        assert procs[f["result"]]["parent"] == root
        assert procs[f["result"]]["threads"] == [f["result"]]
    slowest = summary["slowest"]
    assert len(slowest) == 10
    assert all(set(s) == {"name", "pid", "tid", "result", "duration", "strings"} for s in slowest)
    assert [s["duration"] for s in slowest] == sorted(
        (f["duration"] for f in frames), reverse=True)[:10]


def test_threads_are_grouped_under_their_process(prog, tmp_path):
    path = tmp_path / "threads.rec"
    out = pyshim_cli("trace", "--record", str(path), "--", prog("threads"), "3", "5")
    assert out.returncode == 0
    summary = records.summarize(path)
    proc, = summary["processes"]
    assert proc["parent"] is None and len(proc["threads"]) == 4
    assert summary["syscalls"]["getppid"]["calls"] == 15
    assert summary["syscalls"]["clone"]["calls"] == 3


def test_tracer_record_and_text_lines_match(tmp_path):
    """With both, the record has one frame per text line, in the same order."""
    path = tmp_path / "cat.rec"
    out = io.StringIO()
    with open(os.devnull, "w") as devnull:
        code = Tracer(out, record=path).run(["cat", "/etc/hostname"], stdout=devnull)
    assert code == 0
    lines = out.getvalue().splitlines()
    assert lines[-1] == "+++ exited with 0 +++"
    frames = list(records.read(path))[1:]
    assert [f["name"] for f in frames] == [line.split("(", 1)[0] for line in lines[:-1]]
    opened = [line for line, f in zip(lines, frames) if f["strings"] == {"1": "/etc/hostname"}]
    assert opened == ['openat(AT_FDCWD, "/etc/hostname", O_RDONLY) = 3']


def test_record_only_some_calls(tmp_path):
    path = tmp_path / "some.rec"
    out = pyshim_cli("trace", "-e", "openat,close", "--record", str(path),
                     "--", "cat", "/etc/hostname")
    assert out.returncode == 0 and out.stderr == ""  # --record alone: no text lines
    names = {f["name"] for f in list(records.read(path))[1:]}
    assert names == {"openat", "close"}


def test_no_record_when_the_program_does_not_exist(tmp_path):
    path = tmp_path / "none.rec"
    out = pyshim_cli("trace", "--record", str(path), "--", "/no/such/program")
    assert out.returncode == 127 and not path.exists()


# -- truncated and foreign files --

def frame_offsets(data: bytes) -> list[int]:
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(data)
    offsets = []
    while True:
        start = unpacker.tell()
        try:
            next(unpacker)
        except StopIteration:
            return offsets
        offsets.append(start)


def test_truncated_record_reads_to_its_last_whole_frame(recorded, tmp_path):
    path, _, _, header, frames = recorded
    data = path.read_bytes()
    last = frame_offsets(data)[-1]
    cut = tmp_path / "cut.rec"
    cut.write_bytes(data[:last + (len(data) - last) // 2])
    items = list(records.read(cut))
    assert items == [header] + frames[:-1]
    summary = records.summarize(cut)
    assert summary["truncated"] is True and summary["frames"] == len(frames) - 1
    out = pyshim_cli("inspect", str(cut))
    assert out.returncode == 0 and "truncated" in out.stdout
    # cut exactly between frames: nothing is missing from what is there
    cut.write_bytes(data[:last])
    assert records.summarize(cut)["truncated"] is False


def test_record_of_a_killed_run_is_readable(tmp_path, no_leaks):
    """A record written by a supervisor killed in the middle of a run: the
    frames written out so far read, the last one may be cut."""
    path = tmp_path / "killed.rec"
    proc = subprocess.Popen([sys.executable, "-m", "pyshim", "trace", "--record", str(path),
                             "--", "sh", "-c", "while :; do /bin/true; done"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        # frames reach the file 64 KiB at a time
        while (not path.exists() or path.stat().st_size < 65536) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    # the program dies with its supervisor; gc removes the segments it left
    deadline = time.monotonic() + 10
    while tagged_processes(no_leaks) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pyshim_cli("gc").returncode == 0
    summary = records.summarize(path)
    assert summary["frames"] > 100
    assert summary["syscalls"]["execve"]["calls"] > 1
    assert summary["processes"][0]["parent"] is None
    # the vfork frame of a child that was running when the supervisor died is lost with it
    root = summary["processes"][0]["pid"]
    assert {p["parent"] for p in summary["processes"][1:]} in ({root}, {root, None})


@pytest.mark.parametrize("content, why", [
    (b"", "empty"),
    (b"hello, world\n", "no pyshim-record header"),
    (msgpack.packb({"format": "something-else"}), "no pyshim-record header"),
    (msgpack.packb({"format": "pyshim-record", "version": 1})[:5], "cut short in its header"),
    (b"\xc1\x00\x00", "unreadable header"),
])
def test_a_file_that_is_not_a_record(tmp_path, content, why):
    path = tmp_path / "not.rec"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        list(records.read(path))
    assert str(info.value).startswith(f"{path}: not a pyshim record ({why}")
    out = pyshim_cli("inspect", str(path))
    # the CLI maps ValueError to status 2, with the message on one line
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith(f"pyshim: {path}: not a pyshim record")


def test_a_record_of_another_version(tmp_path):
    path = tmp_path / "v2.rec"
    path.write_bytes(msgpack.packb({"format": "pyshim-record", "version": 2}))
    out = pyshim_cli("inspect", str(path))
    assert (out.returncode, out.stderr) == (
        2, f"pyshim: {path}: pyshim record version 2; this pyshim reads version 1\n")


def test_a_missing_record(tmp_path):
    out = pyshim_cli("inspect", str(tmp_path / "missing.rec"))
    assert (out.returncode, out.stderr) == (
        1, f"pyshim: {tmp_path / 'missing.rec'}: No such file or directory\n")


# -- synthetic records --

def frame(t, pid, tid, name, result, duration, args=(0,) * 6, strings=None):
    nr = pyshim.syscalls.NUMBERS[name]
    return {"t": t, "pid": pid, "tid": tid, "nr": nr, "name": name, "args": list(args),
            "strings": strings or {}, "result": result, "duration": duration}


def test_process_tree_from_clone_frames(tmp_path):
    path = tmp_path / "tree.rec"
    with records.RecordWriter(path, ["demo"]) as w:
        w.write(frame(0.0, 10, 10, "getpid", 10, 0.001))
        # the child's own calls may come before the fork frame that created it
        w.write(frame(0.1, 11, 11, "getppid", 10, 0.001))
        w.write(frame(0.0, 10, 10, "fork", 11, 0.002))
        w.write(frame(0.2, 10, 10, "clone", 12, 0.001, args=(0x3d0f00, 0, 0, 0, 0, 0)))
        w.write(frame(0.3, 10, 12, "getppid", 1, 0.001))
        w.write(frame(0.4, 11, 11, "vfork", 13, 0.001))
        w.write(frame(0.5, 13, 13, "execve", 0, 0.004, strings={"0": "/bin/true"}))
        w.write(frame(0.6, 11, 11, "clone", -errno.EAGAIN, 0.5, args=(0x11, 0, 0, 0, 0, 0)))
        w.write(frame(0.7, 13, 13, "exit_group", None, 0.0))
    summary = records.summarize(path)
    assert summary["processes"] == [
        {"pid": 10, "parent": None, "threads": [10, 12], "exec": None},
        {"pid": 11, "parent": 10, "threads": [11], "exec": None},
        {"pid": 13, "parent": 11, "threads": [13], "exec": "/bin/true"},
    ]
    assert summary["syscalls"]["clone"] == {"calls": 2, "errors": 1, "total_s": 0.501}
    assert summary["slowest"][0] == {"name": "clone", "pid": 11, "tid": 11, "result": -11,
                                     "duration": 0.5, "strings": {}}
    text = records.format_summary(summary)
    assert "\n  10  demo\n    11\n      13  /bin/true\n" in text.replace(" +1 thread", "")
    assert "  10 +1 thread  demo" in text
    assert "clone() = -1 EAGAIN" in text


def test_large_record_is_summarized_in_bounded_memory(tmp_path):
    path = tmp_path / "large.rec"
    n = 200_000
    names = ["read", "write", "openat", "close", "getppid"]
    with records.RecordWriter(path, ["big"]) as w:
        for i in range(n):
            pid = 100 + i % 7
            w.write(frame(i * 1e-6, pid, pid + 1000 * (i % 3), names[i % 5],
                          -2 if i % 10 == 0 else 3, (i % 9973) * 1e-6,
                          args=(i, 1 << 63, 0, 0, 0, 0),
                          strings={"1": f"/tmp/file{i}"} if i % 5 == 2 else None))
    assert path.stat().st_size > 10_000_000
    # summarize reads the whole record through read(): one pass under tracemalloc
    tracemalloc.start()
    try:
        summary = records.summarize(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, f"summarizing a {path.stat().st_size} byte record peaked at {peak} bytes"
    assert summary["frames"] == n and summary["truncated"] is False
    assert summary["syscalls"]["read"] == {"calls": n // 5, "errors": n // 10,
                                           "total_s": pytest.approx(summary["syscalls"]["read"]["total_s"])}
    assert len(summary["processes"]) == 7
    assert all(len(p["threads"]) == 3 for p in summary["processes"])
    assert [s["duration"] for s in summary["slowest"]] == [pytest.approx(9972e-6)] * 10


# -- the live count on a terminal --

def run_in_pty(argv, timeout=60):
    """Runs argv with a terminal as stdin, stdout and stderr; returns
    (exit status, everything written to the terminal)."""
    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execv(sys.executable, [sys.executable, "-m", "pyshim", *argv])
        finally:
            os._exit(127)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the terminal's last user is gone
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode(errors="replace")


LONG_SCRIPT = "cat /etc/hostname; sleep 1; ls / >/dev/null"


def test_progress_on_a_terminal(tmp_path):
    path = tmp_path / "tty.rec"
    code, text = run_in_pty(["trace", "--record", str(path), "--", "sh", "-c", LONG_SCRIPT])
    assert code == 0
    counts = re.findall(r"\r pyshim: (\d+) calls", text)
    assert counts, text
    # the final count ends its line and is the number of frames
    frames = records.summarize(path)["frames"]
    assert text.endswith(f"\r pyshim: {frames} calls\r\n")
    assert [int(c) for c in counts] == sorted(int(c) for c in counts)


def test_progress_with_text_lines_to_a_file(tmp_path):
    trace = tmp_path / "trace.txt"
    code, text = run_in_pty(["trace", "-o", str(trace), "--", "sh", "-c", LONG_SCRIPT])
    assert code == 0
    lines = trace.read_text().splitlines()
    assert lines[-1] == "+++ exited with 0 +++"
    assert text.endswith(f"\r pyshim: {len(lines) - 1} calls\r\n")


def test_no_progress_when_text_lines_go_to_the_terminal():
    code, text = run_in_pty(["trace", "-e", "wait4", "--", "sh", "-c", LONG_SCRIPT])
    assert code == 0
    assert "pyshim:" not in text and "calls" not in text
    assert "wait4(" in text and text.endswith("+++ exited with 0 +++\r\n")


def test_no_progress_when_stderr_is_a_pipe(tmp_path):
    path = tmp_path / "pipe.rec"
    out = pyshim_cli("trace", "--record", str(path), "--", "sh", "-c", LONG_SCRIPT)
    assert out.returncode == 0
    assert out.stderr == ""
    assert records.summarize(path)["frames"] > 0


def test_progress_is_rate_limited(tmp_path, monkeypatch, capsys):
    """The count shows once the run is PROGRESS_DELAY_S old, then at most
    every PROGRESS_EVERY_S, and ends with the final count on its own line."""
    monkeypatch.setattr(trace, "PROGRESS_DELAY_S", 0.0)
    monkeypatch.setattr(trace, "PROGRESS_EVERY_S", 3600.0)
    with open(os.devnull, "w") as devnull:
        tracer = Tracer(None, record=tmp_path / "rate.rec", progress=True)
        assert tracer.run(["cat", "/etc/hostname"], stdout=devnull) == 0
    frames = records.summarize(tmp_path / "rate.rec")["frames"]
    assert capsys.readouterr().err == f"\r pyshim: 1 calls\r pyshim: {frames} calls\n"
