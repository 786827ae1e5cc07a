"""Kinds for I/O structures: iovec arrays, pollfd arrays, epoll events,
select's fd sets, timevals (registered in :data:`KINDS` on import)."""

from __future__ import annotations

import struct

from .base import _ptr, _s32
from .call import _Call, _array, _buffer, _shown
from .kinds import RESULTS_CALL, kind
from .xlat import EPOLL_EVENTS, POLL_FLAGS, RWF_FLAGS

_EPOLL_CTL_DEL = 2


# --- iovec -----------------------------------------------------------------

def _iovec(c: _Call, addr: int, count: int, budget: int | None, data: bool) -> str:
    """An iovec array; *budget* caps the bytes shown over all buffers (what
    the call read), None for no cap; *data* False prints buffer addresses."""
    left = [budget]

    def show(raw: bytes) -> str:
        base, length = struct.unpack("<QQ", raw)
        n = length
        if left[0] is not None:
            n = min(n, left[0])
            left[0] -= n
        text = _buffer(c, base, n) if data else _ptr(base)
        if data and not base:
            text = "NULL"
        return f"{{iov_base={text}, iov_len={length}}}"

    return _array(c, addr, count, 16, show)


@kind("iov")
def _k_iov(c: _Call, i: int) -> str:
    """An iovec array the call reads from (writev); the next argument is its
    length."""
    return _iovec(c, c.args[i], c.args[i + 1], None, True)


@kind("oiov")
def _k_oiov(c: _Call, i: int) -> str:
    """An iovec array the call fills in (readv): as many bytes as it read,
    or the buffers' addresses if it failed."""
    if c.result is None:
        return _ptr(c.args[i])
    return _iovec(c, c.args[i], c.args[i + 1], c.result if c.ok else None, c.ok)


@kind("rwfflags")
def _k_rwfflags(c: _Call, i: int) -> str:
    return RWF_FLAGS.flags(c.args[i] & 0xFFFFFFFF)


# --- poll ------------------------------------------------------------------

def _pollfd(c: _Call, raw: bytes) -> str:
    fd, events, _ = struct.unpack("<ihh", raw)
    if fd < 0:
        return f"{{fd={fd}}}"
    return f"{{fd={c.fd(fd)}, events={POLL_FLAGS.flags(events & 0xFFFF)}}}"


@kind("pollfds")
def _k_pollfds(c: _Call, i: int) -> str:
    """poll's array of struct pollfd (events only; revents go after the
    result); the next argument is its length."""
    return _array(c, c.args[i], c.args[i + 1] & 0xFFFFFFFF, 8, lambda raw: _pollfd(c, raw))


def _revents(c: _Call) -> str:
    """``[{fd=3, revents=POLLIN}]``: the entries that have revents set."""
    addr, nfds = c.args[0], c.args[1] & 0xFFFFFFFF
    if not addr or not nfds:
        return ""
    limit = None if c.opts.verbose else c.opts.strlen
    out, shown = [], 0
    for k in range(nfds):
        cur = addr + 8 * k
        try:
            fd, _, revents = struct.unpack("<ihh", c.read(cur, 8))
        except OSError:
            out.append(_ptr(cur))
            break
        if not revents:
            continue
        if limit is not None and shown >= limit:
            out.append("...")
            break
        out.append(f"{{fd={fd}, revents={POLL_FLAGS.flags(revents & 0xFFFF, comment=False)}}}")
        shown += 1
    return "[" + ", ".join(out) + "]" if out else ""


def _poll_result(c: _Call, r: int, left: str | None = None) -> str:
    if r == 0:
        return "0 (Timeout)"
    text = _revents(c)
    if left is not None:
        text += (", left " if text else "left ") + left
    return f"{r} ({text})" if text else str(r)


RESULTS_CALL["poll"] = _poll_result
RESULTS_CALL["ppoll"] = lambda c, r: _poll_result(c, r, _timespec_now(c, c.args[2]))


# --- timespec and timeval --------------------------------------------------

def _timespec_text(raw: bytes) -> str:
    sec, nsec = struct.unpack("<qq", raw)
    return f"{{tv_sec={sec}, tv_nsec={nsec}}}"


def _timeval_text(raw: bytes) -> str:
    sec, usec = struct.unpack("<qQ", raw)
    return f"{{tv_sec={sec}, tv_usec={usec}}}"


def _timespec_now(c: _Call, addr: int) -> str | None:
    if not addr:
        return None
    try:
        return _timespec_text(c.read(addr, 16))
    except OSError:
        return _ptr(addr)


def _capture16(args: tuple, i: int) -> list[tuple[int, int]]:
    return [(args[i], 16)] if args[i] else []


@kind("itimespec", capture=_capture16)
def _k_itimespec(c: _Call, i: int) -> str:
    """A timespec the call reads and then updates (ppoll, pselect6): as it
    was before the call."""
    addr = c.args[i]
    if not addr:
        return "NULL"
    try:
        return _timespec_text(c.before(addr, 16))
    except OSError:
        return _ptr(addr)


@kind("itimeval", capture=_capture16)
def _k_itimeval(c: _Call, i: int) -> str:
    """A timeval the call reads and then updates (select)."""
    addr = c.args[i]
    if not addr:
        return "NULL"
    try:
        return _timeval_text(c.before(addr, 16))
    except OSError:
        return _ptr(addr)


@kind("timeval")
def _k_timeval(c: _Call, i: int) -> str:
    return _shown(c, c.args[i], 16, _timeval_text, out=False)


