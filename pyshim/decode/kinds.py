"""Argument kinds: how one argument (or the return value) prints.

Each kind takes the call and the register index and returns the text for
that argument, or None to print nothing for it.  Kinds are registered by
name in :data:`KINDS`; the table (table.py) names them.
"""

from __future__ import annotations

import importlib
import socket
import struct
from collections.abc import Callable

from .base import PATH_MAX, _0x, _U64, _hex, _octal, _ptr, _s32, _s64
from .xlat import (
    ACCESS_MODE, ADDRESS_FAMILIES, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_UNIX,
    ARCH_PRCTL_CODES, AT_FLAGS, CAPABILITIES, CLOCKS, CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID,
    CLONE_FLAGS, CLONE_INTO_CGROUP, CLONE_PARENT_SETTID, CLONE_PIDFD, CLONE_SETTLS,
    CLOSE_RANGE_FLAGS, CSIGNAL, DN_FLAGS, EFD_FLAGS, EPOLL_CTL_OPS, EPOLL_FLAGS, ETH_PROTOCOLS,
    FACCESSAT_FLAGS, FCNTL_CMDS, FD_FLAGS, FLOCK_OPS, FUTEX_CLOCK_REALTIME, FUTEX_OPS,
    FUTEX_PRIVATE_FLAG, FUTEX_WAKE_CMPS, FUTEX_WAKE_OPS, GETRANDOM_FLAGS,
    IP_PROTOCOLS, LEASES, MADVISE, MAP_FLAGS, MAP_HUGE_MASK,
    MAP_HUGE_SHIFT, MAP_TYPE, MFD_FLAGS, MREMAP_FIXED, MREMAP_FLAGS, MREMAP_MAYMOVE, MSG_FLAGS,
    MSYNC_FLAGS, NETLINK_PROTOCOLS, O_ACCMODE, O_CREAT, O_FLAGS, __O_TMPFILE, PR_DUMPABLE,
    PR_SET_VMA, PRCTL_OPTIONS, PROT, PTRACE_EVENTS, RENAME_FLAGS, RLIMITS, RUSAGE_WHO, SEALS,
    SECCOMP_MODES, SEEK, SHUTDOWN_HOW, SIG_HOW, SOCK_FLAGS, SOCK_TYPES, STATX_MASK, STATX_SYNC,
    SPLICE_FLAGS, TIMER_FLAGS, WAIT_OPTIONS, INOTIFY_FLAGS, INOTIFY_INIT_FLAGS, TIMERFD_FLAGS,
    SIGNALFD_FLAGS, FALLOC_FLAGS, SETNS_TYPES, MLOCKALL_FLAGS, MLOCK_FLAGS, UMOUNT_FLAGS,
    SYNC_FILE_RANGE_FLAGS, PIDFD_OPEN_FLAGS, UFFD_FLAGS, UNSHARE_FLAGS, MEMBARRIER_CMDS,
    PRIORITIES, ITIMERS, SCHED_POLICIES,
)
from .call import _Call, _buffer, _cstr, _indirect
from .text import _sigset, format_signal


Kind = Callable[[_Call, int], "str | None"]
KINDS: dict[str, Kind] = {}
Capture = Callable[[tuple, int], "list[tuple[int, int]]"]
CAPTURES: dict[str, Capture] = {}
"""Kinds that print memory as it was when the call was made (strace decodes
those on entry) and the call may change: kind name -> (args, index) ->
the (address, size) regions to copy before the call (see decode.capture)."""


def kind(*names: str, capture: Capture | None = None) -> Callable[[Kind], Kind]:
    def register(fn: Kind) -> Kind:
        for n in names:
            KINDS[n] = fn
            if capture is not None:
                CAPTURES[n] = capture
        return fn
    return register


