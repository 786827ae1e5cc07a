"""The direct entry (shim/direct.c): libc sites of subscribed calls and of
the signal masks and handlers the shim emulates enter the shim without a
SIGSYS once their traps proved them, with the same results."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT, pyshim_cli
from pyshim import Fail, Supervisor
from test_rewrite import sigsys_count

N = 200
EXPECTED = {
    "masks": f"masks: 0/{N} wrong\n",
    "actions": f"actions: 0/{N} old wrong, 0/{N} handlers wrong\n",
    "faults": f"faults: {4 * N}/{4 * N} right\n",
    "fork": "fork: parent 0 wrong, child right\n",
    "traceme": "traceme: child right\n",
    "sysnested": "sysnested: 0 wrong, SIGSYS handler ran 1, 1 with a kernel frame\n",
    "eintr": f"eintr: {N}/{N} restarted, {N}/{N} interrupted\n",
    "rawaction": f"rawaction: {N}/{N} right\n",
}
TRACED = "is traced by a debugger or tracer and leaves the run"


@pytest.mark.parametrize("mode", sorted(EXPECTED))
@pytest.mark.parametrize("options,env", [
    ([], {}),
    (["--trap", "all"], {}),
    ([], {"PYSHIM_NO_DIRECT": "1"}),
], ids=["unsubscribed", "trap-all", "no-direct"])
def test_masks_and_handlers_as_natively(prog, mode, options, env):
    argv = [prog("direct"), mode, str(N)]
    native = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert (native.stdout, native.returncode) == (EXPECTED[mode], 0)
    out = pyshim_cli("run", *options, "--", *argv, env=dict(os.environ, **env))
    assert (out.stdout, out.returncode) == (EXPECTED[mode], 0), out.stderr
    assert all(TRACED in line for line in out.stderr.splitlines()), out.stderr


def test_a_site_traps_twice_then_enters_directly(prog):
    """Strace counts the SIGSYS deliveries: a few per site with the direct
    entry (masks makes its calls at a handful of libc sites), every call
    without it."""
    argv = [prog("direct"), "masks", str(N)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out, direct = sigsys_count(argv, env, "rt_sigprocmask")
    assert out == EXPECTED["masks"]
    out, trapped = sigsys_count(argv, dict(env, PYSHIM_NO_DIRECT="1"), "rt_sigprocmask")
    assert out == EXPECTED["masks"]
    assert trapped >= 4 * N and direct <= 20, (direct, trapped)


def test_every_subscribed_call_reaches_its_handler(prog, tmp_path):
    """A handler of rt_sigaction sees every call and its answer reaches the
    program, though the site enters the shim directly after two calls."""
    sup, seen = Supervisor(), []

    @sup.on("rt_sigaction")
    def deny(call):
        if call.args[0] == 12:  # SIGUSR2
            seen.append(call.args[0])
            return Fail(1)  # EPERM

    out = tmp_path / "out"
    with open(out, "w") as f:
        status = sup.run([prog("direct"), "denied", str(N)], stdout=f)
    assert (status, out.read_text()) == (0, f"denied: {N}/{N}\n")
    assert len(seen) == N


def trapped(argv, syscall, expected, **env):
    """SIGSYS deliveries for `syscall` (subscribed) while `pyshim run --trap
    SYSCALL -- argv` prints `expected`, as strace sees them."""
    out = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=none", "-e", "signal=SIGSYS", "-o", "/dev/stderr",
         sys.executable, "-m", "pyshim", "run", "--trap", syscall, "--", *argv],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONPATH=str(ROOT), **env))
    assert (out.stdout, out.returncode) == (expected, 0), out.stderr[-2000:]
    return out.stderr.count(f"si_syscall=__NR_{syscall},")


def test_a_subscribed_site_traps_twice_then_enters_directly(prog):
    """getppid subscribed: its site traps twice, then every call reaches
    the supervisor through the direct entry."""
    argv, expected = [prog("rewrite"), "count", "300"], "getppid 300/300 same, access 300/300 ok\n"
    assert trapped(argv, "getppid", expected) == 2
    assert trapped(argv, "getppid", expected, PYSHIM_NO_DIRECT="1") == 301


def test_interrupted_reads_at_a_direct_site(prog):
    """readv subscribed: after two traps its site enters directly, and
    signals still cut it short (EINTR) or restart it (SA_RESTART) as
    natively (test_masks_and_handlers_as_natively checks the results)."""
    argv, expected = [prog("direct"), "eintr", "20"], "eintr: 20/20 restarted, 20/20 interrupted\n"
    assert trapped(argv, "readv", expected) <= 4
    assert trapped(argv, "readv", expected, PYSHIM_NO_DIRECT="1") >= 40


def test_a_seccomp_filter_turns_the_direct_entry_off(prog):
    """The entry calls sigaltstack, which a program's filter may forbid: a
    program that installed a filter killing sigaltstack still runs its
    subscribed calls (they trap, as before the entry)."""
    argv = [prog("direct"), "seccomp", "50"]
    native = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert (native.stdout, native.returncode) == ("seccomp: 100/100 masks right\n", 0)
    for options in ([], ["--trap", "all"]):
        out = pyshim_cli("run", *options, "--", *argv)
        assert (out.stdout, out.returncode) == (native.stdout, 0), out.stderr
