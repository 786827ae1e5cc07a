"""Statically linked programs: no dynamic loader preloads the shim into
them, so a Supervisor runs them traced by ptrace under a seccomp filter that
stops the subscribed calls only (pyshim/ptrace/).  Everything here compares
with native runs of the same static programs, through the same handler API
as dynamic programs have."""
from __future__ import annotations

import errno
import itertools
import os
import pty
import random
import re
import select
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import pyshim_cli, tagged_processes, trace_with_random_kills
from pyshim import Fail, HandlerError, NATIVE, PyshimError, Supervisor, syscalls
from pyshim.faults import delay, fixed_bytes, hold

_runs = itertools.count()


def native(argv, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kwargs)


def supervised(sup: Supervisor, argv, tmp_path, **kwargs) -> tuple[int, str, str]:
    """(status, stdout, stderr) of argv run under `sup` in this process."""
    n = next(_runs)
    out, err = tmp_path / f"out{n}", tmp_path / f"err{n}"
    with open(out, "wb") as o, open(err, "wb") as e:
        status = sup.run(argv, stdout=o, stderr=e, **kwargs)
    return status, out.read_text(), err.read_text()


@pytest.fixture
def static(prog):
    return lambda name: prog(name, static=True)


# -- running as natively ---------------------------------------------------------

@pytest.mark.parametrize("trap", [[], ["--trap", "all"]], ids=["unsubscribed", "trap-all"])
@pytest.mark.parametrize("code", ["0", "3"])
def test_static_program_runs_as_natively(static, trap, code):
    argv = [static("hello"), code]
    ours = pyshim_cli("run", *trap, "--", *argv)
    theirs = native(argv)
    assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, "hello\n", "")


def test_table_and_after_hook_through_the_same_api(static, tmp_path):
    sup = Supervisor()
    written = []

    @sup.after("write")
    def seen(call, result):
        written.append((call.name, call.pid == call.tid, call.int_arg(0), result,
                        call.read(call.args[1], call.args[2])))

    status, out, _ = supervised(sup, [static("hello"), "5"], tmp_path)
    assert (status, out) == (5, "hello\n")
    assert written == [("write", True, 1, 6, b"hello\n")]
    (row,) = sup.threads
    assert (row["state"], row["supervised"], row["channel"]) == ("exited", True, "ptrace")


