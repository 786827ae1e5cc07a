"""Kinds for process and resource structures, and ioctls: sysinfo, rusage,
CPU sets, file locks, terminal ioctls (registered in :data:`KINDS` on
import)."""

from __future__ import annotations

import struct

from .base import _0x, _hex, _ptr, _s32
from .call import _Call, _array, _buffer, _indirect, _shown
from .ioctls import IOCTL_NAMES
from .kinds import RESULTS_CALL, kind
from .xlat import (
    CAP_MASK0, CAP_MASK1, CAP_VERSIONS, GET_MEMPOLICY_FLAGS, IOC_DIRS, MEMBARRIER_CMDS, MPOL_MODE_FLAGS, MPOL_MODES, MEMBARRIER_FLAGS, PERSONALITY_FLAGS, PERSONALITY_TYPES,
    RESOLVE_FLAGS, SCHED_POLICIES, WAITID_TYPES, LOCK_TYPES, MODEM_FLAGS, SEEK, TCFLSH_OPTIONS, TCXONC_OPTIONS, TERM_BAUDS, TERM_CC,
    TERM_CFLAGS, TERM_CSIZE, TERM_IFLAGS, TERM_LFLAGS, TERM_LINE_DISCS, TERM_ODELAYS,
    TERM_OFLAGS,
)

_SYSINFO = struct.Struct("<q3QQQQQQQH6xQQI")
_RUSAGE = struct.Struct("<qqqq14q")
_FLOCK = struct.Struct("<hh4xqqi4x")
CPUSET_SIZE = 128  # strace's get_cpuset_size() on any current kernel


def _out(c: _Call, addr: int, size: int) -> bytes | None:
    if not c.ok or not addr:
        return None
    try:
        return c.read(addr, size)
    except OSError:
        return None


@kind("osysinfo")
def _k_osysinfo(c: _Call, i: int) -> str:
    raw = _out(c, c.args[i], _SYSINFO.size)
    if raw is None:
        return _ptr(c.args[i])
    (uptime, l1, l2, l3, total, free, shared, buffer, totalswap, freeswap, procs,
     totalhigh, freehigh, unit) = _SYSINFO.unpack(raw)
    return (f"{{uptime={uptime}, loads=[{l1}, {l2}, {l3}], totalram={total}, freeram={free}, "
            f"sharedram={shared}, bufferram={buffer}, totalswap={totalswap}, "
            f"freeswap={freeswap}, procs={procs}, totalhigh={totalhigh}, freehigh={freehigh}, "
            f"mem_unit={unit}}}")


def _timeval(sec: int, usec: int) -> str:
    return f"{{tv_sec={sec}, tv_usec={usec}}}"


_RUSAGE_FIELDS = ("maxrss ixrss idrss isrss minflt majflt nswap inblock oublock msgsnd msgrcv "
                  "nsignals nvcsw nivcsw").split()


@kind("orusage")
def _k_orusage(c: _Call, i: int) -> str:
    """A struct rusage the call fills in (getrusage, wait4)."""
    addr = c.args[i]
    if not addr:
        return "NULL"
    raw = _out(c, addr, _RUSAGE.size)
    if raw is None:
        return _ptr(addr)
    f = _RUSAGE.unpack(raw)
    out = [f"ru_utime={_timeval(f[0], f[1])}", f"ru_stime={_timeval(f[2], f[3])}"]
    if c.opts.verbose:
        out += [f"ru_{n}={v}" for n, v in zip(_RUSAGE_FIELDS, f[4:])]
    else:
        out.append("...")
    return "{" + ", ".join(out) + "}"


def _cpuset(c: _Call, addr: int, length: int) -> str:
    """A CPU set of *length* bytes: ``[0 1]``."""
    if not addr:
        return "NULL"
    if not length:
        return "[]"
    take = min(length, CPUSET_SIZE)
    size = (take + 7) & ~7
    try:
        raw = c.read(addr, take)
    except OSError:
        return _ptr(addr)
    bits = int.from_bytes(raw, "little")
    cpus = [str(n) for n in range(take * 8) if bits >> n & 1]
    if size < length:
        cpus.append("...")
    return "[" + " ".join(cpus) + "]"


