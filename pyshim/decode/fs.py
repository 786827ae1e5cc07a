"""Kinds for the structures of files: struct stat, statx, statfs, extended
attributes (registered in :data:`KINDS` on import)."""

from __future__ import annotations

import struct

from .base import _dev, _hex, _octal, _ptr, _time_comment
from .call import _Call, _buffer
from .kinds import kind
from .xlat import (
    FADVISE, FS_MAGIC, MODE_TYPES, S_IFMT, STATFS_FLAGS, STATX_ATTRS, STATX_MASK, XATTR_FLAGS,
)

_S_IFCHR, _S_IFBLK = 0o20000, 0o60000
_STAT = struct.Struct("<QQQIII4xQqqq" + "qQ" * 3 + "24x")  # struct stat, 144 bytes
_STATX = struct.Struct("<IIQIIIH2xQQQQ" + "qIi" * 4 + "IIIIQII96x")  # 256 bytes
_STATFS = struct.Struct("<qqQQQQQiiqqq32x")  # struct statfs, 120 bytes
XATTR_SIZE_MAX = 65536


def _mode(mode: int) -> str:
    """strace's print_symbolic_mode_t: ``S_IFREG|0644``, ``S_IFDIR|S_ISVTX|0777``."""
    ifmt = ""
    if mode & S_IFMT:
        ifmt = MODE_TYPES.get(mode & S_IFMT)
        if ifmt is None:
            return _octal(mode)
    out = [ifmt] if ifmt else []
    out += [n for bit, n in ((0o4000, "S_ISUID"), (0o2000, "S_ISGID"), (0o1000, "S_ISVTX"))
            if mode & bit]
    out.append(_octal(mode & 0o777))
    return "|".join(out)


def _out(c: _Call, addr: int, size: int) -> bytes | None:
    """A structure the call filled in: None (print the pointer) when the
    call failed or the memory cannot be read."""
    if not addr or not c.ok:
        return None
    try:
        return c.read(addr, size)
    except OSError:
        return None


def _stat_text(c: _Call, raw: bytes) -> str:
    (dev, ino, nlink, mode, uid, gid, rdev, size, blksize, blocks,
     atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns) = _STAT.unpack(raw)
    verbose = c.opts.verbose
    out = []
    if verbose:
        out += [f"st_dev={_dev(dev)}", f"st_ino={ino}", f"st_mode={_mode(mode)}",
                f"st_nlink={nlink}", f"st_uid={uid}", f"st_gid={gid}",
                f"st_blksize={blksize}", f"st_blocks={blocks}"]
    else:
        out.append(f"st_mode={_mode(mode)}")
    if mode & S_IFMT in (_S_IFCHR, _S_IFBLK):
        out.append(f"st_rdev={_dev(rdev)}")
    else:
        out.append(f"st_size={size}")
    if verbose:
        for name, sec, ns in (("atime", atime, atime_ns), ("mtime", mtime, mtime_ns),
                              ("ctime", ctime, ctime_ns)):
            out.append(f"st_{name}={sec}{_time_comment(sec, ns)}")
            out.append(f"st_{name}_nsec={ns}")
    else:
        out.append("...")
    return "{" + ", ".join(out) + "}"


@kind("stat")
def _k_stat(c: _Call, i: int) -> str:
    """A struct stat the call fills in (stat, fstat, lstat, newfstatat)."""
    raw = _out(c, c.args[i], _STAT.size)
    return _ptr(c.args[i]) if raw is None else _stat_text(c, raw)


def _statx_ts(sec: int, nsec: int) -> str:
    return f"{{tv_sec={sec}, tv_nsec={nsec}}}{_time_comment(sec, nsec)}"


