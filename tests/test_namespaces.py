"""Programs that make namespaces of their own stay supervised: user, pid,
mount (even with a fresh tmpfs over /dev/shm), uts, network.  Events from another
pid namespace carry that namespace's pids: the supervisor maps them to its
own view (/proc's NSpid), prints its own in trace lines (as strace
--pidns-translation does) and records the namespace's in its table; and
the program's shims know the supervisor is alive without its pid (the
run's liveness lock)."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, pyshim_cli, tagged_processes
from pyshim import Supervisor

native_userns = subprocess.run(["unshare", "-r", "true"], capture_output=True).returncode == 0
pytestmark = pytest.mark.skipif(not native_userns, reason="user namespaces are not available")

COMMANDS = {"run": ("run", "--trap", "all"), "trace": ("trace", "-o", os.devnull)}
CASES = {
    "user": (["unshare", "-r", "id", "-u"], "0\n"),
    "pid": (["unshare", "-rpf", "--mount-proc", "sh", "-c", "echo $$; /bin/true; echo done"],
            "1\ndone\n"),
    # /proc hidden in the new namespaces: the shell's children learn their
    # namespace from it, not from /proc (a child that looked, found nothing
    # and took itself for the supervisor's namespace made the run hang).
    "pid-no-proc": (["unshare", "-rpmf", "sh", "-c",
                     "mount -t tmpfs none /proc && /bin/echo one && /bin/echo two"],
                    "one\ntwo\n"),
    "mount-shm": (["unshare", "-rm", "sh", "-c",
                   "mount -t tmpfs none /dev/shm && ls /dev/shm | wc -l && /bin/echo still"],
                  "0\nstill\n"),
    "uts": (["unshare", "-ru", "sh", "-c", "hostname pyshim-test && hostname"], "pyshim-test\n"),
    # A network namespace has only its loopback: 2 header lines and lo.
    "net": (["unshare", "-rn", "sh", "-c", "cat /proc/net/dev | wc -l"], "3\n"),
    # The namespace's processes fork after /proc is gone: they must keep
    # knowing they are not in the supervisor's namespace (their shim can no
    # longer ask /proc), whether their image came from a fork child or a
    # vfork child (posix_spawn) of the process that moved its children's.
    "pid-lost-proc": (["unshare", "-rpmf", "sh", "-c",
                       "mount -t tmpfs none /proc && echo $$ && /bin/true && /bin/echo done"],
                      "1\ndone\n"),
    "pid-lost-proc-vfork": (["unshare", "-rpm", sys.executable, "-c",
                             "import subprocess; subprocess.run(['sh', '-c', "
                             "'mount -t tmpfs none /proc && echo $$ && /bin/true && /bin/echo done'])"],
                            "1\ndone\n"),
    # Children killed and reaped as soon as they are forked: the supervisor
    # finds a child's own pid through its parent's /proc children, so the
    # parent waits for its fork's result to be read (a parent that went on
    # made the run fail with EINVAL: a pid of 0 for the child).
    "pid-killed-children": (["unshare", "-rpf", "--mount-proc", "bash", "-c",
                             "for i in $(seq 50); do sleep 10 & kill -9 $!; wait $! 2>/dev/null;"
                             " done; echo ok"], "ok\n"),
    # A sandbox: new pid namespace, a fresh /dev (its own /dev/shm), a new /proc.
    "bwrap": (["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
               "--unshare-pid", "/bin/sh", "-c", "echo $$; /bin/true; echo ok"], "2\nok\n"),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CASES)
def test_namespaced_program_as_natively(case, command):
    argv, expected = CASES[case]
    if not shutil.which(argv[0]):
        pytest.skip(f"{argv[0]} is not installed")
    native = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert native.stdout == expected
    out = pyshim_cli(*COMMANDS[command], "--", *argv)
    assert (out.stdout, out.returncode) == (expected, 0), out.stderr


@pytest.mark.parametrize("trap", [[], ["--trap", "all"]], ids=["run", "trap-all"])
def test_fork_of_a_process_that_ends_at_once_in_a_pid_namespace(prog, trap):
    """In a pid namespace the supervisor finds a new process's own pid
    through its parent's /proc children: a parent that ends right after
    its fork (the child, reparented, runs on) must wait until its fork's
    result is read.  `| cat` waits for the child, which holds the pipe."""
    argv = ["unshare", "-rpf", "--mount-proc", "sh", "-c", '"$0" exit-after-fork | cat',
            prog("clones")]
    native = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert (native.stdout, native.returncode) == ("child ran\n", 0), native.stderr
    out = pyshim_cli("run", *trap, "--", *argv)
    assert (out.stdout, out.returncode) == ("child ran\n", 0), out.stderr


def test_clone_parent_in_a_pid_namespace(prog):
    """A CLONE_PARENT child is its parent's sibling: the supervisor finds its
    pid among the grandparent's /proc children (it was stopped as not found)."""
    argv = ["unshare", "-rpf", "--mount-proc", "sh", "-c", '"$0" parent; true', prog("clones")]
    expected = "sibling's parent is my parent\nwaitpid: No child processes\n"
    native = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert (native.stdout, native.returncode) == (expected, 0), native.stderr
    out = pyshim_cli("run", "--", *argv)
    assert (out.stdout, out.stderr, out.returncode) == (expected, "", 0)


