"""Kinds for sockets: socket addresses with their lengths, struct msghdr,
socket options (registered in :data:`KINDS` on import)."""

from __future__ import annotations

import struct

from .base import _hex, _ptr, _s32
from .call import _Call, _array, _buffer
from .kinds import _sockaddr_at, kind
from .xlat import (
    _ERRNO_NAMES, IP_OPTIONS, IPV6_OPTIONS, MSG_FLAGS, NETLINK_OPTIONS, SCM_TYPES,
    SO_ERROR, SO_INT_OPTIONS, SO_LINGER, SO_OPTIONS, SO_PEERCRED, SOCKET_LEVELS, SOL_IP,
    SOL_IPV6, SOL_NETLINK, SOL_SOCKET, SOL_TCP, TCP_OPTIONS,
)

_MSGHDR = struct.Struct("<QI4xQQQQi4x")  # name, namelen, iov, iovlen, control, controllen, flags


def _capture_int(args: tuple, i: int) -> list[tuple[int, int]]:
    return [(args[i], 4)] if args[i] else []


def _len_text(c: _Call, addr: int) -> tuple[int, int] | None:
    """(length before the call, length after) of an int the call updates."""
    try:
        (now,) = struct.unpack("<i", c.read(addr, 4))
        (then,) = struct.unpack("<i", c.before(addr, 4))
    except OSError:
        return None
    return then, now


def _changed(then: int, now: int) -> str:
    return f"[{now}]" if then == now else f"[{then} => {now}]"


@kind("osockaddr")
def _k_osockaddr(c: _Call, i: int) -> str:
    """An address the call fills in; the next argument points to its length
    (accept, getsockname, recvfrom): as long as the shorter of the lengths
    before and after the call."""
    addr, lenp = c.args[i], c.args[i + 1]
    if not c.ok or not addr or not lenp:
        return _ptr(addr)
    lens = _len_text(c, lenp)
    if lens is None:
        return _ptr(addr)
    return _sockaddr_at(c, addr, min(lens))


@kind("olen", capture=_capture_int)
def _k_olen(c: _Call, i: int) -> str:
    """A socket address length the call updates: ``[16]``, ``[110 => 2]``;
    the pointer itself when there is no address (the previous argument)."""
    addr = c.args[i]
    if not c.args[i - 1] or not addr:
        return _ptr(addr)
    lens = _len_text(c, addr)
    if lens is None:
        return _ptr(addr)
    if not c.ok:
        return f"[{lens[0]}]"
    return _changed(*lens)


# --- msghdr ------------------------------------------------------------------

def _cmsgs(c: _Call, addr: int, length: int) -> str:
    """msg_control: ``[{cmsg_len=20, cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS,
    cmsg_data=[3]}]``."""
    size = min(length, 20480)  # net.core.optmem_max
    if size < 16:
        return _ptr(addr)
    try:
        buf = c.read(addr, size)
    except OSError:
        return _ptr(addr)
    out, off, left = [], 0, size
    while left >= 16:
        clen, level, ctype = struct.unpack_from("<Qii", buf, off)
        take = min(clen, left)
        data = buf[off + 16:off + take] if take > 16 else b""
        text = f"{{cmsg_len={clen}, cmsg_level={SOCKET_LEVELS.value(level & 0xFFFFFFFF)}, cmsg_type="
        if level == SOL_SOCKET:
            text += SCM_TYPES.value(ctype & 0xFFFFFFFF)
            if ctype == 1 and len(data) >= 4:  # SCM_RIGHTS
                fds = struct.unpack_from(f"<{len(data) // 4}i", data)
                text += f", cmsg_data=[{', '.join(c.fd(fd) for fd in fds)}]"
            elif ctype == 2 and len(data) >= 12:  # SCM_CREDENTIALS
                pid, uid, gid = struct.unpack_from("<iII", data)
                text += f", cmsg_data={{pid={pid}, uid={_id(uid)}, gid={_id(gid)}}}"
        elif level == SOL_IP:
            text += IP_OPTIONS.value(ctype & 0xFFFFFFFF)
        else:
            text += _hex(ctype & 0xFFFFFFFF)
        out.append(text + "}")
        if take < 16:
            left -= 16
            break
        step = (clen + 7) & ~7
        if step >= left:
            left = 0
            break
        off += step
        left -= step
    if left:
        out.append(f"... /* {_ptr(addr + size - left)} */")
    elif size < length:
        out.append("...")
    return "[" + ", ".join(out) + "]"


