"""The pytest plugin: the pyshim_run fixture and the fault rules of
pyshim.faults, on real programs."""
import errno
import gc
import inspect
import os
import re
import sys
import threading
from importlib.metadata import entry_points

import pytest

from conftest import ROOT, tagged_processes, tagged_segments
from pyshim import HandlerError, Supervisor
from pyshim.faults import delay, fail, fixed_bytes, returns

pytest_plugins = ["pytester"]

README = (ROOT / "README.md").read_text()


def test_readme_example(pyshim_run, tmp_path):
    (tmp_path / "secret").write_text("hush\n")
    r = pyshim_run(["cat", str(tmp_path / "secret")],
                   [fail("openat", errno.EACCES, path_under=tmp_path)])
    assert r.status == 1 and r.faults_hit == 1
    assert r.stderr == f"cat: {tmp_path}/secret: Permission denied\n"


def readme_block():
    section = README.split("### Testing with pytest", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_block_is_test_readme_example():
    block = readme_block()
    assert inspect.getsource(test_readme_example) in block
    for line in block.splitlines():
        if line.startswith(("import ", "from ")):
            assert line in inspect.getsource(sys.modules[__name__]).splitlines()


def test_readme_block_passes_on_its_own(pytester):
    pytester.makepyfile(test_readme=readme_block())
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


# -- each kind of rule ---------------------------------------------------------

def test_fail_third_write_to_stdout_with_enospc(pyshim_run):
    r = pyshim_run(["bash", "-c", "echo one; echo two; echo three || exit 7; echo four"],
                   [fail("write", errno.ENOSPC, fd=1, nth=3)])
    assert r.stdout == "one\ntwo\n"
    assert r.stderr == "bash: line 1: echo: write error: No space left on device\n"
    assert r.status == 7
    assert r.faults_hit == 1
    writes = [c for c in r.called("write") if c[3] is not None]
    assert [w[3] for w in writes] == [4, 4, -errno.ENOSPC, len(r.stderr)]


def test_fail_openat_under_a_directory(pyshim_run, tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "file").write_text("hidden\n")
    (tmp_path / "open").write_text("visible\n")
    rules = [fail("openat", errno.EACCES, path_under=secret)]

    r = pyshim_run(["cat", str(secret / "file")], rules)
    assert (r.status, r.stdout) == (1, "")
    assert r.stderr == f"cat: {secret}/file: Permission denied\n"

    r = pyshim_run(["cat", str(tmp_path / "open")], rules)
    assert (r.status, r.stdout, r.stderr, r.faults_hit) == (0, "visible\n", "", 0)

    # relative paths resolve through the program's cwd
    r = pyshim_run(["sh", "-c", f"cd {tmp_path} && cat open secret/file"], rules)
    assert r.status == 1 and r.stdout == "visible\n"
    assert r.stderr == "cat: secret/file: Permission denied\n"


CONNECT = """
import socket, time
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(1)
client = socket.socket()
start = time.monotonic()
client.connect(server.getsockname())
print(f"{time.monotonic() - start:.3f}")
"""


def test_delay_connect(pyshim_run):
    r = pyshim_run([sys.executable, "-c", CONNECT], [delay("connect", 0.1)])
    assert r.status == 0, r.stderr
    assert float(r.stdout) >= 0.1
    assert r.faults_hit == 1
    assert [c[3] for c in r.called("connect")] == [0]


def test_getrandom_fixed_bytes(pyshim_run, prog):
    r = pyshim_run([prog("probe"), "random"], [fixed_bytes("getrandom", b"\x01\x02\x03")])
    assert (r.status, r.stdout) == (0, "getrandom 8: 01 02 03 01 02 03 01 02\n")
    assert r.faults_hit >= 1


def test_read_fixed_bytes(pyshim_run):
    r = pyshim_run(["head", "-c", "10"], [fixed_bytes("read", b"xy", fd=0)])
    assert (r.status, r.stdout) == (0, "xyxyxyxyxy")


def test_returns(pyshim_run, prog):
    r = pyshim_run([prog("probe"), "ppid"], [returns("getppid", 4242)])
    assert (r.status, r.stdout, r.faults_hit) == (0, "getppid 4242\n", 1)
    assert [c[0] for c in r.calls] == ["getppid"]


# -- composition, calls, faults_hit ------------------------------------------

def test_rules_for_one_syscall_compose_in_order(pyshim_run, prog, tmp_path):
    for name in ("a", "b", "c"):
        (tmp_path / name).write_text(name)
    rules = [fail("openat", errno.EACCES, path_under=tmp_path / "a"),
             fail("openat", errno.ENOENT, path_under=tmp_path),  # what a did not take
             fail("openat", errno.EPERM, path_under=tmp_path / "b")]  # never reached
    r = pyshim_run([prog("probe"), *(str(tmp_path / n) for n in "abc"), "/etc/passwd"], rules)
    lines = r.stdout.splitlines()
    assert lines[0] == f"open {tmp_path}/a: Permission denied"
    assert lines[1] == f"open {tmp_path}/b: No such file or directory"
    assert lines[2] == f"open {tmp_path}/c: No such file or directory"
    assert lines[3].startswith("open /etc/passwd: fd ")
    assert r.faults_hit == 3


def test_nth_counts_only_calls_that_pass_the_filters(pyshim_run, prog, tmp_path):
    (tmp_path / "f").write_text("")
    paths = [str(tmp_path / "f"), "/etc/passwd", str(tmp_path / "f"), str(tmp_path / "f")]
    r = pyshim_run([prog("probe"), *paths],
                   [fail("openat", errno.EIO, path_under=tmp_path, nth=2)])
    lines = r.stdout.splitlines()
    assert [line.endswith("Input/output error") for line in lines] == [False, False, True, False]
    assert r.faults_hit == 1


def test_calls_and_faults_hit(pyshim_run, prog):
    r = pyshim_run([prog("probe"), "ppid", "ppid"], [returns("getppid", 7, nth=2)],
                   trap=["exit_group"])
    assert r.stdout == f"getppid {os.getpid()}\ngetppid 7\n"
    assert r.faults_hit == 1
    pid = r.calls[0][1]
    assert r.calls == [("getppid", pid, pid, os.getpid()), ("getppid", pid, pid, 7),
                       ("exit_group", pid, pid, None)]


def test_trap_all_records_every_call(pyshim_run, prog):
    r = pyshim_run([prog("hello"), "3"], trap="all")
    assert (r.status, r.stdout, r.faults_hit) == (3, "hello\n", 0)
    names = [c[0] for c in r.calls]
    assert "write" in names and names[-1] == "exit_group"


def test_stdin_and_env(pyshim_run):
    r = pyshim_run(["sh", "-c", "read line; echo $line $GREETING"], stdin="hi\n",
                   env={**os.environ, "GREETING": "there"})
    assert (r.status, r.stdout) == (0, "hi there\n")


def test_delay_then_native_keeps_the_result(pyshim_run, prog):
    r = pyshim_run([prog("probe"), "ppid"], [delay("getppid", 0.05)])
    assert r.stdout == f"getppid {os.getpid()}\n" and r.faults_hit == 1


def test_handler_registered_before_keeps_unmatched_calls(prog, tmp_path):
    sup = Supervisor()
    sup.on("getppid")(lambda call: 99)
    returns("getppid", 1, nth=1).install(sup)
    out = tmp_path / "out"
    with open(out, "wb") as f:
        assert sup.run([prog("probe"), "ppid", "ppid"], stdout=f) == 0
    assert out.read_text() == "getppid 1\ngetppid 99\n"


def test_rules_check_their_arguments():
    with pytest.raises(ValueError, match="unknown syscall"):
        fail("nosuchcall", errno.EIO)
    with pytest.raises(ValueError):
        fail("write", 0)
    with pytest.raises(ValueError, match="takes no path"):
        fail("write", errno.EIO, path_under="/tmp")
    with pytest.raises(ValueError, match="nth"):
        fail("write", errno.EIO, nth=0)
    with pytest.raises(ValueError, match="fixed_bytes applies"):
        fixed_bytes("write", b"x")
    with pytest.raises(ValueError):
        fixed_bytes("getrandom", b"")
    with pytest.raises(ValueError):
        delay("connect", -1)
    with pytest.raises(ValueError):
        returns("getppid", "1")


# -- timeout and cleanup -------------------------------------------------------

def test_timeout_kills_the_whole_run(pyshim_run, no_leaks):
    r = pyshim_run(["sh", "-c", "sleep 60 & sleep 60; echo never"], timeout=0.5)
    assert (r.status, r.stdout, r.timed_out) == (-9, "", True)
    assert tagged_processes(no_leaks) == []


def test_no_timeout_when_the_run_is_quick(pyshim_run):
    r = pyshim_run(["true"], timeout=30)
    assert (r.status, r.timed_out) == (0, False)


INNER = """
import errno
from pyshim.faults import fail


class Boom:
    name = "getppid"

    def install(self, sup):
        @sup.on("getppid")
        def boom(call):
            assert False, "handler fails mid-run"


def test_fails_after_a_run(pyshim_run):
    r = pyshim_run(["sh", "-c", "echo hi"], [fail("openat", errno.EIO)])
    assert r.stdout == "something else"


def test_handler_fails_during_a_run(pyshim_run):
    pyshim_run(["sh", "-c", "sleep 60 & sleep 60 & python3 -c 'import os; os.getppid()'"],
               [Boom()])


def test_times_out_then_fails(pyshim_run):
    r = pyshim_run(["sh", "-c", "sleep 60 & sleep 60"], timeout=0.3)
    assert r.status == 0
"""


def test_cleanup_when_the_test_fails(pytester, monkeypatch, no_leaks):
    inner_tag = no_leaks + "in"
    monkeypatch.setenv("PYSHIM_RUN_TAG", inner_tag)
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:benchmark")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*handler fails mid-run*", "*assert -9 == 0*"])
    assert tagged_segments(inner_tag) == []
    assert tagged_processes(inner_tag) == []
    assert not [t for t in threading.enumerate() if t.name == "pyshim-timeout"]


