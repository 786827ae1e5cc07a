"""What the preloaded shim guarantees inside a program: signals and masks
behave as without pyshim, with calls trapped or not."""
import subprocess
import time

import pytest

from conftest import pyshim_cli

TRAPS = [[], ["--trap", "all"]]
TRAP_IDS = ["unsubscribed", "trap-all"]


def native_and_supervised(argv, trap):
    native = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    supervised = pyshim_cli("run", *trap, "--", *argv)
    return native, supervised


@pytest.mark.parametrize("trap", TRAPS, ids=TRAP_IDS)
@pytest.mark.parametrize("mode,expected", [
    ("restart", "read 1 byte: x\n"),
    ("norestart", "read failed: Interrupted system call\n"),
])
def test_interrupted_read(prog, trap, mode, expected):
    """A handler that runs during a blocking read: SA_RESTART restarts the
    read, without it the read fails with EINTR, as natively."""
    native, supervised = native_and_supervised([prog("signals"), mode], trap)
    assert native.stdout == expected
    assert (supervised.stdout, supervised.returncode) == (expected, 0), supervised.stderr


@pytest.mark.parametrize("trap", TRAPS, ids=TRAP_IDS)
def test_blocking_every_signal_keeps_program_alive(prog, trap):
    """SIGSYS is kept out of the program's mask: blocking it would let the
    kernel kill the program at its next trapped call."""
    native, supervised = native_and_supervised([prog("signals"), "blockall"], trap)
    assert native.stdout == supervised.stdout == "pid still positive\n"
    assert supervised.returncode == 0, supervised.stderr


@pytest.mark.parametrize("trap", TRAPS, ids=TRAP_IDS)
def test_program_sigsys_handler_is_virtual(prog, trap):
    native, supervised = native_and_supervised([prog("signals"), "sigsys"], trap)
    expected = "handler read back: same\ngot signal 31\n"
    assert native.stdout == supervised.stdout == expected, supervised.stderr


@pytest.mark.parametrize("trap", TRAPS, ids=TRAP_IDS)
def test_program_altstack_and_onstack_handler(prog, trap):
    native, supervised = native_and_supervised([prog("signals"), "altstack"], trap)
    expected = "altstack read back: same\ngot signal 10\n"
    assert native.stdout == supervised.stdout == expected, supervised.stderr


def test_python_program_runs_supervised():
    """CPython installs signal handlers and an altstack (faulthandler) at
    start-up: all of that must work under the shim."""
    code = "import faulthandler, signal, os; faulthandler.enable(); print(sum(range(10)))"
    native, supervised = native_and_supervised(["python3", "-c", code], ["--trap", "all"])
    assert native.stdout == supervised.stdout == "45\n", supervised.stderr


@pytest.mark.parametrize("trap", TRAPS, ids=TRAP_IDS)
@pytest.mark.parametrize("mode,expected", [
    ("read", "read: 0\n"),
    ("sarestart", "read: 0 (after a handler)\n"),
    ("usleep", "usleep: 0\n"),
    ("poll", "poll: 0\n"),
])
def test_a_parent_s_death_does_not_interrupt_a_blocked_call(prog, trap, mode, expected):
    """The shim learns that a process's parent died from a SIGSYS of its
    own; the call that signal cuts short goes on, as natively, instead of
    failing with EINTR: a read (also after a handler the kernel restarted
    it for), a sleep and a poll with a timeout, with the time they have
    left."""
    native, supervised = native_and_supervised([prog("orphanwait"), mode], trap)
    assert native.stdout == expected
    assert (supervised.stdout, supervised.returncode) == (expected, 0), supervised.stderr


def test_not_supervised_without_channel(prog):
    """The preload library stays out of the way of a program started without
    a supervisor (e.g. a leaked LD_PRELOAD)."""
    from pyshim.supervisor import preload_path

    out = subprocess.run([prog("hello")], capture_output=True, text=True,
                         env={"LD_PRELOAD": preload_path(), "PATH": "/usr/bin:/bin"})
    assert (out.stdout, out.returncode) == ("hello\n", 0)