STOPPED = ("pyshim: warning: a new process in another pid namespace (pid 5 there) is "
           "stopped: its parent ended during the fork, so its pid could not be found in /proc\n")


def test_fork_whose_process_ends_before_the_supervisor_reads_it(prog):
    """A thread's fork, in a pid namespace, while another thread ends the
    process: the supervisor finds the child's pid among its parent's /proc
    children, and may find the parent gone.  The child then runs (the
    parent's result was read in time) or is stopped with one line; never a
    run that fails, hangs, or gives the child's channel to another process
    (which it did: a later fork's child shared it)."""
    argv = ["unshare", "-rpf", "--mount-proc", "sh", "-c",
            '"$0" exit-during-fork | cat; /bin/true; /bin/true', prog("clones")]
    native = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert (native.stdout, native.returncode) == ("child ran\n", 0), native.stderr
    for _ in range(10):
        out = pyshim_cli("run", "--", *argv)
        assert (out.stdout, out.stderr, out.returncode) in (
            ("child ran\n", "", 0), ("", STOPPED, 0)), out.stderr


@pytest.mark.parametrize("how", ["fork", "vfork"])
@pytest.mark.parametrize("trap", [[], ["--trap", "all"]], ids=["run", "trap-all"])
def test_children_of_a_process_that_moved_their_pid_namespace_then_exec_d(prog, trap, how):
    """unshare(CLONE_NEWPID) moves only the children's namespace, and the
    process's new image (after exec) must still know it: its first child,
    forked or vforked (a vfork child shares its parent's shim state, not its
    namespace), is pid 1 there, and its events carry that namespace's pids.
    (A vforked child taken for the supervisor's pid 1 made the run wait for
    init forever.)"""
    argv = [prog("pidns"), how]
    native = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    expected = "child: pid 1 in its namespace\nchild exited 3\n"
    assert (native.stdout, native.returncode) == (expected, 0), native.stderr
    out = pyshim_cli("run", *trap, "--", *argv)
    assert (out.stdout, out.stderr, out.returncode) == (expected, "", 0)


@pytest.mark.parametrize("trap", [[], ["--trap", "all"]], ids=["run", "trap-all"])
def test_a_vfork_child_in_a_pid_namespace_of_its_own(prog, trap):
    """clone(CLONE_VM | CLONE_VFORK | CLONE_NEWPID): the child shares its
    parent's shim state, not its namespace; its events (and its new
    image's, which learns them from its exec) carry that namespace's pids
    and say so.  (Taken for the supervisor's pid 1, the run waited for
    init forever.)"""
    argv = [prog("vfork_newpid")]
    native = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    expected = "child: pid 1 in its namespace\nchild exited 3\n"
    assert (native.stdout, native.returncode) == (expected, 0), native.stderr
    out = pyshim_cli("run", *trap, "--", *argv)
    assert (out.stdout, out.stderr, out.returncode) == (expected, "", 0)


SUPERVISOR_IN_MOVED_PIDNS = """
import ctypes, os, subprocess, sys
from pyshim import Supervisor
CLONE_NEWPID, CLONE_NEWUSER = 0x20000000, 0x10000000
libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(CLONE_NEWPID | (0 if os.geteuid() == 0 else CLONE_NEWUSER)):
    sys.exit("unshare: " + os.strerror(ctypes.get_errno()))
# The namespace's pid 1, alive for the run: until it exists, the kernel
# tells nobody which namespace children will start in.
init = subprocess.Popen(["sleep", "60"])
try:
    code = Supervisor().run(["/bin/sh", "-c", "echo $$; /bin/true; echo done"])
finally:
    init.kill()
    init.wait()
sys.exit(code)
"""


