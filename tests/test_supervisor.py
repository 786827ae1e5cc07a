"""The Python API: handlers, what they see, and how their answers reach the
program."""
import errno
import os
import signal
import subprocess

import pytest

from pyshim import NATIVE, Fail, HandlerError, Supervisor, _core, syscalls


def run_capture(sup, argv, tmp_path):
    out = tmp_path / "stdout"
    with open(out, "wb") as f:
        status = sup.run(argv, stdout=f)
    return status, out.read_text()


def test_exit_status_and_output(prog, tmp_path):
    status, out = run_capture(Supervisor(), [prog("hello"), "7"], tmp_path)
    assert (status, out) == (7, "hello\n")


def test_killed_by_signal_is_negative(tmp_path):
    status, _ = run_capture(Supervisor(), ["sh", "-c", "kill -TERM $$"], tmp_path)
    assert status == -signal.SIGTERM


def test_handler_sees_call_and_reads_string(prog, tmp_path):
    seen = []
    sup = Supervisor()

    @sup.on("openat")
    def record(call):
        seen.append((call.name, call.nr, call.pid, call.tid,
                     call.int_arg(0), call.string(call.args[1])))

    status, out = run_capture(sup, [prog("probe"), "/etc/hostname"], tmp_path)
    assert status == 0
    assert out.startswith("open /etc/hostname: fd ")
    last = seen[-1]
    assert last[:2] == ("openat", syscalls.NUMBERS["openat"])
    assert last[2] == last[3] and last[2] > 0  # single thread: tid == pid
    assert last[4] == -100  # AT_FDCWD
    assert last[5] == "/etc/hostname"


def test_fail_with_errno(prog, tmp_path):
    sup = Supervisor()

    @sup.on("openat")
    def deny(call):
        if call.string(call.args[1]) == "/etc/hostname":
            return Fail(errno.EACCES)
        return NATIVE

    status, out = run_capture(sup, [prog("probe"), "/etc/hostname", "/etc/passwd"], tmp_path)
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "open /etc/hostname: Permission denied"
    assert lines[1].startswith("open /etc/passwd: fd ")


def test_return_value_without_running(prog, tmp_path):
    sup = Supervisor()
    sup.on("getppid")(lambda call: 4242)
    status, out = run_capture(sup, [prog("probe"), "ppid"], tmp_path)
    assert (status, out) == (0, "getppid 4242\n")


def test_write_program_memory(prog, tmp_path):
    sup = Supervisor()

    @sup.on("getrandom")
    def fixed(call):
        call.write(call.args[0], bytes(range(1, 9)))
        return 8

    status, out = run_capture(sup, [prog("probe"), "random"], tmp_path)
    assert out == "getrandom 8: 01 02 03 04 05 06 07 08\n"


def test_after_hook_sees_and_replaces_result(prog, tmp_path):
    results = []
    sup = Supervisor()

    @sup.after("openat")
    def swap(call, result):
        results.append(result)
        if call.string(call.args[1]) == "/nonexistent":
            return 99

    status, out = run_capture(sup, [prog("probe"), "/etc/hostname", "/nonexistent"], tmp_path)
    assert status == 0
    assert out.splitlines()[-1] == "open /nonexistent: fd 99"
    assert results[-1] == -errno.ENOENT
    assert results[-2] >= 3


def test_unsubscribed_calls_never_reach_python(prog, tmp_path):
    seen = []
    sup = Supervisor()
    sup.on("getppid")(lambda call: seen.append(call.name))
    status, out = run_capture(sup, [prog("probe"), "/etc/hostname"], tmp_path)
    assert status == 0 and out.startswith("open /etc/hostname: fd ")
    assert seen == []


def test_trap_all_without_handlers_runs_natively(prog, tmp_path):
    status, out = run_capture(Supervisor(trap="all"), [prog("probe"), "/etc/hostname"], tmp_path)
    assert status == 0 and out.startswith("open /etc/hostname: fd ")