# Kinds that are just a value table applied to the low 32 bits of a register.
_ENUM_KINDS = {
    "whence": SEEK, "madvise": MADVISE, "fcntlcmd": FCNTL_CMDS, "lease": LEASES,
    "domain": ADDRESS_FAMILIES, "shutdown": SHUTDOWN_HOW, "sighow": SIG_HOW, "clock": CLOCKS,
    "prctlopt": PRCTL_OPTIONS, "dumpable": PR_DUMPABLE, "setvma": PR_SET_VMA,
    "seccompmode": SECCOMP_MODES, "cap": CAPABILITIES, "archcode": ARCH_PRCTL_CODES,
    "rlimit": RLIMITS, "epollop": EPOLL_CTL_OPS, "rusagewho": RUSAGE_WHO,
    "membarriercmd": MEMBARRIER_CMDS, "priowhich": PRIORITIES, "itimerwhich": ITIMERS,
    "schedpolicy": SCHED_POLICIES,
}
_FLAG_KINDS = {
    "prot": PROT, "mremapflags": MREMAP_FLAGS, "msyncflags": MSYNC_FLAGS, "accmode": ACCESS_MODE,
    "atflags": AT_FLAGS, "faccessatflags": FACCESSAT_FLAGS, "statxmask": STATX_MASK,
    "renameflags": RENAME_FLAGS, "fdflags": FD_FLAGS, "seals": SEALS, "dnflags": DN_FLAGS,
    "flockop": FLOCK_OPS, "msgflags": MSG_FLAGS, "timerflags": TIMER_FLAGS,
    "grndflags": GETRANDOM_FLAGS, "waitopts": WAIT_OPTIONS, "closerangeflags": CLOSE_RANGE_FLAGS,
    "epollflags": EPOLL_FLAGS, "efdflags": EFD_FLAGS, "mfdflags": MFD_FLAGS,
    "sockflags": SOCK_FLAGS, "spliceflags": SPLICE_FLAGS,
    "oflags": O_FLAGS,  # O_* flags without an access mode (pipe2, dup3)
    "inotifymask": INOTIFY_FLAGS, "inotifyinitflags": INOTIFY_INIT_FLAGS,
    "tfdflags": TIMERFD_FLAGS, "sfdflags": SIGNALFD_FLAGS, "fallocflags": FALLOC_FLAGS,
    "setnstype": SETNS_TYPES, "mlockallflags": MLOCKALL_FLAGS, "mlockflags": MLOCK_FLAGS,
    "umountflags": UMOUNT_FLAGS, "syncfrflags": SYNC_FILE_RANGE_FLAGS,
    "pidfdflags": PIDFD_OPEN_FLAGS, "uffdflags": UFFD_FLAGS,
}
for _name, _table in _ENUM_KINDS.items():
    KINDS[_name] = lambda c, i, t=_table: t.value(c.args[i] & 0xFFFFFFFF)
for _name, _table in _FLAG_KINDS.items():
    KINDS[_name] = lambda c, i, t=_table: t.flags(c.args[i] & 0xFFFFFFFF)
KINDS["unshareflags"] = lambda c, i: UNSHARE_FLAGS.flags(c.args[i])


@kind("int")
def _k_int(c: _Call, i: int) -> str:
    return str(_s32(c.args[i]))


@kind("fd")
def _k_fd(c: _Call, i: int) -> str:
    """A descriptor: ``3``, with -y ``3</etc/passwd>``."""
    return c.fd(_s32(c.args[i]))


@kind("uint")
def _k_uint(c: _Call, i: int) -> str:
    return str(c.args[i] & 0xFFFFFFFF)


@kind("long")
def _k_long(c: _Call, i: int) -> str:
    return str(_s64(c.args[i]))


@kind("ulong", "size")
def _k_ulong(c: _Call, i: int) -> str:
    return str(c.args[i])


@kind("hex")
def _k_hex(c: _Call, i: int) -> str:
    return _hex(c.args[i])


@kind("ptr")
def _k_ptr(c: _Call, i: int) -> str:
    return _ptr(c.args[i])


@kind("octal")
def _k_octal(c: _Call, i: int) -> str:
    return _octal(c.args[i] & 0xFFFFFFFF)


@kind("dirfd")
def _k_dirfd(c: _Call, i: int) -> str:
    """A directory descriptor: ``AT_FDCWD`` or a descriptor."""
    return c.fd(_s32(c.args[i]))