class Raises:
    """A rule of one's own: any object with install(sup) (and, to have its
    calls recorded, a name)."""
    name = "getppid"

    def install(self, sup):
        @sup.on(self.name)
        def boom(call):
            raise RuntimeError("boom")


def open_fds() -> set[tuple[str, str]]:
    fds = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds.add((fd, os.readlink(f"/proc/self/fd/{fd}")))
        except OSError:
            pass  # the listing's own descriptor
    return fds


def test_fixture_closes_its_files_when_the_run_raises(pyshim_run, no_leaks):
    gc.collect()
    before = open_fds()
    with pytest.raises(HandlerError) as info:
        pyshim_run(["sh", "-c", "sleep 60 & python3 -c 'import os; os.getppid()'"],
                   [Raises()], stdin=b"input", timeout=30)
    # only the traceback's hold on the run's (unlinked) segment mappings is left
    held = open_fds() - before
    assert all(link.startswith("/dev/shm/pyshim-") for fd, link in held), held
    del info
    gc.collect()
    assert open_fds() - before == set()
    assert tagged_processes(no_leaks) == []
    assert not [t for t in threading.enumerate() if t.name == "pyshim-timeout"]


# -- registration --------------------------------------------------------------

def test_registered_through_the_entry_point(request, pytester):
    assert any(ep.name == "pyshim" and ep.value == "pyshim.pytest_plugin"
               for ep in entry_points(group="pytest11"))
    assert request.config.pluginmanager.get_plugin("pyshim") is sys.modules["pyshim.pytest_plugin"]
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fixtures")
    result.stdout.fnmatch_lines(["pyshim_run*"])
