"""A signalfd whose mask holds SIGSYS, in a program that blocks SIGSYS:
read, poll, select and epoll see the program's SIGSYS as natively (the
shim keeps it pending itself, shim/sigsysfd.c), with calls trapped or not
and under trace; handlers of other signals still run and interrupt those
waits as natively; fork children and new images keep it working."""
import os
import subprocess

import pytest

from conftest import ROOT, pyshim_cli
from test_rewrite import sigsys_count

WAYS = [["run"], ["run", "--trap", "all"], ["trace", "-o", os.devnull]]
WAY_IDS = ["unsubscribed", "trap-all", "trace"]

SELF = "before read: sigpending SIGSYS 1\nsigno 31 code {} pid self{}\nafter read: sigpending SIGSYS 0\n"
INTERRUPTED = "handler read back: same\nhandler ran: SIGUSR2, SI_TKILL\n{}at the end: sigpending SIGSYS 0\n"


def waits(what, result):
    return "".join(
        f"{what} {line}\n" for line in (
            f"poll: {result} revents {'POLLIN' if result else '-'}",
            f"ppoll: {result} revents {'POLLIN' if result else '-'}",
            f"select: {result} {'readable' if result else '-'}",
            f"pselect: {result} {'readable' if result else '-'}",
            f"epoll_wait: {result} data {7 if result else 0}",
            f"epoll_pwait: {result} data {7 if result else 0}"))


# argv of tests/progs/sigsysfd.c after the program -> its output.
CASES = {
    # (1) kill, tgkill, sigqueue to itself: read returns the siginfo (code,
    # sender, value); (5) afterwards nothing is pending.
    "self kill": SELF.format("SI_USER", ""),
    "self tgkill": SELF.format("SI_TKILL", ""),
    "self queue": SELF.format("SI_QUEUE", " int 42"),
    # (2) nonblocking: EAGAIN while nothing is pending.
    "nonblock": "read: Resource temporarily unavailable\nsigno 31 code SI_TKILL pid self\n"
                "read: Resource temporarily unavailable\n",
    # (6) with another signal of the set: a large read returns the thread's
    # SIGSYS (synchronous signals first), SIGUSR1, the process's SIGSYS.
    "others": "signo 31 code SI_TKILL pid self\nsigno 10 code SI_TKILL pid self\n"
              "signo 31 code SI_USER pid self\nread: Resource temporarily unavailable\n"
              "signo 31 code SI_USER pid self\nsigno 10 code SI_USER pid self\n"
              "read: Resource temporarily unavailable\n",
    # (3) a blocked read woken by another thread (to the process or to it)
    # or another process.
    "thread kill": "signo 31 code SI_USER pid self\nafter read: sigpending SIGSYS 0\n",
    "thread tgkill": "signo 31 code SI_TKILL pid self\nafter read: sigpending SIGSYS 0\n",
    "process": "signo 31 code SI_USER pid other\nafter read: sigpending SIGSYS 0\n",
    # (4) poll, ppoll, select, pselect, epoll_wait, epoll_pwait: time out
    # with nothing pending, readable with SIGSYS pending, and again not
    # once it is read; a blocked poll or epoll_wait woken by another thread.
    "readiness": waits("empty", 0) * 2 + waits("pending", 1) * 2
                 + "signo 31 code SI_USER pid self\n" + waits("consumed", 0),
    "woken poll": "woken poll: 1 revents POLLIN\nsigno 31 code SI_USER pid self\n",
    "woken epoll": "woken epoll_wait: 1 data 9\nsigno 31 code SI_USER pid self\n",
    # (6) a handler of another signal, installed before or after the
    # signalfd, interrupts a blocked read or poll and makes syscalls:
    # EINTR, or the read goes on under SA_RESTART (poll never restarts).
    "interrupted read norestart before": INTERRUPTED.format("read: Interrupted system call\n"),
    "interrupted read restart after": INTERRUPTED.format("signo 31 code SI_USER pid self\n"),
    "interrupted poll norestart after": INTERRUPTED.format("interrupted poll: -1 revents -\n"),
    "interrupted poll restart before": INTERRUPTED.format("interrupted poll: -1 revents -\n"),
    # ppoll's own mask lets a handler in and keeps SIGSYS out.
    "masked": "handler read back: same\nhandler ran: SIGUSR2, SI_USER\n"
              "ppoll: -1 Interrupted system call\nppoll: 1 POLLIN\nsigno 31 code SI_USER pid self\n",
    # A handler that interrupts the read reads the signalfd itself; one
    # that longjmps out of it.
    "nested": "signo 31 code SI_TKILL pid self\nsigno 31 code SI_USER pid self\n"
              "at the end: sigpending SIGSYS 0\n",
    "longjmp": "jumped out\nafter the jump: sigpending SIGSYS 0\nsigno 31 code SI_USER pid self\n"
               "pipe read: 1\n",
    # A fork child reads its own SIGSYS; a new image reads the SIGSYS
    # pending across the exec from the inherited signalfd, and a new one.
    "fork": "child at start: sigpending SIGSYS 0\nsigno 31 code SI_USER pid self\n"
            "child after read poll: 0 revents -\nsigno 31 code SI_USER pid self\n"
            "parent after read poll: 0 revents -\n",
    "exec": "after exec: sigpending SIGSYS 1\nsigno 31 code SI_USER pid self\n"
            "after exec, read poll: 0 revents -\nsigno 31 code SI_USER pid self\n",
    # Many rounds between two threads, with nothing lost; also while a
    # handler making syscalls interrupts the reader each round.
    "rounds read 500": "rounds: 500\n",
    "rounds poll 500": "rounds: 500\n",
    "storm 500": "rounds: 500, handler errors: 0\n",
}


@pytest.mark.parametrize("way", WAYS, ids=WAY_IDS)
@pytest.mark.parametrize("case", CASES)
def test_signalfd_reports_sigsys_as_natively(prog, case, way):
    argv = [prog("sigsysfd"), *case.split()]
    native = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert (native.stdout, native.returncode) == (CASES[case], 0), native.stderr
    supervised = pyshim_cli(*way, "--", *argv)
    assert (supervised.stdout, supervised.returncode) == (CASES[case], 0), supervised.stderr


def test_only_a_signalfd_holding_sigsys_costs_traps(prog):
    """(7) A program whose signalfds leave SIGSYS out keeps the fast path:
    its poll site traps twice (rewritten at the second).  One that makes a signalfd holding SIGSYS
    traps at every poll from then on (the rewritten site is sent back to
    its trap), so that poll sees SIGSYS as natively."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    without = sigsys_count([prog("sigsysfd"), "polls", "without", "100"], env, "poll")
    with_sigsys = sigsys_count([prog("sigsysfd"), "polls", "with", "100"], env, "poll")
    assert without == ("polls: 0 ready\n", 2)
    assert with_sigsys == ("polls: 0 ready\n", 102)  # 2 before the signalfd, then 100