@kind("path")
def _k_path(c: _Call, i: int) -> str:
    return _cstr(c, c.args[i], PATH_MAX - 1)


@kind("str")
def _k_str(c: _Call, i: int) -> str:
    return _cstr(c, c.args[i])


@kind("ostr")
def _k_ostr(c: _Call, i: int) -> str:
    """A string the call fills in."""
    return _cstr(c, c.args[i]) if c.ok else _ptr(c.args[i])


@kind("wbuf")
def _k_wbuf(c: _Call, i: int) -> str:
    """Data the call reads from the caller; the next argument is its size."""
    return _buffer(c, c.args[i], c.args[i + 1])


@kind("rbuf")
def _k_rbuf(c: _Call, i: int) -> str:
    """Data the call fills in; its size is the return value."""
    return _buffer(c, c.args[i], c.result) if c.ok else _ptr(c.args[i])


@kind("rbufhex")
def _k_rbufhex(c: _Call, i: int) -> str:
    """Like rbuf, every byte as \\xNN (strace does this for getrandom)."""
    return _buffer(c, c.args[i], c.result, force_hex=True) if c.ok else _ptr(c.args[i])


@kind("cwd")
def _k_cwd(c: _Call, i: int) -> str:
    """getcwd's buffer: a path whose length (with NUL) is the return value."""
    if not c.ok or c.result <= 0:
        return _ptr(c.args[i])
    return _cstr(c, c.args[i], min(c.result, PATH_MAX))


def _open_flags(v: int) -> str:
    """Access mode first, then the other O_* flags: ``O_RDONLY|O_CLOEXEC``."""
    v &= 0xFFFFFFFF
    mode, rest = O_ACCMODE.get(v & 3), v & ~3
    return f"{mode}|{O_FLAGS.flags(rest, comment=False)}" if rest else mode


@kind("openflags")
def _k_openflags(c: _Call, i: int) -> str:
    return _open_flags(c.args[i])


@kind("openmode")
def _k_openmode(c: _Call, i: int) -> str | None:
    """open's mode, shown only when the flags (previous argument) create a file."""
    if c.args[i - 1] & (O_CREAT | __O_TMPFILE):
        return _octal(c.args[i] & 0xFFFFFFFF)
    return None


@kind("mremapaddr")
def _k_mremapaddr(c: _Call, i: int) -> str | None:
    """mremap's new address, shown only with MREMAP_MAYMOVE|MREMAP_FIXED."""
    want = MREMAP_MAYMOVE | MREMAP_FIXED
    return _ptr(c.args[i]) if c.args[i - 1] & want == want else None


@kind("statxflags")
def _k_statxflags(c: _Call, i: int) -> str:
    v = c.args[i] & 0xFFFFFFFF
    sync, rest = STATX_SYNC.value(v & 0x6000), v & ~0x6000
    return f"{sync}|{AT_FLAGS.flags(rest)}" if rest else sync


@kind("mapflags")
def _k_mapflags(c: _Call, i: int) -> str:
    v = c.args[i] & 0xFFFFFFFF
    huge = v >> MAP_HUGE_SHIFT & MAP_HUGE_MASK
    out = MAP_FLAGS.value(v & MAP_TYPE)
    rest = v & ~MAP_TYPE & ~(MAP_HUGE_MASK << MAP_HUGE_SHIFT)
    if rest:
        out += "|" + MAP_FLAGS.flags(rest, comment=False)
    if huge:
        out += f"|{huge}<<MAP_HUGE_SHIFT"
    return out


@kind("sig")
def _k_sig(c: _Call, i: int) -> str:
    return format_signal(_s32(c.args[i]))


@kind("sigset")
def _k_sigset(c: _Call, i: int) -> str:
    addr = c.args[i]
    if not addr:
        return "NULL"
    try:
        return _sigset(c.unpack("<Q", addr)[0])
    except OSError:
        return _ptr(addr)


@kind("osigset")
def _k_osigset(c: _Call, i: int) -> str:
    return _k_sigset(c, i) if c.ok else _ptr(c.args[i])


