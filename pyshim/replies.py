"""What a handler can answer.

A handler registered with ``Supervisor.on`` returns one of:

- ``None`` or ``NATIVE``: run the call natively in the program;
- an ``int``: the call returns that value without running;
- ``Fail(errno)``: the call fails with that errno (it returns ``-errno``).

An after-hook (``Supervisor.after``) returns ``None`` to keep the result or
one of the last two to replace it.
"""
import errno as _errno


class _Native:
    __slots__ = ()

    def __repr__(self):
        return "pyshim.NATIVE"


NATIVE = _Native()


class Fail:
    """Fail the call with an errno: ``return Fail(errno.ENOENT)``."""

    __slots__ = ("errno",)

    def __init__(self, code: int):
        if not isinstance(code, int) or not 0 < code < 4096:
            raise ValueError(f"an errno is an int from 1 to 4095, not {code!r}")
        self.errno = code

    def __repr__(self):
        name = _errno.errorcode.get(self.errno, str(self.errno))
        return f"Fail({name})"

    def __eq__(self, other):
        return isinstance(other, Fail) and other.errno == self.errno

    def __hash__(self):
        return hash(("Fail", self.errno))
