"""Kinds for signal structures: struct sigaction, stack_t, siginfo_t, and
signal sets with a size (registered in :data:`KINDS` on import)."""

from __future__ import annotations

import os
import struct

from .base import _hex, _ptr, _s32
from .call import _Call, _pointee, _shown
from .kinds import KINDS, kind
from .text import _sigset, format_signal
from .xlat import _ERRNO_NAMES, SA_FLAGS, SA_HANDLERS, SA_RESTORER, SS_FLAGS, Xlat

_SIGACTION = struct.Struct("<QQQQ")   # handler, flags, restorer, mask
_STACK = struct.Struct("<Qi4xQ")      # ss_sp, ss_flags, ss_size
NSIG_BYTES = 8

SI_CODES = Xlat("""SI_USER=0 SI_KERNEL=0x80 SI_QUEUE=-1 SI_TIMER=-2 SI_MESGQ=-3 SI_ASYNCIO=-4
    SI_SIGIO=-5 SI_TKILL=-6 SI_DETHREAD=-7 SI_ASYNCNL=-60""")
_SIGNAL_CODES = {
    17: Xlat("CLD_EXITED=1 CLD_KILLED=2 CLD_DUMPED=3 CLD_TRAPPED=4 CLD_STOPPED=5 CLD_CONTINUED=6"),
    11: Xlat("SEGV_MAPERR=1 SEGV_ACCERR=2 SEGV_BNDERR=3 SEGV_PKUERR=4 SEGV_ACCADI=5 "
             "SEGV_ADIDERR=6 SEGV_ADIPERR=7 SEGV_MTEAERR=8 SEGV_MTESERR=9"),
    7: Xlat("BUS_ADRALN=1 BUS_ADRERR=2 BUS_OBJERR=3 BUS_MCEERR_AR=4 BUS_MCEERR_AO=5"),
    5: Xlat("TRAP_BRKPT=1 TRAP_TRACE=2 TRAP_BRANCH=3 TRAP_HWBKPT=4 TRAP_UNK=5 TRAP_PERF=6"),
    4: Xlat("ILL_ILLOPC=1 ILL_ILLOPN=2 ILL_ILLADR=3 ILL_ILLTRP=4 ILL_PRVOPC=5 ILL_PRVREG=6 "
            "ILL_COPROC=7 ILL_BADSTK=8"),
    8: Xlat("FPE_INTDIV=1 FPE_INTOVF=2 FPE_FLTDIV=3 FPE_FLTOVF=4 FPE_FLTUND=5 FPE_FLTRES=6 "
            "FPE_FLTINV=7 FPE_FLTSUB=8 FPE_FLTUNK=14 FPE_CONDTRAP=15"),
    29: Xlat("POLL_IN=1 POLL_OUT=2 POLL_MSG=3 POLL_ERR=4 POLL_PRI=5 POLL_HUP=6"),
    31: Xlat("SYS_SECCOMP=1 SYS_USER_DISPATCH=2"),
}
_SIGCHLD, _SIGIO, _SIGSYS = 17, 29, 31
_FAULTS = (4, 5, 7, 8, 11)  # SIGILL SIGTRAP SIGBUS SIGFPE SIGSEGV: si_addr
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _handler(v: int) -> str:
    return SA_HANDLERS.get(v) or _ptr(v)


def _sigaction_text(raw: bytes) -> str:
    handler, flags, restorer, mask = _SIGACTION.unpack(raw)
    out = (f"{{sa_handler={_handler(handler)}, sa_mask={_sigset(mask)}, "
           f"sa_flags={SA_FLAGS.flags(flags)}")
    if flags & SA_RESTORER:
        out += f", sa_restorer={_ptr(restorer)}"
    return out + "}"


@kind("sigaction", "osigaction")
def _k_sigaction(c: _Call, i: int) -> str:
    """rt_sigaction's new (argument 1) and old (argument 2) actions."""
    addr = c.args[i]
    if not addr:
        return "NULL"
    raw = _pointee(c, addr, _SIGACTION.size, out=i == 2)
    return _ptr(addr) if raw is None else _sigaction_text(raw)


@kind("stack", "ostack")
def _k_stack(c: _Call, i: int) -> str:
    """sigaltstack's stack_t: the new one (argument 0) and the old one."""
    addr = c.args[i]
    if not addr:
        return "NULL"
    raw = _pointee(c, addr, _STACK.size, out=i == 1)
    if raw is None:
        return _ptr(addr)
    sp, flags, size = _STACK.unpack(raw)
    return f"{{ss_sp={_ptr(sp)}, ss_flags={SS_FLAGS.flags(flags & 0xFFFFFFFF)}, ss_size={size}}}"