def _id(v: int) -> str:
    return "-1" if v == 0xFFFFFFFF else str(v)


def _msghdr(c: _Call, raw: bytes, namelen_before: int | None, budget: int | None) -> str:
    name, namelen, iov, iovlen, control, controllen, flags = _MSGHDR.unpack(raw)
    namelen = _s32(namelen)
    shown_len = namelen
    if namelen_before is not None and namelen > namelen_before:
        shown_len = namelen_before
    out = [f"msg_name={_sockaddr_at(c, name, shown_len)}"]
    if namelen_before is not None and namelen_before != namelen:
        out.append(f"msg_namelen={namelen_before} => {namelen}")
    else:
        out.append(f"msg_namelen={namelen}")
    from .io import _iovec
    out.append(f"msg_iov={_iovec(c, iov, iovlen, budget, True)}")
    out.append(f"msg_iovlen={iovlen}")
    if controllen:
        out.append(f"msg_control={_cmsgs(c, control, controllen)}")
    out.append(f"msg_controllen={controllen}")
    out.append(f"msg_flags={MSG_FLAGS.flags(flags & 0xFFFFFFFF)}")
    return "{" + ", ".join(out) + "}"


@kind("msghdr")
def _k_msghdr(c: _Call, i: int) -> str:
    """sendmsg's message."""
    addr = c.args[i]
    try:
        raw = c.read(addr, _MSGHDR.size) if addr else None
    except OSError:
        raw = None
    return _ptr(addr) if raw is None else _msghdr(c, raw, None, None)


def _capture_msghdr(args: tuple, i: int) -> list[tuple[int, int]]:
    return [(args[i], _MSGHDR.size)] if args[i] else []


@kind("omsghdr", capture=_capture_msghdr)
def _k_omsghdr(c: _Call, i: int) -> str:
    """recvmsg's message: what it received (``{msg_namelen=N}`` alone if
    it failed)."""
    addr = c.args[i]
    if not addr or c.result is None:
        return _ptr(addr)
    try:
        raw = c.read(addr, _MSGHDR.size)
        before = c.before(addr, _MSGHDR.size)
    except OSError:
        return _ptr(addr)
    namelen_before = _s32(struct.unpack_from("<I", before, 8)[0])
    if not c.ok:
        return f"{{msg_namelen={namelen_before}}}"
    return _msghdr(c, raw, namelen_before, c.result)


# --- socket options ------------------------------------------------------------

_LEVEL_NAMES = {SOL_SOCKET: SO_OPTIONS, SOL_IP: IP_OPTIONS, SOL_IPV6: IPV6_OPTIONS,
                SOL_TCP: TCP_OPTIONS, SOL_NETLINK: NETLINK_OPTIONS}


@kind("socklevel")
def _k_socklevel(c: _Call, i: int) -> str:
    return SOCKET_LEVELS.value(c.args[i] & 0xFFFFFFFF)


@kind("sockoptname")
def _k_sockoptname(c: _Call, i: int) -> str:
    """The option name, named after the level (the previous argument)."""
    level, name = c.args[i - 1] & 0xFFFFFFFF, c.args[i] & 0xFFFFFFFF
    table = _LEVEL_NAMES.get(level)
    if level == SOL_SOCKET and name == 26:
        return "SO_GET_FILTER" if c.nr == 55 else "SO_ATTACH_FILTER"
    return table.value(name) if table is not None else str(name)


def _int_at(c: _Call, addr: int) -> str:
    try:
        return f"[{c.unpack('<i', addr)[0]}]"
    except OSError:
        return _ptr(addr)


@kind("setsockoptval")
def _k_setsockoptval(c: _Call, i: int) -> str:
    """setsockopt's value; the next argument is its length."""
    addr, length = c.args[i], _s32(c.args[i + 1])
    level, name = c.args[1] & 0xFFFFFFFF, c.args[2] & 0xFFFFFFFF
    if not addr:
        return "NULL"
    if level == SOL_SOCKET and name == SO_LINGER:
        return _linger(c, addr, length)
    if (level == SOL_SOCKET and name in SO_INT_OPTIONS) or level == SOL_NETLINK:
        return _ptr(addr) if length < 4 else _int_at(c, addr)
    if length == 4:
        return _int_at(c, addr)
    return _buffer(c, addr, length) if length >= 0 else _ptr(addr)