def test_handler_fails_a_call_with_an_errno_by_its_path(static, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("hush\n")
    sup = Supervisor()
    paths = []

    @sup.on("openat")
    def deny(call):
        path = call.string(call.args[1])  # the program's memory, at the call
        paths.append(path)
        return Fail(errno.EACCES) if path == str(secret) else None

    argv = [static("probe"), str(secret), "/etc/hostname"]
    status, out, _ = supervised(sup, argv, tmp_path)
    assert native(argv).stdout == f"open {secret}: fd 3\nopen /etc/hostname: fd 4\n"
    assert (status, out) == (0, f"open {secret}: Permission denied\nopen /etc/hostname: fd 3\n")
    assert paths == [str(secret), "/etc/hostname"]


def test_handler_replaces_a_result_and_after_hooks_see_it(static, tmp_path):
    sup = Supervisor()
    seen = []

    @sup.on("getppid")
    def answer(call):
        return 4242

    @sup.after("getppid")
    def after(call, result):
        seen.append(result)

    status, out, _ = supervised(sup, [static("probe"), "ppid", "ppid"], tmp_path)
    assert (status, out, seen) == (0, "getppid 4242\ngetppid 4242\n", [4242, 4242])


def test_after_hook_sees_the_native_result_and_may_replace_it(static, tmp_path):
    sup = Supervisor()
    seen = []

    @sup.after("getppid")
    def after(call, result):
        seen.append(result)
        return 77 if len(seen) == 2 else None

    status, out, _ = supervised(sup, [static("probe"), "ppid", "ppid"], tmp_path)
    # the program's parent is the supervisor's process (its tracer's)
    assert (status, out) == (0, f"getppid {os.getpid()}\ngetppid 77\n")
    assert seen == [os.getpid(), os.getpid()]


def test_call_write_fills_the_program_s_buffer(pyshim_run, static):
    r = pyshim_run([static("probe"), "random"], [fixed_bytes("getrandom", b"\x5a")])
    assert (r.status, r.stdout) == (0, "getrandom 8: 5a 5a 5a 5a 5a 5a 5a 5a\n")


def test_async_handler_answers(static, tmp_path):
    import asyncio

    sup = Supervisor()

    @sup.on("getppid")
    async def later(call):
        await asyncio.sleep(0)
        return 31

    assert supervised(sup, [static("probe"), "ppid"], tmp_path)[:2] == (0, "getppid 31\n")


def test_handler_that_raises_stops_the_run(static, tmp_path):
    sup = Supervisor()

    @sup.on("getppid")
    def broken(call):
        raise RuntimeError("boom")

    with pytest.raises(HandlerError, match="the handler for getppid raised RuntimeError: boom"
                       ) as info:
        supervised(sup, [static("threads"), "4", "50"], tmp_path)
    assert isinstance(info.value.__cause__, RuntimeError)
    # no process left: the no_leaks fixture checks


# -- threads, processes, exec ----------------------------------------------------

def test_threads_every_call_seen_on_its_own_thread(static, tmp_path):
    sup = Supervisor()
    counts: dict[int, int] = {}

    @sup.on("getppid")
    def count(call):
        counts[call.tid] = counts.get(call.tid, 0) + 1

    status, out, err = supervised(sup, [static("threads"), "6", "300"], tmp_path)
    assert (status, out) == (0, "6 threads x 300 calls: 1800\n")
    theirs = {int(tid): int(n) for tid, n in (line.split() for line in err.splitlines())}
    assert counts == theirs
    rows = {r["tid"]: r for r in sup.threads}
    assert set(theirs) < set(rows)
    root = sup.table.root
    assert all(rows[tid]["pid"] == root and rows[tid]["parent"] == root for tid in theirs)


def test_fork_tree_as_natively(static, tmp_path):
    argv = [static("forktree"), "3"]
    sup = Supervisor(trap="all")
    status, out, _ = supervised(sup, argv, tmp_path)
    assert (status, out) == (0, native(argv).stdout) == (0, "processes: 15\n")
    procs = {r["pid"]: r for r in sup.threads}
    assert len(procs) == 15
    root = sup.table.root
    parents = {sup.table.processes[p].parent for p in procs if p != root}
    assert parents <= set(procs) and len(parents) == 7  # every inner node forked two


@pytest.mark.parametrize("mode", ["vfork", "spawn", "failed"])
def test_vfork_posix_spawn_and_failed_exec_as_natively(static, mode):
    argv = [static("execs"), mode]
    ours, theirs = pyshim_cli("run", "--trap", "all", "--", *argv), native(argv)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), ours.stderr


def test_exec_from_a_thread_stays_supervised(static):
    out = pyshim_cli("trace", "-e", "write", "--", static("execs"), "thread", "/bin/echo")
    assert (out.returncode, out.stdout) == (0, "from a thread\n")
    assert 'write(1, "from a thread\\n", 14) = 14' in out.stderr, out.stderr


def test_exec_of_a_dynamic_program_stays_supervised_by_ptrace(static):
    """The new image is traced like the old one: no preload, no channel in
    its environment, its calls seen (its loader's too)."""
    out = pyshim_cli("trace", "-e", "execve,openat,write", "--", static("execs"), "emptyenv")
    assert (out.returncode, out.stdout) == (0, "ONLY=this\n")
    lines = out.stderr.splitlines()
    assert lines[0].startswith('execve("/usr/bin/env", ["/usr/bin/env"]')
    assert any("ld.so.cache" in line for line in lines)  # the dynamic loader's
    assert 'write(1, "ONLY=this\\n", 10) = 10' in lines


# -- exec in both directions: a dynamic run's static programs -------------------------

@pytest.mark.parametrize("trap", [[], ["--trap", "all"]], ids=["unsubscribed", "trap-all"])
def test_static_program_execd_by_a_dynamic_one_stays_supervised(static, trap):
    """sh (the shim's) execs a static program: the run's tracer takes it
    over at that exec, with no warning, and it runs as natively."""
    argv = ["sh", "-c", f"{static('hello')} 3; echo after $?"]
    ours, theirs = pyshim_cli("run", *trap, "--", *argv), native(argv)
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, "hello\nafter 3\n", "")
    assert theirs.stdout == ours.stdout


