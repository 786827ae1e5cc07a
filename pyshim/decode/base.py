"""Numbers as strace prints them, and constants every decoder shares."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

MAX_STRLEN = 32  # strace -s default
PATH_MAX = 4096
AT_FDCWD = -100
_U64 = (1 << 64) - 1


def _hex(v: int) -> str:
    """C's ``%#x``: ``0`` for zero, else ``0x...``."""
    return f"{v:#x}" if v else "0"


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _s64(v: int) -> int:
    v &= _U64
    return v - (1 << 64) if v >> 63 else v


def _ptr(v: int) -> str:
    return f"{v:#x}" if v else "NULL"


def _octal(v: int) -> str:
    """C's ``%#03o``, as strace prints modes: ``000``, ``022``, ``0755``."""
    return f"{v:#o}".replace("0o", "0").rjust(3, "0")



def _0x(v: int, width: int) -> str:
    """C's ``%#0*x``: zero-padded to *width* characters, ``0x`` included
    (and then no ``0x`` at all for zero, as C does)."""
    return f"{v:#0{width}x}" if v else "0" * width


def _dev(dev: int) -> str:
    """A device number as strace prints it: ``makedev(0x88, 0x1)``."""
    major = (dev >> 8 & 0xFFF) | (dev >> 32 & ~0xFFF)
    minor = (dev & 0xFF) | (dev >> 12 & ~0xFF)
    return f"makedev({_hex(major)}, {_hex(minor)})"


def _time_text(sec: int, frac: int = 0, width: int = 9) -> str | None:
    """strace's sprinttime: ``2023-11-14T22:13:20.123456789+0000`` in local
    time, None for zero (or a fraction out of range)."""
    if (sec == 0 and frac == 0) or frac >= 10 ** width or frac < 0 or (frac and not width):
        return None
    try:
        tm = time.localtime(sec)
    except (OverflowError, OSError, ValueError):
        return None
    out = time.strftime("%Y-%m-%dT%H:%M:%S", tm)
    if frac and width:
        out += f".{frac:0{width}d}"
    return out + time.strftime("%z", tm)


def _time_comment(sec: int, frac: int = 0, width: int = 9) -> str:
    """`` /* 2023-11-14T22:13:20+0000 */`` after a time, or nothing."""
    text = _time_text(sec, frac, width)
    return f" /* {text} */" if text else ""


class Options(NamedTuple):
    """How lines are decoded, as strace's options say (defaults: none given).

    strlen: ``-s N``; xflag: 0, 1 (``-x``: non-ASCII strings in hex) or 2
    (``-xx``: all of them); fds: 0, 1 (``-y``: paths of fds) or 2 (``-yy``:
    also socket details); verbose: ``-v`` (structures in full); fd_path:
    fd -> its path or None, used for ``-y`` (the tracer reads it from
    /proc/PID/fd/FD, and for AT_FDCWD (-100) from /proc/PID/cwd; with -yy
    whatever it returns for a socket is printed as is, e.g.
    ``UNIX:[1234]``; a path ending in `` (deleted)`` prints as strace
    prints unlinked files).
    """
    strlen: int = MAX_STRLEN
    xflag: int = 0
    fds: int = 0
    verbose: bool = False
    fd_path: Callable[[int], "str | None"] | None = None


DEFAULT = Options()