@kind("statx")
def _k_statx(c: _Call, i: int) -> str:
    raw = _out(c, c.args[i], _STATX.size)
    if raw is None:
        return _ptr(c.args[i])
    (mask, blksize, attrs, nlink, uid, gid, mode, ino, size, blocks, attrs_mask,
     a_s, a_ns, _, b_s, b_ns, _, c_s, c_ns, _, m_s, m_ns, _,
     rdev_major, rdev_minor, dev_major, dev_minor, mnt_id, dio_mem, dio_off) = _STATX.unpack(raw)
    full = c.opts.verbose
    out = [f"stx_mask={STATX_MASK.flags(mask)}"]
    if full:
        out.append(f"stx_blksize={blksize}")
    out.append(f"stx_attributes={STATX_ATTRS.flags(attrs)}")
    if full:
        if mask & 0x4:
            out.append(f"stx_nlink={nlink}")
        if mask & 0x8:
            out.append(f"stx_uid={_id(uid)}")
        if mask & 0x10:
            out.append(f"stx_gid={_id(gid)}")
    if mask & 0x3:
        out.append(f"stx_mode={_mode(mode)}")
    if full and mask & 0x100:
        out.append(f"stx_ino={ino}")
    if mask & 0x200:
        out.append(f"stx_size={size}")
    if full:
        if mask & 0x400:
            out.append(f"stx_blocks={blocks}")
        out.append(f"stx_attributes_mask={STATX_ATTRS.flags(attrs_mask)}")
        for bit, name, sec, ns in ((0x20, "atime", a_s, a_ns), (0x800, "btime", b_s, b_ns),
                                   (0x80, "ctime", c_s, c_ns), (0x40, "mtime", m_s, m_ns)):
            if mask & bit:
                out.append(f"stx_{name}={_statx_ts(sec, ns)}")
        out += [f"stx_rdev_major={rdev_major}", f"stx_rdev_minor={rdev_minor}",
                f"stx_dev_major={dev_major}", f"stx_dev_minor={dev_minor}"]
        if mask & 0x1000:
            out.append(f"stx_mnt_id={_hex(mnt_id)}")
        if mask & 0x2000:
            out += [f"stx_dio_mem_align={dio_mem}", f"stx_dio_offset_align={dio_off}"]
    else:
        out.append("...")
    return "{" + ", ".join(out) + "}"


def _id(v: int) -> str:
    """A uid or gid: ``-1`` for (unsigned) -1, else unsigned."""
    return "-1" if v == 0xFFFFFFFF else str(v)


@kind("statfs")
def _k_statfs(c: _Call, i: int) -> str:
    raw = _out(c, c.args[i], _STATFS.size)
    if raw is None:
        return _ptr(c.args[i])
    (ftype, bsize, blocks, bfree, bavail, files, ffree, fsid0, fsid1,
     namelen, frsize, flags) = _STATFS.unpack(raw)
    u = lambda v: str(v & 0xFFFFFFFFFFFFFFFF)  # noqa: E731 - strace prints them unsigned
    out = (f"{{f_type={FS_MAGIC.value(ftype & 0xFFFFFFFFFFFFFFFF, comment=False)}, "
           f"f_bsize={u(bsize)}, f_blocks={blocks}, f_bfree={bfree}, f_bavail={bavail}, "
           f"f_files={files}, f_ffree={ffree}, "
           f"f_fsid={{val=[{_hex(fsid0 & 0xFFFFFFFF)}, {_hex(fsid1 & 0xFFFFFFFF)}]}}, "
           f"f_namelen={u(namelen)}, f_frsize={u(frsize)}")
    if flags & 0x20:  # ST_VALID
        out += f", f_flags={STATFS_FLAGS.flags(flags & 0xFFFFFFFFFFFFFFFF)}"
    return out + "}"


# --- extended attributes ------------------------------------------------

@kind("xattrflags")
def _k_xattrflags(c: _Call, i: int) -> str:
    return XATTR_FLAGS.flags(c.args[i] & 0xFFFFFFFF)


def _xattr_value(c: _Call, addr: int, size: int) -> str:
    """print_xattr_val: the value (at most -s bytes, a NUL at its end left
    out), or the pointer for sizes past XATTR_SIZE_MAX."""
    if size > XATTR_SIZE_MAX:
        return _ptr(addr)
    if not addr:
        return "NULL"
    limit = c.opts.strlen
    try:
        data = c.read(addr, min(size, limit + 1))
    except OSError:
        return _ptr(addr)
    data = data[:limit]
    if data.endswith(b"\0") and not c.opts.xflag:  # QUOTE_OMIT_TRAILING_0
        data = data[:-1]
    return c.quote(data, size > limit)


@kind("xattrval")
def _k_xattrval(c: _Call, i: int) -> str:
    """setxattr's value; the next argument is its size."""
    return _xattr_value(c, c.args[i], c.args[i + 1])


@kind("oxattrval")
def _k_oxattrval(c: _Call, i: int) -> str:
    """getxattr's value: as many bytes as the call returned."""
    size = c.result if c.ok else XATTR_SIZE_MAX + 1
    return _xattr_value(c, c.args[i], size)


@kind("xattrlist")
def _k_xattrlist(c: _Call, i: int) -> str:
    """listxattr's list of NUL-terminated names."""
    addr, size = c.args[i], c.args[i + 1]
    if not size or not c.ok:
        return _ptr(addr)
    return _buffer(c, addr, c.result)


@kind("fadvice")
def _k_fadvice(c: _Call, i: int) -> str:
    return FADVISE.value(c.args[i] & 0xFFFFFFFF)