def test_malformed_channel_variable_is_a_clear_error(prog):
    from pyshim.supervisor import preload_path

    out = subprocess.run([prog("hello")], capture_output=True, text=True,
                         env={"LD_PRELOAD": preload_path(), "PYSHIM_CHANNEL": "nonsense"})
    assert out.returncode == -9
    assert out.stderr == "pyshim: malformed PYSHIM_CHANNEL in the environment\n"


def test_channel_of_a_gone_supervisor_is_a_clear_error(prog):
    from pyshim.supervisor import preload_path

    out = subprocess.run([prog("hello")], capture_output=True, text=True,
                         env={"LD_PRELOAD": preload_path(),
                              "PYSHIM_CHANNEL": "/pyshim-gone0000-1:0:512"})
    assert out.returncode == -9
    assert "cannot map the channel named in PYSHIM_CHANNEL" in out.stderr


def _in_futex_wait(pid: int) -> bool:
    """Whether `pid` sleeps in futex(2) (its first thread, before main:
    only the shim's wait for its channel does), waiting for it to get there
    or to end; False if it ended first."""
    import os

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/syscall") as f:
                if f.read().split()[0] == "202":  # __NR_futex
                    return True
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return False
        except (OSError, IndexError):
            return False
    return False


def test_a_program_ahead_of_its_supervisor_waits_for_its_channel(prog, monkeypatch, capfd):
    """The supervisor maps and fills in the run's segment while the program
    loads; a shim that gets to its channel first sleeps until the channel
    is set up, then runs as usual."""
    from pyshim import Supervisor, shm, supervisor

    spawned, waited = [], []
    spawn, start = supervisor._spawn, shm.Run.start_program_channel

    def record(*args):
        spawned.append(spawn(*args))
        return spawned[-1]

    def late(run):
        waited.append(_in_futex_wait(spawned[0]))
        return start(run)

    monkeypatch.setattr(supervisor, "_spawn", record)
    monkeypatch.setattr(shm.Run, "start_program_channel", late)
    assert Supervisor(trap="write").run([prog("hello")]) == 0
    assert capfd.readouterr().out == "hello\n"
    assert waited == [True]


def _unset_segment(name: str):
    """A zeroed segment of a run's shape, as a supervisor creates it before
    it fills it in."""
    from pyshim import _core, shm

    return shm.Segment(name, _core.FIRST_SLAB_OFFSET + shm.SLAB_SIZE, keep_fd=True,
                       mapped=False)


def test_a_channel_never_set_up_is_a_clear_error(prog, no_leaks):
    """Nobody holds the segment's liveness lock: no supervisor will fill it
    in, and the shim says so at once instead of waiting."""
    from pyshim import _core
    from pyshim.supervisor import preload_path

    seg = _unset_segment(f"/pyshim-{no_leaks}unset-0")
    try:
        out = subprocess.run([prog("hello")], capture_output=True, text=True, timeout=30,
                             env={"LD_PRELOAD": preload_path(),
                                  "PYSHIM_CHANNEL": f"{seg.name}:{_core.FIRST_SLAB_OFFSET}:512"})
    finally:
        seg.unlink()
    assert out.returncode == -9
    assert out.stderr == ("pyshim: the channel named in PYSHIM_CHANNEL was never set up "
                          "(is its supervisor gone?)\n")