def test_handler_sees_and_fails_the_static_program_s_calls(static, tmp_path):
    sup = Supervisor()
    seen = []

    @sup.on("write")
    def refuse(call):
        data = call.read(call.args[1], call.args[2])
        seen.append((call.pid, data))
        return Fail(errno.ENOSPC) if data == b"hello\n" else None

    status, out, _ = supervised(sup, ["sh", "-c", f"{static('hello')}; echo after $?"], tmp_path)
    assert (status, out) == (0, "after 0\n")  # printf's failure is not hello's exit status
    (shell,) = {row["pid"] for row in sup.threads if row["channel"] != "ptrace"}
    assert [data for pid, data in seen] == [b"hello\n", b"after 0\n"]
    assert seen[0][0] != shell and seen[1][0] == shell
    rows = [row for row in sup.threads if row["pid"] == seen[0][0]]
    assert [(r["channel"], r["supervised"], r["state"]) for r in rows] == \
        [("ptrace", True, "exited")]


def test_static_program_started_with_vfork_from_python(static, tmp_path):
    """subprocess (vfork, then exec in the child) from a supervised Python."""
    code = f"import subprocess; print(subprocess.run([{static('hello')!r}, '4']).returncode)"
    sup = Supervisor()
    pids = set()
    sup.after("exit_group")(lambda call, result: pids.add(call.pid))
    status, out, err = supervised(sup, [sys.executable, "-c", code], tmp_path)
    assert (status, out, err) == (0, "hello\n4\n", "")
    assert len(pids) == 2  # python's and hello's exit_group, each seen once


def test_static_program_execing_a_dynamic_one_sees_each_call_once(static, tmp_path):
    """sh -> static -> dynamic (/usr/bin/env): the last image runs under the
    filter the static one inherited, without the shim (no call seen twice)."""
    sup = Supervisor()
    writes = []
    sup.after("write")(lambda call, result: writes.append(
        (call.pid, call.read(call.args[1], call.args[2]), result)))
    paths, execs = {}, []
    sup.on("execve")(lambda call: paths.__setitem__((call.tid, call.seq),
                                                    call.string(call.args[0])))
    sup.after("execve")(lambda call, result: execs.append(
        (call.pid, paths[call.tid, call.seq], result)))
    argv = ["sh", "-c", f"{static('execs')} emptyenv; echo done"]
    status, out, _ = supervised(sup, argv, tmp_path)
    assert (status, out) == (0, "ONLY=this\ndone\n")
    assert [data for _, data, _ in writes] == [b"ONLY=this\n", b"done\n"]
    assert [(path, result) for _, path, result in execs] == [
        (static("execs"), 0), ("/usr/bin/env", 0)]
    assert execs[0][0] == execs[1][0] == writes[0][0]  # one process, three images


def test_failed_static_exec_then_another_exec(static, tmp_path):
    """A static program's exec that fails (E2BIG) leaves the process to go on
    as it was; its next exec is still served."""
    script = (f"big=$(printf %0200000d 0); {static('hello')} $big 2>/dev/null; "  # > MAX_ARG_STRLEN
              f"echo failed $?; exec {static('hello')} 5")
    argv = ["sh", "-c", script]
    theirs = native(argv)
    ours = pyshim_cli("run", "--trap", "all", "--", *argv)
    assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, "")
    assert theirs.stdout.startswith("failed ") and theirs.returncode == 5


def test_mixed_tree_trace_reads_like_strace(strace, static, tmp_path):
    """sh -> static forktree -> its children, and sh -> static hello: per
    process, pyshim's lines are strace -f's (the calls chosen are ones the
    dynamic loader, which pyshim cannot see in sh, does not make)."""
    script = f"{static('forktree')} 1; {static('hello')} 2; echo $?"
    calls = "execve,write,wait4,getppid,exit_group"
    (tmp_path / "s").mkdir()
    (tmp_path / "p").mkdir()
    theirs = subprocess.run([strace, "-qq", "-ff", "-o", str(tmp_path / "s" / "t"), "-e",
                             f"trace={calls}", "-e", "signal=none", "sh", "-c", script],
                            capture_output=True, text=True, timeout=60)
    ours = pyshim_cli("trace", "-ff", "-o", str(tmp_path / "p" / "t"), "-e", calls, "--",
                      "sh", "-c", script)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout)
    assert theirs.stdout.endswith("hello\n2\n")

    def files(d):
        found = sorted(d.iterdir(), key=lambda f: int(f.name.split(".")[1]))
        return [[re.sub(r"^(wait4\(.*) = \d+$", r"\1 = PID",
                        re.sub(r"/\* \d+ vars \*/", "/* N vars */", line))
                 for line in normalize(f.read_text()) if not line.startswith("+++ ")]
                for f in found]

    assert files(tmp_path / "p") == files(tmp_path / "s")


