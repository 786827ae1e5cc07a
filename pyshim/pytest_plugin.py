"""pytest plugin (registered through the ``pytest11`` entry point): the
``pyshim_run`` fixture.

    import errno
    from pyshim.faults import fail

    def test_disk_full(pyshim_run):
        r = pyshim_run(["bash", "-c", "echo a; echo b"],
                       [fail("write", errno.ENOSPC, fd=1, nth=2)])
        assert r.stdout == "a\\n" and r.faults_hit == 1

Each call of ``pyshim_run`` runs the program to completion under a fresh
``pyshim.Supervisor`` in the test process; the supervisor gives every run
fresh random segment names (prefixed by ``$PYSHIM_RUN_TAG``), and the
fixture keeps no state between calls, so it is safe under ``pytest -n``.
"""
from __future__ import annotations

import os
import signal
import tempfile
import threading
from dataclasses import dataclass, field

import pytest


@dataclass
class Result:
    """What a supervised run did."""

    status: int  # exit code, -N if killed by signal N (-9 after a timeout)
    stdout: str
    stderr: str
    calls: list[tuple[str, int, int, int | None]] = field(default_factory=list)
    faults_hit: int = 0
    timed_out: bool = False
    chaos: str | None = None  # the chaos schedule's seed and what it held

    def called(self, name: str) -> list[tuple[str, int, int, int | None]]:
        """The recorded calls of one syscall."""
        return [c for c in self.calls if c[0] == name]