def test_a_supervisor_that_moved_its_childrens_pid_namespace():
    """The run's program starts in the namespace the supervisor's children
    go to, not the supervisor's own: it is pid 2 there (after that
    namespace's init), and its events carry that namespace's pids (the
    control block names the namespace; a program that said it is the
    supervisor's would be garbage in its channel)."""
    out = subprocess.run([sys.executable, "-c", SUPERVISOR_IN_MOVED_PIDNS], capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert (out.stdout, out.returncode) == ("2\ndone\n", 0), out.stderr


SUPERVISOR_THREAD_IN_MOVED_PIDNS = """
import ctypes, os, subprocess, sys, threading
from pyshim import Supervisor
CLONE_NEWPID, CLONE_NEWUSER = 0x20000000, 0x10000000
libc = ctypes.CDLL(None, use_errno=True)
if os.geteuid() != 0 and libc.unshare(CLONE_NEWUSER):
    sys.exit("unshare: " + os.strerror(ctypes.get_errno()))
result = []
def supervise():
    # Moves this thread's children only: the main thread's stay.
    if libc.unshare(CLONE_NEWPID):
        result.append("unshare: " + os.strerror(ctypes.get_errno()))
        return
    init = subprocess.Popen(["sleep", "60"])
    try:
        result.append(Supervisor().run(["/bin/sh", "-c", "echo $$; /bin/true; echo done"]))
    finally:
        init.kill()
        init.wait()
thread = threading.Thread(target=supervise)
thread.start()
thread.join()
sys.exit(result[0] if result else "no result")
"""


def test_a_supervisor_thread_that_moved_its_childrens_pid_namespace():
    """pid_for_children is a thread's: a run made by a thread that moved
    its children's namespace starts its program there, whatever the main
    thread's say (the control block must name the spawning thread's)."""
    out = subprocess.run([sys.executable, "-c", SUPERVISOR_THREAD_IN_MOVED_PIDNS],
                         capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert (out.stdout, out.returncode) == ("2\ndone\n", 0), out.stderr


def test_trace_prints_the_supervisors_pids_and_the_table_the_namespaces(tmp_path):
    log = tmp_path / "trace"
    out = pyshim_cli("trace", "-o", str(log), "--", "unshare", "-rpf", "--mount-proc",
                     "sh", "-c", "echo $$; /bin/true")
    assert out.stdout == "1\n", out.stderr
    pids = {int(p) for p in re.findall(r"^\[pid +(\d+)\]", log.read_text(), re.M)}
    assert len(pids) >= 2 and 1 not in pids and 2 not in pids
    # The pid namespace's init writes its "1" from a pid of the supervisor's.
    assert re.search(r'^\[pid +(\d+)\] write\(1, "1\\n", 2\) = 2$', log.read_text(), re.M)

    sup = Supervisor()
    with open(tmp_path / "out", "w") as f:
        assert sup.run(["unshare", "-rpf", "--mount-proc", "sh", "-c", "echo $$; /bin/true"],
                       stdout=f) == 0
    by_pid = {row["pid"]: row["ns_pid"] for row in sup.threads}
    assert sorted(v for v in by_pid.values() if v is not None) == [1, 2]
    assert all(pid > 2 for pid in by_pid)


def test_supervisor_killed_takes_a_namespaced_tree_down(no_leaks):
    """Liveness without pids: inside the pid namespace the supervisor's pid
    means nothing; its run's lock still tells the shims it is gone."""
    run = subprocess.Popen([sys.executable, "-m", "pyshim", "run", "--", "unshare", "-rpf",
                            "--mount-proc", "sh", "-c", "echo ready; while :; do :; done"],
                           stdout=subprocess.PIPE, text=True)
    assert run.stdout.readline() == "ready\n"
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 10
    while tagged_processes(no_leaks) and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for the tree to notice, not for a race
    assert tagged_processes(no_leaks) == []
    subprocess.run([sys.executable, "-m", "pyshim", "gc"], capture_output=True, timeout=30)