def test_supervisor_killed_takes_a_mixed_tree_down(static, no_leaks):
    run = subprocess.Popen([sys.executable, "-m", "pyshim", "run", "--", "sh", "-c",
                            f"{static('jobctl')} pause; echo never"],
                           stdout=subprocess.PIPE, text=True)
    try:
        assert run.stdout.readline() == "ready\n"
        run.kill()
        run.wait()
        for _ in range(1000):  # EXITKILL for the static one, the shim's tie for sh
            if not tagged_processes(no_leaks):
                break
            time.sleep(0.01)
        assert tagged_processes(no_leaks) == []
        assert pyshim_cli("gc").returncode == 0  # a SIGKILLed supervisor leaves its segments
    finally:
        run.kill()
        run.wait()
        run.stdout.close()


def test_refused_ptrace_in_a_dynamic_run_is_one_warning(prog, static):
    """Where the kernel will not let pyshim trace, the static program runs
    unsupervised, as it would without pyshim, and one line says why."""
    out = subprocess.run([prog("deny"), str(syscalls.NUMBERS["ptrace"]), sys.executable, "-m",
                          "pyshim", "run", "--", "sh", "-c", f"{static('hello')} 3; echo $?"],
                         capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout) == (0, "hello\n3\n")
    (warning,) = out.stderr.splitlines()
    assert warning.startswith("pyshim: warning: pid ") and "runs unsupervised" in warning
    assert "statically linked" in warning and "Operation not permitted" in warning


# -- signals -------------------------------------------------------------------------

SIGNAL_MODES = ["restart", "norestart", "sigsys", "blockall", "altstack", "sigsuspend", "ppoll",
                "pselect", "epoll_pwait", "sigreturn", "kill", "backtrace"]


@pytest.mark.parametrize("trap", [[], ["--trap", "all"]], ids=["unsubscribed", "trap-all"])
@pytest.mark.parametrize("mode", SIGNAL_MODES)
def test_signals_as_natively(static, trap, mode):
    argv = [static("signals"), mode]
    ours, theirs = pyshim_cli("run", *trap, "--", *argv), native(argv)
    assert ours.stdout == theirs.stdout, ours.stderr
    # the command line reports death by signal N as 128 + N, as a shell does
    code = theirs.returncode if theirs.returncode >= 0 else 128 - theirs.returncode
    assert ours.returncode == code


@pytest.mark.parametrize("hooks", ["before", "before+after"])
@pytest.mark.parametrize("mode,result", [("restart", 1), ("norestart", -errno.EINTR)])
def test_interrupted_call_is_asked_once_and_ends_once(static, tmp_path, mode, result, hooks):
    """A read a signal handler interrupts: its handler is asked once (the
    kernel's restart is not a new call), its after-hook sees how it ended,
    once (restarted by SA_RESTART: the byte; without: EINTR), as natively."""
    sup = Supervisor()
    asked, ended = [], []

    @sup.on("read")
    def before(call):
        if call.int_arg(0) == 3:
            asked.append(call.int_arg(2))

    if hooks == "before+after":
        @sup.after("read")
        def after(call, res):
            if call.int_arg(0) == 3:
                ended.append(res)

    argv = [static("signals"), mode]
    status, out, _ = supervised(sup, argv, tmp_path)
    assert (status, out) == (0, native(argv).stdout)
    assert (asked, ended) == ([1], [result] if hooks == "before+after" else [])


def test_after_hook_may_replace_an_eintr(static, tmp_path):
    sup = Supervisor()

    @sup.after("read")
    def after(call, res):
        return 0 if call.int_arg(0) == 3 and res == -errno.EINTR else None

    status, out, _ = supervised(sup, [static("signals"), "norestart"], tmp_path)
    assert (status, out) == (0, "read 0 byte: \0\n")


def test_death_by_signal_is_returned_as_natively(static, tmp_path):
    status, out, _ = supervised(Supervisor(trap="all"), [static("signals"), "kill"], tmp_path)
    assert (status, out) == (-signal.SIGTERM, "got signal 12\n")