def _timespec(c: _Call, addr: int) -> str:
    if not addr:
        return "NULL"
    try:
        sec, nsec = c.unpack("<qq", addr)
    except OSError:
        return _ptr(addr)
    return f"{{tv_sec={sec}, tv_nsec={nsec}}}"


@kind("timespec")
def _k_timespec(c: _Call, i: int) -> str:
    return _timespec(c, c.args[i])


@kind("otimespec")
def _k_otimespec(c: _Call, i: int) -> str:
    return _timespec(c, c.args[i]) if c.ok else _ptr(c.args[i])


def _rlim(v: int) -> str:
    if v == _U64:
        return "RLIM64_INFINITY"
    return f"{v // 1024}*1024" if v > 1024 and v % 1024 == 0 else str(v)


def _rlimit(c: _Call, addr: int) -> str:
    if not addr:
        return "NULL"
    try:
        cur, max_ = c.unpack("<QQ", addr)
    except OSError:
        return _ptr(addr)
    return f"{{rlim_cur={_rlim(cur)}, rlim_max={_rlim(max_)}}}"


@kind("rlim")
def _k_rlim(c: _Call, i: int) -> str:
    return _rlimit(c, c.args[i])


@kind("orlim")
def _k_orlim(c: _Call, i: int) -> str:
    return _rlimit(c, c.args[i]) if c.ok else _ptr(c.args[i])


@kind("utsname")
def _k_utsname(c: _Call, i: int) -> str:
    addr = c.args[i]
    if not c.ok:
        return _ptr(addr)
    try:
        raw = c.read(addr, 65 * 6)
    except OSError:
        return _ptr(addr)
    names = ("sysname", "nodename", "release", "version", "machine", "domainname")
    fields = [f"{n}={c.quote(raw[k * 65:k * 65 + 65].split(bytes(1), 1)[0])}"
              for k, n in enumerate(names)]
    if not c.opts.verbose:
        fields[2:] = ["..."]
    return "{" + ", ".join(fields) + "}"


@kind("pipefds")
def _k_pipefds(c: _Call, i: int) -> str:
    addr = c.args[i]
    if not c.ok:
        return _ptr(addr)
    try:
        a, b = c.unpack("<ii", addr)
    except OSError:
        return _ptr(addr)
    return f"[{c.fd(a)}, {c.fd(b)}]"


DIRENT_TYPES = ("DT_UNKNOWN", "DT_FIFO", "DT_CHR", None, "DT_DIR", None, "DT_BLK", None,
                "DT_REG", None, "DT_LNK", None, "DT_SOCK", None, "DT_WHT")


@kind("dirents")
def _k_dirents(c: _Call, i: int) -> str:
    """getdents64's buffer: ``0x... /* N entries */``; with -v the entries."""
    addr = c.args[i]
    if not c.ok or c.result > c.args[i + 1]:
        return _ptr(addr)
    try:
        data = c.read(addr, c.result)
    except OSError:
        return _ptr(addr)
    off = count = 0
    entries = []
    while off + 19 <= len(data):
        ino, doff, reclen, dtype = struct.unpack_from("<QqHB", data, off)
        count += 1
        if c.opts.verbose:
            name = data[off + 19:off + max(reclen, 19)].split(b"\0", 1)[0]
            kind_ = DIRENT_TYPES[dtype] if dtype < len(DIRENT_TYPES) else None
            entries.append(f"{{d_ino={ino}, d_off={doff}, d_reclen={reclen}, "
                           f"d_type={kind_ or _hex(dtype) + ' /* DT_??? */'}"
                           + (f", d_name={c.quote(name)}}}" if reclen > 19 else "}"))
        if reclen < 19 or reclen >= len(data) - off:
            break
        off += reclen
    if c.opts.verbose:
        return "[" + ", ".join(entries) + "]"
    return f"{_ptr(addr)} /* {count} entries */"