@kind("cpuset")
def _k_cpuset(c: _Call, i: int) -> str:
    """sched_setaffinity's mask; the previous argument is its size."""
    return _cpuset(c, c.args[i], c.args[i - 1] & 0xFFFFFFFF)


@kind("ocpuset")
def _k_ocpuset(c: _Call, i: int) -> str:
    """sched_getaffinity's mask: as many bytes as the call returned."""
    if not c.ok:
        return _ptr(c.args[i])
    return _cpuset(c, c.args[i], c.result & 0xFFFFFFFF)


# --- file locks ------------------------------------------------------------

def _flock(c: _Call, addr: int, getlk: bool) -> str:
    if not addr:
        return "NULL"
    if getlk and not c.ok:
        return _ptr(addr)
    try:
        ltype, whence, start, length, pid = _FLOCK.unpack(c.read(addr, _FLOCK.size))
    except OSError:
        return _ptr(addr)
    out = (f"{{l_type={LOCK_TYPES.value(ltype & 0xFFFF)}, "
           f"l_whence={SEEK.value(whence & 0xFFFF)}, l_start={start}, l_len={length}")
    return out + (f", l_pid={pid}}}" if getlk else "}")


@kind("flock")
def _k_flock(c: _Call, i: int) -> str:
    """fcntl's struct flock for F_SETLK and friends."""
    return _flock(c, c.args[i], False)


@kind("oflock")
def _k_oflock(c: _Call, i: int) -> str:
    """fcntl's struct flock for F_GETLK (filled in by the call)."""
    return _flock(c, c.args[i], True)


# --- ioctl -----------------------------------------------------------------

@kind("ioctlreq")
def _k_ioctlreq(c: _Call, i: int) -> str:
    req = c.args[i] & 0xFFFFFFFF
    name = IOCTL_NAMES.get(req)
    if name is not None:
        return name
    size = req >> 16 & 0x3FFF
    return f"_IOC({IOC_DIRS[req >> 30]}, {_hex(req >> 8 & 0xFF)}, {_hex(req & 0xFF)}, {_hex(size)})"


def _termios(c: _Call, raw: bytes) -> str:
    iflag, oflag, cflag, lflag, line = struct.unpack_from("<IIIIB", raw)
    cc = raw[17:36]
    odelays = []
    for mask, table, dflt in TERM_ODELAYS:
        odelays.append(table.get(oflag & mask) or f"{_hex(oflag & mask)} /* {dflt} */")
        oflag &= ~mask
    cbaud = TERM_BAUDS.value(cflag & 0o10017)
    cparts = [cbaud]
    if cflag & 0o2003600000:
        cparts.append(f"{TERM_BAUDS.value((cflag & 0o2003600000) >> 16)}<<IBSHIFT")
    cparts.append(TERM_CSIZE.value(cflag & 0o60))
    rest = cflag & ~(0o10017 | 0o2003600000 | 0o60)
    cparts.append(TERM_CFLAGS.flags(rest, comment=False))
    out = (f"{{c_iflag={TERM_IFLAGS.flags(iflag, comment=False)}, "
           f"c_oflag={'|'.join(odelays)}|{TERM_OFLAGS.flags(oflag, comment=False)}, "
           f"c_cflag={'|'.join(cparts)}, c_lflag={TERM_LFLAGS.flags(lflag, comment=False)}, ")
    if not c.opts.verbose:
        return out + "...}"
    ccs = ", ".join(f"[{TERM_CC[k] if k < len(TERM_CC) else k}]={_hex(v)}" for k, v in enumerate(cc))
    return out + f"c_line={TERM_LINE_DISCS.value(line, comment=False)}, c_cc=[{ccs}]}}"


def _winsize(raw: bytes) -> str:
    row, col, x, y = struct.unpack("<HHHH", raw)
    return f"{{ws_row={row}, ws_col={col}, ws_xpixel={x}, ws_ypixel={y}}}"


def _int_arg(c: _Call, addr: int, out: bool) -> str:
    return _shown(c, addr, 4, lambda raw: f"[{struct.unpack('<i', raw)[0]}]", out)