def test_sigkill_from_a_handler(static, tmp_path):
    sup = Supervisor()

    @sup.on("getppid")
    def die(call):
        os.kill(call.pid, signal.SIGKILL)
        return NATIVE

    assert supervised(sup, [static("threads"), "4", "100"], tmp_path)[0] == -signal.SIGKILL


@pytest.mark.parametrize("mode", ["child", "self"])
def test_job_control_stop_and_continue(static, mode):
    """SIGSTOP stops the whole process as natively (its parent sees it
    stopped), SIGCONT continues it and its handler runs."""
    argv = [static("jobctl"), mode]
    ours, theirs = pyshim_cli("run", "--trap", "all", "--", *argv), native(argv)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), ours.stderr
    assert "handler ran" in ours.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_sent_to_pyshim_alone_is_passed_on(static, sig):
    run = subprocess.Popen([sys.executable, "-m", "pyshim", "run", "--", static("jobctl"),
                            "pause"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert run.stdout.readline() == "ready\n"  # running, supervised
        run.send_signal(sig)
        assert run.wait(timeout=60) == 128 + sig
        assert run.stderr.read() == ""
    finally:
        run.kill()
        run.wait()
        run.stdout.close()
        run.stderr.close()


def test_ctrl_c_on_a_terminal_stops_the_program(static):
    """^C reaches the program (the terminal's foreground group) through its
    tracer, and pyshim exits 130 like the program."""
    pid, master = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-m", "pyshim", "run", "--", static("jobctl"),
                                  "pause"])
    try:
        seen = b""
        while b"ready" not in seen:
            assert select.select([master], [], [], 60)[0], f"no 'ready' from the program: {seen!r}"
            seen += os.read(master, 100)
        os.write(master, b"\x03")
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(master)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 128 + signal.SIGINT


# -- processes killed at any step ------------------------------------------------

def _kill_self(call):
    os.kill(call.pid, signal.SIGKILL)


@pytest.mark.parametrize("argv,name,hook", [
    (["probe", "ppid"], "getppid", "before"),
    (["probe", "ppid"], "getppid", "after"),
    (["threads", "3", "5"], "clone3", "before"),
    (["threads", "3", "5"], "clone3", "after"),
    (["forktree", "2"], "clone", "after"),  # glibc's fork
    (["forktree", "2"], "wait4", "before"),
    (["execs", "emptyenv"], "execve", "before"),
    (["execs", "emptyenv"], "execve", "after"),
], ids=lambda v: v if isinstance(v, str) else v[0])
def test_killed_at_each_step(static, tmp_path, argv, name, hook):
    """SIGKILL between a stop and its answer: the run ends with the
    program's status, nothing left (the no_leaks fixture checks)."""
    sup = Supervisor()
    if hook == "before":
        sup.on(name)(lambda call: _kill_self(call) or NATIVE)
    else:
        sup.after(name)(lambda call, result: _kill_self(call))
    assert supervised(sup, [static(argv[0]), *argv[1:]], tmp_path)[0] == -signal.SIGKILL
    # children whose parent died before reaping them were reaped by pyshim
    assert zombie_children() == []


def test_killed_while_held(static, tmp_path):
    sup = Supervisor()
    ended = []

    @sup.on("getppid")
    def park(call):
        d = call.defer()
        d.add_done_callback(lambda d: ended.append(d.state))
        sup.call_later(0, lambda: _kill_self(call))
        return d

    assert supervised(sup, [static("threads"), "3", "5"], tmp_path)[0] == -signal.SIGKILL
    assert ended and set(ended) == {"gone"}
    assert sup.held == []


@pytest.mark.parametrize("seed", range(6))
def test_random_kills_in_a_busy_static_tree(static, no_leaks, seed):
    """SIGKILLs at random moments (the moment is what varies, nothing waits
    for time) in a tree traced in Python: every run ends, with a status."""
    rng = random.Random(seed)
    argv = [static("forktree"), "5"] if seed % 2 else [static("threads"), "8", "2000"]
    out = trace_with_random_kills(argv, no_leaks, rng, 3, 0.03)
    err = out.stderr
    assert out.returncode >= 0, f"pyshim died of signal {-out.returncode}"
    assert "Traceback" not in err, err
    assert tagged_processes(no_leaks) == []


