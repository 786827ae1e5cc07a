"""Numbers as strace prints them, and constants every decoder shares."""

from __future__ import annotations

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



class Options(NamedTuple):
    """How lines are decoded, as strace's options say (defaults: none given).

    strlen: ``-s N``; xflag: 0, 1 (``-x``: non-ASCII strings in hex) or 2
    (``-xx``: all of them); fds: 0, 1 (``-y``: paths of fds) or 2 (``-yy``:
    also socket details); verbose: ``-v`` (structures in full); fd_path:
    fd -> its path or None, used for ``-y`` (the tracer reads it from /proc).
    """
    strlen: int = MAX_STRLEN
    xflag: int = 0
    fds: int = 0
    verbose: bool = False
    fd_path: Callable[[int], "str | None"] | None = None


DEFAULT = Options()