def _linger(c: _Call, addr: int, length: int) -> str:
    if length < 8:
        return _ptr(addr) if length <= 0 else _buffer(c, addr, length, force_hex=True)
    try:
        onoff, linger = c.unpack("<ii", addr)
    except OSError:
        return _ptr(addr)
    return f"{{l_onoff={onoff}, l_linger={linger}}}"


@kind("getsockoptval")
def _k_getsockoptval(c: _Call, i: int) -> str:
    """getsockopt's value, as long as the length it returned (the next
    argument points to it)."""
    addr, lenp = c.args[i], c.args[i + 1]
    if not c.ok or not lenp:
        return _ptr(addr)
    lens = _len_text(c, lenp)
    if lens is None:
        return _ptr(addr)
    ulen, rlen = lens
    if ulen <= 0 or rlen <= 0 or not addr:
        return _ptr(addr)
    level, name = c.args[1] & 0xFFFFFFFF, c.args[2] & 0xFFFFFFFF
    if level == SOL_SOCKET:
        if name == SO_LINGER:
            return _linger(c, addr, min(rlen, 8))
        if name == SO_PEERCRED:
            try:
                pid, uid, gid = c.unpack("<iII", addr)
            except OSError:
                return _ptr(addr)
            return f"{{pid={pid}, uid={_id(uid)}, gid={_id(gid)}}}"
        if name == SO_ERROR:
            if rlen < 4:
                return _buffer(c, addr, rlen, force_hex=True)
            try:
                (err,) = c.unpack("<I", addr)
            except OSError:
                return _ptr(addr)
            return f"[{_ERRNO_NAMES.get(err, str(err)) if err else 0}]"
        if name in SO_INT_OPTIONS:
            return _int_at(c, addr) if rlen >= 4 else _buffer(c, addr, rlen, force_hex=True)
    if level == SOL_NETLINK:
        if name == 9:  # NETLINK_LIST_MEMBERSHIPS
            return _array(c, addr, min(ulen, rlen) // 4, 4,
                          lambda raw: str(struct.unpack("<I", raw)[0]))
        return _int_at(c, addr)
    return _int_at(c, addr) if rlen == 4 else _buffer(c, addr, rlen)


@kind("getsockoptlen", capture=_capture_int)
def _k_getsockoptlen(c: _Call, i: int) -> str:
    addr = c.args[i]
    if not addr:
        return "NULL"
    lens = _len_text(c, addr)
    if lens is None:
        return _ptr(addr)
    if not c.ok:
        return f"[{lens[0]}]"
    return _changed(*lens)


# --- sendmmsg, recvmmsg ------------------------------------------------------

_MMSGHDR = 64
IOV_MAX = 1024


def _mmsgvec(c: _Call, addr: int, vlen: int, msg_len_vlen: int, use_msg_len: bool,
             count: int = IOV_MAX) -> str:
    left = [count, msg_len_vlen]
    k = [0]

    def show(raw: bytes) -> str:
        if not left[0]:
            return "..."
        left[0] -= 1
        (msg_len,) = struct.unpack_from("<I", raw, 56)
        before = None
        if use_msg_len and c.entry is not None:
            old = c.entry.get(addr + k[0] * _MMSGHDR)
            if old is not None:
                before = _s32(struct.unpack_from("<I", old, 8)[0])
        k[0] += 1
        text = "{msg_hdr=" + _msghdr(c, raw[:56], before, msg_len if use_msg_len else None)
        if left[1]:
            text += f", msg_len={msg_len}"
            left[1] -= 1
        return text + "}"

    return _array(c, addr, vlen, _MMSGHDR, show)


@kind("mmsgvec")
def _k_mmsgvec(c: _Call, i: int) -> str:
    """sendmmsg's messages; the next argument is their number."""
    if c.result is None:
        return _ptr(c.args[i])
    vlen = c.args[i + 1] & 0xFFFFFFFF
    return _mmsgvec(c, c.args[i], vlen, c.result if c.ok else 0, False)


def _capture_mmsg(args: tuple, i: int) -> list[tuple[int, int]]:
    n = min(args[i + 1] & 0xFFFFFFFF, IOV_MAX)
    return [(args[i] + k * _MMSGHDR, _MMSGHDR) for k in range(n)] if args[i] else []


@kind("ommsgvec", capture=_capture_mmsg)
def _k_ommsgvec(c: _Call, i: int) -> str:
    """recvmmsg's messages: as many as the call received."""
    if not c.ok:
        return _ptr(c.args[i])
    count = min(c.args[i + 1] & 0xFFFFFFFF, IOV_MAX)
    return _mmsgvec(c, c.args[i], c.result, c.result, True, count)
