"""One call being formatted, with guarded access to the program's memory."""

from __future__ import annotations

import os
import stat as statmod
import struct
from collections.abc import Callable
from typing import Protocol

from .base import AT_FDCWD, DEFAULT, Options, _U64, _ptr, _s64
from .text import quote


class Memory(Protocol):
    def read(self, addr: int, n: int) -> bytes: ...
    def string(self, addr: int, maxlen: int) -> bytes: ...



class _Call:
    __slots__ = ("nr", "args", "result", "mem", "opts", "entry")

    def __init__(self, nr: int, args: tuple[int, ...], result: int | None, mem: Memory | None,
                 opts: Options = DEFAULT, entry: dict[int, bytes] | None = None):
        self.opts = opts
        self.entry = entry
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

    def before(self, addr: int, n: int) -> bytes:
        """*n* bytes at *addr* as they were when the call was made, if the
        tracer copied them then (decode.capture), else as they are now."""
        if self.entry is not None:
            data = self.entry.get(addr)
            if data is not None and len(data) >= n:
                return data[:n]
        return self.read(addr, n)

    def changed(self, addr: int, n: int) -> bytes | None:
        """The bytes at *addr* before the call if they were copied then and
        differ from now, else None."""
        if self.entry is None or addr not in self.entry:
            return None
        old = self.entry[addr][:n]
        try:
            return None if self.read(addr, len(old)) == old else old
        except OSError:
            return None

    def unpack(self, fmt: str, addr: int) -> tuple:
        return struct.unpack(fmt, self.read(addr, struct.calcsize(fmt)))

    def quote(self, data: bytes, truncated: bool = False, force_hex: bool = False) -> str:
        """*data* quoted as strace quotes strings under the options (-x)."""
        return quote(data, truncated, force_hex, self.opts.xflag)

    def fd(self, fd: int) -> str:
        """A descriptor: ``3``, or with -y ``3</path>`` (the tracer's fd_path
        gives the path; AT_FDCWD's is the working directory)."""
        text = "AT_FDCWD" if fd == AT_FDCWD else str(fd)
        opts = self.opts
        if not opts.fds or opts.fd_path is None or (fd < 0 and fd != AT_FDCWD):
            return text
        try:
            path = opts.fd_path(fd)
        except OSError:
            path = None
        if path is None:
            return text
        return text + _angle(path, opts)


def _angle(path: str, opts: Options) -> str:
    """``<path>`` as -y prints it: ``<`` and ``>`` in the path in octal,
    ``(deleted)`` after it for unlinked files, and with -yy ``<char 1:3>``
    after device paths."""
    deleted = path.endswith(" (deleted)")
    if deleted:
        path = path[:-len(" (deleted)")]
    raw = os.fsencode(path)
    inner = quote(raw, xflag=opts.xflag, quotes=False, escape="<>")
    if opts.fds >= 2 and path.startswith("/") and not deleted:
        try:
            st = os.stat(path)
        except OSError:
            st = None
        if st is not None and (statmod.S_ISCHR(st.st_mode) or statmod.S_ISBLK(st.st_mode)):
            kind = "char" if statmod.S_ISCHR(st.st_mode) else "block"
            inner += f"<{kind} {os.major(st.st_rdev)}:{os.minor(st.st_rdev)}>"
    return f"<{inner}>" + ("(deleted)" if deleted else "")


def _cstr(call: _Call, addr: int, limit: int | None = None) -> str:
    if not addr:
        return "NULL"
    if limit is None:
        limit = call.opts.strlen
    try:
        data, more = call.string(addr, limit)
    except OSError:
        return _ptr(addr)
    return call.quote(data, more)


def _buffer(call: _Call, addr: int, count: int, force_hex: bool = False) -> str:
    """The first min(count, -s) bytes at *addr*, ``...`` if there were more."""
    if not addr:
        return "NULL"
    if not count:
        return '""'
    try:
        data = call.read(addr, min(count, call.opts.strlen))
    except OSError:
        return _ptr(addr)
    return call.quote(data, count > call.opts.strlen, force_hex)


def _pointee(call: _Call, addr: int, size: int, out: bool) -> bytes | None:
    """The *size* bytes a pointer argument points to, or None when strace
    prints the pointer instead: unreadable, or a structure the call fills
    in (*out*) and the call failed.  NULL is the caller's to print."""
    if out and not call.ok:
        return None
    try:
        return call.read(addr, size)
    except OSError:
        return None


def _shown(call: _Call, addr: int, size: int, show: Callable[[bytes], str], out: bool) -> str:
    """A structure argument: ``NULL``, *show* of its bytes, or the pointer."""
    if not addr:
        return "NULL"
    raw = _pointee(call, addr, size, out)
    return _ptr(addr) if raw is None else show(raw)


def _indirect(call: _Call, addr: int, fmt: str, show: Callable[[int], str]) -> str:
    """``[value]`` read from *addr* after a successful call, else the pointer."""
    if not call.ok or not addr:
        return _ptr(addr)
    try:
        return f"[{show(call.unpack(fmt, addr)[0])}]"
    except OSError:
        return _ptr(addr)


def _array(call: _Call, addr: int, count: int, size: int, show: Callable[[bytes], str]) -> str:
    """strace's print_array: ``[a, b, ...]``, at most -s elements unless -v,
    ``... /* 0x.. */`` where memory stops being readable."""
    if not addr:
        return "NULL"
    if not count:
        return "[]"
    if count < 0 or addr + count * size > _U64:
        return _ptr(addr)
    limit = count if call.opts.verbose else min(count, call.opts.strlen)
    out = []
    for k in range(count):
        cur = addr + k * size
        try:
            raw = call.read(cur, size)
        except OSError:
            if k == 0:
                return _ptr(addr)
            out.append(f"... /* {_ptr(cur)} */")
            break
        if k >= limit:
            out.append("...")
            break
        out.append(show(raw))
    return "[" + ", ".join(out) + "]"
