"""Fault rules a test writes in one line, installed on a Supervisor.

    from pyshim.faults import fail, delay, hold, returns, fixed_bytes

    rules = [
        fail("write", errno.ENOSPC, fd=1, nth=3),      # the 3rd write to stdout
        fail("openat", errno.EACCES, path_under="/srv/data"),
        delay("connect", 0.1),                          # 100 ms, then native
        returns("getppid", 1),                          # without running it
        fixed_bytes("getrandom", b"\\x00"),             # deterministic "random"
    ]
    for rule in rules:
        rule.install(sup)

    gate = hold("connect")          # matching calls wait until the test says
    gate.wait_held(1, timeout=5)    # (from another thread, or gate.opened_by)
    gate.release()                  # let them run natively; or gate.fail(errno)

Every rule takes the same optional filters: ``fd=N`` (the call's first
argument, as an int, is N), ``path_under=DIR`` (the call's path argument
resolves under DIR; only for syscalls that take a path) and ``nth=K`` (only
the K-th call, 1-based, among those that pass the other filters).

Rules for the same syscall compose: the first rule installed on a
Supervisor for a syscall puts one handler there, and every later rule for
that syscall joins its list.  The handler asks the rules in order; the
first one that matches answers, and a call no rule matches runs natively
(or goes to the handler that was registered for it before the first rule).

A rule object holds no state of its own, so one rule may be installed on
many supervisors; what changes during a run (how many calls each rule saw,
how many calls the rules answered) lives in the handler installed on the
Supervisor.  Install rules on a fresh Supervisor for each run.  The
exception is a gate (``hold``): it is the test's handle on the calls it
holds, so it belongs to one run at a time.

``delay`` and ``hold`` hold the matching call (``Call.defer``): only the
calling thread waits, as in a blocking syscall, and signals reach it.
"""
from __future__ import annotations

import errno as _errno
import os
import threading
from collections import deque
from time import monotonic
from typing import NamedTuple

from pyshim._core import Deferred
from pyshim.paths import AT_FDCWD, PATH_ARGS, call_path  # noqa: F401 (part of this API)
from pyshim.replies import NATIVE, Fail
from pyshim.syscalls import NUMBERS

__all__ = ["Rule", "Gate", "fail", "delay", "hold", "returns", "fixed_bytes", "install",
           "hits", "PATH_ARGS", "When", "inject"]

# Where fixed_bytes writes: name -> (index of the buffer, index of its length).
BUFFER_ARGS: dict[str, tuple[int, int]] = {
    "getrandom": (0, 1),
    "read": (1, 2),
    "pread64": (1, 2),
}


def _syscall(name: str) -> str:
    if name not in NUMBERS:
        raise ValueError(f"unknown syscall {name!r}")
    return name


class Rule:
    """A fault on one syscall: which calls it matches and how it answers.

    Subclasses implement ``answer(call)``, returning what a handler returns
    (None/NATIVE, an int, or Fail).  ``install(sup)`` adds the rule to the
    supervisor's handler for its syscall."""

    def __init__(self, name: str, *, nth: int | None = None, fd: int | None = None,
                 path_under: str | os.PathLike | None = None):
        self.name = _syscall(name)
        if nth is not None and (isinstance(nth, bool) or not isinstance(nth, int) or nth < 1):
            raise ValueError(f"nth counts calls from 1, not {nth!r}")
        if fd is not None and (isinstance(fd, bool) or not isinstance(fd, int)):
            raise ValueError(f"fd is an int, not {fd!r}")
        self.nth = nth
        self.fd = fd
        self.path_under = None
        if path_under is not None:
            if name not in PATH_ARGS:
                raise ValueError(f"{name} takes no path: path_under cannot apply to it")
            self.path_under = os.path.realpath(os.fspath(path_under))

    # -- matching ------------------------------------------------------------

    def filters_match(self, call) -> bool:
        """The fd and path_under filters (nth is counted by the handler)."""
        if self.fd is not None and call.int_arg(0) != self.fd:
            return False
        if self.path_under is not None:
            path = call_path(call)
            if path is None:
                return False
            try:
                if os.path.commonpath([path, self.path_under]) != self.path_under:
                    return False
            except ValueError:
                return False
        return True

    def answer(self, call):
        raise NotImplementedError

    def respond(self, call, sup, since=None):
        """What the handler answers for a call this rule matched: by default
        answer(call); rules that hold the call use `sup`'s timers.  `since`
        is set when the call was held before, interrupted by a signal
        handler and asked again (call.restarted): when that hold began."""
        return self.answer(call)

    # -- installing ----------------------------------------------------------

    def install(self, sup) -> None:
        """Adds this rule to the supervisor's handler for its syscall."""
        _chain(sup, self.name).rules.append(self)

    def _filters_repr(self) -> str:
        parts = [f"{k}={v!r}" for k, v in
                 (("nth", self.nth), ("fd", self.fd), ("path_under", self.path_under))
                 if v is not None]
        return "".join(", " + p for p in parts)


