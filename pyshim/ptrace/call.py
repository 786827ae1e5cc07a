"""Call and Deferred for the ptrace path: what a handler sees of a syscall
stopped at its seccomp stop, with the same attributes, methods and answers
as pyshim._core's (core/call.pxi, core/deferred.pxi).

The difference a handler can notice: a held call's thread is stopped by
ptrace, not waiting in a syscall, so a signal other than SIGKILL waits
until the call is answered (it never interrupts the hold, and a Deferred
here is never `interrupted`).
"""
from __future__ import annotations

import os
from time import monotonic

from pyshim import syscalls as _syscalls
from pyshim.ptrace import _ptrace
from pyshim.replies import NATIVE, Fail

_NR_EXIT = _syscalls.NUMBERS["exit"]
_NR_EXIT_GROUP = _syscalls.NUMBERS["exit_group"]


class Call:
    """One syscall stopped at its seccomp stop, as a handler sees it."""

    __slots__ = ("nr", "pid", "tid", "ip", "seq", "restarted", "result", "args",
                 "_loop", "_deferred", "__dict__")

    def __init__(self, nr: int, pid: int, tid: int, args: tuple, ip: int, seq: int):
        self.nr = nr
        self.pid = pid
        self.tid = tid
        self.args = args          # the six argument registers, unsigned 64-bit
        self.ip = ip
        self.seq = seq            # the thread's n-th stopped call
        self.restarted = False    # a hold here is never interrupted
        self.result = None
        self._loop = None         # set while a before-handler may defer it
        self._deferred = None

    @property
    def name(self) -> str:
        return _syscalls.name(self.nr)

    def int_arg(self, i: int) -> int:
        """Argument i as the kernel reads an `int` (fds, dirfds, flags)."""
        if not 0 <= i < 6:
            raise IndexError("syscalls have six arguments")
        v = self.args[i] & 0xFFFFFFFF
        return v - (1 << 32) if v >= 1 << 31 else v

    def long_arg(self, i: int) -> int:
        """Argument i as a signed 64-bit `long` (offsets, signed sizes)."""
        if not 0 <= i < 6:
            raise IndexError("syscalls have six arguments")
        v = self.args[i]
        return v - (1 << 64) if v >= 1 << 63 else v

    def read(self, addr: int, n: int) -> bytes:
        """n bytes of the program's memory at addr (OSError if unreadable)."""
        if n == 0:
            return b""
        return _ptrace.vm_read(self.pid, addr, n)

    def cstring(self, addr: int, maxlen: int = 4096) -> bytes:
        """The NUL-terminated bytes at addr, without the NUL, at most maxlen."""
        out = bytearray()
        while len(out) < maxlen:
            chunk = min(4096 - (addr % 4096), maxlen - len(out))
            part = self.read(addr, chunk)
            nul = part.find(b"\0")
            if nul >= 0:
                out += part[:nul]
                return bytes(out)
            out += part
            if len(part) < chunk:
                break
            addr += chunk
        return bytes(out)

    def string(self, addr: int, maxlen: int = 4096) -> str:
        """The C string at addr as str (file-system decoding)."""
        return os.fsdecode(self.cstring(addr, maxlen))

    def write(self, addr: int, data) -> None:
        """Writes bytes into the program's memory at addr."""
        data = bytes(data)
        if not data:
            return
        put = _ptrace.vm_write(self.pid, addr, data)
        if put != len(data):
            code = -put if put < 0 else 14  # EFAULT: only part of it was writable
            raise OSError(code, os.strerror(code), f"pid {self.pid} address {addr:#x}")

    def defer(self) -> "Deferred":
        """Holds this call: the handler returns the Deferred, the thread stays
        stopped and every other thread runs on, until d.native(),
        d.complete(value) or d.fail(errno)."""
        if self._deferred is not None:
            return self._deferred
        if self.nr == _NR_EXIT or self.nr == _NR_EXIT_GROUP:
            raise ValueError(f"{self.name} cannot be deferred: it is one-way "
                             "(the thread is gone once it runs)")
        if self._loop is None:
            raise RuntimeError("defer() is for a before-handler (sup.on), while it runs")
        self._deferred = Deferred(self, self._loop)
        return self._deferred

    def __repr__(self) -> str:
        return f"<Call {self.name} pid={self.pid} tid={self.tid} args={self.args}>"


