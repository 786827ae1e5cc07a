"""The fast path for calls nobody subscribed (shim/rewrite.c): a libc site
proven by one trap runs natively from then on, with the same results, and a
subscribed call is never taken off the trap."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT, pyshim_cli
from pyshim import Supervisor


def sigsys_count(argv, env, syscall):
    """SIGSYS deliveries for `syscall` while `pyshim run -- argv` runs, as
    strace sees them (each is one trapped call)."""
    out = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=none", "-e", "signal=SIGSYS", "-o", "/dev/stderr",
         sys.executable, "-m", "pyshim", "run", "--", *argv],
        capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout, out.stderr.count(f"si_syscall=__NR_{syscall},")


def test_an_unsubscribed_call_traps_once_per_site(prog):
    argv = [prog("rewrite"), "count", "500"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    expected = "getppid 500/500 same, access 500/500 ok\n"
    out, traps = sigsys_count(argv, env, "getppid")
    assert (out, traps) == (expected, 1)
    out, traps = sigsys_count(argv, dict(env, PYSHIM_NO_REWRITE="1"), "getppid")
    assert (out, traps) == (expected, 501)  # the first call, then 500


def test_a_subscribed_call_is_never_rewritten(prog, tmp_path):
    # access is unsubscribed and rewritten in the same run; every getppid
    # still reaches the handler.
    sup, seen = Supervisor(), []

    @sup.on("getppid")
    def answer(call):
        seen.append(call.tid)
        return 42

    out = tmp_path / "out"
    with open(out, "w") as f:
        status = sup.run([prog("rewrite"), "count", "300"], stdout=f)
    assert (status, out.read_text()) == (0, "getppid 300/300 same, access 300/300 ok\n")
    assert len(seen) == 301  # the first call, then 300 compared with it


@pytest.mark.parametrize("mode,expected", [
    ("fork", "child saw its parent: yes\n"),
    ("threads", "threads: 0 wrong results\n"),
])
@pytest.mark.parametrize("trap", [[], ["--trap", "all"]], ids=["unsubscribed", "trap-all"])
def test_rewritten_sites_across_fork_and_threads(prog, mode, expected, trap):
    native = subprocess.run([prog("rewrite"), mode], capture_output=True, text=True, timeout=60)
    assert native.stdout == expected
    out = pyshim_cli("run", *trap, "--", prog("rewrite"), mode)
    assert (out.stdout, out.returncode) == (expected, 0), out.stderr
