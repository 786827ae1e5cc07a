"""One call being formatted, with guarded access to the program's memory."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Protocol

from .base import DEFAULT, Options, _U64, _ptr, _s64
from .text import quote


class Memory(Protocol):
    def read(self, addr: int, n: int) -> bytes: ...
    def string(self, addr: int, maxlen: int) -> bytes: ...



class _Call:
    __slots__ = ("nr", "args", "result", "mem", "opts")

    def __init__(self, nr: int, args: tuple[int, ...], result: int | None, mem: Memory | None,
                 opts: Options = DEFAULT):
        self.opts = opts
        self.nr = nr
        self.args = tuple(a & _U64 for a in args) + (0,) * (6 - len(args))
        self.result = None if result is None else _s64(result)
        self.mem = mem

    @property
    def ok(self) -> bool:
        """The call returned and did not fail."""
        return self.result is not None and not -4095 <= self.result <= -1

    def read(self, addr: int, n: int) -> bytes:
        if n == 0:
            return b""
        if self.mem is None:
            raise OSError("no memory reader")
        data = self.mem.read(addr, n)
        if len(data) < n:
            raise OSError(f"short read at {addr:#x}")
        return bytes(data)

    def string(self, addr: int, limit: int) -> tuple[bytes, bool]:
        """A NUL-terminated string of at most *limit* bytes, and whether it
        was longer than that."""
        if self.mem is None:
            raise OSError("no memory reader")
        data = bytes(self.mem.string(addr, limit + 1))
        return data[:limit], len(data) > limit

    def unpack(self, fmt: str, addr: int) -> tuple:
        return struct.unpack(fmt, self.read(addr, struct.calcsize(fmt)))


def _cstr(call: _Call, addr: int, limit: int | None = None) -> str:
    if not addr:
        return "NULL"
    if limit is None:
        limit = call.opts.strlen
    try:
        data, more = call.string(addr, limit)
    except OSError:
        return _ptr(addr)
    return quote(data, more)


def _buffer(call: _Call, addr: int, count: int, force_hex: bool = False) -> str:
    """The first min(count, -s) bytes at *addr*, ``...`` if there were more."""
    if not count:
        return '""'
    try:
        data = call.read(addr, min(count, call.opts.strlen))
    except OSError:
        return _ptr(addr)
    return quote(data, count > call.opts.strlen, force_hex)


def _indirect(call: _Call, addr: int, fmt: str, show: Callable[[int], str]) -> str:
    """``[value]`` read from *addr* after a successful call, else the pointer."""
    if not call.ok or not addr:
        return _ptr(addr)
    try:
        return f"[{show(call.unpack(fmt, addr)[0])}]"
    except OSError:
        return _ptr(addr)
