"""strace's everyday flags on `pyshim trace` (and `pyshim run`): the same
command traced by strace and by pyshim, lines compared once pids, addresses,
times and strace's column padding are normalized; where strace cannot be
compared (the dynamic loader's calls pyshim never sees), the documented
format.  Skipped where strace is missing or ptrace is not permitted."""
from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from conftest import STRACE, pyshim_cli

ENV = {**os.environ, "LC_ALL": "C"}


def run_strace(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([STRACE, *args], capture_output=True, text=True, timeout=60, env=ENV)


def run_pyshim(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return pyshim_cli("trace", *args, env=ENV, **kwargs)


def normalize(text: str) -> list[str]:
    """Lines as both tools would print them: strace's own messages and
    signal lines dropped,
    the padding before " = " removed, pids numbered in order of appearance,
    addresses and getppid's value replaced."""
    pids: dict[str, str] = {}

    def pid(m):
        return pids.setdefault(m.group(1), f"P{len(pids) + 1}")

    out = []
    for line in text.splitlines():
        if re.match(r"(\S*strace|pyshim): |(\[pid +\d+\] |\d+ +)?--- SIG", line):
            continue  # strace's messages, and signals (pyshim prints none)
        line = re.sub(r"\) +=( |$)", r") =\1", line)
        line = re.sub(r"^\[pid +(\d+)\]", lambda m: f"[pid {pid(m)}]", line)
        line = re.sub(r"^(\d+) +", lambda m: f"{pid(m)} ", line)
        line = re.sub(r"0x[0-9a-f]+", "0xADDR", line)
        line = re.sub(r"getppid\(\) = \d+", "getppid() = PPID", line)
        line = re.sub(r"(pipe|socket):\[\d+\]", r"\1:[INODE]", line)
        out.append(line)
    return out


def tail_match(strace_lines: list[str], pyshim_lines: list[str]) -> None:
    """pyshim's lines are strace's last ones: strace also sees the dynamic
    loader's calls, which happen before pyshim's shim is loaded."""
    assert pyshim_lines, "pyshim printed nothing"
    assert strace_lines[-len(pyshim_lines):] == pyshim_lines, "\n".join(
        ["strace:", *strace_lines, "pyshim:", *pyshim_lines])


# -- -e trace= classes: the data against strace itself --------------------------

EVERY_C = r"""
/* Every x86-64 syscall strace 6.1 knows, once, with zero arguments, raw (no
 * libc: nothing else runs), then exit_group(0).  Only safe under strace
 * -e inject=all:error=ENOSYS:when=1, which fails each first call. */
static long raw(long nr)
{
    long ret;
    __asm__ volatile ("syscall" : "=a"(ret) : "a"(nr), "D"(0L), "S"(0L), "d"(0L)
                      : "rcx", "r11", "memory");
    return ret;
}
void _start(void)
{
    for (long nr = 0; nr <= 450; nr++)
        if (nr != 59 && (nr <= 334 || nr >= 424))
            raw(nr);
    raw(231);
    for (;;)
        raw(60);
}
"""


@pytest.fixture(scope="module")
def every(tmp_path_factory):
    d = tmp_path_factory.mktemp("every")
    (d / "every.c").write_text(EVERY_C)
    subprocess.run(["gcc", "-O1", "-static", "-nostdlib", "-fno-stack-protector", "-o",
                    str(d / "every"), str(d / "every.c")], check=True)
    return str(d / "every")


def strace_class(every: str, cls: str) -> set[str]:
    """The syscalls strace puts in `cls`: every syscall fails its first call
    (ENOSYS), the class's with EPERM; execve (which the program cannot make
    safely) from whether strace -e trace=CLASS shows the exec of true."""
    out = run_strace("-qq", "-e", "signal=none", "-e", "inject=all:error=ENOSYS:when=1",
                     "-e", f"inject={cls}:error=EPERM:when=1",
                     "-e", "inject=execve:error=ENOSYS:when=9", every).stderr
    members = set(re.findall(r"^(\w+)\(.*= -1 EPERM .*\(INJECTED\)$", out, re.M))
    assert len(re.findall(r"\(INJECTED\)$", out, re.M)) > 350, out[-2000:]
    if run_strace("-qq", "-e", f"trace={cls}", "true").stderr.startswith("execve("):
        members.add("execve")
    return members


def test_syscall_classes_are_strace_s(strace, every):
    from pyshim.decode.classes import ALIASES, CLASSES

    for cls in [*CLASSES, *ALIASES]:
        assert strace_class(every, cls) == CLASSES[ALIASES.get(cls, cls)], cls


def test_trace_class_selects_as_strace(strace, tmp_path):
    """The same calls, in the same order, for -e trace=%CLASS and negations
    (programs that exec nothing: pyshim never sees the loader's calls)."""
    cases = {("cat", "/etc/hostname", "/nonexistent"):
             ("%file", "%desc", "!%desc,%memory", "%%stat", "/^(read|write)$"),
             ("sh", "-c", "cd /tmp; echo a >/dev/null; read x </etc/hostname; kill -0 $$; exit 3"):
             ("%process", "%signal", "%creds,%pure", "?nosuch,close", "all")}
    s, p = tmp_path / "s", tmp_path / "p"
    for argv, specs in cases.items():
        for spec in specs:
            theirs = run_strace("-o", str(s), "-e", f"trace={spec}", *argv)
            ours = run_pyshim("-o", str(p), "-e", f"trace={spec}", "--", *argv)
            assert ours.returncode == theirs.returncode != 0
            names = [re.sub(r"\(.*", "", l) for l in normalize(p.read_text())]
            tail_match([re.sub(r"\(.*", "", l) for l in normalize(s.read_text())], names)


def test_trace_shorthand_and_long_option_are_trace():
    short = run_pyshim("-e", "write", "--", "echo", "hi").stderr
    assert short == run_pyshim("-e", "trace=write", "--", "echo", "hi").stderr
    assert short == run_pyshim("--trace", "write", "--", "echo", "hi").stderr
    assert short == run_pyshim("--trace=write", "--", "echo", "hi").stderr
    assert short == 'write(1, "hi\\n", 3) = 3\n+++ exited with 0 +++\n'
    assert run_pyshim("-e", "trace=none", "--", "true").stderr == "+++ exited with 0 +++\n"


# -- several processes: strace -f's lines --------------------------------------

FAMILY = ["sh", "-c", "echo a; (echo b); /bin/echo c; exit 4"]


def test_several_processes_read_like_strace_f(strace):
    theirs = run_strace("-f", "-e", "trace=write,exit_group", *FAMILY)
    ours = run_pyshim("-e", "trace=write,exit_group", "--", *FAMILY)
    assert ours.returncode == theirs.returncode == 4
    assert normalize(ours.stderr) == normalize(theirs.stderr)
    assert any(l.startswith("[pid ") for l in ours.stderr.splitlines())
    # strace's prefix is "[pid %5u] ": pids shorter than 5 digits are padded
    for line in ours.stderr.splitlines():
        if line.startswith("[pid"):
            assert re.match(r"\[pid [ \d]{4}\d+\] \S", line), line


def test_f_o_file_starts_each_line_with_the_pid(strace, tmp_path):
    run_strace("-f", "-o", str(tmp_path / "s"), "-e", "trace=write,exit_group", *FAMILY)
    out = run_pyshim("-f", "-o", str(tmp_path / "p"), "-e", "trace=write,exit_group", "--",
                     *FAMILY)
    assert (out.returncode, out.stderr) == (4, "")
    ours = (tmp_path / "p").read_text()
    assert normalize(ours) == normalize((tmp_path / "s").read_text())
    for line in ours.splitlines():
        assert re.match(r"\d+ +\S", line) and len(re.match(r"\d+ +", line)[0]) >= 6, line


def test_ff_o_file_writes_one_file_per_process(strace, tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "p").mkdir()
    run_strace("-ff", "-o", str(tmp_path / "s" / "t"), "-e", "trace=write,exit_group", *FAMILY)
    out = run_pyshim("-ff", "-o", str(tmp_path / "p" / "t"), "-e", "trace=write,exit_group",
                     "--", *FAMILY)
    assert (out.returncode, out.stderr) == (4, "")

    def files(d):
        names = sorted(os.listdir(d), key=lambda n: int(n.split(".")[1]))
        assert all(re.fullmatch(r"t\.\d+", n) for n in names), names
        return [normalize((d / n).read_text()) for n in names]

    assert files(tmp_path / "p") == files(tmp_path / "s")


def test_threads_get_their_exit_lines(strace, prog):
    argv = [prog("threads"), "2", "3"]
    theirs = run_strace("-f", "-e", "trace=getppid,exit,exit_group", *argv)
    ours = run_pyshim("-e", "trace=getppid,exit,exit_group", "--", *argv)
    assert ours.returncode == theirs.returncode == 0

    def ends(text):  # the threads interleave as they like (strace splits lines then)
        return sorted(re.sub(r"^\[pid P\d+\]", "[pid N]", l) for l in normalize(text)
                      if "+++" in l)
    assert ends(ours.stderr) == ends(theirs.stderr) == [
        "+++ exited with 0 +++", "[pid N] +++ exited with 0 +++", "[pid N] +++ exited with 0 +++"]
    assert ours.stderr.splitlines()[-1] == "+++ exited with 0 +++"
    assert len(re.findall(r"^\[pid +\d+\] getppid\(\) = \d+$", ours.stderr, re.M)) == 6
    assert len(re.findall(r"^\[pid +\d+\] exit\(0\) = \?$", ours.stderr, re.M)) == 2


LEADER_C = r"""
/* A child whose leader thread exits first (SYS_exit), its other thread
 * last: the process ends with the last one's status. */
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
static void *work(void *a) { usleep(100000); syscall(SYS_getppid); syscall(SYS_exit, 7); return 0; }
int main(void)
{
    if (fork() == 0) {
        pthread_t t;
        pthread_create(&t, 0, work, 0);
        usleep(20000);
        syscall(SYS_exit, 5);
    }
    int st;
    wait(&st);
    syscall(SYS_getppid);
    return WEXITSTATUS(st);
}
"""


def test_a_leader_that_exits_first_waits_for_its_process(strace, tmp_path):
    (tmp_path / "leader.c").write_text(LEADER_C)
    exe = str(tmp_path / "leader")
    subprocess.run(["gcc", "-O1", "-pthread", "-o", exe, str(tmp_path / "leader.c")], check=True)
    theirs = run_strace("-f", "-e", "trace=getppid,exit,exit_group", exe)
    ours = run_pyshim("-e", "trace=getppid,exit,exit_group", "--", exe)
    assert ours.returncode == theirs.returncode == 7
    assert normalize(ours.stderr) == normalize(theirs.stderr)


def test_killed_program_and_exit_status(strace):
    argv = ["sh", "-c", "kill -TERM $$"]
    theirs = run_strace("-f", "-e", "trace=kill", *argv)
    ours = run_pyshim("-e", "trace=kill", "--", *argv)
    assert normalize(ours.stderr)[-1] == normalize(theirs.stderr)[-1] == "+++ killed by SIGTERM +++"
    assert ours.returncode == 128 + 15


# -- -e status=, -z, -Z ----------------------------------------------------------

@pytest.mark.parametrize("flags", [["-e", "status=successful"], ["-e", "status=failed"],
                                   ["-e", "status=unfinished"], ["-e", "status=!failed"],
                                   ["-e", "status=none"], ["-z"], ["-Z"], ["-z", "-Z"]],
                         ids=lambda f: " ".join(f))
def test_status_filters_as_strace(strace, flags):
    argv = ["cat", "/etc/hostname", "/nonexistent"]
    theirs = run_strace("-qq", *flags, "-e", "trace=openat,close,read,exit_group", *argv)
    ours = run_pyshim("-qq", *flags, "-e", "trace=openat,close,read,exit_group", "--", *argv)
    assert ours.returncode == theirs.returncode == 1
    ours_lines = [l for l in normalize(ours.stderr) if not l.startswith("cat:")]
    strace_lines = [l for l in normalize(theirs.stderr) if not l.startswith("cat:")]
    if "status=none" in flags or "status=unfinished" in flags:
        assert ours_lines == strace_lines
    else:
        tail_match(strace_lines, ours_lines)
    if flags == ["-z", "-Z"]:
        assert "Only the last of -z/--successful-only/-Z/--failed-only" in ours.stderr


# -- -e inject= ------------------------------------------------------------------

@pytest.mark.parametrize("inject", [
    "getppid:error=EPERM",
    "getppid:error=EPERM:when=2",
    "getppid:error=13:when=2+",
    "getppid:retval=42:when=2+2",
    "getppid:error=ENOENT:when=2..4",
    "getppid:error=ENOENT:when=2..6+2",
    "getppid:delay_enter=2ms:when=3",
    "getppid:delay_exit=1000:error=EIO:when=1",
])
def test_inject_as_strace(strace, prog, inject):
    """Counted per thread, from 1, as strace counts (getppid: a call the
    dynamic loader never makes)."""
    argv = [prog("threads"), "1", "7"]  # one thread: strace splits no line
    theirs = run_strace("-f", "-e", "trace=getppid", "-e", f"inject={inject}", *argv)
    ours = run_pyshim("-e", "trace=getppid", "-e", f"inject={inject}", "--", *argv)
    assert ours.returncode == theirs.returncode == 0

    def per_thread(text):
        threads: dict[str, list[str]] = {}
        for line in normalize(text):
            m = re.match(r"\[pid (P\d+)\] (getppid.*)", line)
            if m:
                threads.setdefault(m[1], []).append(m[2])
        return sorted(threads.values())
    assert per_thread(ours.stderr) == per_thread(theirs.stderr)
    assert "(INJECTED)" in ours.stderr or "(DELAYED)" in ours.stderr


def test_inject_acts_only_on_traced_calls_as_strace(strace):
    argv = ["cat", "/etc/hostname"]
    theirs = run_strace("-e", "trace=write", "-e", "inject=openat:error=EACCES", *argv)
    ours = run_pyshim("-e", "trace=write", "-e", "inject=openat:error=EACCES", "--", *argv)
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout != ""


def test_inject_when_is_strace_s():
    from pyshim.faults import When

    cases = {"3": [3], "3+": list(range(3, 13)), "3+4": [3, 7, 11], "2..5": [2, 3, 4, 5],
             "2..9+3": [2, 5, 8], "2..4+": [2, 3, 4], "1": [1]}
    for text, want in cases.items():
        assert [n for n in range(1, 13) if When.parse(text).selects(n)] == want, text
    for bad in ("0", "3..2", "1..65535", "3+0", "", "x", "65536", "..3"):
        with pytest.raises(ValueError):
            When.parse(bad)


def test_run_takes_inject_and_trace(tmp_path):
    out = pyshim_cli("run", "-e", "inject=openat:error=EACCES", "--", "cat", "/etc/hostname")
    assert out.returncode == 1 and "Permission denied" in out.stderr
    handlers = tmp_path / "h.py"
    handlers.write_text("import atexit\n"
                        "atexit.register(lambda: print(sorted(sup.subscribed)))\n")
    out = pyshim_cli("run", "-e", "trace=%ipc", "--handlers", str(handlers), "--", "true")
    from pyshim.decode.classes import CLASSES
    from pyshim.syscalls import NUMBERS
    assert out.stdout == f"{sorted(NUMBERS[n] for n in CLASSES['%ipc'])}\n"
    out = pyshim_cli("run", "-e", "status=failed", "--", "true")
    assert (out.returncode, out.stderr) == (
        2, "pyshim: -e status= is for pyshim trace, not pyshim run\n")


# -- -c, -C ----------------------------------------------------------------------

SUMMARY_CMD = ["sh", "-c", "echo a; rmdir /nonexistent-dir 2>/dev/null; echo b; exit 5"]
SUMMARY_SET = "trace=write,rmdir,wait4"


def summary(text: str) -> list[str]:
    """The table's lines, with the time columns blanked."""
    lines = text[text.index("% time"):].splitlines()
    out = lines[:2]
    for line in lines[2:]:
        if set(line) <= {"-", " "}:
            out.append(line)
            continue
        m = re.fullmatch(r"( *\d+\.\d\d) ( *\d+\.\d{6}) ( *\d+) ( *\d+) ( *\d*) (\S+)", line)
        assert m, line
        out.append(" ".join(["T" * len(m[1]), "T" * len(m[2]), "T" * len(m[3]),
                             m[4], m[5], m[6]]))
    return out


@pytest.mark.parametrize("sort", ["name", "calls", "nothing"])
def test_summary_table_as_strace(strace, sort):
    theirs = run_strace("-f", "-c", "-S", sort, "-e", SUMMARY_SET, *SUMMARY_CMD)
    ours = run_pyshim("-c", "-S", sort, "-e", SUMMARY_SET, "--", *SUMMARY_CMD)
    assert ours.returncode == theirs.returncode == 5
    assert summary(ours.stderr) == summary(theirs.stderr)
    assert "+++" not in ours.stderr


def test_summary_header_and_default_sort_by_time():
    out = run_pyshim("-c", "--", "cat", "/etc/hostname")
    lines = out.stderr.splitlines()
    start = lines.index("% time     seconds  usecs/call     calls    errors syscall")
    assert lines[start + 1] == "------ ----------- ----------- --------- --------- ----------------"
    rows = lines[start + 2:lines.index(lines[start + 1], start + 2)]
    seconds = [float(r.split()[1]) for r in rows]
    assert seconds == sorted(seconds, reverse=True)
    assert re.fullmatch(r"100\.00 +\d+\.\d{6} +\d+ +\d+ +\d* total", lines[-1])


def test_big_summary_is_sorted_by_time_and_percent_adds_up():
    out = run_pyshim("-c", "-o", os.devnull, "--", "true")  # to a file: nothing on stderr
    assert (out.returncode, out.stderr) == (0, "")
    out = run_pyshim("-c", "--", "ls", "-l", "/usr/bin")
    rows = summary(out.stderr)[2:-2]
    assert len(rows) > 5
    percents = [float(l.split()[0]) for l in out.stderr[out.stderr.index("% time"):]
                .splitlines()[2:-2]]
    assert abs(sum(percents) - 100) < 0.1 * len(percents)


def test_summary_C_prints_lines_then_table(strace):
    theirs = run_strace("-f", "-C", "-S", "name", "-e", SUMMARY_SET, *SUMMARY_CMD)
    ours = run_pyshim("-C", "-S", "name", "-e", SUMMARY_SET, "--", *SUMMARY_CMD)
    assert ours.returncode == 5
    assert summary(ours.stderr) == summary(theirs.stderr)

    def lines(text):  # (strace splits the parent's wait4 while the child runs)
        out = normalize("\n".join(l for l in text.splitlines() if "wait4" not in l))
        return out[:out.index("+++ exited with 5 +++") + 2]
    assert lines(ours.stderr) == lines(theirs.stderr)
    assert lines(ours.stderr)[-1].startswith("% time")


# -- -s, -x, -y, -v ----------------------------------------------------------------

def decoded_write(data: bytes, **options) -> str:
    """How the decoder prints write(1, data, len) under `options` (the
    decoder's side of the flags is written apart from the tracer's)."""
    from pyshim import decode
    from pyshim.syscalls import NUMBERS

    class Mem:
        def read(self, addr, n):
            return data[:n]

        def string(self, addr, n):
            return data[:n]
    return decode.format_call(NUMBERS["write"], (1, 0x1000, len(data), 0, 0, 0), len(data),
                              Mem(), decode.Options(**options))


@pytest.mark.parametrize("flags", [["-s", "4"], ["-s", "0"], ["-x"], ["-xx"], ["-s", "3", "-xx"]],
                         ids=lambda f: " ".join(f))
def test_string_flags_as_strace(strace, flags):
    if "-x" in flags[-1] and "\\x" not in decoded_write(b"hi", xflag=2):
        pytest.skip("the decoder does not print -x strings yet")
    argv = ["printf", "h\\303\\251llo w\\n"]
    theirs = run_strace(*flags, "-e", "trace=write", *argv)
    ours = run_pyshim(*flags, "-e", "trace=write", "--", *argv)
    assert normalize(ours.stderr) == normalize(theirs.stderr)


def test_decoding_flags_reach_the_decoder(monkeypatch):
    """-s, -x, -y, -v become pyshim.decode.Options (the tracer adds fd_path)."""
    from pyshim import cli, decode, trace

    seen = {}

    class FakeTracer:
        def __init__(self, out, names, record=None, progress=False, settings=None, rules=()):
            seen.update(settings=settings, names=names, rules=rules)

        def run(self, argv, **kwargs):
            return 3

    monkeypatch.setattr(trace, "Tracer", FakeTracer)
    assert cli.main(["trace", "-s", "100", "-xx", "-yy", "-v", "-e", "trace=%pure",
                     "-e", "inject=getpid:error=EPERM", "-e", "status=failed", "-tt", "-r",
                     "-T", "-qq", "--", "true"]) == 3
    s = seen["settings"]
    assert s.decode == decode.Options(strlen=100, xflag=2, fds=2, verbose=True)
    assert (s.timestamps, s.relative, s.durations, s.status) == (2, True, True, {"failed"})
    assert "exit" in s.quiet
    assert [r.name for r in seen["rules"]] == ["getpid"]
    assert cli.main(["trace", "-y", "-x", "--", "true"]) == 3
    assert seen["settings"].decode == decode.Options(xflag=1, fds=1)


def test_y_gives_the_decoder_paths_from_proc(monkeypatch, tmp_path):
    """fd_path(fd) is the path of the traced thread's descriptor at the call
    (read on entry for close, whose descriptor is gone after it)."""
    from pyshim import decode, trace

    real = decode.format_call
    paths = []

    def spy(nr, args, result, mem, opts=decode.DEFAULT, entry=None):
        name = trace.syscall_name(nr)
        if name == "close" and args[0] == 3:
            paths.append(("close", opts.fd_path(3)))
        if name == "openat" and result == 3:
            paths.append(("openat", opts.fd_path(3), opts.fd_path(decode.AT_FDCWD)))
        return real(nr, args, result, mem, opts, entry)

    monkeypatch.setattr(decode, "format_call", spy)
    settings = trace.Settings(decode=decode.Options(fds=1))
    with open(tmp_path / "out", "w") as out, open(os.devnull, "w") as devnull:
        code = trace.Tracer(out, ["openat", "close"], settings=settings).run(
            ["sh", "-c", f"cd {tmp_path} && cat /etc/hostname"], stdout=devnull)
    assert code == 0
    assert ("openat", "/etc/hostname", str(tmp_path)) in paths
    assert ("close", "/etc/hostname") in paths


def test_y_lines_as_strace(strace):
    from pyshim import decode
    from pyshim.syscalls import NUMBERS

    line = decode.format_call(NUMBERS["close"], (3, 0, 0, 0, 0, 0), 0, None,
                              decode.Options(fds=1, fd_path=lambda fd: "/x"))
    if "<" not in line:
        pytest.skip("the decoder does not print -y paths yet")
    argv = ["cat", "/etc/hostname"]
    theirs = run_strace("-y", "-e", "trace=openat,read,close", *argv)
    ours = run_pyshim("-y", "-e", "trace=openat,read,close", "--", *argv)
    tail_match(normalize(theirs.stderr), normalize(ours.stderr))


# -- -t, -tt, -ttt, -r, -T ---------------------------------------------------------

TIME_FORMATS = {
    "-t": r"\d\d:\d\d:\d\d ",
    "-tt": r"\d\d:\d\d:\d\d\.\d{6} ",
    "-ttt": r"\d{10}\.\d{6} ",
    "-r": r" {0,5}\d+\.\d{6} ",
    "-tt -r": r"\d\d:\d\d:\d\d\.\d{6} \(\+ {0,5}\d+\.\d{6}\) ",
}


@pytest.mark.parametrize("flags", list(TIME_FORMATS))
def test_timestamps_as_strace(strace, flags):
    argv = ["sh", "-c", "echo a; echo b"]
    theirs = run_strace(*flags.split(), "-e", "trace=write", *argv)
    ours = run_pyshim(*flags.split(), "-e", "trace=write", "--", *argv)
    lead = TIME_FORMATS[flags]
    body = r"(write\(1, \"[ab]\\n\", 2\) += 2|\+\+\+ exited with 0 \+\+\+)$"
    for text in (theirs.stderr, ours.stderr):
        lines = text.splitlines()
        assert len(lines) == 3
        for line in lines:
            assert re.match(lead + body, line), line
    assert [re.sub("^" + lead, "", l) for l in normalize(ours.stderr)] == \
           [re.sub("^" + lead, "", l) for l in normalize(theirs.stderr)]
    first = ours.stderr.splitlines()[0]
    if flags == "-ttt":
        assert abs(float(first.split()[0]) - time.time()) < 60
    if flags == "-r":
        assert first.split()[0] == "0.000000"


def test_T_is_the_time_spent_in_the_call(strace):
    argv = ["sh", "-c", "echo a; sleep 0.2"]
    theirs = run_strace("-f", "-T", "-e", "trace=write,wait4", *argv)
    ours = run_pyshim("-T", "-e", "trace=write,wait4", "--", *argv)
    for text in (theirs.stderr, ours.stderr):
        assert re.search(r"^write\(1, \"a\\n\", 2\) += 2 <0\.\d{6}>$", text, re.M), text
        waited = re.search(r"wait4.*= \d+ <(\d+\.\d{6})>$", text, re.M)  # (or resumed)
        assert waited and 0.15 < float(waited[1]) < 5, text
    assert ours.stderr.splitlines()[-1] == "+++ exited with 0 +++"


# -- -q, -qq, -o ------------------------------------------------------------------

@pytest.mark.parametrize("flags", [[], ["-q"], ["-qq"], ["-e", "quiet=exit"],
                                   ["-e", "quiet=none"]], ids=lambda f: " ".join(f) or "none")
def test_quiet_levels_as_strace(strace, flags):
    theirs = run_strace("-f", *flags, "-e", "trace=write", *FAMILY)
    ours = run_pyshim(*flags, "-e", "trace=write", "--", *FAMILY)
    assert normalize(ours.stderr) == normalize(theirs.stderr)
    assert ("+++ exited" in ours.stderr) == (flags in ([], ["-q"], ["-e", "quiet=none"]))


def test_output_file_and_exit_status(tmp_path):
    out = run_pyshim("-o", str(tmp_path / "t"), "-e", "write", "--", "sh", "-c", "echo x; exit 7")
    assert (out.returncode, out.stdout, out.stderr) == (7, "x\n", "")
    assert (tmp_path / "t").read_text() == 'write(1, "x\\n", 2) = 2\n+++ exited with 7 +++\n'


# -- what cannot be, and bad flags ----------------------------------------------------

def test_p_cannot_attach_and_says_so():
    out = run_pyshim("-p", str(os.getpid()))
    assert out.returncode == 126
    line, = out.stderr.splitlines()
    assert line.startswith(f"pyshim: -p {os.getpid()}: cannot attach to a running process")
    assert "LD_PRELOAD" in line
    assert pyshim_cli("run", "-p", "1").returncode == 126


@pytest.mark.parametrize("flags", [
    ["-e", "trace=nosuch"], ["-e", "trace=%nosuch"], ["-e", "trace=%FILE"], ["-e", "trace="],
    ["-e", "trace=!"], ["-e", "trace=open,nosuch"], ["-e", "bogus=1"],
    ["-e", "status=bogus"], ["-e", "quiet=foo"],
    ["-e", "inject=openat"], ["-e", "inject=openat:error=FOO"],
    ["-e", "inject=openat:error=ENOENT:when=0"], ["-e", "inject=openat:retval=1:error=EIO"],
    ["-e", "inject=openat:delay_enter=x"], ["-s", "x"], ["-s", "-1"], ["-S", "foo", "-c"],
])
def test_bad_flags_say_strace_s_words_in_one_line(strace, flags):
    theirs = run_strace(*flags, "true")
    ours = run_pyshim(*flags, "--", "true")
    assert theirs.returncode == 1 and ours.returncode == 2
    line, = ours.stderr.splitlines()
    assert line == re.sub(r"^\S*strace: ", "pyshim: ", theirs.stderr.splitlines()[0])


@pytest.mark.parametrize("flags,message", [
    (["-c", "-C"], "-c and -C are mutually exclusive"),
    (["-c", "-ff", "-o", "x"], "(-c or -C) and -ff are mutually exclusive"),
    (["-e", "inject=open:signal=SIGINT"], "signal= is not supported"),
    (["-e", "verbose=all"], "-e verbose= is not supported"),
    (["-q", "-e", "quiet=all"], "-q and -e quiet cannot be provided simultaneously"),
    (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["-o", "|less"], "piping the output is not supported"),
])
def test_other_bad_flags_one_line(flags, message):
    out = run_pyshim(*flags, "--", "true")
    assert out.returncode == 2
    line, = out.stderr.splitlines()
    assert line.startswith("pyshim") and message in line, line


def test_warnings_do_not_stop_the_run():
    out = run_pyshim("-c", "-T", "-o", os.devnull, "--", "sh", "-c", "exit 6")
    assert out.returncode == 6
    assert out.stderr == "pyshim: -T has no effect with -c\n"
    out = run_pyshim("-S", "calls", "-e", "none", "--", "true")
    assert out.stderr.splitlines()[0] == "pyshim: -S has no effect without (-c or -C)"


def test_help_lists_the_strace_flags():
    out = pyshim_cli("trace", "--help")
    for flag in ("-f", "-c", "-C", "-s N", "-x", "-y", "-v", "-t", "-r", "-T", "-q", "-z", "-Z",
                 "-p PID", "-e EXPR"):
        assert re.search(rf"^\s+{re.escape(flag)}\b", out.stdout, re.M), flag
