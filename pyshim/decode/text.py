"""Strings, signals, signal sets and errors, as strace prints them."""

from __future__ import annotations

import os

from .base import _s64
from .xlat import SIGNALS, SIGRTMAX, _ERRNO_NAMES, _RESTART_ERRNOS


_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\f"): "\\f", ord("\n"): "\\n",
            ord("\r"): "\\r", ord("\t"): "\\t", ord("\v"): "\\v"}


def _needs_hex(data: bytes) -> bool:
    """strace -x: a string goes all in hex if one byte is neither printable
    nor whitespace."""
    return any(c > 0x7E or (c < 0x20 and not 9 <= c <= 13) for c in data)


def quote(data: bytes, truncated: bool = False, force_hex: bool = False, xflag: int = 0,
          quotes: bool = True, escape: str = "") -> str:
    """Quote bytes as strace does: C escapes, other non-printables in octal
    (three digits only when an octal digit follows), ``...`` if *truncated*.

    *xflag* is strace's ``-x`` count: 1 prints strings holding non-ASCII
    bytes all in ``\\xNN``, 2 (or *force_hex*) prints every string that way.
    *quotes* False leaves out the double quotes; *escape* lists further
    characters printed in octal (``<>`` for paths in ``-y`` brackets).
    """
    out = ['"'] if quotes else []
    if force_hex or xflag >= 2 or (xflag == 1 and _needs_hex(data)):
        out.extend(f"\\x{c:02x}" for c in data)
    else:
        for i, c in enumerate(data):
            if c in _ESCAPES:
                out.append(_ESCAPES[c])
            elif 0x20 <= c < 0x7F and chr(c) not in escape:
                out.append(chr(c))
            elif i + 1 < len(data) and 0x30 <= data[i + 1] <= 0x37:
                out.append(f"\\{c:03o}")
            else:
                out.append(f"\\{c:o}")
    if quotes:
        out.append('"')
    if truncated:
        out.append("...")
    return "".join(out)


def format_signal(n: int) -> str:
    """``SIGINT``, ``SIGRTMIN``, ``SIGRT_3``; other numbers in decimal."""
    if 0 < n < len(SIGNALS):
        return SIGNALS[n]
    if len(SIGNALS) <= n <= SIGRTMAX:
        return f"SIGRT_{n - len(SIGNALS) + 1}"
    return str(n)


def _sigset(mask: int, nbits: int = 64) -> str:
    """``[INT TERM]``, or ``~[KILL]`` when at least two thirds are set."""
    mask &= (1 << nbits) - 1
    prefix = "["
    if mask.bit_count() >= nbits * 2 // 3:
        mask, prefix = ~mask & ((1 << nbits) - 1), "~["
    names = [format_signal(sig).removeprefix("SIG")
             for sig in range(1, nbits + 1) if mask >> (sig - 1) & 1]
    return prefix + " ".join(names) + "]"


def errno_text(result: int | None) -> str:
    """The part of strace's line after ``= ``: ``3``, ``?``, or
    ``-1 ENOENT (No such file or directory)``."""
    if result is None:
        return "?"
    result = _s64(result)
    if -4095 <= result <= -1:
        err = -result
        if err in _RESTART_ERRNOS:
            return "? {} ({})".format(*_RESTART_ERRNOS[err])
        return f"-1 {_ERRNO_NAMES.get(err, f'ERRNO_{err}')} ({os.strerror(err)})"
    return str(result)
