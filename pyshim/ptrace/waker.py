"""The waker: how the thread that serves a ptrace run, blocked in its wait
for tracees, is woken for a timer or for work another thread hands it.

ptrace stops can only be waited for with wait(2), which no file
descriptor, futex or timeout can join, and which only a signal could
interrupt (that would mean owning a signal in the supervisor's process).
So the waker is a small child process of the serving thread (forked by
_ptrace.start_waker, it runs no Python): told "now" or "at time T" through
a pipe, it stops itself with SIGSTOP then, and that stop ends the serving
thread's wait like a tracee's would.  It ignores every signal a terminal
or a program can send, dies with the thread that forked it
(PR_SET_PDEATHSIG) and exits at the end of the run."""
from __future__ import annotations

import os
import signal
import struct
from _thread import allocate_lock

from pyshim.ptrace import _ptrace

_NOW = struct.pack("<q", 0)
_WALL = 0x40000000
_NONE = -1  # no deadline


class Waker:
    def __init__(self):
        self.pid, self._fd = _ptrace.start_waker()
        self._lock = allocate_lock()  # the pipe's end is closed under it
        self._sent = _NONE            # the deadline the waker has, as far as we know

    def wake(self) -> None:
        """Wakes the serving thread (from any thread)."""
        with self._lock:
            if self._fd < 0:
                return
            try:
                os.write(self._fd, _NOW)
            except BlockingIOError:
                pass  # the pipe is full of wake-ups already

    def arm(self, deadline_ns: int) -> None:
        """The serving thread is woken at `deadline_ns` (CLOCK_MONOTONIC;
        _NONE: never), unless it told the waker so already."""
        if deadline_ns == self._sent:
            return
        with self._lock:
            if self._fd < 0:
                return
            try:
                os.write(self._fd, struct.pack("<q", deadline_ns if deadline_ns > 0 else _NONE))
                self._sent = deadline_ns
            except BlockingIOError:
                pass  # full of wake-ups: the wait ends soon, and this is sent again

    def stopped(self) -> None:
        """The waker stopped (the wait it ended is over): it goes on, with no
        deadline (it drops its deadline when it stops)."""
        self._sent = _NONE
        try:
            os.kill(self.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass

    def exited(self) -> None:
        """The serving thread's wait reaped the waker (it was killed): the
        run goes on without timers or wake-ups from other threads."""
        self.pid = 0

    def close(self) -> None:
        """Ends the waker and reaps it."""
        with self._lock:
            fd, self._fd = self._fd, -1
        if fd < 0:
            return
        os.close(fd)
        if not self.pid:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while True:
            try:
                os.waitpid(self.pid, _WALL)
                return
            except ChildProcessError:
                return
            except InterruptedError:
                continue