def test_program_dies_with_its_supervisor(static, no_leaks):
    run = subprocess.Popen([sys.executable, "-m", "pyshim", "run", "--", static("jobctl"),
                            "pause"], stdout=subprocess.PIPE, text=True)
    try:
        assert run.stdout.readline() == "ready\n"
        (program,) = [pid for pid, cmd in tagged_processes(no_leaks)
                      if cmd.startswith(static("jobctl"))]
        run.kill()
        run.wait()
        # PTRACE_O_EXITKILL: the kernel kills it as its tracer's thread ends
        # (and the waker, a fork of pyshim, by PR_SET_PDEATHSIG)
        for _ in range(1000):
            if not tagged_processes(no_leaks):
                break
            time.sleep(0.01)
        assert tagged_processes(no_leaks) == [], program
    finally:
        run.kill()
        run.wait()
        run.stdout.close()


def test_run_async_on_a_static_program(static, tmp_path):
    import asyncio

    sup = Supervisor()

    @sup.on("getppid")
    async def answer(call):
        await asyncio.sleep(0)
        return 5

    async def main():
        with open(tmp_path / "out", "wb") as out:
            return await sup.run_async([static("probe"), "ppid"], stdout=out)

    assert asyncio.run(main()) == 0
    assert (tmp_path / "out").read_text() == "getppid 5\n"


def test_record_and_inspect_a_static_program(static, tmp_path):
    rec = tmp_path / "hello.rec"
    out = pyshim_cli("trace", "--record", str(rec), "--", static("hello"))
    assert (out.returncode, out.stdout) == (0, "hello\n")
    from pyshim import records

    frames = [f for f in records.read(str(rec)) if f.get("name") == "write"]
    assert [f["result"] for f in frames] == [6]
    summary = pyshim_cli("inspect", str(rec))
    assert summary.returncode == 0 and "write" in summary.stdout


# -- held calls, timers, other threads ---------------------------------------------

def test_held_call_holds_only_its_thread(pyshim_run, static):
    gate = hold("getppid")  # A's getppid waits until someone has written to stdout
    r = pyshim_run([static("held"), "order"], [gate, gate.opened_by("write", fd=1)], timeout=60)
    assert (r.status, r.stdout) == (0, "B\nA\n")


def test_gate_opened_from_another_thread(static, tmp_path):
    sup = Supervisor()
    gate = hold("getppid")
    gate.install(sup)
    seen = []

    def opener():
        gate.wait_held(3, timeout=30)
        seen.append(gate.held)  # all three threads' calls at once
        gate.release()

    t = threading.Thread(target=opener)
    t.start()
    status, out, _ = supervised(sup, [static("threads"), "3", "2"], tmp_path)
    t.join()
    assert (status, out) == (0, "3 threads x 2 calls: 6\n")
    assert seen == [3]


def test_delay_holds_through_a_timer(pyshim_run, static):
    r = pyshim_run([static("probe"), "ppid"], [delay("getppid", 0.05)], timeout=60)
    assert (r.status, r.stdout, r.faults_hit) == (0, f"getppid {os.getpid()}\n", 1)


def test_call_later_set_before_the_run_fires(static, tmp_path):
    sup = Supervisor()
    fired = []
    sup.call_later(0, lambda: fired.append(sup.table.root))
    status, _, _ = supervised(sup, [static("hello")], tmp_path)
    assert status == 0 and fired == [sup.table.root]


def test_stop_from_another_thread_kills_the_run(static, tmp_path):
    sup = Supervisor()
    gate = hold("getppid")
    gate.install(sup)

    def stopper():
        gate.wait_held(1, timeout=30)
        sup.stop()

    t = threading.Thread(target=stopper)
    t.start()
    with pytest.raises(PyshimError, match="the run was stopped"):
        supervised(sup, [static("threads"), "2", "5"], tmp_path)
    t.join()
    assert gate.calls == []  # gone with their threads


def test_chaos_replays_on_a_static_program(pyshim_run, static):
    argv = [static("forktree"), "2"]
    first = pyshim_run(argv, chaos=5, chaos_rate=0.3, chaos_max_delay=0.005, timeout=60)
    again = pyshim_run(argv, chaos=5, chaos_rate=0.3, chaos_max_delay=0.005, timeout=60)
    assert (first.status, first.stdout) == (again.status, again.stdout) == (0, "processes: 7\n")
    assert first.chaos == again.chaos


# -- pyshim trace against strace -f -------------------------------------------------