def test_handler_that_raises_stops_program(prog, tmp_path):
    sup = Supervisor()

    @sup.on("getppid")
    def broken(call):
        raise RuntimeError("boom")

    with pytest.raises(HandlerError, match="handler for getppid raised RuntimeError: boom") as info:
        run_capture(sup, [prog("probe"), "ppid"], tmp_path)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert info.value.call.name == "getppid"


def test_handler_returning_garbage_is_an_error(prog, tmp_path):
    sup = Supervisor()
    sup.on("getppid")(lambda call: "yes")
    with pytest.raises(HandlerError, match="returned 'yes'"):
        run_capture(sup, [prog("probe"), "ppid"], tmp_path)


def test_unknown_syscall_name():
    with pytest.raises(ValueError, match="unknown syscall 'nosuchcall'"):
        Supervisor().on("nosuchcall")


def test_fail_needs_a_real_errno():
    with pytest.raises(ValueError):
        Fail(0)
    assert Fail(errno.ENOENT) == Fail(errno.ENOENT)
    assert repr(Fail(errno.ENOENT)) == "Fail(ENOENT)"


def test_supervisor_can_run_twice(prog, tmp_path):
    sup = Supervisor(trap="all")
    assert run_capture(sup, [prog("hello"), "1"], tmp_path) == (1, "hello\n")
    assert run_capture(sup, [prog("hello"), "2"], tmp_path) == (2, "hello\n")


def test_run_passes_environment(tmp_path):
    out_file = tmp_path / "o"
    with open(out_file, "wb") as f:
        status = Supervisor().run(["sh", "-c", "echo $GREETING"],
                                  env={**os.environ, "GREETING": "hi there"}, stdout=f)
    assert status == 0 and out_file.read_text() == "hi there\n"


def _cpu_list(text: str) -> set[int]:
    """The CPUs of a /proc list such as "0-3,6"."""
    cpus = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def test_runs_keep_the_callers_cpu_affinity(tmp_path):
    """A run moves its thread to another CPU while its program starts
    (core/placement.h) and gives the thread back the CPUs it may use: every
    program starts with the caller's affinity, and the caller keeps it,
    whether it may use every CPU or one."""
    mine = os.sched_getaffinity(0)
    out = tmp_path / "status"

    def program_cpus() -> set[int]:
        with open(out, "w") as f:
            assert Supervisor().run(["grep", "Cpus_allowed_list", "/proc/self/status"],
                                    stdout=f) == 0
        return _cpu_list(out.read_text().split()[1])

    try:
        for allowed in (mine, {min(mine)}, mine):
            os.sched_setaffinity(0, allowed)
            assert [program_cpus() for _ in range(3)] == [allowed] * 3
            assert os.sched_getaffinity(0) == allowed
            # The move itself: to an allowed CPU or nowhere (the machine was
            # busy), the allowed CPUs as they were.
            for _ in range(20):
                assert _core.leave_cpu() in allowed | {-1}
                assert os.sched_getaffinity(0) == allowed
    finally:
        os.sched_setaffinity(0, mine)


def test_run_takes_subprocess_devnull_and_stdout(tmp_path):
    """stdin/stdout/stderr as subprocess.run takes them."""
    out = tmp_path / "out"
    with open(out, "w") as f:
        status = Supervisor().run(["sh", "-c", "cat; echo to-out; echo to-err >&2"],
                                  stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
    assert (status, out.read_text()) == (0, "to-out\nto-err\n")
    with open(out, "w") as f:
        status = Supervisor().run(["sh", "-c", "echo to-err >&2; echo to-out"],
                                  stdout=f, stderr=subprocess.DEVNULL)
    assert (status, out.read_text()) == (0, "to-out\n")
    with pytest.raises(ValueError, match="subprocess.PIPE cannot be given for stdout"):
        Supervisor().run(["true"], stdout=subprocess.PIPE)