def _sigset_len(c: _Call, addr: int, length: int, min_len: int = 8, out: bool = False) -> str:
    """print_sigset_addr_len: a signal set of *length* bytes (1 to 8)."""
    if not addr:
        return "NULL"
    if length < min_len or length > NSIG_BYTES or (out and not c.ok):
        return _ptr(addr)
    try:
        raw = c.read(addr, length)
    except OSError:
        return _ptr(addr)
    words = (length + 3) // 4
    return _sigset(int.from_bytes(raw, "little"), words * 32)


@kind("sigpending")
def _k_sigpending(c: _Call, i: int) -> str:
    """rt_sigpending's set; the next argument is its size (1 to 8 bytes)."""
    return _sigset_len(c, c.args[i], c.args[i + 1], 1, out=True)


# A signal set passed in whose size is argument N: "sigsetN" (rt_sigtimedwait:
# 3, ppoll: 4, epoll_pwait: 5).
for _n in (1, 2, 3, 4, 5):
    KINDS[f"sigset{_n}"] = lambda c, i, n=_n: _sigset_len(c, c.args[i], c.args[n])


# --- siginfo -------------------------------------------------------------

def _clock_t(v: int) -> str:
    if v <= 0 or _CLK_TCK <= 0:
        return str(v)
    width = min(len(str(_CLK_TCK)) - 1, 9)
    frac = f"{(v % _CLK_TCK) / _CLK_TCK:.{width}f}"[1:]
    return f"{v} /* {v // _CLK_TCK}{frac} s */"


def format_siginfo(raw: bytes, fd_text=str) -> str:
    """A siginfo_t as strace prints it: ``{si_signo=SIGCHLD, si_code=CLD_EXITED,
    si_pid=123, si_uid=0, si_status=0, si_utime=0, si_stime=0}``."""
    signo, errno_, code = struct.unpack_from("<iii", raw)
    if not signo:
        return "{}"
    name = SI_CODES.get(code)
    if name is None and signo in _SIGNAL_CODES:
        name = _SIGNAL_CODES[signo].get(code)
    out = [f"si_signo={format_signal(signo)}", f"si_code={name or _hex(code & 0xFFFFFFFF)}"]
    if code == 32767:  # SI_NOINFO, strace's own
        return "{" + ", ".join(out) + "}"
    if errno_:
        out.append(f"si_errno={_ERRNO_NAMES.get(errno_, str(errno_))}")
    pid, uid = struct.unpack_from("<iI", raw, 16)
    (ptr,) = struct.unpack_from("<Q", raw, 24)
    (sint,) = struct.unpack_from("<i", raw, 24)
    source = [f"si_pid={pid}", f"si_uid={'-1' if uid == 0xFFFFFFFF else uid}"]
    sigval = [f"si_int={sint}", f"si_ptr={_ptr(ptr)}"]
    if code <= 0:  # from user space
        if code == -2:  # SI_TIMER
            out += [f"si_timerid={_hex(pid & 0xFFFFFFFF)}", f"si_overrun={_s32(uid)}"] + sigval
        elif code == -5:  # SI_SIGIO
            band, fd = struct.unpack_from("<qi", raw, 16)
            out += [f"si_band={band}", f"si_fd={fd_text(fd)}"]
        else:
            out += source
            if code not in (0, -6) and ptr:
                out += sigval
    elif signo == _SIGCHLD:
        status, utime, stime = struct.unpack_from("<i4xqq", raw, 24)
        out += source
        out.append(f"si_status={status if code == 1 else format_signal(status)}")
        out += [f"si_utime={_clock_t(utime)}", f"si_stime={_clock_t(stime)}"]
    elif signo in _FAULTS:
        out.append(f"si_addr={_ptr(struct.unpack_from('<Q', raw, 16)[0])}")
    elif signo == _SIGIO:
        band, fd = struct.unpack_from("<qi", raw, 16)
        out += [f"si_band={band}", f"si_fd={fd_text(fd)}"]
    else:
        if pid or uid:
            out += source
        if ptr:
            out += sigval
    return "{" + ", ".join(out) + "}"


@kind("siginfo")
def _k_siginfo(c: _Call, i: int) -> str:
    """A siginfo_t the call fills in."""
    return _shown(c, c.args[i], 128, lambda raw: format_siginfo(raw, c.fd), out=True)


@kind("isiginfo")
def _k_isiginfo(c: _Call, i: int) -> str:
    """A siginfo_t passed in (rt_sigqueueinfo)."""
    return _shown(c, c.args[i], 128, lambda raw: format_siginfo(raw, c.fd), out=False)