class _Fail(Rule):
    def __init__(self, name, code, **filters):
        super().__init__(name, **filters)
        self.fail = Fail(code)

    def answer(self, call):
        return self.fail

    def __repr__(self):
        return f"fail({self.name!r}, errno.{_errno.errorcode.get(self.fail.errno, self.fail.errno)}" \
               f"{self._filters_repr()})"


class _Delay(Rule):
    def __init__(self, name, seconds, **filters):
        super().__init__(name, **filters)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError(f"a delay is a number of seconds >= 0, not {seconds!r}")
        self.seconds = seconds

    def answer(self, call):
        raise TypeError("delay() holds its call: it answers through respond(call, sup)")

    def respond(self, call, sup, since=None):
        d = call.defer()
        # A restarted call waits out the rest of its delay, not a new one.
        start = d.since if since is None else since
        sup.call_later(max(0.0, start + self.seconds - monotonic()), d.native)
        return d

    def __repr__(self):
        return f"delay({self.name!r}, {self.seconds!r}{self._filters_repr()})"


class Gate(Rule):
    """hold(name, filters): matching calls wait until the test lets them go.

    Every method is safe from any thread (the test's, a handler's, a timer's).
    Calls let through run natively (release) or fail (fail); a call that a
    signal handler interrupted while it waited no longer counts as held."""

    def __init__(self, name, **filters):
        super().__init__(name, **filters)
        self._cond = threading.Condition()
        self._waiting: deque = deque()   # Deferreds, oldest first
        self._credits: deque = deque()   # answers for the next calls to come
        self._open = None                # the answer for every call, once opened
        self.passed = 0                  # calls let through so far

    def respond(self, call, sup, since=None):
        with self._cond:
            if self._open is not None or self._credits:
                self.passed += 1
                return self._open if self._open is not None else self._credits.popleft()
            d = call.defer()
            self._waiting.append(d)
            d.add_done_callback(self._changed)
            self._cond.notify_all()
            return d

    def answer(self, call):
        raise TypeError("a gate holds its call: it answers through respond(call, sup)")

    def _changed(self, d) -> None:
        with self._cond:
            self._cond.notify_all()

    def _held(self) -> list:
        return [d for d in self._waiting if d.state in ("pending", "held")]

    @property
    def calls(self) -> list:
        """The calls waiting at the gate now (Deferred: pid, tid, call, since)."""
        with self._cond:
            return self._held()

    @property
    def held(self) -> int:
        """How many calls wait at the gate now."""
        return len(self.calls)

    def wait_held(self, n: int, timeout: float | None = None) -> bool:
        """Waits until `n` calls wait at the gate; False after `timeout` s."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._held()) >= n, timeout)

    def _let_through(self, answer, n: int | None) -> int:
        """Answers the n oldest waiting calls (every one, and every later
        one, if n is None); the calls missing from n are let through when
        they come.  Returns how many waiting calls it answered."""
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ValueError(f"n counts calls from 1, not {n!r}")
        answered = 0
        with self._cond:
            if n is None:
                self._open = answer
                self._credits.clear()
            while self._waiting and (n is None or answered < n):
                if self._waiting.popleft().answer(answer):
                    answered += 1
            if n is not None:
                self._credits.extend([answer] * (n - answered))
            self.passed += answered
            self._cond.notify_all()
        return answered

    def release(self, n: int | None = None) -> int:
        """Lets the n oldest held calls run natively (n=None: every held call
        and every later one: the gate stays open).  Returns how many of the
        calls waiting now it let go; if fewer than n wait, the next ones to
        come pass too."""
        return self._let_through(NATIVE, n)

    def fail(self, errno: int, n: int | None = None) -> int:
        """Like release, but the calls fail with `errno`."""
        return self._let_through(Fail(errno), n)

    def opened_by(self, name: str, **filters) -> Rule:
        """A rule that opens this gate (release()) once a matching call of
        `name` has returned: "A's connect waits until B has written"."""
        return _Opener(self, name, **filters)

    def __repr__(self):
        return f"hold({self.name!r}{self._filters_repr()})"


class _Opener(Rule):
    def __init__(self, gate, name, **filters):
        super().__init__(name, **filters)
        self.gate = gate
        self.seen = 0

    def install(self, sup) -> None:
        sup.after(self.name)(self._after)

    def _after(self, call, result):
        if self.filters_match(call):
            self.seen += 1
            if self.nth is None or self.seen == self.nth:
                self.gate.release()
        return None

    def __repr__(self):
        return f"{self.gate!r}.opened_by({self.name!r}{self._filters_repr()})"


class _Returns(Rule):
    def __init__(self, name, value, **filters):
        super().__init__(name, **filters)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"returns() takes an int, not {value!r}")
        self.value = value

    def answer(self, call):
        return self.value

    def __repr__(self):
        return f"returns({self.name!r}, {self.value!r}{self._filters_repr()})"


class _FixedBytes(Rule):
    def __init__(self, name, data, **filters):
        super().__init__(name, **filters)
        if name not in BUFFER_ARGS:
            raise ValueError(f"fixed_bytes applies to {', '.join(BUFFER_ARGS)}, not {name}")
        data = bytes(data)
        if not data:
            raise ValueError("fixed_bytes needs at least one byte")
        self.data = data

    def answer(self, call):
        buf_i, len_i = BUFFER_ARGS[self.name]
        n = call.args[len_i]
        if n == 0:
            return 0
        reps, rest = divmod(n, len(self.data))
        try:
            call.write(call.args[buf_i], self.data * reps + self.data[:rest])
        except OSError:
            return Fail(_errno.EFAULT)
        return n

    def __repr__(self):
        return f"fixed_bytes({self.name!r}, {self.data!r}{self._filters_repr()})"


def fail(name: str, errno: int, *, nth: int | None = None, fd: int | None = None,
         path_under: str | os.PathLike | None = None) -> Rule:
    """Fails matching calls of `name` with `errno` (the program sees -1 and
    errno set, as from the kernel)."""
    return _Fail(name, errno, nth=nth, fd=fd, path_under=path_under)


def delay(name: str, seconds: float, **filters) -> Rule:
    """Holds matching calls for `seconds`, then runs them natively.  Only the
    calling thread waits (signals reach it as in a blocking call); every
    other thread runs on."""
    return _Delay(name, seconds, **filters)


def hold(name: str, **filters) -> Gate:
    """Holds matching calls until the test opens the returned gate:
    gate.wait_held(n, timeout), gate.release(), gate.release(1),
    gate.fail(errno), gate.opened_by(name, filters)."""
    return Gate(name, **filters)


def returns(name: str, value: int, **filters) -> Rule:
    """Makes matching calls return `value` without running."""
    return _Returns(name, value, **filters)


def fixed_bytes(name: str, data: bytes, **filters) -> Rule:
    """getrandom (or read, pread64): fills the call's buffer with `data`,
    repeated or truncated to the requested length, and returns that length
    without running the call."""
    return _FixedBytes(name, data, **filters)


def install(sup, rules) -> None:
    """Installs every rule of `rules` (or a single rule) on `sup`, in order."""
    if hasattr(rules, "install"):
        rules = [rules]
    for rule in rules:
        rule.install(sup)


def hits(sup) -> int:
    """How many calls rules installed on `sup` have answered."""
    return sum(chain.hits for chain in _chains(sup).values())



# -- strace's -e inject -------------------------------------------------------

class When(NamedTuple):
    """strace's ``when=EXPR`` of ``-e inject``: which invocations of a
    syscall, counted from 1 in each thread, a rule acts on.

    ``When.parse(text)`` reads strace's syntax, ``first[..last][+[step]]``:
    ``3`` (the 3rd only), ``3+`` (the 3rd and every later one), ``3+2``
    (3rd, 5th, 7th...), ``2..4`` (2nd to 4th), ``2..8+3`` (2nd, 5th, 8th).
    first and step are 1 to 65535, last is first to 65534, as in strace."""

    first: int = 1
    last: int | None = None  # None: no end
    step: int = 1            # 0: `first` only

    @classmethod
    def parse(cls, text: str) -> "When":
        def number(s: str, low: int, high: int) -> int:
            if not s.isdigit() or not low <= int(s) <= high:
                raise ValueError(f"invalid when={text!r}: first[..last][+[step]], "
                                 "numbers from 1 to 65535")
            return int(s)

        head, plus, step_text = text.partition("+")
        first_text, dots, last_text = head.partition("..")
        first = number(first_text, 1, 0xFFFF)
        last = number(last_text, first, 0xFFFE) if dots else None
        if plus:
            step = number(step_text, 1, 0xFFFF) if step_text else 1
        else:
            step = 1 if dots else 0
        return cls(first, last, step)

    def selects(self, n: int) -> bool:
        """Whether the n-th invocation (from 1) is acted on."""
        first, last, step = self
        if n < first or (last is not None and n > last):
            return False
        return n == first if step == 0 else (n - first) % step == 0

    def __repr__(self):
        first, last, step = self
        text = str(first) + (f"..{last}" if last is not None else "")
        if step and (last is None or step != 1):
            text += "+" if step == 1 else f"+{step}"
        return f"When.parse({text!r})"


class _Inject(Rule):
    """inject(): strace's -e inject=NAME:error=|retval=:delay_enter=:delay_exit=:when=."""

    def __init__(self, name, *, error=None, retval=None, delay_enter=0.0, delay_exit=0.0,
                 when=None, **filters):
        super().__init__(name, **filters)
        if error is not None and retval is not None:
            raise ValueError("inject takes error or retval, not both")
        for what, seconds in (("delay_enter", delay_enter), ("delay_exit", delay_exit)):
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                raise ValueError(f"{what} is a number of seconds >= 0, not {seconds!r}")
        if error is None and retval is None and not delay_enter and not delay_exit:
            raise ValueError("inject needs error, retval, delay_enter or delay_exit")
        if isinstance(when, str):
            when = When.parse(when)
        self.when = When() if when is None else When(*when)
        self.reply = Fail(error) if error is not None else None
        if retval is not None:
            if isinstance(retval, bool) or not isinstance(retval, int):
                raise ValueError(f"retval is an int, not {retval!r}")
            self.reply = retval
        self.delay_enter = delay_enter
        self.delay_exit = delay_exit

    def install(self, sup) -> None:
        """Adds a counter of this rule (invocations per thread, for `when`)
        to the supervisor's handler of its syscall; for delay_exit on a
        call that runs natively, an after-hook that waits."""
        _chain(sup, self.name).rules.append(_Counted(self))
        if self.reply is None and self.delay_exit:
            sup.after(self.name)(self._exit_delay)

    def answer(self, call):
        raise TypeError("inject() answers through respond(call, sup)")

    def respond(self, call, sup, since=None):
        if self.reply is not None:
            call.injected = True
        # A call that does not run has no exit of its own: both delays come first.
        hold = self.delay_enter + (self.delay_exit if self.reply is not None else 0.0)
        if not hold:
            if self.delay_exit:
                call.delayed = True
            return self.reply
        call.delayed = True
        d = call.defer()
        start = d.since if since is None else since
        reply = NATIVE if self.reply is None else self.reply
        sup.call_later(max(0.0, start + hold - monotonic()), lambda: d.answer(reply))
        return d

    def _exit_delay(self, call, result):
        # The supervisor waits here, after the native call: other threads'
        # trapped calls wait with it (an after-hook cannot hold one thread).
        if call.__dict__.get("delayed") and result is not None:
            import time
            time.sleep(self.delay_exit)
        return None

    def __repr__(self):
        parts = [repr(self.name)]
        if isinstance(self.reply, Fail):
            parts.append(f"error=errno.{_errno.errorcode.get(self.reply.errno, self.reply.errno)}")
        elif self.reply is not None:
            parts.append(f"retval={self.reply!r}")
        parts += [f"{k}={v!r}" for k, v in (("delay_enter", self.delay_enter),
                                            ("delay_exit", self.delay_exit)) if v]
        if self.when != When():
            parts.append(f"when={self.when!r}")
        return f"inject({', '.join(parts)}{self._filters_repr()})"