def _strings(c: _Call, addr: int) -> str:
    """strace's printargv: ``["ls", "-l"]``, at most -s elements unless -v."""
    if not addr:
        return "NULL"
    limit = None if c.opts.verbose else c.opts.strlen
    items = []
    n = 0
    while True:
        try:
            (p,) = c.unpack("<Q", addr + 8 * n)
        except OSError:
            if n == 0:
                return _ptr(addr)
            items.append(f"... /* {_ptr(addr + 8 * n)} */")
            break
        if not p:
            break
        if limit is not None and n >= limit:
            items.append("...")
            break
        items.append(_cstr(c, p))
        n += 1
    return "[" + ", ".join(items) + "]"


@kind("argv")
def _k_argv(c: _Call, i: int) -> str:
    """execve's argv: ``["ls", "-l"]``, at most 32 elements shown (-s)."""
    return _strings(c, c.args[i])


@kind("envp")
def _k_envp(c: _Call, i: int) -> str:
    """execve's envp: ``0x7ffd... /* 35 vars */``, the strings with -v."""
    addr = c.args[i]
    if not addr:
        return "NULL"
    if c.opts.verbose:
        return _strings(c, addr)
    n, end = 0, ""
    try:
        while c.unpack("<Q", addr + 8 * n)[0]:
            n += 1
    except OSError:
        if n == 0:
            return _ptr(addr)
        end = ", unterminated"
    return f"{_ptr(addr)} /* {n} var{'' if n == 1 else 's'}{end} */"


@kind("wstatus")
def _k_wstatus(c: _Call, i: int) -> str:
    """wait4's status, decoded like strace's printstatus()."""
    addr = c.args[i]
    if not c.ok or not c.result or not addr:
        return _ptr(addr)
    try:
        (st,) = c.unpack("<I", addr)
    except OSError:
        return _ptr(addr)
    if st & 0xFF == 0x7F:  # stopped
        sig = st >> 8 & 0xFF
        out = f"[{{WIFSTOPPED(s) && WSTOPSIG(s) == {format_signal(sig & 0x7F)}"
        out += " | 0x80}" if sig & 0x80 else "}"
        st &= ~0xFF7F
    elif st & 0x7F:  # killed by a signal
        core = " && WCOREDUMP(s)" if st & 0x80 else ""
        out = f"[{{WIFSIGNALED(s) && WTERMSIG(s) == {format_signal(st & 0x7F)}{core}}}"
        st &= ~0xFF
    elif st & 0xFFFF == 0xFFFF:
        out, st = "[{WIFCONTINUED(s)}", st & ~0xFFFF
    else:
        out = f"[{{WIFEXITED(s) && WEXITSTATUS(s) == {st >> 8 & 0xFF}}}"
        st &= ~0xFF00
    if st >> 16:
        out += f" | {PTRACE_EVENTS.value(st >> 16)} << 16"
        st &= 0xFFFF
    if st:
        out += f" | {_hex(st)}"
    return out + "]"


# --- sockets ---------------------------------------------------------------

@kind("socktype")
def _k_socktype(c: _Call, i: int) -> str:
    v = c.args[i] & 0xFFFFFFFF
    out = SOCK_TYPES.value(v & 0xF)
    if v & ~0xF:
        out += "|" + SOCK_FLAGS.flags(v & ~0xF)
    return out


@kind("sockproto")
def _k_sockproto(c: _Call, i: int) -> str:
    """socket's protocol, named according to the domain (argument 0)."""
    domain, proto = c.args[0] & 0xFFFFFFFF, c.args[i] & 0xFFFFFFFF
    if domain in (AF_INET, AF_INET6):
        return IP_PROTOCOLS.value(proto)
    if domain == AF_NETLINK:
        return NETLINK_PROTOCOLS.value(proto)
    if domain == AF_PACKET:
        return f"htons({ETH_PROTOCOLS.value(int.from_bytes(proto.to_bytes(2, 'little'), 'big'))})" \
            if proto <= 0xFFFF else str(proto)
    return str(_s32(proto))


