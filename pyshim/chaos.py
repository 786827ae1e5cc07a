"""Chaos schedules for stress tests: subscribed calls (every call, when
nothing else is subscribed) are held for pseudo-random times drawn from a
seed, so that races which native runs hide come out.

    sup = Supervisor()
    chaos = Chaos(seed=7).install(sup)     # after the handlers and rules
    sup.run(argv)
    print(chaos.summary())

What it guarantees: the n-th call of the k-th thread to start (in the order
the supervisor saw them start) draws the same delay for the same seed, rate
and maximum; a held call stops only its own thread (signals reach it as in
a blocking call); handlers registered before ``install`` still answer every
call, after its delay.

What it does not: the kernel's scheduling is not replayed, so a rerun with
the same seed makes the same draws but not necessarily the same
interleaving; calls nobody subscribed run natively, undelayed; exit and
exit_group are never held (they are one-way); a race shows only as often as
the drawn delays make it likely.
"""
from __future__ import annotations

import random
import secrets

from pyshim import syscalls

DEFAULT_RATE = 0.1          # share of calls held
DEFAULT_MAX_DELAY = 0.005   # seconds
_ONE_WAY = frozenset((syscalls.NUMBERS["exit"], syscalls.NUMBERS["exit_group"]))


def new_seed() -> int:
    return secrets.randbelow(2**31)


class Chaos:
    """Installs the chaos schedule of `seed` on a Supervisor: each call is
    held with probability `rate`, for a time drawn uniformly up to
    `max_delay` seconds."""

    def __init__(self, seed: int, *, rate: float = DEFAULT_RATE,
                 max_delay: float = DEFAULT_MAX_DELAY):
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"a chaos seed is an int >= 0, not {seed!r}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"the chaos rate is a share of calls, 0 to 1, not {rate!r}")
        if not max_delay >= 0.0:
            raise ValueError(f"the chaos maximum delay is >= 0 s, not {max_delay!r}")
        self.seed = seed
        self.rate = rate
        self.max_delay = max_delay
        self.calls = 0      # calls that drew
        self.held = 0       # calls held
        self.longest = 0.0  # longest delay drawn, seconds
        self._streams: dict[int, random.Random] = {}

    def delay(self, ordinal: int) -> float:
        """The next delay of the thread that started `ordinal`-th (0 = none)."""
        rng = self._streams.get(ordinal)
        if rng is None:
            rng = self._streams[ordinal] = random.Random(f"pyshim-chaos/{self.seed}/{ordinal}")
        hit, length = rng.random(), rng.random()  # two draws per call, held or not
        self.calls += 1
        if hit >= self.rate:
            return 0.0
        delay = length * self.max_delay
        self.held += 1
        self.longest = max(self.longest, delay)
        return delay

    def install(self, sup) -> "Chaos":
        """Wraps the handler of every subscribed call (subscribing every call
        if none is); install it after the handlers and rules."""
        if not sup.subscribed:
            sup.trap("all")
        for nr in sorted(sup.subscribed - _ONE_WAY):
            previous = sup._before.get(nr)
            sup._before[nr] = self._wrap(sup, previous)
        return self

    def _ordinal(self, sup, call) -> int:
        thread = sup.table.thread(call.pid, call.tid) if sup.table else None
        return thread.ordinal if thread is not None else -1

    def _wrap(self, sup, previous):
        def chaos(call):
            delay = self.delay(self._ordinal(sup, call))
            if not delay:
                return previous(call) if previous is not None else None
            d = call.defer()
            sup.call_later(delay, lambda: _resume(d, previous))
            return d
        return chaos

    def summary(self) -> str:
        return (f"chaos seed {self.seed}: held {self.held} of {self.calls} calls, "
                f"longest {self.longest * 1000:.1f} ms (rerun with --chaos {self.seed})")


def _resume(d, previous) -> None:
    """After its delay, the call goes to the handler it would have met."""
    if previous is None:
        d.native()
    else:
        d.answer_with(previous)