class _Counted:
    """An inject rule as installed on one supervisor: it counts each
    thread's invocations that pass the rule's filters, and matches those
    its `when` selects (strace counts per traced thread, the same way)."""

    nth = None

    def __init__(self, rule: _Inject):
        self.rule = rule
        self.counts: dict[int, int] = {}  # tid -> invocations seen

    def filters_match(self, call) -> bool:
        if not self.rule.filters_match(call):
            return False
        n = self.counts[call.tid] = self.counts.get(call.tid, 0) + 1
        return self.rule.when.selects(n)

    def respond(self, call, sup, since=None):
        return self.rule.respond(call, sup, since)

    def __repr__(self):
        return repr(self.rule)


def inject(name: str, *, error: int | None = None, retval: int | None = None,
           delay_enter: float = 0.0, delay_exit: float = 0.0,
           when: "When | str | None" = None, **filters) -> Rule:
    """strace's ``-e inject``: matching calls fail with `error` or return
    `retval` without running (or run natively if neither is given), held
    `delay_enter` seconds before and `delay_exit` seconds after; only the
    invocations `when` selects (a When, or strace's text such as "3+"),
    counted per thread.  A call it acted on carries ``call.injected`` (its
    result was injected) and ``call.delayed`` (it was held), which
    ``pyshim trace`` prints as strace does: ``(INJECTED)``, ``(DELAYED)``.
    A call that does not run waits out both delays before its answer; one
    that runs natively waits out delay_exit in an after-hook, during which
    the supervisor answers no other call."""
    return _Inject(name, error=error, retval=retval, delay_enter=delay_enter,
                   delay_exit=delay_exit, when=when, **filters)