_TCGETS, _TCSETS, _TCSETSW, _TCSETSF = 0x5401, 0x5402, 0x5403, 0x5404
_TIOCGLCKTRMIOS, _TIOCSLCKTRMIOS = 0x5456, 0x5457
_TIOCGWINSZ, _TIOCSWINSZ = 0x5413, 0x5414
_GET_INT = {0x540F, 0x5429, 0x5424, 0x5419, 0x80045430, 0x541B, 0x5411, 0x80045440, 0x80045432}
_SET_INT = {0x5410, 0x5423, 0x5421, 0x5452, 0x5420, 0x541A, 0x40045431}
_NOARG = {0x5427, 0x5428, 0x541D, 0x5422, 0x540C, 0x540D, 0x5451, 0x5450, 0x5437, 0x541F}
_INTARG = {0x5409, 0x5425, 0x540E, 0x40049409}  # TCSBRK TCSBRKP TIOCSCTTY FICLONE
_MODEM_GET, _MODEM_SET = 0x5415, {0x5416, 0x5417, 0x5418}


@kind("ioctlarg")
def _k_ioctlarg(c: _Call, i: int) -> str | None:
    """ioctl's argument, decoded for the requests strace decodes; the
    argument in hex for the others."""
    req, arg = c.args[i - 1] & 0xFFFFFFFF, c.args[i]
    if req in _NOARG:
        return None
    if req in _INTARG:
        return str(_s32(arg))
    if req in (_TCGETS, _TIOCGLCKTRMIOS, _TCSETS, _TCSETSW, _TCSETSF, _TIOCSLCKTRMIOS):
        return _shown(c, arg, 36, lambda raw: _termios(c, raw),
                           out=req in (_TCGETS, _TIOCGLCKTRMIOS))
    if req in (_TIOCGWINSZ, _TIOCSWINSZ):
        return _shown(c, arg, 8, _winsize, out=req == _TIOCGWINSZ)
    if req in _GET_INT or req in _SET_INT:
        return _int_arg(c, arg, out=req in _GET_INT)
    if req == 0x540A:
        return TCXONC_OPTIONS.value(arg)
    if req == 0x540B:
        return TCFLSH_OPTIONS.value(arg)
    if req == _MODEM_GET or req in _MODEM_SET:
        return _shown(c, arg, 4, lambda raw: f"[{MODEM_FLAGS.flags(struct.unpack('<I', raw)[0])}]",
                           out=req == _MODEM_GET)
    if req == 0x5412:  # TIOCSTI
        return _buffer(c, arg, 1)
    return _hex(arg)


# --- ids, priorities, scheduling ----------------------------------------------

@kind("id")
def _k_id(c: _Call, i: int) -> str:
    """A uid or gid: ``-1`` for (unsigned) -1."""
    v = c.args[i] & 0xFFFFFFFF
    return "-1" if v == 0xFFFFFFFF else str(v)


@kind("oid")
def _k_oid(c: _Call, i: int) -> str:
    """A uid the call stores (getresuid): ``[0]``."""
    return _indirect(c, c.args[i], "<I", lambda v: "-1" if v == 0xFFFFFFFF else str(v))


def _groups(c: _Call, addr: int, n: int) -> str:
    if n > 65536 or n < 0:
        return _ptr(addr)
    return _array(c, addr, n, 4, lambda raw: _k_id_value(struct.unpack("<I", raw)[0]))


def _k_id_value(v: int) -> str:
    return "-1" if v == 0xFFFFFFFF else str(v)


@kind("groups")
def _k_groups(c: _Call, i: int) -> str:
    """setgroups' list; the previous argument is its length."""
    return _groups(c, c.args[i], _s32(c.args[i - 1]))


@kind("ogroups")
def _k_ogroups(c: _Call, i: int) -> str:
    """getgroups' list: as many as the call returned."""
    if not c.ok:
        return _ptr(c.args[i])
    return _groups(c, c.args[i], c.result)


@kind("ouintp")
def _k_ouintp(c: _Call, i: int) -> str:
    """An unsigned int the call stores, ``[0]``; NULL as NULL."""
    addr = c.args[i]
    if not addr:
        return "NULL"
    if not c.ok:
        return _ptr(addr)
    try:
        return f"[{c.unpack('<I', addr)[0]}]"
    except OSError:
        return _ptr(addr)


