"""Bad input and bad luck: each gets a clear one-line message, a non-zero
exit, and leaves no segment or process behind (the autouse fixture checks)."""
import os
import pty
import signal
import subprocess
import sys
import time

import pytest

from conftest import pyshim_cli, tagged_processes, tagged_segments
from pyshim import program, shm
from pyshim.errors import StaticProgram, UnsupportedKernel


def wait_for(predicate, timeout=10.0, what="condition"):
    """Polls until predicate() is true; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}")


def supervised_sleep(tag):
    """The pid of the supervised `sleep` of this test, once it runs."""
    found = [pid for pid, cmd in tagged_processes(tag) if cmd.startswith("sleep")]
    return found[0] if found else None


def test_missing_program():
    out = pyshim_cli("run", "--", "no-such-program-anywhere")
    assert out.returncode == 127
    assert out.stderr == "pyshim: no-such-program-anywhere: command not found\n"


def test_missing_program_path():
    out = pyshim_cli("trace", "--", "/no/such/file")
    assert (out.returncode, out.stderr) == (127, "pyshim: /no/such/file: no such file\n")


def test_static_program_runs_under_ptrace(prog):
    """No loader to preload the shim: ptrace instead (tests/test_static.py)."""
    out = pyshim_cli("run", "--", prog("hello", static=True), "3")
    assert (out.returncode, out.stdout, out.stderr) == (3, "hello\n", "")


def test_script_with_static_interpreter_runs_under_ptrace(prog, tmp_path):
    script = tmp_path / "script"
    script.write_text(f"#!{prog('hello', static=True)}\n")
    script.chmod(0o755)
    out = pyshim_cli("run", "--", str(script))
    assert (out.returncode, out.stdout, out.stderr) == (0, "hello\n", "")


def test_a_program_replaced_in_place_is_checked_again(prog, tmp_path):
    """The answer about a file is kept while the file stays the same: the
    same path rewritten in place (same inode, even with its old mtime put
    back) is looked at again."""
    path = tmp_path / "prog"
    dynamic, static = (open(prog("hello", static=s), "rb").read() for s in (False, True))
    path.write_bytes(dynamic)
    path.chmod(0o755)
    before = path.stat()
    program.check_supervisable(str(path))
    program.check_supervisable(str(path))
    path.write_bytes(static)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_ino == before.st_ino
    with pytest.raises(StaticProgram):
        program.check_supervisable(str(path))
    path.write_bytes(dynamic)
    program.check_supervisable(str(path))


def test_an_answer_is_kept_for_the_file_it_read(prog, tmp_path, monkeypatch):
    """A path that names another file between check_supervisable's stat and
    its open (a symlink flipped, a rename): the answer is kept for the file
    read, so the path naming the first file again is not given it."""
    dynamic, static = prog("hello"), prog("hello", static=True)
    link = tmp_path / "prog"
    link.symlink_to(dynamic)
    examine = program._examine

    def flip_then_examine(path):
        link.unlink()
        link.symlink_to(static)  # after the stat, before the open
        return examine(path)

    monkeypatch.setattr(program, "_examine", flip_then_examine)
    with pytest.raises(StaticProgram):
        program.check_supervisable(str(link))
    monkeypatch.setattr(program, "_examine", examine)
    link.unlink()
    link.symlink_to(dynamic)
    program.check_supervisable(str(link))  # the dynamic one: supervisable


def test_file_that_cannot_execute(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("just text\n")
    out = pyshim_cli("run", "--", str(plain))
    assert out.returncode == 126
    assert out.stderr == f"pyshim: {plain}: Permission denied\n"


def test_handler_that_raises_shows_traceback_and_stops_program(prog, tmp_path):
    handlers = tmp_path / "broken.py"
    handlers.write_text("@sup.on('getppid')\n"
                        "def broken(call):\n"
                        "    raise RuntimeError('boom')\n")
    out = pyshim_cli("run", "--handlers", str(handlers), "--", prog("probe"), "ppid")
    assert out.returncode == 125
    assert "Traceback (most recent call last)" in out.stderr
    assert 'broken.py", line 3, in broken' in out.stderr
    assert out.stderr.splitlines()[-1] == ("pyshim: the handler for getppid raised "
                                           "RuntimeError: boom; the program was stopped")
    assert out.stdout == ""


def test_garbage_in_a_channel_is_reported(prog):
    out = pyshim_cli("run", "--", prog("garbage"))
    assert out.returncode == 125
    line, = out.stderr.splitlines()
    assert line.startswith("pyshim: garbage in the channel of pid ")
    assert line.endswith("unknown event tag 0xdead")


def test_ctrl_c_on_a_terminal_stops_the_program(no_leaks):
    """^C typed at a terminal reaches the program, as for a shell's
    foreground job, and pyshim exits 130 like the program."""
    pid, master = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-m", "pyshim", "run", "--", "sleep", "30"])
    try:
        wait_for(lambda: supervised_sleep(no_leaks), what="the supervised sleep")
        os.write(master, b"\x03")
        status = wait_for(lambda: _reaped(pid), timeout=5, what="pyshim to exit after ^C")
    finally:
        os.close(master)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 128 + signal.SIGINT
    assert supervised_sleep(no_leaks) is None


def _reaped(pid):
    done, status = os.waitpid(pid, os.WNOHANG)
    return status if done == pid else None


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_sent_to_pyshim_alone_is_passed_on(no_leaks, sig):
    proc = subprocess.Popen([sys.executable, "-m", "pyshim", "run", "--", "sleep", "30"])
    try:
        wait_for(lambda: supervised_sleep(no_leaks), what="the supervised sleep")
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 128 + sig
    finally:
        proc.kill()
        proc.wait()


def _children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(c) for c in f.read().split()]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_after_the_program_ended_stops_what_it_left(no_leaks, sig):
    """The program ended and left a process the run waits for: a signal
    pyshim would pass on finds no program, and stops the run, the process
    left behind too, instead of being lost (pyshim used to wait on)."""
    proc = subprocess.Popen([sys.executable, "-m", "pyshim", "run", "--",
                             "sh", "-c", "sleep 30 & exit 0"], stderr=subprocess.PIPE, text=True)
    try:
        sleep = wait_for(lambda: supervised_sleep(no_leaks), what="the supervised sleep")
        # The shell is gone and reaped: its orphan is pyshim's only child.
        wait_for(lambda: _children(proc.pid) == [sleep], what="the shell to end")
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 128 + sig
        assert proc.stderr.read() == (f"pyshim: {signal.Signals(sig).name} after the program "
                                      "ended: the processes it left were stopped\n")
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_after_a_static_program_ended_stops_what_it_left(prog, sig):
    """The same for a static program, which pyshim traces from a thread of
    its own: the signal wakes that thread's wait, and the run stops."""
    proc = subprocess.Popen([sys.executable, "-m", "pyshim", "run", "--",
                             prog("leave", static=True)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        parent, child = (int(p) for p in proc.stdout.readline().split())
        # The program is gone and reaped; the child it left is traced still.
        wait_for(lambda: not os.path.exists(f"/proc/{parent}"), what="the program's end")
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 128 + sig
        assert proc.stderr.read() == (
            f"pyshim: {signal.Signals(sig).name} after the program ended: the processes it "
            "left were stopped\n")
        assert not os.path.exists(f"/proc/{child}")
    finally:
        proc.kill()
        proc.wait()


def _userfaultfd_allowed() -> bool:
    try:
        with open("/proc/sys/vm/unprivileged_userfaultfd") as f:
            return os.geteuid() == 0 or f.read().strip() == "1"
    except OSError:
        return False


@pytest.mark.skipif(not _userfaultfd_allowed(),
                    reason="the test's program needs userfaultfd (root or "
                           "vm.unprivileged_userfaultfd)")
def test_a_failed_exec_notices_a_supervisor_that_died_during_it(prog, tmp_path, no_leaks):
    """The supervisor dies while an exec is in the kernel (held there by a
    page of its argv that userfaultfd serves late), and the exec fails: no
    conversation follows a failed exec, so the shim looks at the liveness
    lock itself and stops the program instead of letting it run on
    unsupervised."""
    script = tmp_path / "script"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    sup = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pyshim import Supervisor; "
         "sys.exit(Supervisor().run(sys.argv[1:]))", prog("failexec"), str(script)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert sup.stdout.readline() == b"fault\n"  # the exec is in the kernel
        os.kill(sup.pid, signal.SIGKILL)
        sup.wait()
        sup.stdin.write(b"x")  # the exec goes on, and fails
        sup.stdin.flush()
        out = sup.stdout.read()
        err = sup.stderr.read().decode()
    finally:
        sup.kill()
        sup.wait()
        shm.gc(no_leaks)  # the killed supervisor's segment
    assert out == b""
    assert err == "pyshim: the supervisor is gone; stopping the program\n"


def test_a_stale_channel_in_the_environment_is_a_clear_error(prog):
    """A process that stopped trapping (PTRACE_TRACEME) execs with its
    parent's environment after that parent ended: the channel it names is
    freed.  Its new image says so and stops, instead of waiting for the
    channel to be set up (which hung the run)."""
    out = pyshim_cli("run", "--", prog("orphanexec"), timeout=30)
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert lines[0].startswith("pyshim: warning: pid ") and "leaves the run" in lines[0]
    assert lines[1:] == [
        "A: exec", "pyshim: the channel named in PYSHIM_CHANNEL is not in use (its thread has "
        "ended)", "B: done"]


def test_supervisor_killed_takes_program_down_and_gc_cleans_up(no_leaks):
    proc = subprocess.Popen([sys.executable, "-m", "pyshim", "run", "--", "sleep", "30"])
    try:
        child = wait_for(lambda: supervised_sleep(no_leaks), what="the supervised sleep")
        proc.kill()
        proc.wait()
        # The program dies with its supervisor, within a second.
        wait_for(lambda: supervised_sleep(no_leaks) is None, timeout=1.0,
                 what=f"program {child} to die with its supervisor")
    finally:
        proc.kill()
        proc.wait()
    left = tagged_segments(no_leaks)
    assert left, "a SIGKILLed supervisor cannot clean up; its segments remain for gc"
    out = pyshim_cli("gc")
    assert out.returncode == 0
    assert f"supervisor {proc.pid} is gone" in out.stdout
    assert tagged_segments(no_leaks) == []


def test_next_run_collects_a_dead_runs_segments(no_leaks, prog):
    proc = subprocess.Popen([sys.executable, "-m", "pyshim", "run", "--", "sleep", "30"])
    wait_for(lambda: supervised_sleep(no_leaks), what="the supervised sleep")
    proc.kill()
    proc.wait()
    wait_for(lambda: supervised_sleep(no_leaks) is None, timeout=1.0, what="program death")
    dead = tagged_segments(no_leaks)
    assert dead
    assert pyshim_cli("run", "--", prog("hello")).returncode == 0
    assert not set(dead) & set(tagged_segments(no_leaks))


@pytest.mark.parametrize("release,machine,ok", [
    ("6.18.44-fc-v657", "x86_64", True),
    ("5.11.0", "x86_64", True),
    ("5.10.200-generic", "x86_64", False),
    ("4.19.0", "x86_64", False),
    ("6.1.0", "aarch64", False),
])
def test_kernel_check(release, machine, ok):
    if ok:
        program.check_kernel(release, machine)
    else:
        with pytest.raises(UnsupportedKernel, match="pyshim needs Linux 5.11|x86-64 only"):
            program.check_kernel(release, machine)


def kill_supervisor_when(args, ready, what, tag):
    """Runs `pyshim ARGS`; once ready() holds, SIGKILLs the supervisor and
    expects every supervised process to die within a second."""
    proc = subprocess.Popen([sys.executable, "-m", "pyshim", *args])
    try:
        wait_for(ready, what=what)
        proc.kill()
        proc.wait()
        wait_for(lambda: not tagged_processes(tag), timeout=1.0,
                 what="every supervised process to die with the supervisor")
    finally:
        proc.kill()
        proc.wait()
    assert pyshim_cli("gc").returncode == 0


def test_supervisor_killed_takes_the_whole_tree_down(no_leaks):
    """Descendants blocked in a native call die with the supervisor too,
    through the parent-death signal each forked process sets."""
    kill_supervisor_when(["run", "--", "sh", "-c", "sleep 30 & (sleep 30 & sleep 30); wait"],
                         lambda: len([p for p, c in tagged_processes(no_leaks)
                                      if c.startswith("sleep")]) == 3,
                         "three supervised sleeps", no_leaks)


def test_32bit_syscall_is_refused_clearly(prog):
    out = pyshim_cli("run", "--", prog("signals"), "int80")
    assert out.returncode == 128 + 9 and out.stdout == ""
    assert out.stderr == ("pyshim: a 32-bit syscall (int 0x80) cannot be supervised; "
                          "stopping the program\n")


def test_supervisor_killed_while_calls_are_held(no_leaks, prog, tmp_path):
    """Threads waiting on held calls die with the supervisor too."""
    handlers = tmp_path / "hold.py"
    all_held = tmp_path / "all-held"
    handlers.write_text(
        "@sup.on('getppid')\n"
        "def hold(call):\n"
        "    if call.tid == call.pid:  # sh's own getppid ($PPID)\n"
        "        return None\n"
        "    d = call.defer()\n"
        "    if len(sup.held) == 19:  # with this one, all 20 threads wait\n"
        f"        open({str(all_held)!r}, 'w').close()\n"
        "    return d\n")
    kill_supervisor_when(["run", "--handlers", str(handlers), "--",
                          "sh", "-c", f"{prog('held')} many 20; true"],
                         all_held.exists, "20 held calls", no_leaks)
