"""The fast path for calls nobody subscribed (shim/rewrite.c): a libc site
that trapped twice runs natively from then on, with the same results, a
call made once is never worth a rewrite, and a subscribed call still
reaches the supervisor every time."""
import os
import re
import subprocess

import pytest

from conftest import ROOT, pyshim_cli, strace_pyshim_run
from pyshim import Supervisor


def sigsys_lines(argv, env):
    """The output of `pyshim run -- argv` and strace's lines for the SIGSYS
    deliveries meanwhile (each is one trapped call)."""
    out = strace_pyshim_run(["-e", "trace=none", "-e", "signal=SIGSYS"], argv, env)
    return out.stdout, [line for line in out.stderr.splitlines() if "SIGSYS" in line]


def sigsys_count(argv, env, syscall):
    """SIGSYS deliveries for `syscall` while `pyshim run -- argv` runs, as
    strace sees them."""
    out, lines = sigsys_lines(argv, env)
    return out, sum(f"si_syscall=__NR_{syscall}," in line for line in lines)


def native_calls(argv, syscall):
    """The output of argv run natively and how many `syscall` calls it made,
    as strace sees them."""
    out = subprocess.run(["strace", "-f", "-qq", "-e", f"trace={syscall}", "-o", "/dev/stderr",
                          *argv], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout, sum(line.split(" ", 1)[-1].lstrip().startswith(f"{syscall}(")
                           for line in out.stderr.splitlines())


def libc_site(prog, call):
    """How libc's site for `call` lies (tests/progs/rewrite.c "site"): the
    bytes of its mov before an aligned 8-byte boundary (1 to 4), 5 when it
    lies inside one word.  Fails when libc has no such site for it."""
    out = subprocess.run([prog("rewrite"), "site", call], capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    assert out[1] != "none", f"this libc makes {call} without `mov $nr, %eax; syscall`"
    return 5 if out[1] == "5" else int(out[1].split("+")[0])


def directory(tmp_path, files):
    """A directory of `files` empty files: its canonical path and entries
    (with . and ..)."""
    d = tmp_path / "dir"
    d.mkdir()
    for i in range(files):
        (d / f"f{i}").touch()
    return os.path.realpath(d), files + 2


def test_an_unsubscribed_call_traps_twice_per_site(prog):
    argv = [prog("rewrite"), "count", "500"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    expected = "getppid 500/500 same, access 500/500 ok\n"
    out, traps = sigsys_count(argv, env, "getppid")
    assert (out, traps) == (expected, 2)  # rewritten at its second trap
    out, traps = sigsys_count(argv, dict(env, PYSHIM_NO_REWRITE="1"), "getppid")
    assert (out, traps) == (expected, 501)  # the first call, then 500


def test_sites_used_in_turn_are_all_rewritten(prog):
    # 16 calls at 16 sites, in turn, 200 rounds: each site traps twice at
    # most, however their addresses fall in the shim's table of sites seen
    # once (sites that kept evicting each other would trap every round).
    # Three runs: each places libc elsewhere (ASLR), and the sites with it.
    argv = [prog("rewrite"), "many", "200"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    names = ("getppid getuid geteuid getgid getegid getpgrp getpid gettid sched_yield "
             "getpriority sched_getscheduler getsid getpgid sysinfo uname umask").split()
    for _ in range(3):
        out, lines = sigsys_lines(argv, env)
        traps = {name: sum(f"si_syscall=__NR_{name}," in line for line in lines)
                 for name in names}
        assert out == "many: 200/200 rounds the same\n"
        assert max(traps.values()) <= 2, traps


def code_writes(argv) -> int:
    """How many times `pyshim run -- argv` made code writable (mprotect with
    PROT_WRITE|PROT_EXEC: the shim rewriting a site), as strace sees it."""
    return strace_pyshim_run(["-e", "trace=mprotect"], argv).stderr.count(
        "PROT_READ|PROT_WRITE|PROT_EXEC")


def test_a_call_made_once_is_not_rewritten(prog):
    # A rewrite costs several traps' worth (mprotects, copy-on-write faults)
    # and makes two pages writable (the stub's, the site's).  "count N"
    # calls getppid N+1 times and access N times, after the same start.
    base = code_writes([prog("rewrite"), "count", "0"])
    assert code_writes([prog("rewrite"), "count", "1"]) == base + 2  # getppid, not access
    assert code_writes([prog("rewrite"), "count", "3"]) == base + 4  # both


def test_a_subscribed_call_reaches_its_handler_every_time(prog, tmp_path):
    # access is unsubscribed and rewritten to run natively in the same run;
    # getppid's site is rewritten to the direct entry (test_direct.py), and
    # every getppid still reaches the handler.
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


def test_a_straddling_site_traps_twice(prog, tmp_path):
    # glibc's getdents64 site (readdir's) starts its mov in the last bytes
    # of an aligned word: rewritten all the same.
    split = libc_site(prog, "getdents64")
    assert split < 5, ("getdents64's site in this libc lies inside one 8-byte word: this test "
                       "needs a site whose mov straddles two (choose another call)")
    d, _ = directory(tmp_path, 20)
    argv = [prog("rewrite"), "readdir", d, "500"]
    expected, calls = native_calls(argv, "getdents64")
    assert expected == "readdir: 500 rounds of 22 entries\n" and calls >= 500
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    assert sigsys_count(argv, env, "getdents64") == (expected, 2)
    assert sigsys_count(argv, dict(env, PYSHIM_NO_REWRITE="1"), "getdents64") == (expected, calls)


@pytest.mark.parametrize("trap", [[], ["--trap", "all"]], ids=["unsubscribed", "trap-all"])
def test_straddling_sites_rewritten_while_threads_run_them(prog, tmp_path, trap):
    # 16 threads released at once on getcwd (a mov split after 1 byte: two
    # stores) and readdir; --trap all subscribes both: their sites get
    # stubs to the direct entry (test_direct.py), by two stores too.
    d, entries = directory(tmp_path, 20)
    argv = [prog("rewrite"), "dirs", d, str(entries), "100"]
    native = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert native.stdout == "dirs: 0 wrong results\n"
    for _ in range(5):
        out = pyshim_cli("run", *trap, "--", *argv, timeout=120)
        assert (out.stdout, out.returncode) == (native.stdout, 0), out.stderr


def test_a_half_rewritten_site_traps_with_its_own_call(prog, tmp_path):
    """Between the two stores a thread may run `mov $MIXED, %eax; syscall`:
    the shim takes that trap for getcwd.  PYSHIM_TEST_LINGER keeps the
    state until some thread trapped there, which strace shows as a SIGSYS
    with a number no syscall has."""
    split = libc_site(prog, "getcwd")
    assert split < 4, ("getcwd's site in this libc does not split its mov's number across two "
                       f"words (split {split}): this test needs one that does")
    d, entries = directory(tmp_path, 20)
    argv = [prog("rewrite"), "dirs", d, str(entries), "50"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYSHIM_TEST_LINGER="1")
    out, lines = sigsys_lines(argv, env)
    assert out == "dirs: 0 wrong results\n"
    mixed = [line for line in lines if re.search(r"si_syscall=[0-9]", line)]
    assert mixed, "no thread ran a site in its intermediate state"


def test_a_subscribed_straddling_call_reaches_its_handler_every_time(prog, tmp_path):
    d, _ = directory(tmp_path, 20)
    argv = [prog("rewrite"), "readdir", d, "300"]
    expected, calls = native_calls(argv, "getdents64")
    sup, seen = Supervisor(), []

    @sup.on("getdents64")
    def count(call):
        seen.append(call.args[0])
        return None  # run it natively

    out = tmp_path / "out"
    with open(out, "w") as f:
        status = sup.run(argv, stdout=f)
    assert (status, out.read_text(), len(seen)) == (0, expected, calls)