def checked_reply(rep):
    """rep if a call may be answered with it: None, NATIVE, Fail(errno) or a
    64-bit int; TypeError or ValueError otherwise (as _core's)."""
    if rep is None or rep is NATIVE or isinstance(rep, Fail):
        return rep
    if isinstance(rep, bool) or not isinstance(rep, int):
        raise TypeError(f"a call is answered with None, pyshim.NATIVE, an int or "
                        f"pyshim.Fail(errno), not {rep!r}")
    if not -2**63 <= rep < 2**63:
        raise ValueError(f"a syscall returns a 64-bit value, not {rep}")
    return rep


PENDING, HELD, ANSWERING, ANSWERED, INTERRUPTED, GONE = range(6)
_STATES = ("pending", "held", "answering", "answered", "interrupted", "gone")
_UNANSWERED = object()


class Deferred:
    """A held call (``call.defer()``).  Its thread stays stopped until one
    of native(), complete(value), fail(errno) or answer(reply) is called,
    from any Python thread.  Each returns True if the answer will reach the
    call, False if the call is no longer held (its thread or the run
    ended), and raises if the call was answered already."""

    __slots__ = ("call", "since", "_loop", "_state", "_early", "_task", "_callbacks")

    def __init__(self, call: Call, loop):
        self.call = call
        self.since = monotonic()
        self._loop = loop
        self._state = PENDING
        self._early = _UNANSWERED   # an answer given before the handler returned
        self._task = None           # an async handler's future, cancelled if gone
        self._callbacks = None

    @property
    def pid(self) -> int:
        return self.call.pid

    @property
    def tid(self) -> int:
        return self.call.tid

    @property
    def state(self) -> str:
        """pending (its handler runs), held, answering (answered, the answer
        on its way), answered, interrupted or gone."""
        return _STATES[self._state]

    @property
    def interrupted(self) -> bool:
        return self._state == INTERRUPTED

    def native(self) -> bool:
        """Runs the call natively in its thread."""
        return self.answer(NATIVE)

    def complete(self, value) -> bool:
        """Makes the call return `value` without running."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"complete() takes an int, not {value!r}")
        return self.answer(value)

    def fail(self, code: int) -> bool:
        """Makes the call fail with errno `code`."""
        return self.answer(Fail(code))

    def answer(self, rep) -> bool:
        """Answers with what a handler would return (None, NATIVE, an int, Fail)."""
        checked_reply(rep)
        with self._loop.lock:
            if (self._state in (ANSWERING, ANSWERED)) or self._early is not _UNANSWERED:
                raise RuntimeError(f"{self.call.name} of tid {self.call.tid} "
                                   "was answered already")
            if self._state in (INTERRUPTED, GONE):
                return False
            if self._state == PENDING:
                self._early = rep  # the handler's return delivers it
                return True
            self._state = ANSWERING
        self._loop.post((self, rep, None))
        return True

    def answer_with(self, handler) -> None:
        """Asks handler(call) now, as if the call had just reached it, and
        answers with what it returns: a reply, a coroutine (awaited on the
        run's event loop) or this Deferred (the handler answers it)."""
        self._loop.answer_with(self, handler)

    def add_done_callback(self, fn) -> None:
        """fn(deferred) runs once the call is answered or gone, in the
        thread that ended it (at once if it has ended)."""
        with self._loop.lock:
            if self._state < ANSWERED:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(fn)
                return
        fn(self)

    def _end(self, state: int) -> None:
        """The call is answered or gone (by the loop only)."""
        with self._loop.lock:
            if self._state >= ANSWERED:
                return
            self._state = state
            callbacks, self._callbacks = self._callbacks, None
            task, self._task = self._task, None
        if task is not None and state != ANSWERED:
            task.cancel()
        for fn in callbacks or ():
            try:
                fn(self)
            except BaseException as exc:
                self._loop.callback_raised(fn, exc)

    def __repr__(self) -> str:
        return f"<Deferred {self.call.name} pid={self.call.pid} tid={self.call.tid} {self.state}>"