@kind("iintp")
def _k_iintp(c: _Call, i: int) -> str:
    """An int passed by pointer (sched_setparam's priority): ``[0]``."""
    addr = c.args[i]
    if not addr:
        return "NULL"
    try:
        return f"[{c.unpack('<i', addr)[0]}]"
    except OSError:
        return _ptr(addr)


@kind("ointp")
def _k_ointp(c: _Call, i: int) -> str:
    return _k_iintp(c, i) if c.ok else _ptr(c.args[i])


@kind("personality")
def _k_personality(c: _Call, i: int) -> str:
    v = c.args[i] & 0xFFFFFFFF
    if v == 0xFFFFFFFF:
        return "0xffffffff"
    out = PERSONALITY_TYPES.value(v & 0xFF)
    if v & ~0xFF:
        out += "|" + PERSONALITY_FLAGS.flags(v & ~0xFF, comment=False)
    return out


def _personality_result(c: _Call, r: int) -> str:
    v = r & 0xFFFFFFFF
    text = PERSONALITY_TYPES.value(v & 0xFF)
    if v & ~0xFF:
        text += "|" + PERSONALITY_FLAGS.flags(v & ~0xFF, comment=False)
    return f"{_hex(r)} ({text})"


RESULTS_CALL["personality"] = _personality_result


def _sched_result(c: _Call, r: int) -> str:
    name = SCHED_POLICIES.get(r)
    return f"{r} ({name})" if name else str(r)


RESULTS_CALL["schedpolicy"] = _sched_result


def _membarrier_result(c: _Call, r: int) -> str:
    if not r or c.args[0] & 0xFFFFFFFF:
        return str(r)
    return f"{_hex(r)} ({MEMBARRIER_CMDS.flags(r, comment=False)})"


RESULTS_CALL["membarrier"] = _membarrier_result


@kind("membarrierflags")
def _k_membarrierflags(c: _Call, i: int) -> str:
    return MEMBARRIER_FLAGS.flags(c.args[i] & 0xFFFFFFFF)


@kind("membarriercpu")
def _k_membarriercpu(c: _Call, i: int) -> str | None:
    return str(_s32(c.args[i])) if c.args[i - 1] & 1 else None


@kind("priowho")
def _k_priowho(c: _Call, i: int) -> str:
    return str(_s32(c.args[i]))


@kind("mknodmode")
def _k_mknodmode(c: _Call, i: int) -> str:
    from .fs import _mode
    return _mode(c.args[i] & 0xFFFF)


@kind("mknoddev")
def _k_mknoddev(c: _Call, i: int) -> str | None:
    """mknod's device, shown for character and block devices only."""
    from .base import _dev
    if c.args[i - 1] & 0o170000 in (0o20000, 0o60000):
        return _dev(c.args[i] & 0xFFFFFFFF)
    return None


@kind("waitidtype")
def _k_waitidtype(c: _Call, i: int) -> str:
    return WAITID_TYPES.value(c.args[i] & 0xFFFFFFFF)


@kind("waitidid")
def _k_waitidid(c: _Call, i: int) -> str:
    v = _s32(c.args[i])
    return c.fd(v) if c.args[i - 1] & 0xFFFFFFFF == 3 else str(v)  # P_PIDFD


@kind("openhow")
def _k_openhow(c: _Call, i: int) -> str:
    """openat2's struct open_how; the next argument is its size."""
    from .kinds import _open_flags
    from .base import _octal
    addr, size = c.args[i], c.args[i + 1]
    if size < 24:
        return _ptr(addr)
    if not addr:
        return "NULL"
    try:
        flags, mode, resolve = c.unpack("<QQQ", addr)
    except OSError:
        return _ptr(addr)
    out = f"{{flags={_open_flags(flags)}"
    if flags & (0o100 | 0o20000000) or mode:
        out += f", mode={_octal(mode)}"
    return out + f", resolve={RESOLVE_FLAGS.flags(resolve)}}}"


@kind("sethostname")
def _k_sethostname(c: _Call, i: int) -> str:
    n = c.args[i + 1] & 0xFFFFFFFF
    return _ptr(c.args[i]) if n > 64 else _buffer(c, c.args[i], n)


# --- NUMA memory policies ------------------------------------------------------