def test_a_supervisor_gone_before_the_set_up_stops_the_waiting_program(prog, no_leaks):
    """The supervisor holds the liveness lock from before the spawn; when it
    goes without filling the channel in, the waiting shim notices (it looks
    every 0.2 s) and stops the program: no hang."""
    from pyshim import _core
    from pyshim.supervisor import preload_path

    seg = _unset_segment(f"/pyshim-{no_leaks}dying-0")
    _core.hold_liveness(seg.fd)
    proc = subprocess.Popen([prog("hello")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True,
                            env={"LD_PRELOAD": preload_path(),
                                 "PYSHIM_CHANNEL": f"{seg.name}:{_core.FIRST_SLAB_OFFSET}:512"})
    try:
        assert _in_futex_wait(proc.pid)
    finally:
        seg.unlink()  # closes the descriptor: the lock goes with it
    out, err = proc.communicate(timeout=30)
    assert (out, proc.returncode) == ("", -9)
    assert err == ("pyshim: the channel named in PYSHIM_CHANNEL was never set up "
                   "(is its supervisor gone?)\n")


@pytest.mark.parametrize("trap", TRAPS, ids=TRAP_IDS)
@pytest.mark.parametrize("how", ["sigsuspend", "ppoll", "pselect", "epoll_pwait"])
def test_temporary_masks_never_block_sigsys(prog, trap, how):
    """A handler that runs while one of these waits with everything but
    SIGALRM blocked makes a syscall: SIGSYS must stay deliverable."""
    native, supervised = native_and_supervised([prog("signals"), how], trap)
    expected = f"handler wrote\n{how}: -1 Interrupted system call\n"
    assert native.stdout == expected
    assert (supervised.stdout, supervised.returncode) == (expected, 0), supervised.stderr


@pytest.mark.parametrize("trap", TRAPS, ids=TRAP_IDS)
def test_mask_restored_by_sigreturn_never_blocks_sigsys(prog, trap):
    native, supervised = native_and_supervised([prog("signals"), "sigreturn"], trap)
    assert native.stdout == supervised.stdout == "alive after sigreturn: 1\n", supervised.stderr
    assert supervised.returncode == 0


@pytest.mark.parametrize("trap", TRAPS, ids=TRAP_IDS)
def test_kill_and_death_by_signal(prog, trap):
    native, supervised = native_and_supervised([prog("signals"), "kill"], trap)
    assert native.stdout == supervised.stdout == "got signal 12\n"
    assert native.returncode == -15 and supervised.returncode == 128 + 15


@pytest.mark.parametrize("trap", TRAPS, ids=TRAP_IDS)
def test_backtrace_through_a_signal_frame(prog, trap):
    """The restorer the program's handlers return through looks like libc's,
    so an unwinder recognizes the signal frame."""
    native, supervised = native_and_supervised([prog("signals"), "backtrace"], trap)
    assert native.stdout == supervised.stdout == "backtrace in a handler: ok\n", supervised.stderr


@pytest.mark.parametrize("trap", TRAPS, ids=TRAP_IDS)
def test_program_that_makes_rdtsc_fault(prog, trap):
    """The shim times its waits with the time-stamp counter; a program that
    makes reading it fault (prctl PR_SET_TSC) runs on as natively."""
    native, supervised = native_and_supervised([prog("notsc")], trap)
    expected = "rdtsc faults: yes\ngetppid: 200 + 200 of 400 ok\n"
    assert native.stdout == expected
    assert (supervised.stdout, supervised.returncode) == (expected, 0), supervised.stderr


@pytest.mark.parametrize("trap", TRAPS, ids=TRAP_IDS)
@pytest.mark.parametrize("mode", [[], ["write"]], ids=["read", "write"])
def test_cancelling_a_blocked_thread(prog, trap, mode):
    """read() and write() are cancellation points: pthread_cancel ends the
    blocked thread, its cleanup handler runs and the stack unwinds through
    the shim's frames, or its rewritten call's stub (what C++ destructors
    need), as natively."""
    argv = [prog("cancel", flags=("-fexceptions",)), *mode]
    native, supervised = native_and_supervised(argv, trap)
    expected = "cancelled: yes, cleanup handler: yes, unwound: yes\n"
    assert native.stdout == expected
    assert (supervised.stdout, supervised.returncode) == (expected, 0), supervised.stderr


SIGSTATE = {
    "pending-kill": ("blocked: pending 1, blocked 1, handled 0\n"
                     "unblocked: pending 0, blocked 0, handled 1\nsi_code SI_USER\n", 0),
    "pending-tgkill": ("blocked: pending 1, blocked 1, handled 0\n"
                       "unblocked: pending 0, blocked 0, handled 1\nsi_code SI_TKILL\n", 0),
    "default": ("blocked: pending 1, blocked 1, handled 0\n", 128 + 31),
    "timedwait": ("took 31 (code other)\ntook 31 from the child: 1\n"
                  "nothing left: -1 Resource temporarily unavailable\n"
                  "end: pending 0, blocked 1, handled 0\n", 0),
    "inherit": ("thread: pending 0, blocked 1, handled 0\n"
                "child: pending 0, blocked 1, handled 0\n"
                "parent: pending 1, blocked 1, handled 0\n"
                "unblocked: pending 0, blocked 0, handled 1\n", 0),
    # Across exec: mask and pending signal kept, handler reset to default.
    "exec": ("after exec: pending 1, blocked 1, handled 0\n", 128 + 31),
    # The program's own parent-death signal, beside the shim's tie to the
    # supervisor: read back, cleared by fork, kept by exec, sent.
    "pdeathsig": ("set: 10\nsignal 99: Invalid argument\nfork child: 0\nafter exec: 10\n"
                  "orphan got SIGUSR1\norphan done\n", 0),
    # One mask that blocks SIGSYS and unblocks a pending SIGUSR1: its
    # handler (which makes a syscall) runs at once.
    "unblock-pending": ("pending, handler ran: 0\nafter the new mask, handler ran: 1\n"
                        "SIGSYS blocked: 1, SIGUSR1 blocked: 0\n", 0),
    # rt_sigprocmask's errors: an unwritable old set fails after the change.
    "maskerrors": ("bad set: -1 Bad address\nmask after: 0\n"
                   "bad old set: -1 Bad address\nmask after: 0x200\n"
                   "how 7: -1 Invalid argument\nset both, old 0x200\n"
                   "unblock usr1, old 0x40000200\nunblock sys, old 0x40000000\nat end: 0\n", 0),
}


@pytest.mark.parametrize("trap", TRAPS, ids=TRAP_IDS)
@pytest.mark.parametrize("mode", SIGSTATE)
def test_program_blocks_its_own_sigsys(prog, trap, mode):
    """SIGSYS the program sends itself while blocking it stays pending (per
    thread or per process), shows in sigpending and the mask, is taken by
    sigtimedwait, and is delivered (handler or default action) once
    unblocked; threads and fork children inherit the mask, not the pending
    signal; as natively, where the shim cannot really block SIGSYS."""
    native = subprocess.run([prog("sigstate"), mode], capture_output=True, text=True,
                            timeout=30)
    expected, status = SIGSTATE[mode]
    native_status = 128 - native.returncode if native.returncode < 0 else native.returncode
    assert (native.stdout, native_status) == (expected, status)
    supervised = pyshim_cli("run", *trap, "--", prog("sigstate"), mode)
    assert (supervised.stdout, supervised.returncode) == (expected, status), supervised.stderr


@pytest.mark.parametrize("trap", TRAPS, ids=TRAP_IDS)
def test_sigaltstack_flags_and_errors_as_the_kernel(prog, trap):
    """SS_ONSTACK inside an SA_ONSTACK handler, EPERM for a change there,
    EINVAL for unknown modes, ENOMEM for a small stack, SS_DISABLE."""
    expected = ("at start: sp null, size 0, flags DISABLE\n"
                "flags 3: Invalid argument\nSS_ONSTACK: accepted\n"
                "small: Cannot allocate memory\n"
                "installed: sp mine, size 65536, flags\n"
                "in handler: sp mine, size 65536, flags ONSTACK\n"
                "change in handler: Operation not permitted\n"
                "disabled: sp null, size 0, flags DISABLE\n")
    native, supervised = native_and_supervised([prog("sigstate"), "altstack"], trap)
    assert native.stdout == expected
    assert (supervised.stdout, supervised.returncode) == (expected, 0), supervised.stderr
