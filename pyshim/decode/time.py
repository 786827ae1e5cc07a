"""Kinds for times: itimers, struct tms, utimes' pairs, time(2), timerfd's
itimerspec (registered in :data:`KINDS` on import)."""

from __future__ import annotations

import struct

from .base import _ptr, _time_comment, _time_text
from .call import _Call, _pointee, _shown
from .kinds import RESULTS_CALL, kind
from .sig import _clock_t
from .text import format_signal
from .xlat import SIGEV_NOTIFY

UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2


def _struct_kind(name: str, size: int, show, out: bool) -> None:
    """Registers kind *name*: a structure of *size* bytes shown by *show*
    (a structure the call fills in when *out*)."""
    @kind(name)
    def _k(c: _Call, i: int) -> str:
        return _shown(c, c.args[i], size, show, out)


def _tv(sec: int, usec: int) -> str:
    return f"{{tv_sec={sec}, tv_usec={usec}}}"


def _ts(sec: int, nsec: int) -> str:
    return f"{{tv_sec={sec}, tv_nsec={nsec}}}"


def _itimerval(raw: bytes) -> str:
    a, b, c_, d = struct.unpack("<qQqQ", raw)
    return f"{{it_interval={_tv(a, b)}, it_value={_tv(c_, d)}}}"


def _itimerspec(raw: bytes) -> str:
    a, b, c_, d = struct.unpack("<qqqq", raw)
    return f"{{it_interval={_ts(a, b)}, it_value={_ts(c_, d)}}}"


def _tms(raw: bytes) -> str:
    u, s, cu, cs = struct.unpack("<qqqq", raw)
    return (f"{{tms_utime={_clock_t(u)}, tms_stime={_clock_t(s)}, tms_cutime={_clock_t(cu)}, "
            f"tms_cstime={_clock_t(cs)}}}")


def _utime_ts(sec: int, nsec: int) -> str:
    if nsec == UTIME_NOW:
        return "UTIME_NOW"
    if nsec == UTIME_OMIT:
        return "UTIME_OMIT"
    return _ts(sec, nsec) + _time_comment(sec, nsec)


def _timespec_pair(raw: bytes) -> str:
    a, b, c_, d = struct.unpack("<qqqq", raw)
    return f"[{_utime_ts(a, b)}, {_utime_ts(c_, d)}]"


def _timeval_pair(raw: bytes) -> str:
    a, b, c_, d = struct.unpack("<qQqQ", raw)
    return (f"[{_tv(a, b)}{_time_comment(a, b, 6)}, {_tv(c_, d)}{_time_comment(c_, d, 6)}]")


def _utimbuf(raw: bytes) -> str:
    a, m = struct.unpack("<qq", raw)
    return f"{{actime={a}{_time_comment(a, 0, 0)}, modtime={m}{_time_comment(m, 0, 0)}}}"


_struct_kind("itimerval", 32, _itimerval, out=False)
_struct_kind("oitimerval", 32, _itimerval, out=True)
_struct_kind("itimerspec", 32, _itimerspec, out=False)
_struct_kind("oitimerspec", 32, _itimerspec, out=True)
_struct_kind("otms", 32, _tms, out=True)
_struct_kind("utimespecs", 32, _timespec_pair, out=False)
_struct_kind("utimevals", 32, _timeval_pair, out=False)
_struct_kind("utimbuf", 16, _utimbuf, out=False)


@kind("otime")
def _k_otime(c: _Call, i: int) -> str:
    """time(2)'s pointer: ``[1700000000 /* 2023-11-14T22:13:20+0000 */]``."""
    addr = c.args[i]
    if not addr:
        return "NULL"
    raw = _pointee(c, addr, 8, True)
    if raw is None:
        return _ptr(addr)
    (t,) = struct.unpack("<q", raw)
    return f"[{t}{_time_comment(t, 0, 0)}]"


def _time_result(c: _Call, r: int) -> str:
    text = _time_text(r, 0, 0)
    return f"{r} ({text})" if text else str(r)


RESULTS_CALL["time"] = _time_result


def _sigevent(raw: bytes) -> str:
    value, signo, notify, extra = struct.unpack_from("<QiiQ", raw)
    out = [f"sigev_value={{sival_int={struct.unpack_from('<i', raw)[0]}, sival_ptr={_ptr(value)}}}"] \
        if value else []
    out.append(f"sigev_signo={format_signal(signo) if notify in (0, 2, 4) else signo & 0xFFFFFFFF}")
    out.append(f"sigev_notify={SIGEV_NOTIFY.value(notify & 0xFFFFFFFF)}")
    if notify == 4:
        out.append(f"sigev_notify_thread_id={struct.unpack_from('<i', raw, 16)[0]}")
    elif notify == 2:
        attr = struct.unpack_from("<Q", raw, 24)[0]
        out += [f"sigev_notify_function={_ptr(extra)}", f"sigev_notify_attributes={_ptr(attr)}"]
    return "{" + ", ".join(out) + "}"


_struct_kind("sigevent", 64, _sigevent, out=False)