def _sockaddr(c: _Call, raw: bytes) -> str:
    """A socket address of len(raw) bytes, as strace's print_sockaddr."""
    family = int.from_bytes(raw[:2], "little")
    out = f"{{sa_family={ADDRESS_FAMILIES.value(family)}"
    data = raw[2:]
    if not data:
        return out + "}"
    n = len(raw)
    if family == AF_UNIX:
        path = data[:108]
        if path[0]:
            out += f", sun_path={c.quote(path.partition(bytes(1))[0])}"
        else:
            out += f", sun_path=@{c.quote(path[1:])}"
    elif family == AF_INET and n >= 16:
        port, addr = int.from_bytes(raw[2:4], "big"), socket.inet_ntop(socket.AF_INET, raw[4:8])
        out += f", sin_port=htons({port}), sin_addr=inet_addr({c.quote(addr.encode())})"
    elif family == AF_INET6 and n >= 24:
        port, flow = int.from_bytes(raw[2:4], "big"), int.from_bytes(raw[4:8], "big")
        addr = socket.inet_ntop(socket.AF_INET6, raw[8:24])
        out += (f", sin6_port=htons({port}), sin6_flowinfo=htonl({flow}), "
                f"inet_pton(AF_INET6, {c.quote(addr.encode())}, &sin6_addr)")
        if n > 24:
            scope = int.from_bytes(raw[24:28].ljust(4, b"\0"), "little")
            out += f", sin6_scope_id={scope}"
    elif family == AF_NETLINK and n >= 12:
        pad, pid, groups = struct.unpack_from("<HII", raw, 2)
        if pad:
            out += f", nl_pad={_hex(pad)}"
        out += f", nl_pid={pid}, nl_groups={_0x(groups, 8)}"
    else:
        out += f", sa_data={c.quote(data)}"
    return out + "}"


def _sockaddr_at(c: _Call, addr: int, length: int) -> str:
    if not addr:
        return "NULL"
    if length < 2:
        return _ptr(addr)
    try:
        return _sockaddr(c, c.read(addr, min(length, 128)))
    except OSError:
        return _ptr(addr)


@kind("sockaddr")
def _k_sockaddr(c: _Call, i: int) -> str:
    """An address the caller passes; the next argument is its length."""
    return _sockaddr_at(c, c.args[i], _s32(c.args[i + 1]))


# --- process ----------------------------------------------------------------

@kind("cloneflags")
def _k_cloneflags(c: _Call, i: int) -> str:
    v = c.args[i]
    flags, sig = v & ~CSIGNAL, v & CSIGNAL
    if not flags:
        return format_signal(sig)
    out = CLONE_FLAGS.flags(flags)
    return f"{out}|{format_signal(sig)}" if sig else out


@kind("clone_ptid")
def _k_clone_ptid(c: _Call, i: int) -> str | None:
    if not c.args[0] & (CLONE_PARENT_SETTID | CLONE_PIDFD):
        return None
    return _indirect(c, c.args[i], "<i", str)


@kind("clone_tls")
def _k_clone_tls(c: _Call, i: int) -> str | None:
    return _ptr(c.args[i]) if c.args[0] & CLONE_SETTLS else None


@kind("clone_ctid")
def _k_clone_ctid(c: _Call, i: int) -> str | None:
    if c.args[0] & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID):
        return _ptr(c.args[i])
    return None


@kind("clone_args")
def _k_clone_args(c: _Call, i: int) -> str:
    """clone3's struct clone_args (the next argument is its size)."""
    addr, size = c.args[i], c.args[i + 1]
    if size < 64:
        return _ptr(addr)
    try:
        raw = c.read(addr, min(size, 88))
    except OSError:
        return _ptr(addr)
    f = struct.unpack_from(f"<{len(raw) // 8}Q", raw)
    flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls = f[:8]
    out = [f"flags={CLONE_FLAGS.flags(flags)}"]
    if flags & CLONE_PIDFD:
        out.append(f"pidfd={_ptr(pidfd)}")
    if flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID):
        out.append(f"child_tid={_ptr(child_tid)}")
    if flags & CLONE_PARENT_SETTID:
        out.append(f"parent_tid={_ptr(parent_tid)}")
    out.append(f"exit_signal={format_signal(exit_signal) if exit_signal < 2**31 - 1 else exit_signal}")
    out.append(f"stack={_ptr(stack)}")
    out.append(f"stack_size={_hex(stack_size)}")
    if flags & CLONE_SETTLS:
        out.append(f"tls={_ptr(tls)}")
    if len(f) >= 10 and (f[8] or f[9]):
        out.append(f"set_tid={_ptr(f[8])}, set_tid_size={f[9]}")
    if len(f) >= 11 and (f[10] or flags & CLONE_INTO_CGROUP):
        out.append(f"cgroup={f[10]}")
    return "{" + ", ".join(out) + "}"


