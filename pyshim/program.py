"""Checks made before a program is started: where it is, whether pyshim can
supervise it, whether this kernel can."""
from __future__ import annotations

import os
import struct

from pyshim.errors import CannotSupervise, ProgramNotFound, StaticProgram, UnsupportedKernel

_PT_INTERP = 3
_EM_X86_64 = 62
MIN_KERNEL = (5, 11)


def resolve(prog: str, env: dict[str, str] | None = None) -> str:
    """The path a shell would run for `prog` (PATH search without a slash)."""
    if "/" in prog:
        if not os.path.exists(prog):
            raise ProgramNotFound(f"{prog}: no such file")
        if os.path.isdir(prog):
            raise CannotSupervise(f"{prog}: is a directory")
        return prog
    path = (env if env is not None else os.environ).get("PATH", os.defpath)
    for directory in path.split(os.pathsep):
        # An empty entry means the current directory, as for a shell.
        candidate = os.path.join(directory, prog)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    raise ProgramNotFound(f"{prog}: command not found")


def check_supervisable(path: str, _depth: int = 0) -> None:
    """Raises CannotSupervise when `path` (or the interpreter of a #! script)
    is a static or non-x86-64 program, which LD_PRELOAD cannot reach
    (StaticProgram, a CannotSupervise, for a static one)."""
    try:
        with open(path, "rb") as f:
            head = f.read(256)
            if head.startswith(b"#!") and _depth < 4:
                interp = head[2:].split(b"\n", 1)[0].strip().split()
                if interp:
                    check_supervisable(os.fsdecode(interp[0]), _depth + 1)
                return
            if not head.startswith(b"\x7fELF"):
                return  # not ELF: let exec report what it is
            _check_elf(f, path, head)
    except PermissionError:
        return  # exec will say so
    except FileNotFoundError:
        raise ProgramNotFound(f"{path}: no such file") from None


def _check_elf(f, path: str, head: bytes) -> None:
    if head[4] != 2 or head[5] != 1:
        raise CannotSupervise(f"{path} is not a 64-bit little-endian program; "
                              "pyshim supervises x86-64 programs only")
    (machine,) = struct.unpack_from("<H", head, 18)
    if machine != _EM_X86_64:
        raise CannotSupervise(f"{path} is not an x86-64 program (ELF machine {machine}); "
                              "pyshim supervises x86-64 programs only")
    phoff, = struct.unpack_from("<Q", head, 32)
    phentsize, phnum = struct.unpack_from("<HH", head, 54)
    f.seek(phoff)
    table = f.read(phentsize * phnum)
    for i in range(phnum):
        (p_type,) = struct.unpack_from("<I", table, i * phentsize)
        if p_type == _PT_INTERP:
            return
    raise StaticProgram(
        f"{path} is statically linked: pyshim enters a program through "
        "LD_PRELOAD, which the dynamic loader applies, and a static program "
        "has no dynamic loader")


def parse_release(release: str) -> tuple[int, int]:
    parts = release.split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


def check_kernel(release: str | None = None, machine: str | None = None) -> None:
    """Raises UnsupportedKernel unless this is x86-64 Linux >= 5.11 (Syscall
    User Dispatch)."""
    uname = os.uname()
    release = uname.release if release is None else release
    machine = uname.machine if machine is None else machine
    if machine != "x86_64":
        raise UnsupportedKernel(f"pyshim runs on x86-64 only, this machine is {machine}")
    if parse_release(release) < MIN_KERNEL:
        raise UnsupportedKernel(
            f"Linux {release} lacks Syscall User Dispatch; pyshim needs Linux "
            f"{MIN_KERNEL[0]}.{MIN_KERNEL[1]} or newer")