@kind("otimeval")
def _k_otimeval(c: _Call, i: int) -> str:
    return _k_timeval(c, i) if c.ok else _ptr(c.args[i])


@kind("otimezone")
def _k_otimezone(c: _Call, i: int) -> str:
    def show(raw: bytes) -> str:
        west, dst = struct.unpack("<ii", raw)
        return f"{{tz_minuteswest={west}, tz_dsttime={dst}}}"
    return _shown(c, c.args[i], 8, show, out=True)


# --- epoll -----------------------------------------------------------------

def _epoll_event(raw: bytes) -> str:
    events, data = struct.unpack("<IQ", raw)
    return (f"{{events={EPOLL_EVENTS.flags(events)}, "
            f"data={{u32={data & 0xFFFFFFFF}, u64={data}}}}}")


@kind("epollevent")
def _k_epollevent(c: _Call, i: int) -> str:
    """epoll_ctl's event (its address only for EPOLL_CTL_DEL)."""
    addr = c.args[i]
    if not addr:
        return "NULL"
    if c.args[1] & 0xFFFFFFFF == _EPOLL_CTL_DEL:
        return _ptr(addr)
    try:
        return _epoll_event(c.read(addr, 12))
    except OSError:
        return _ptr(addr)


@kind("oepollevents")
def _k_oepollevents(c: _Call, i: int) -> str:
    """epoll_wait's events: as many as the call returned."""
    if not c.ok:
        return _ptr(c.args[i])
    return _array(c, c.args[i], c.result, 12, _epoll_event)


# --- select ----------------------------------------------------------------

def _fdset_size(args: tuple) -> int:
    nfds = max(0, min(_s32(args[0]), 1024 * 1024))
    return ((nfds + 7) // 8 + 7) & -8


def _capture_fdset(args: tuple, i: int) -> list[tuple[int, int]]:
    size = _fdset_size(args)
    return [(args[i], size)] if args[i] and size else []


def _fds_in(raw: bytes, nfds: int) -> list[int]:
    bits = int.from_bytes(raw, "little")
    return [fd for fd in range(nfds) if bits >> fd & 1]


@kind("fdset", capture=_capture_fdset)
def _k_fdset(c: _Call, i: int) -> str:
    """One of select's fd sets, as it was before the call: ``[0 4]``."""
    addr, size = c.args[i], _fdset_size(c.args)
    if not size:
        return _ptr(addr)
    if not addr:
        return "NULL"
    try:
        raw = c.before(addr, size)
    except OSError:
        return _ptr(addr)
    nfds = max(0, min(_s32(c.args[0]), 1024 * 1024))
    return "[" + " ".join(c.fd(fd) for fd in _fds_in(raw, nfds)) + "]"


def _select_result(c: _Call, r: int, ts: bool) -> str:
    """``1 (in [3], left {tv_sec=0, tv_usec=99})``, with strace's quirks."""
    if r == 0:
        return "0 (Timeout)"
    nfds = max(0, min(_s32(c.args[0]), 1024 * 1024))
    size = _fdset_size(c.args)
    out, sep, ready = "", "", r
    for k, name in enumerate(("in", "out", "except")):
        if ready <= 0:
            break
        addr = c.args[1 + k]
        if not addr or not size:
            continue
        try:
            raw = c.read(addr, size)
        except OSError:
            continue
        first = True
        for fd in _fds_in(raw, nfds):
            out += f"{sep}{name} [{fd}" if first else f" {fd}"
            first, sep = False, ", "
            ready -= 1
            if ready == 0:
                break
        if out:
            out += "]"
    addr = c.args[4]
    if addr:
        try:
            left = (_timespec_text if ts else _timeval_text)(c.read(addr, 16))
        except OSError:
            left = _ptr(addr)
        out += f"{sep}left {left}"
    return f"{r} ({out})"


RESULTS_CALL["select"] = lambda c, r: _select_result(c, r, False)
RESULTS_CALL["pselect6"] = lambda c, r: _select_result(c, r, True)


@kind("sigmaskarg")
def _k_sigmaskarg(c: _Call, i: int) -> str:
    """pselect6's {sigmask, sigsetsize} pair."""
    from .sig import _sigset_len
    addr = c.args[i]
    if not addr:
        return "NULL"
    try:
        mask, size = c.unpack("<QQ", addr)
    except OSError:
        return _ptr(addr)
    return f"{{sigmask={_sigset_len(c, mask, size)}, sigsetsize={size}}}"



# --- offsets a call reads and updates --------------------------------------

def _capture8(args: tuple, i: int) -> list[tuple[int, int]]:
    return [(args[i], 8)] if args[i] else []


@kind("ioff", capture=_capture8)
def _k_ioff(c: _Call, i: int) -> str:
    """A loff_t the call reads and updates (copy_file_range, splice): as it
    was before the call, ``[0]``."""
    addr = c.args[i]
    if not addr:
        return "NULL"
    try:
        return f"[{struct.unpack('<q', c.before(addr, 8))[0]}]"
    except OSError:
        return _ptr(addr)


@kind("sendfileoff", capture=_capture8)
def _k_sendfileoff(c: _Call, i: int) -> str:
    """sendfile's offset: ``[0] => [1221]`` after a transfer."""
    addr = c.args[i]
    if not addr:
        return "NULL"
    try:
        then = struct.unpack("<Q", c.before(addr, 8))[0]
        now = struct.unpack("<Q", c.read(addr, 8))[0]
    except OSError:
        return _ptr(addr)
    if c.ok and c.result:
        return f"[{then}] => [{now}]"
    return f"[{then}]"
