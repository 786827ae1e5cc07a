"""Checks made before a program is started: where it is, whether pyshim can
supervise it, whether this kernel can."""
from __future__ import annotations

import os

from pyshim.errors import CannotSupervise, ProgramNotFound, StaticProgram, UnsupportedKernel

_PT_INTERP = 3
_EM_X86_64 = 62
MIN_KERNEL = (5, 11)


def resolve(prog: str, env: dict[str, str] | None = None) -> str:
    """The path a shell would run for `prog` (PATH search without a slash)."""
    return resolve_and_stat(prog, env)[0]


def resolve_and_stat(prog: str, env: dict[str, str] | None = None):
    """resolve(), and the path's stat when it took one (else None), for
    check_supervisable: a run asks both, and a stat costs up to 18 us cold."""
    if "/" in prog:
        try:
            st = os.stat(prog)  # one stat, not exists() and isdir()
        except (OSError, ValueError):
            raise ProgramNotFound(f"{prog}: no such file") from None
        if st.st_mode & 0o170000 == 0o040000:  # S_ISDIR, without importing stat
            raise CannotSupervise(f"{prog}: is a directory")
        return prog, st
    path = (env if env is not None else os.environ).get("PATH", os.defpath)
    for directory in path.split(os.pathsep):
        # An empty entry means the current directory, as for a shell.
        candidate = os.path.join(directory, prog)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate, None
    raise ProgramNotFound(f"{prog}: command not found")


def check_supervisable(path: str, _depth: int = 0, st: os.stat_result | None = None) -> None:
    """Raises CannotSupervise when `path` (or the interpreter of a #! script)
    is a static or non-x86-64 program, which LD_PRELOAD cannot reach
    (StaticProgram, a CannotSupervise, for a static one).  Every run and
    every exec asks: the answer for a file is kept while the file stays
    the same (device, inode, size, mtime and ctime), so asking again costs
    one stat instead of an open, two reads and a close (none when `st`,
    the path's stat a moment ago, is given)."""
    try:
        st = st or os.stat(path)
    except FileNotFoundError:
        raise ProgramNotFound(f"{path}: no such file") from None
    except OSError:
        return  # exec will say why
    identity = _identity(st)
    kept = _examined.get(path)
    if kept is not None and kept[0] == identity:
        outcome = kept[1]
    else:
        outcome, read = _examine(path)
        if read is not None:  # kept for the file it read, which may not be the one stat saw
            if len(_examined) >= _EXAMINED_MAX:
                _examined.clear()
            _examined[path] = (read, outcome)
    if outcome is None:
        return
    if isinstance(outcome, str):  # a script: its interpreter decides
        if _depth < 4:
            check_supervisable(outcome, _depth + 1)
        return
    kind, message = outcome
    raise kind(message)


# path -> (identity, outcome of _examine); bounded, cleared when full.
_examined: dict[str, tuple] = {}
_EXAMINED_MAX = 256


def _identity(st: os.stat_result) -> tuple:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _examine(path: str):
    """(outcome, identity of the file read or None): what the file at
    `path` is to pyshim: None (supervisable, or not a program at all: exec
    will say), the interpreter of a #! script, or the (exception class,
    message) that check_supervisable raises."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # no file object: every exec asks
    except PermissionError:
        return None, None  # exec will say so
    except FileNotFoundError:
        return (ProgramNotFound, f"{path}: no such file"), None
    except OSError:
        return None, None
    try:
        read = _identity(os.fstat(fd))  # before the reads: a later write moves ctime
        return _examine_fd(fd, path), read
    finally:
        os.close(fd)


def _examine_fd(fd: int, path: str):
    try:
        head = os.pread(fd, 256, 0)
        if head.startswith(b"#!"):
            interp = head[2:].split(b"\n", 1)[0].strip().split()
            return os.fsdecode(interp[0]) if interp else None
        if not head.startswith(b"\x7fELF"):
            return None  # not ELF: let exec report what it is
        return _check_elf(fd, path, head)
    except IsADirectoryError:
        return None  # exec will say so


def _u(data: bytes, at: int, size: int) -> int:
    """The little-endian unsigned field of `size` bytes at `at` (0 past
    the end: a truncated header reads as no program headers)."""
    return int.from_bytes(data[at:at + size], "little")


def _check_elf(fd: int, path: str, head: bytes):
    """None for a dynamic x86-64 program, else (exception class, message)."""
    if head[4] != 2 or head[5] != 1:
        return CannotSupervise, (f"{path} is not a 64-bit little-endian program; "
                                 "pyshim supervises x86-64 programs only")
    machine = _u(head, 18, 2)
    if machine != _EM_X86_64:
        return CannotSupervise, (f"{path} is not an x86-64 program (ELF machine {machine}); "
                                 "pyshim supervises x86-64 programs only")
    phoff, phentsize, phnum = _u(head, 32, 8), _u(head, 54, 2), _u(head, 56, 2)
    table = os.pread(fd, phentsize * phnum, phoff)
    for i in range(phnum):
        if _u(table, i * phentsize, 4) == _PT_INTERP:
            return None
    return StaticProgram, (
        f"{path} is statically linked: pyshim enters a program through "
        "LD_PRELOAD, which the dynamic loader applies, and a static program "
        "has no dynamic loader")


def parse_release(release: str) -> tuple[int, int]:
    parts = release.split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


_kernel_checked = False


def check_kernel(release: str | None = None, machine: str | None = None) -> None:
    """Raises UnsupportedKernel unless this is x86-64 Linux >= 5.11 (Syscall
    User Dispatch).  This machine's answer is kept: the kernel does not
    change under a process."""
    global _kernel_checked
    mine = release is None and machine is None
    if mine and _kernel_checked:
        return
    if release is None or machine is None:
        uname = os.uname()
        release = uname.release if release is None else release
        machine = uname.machine if machine is None else machine
    if machine != "x86_64":
        raise UnsupportedKernel(f"pyshim runs on x86-64 only, this machine is {machine}")
    if parse_release(release) < MIN_KERNEL:
        raise UnsupportedKernel(
            f"Linux {release} lacks Syscall User Dispatch; pyshim needs Linux "
            f"{MIN_KERNEL[0]}.{MIN_KERNEL[1]} or newer")
    if mine:
        _kernel_checked = True