# -- the handler per syscall ---------------------------------------------------

_ATTR = "_pyshim_fault_chains"


class _Chain:
    """The one handler for a syscall: asks its rules in order."""

    def __init__(self, sup, fallback):
        self.sup = sup
        self.rules: list[Rule] = []
        self.seen: dict[int, int] = {}  # id(rule) -> calls that passed its filters
        self.hits = 0
        self.fallback = fallback
        self.holding: dict[tuple[int, int], tuple[Rule, float]] = {}  # (pid, tid) -> hold

    def __call__(self, call):
        key = (call.pid, call.tid)
        held = self.holding.pop(key, None)
        if call.restarted and held is not None:
            # The same call again, after a signal handler interrupted its
            # hold: the rule that held it goes on (not counted twice).
            rule, since = held
            return self._remember(key, rule, rule.respond(call, self.sup, since))
        for rule in self.rules:
            if not rule.filters_match(call):
                continue
            if rule.nth is not None:
                count = self.seen[id(rule)] = self.seen.get(id(rule), 0) + 1
                if count != rule.nth:
                    continue
            self.hits += 1
            return self._remember(key, rule, rule.respond(call, self.sup))
        if self.fallback is not None:
            return self.fallback(call)
        return NATIVE

    def _remember(self, key, rule, rep):
        if isinstance(rep, Deferred):
            self.holding[key] = (rule, rep.since)
        return rep


def _chains(sup) -> dict[str, _Chain]:
    chains = getattr(sup, _ATTR, None)
    if chains is None:
        chains = {}
        setattr(sup, _ATTR, chains)
    return chains


def _chain(sup, name: str) -> _Chain:
    chains = _chains(sup)
    chain = chains.get(name)
    if chain is None:
        # A handler registered before the first rule keeps the calls no rule matches.
        previous = getattr(sup, "_before", {}).get(NUMBERS[name])
        chain = chains[name] = _Chain(sup, previous)
        sup.on(name)(chain)
    return chain
