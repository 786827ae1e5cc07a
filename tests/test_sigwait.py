"""Waiting for SIGSYS with sigwaitinfo, sigtimedwait, sigsuspend or pause
while another thread or process sends it: the waiter gets it as natively
(with its siginfo), although under pyshim the kernel never holds the
program's SIGSYS pending by itself and a SIGSYS sent to the process may
reach a thread that keeps it (shim/sigsys.c, shim/sigsysfd.c); with calls
trapped or not and under trace."""
import os
import subprocess

import pytest

from conftest import ROOT, pyshim_cli
from test_rewrite import sigsys_count

WAYS = [["run"], ["run", "--trap", "all"], ["trace", "-o", os.devnull]]
WAY_IDS = ["unsubscribed", "trap-all", "trace"]

AFTER = "after: sigpending SIGSYS 0\n"


def waited(code, pid="self", extra=""):
    return f"sigwaitinfo: 31 code {code} pid {pid}{extra}\n" + AFTER


def suspended(call, code, blocked):
    return (f"{call}: -1 Interrupted system call; handler in the waiter, {code}\n"
            f"mask after: SIGSYS {blocked}\n" + AFTER)


# argv of tests/progs/sigwait.c after the program -> its output.  Every
# thread blocks SIGSYS; the main thread sends once the waiter sleeps.
# (glibc's sigwaitinfo reports tgkill's SI_TKILL as SI_USER.)
CASES = {
    # sigwaitinfo({SIGSYS}) woken by kill, tgkill, sigqueue (with its
    # value) from another thread, or by kill from another process.
    "wait kill": waited("SI_USER"),
    "wait tgkill": waited("SI_USER"),
    "wait queue": waited("SI_QUEUE", extra=" int 42"),
    "wait process": waited("SI_USER", pid="other"),
    # sigwaitinfo({SIGSYS, SIGUSR1}): either one.
    "wait2 kill sys": waited("SI_USER"),
    "wait2 queue sys": waited("SI_QUEUE", extra=" int 42"),
    "wait2 kill usr1": "sigwaitinfo: 10 code SI_USER pid self\n" + AFTER,
    "wait2 tgkill usr1": "sigwaitinfo: 10 code SI_USER pid self\n" + AFTER,
    # Timeouts time out; a pending one is taken at once; a bad timeout,
    # or one that cannot be read, fails first and takes nothing.
    "timeouts": "sigtimedwait 20ms: -1 Resource temporarily unavailable\n"
                "sigtimedwait 0: -1 Resource temporarily unavailable\n"
                "sigtimedwait 0 after kill: 31 code SI_USER pid self\n"
                "sigtimedwait bad timeout: -1 Invalid argument\n"
                "sigtimedwait bad pointer: -1 Bad address\n"
                "sigtimedwait 0 after those: 31 code SI_USER pid self\n",
    # A handler of another signal (making syscalls) interrupts the wait.
    "interrupted": "first sigwaitinfo: -1 Interrupted system call\nhandler ran: 1\n"
                   "second sigwaitinfo: 31 code SI_USER pid self\n" + AFTER,
    # kill, tgkill and sigqueue in turn, none lost nor doubled.
    "rounds 400": "rounds: 400, wrong: 0\n" + AFTER,
    # sigsuspend that opens SIGSYS, pause with SIGSYS open in the waiter
    # only: the handler runs in the waiter, the wait ends with EINTR.
    "sigsuspend kill": suspended("sigsuspend", "SI_USER", 1),
    "sigsuspend tgkill": suspended("sigsuspend", "SI_TKILL", 1),
    "sigsuspend queue": suspended("sigsuspend", "SI_QUEUE", 1),
    "sigsuspend process": suspended("sigsuspend", "SI_USER", 1),
    "pause kill": suspended("pause", "SI_USER", 0),
    "pause tgkill": suspended("pause", "SI_TKILL", 0),
    "pause process": suspended("pause", "SI_USER", 0),
    # A handler of another signal ends them as natively.
    "sigsuspend usr2": "sigsuspend: -1 Interrupted system call; handler not run, SI_USER\n"
                       "mask after: SIGSYS 1\nSIGUSR2 handler ran: 1\n" + AFTER,
    "pause usr2": "pause: -1 Interrupted system call; handler not run, SI_USER\n"
                  "mask after: SIGSYS 0\nSIGUSR2 handler ran: 1\n" + AFTER,
    "suspend-rounds 400": "rounds: 400, wrong: 0\n" + AFTER,
}


@pytest.mark.parametrize("way", WAYS, ids=WAY_IDS)
@pytest.mark.parametrize("case", CASES)
def test_sigsys_waits_end_as_natively(prog, case, way):
    argv = [prog("sigwait"), *case.split()]
    native = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert (native.stdout, native.returncode) == (CASES[case], 0), native.stderr
    supervised = pyshim_cli(*way, "--", *argv)
    assert (supervised.stdout, supervised.returncode) == (CASES[case], 0), supervised.stderr


def test_a_sigwait_for_sigsys_keeps_the_fast_path(prog):
    """Waiting for SIGSYS with sigtimedwait does not send reads and polls
    back to their traps (only a signalfd holding SIGSYS needs that)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = sigsys_count([prog("sigwait"), "polls", "100"], env, "poll")
    # (rewritten at its second trap, as any site)
    assert out == ("sigtimedwait 0: -1 Resource temporarily unavailable\npolls: 0 ready\n", 2)