def _mpol_mode(v: int) -> str:
    flags = v & 0xE000
    mode = v & ~0xE000
    if not flags:
        return MPOL_MODES.value(mode)
    name = MPOL_MODES.get(mode)
    if name is None:
        return MPOL_MODE_FLAGS.flags(v)
    return f"{name}|{MPOL_MODE_FLAGS.flags(flags, comment=False)}"


@kind("mpolmode")
def _k_mpolmode(c: _Call, i: int) -> str:
    return _mpol_mode(c.args[i] & 0xFFFFFFFF)


@kind("ompolmode")
def _k_ompolmode(c: _Call, i: int) -> str:
    """get_mempolicy's mode: ``[MPOL_DEFAULT]``."""
    return _indirect(c, c.args[i], "<i", lambda v: MPOL_MODES.value(v & 0xFFFFFFFF))


def _nodemask(c: _Call, addr: int, maxnodes: int) -> str:
    nmemb = (maxnodes + 62) // 64 if maxnodes else 0
    if nmemb < maxnodes // 64 or (maxnodes and not nmemb):
        return _ptr(addr)
    return _array(c, addr, nmemb, 8, lambda raw: _0x(struct.unpack("<Q", raw)[0], 16))


@kind("nodemask")
def _k_nodemask(c: _Call, i: int) -> str:
    """A node mask; the next argument is its number of nodes."""
    return _nodemask(c, c.args[i], c.args[i + 1])


@kind("onodemask")
def _k_onodemask(c: _Call, i: int) -> str:
    return _nodemask(c, c.args[i], c.args[i + 1]) if c.ok else _ptr(c.args[i])


@kind("getmpolflags")
def _k_getmpolflags(c: _Call, i: int) -> str:
    return GET_MEMPOLICY_FLAGS.flags(c.args[i])


@kind("mincorevec")
def _k_mincorevec(c: _Call, i: int) -> str:
    """mincore's vector, one byte per page of the length (previous
    argument): ``[1, 0, ...]``."""
    if not c.ok:
        return _ptr(c.args[i])
    length = c.args[i - 1]
    pages = length // 4096 + (1 if length % 4096 else 0)
    return _array(c, c.args[i], pages, 1, lambda raw: str(raw[0] & 1))


# --- capabilities ------------------------------------------------------------

_CAP_V2, _CAP_V3 = 0x20071026, 0x20080522


def _capture_caphdr(args: tuple, i: int) -> list[tuple[int, int]]:
    return [(args[i], 8)] if args[i] else []


def _cap_header(c: _Call, addr: int) -> tuple[int, int] | None:
    if not addr:
        return None
    try:
        return struct.unpack("<Ii", c.before(addr, 8))
    except OSError:
        return None


@kind("caphdr", capture=_capture_caphdr)
def _k_caphdr(c: _Call, i: int) -> str:
    """capget/capset's header, as it was before the call (capget may store
    the version the kernel prefers)."""
    h = _cap_header(c, c.args[i])
    if h is None:
        return _ptr(c.args[i])
    return f"{{version={CAP_VERSIONS.value(h[0])}, pid={h[1]}}}"


def _cap_bits(lo: int, hi: int) -> str:
    out = CAP_MASK0.flags(lo) if lo or not hi else ""
    if hi:
        out += ("|" if lo else "") + CAP_MASK1.flags(hi)
    return out


def _cap_data(c: _Call, i: int, out: bool) -> str:
    addr = c.args[i]
    h = _cap_header(c, c.args[i - 1]) if not (out and not c.ok) else None
    if not addr or h is None:
        return _ptr(addr)
    n = 2 if h[0] in (_CAP_V2, _CAP_V3) else 1
    try:
        raw = c.read(addr, 12 * n)
    except OSError:
        return _ptr(addr)
    d = struct.unpack(f"<{3 * n}I", raw) + (0, 0, 0)
    return (f"{{effective={_cap_bits(d[0], d[3])}, permitted={_cap_bits(d[1], d[4])}, "
            f"inheritable={_cap_bits(d[2], d[5])}}}")


@kind("ocapdata")
def _k_ocapdata(c: _Call, i: int) -> str:
    return _cap_data(c, i, True)


@kind("capdata")
def _k_capdata(c: _Call, i: int) -> str:
    return _cap_data(c, i, False)