class _Killer:
    """After `timeout` seconds, SIGKILLs every live process of the run (again
    every 50 ms, for the ones forked meanwhile) until the run is over."""

    def __init__(self, sup, timeout: float):
        self.sup = sup
        self.timeout = timeout
        self.done = threading.Event()
        self.fired = False
        self.thread = threading.Thread(target=self._main, name="pyshim-timeout", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()

    def _main(self) -> None:
        if self.done.wait(self.timeout):
            return
        self.fired = True
        while not self.done.is_set():
            self._kill_all()
            self.done.wait(0.05)

    def _kill_all(self) -> None:
        table = self.sup.table
        if table is None:
            return
        try:
            procs = [(p.pid, p.pidfd) for p in list(table.processes.values()) if p.alive]
        except RuntimeError:  # the table changed under us: next round
            return
        for pid, pidfd in procs:
            try:
                if pid == table.root:
                    # the supervisor's own child: its pid is ours until we reap it
                    os.kill(pid, signal.SIGKILL)
                elif pidfd is not None:
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except OSError:
                pass  # gone already (or its pidfd was just closed)


def _names(rules, trap) -> list[str]:
    names: list[str] = []
    for rule in rules:
        name = getattr(rule, "name", None)
        if isinstance(name, str) and name not in names:
            names.append(name)
    for name in [trap] if isinstance(trap, str) else trap:
        if name not in names:
            names.append(name)
    return names


def _stdin_file(stdin, stack):
    """stdin as something Supervisor.run takes: None -> /dev/null, bytes or
    str -> a temporary file holding them, else passed as is."""
    if stdin is None:
        f = open(os.devnull, "rb")
    elif isinstance(stdin, (bytes, str)):
        f = tempfile.TemporaryFile()
        f.write(stdin.encode() if isinstance(stdin, str) else stdin)
        f.flush()
        f.seek(0)
    else:
        return stdin
    stack.append(f)
    return f


def _setup(faults, trap, chaos, chaos_rate, chaos_max_delay):
    """A fresh Supervisor with the rules, the call record and chaos installed."""
    from pyshim import Supervisor
    from pyshim import faults as _faults
    from pyshim.chaos import DEFAULT_MAX_DELAY, DEFAULT_RATE, Chaos

    if hasattr(faults, "install"):
        faults = [faults]
    faults = list(faults)
    sup = Supervisor()
    _faults.install(sup, faults)
    calls: list[tuple[str, int, int, int | None]] = []
    names = _names(faults, trap)
    if names:
        @sup.after(*names)
        def record(call, result):
            calls.append((call.name, call.pid, call.tid, result))
    schedule = None
    if chaos is not None:
        schedule = Chaos(chaos, rate=DEFAULT_RATE if chaos_rate is None else chaos_rate,
                         max_delay=DEFAULT_MAX_DELAY if chaos_max_delay is None
                         else chaos_max_delay).install(sup)
    return sup, calls, schedule


def run(argv, faults=(), *, trap=(), env=None, stdin=None, timeout=None, chaos=None,
        chaos_rate=None, chaos_max_delay=None, started=None) -> Result:
    """Runs argv under a fresh Supervisor with `faults` (pyshim.faults rules,
    or any objects with install(sup)) installed and returns a Result.

    trap: more syscall names to record in Result.calls ("all" for every
    syscall; the faulted syscalls are always recorded).  env: the program's
    environment (default: the test's).  stdin: None (/dev/null), bytes or
    str to feed, or a file descriptor / file object.  timeout: seconds
    after which every process of the run is killed (status -9).  chaos: a
    seed: subscribed calls (all, if none) are held for pseudo-random times
    (pyshim.chaos; chaos_rate and chaos_max_delay tune it); Result.chaos
    reports the seed.  started(sup) is called with the Supervisor just
    before the program starts."""
    from pyshim import faults as _faults

    sup, calls, schedule = _setup(faults, trap, chaos, chaos_rate, chaos_max_delay)
    opened: list = []
    killer = None
    try:
        out = tempfile.TemporaryFile()
        opened.append(out)
        err = tempfile.TemporaryFile()
        opened.append(err)
        infile = _stdin_file(stdin, opened)
        if timeout is not None:
            killer = _Killer(sup, timeout)
            killer.start()
        if started is not None:
            started(sup)
        try:
            status = sup.run(list(argv), env=env, stdin=infile, stdout=out, stderr=err)
        except BaseException as exc:
            if schedule is not None and hasattr(exc, "add_note"):
                exc.add_note(f"pyshim: {schedule.summary()}")
            raise
        finally:
            if killer is not None:
                killer.stop()
        timed_out = killer is not None and killer.fired
        if timed_out:
            status = -signal.SIGKILL
        out.seek(0)
        err.seek(0)
        return Result(status=status,
                      stdout=out.read().decode(errors="replace"),
                      stderr=err.read().decode(errors="replace"),
                      calls=calls, faults_hit=_faults.hits(sup), timed_out=timed_out,
                      chaos=schedule.summary() if schedule is not None else None)
    finally:
        for f in opened:
            f.close()


START_TIMEOUT = 60.0  # seconds, for a background run given none


class Running:
    """A run started in the background (pyshim_run.start): drive its gates
    from the test, then wait() for its Result (or stop() it)."""

    def __init__(self, argv, faults, kwargs):
        self._result = None
        self._error = None
        self._sup = None
        self._stopped = False
        self._lock = threading.Lock()
        kwargs.setdefault("timeout", START_TIMEOUT)
        self._thread = threading.Thread(target=self._main, args=(argv, faults, kwargs),
                                        name="pyshim-run", daemon=True)
        self._thread.start()

    def _main(self, argv, faults, kwargs) -> None:
        try:
            self._result = run(argv, faults, started=self._started, **kwargs)
        except BaseException as exc:  # raised again by wait()
            self._error = exc

    def _started(self, sup) -> None:
        with self._lock:
            self._sup = sup
            stopped = self._stopped
        if stopped:
            sup.stop()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Kills the program and its whole tree, and waits for the run to end."""
        with self._lock:
            self._stopped = True
            sup = self._sup
        if sup is not None:
            sup.stop()
        self._thread.join(timeout)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> Result:
        """The run's Result; raises what the run raised, or TimeoutError if
        it is still going after `timeout` seconds (give the run its own
        timeout= too, so that it cannot outlive the test)."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the supervised run is still going after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._result


def start(argv, faults=(), **kwargs) -> Running:
    """run() in a background thread: returns at once with a Running whose
    wait() gives the Result.  For tests that hold calls at a gate
    (pyshim.faults.hold) and open it from the test.  Without timeout=, the
    run is killed after START_TIMEOUT seconds."""
    return Running(argv, faults, kwargs)


class _Fixture:
    """pyshim_run(...) runs at once; pyshim_run.start(...) in the
    background, stopped at the end of the test if it is still going."""

    def __init__(self):
        self.started: list[Running] = []

    def __call__(self, argv, faults=(), **kwargs) -> Result:
        return run(argv, faults, **kwargs)

    def start(self, argv, faults=(), **kwargs) -> Running:
        running = start(argv, faults, **kwargs)
        self.started.append(running)
        return running

    def stop_all(self) -> None:
        for running in self.started:
            if not running.done:
                running.stop()


@pytest.fixture
def pyshim_run():
    """pyshim_run(argv, faults=(), *, trap=(), env=None, stdin=None,
    timeout=None, chaos=None) -> Result(status, stdout, stderr, calls,
    faults_hit, chaos): runs argv supervised by pyshim with the fault rules
    of pyshim.faults installed (fail, delay, hold, returns, fixed_bytes).
    pyshim_run.start(...) runs it in the background and returns a Running
    (wait() -> Result, stop()), to open gates from the test; a run still
    going when the test ends is stopped."""
    fixture = _Fixture()
    yield fixture
    fixture.stop_all()