def normalize(text: str) -> list[str]:
    """strace's and pyshim's lines alike: strace's padding, messages and the
    exec of the program (pyshim's own) dropped, pids numbered in order of
    appearance, addresses and random bytes replaced."""
    pids: dict[str, str] = {}

    def pid(m):
        return pids.setdefault(m.group(1), f"P{len(pids) + 1}")

    out = []
    for line in text.splitlines():
        line = re.sub(r"^\d+ +", "", line)  # -f -o's pid column (one process only)
        if re.match(r"(\S*strace|pyshim): |(\[pid +\d+\] )?--- SIG", line):
            continue
        if re.match(r"execve\(", line) and not out:
            continue  # the exec that starts the program: pyshim's, not the program's
        line = re.sub(r"\) +=( |$)", r") =\1", line)
        line = re.sub(r"^\[pid +(\d+)\]", lambda m: f"[pid {pid(m)}]", line)
        line = re.sub(r"0x[0-9a-f]+", "0xADDR", line)
        line = re.sub(r'getrandom\("[^"]*"', 'getrandom("BYTES"', line)
        line = re.sub(r"(set_tid_address\(.*\) = |getppid\(\) = )\d+", r"\1PID", line)
        line = re.sub(r"^wait4\(\d+(.*) = \d+$", r"wait4(PID\1 = PID", line)
        line = re.sub(r"(pipe|socket):\[\d+\]", r"\1:[INODE]", line)
        out.append(line)
    return out


def test_trace_lines_are_strace_s(strace, static, tmp_path):
    argv = [static("hello"), "2"]
    s, p = tmp_path / "s", tmp_path / "p"
    theirs = subprocess.run([strace, "-f", "-o", str(s), *argv], stdout=subprocess.DEVNULL,
                            timeout=60)
    ours = pyshim_cli("trace", "-f", "-o", str(p), "--", *argv, capture_output=False,
                      stdout=subprocess.DEVNULL)
    assert ours.returncode == theirs.returncode == 2
    assert normalize(p.read_text()) == normalize(s.read_text())


@pytest.mark.parametrize("argv,calls", [
    (["threads", "3", "4"], "getppid,exit,exit_group"),
    (["forktree", "2"], "getppid,wait4,exit_group"),
], ids=["threads", "forktree"])
def test_trace_per_thread_is_strace_s(strace, static, tmp_path, argv, calls):
    """Each thread's and process's own lines (-ff -o), where the order across
    threads is the scheduler's."""
    argv = [static(argv[0]), *argv[1:]]
    (tmp_path / "s").mkdir()
    (tmp_path / "p").mkdir()
    theirs = subprocess.run([strace, "-qq", "-ff", "-o", str(tmp_path / "s" / "t"), "-e",
                             f"trace={calls}", "-e", "signal=none", *argv],
                            capture_output=True, timeout=60)
    ours = pyshim_cli("trace", "-ff", "-o", str(tmp_path / "p" / "t"), "-e", calls, "--", *argv)
    assert ours.returncode == theirs.returncode == 0

    def files(d):
        found = sorted(d.iterdir(), key=lambda f: int(f.name.split(".")[1]))
        return [normalize(f.read_text()) for f in found]

    def drop_exit_lines(threads):  # strace -qq drops them, pyshim's -ff keeps them
        return [[l for l in lines if not l.startswith("+++ ")] for lines in threads]

    assert drop_exit_lines(files(tmp_path / "p")) == drop_exit_lines(files(tmp_path / "s"))


# -- real static programs ---------------------------------------------------------------

GO_PROGRAMS = [["/usr/local/bin/terraform", "version"], ["/usr/local/bin/docker", "--version"]]


@pytest.mark.parametrize("shell", [False, True], ids=["directly", "from-sh"])
@pytest.mark.parametrize("argv", GO_PROGRAMS, ids=["terraform", "docker"])
def test_go_programs_run_unchanged(argv, shell, tmp_path):
    """The Go runtime (threads made with raw clone, SIGURG preemption, many
    signals) runs as natively, unsubscribed and under trace, started
    directly or by a (dynamic) shell."""
    if not os.access(argv[0], os.X_OK):
        pytest.skip(f"{argv[0]} is not installed")
    if shell:
        argv = ["sh", "-c", " ".join(argv)]
    env = {**os.environ, "HOME": str(tmp_path), "CHECKPOINT_DISABLE": "1"}
    theirs = native(argv, env=env)
    if theirs.returncode != 0:
        pytest.skip(f"{argv[0]} does not run natively here")
    ours = pyshim_cli("run", "--", *argv, env=env, timeout=120)
    assert (ours.returncode, ours.stdout) == (0, theirs.stdout), ours.stderr
    traced = pyshim_cli("trace", "-f", "-o", str(tmp_path / "trace"), "--", *argv, env=env,
                        timeout=120)
    assert (traced.returncode, traced.stdout) == (0, theirs.stdout), traced.stderr
    lines = (tmp_path / "trace").read_text().splitlines()
    assert lines[-1].endswith(" +++ exited with 0 +++")
    assert any(" clone(" in line and "CLONE_THREAD" in line for line in lines)