@kind("osig")
def _k_osig(c: _Call, i: int) -> str:
    return _indirect(c, c.args[i], "<i", format_signal)


@kind("ouint")
def _k_ouint(c: _Call, i: int) -> str:
    return _indirect(c, c.args[i], "<I", str)


@kind("okptr")
def _k_okptr(c: _Call, i: int) -> str:
    return _indirect(c, c.args[i], "<Q", _ptr)


@kind("ptracer")
def _k_ptracer(c: _Call, i: int) -> str:
    pid = _s32(c.args[i])
    return "PR_SET_PTRACER_ANY" if pid == -1 else str(pid)


# --- futex -----------------------------------------------------------------

@kind("futexop")
def _k_futexop(c: _Call, i: int) -> str:
    op = c.args[i] & 0xFFFFFFFF
    cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
    if cmd >= len(FUTEX_OPS):
        return f"{_hex(op)} /* FUTEX_??? */"
    out = FUTEX_OPS[cmd] + ("_PRIVATE" if op & FUTEX_PRIVATE_FLAG else "")
    return out + ("|FUTEX_CLOCK_REALTIME" if op & FUTEX_CLOCK_REALTIME else "")


@kind("bitset")
def _k_bitset(c: _Call, i: int) -> str:
    v = c.args[i] & 0xFFFFFFFF
    return "FUTEX_BITSET_MATCH_ANY" if v == 0xFFFFFFFF else _hex(v)


@kind("wakeop")
def _k_wakeop(c: _Call, i: int) -> str:
    v = c.args[i] & 0xFFFFFFFF
    shift = "FUTEX_OP_OPARG_SHIFT<<28|" if v >> 28 & 8 else ""
    return (f"{shift}{FUTEX_WAKE_OPS.value(v >> 28 & 7)}<<28|{_hex(v >> 12 & 0xFFF)}<<12|"
            f"{FUTEX_WAKE_CMPS.value(v >> 24 & 0xF)}<<24|{_hex(v & 0xFFF)}")


# --------------------------------------------------------------------------
# Return value kinds (after "->" in a spec).  Errors are handled before these.
# --------------------------------------------------------------------------

RESULTS_CALL: dict[str, Callable[[_Call, int], str]] = {}
"""Return value kinds that need the call (its memory, its options); the
modules of structures add theirs."""

RESULTS: dict[str, Callable[[int], str]] = {
    "int": str,
    "hex": lambda r: _hex(r & _U64),  # addresses: unsigned
    "octal": _octal,
    "getfd": lambda r: f"{_hex(r)} (flags {FD_FLAGS.flags(r)})" if r else "0",
    "getfl": lambda r: f"{_hex(r)} (flags {_open_flags(r)})",
    "getlease": lambda r: f"{_hex(r)} ({LEASES.value(r)})",
    "getseals": lambda r: f"{_hex(r)} (seals {SEALS.flags(r)})" if r else "0",
    "getsig": lambda r: f"{r} ({format_signal(r)})" if r else "0",
    "poll": lambda r: f"{r} (Timeout)" if r == 0 else str(r),
    "dumpable": lambda r: f"{r} ({PR_DUMPABLE.get(r)})" if PR_DUMPABLE.get(r) else str(r),
}


RESULTS_CALL["fd"] = lambda c, r: c.fd(r)
RESULTS_CALL["getsig"] = lambda c, r: RESULTS["getsig"](r)

# Kinds for structures, one module per family; each registers its kinds here
# when imported (so after KINDS and kind exist).
for _family in ("fs", "io", "net", "proc", "sig", "time"):
    importlib.import_module(f".{_family}", __package__)