# -- the pieces -------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(20))
def test_filter_traces_exactly_the_subscribed_calls(seed):
    from pyshim.ptrace import filter as bpf

    rng = random.Random(seed)
    numbers = set(rng.sample(range(460), rng.choice([0, 1, 5, 60, 300, 460])))
    insns = bpf.program(numbers)
    assert all(code != bpf.BPF_JEQ_K or jt + jf <= 2 for code, jt, jf, _ in insns)
    for nr in range(470):
        expected = bpf.SECCOMP_RET_TRACE if nr in numbers else bpf.SECCOMP_RET_ALLOW
        assert bpf.verdict(insns, nr) == expected, nr
    assert bpf.verdict(insns, min(numbers, default=0) | bpf.X32_SYSCALL_BIT) == \
        bpf.SECCOMP_RET_ALLOW
    assert bpf.verdict(insns, 20, arch=0x40000003) == bpf.SECCOMP_RET_ALLOW  # i386
    assert len(bpf.build(numbers)) == 8 * len(insns)


def test_call_and_deferred_have_core_s_api():
    from pyshim import _core
    from pyshim.ptrace import call

    def public(cls):
        return {n for n in dir(cls) if not n.startswith("_")}

    assert public(call.Call) == public(_core.Call)
    assert public(call.Deferred) - {"early", "task", "callbacks", "end"} == public(_core.Deferred)


# -- what this path changes, and what cannot work --------------------------------------

def test_no_new_privs_is_set(static):
    # Natively, whatever this process has: 1 here under another pyshim run
    # (its tracer took the static program) or a container that sets it.
    with open("/proc/self/status") as f:
        mine = "1" if "PYSHIM_CHANNEL" in os.environ else next(
            line.split()[1] for line in f if line.startswith("NoNewPrivs:"))
    assert native([static("privs")]).stdout == f"no_new_privs: {mine}\n"
    out = pyshim_cli("run", "--", static("privs"))
    assert (out.returncode, out.stdout) == (0, "no_new_privs: 1\n")


@pytest.mark.parametrize("call,words", [
    ("ptrace", "refused to let it trace the program (Operation not permitted)"),
    ("seccomp", "the kernel refused the filter (Operation not permitted)"),
])
def test_refused_ptrace_or_seccomp_is_one_line(prog, static, call, words):
    out = subprocess.run([prog("deny"), str(syscalls.NUMBERS[call]), sys.executable, "-m",
                          "pyshim", "run", "--", static("hello")],
                         capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout) == (126, "")
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("pyshim: ")
    assert "statically linked" in out.stderr and words in out.stderr


def test_nothing_is_left_behind(static, no_leaks, tmp_path):
    supervised(Supervisor(trap="all"), [static("forktree"), "2"], tmp_path)
    assert tagged_processes(no_leaks) == []
    assert zombie_children() == []  # the waker, a child of the run's thread, is reaped too


def zombie_children() -> list[int]:
    """This process's children that are zombies."""
    found = []
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] == "Z" and int(fields[1]) == os.getpid():
            found.append(pid)
    return found


def test_exec_after_hook_that_raises_stops_a_mixed_run(static, tmp_path):
    """The after-hook of the exec that handed a process to the tracer runs
    in the tracer's thread: what it raises stops the run as anywhere."""
    sup = Supervisor()

    @sup.after("execve")
    def broken(call, result):
        if result == 0 and call.pid != sup.threads[0]["pid"]:
            raise RuntimeError("no static programs")

    with pytest.raises(HandlerError, match="the handler for execve raised RuntimeError: no static"):
        supervised(sup, ["sh", "-c", f"{static('jobctl')} pause; echo never"], tmp_path)
