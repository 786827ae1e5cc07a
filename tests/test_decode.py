"""Tests for pyshim.decode (strace-style formatting) and pyshim.syscalls.

Most tests feed format_call() raw registers and a fake memory.  The tests at
the end compare against real strace: a child Python process issues syscalls
through ctypes, records the raw registers, result and a snapshot of its
buffers after each call; the same process runs under strace; every line we
format from a record must appear verbatim in strace's output.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FakeMem
from pyshim import decode, syscalls
from pyshim.decode import errno_text, format_call, format_signal
from pyshim.syscalls import NUMBERS

ROOT = Path(__file__).resolve().parent.parent
U64 = (1 << 64) - 1


_LINE = re.compile(r"^(.*\))\s+= (.*)$")


def u(v: int) -> int:
    """A register value: negative ints as the kernel sees them, unsigned."""
    return v & U64


# Addresses used by the table-driven tests.
PATH, PATH2, BUF, BUF2, BAD = 0x1000, 0x2000, 0x3000, 0x4000, 0xDEAD0000
LONG_STR = b"0123456789abcdef0123456789ABCDEFxyz"  # 35 bytes


def mem(**extra: bytes) -> FakeMem:
    regions = {PATH: b"/etc/passwd\0", PATH2: b"/tmp/new\0"}
    for key, data in extra.items():
        regions[{"buf": BUF, "buf2": BUF2}[key]] = data
    return FakeMem(regions)


def call(name: str, *args: int, result: int | None = 0, m: FakeMem | None = None) -> str:
    regs = tuple(u(a) for a in args) + (0,) * (6 - len(args))
    return format_call(NUMBERS[name], regs, result, m if m is not None else mem())


def sigmask(*sigs: int) -> bytes:
    return struct.pack("<Q", sum(1 << (s - 1) for s in sigs))


# --------------------------------------------------------------------------
# Table-driven cases: (name, args, result, memory, expected line)
# --------------------------------------------------------------------------

O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND = 1, 2, 0o100, 0o1000, 0o2000
O_NONBLOCK, O_DIRECTORY, O_CLOEXEC, O_TMPFILE = 0o4000, 0o200000, 0o2000000, 0o20200000
AT_FDCWD = -100
SIGINT, SIGKILL, SIGTERM, SIGCHLD = 2, 9, 15, 17

CASES = [
    # open / openat
    ("openat", (AT_FDCWD, PATH, O_CLOEXEC), 3, None,
     'openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3'),
    ("openat", (AT_FDCWD, PATH, 0), -2, None,
     'openat(AT_FDCWD, "/etc/passwd", O_RDONLY) = -1 ENOENT (No such file or directory)'),
    ("openat", (AT_FDCWD, PATH, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o640), 3,
     None, 'openat(AT_FDCWD, "/etc/passwd", O_WRONLY|O_CREAT|O_TRUNC|O_APPEND|O_CLOEXEC, 0640) = 3'),
    ("openat", (3, PATH, 0, 0o777), 4, None,  # mode ignored without O_CREAT
     'openat(3, "/etc/passwd", O_RDONLY) = 4'),
    ("openat", (AT_FDCWD, PATH, O_RDWR | O_TMPFILE, 0o600), 4, None,
     'openat(AT_FDCWD, "/etc/passwd", O_RDWR|O_TMPFILE, 0600) = 4'),
    ("openat", (AT_FDCWD, PATH, 0o20000000, 0o600), -22, None,
     'openat(AT_FDCWD, "/etc/passwd", O_RDONLY|__O_TMPFILE, 0600) = -1 EINVAL (Invalid argument)'),
    ("openat", (AT_FDCWD, PATH, 0o40000000), 5, None,
     'openat(AT_FDCWD, "/etc/passwd", O_RDONLY|0x800000) = 5'),
    ("openat", (3, PATH, 3), -20, None,
     'openat(3, "/etc/passwd", O_ACCMODE) = -1 ENOTDIR (Not a directory)'),
    ("openat", (AT_FDCWD, PATH, O_DIRECTORY | O_CLOEXEC), 6, None,
     'openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC|O_DIRECTORY) = 6'),
    ("openat", (AT_FDCWD, BAD, 0), -14, None,
     "openat(AT_FDCWD, 0xdead0000, O_RDONLY) = -1 EFAULT (Bad address)"),
    ("open", (PATH, 0), 3, None, 'open("/etc/passwd", O_RDONLY) = 3'),
    ("open", (PATH, O_RDWR | O_CREAT, 0o644), 3, None, 'open("/etc/passwd", O_RDWR|O_CREAT, 0644) = 3'),
    ("open", (0, 0), -14, None, "open(NULL, O_RDONLY) = -1 EFAULT (Bad address)"),
    # read / write and friends
    ("write", (1, BUF, 6), 6, mem(buf=b"hello\n"), 'write(1, "hello\\n", 6) = 6'),
    ("write", (1, BUF, 35), 35, mem(buf=LONG_STR),
     'write(1, "0123456789abcdef0123456789ABCDEF"..., 35) = 35'),
    ("write", (1, BUF, 32), 32, mem(buf=LONG_STR),
     'write(1, "0123456789abcdef0123456789ABCDEF", 32) = 32'),
    ("write", (1, BUF, 21), 21, mem(buf=b'a\0b\1\x0712\x7f\xff\x80\t\r\n\v\f"\\ end'),
     r'write(1, "a\0b\1\00712\177\377\200\t\r\n\v\f\"\\ end", 21) = 21'),
    ("write", (1, BUF, 2), 2, mem(buf=b"\x001"), r'write(1, "\0001", 2) = 2'),
    ("write", (1, BUF, 8), 8, mem(buf=b"\x008\x009\x007\x01\x02"),
     r'write(1, "\08\09\0007\1\2", 8) = 8'),
    ("write", (1, BUF, 7), 7, mem(buf=b"\x1b[0m\xe2\x82\xac"), r'write(1, "\33[0m\342\202\254", 7) = 7'),
    # the digit after the 32nd byte is not looked at
    ("write", (1, BUF, 33), 33, mem(buf=b"x" * 31 + b"\x012"),
     r'write(1, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\1"..., 33) = 33'),
    ("write", (1, BUF, 0), 0, mem(), 'write(1, "", 0) = 0'),
    ("write", (99, 0, 10), -9, None, "write(99, NULL, 10) = -1 EBADF (Bad file descriptor)"),
    ("write", (1, 8, 10), -14, None, "write(1, 0x8, 10) = -1 EFAULT (Bad address)"),
    ("write", (1, BUF, 6), -512, mem(buf=b"hello\n"),
     'write(1, "hello\\n", 6) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)'),
    ("read", (3, BUF, 4096), 6, mem(buf=b"hello\nworld"), 'read(3, "hello\\n", 4096) = 6'),
    ("read", (3, BUF, 4096), 35, mem(buf=LONG_STR),
     'read(3, "0123456789abcdef0123456789ABCDEF"..., 4096) = 35'),
    ("read", (3, BUF, 4096), 0, mem(buf=b""), 'read(3, "", 4096) = 0'),
    ("read", (99, BUF, 5), -9, mem(buf=b"junk!"), "read(99, 0x3000, 5) = -1 EBADF (Bad file descriptor)"),
    ("read", (0, BUF, 5), None, mem(buf=b"junk!"), "read(0, 0x3000, 5) = ?"),
    ("read", (3, BAD, 5), 5, None, "read(3, 0xdead0000, 5) = 5"),
    ("pread64", (3, BUF, 784, 64), 3, mem(buf=b"\6\0\0"), r'pread64(3, "\6\0\0", 784, 64) = 3'),
    ("pwrite64", (3, BUF, 3, 100), 3, mem(buf=b"abc"), 'pwrite64(3, "abc", 3, 100) = 3'),
    ("close", (3,), 0, None, "close(3) = 0"),
    ("close", (-1,), -9, None, "close(-1) = -1 EBADF (Bad file descriptor)"),
    ("lseek", (3, 5, 2), 5, None, "lseek(3, 5, SEEK_END) = 5"),
    ("lseek", (3, -5, 1), 10, None, "lseek(3, -5, SEEK_CUR) = 10"),
    ("lseek", (0, 0, 7), -22, None, "lseek(0, 0, 0x7 /* SEEK_??? */) = -1 EINVAL (Invalid argument)"),
    # stat family: structures print as pointers
    ("stat", (PATH, BUF), 0, None, 'stat("/etc/passwd", 0x3000) = 0'),
    ("lstat", (PATH, BUF), 0, None, 'lstat("/etc/passwd", 0x3000) = 0'),
    ("fstat", (3, BUF), 0, None, "fstat(3, 0x3000) = 0"),
    ("newfstatat", (3, PATH, BUF, 0x1000), 0, None, 'newfstatat(3, "/etc/passwd", 0x3000, AT_EMPTY_PATH) = 0'),
    ("statx", (AT_FDCWD, PATH, 0, 0x7FF, BUF), 0, None,
     'statx(AT_FDCWD, "/etc/passwd", AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS, 0x3000) = 0'),
    ("statx", (AT_FDCWD, PATH, 0x900, 0xFFF, BUF), 0, None,
     'statx(AT_FDCWD, "/etc/passwd", AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW|AT_NO_AUTOMOUNT, '
     "STATX_ALL, 0x3000) = 0"),
    ("statx", (5, PATH, 0x2000, 1, BUF), 0, None,
     'statx(5, "/etc/passwd", AT_STATX_FORCE_SYNC, STATX_TYPE, 0x3000) = 0'),
    # access
    ("access", (PATH, 4 | 1), -13, None, 'access("/etc/passwd", R_OK|X_OK) = -1 EACCES (Permission denied)'),
    ("access", (PATH, 0), 0, None, 'access("/etc/passwd", F_OK) = 0'),
    ("access", (PATH, 0x10), -22, None, 'access("/etc/passwd", 0x10 /* ?_OK */) = -1 EINVAL (Invalid argument)'),
    ("faccessat", (AT_FDCWD, PATH, 7), 0, None, 'faccessat(AT_FDCWD, "/etc/passwd", R_OK|W_OK|X_OK) = 0'),
    ("faccessat2", (AT_FDCWD, PATH, 7, 0x200), 0, None,
     'faccessat2(AT_FDCWD, "/etc/passwd", R_OK|W_OK|X_OK, AT_EACCESS) = 0'),
    # links, directories
    ("readlink", (PATH, BUF, 4096), 5, mem(buf=b"/tmp/"), 'readlink("/etc/passwd", "/tmp/", 4096) = 5'),
    ("readlinkat", (AT_FDCWD, PATH, BUF, 100), 35, mem(buf=LONG_STR),
     'readlinkat(AT_FDCWD, "/etc/passwd", "0123456789abcdef0123456789ABCDEF"..., 100) = 35'),
    ("readlinkat", (AT_FDCWD, PATH, BUF, 100), -2, mem(buf=LONG_STR),
     'readlinkat(AT_FDCWD, "/etc/passwd", 0x3000, 100) = -1 ENOENT (No such file or directory)'),
    ("unlink", (PATH2,), 0, None, 'unlink("/tmp/new") = 0'),
    ("unlinkat", (AT_FDCWD, PATH2, 0x200), 0, None, 'unlinkat(AT_FDCWD, "/tmp/new", AT_REMOVEDIR) = 0'),
    ("unlinkat", (AT_FDCWD, PATH2, 0), 0, None, 'unlinkat(AT_FDCWD, "/tmp/new", 0) = 0'),
    ("unlinkat", (AT_FDCWD, PATH2, 0x99), -22, None,
     'unlinkat(AT_FDCWD, "/tmp/new", 0x99 /* AT_??? */) = -1 EINVAL (Invalid argument)'),
    ("mkdir", (PATH2, 0o755), 0, None, 'mkdir("/tmp/new", 0755) = 0'),
    ("mkdirat", (AT_FDCWD, PATH2, 0o1777), 0, None, 'mkdirat(AT_FDCWD, "/tmp/new", 01777) = 0'),
    ("mkdirat", (3, PATH2, 0), 0, None, 'mkdirat(3, "/tmp/new", 000) = 0'),
    ("rmdir", (PATH2,), -39, None, 'rmdir("/tmp/new") = -1 ENOTEMPTY (Directory not empty)'),
    ("chdir", (PATH2,), 0, None, 'chdir("/tmp/new") = 0'),
    ("getcwd", (BUF, 4096), 5, mem(buf=b"/tmp\0"), 'getcwd("/tmp", 4096) = 5'),
    ("getcwd", (BUF, 1), -34, mem(buf=b"/tmp\0"),
     "getcwd(0x3000, 1) = -1 ERANGE (Numerical result out of range)"),
    ("rename", (PATH, PATH2), 0, None, 'rename("/etc/passwd", "/tmp/new") = 0'),
    ("renameat", (AT_FDCWD, PATH, 4, PATH2), 0, None, 'renameat(AT_FDCWD, "/etc/passwd", 4, "/tmp/new") = 0'),
    ("renameat2", (AT_FDCWD, PATH, AT_FDCWD, PATH2, 1), -17, None,
     'renameat2(AT_FDCWD, "/etc/passwd", AT_FDCWD, "/tmp/new", RENAME_NOREPLACE) = -1 EEXIST (File exists)'),
    ("renameat2", (AT_FDCWD, PATH, AT_FDCWD, PATH2, 8), -22, None,
     'renameat2(AT_FDCWD, "/etc/passwd", AT_FDCWD, "/tmp/new", 0x8 /* RENAME_?? */) = '
     "-1 EINVAL (Invalid argument)"),
    ("getdents64", (3, BUF, 4096), 48,
     mem(buf=b"".join(struct.pack("<QqHB", 1, 1, 24, 4) + b".\0\0\0\0" for _ in range(2))),
     "getdents64(3, 0x3000 /* 2 entries */, 4096) = 48"),
    ("getdents64", (3, BUF, 4096), 0, mem(buf=b""), "getdents64(3, 0x3000 /* 0 entries */, 4096) = 0"),
    ("getdents64", (99, BUF, 4096), -9, None, "getdents64(99, 0x3000, 4096) = -1 EBADF (Bad file descriptor)"),
    # descriptors
    ("dup", (3,), 4, None, "dup(3) = 4"),
    ("dup2", (3, 20), 20, None, "dup2(3, 20) = 20"),
    ("dup3", (3, 21, O_CLOEXEC), 21, None, "dup3(3, 21, O_CLOEXEC) = 21"),
    ("dup3", (3, 21, 0), 21, None, "dup3(3, 21, 0) = 21"),
    ("pipe2", (BUF, O_NONBLOCK | O_CLOEXEC), 0, mem(buf=struct.pack("<ii", 3, 4)),
     "pipe2([3, 4], O_NONBLOCK|O_CLOEXEC) = 0"),
    ("pipe2", (BUF, 0), -24, mem(buf=struct.pack("<ii", 3, 4)),
     "pipe2(0x3000, 0) = -1 EMFILE (Too many open files)"),
    ("fcntl", (3, 1), 1, None, "fcntl(3, F_GETFD) = 0x1 (flags FD_CLOEXEC)"),
    ("fcntl", (3, 1), 0, None, "fcntl(3, F_GETFD) = 0"),
    ("fcntl", (3, 2, 1), 0, None, "fcntl(3, F_SETFD, FD_CLOEXEC) = 0"),
    ("fcntl", (3, 3), 0x8401, None, "fcntl(3, F_GETFL) = 0x8401 (flags O_WRONLY|O_APPEND|O_LARGEFILE)"),
    ("fcntl", (3, 4, O_NONBLOCK | O_APPEND), 0, None, "fcntl(3, F_SETFL, O_RDONLY|O_APPEND|O_NONBLOCK) = 0"),
    ("fcntl", (3, 1030, 10), 11, None, "fcntl(3, F_DUPFD_CLOEXEC, 10) = 11"),
    ("fcntl", (3, 0, 0), 4, None, "fcntl(3, F_DUPFD, 0) = 4"),
    ("fcntl", (3, 6, BUF), 0, None, "fcntl(3, F_SETLK, 0x3000) = 0"),
    ("fcntl", (3, 9999, 5), -22, None, "fcntl(3, 0x270f /* F_??? */, 0x5) = -1 EINVAL (Invalid argument)"),
    ("ioctl", (1, 0x5401, BUF), -25, None, "ioctl(1, TCGETS, 0x3000) = -1 ENOTTY (Inappropriate ioctl for device)"),
    ("ioctl", (1, 0x5413, BUF), 0, None, "ioctl(1, TIOCGWINSZ, 0x3000) = 0"),
    ("ioctl", (1, 0x12345678, BUF), -25, None,
     "ioctl(1, _IOC(_IOC_NONE, 0x56, 0x78, 0x1234), 0x3000) = -1 ENOTTY (Inappropriate ioctl for device)"),
    ("ioctl", (1, 0xC0186201, BUF), -25, None,
     "ioctl(1, _IOC(_IOC_READ|_IOC_WRITE, 0x62, 0x1, 0x18), 0x3000) = -1 ENOTTY (Inappropriate ioctl for device)"),
    ("ioctl", (6, 0x5451, 0), 0, None, "ioctl(6, FIOCLEX) = 0"),
    # memory
    ("mmap", (0, 8192, 3, 0x22, -1, 0), 0x7F26EB297000, None,
     "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f26eb297000"),
    ("mmap", (0x7F26EB0D2000, 1400832, 5, 0x812, 3, 0x26000), 0x7F26EB0D2000, None,
     "mmap(0x7f26eb0d2000, 1400832, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x26000)"
     " = 0x7f26eb0d2000"),
    ("mmap", (0, 4096, 7, 0x22 | 16 << 26, -1, 0), 0x7F0000000000, None,
     "mmap(NULL, 4096, PROT_READ|PROT_WRITE|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS|16<<MAP_HUGE_SHIFT, -1, 0)"
     " = 0x7f0000000000"),
    ("mmap", (0, 4096, 0, 0x22, -1, 0), 0x7F0000000000, None,
     "mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000"),
    ("mmap", (0, 4096, 0x10, 0x400000, -1, 0), -9, None,
     "mmap(NULL, 4096, 0x10 /* PROT_??? */, MAP_FILE|0x400000, -1, 0) = -1 EBADF (Bad file descriptor)"),
    ("mmap", (0, 1 << 50, 3, 0x22, -1, 0), -12, None,
     "mmap(NULL, 1125899906842624, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)"
     " = -1 ENOMEM (Cannot allocate memory)"),
    ("mprotect", (0x7F26EB27B000, 16384, 1), 0, None, "mprotect(0x7f26eb27b000, 16384, PROT_READ) = 0"),
    ("mprotect", (0, 4096, 0x1000001), -12, None,
     "mprotect(NULL, 4096, PROT_READ|PROT_GROWSDOWN) = -1 ENOMEM (Cannot allocate memory)"),
    ("munmap", (0x7F26EB28E000, 34547), 0, None, "munmap(0x7f26eb28e000, 34547) = 0"),
    ("brk", (0,), 0x5640D04C0000, None, "brk(NULL) = 0x5640d04c0000"),
    ("mmap", (0, 4096, 1, 2, 3, 0), 0xFFFFFFFFFF600000, None,  # a "negative" address
     "mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 3, 0) = 0xffffffffff600000"),
    ("brk", (0x5640D04E1000,), 0x5640D04E1000, None, "brk(0x5640d04e1000) = 0x5640d04e1000"),
    ("madvise", (BUF, 4096, 4), 0, None, "madvise(0x3000, 4096, MADV_DONTNEED) = 0"),
    ("madvise", (BUF, 4096, 999), -22, None,
     "madvise(0x3000, 4096, 0x3e7 /* MADV_??? */) = -1 EINVAL (Invalid argument)"),
    # sockets
    ("socket", (2, 1 | 0o2000000 | 0o4000, 0), 5, None,
     "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 5"),
    ("socket", (2, 2, 17), 5, None, "socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP) = 5"),
    ("socket", (10, 2 | 0o2000000, 0), 6, None, "socket(AF_INET6, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 6"),
    ("socket", (1, 1 | 0o2000000, 0), 7, None, "socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 7"),
    ("socket", (16, 3, 0), 8, None, "socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) = 8"),
    ("socket", (17, 3, 0x300), 9, None, "socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) = 9"),
    ("socket", (99, 1, 6), -97, None,
     "socket(0x63 /* AF_??? */, SOCK_STREAM, 6) = -1 EAFNOSUPPORT (Address family not supported by protocol)"),
    ("socket", (1, 99, 0), -22, None,
     "socket(AF_UNIX, SOCK_RAW|0x60 /* SOCK_??? */, 0) = -1 EINVAL (Invalid argument)"),
    ("connect", (7, BUF, 20), -2, mem(buf=struct.pack("<H", 1) + b"/nonexistent/sock\0"),
     'connect(7, {sa_family=AF_UNIX, sun_path="/nonexistent/sock"}, 20) = -1 ENOENT (No such file or directory)'),
    ("connect", (7, BUF, 11), -111, mem(buf=struct.pack("<H", 1) + b"\0abstract"),
     'connect(7, {sa_family=AF_UNIX, sun_path=@"abstract"}, 11) = -1 ECONNREFUSED (Connection refused)'),
    ("connect", (5, BUF, 16), -115,
     mem(buf=struct.pack("<H", 2) + struct.pack(">H", 9) + bytes([127, 0, 0, 1]) + bytes(8)),
     'connect(5, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr("127.0.0.1")}, 16) = '
     "-1 EINPROGRESS (Operation now in progress)"),
    ("bind", (6, BUF, 28), 0,
     mem(buf=struct.pack("<H", 10) + struct.pack(">HI", 0, 0) + bytes(15) + b"\1" + bytes(4)),
     'bind(6, {sa_family=AF_INET6, sin6_port=htons(0), sin6_flowinfo=htonl(0), '
     'inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0'),
    ("connect", (3, BUF, 12), 0, mem(buf=struct.pack("<HHII", 16, 0, 0, 0)),
     "connect(3, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 0"),
    ("connect", (3, BAD, 16), -14, None, "connect(3, 0xdead0000, 16) = -1 EFAULT (Bad address)"),
    ("getsockname", (5, BUF, BUF2), 0,
     mem(buf=struct.pack("<H", 2) + struct.pack(">H", 80) + bytes([10, 0, 0, 1]) + bytes(8),
         buf2=struct.pack("<i", 16)),
     'getsockname(5, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("10.0.0.1")}, [16]) = 0'),
    ("getpeername", (5, BUF, BUF2), -107, mem(buf2=struct.pack("<i", 16)),
     "getpeername(5, 0x3000, [16]) = -1 ENOTCONN (Transport endpoint is not connected)"),
    ("accept4", (8, BUF, BUF2, 0o2000000), -11, mem(buf2=struct.pack("<i", 16)),
     "accept4(8, 0x3000, [16], SOCK_CLOEXEC) = -1 EAGAIN (Resource temporarily unavailable)"),
    ("sendto", (3, BUF, 5, 0x40, 0, 0), 5, mem(buf=b"ping\n"), 'sendto(3, "ping\\n", 5, MSG_DONTWAIT, NULL, 0) = 5'),
    ("recvfrom", (4, BUF, 100, 0, 0, 0), 5, mem(buf=b"ping\n"), 'recvfrom(4, "ping\\n", 100, 0, NULL, NULL) = 5'),
    ("recvfrom", (4, BUF, 100, 0x40, 0, 0), -11, mem(buf=b"ping\n"),
     "recvfrom(4, 0x3000, 100, MSG_DONTWAIT, NULL, NULL) = -1 EAGAIN (Resource temporarily unavailable)"),
    # processes
    ("execve", (PATH, BUF, BUF2), -2,
     FakeMem({PATH: b"/bin/true\0", 0x5000: b"/bin/true\0", 0x5100: b"a b\0", 0x5200: b"x" * 40 + b"\0",
              BUF: struct.pack("<4Q", 0x5000, 0x5100, 0x5200, 0),
              BUF2: struct.pack("<3Q", 0x5100, 0x5100, 0)}),
     'execve("/bin/true", ["/bin/true", "a b", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"...], 0x4000 /* 2 vars */)'
     " = -1 ENOENT (No such file or directory)"),
    ("execve", (PATH, BUF, BUF2), 0,
     FakeMem({PATH: b"/bin/true\0", BUF: struct.pack("<2Q", 0x706D742F, 0), BUF2: struct.pack("<2Q", BUF, 0)}),
     'execve("/bin/true", [0x706d742f], 0x4000 /* 1 var */) = 0'),
    ("execve", (PATH, 0, 0), -14, None, 'execve("/etc/passwd", NULL, NULL) = -1 EFAULT (Bad address)'),
    ("execve", (PATH, BAD, BAD), -14, None, 'execve("/etc/passwd", 0xdead0000, 0xdead0000) = -1 EFAULT (Bad address)'),
    ("exit_group", (0,), None, None, "exit_group(0) = ?"),
    ("exit", (u(-1),), None, None, "exit(-1) = ?"),
    ("clone", (0x1200000 | SIGCHLD, 0, 0, 0x7F9D4EA35A10, 0), 12345, None,
     "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, "
     "child_tidptr=0x7f9d4ea35a10) = 12345"),
    ("clone", (0x100 | 0x4000 | SIGCHLD, 0x7FFD0000, 0, 0, 0), 42, None,
     "clone(child_stack=0x7ffd0000, flags=CLONE_VM|CLONE_VFORK|SIGCHLD) = 42"),
    ("clone", (SIGCHLD,), 42, None, "clone(child_stack=NULL, flags=SIGCHLD) = 42"),
    ("clone", (0,), 42, None, "clone(child_stack=NULL, flags=0) = 42"),
    ("clone", (0x3D0F00, 0x7F0000001000, BUF, 0x7F0000002000, 0x7F0000003000), 43,
     mem(buf=struct.pack("<i", 43)),
     "clone(child_stack=0x7f0000001000, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|"
     "CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, parent_tid=[43], "
     "tls=0x7f0000003000, child_tidptr=0x7f0000002000) = 43"),
    ("clone3", (BUF, 88), 44,
     mem(buf=struct.pack("<11Q", 0x4100, 0, 0, 0, SIGCHLD, 0x7F0000000000, 0x9000, 0, 0, 0, 0)),
     "clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD, stack=0x7f0000000000, stack_size=0x9000}, 88)"
     " = 44"),
    ("wait4", (2923, BUF, 0, 0), 2923, mem(buf=struct.pack("<I", 3 << 8)),
     "wait4(2923, [{WIFEXITED(s) && WEXITSTATUS(s) == 3}], 0, NULL) = 2923"),
    ("wait4", (-1, BUF, 0x40000000, 0), 7, mem(buf=struct.pack("<I", SIGKILL)),
     "wait4(-1, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}], __WALL, NULL) = 7"),
    ("wait4", (-1, BUF, 0, 0), 7, mem(buf=struct.pack("<I", 0x80 | 11)),
     "wait4(-1, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}], 0, NULL) = 7"),
    ("wait4", (-1, BUF, 2, 0), 7, mem(buf=struct.pack("<I", 4 << 16 | 5 << 8 | 0x7F)),
     "wait4(-1, [{WIFSTOPPED(s) && WSTOPSIG(s) == SIGTRAP} | PTRACE_EVENT_EXEC << 16], WSTOPPED, NULL) = 7"),
    ("wait4", (-1, BUF, 1, 0), 0, mem(buf=struct.pack("<I", 0)), "wait4(-1, 0x3000, WNOHANG, NULL) = 0"),
    ("wait4", (-1, BUF, 1 | 2 | 8 | 0x40000000, 0), -10, None,
     "wait4(-1, 0x3000, WNOHANG|WSTOPPED|WCONTINUED|__WALL, NULL) = -1 ECHILD (No child processes)"),
    ("wait4", (1, 0, 0x1234, 0), -22, None, "wait4(1, NULL, WEXITED|0x1230, NULL) = -1 EINVAL (Invalid argument)"),
    ("kill", (2596, 0), 0, None, "kill(2596, 0) = 0"),
    ("kill", (-1, SIGTERM), 0, None, "kill(-1, SIGTERM) = 0"),
    ("kill", (99999999, 34), -3, None, "kill(99999999, SIGRT_2) = -1 ESRCH (No such process)"),
    ("kill", (99999999, 100), -22, None, "kill(99999999, 100) = -1 EINVAL (Invalid argument)"),
    ("tgkill", (1, 2, SIGKILL), -3, None, "tgkill(1, 2, SIGKILL) = -1 ESRCH (No such process)"),
    ("tkill", (2, SIGTERM), 0, None, "tkill(2, SIGTERM) = 0"),
    ("getpid", (), 2596, None, "getpid() = 2596"),
    ("getppid", (), 1, None, "getppid() = 1"),
    ("gettid", (), 2597, None, "gettid() = 2597"),
    ("getuid", (), 1000, None, "getuid() = 1000"),
    ("geteuid", (), 0, None, "geteuid() = 0"),
    ("set_tid_address", (0x7F26EB0A9A10,), 2375, None, "set_tid_address(0x7f26eb0a9a10) = 2375"),
    ("arch_prctl", (0x1002, 0x7F26EB0A9740), 0, None, "arch_prctl(ARCH_SET_FS, 0x7f26eb0a9740) = 0"),
    ("arch_prctl", (0x1003, BUF), 0, mem(buf=struct.pack("<Q", 0x7F5FF2A44B80)),
     "arch_prctl(ARCH_GET_FS, [0x7f5ff2a44b80]) = 0"),
    ("arch_prctl", (0x9999, BUF), -22, None,
     "arch_prctl(0x9999 /* ARCH_??? */, 0x3000) = -1 EINVAL (Invalid argument)"),
    ("prctl", (3,), 1, None, "prctl(PR_GET_DUMPABLE) = 1 (SUID_DUMP_USER)"),
    ("prctl", (15, BUF), 0, mem(buf=b"ab\n\0"), 'prctl(PR_SET_NAME, "ab\\n") = 0'),
    ("prctl", (16, BUF), 0, mem(buf=b"ab\n\0"), 'prctl(PR_GET_NAME, "ab\\n") = 0'),
    ("prctl", (1, SIGKILL), 0, None, "prctl(PR_SET_PDEATHSIG, SIGKILL) = 0"),
    ("prctl", (2, BUF), 0, mem(buf=struct.pack("<i", SIGKILL)), "prctl(PR_GET_PDEATHSIG, [SIGKILL]) = 0"),
    ("prctl", (38, 1, 0, 0, 0), 0, None, "prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0"),
    ("prctl", (39, 0, 0, 0, 0), 1, None, "prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) = 1"),
    ("prctl", (36, 1), 0, None, "prctl(PR_SET_CHILD_SUBREAPER, 1) = 0"),
    ("prctl", (0x59616D61, u(-1)), 0, None, "prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY) = 0"),
    ("prctl", (9999, 1, 2, 3, 4), -22, None,
     "prctl(0x270f /* PR_??? */, 0x1, 0x2, 0x3, 0x4) = -1 EINVAL (Invalid argument)"),
    ("futex", (BUF, 0x81, 2147483647), 0, None, "futex(0x3000, FUTEX_WAKE_PRIVATE, 2147483647) = 0"),
    ("futex", (BUF, 1, 1), 0, None, "futex(0x3000, FUTEX_WAKE, 1) = 0"),
    ("futex", (BUF, 0x80, 2, 0), -11, None,
     "futex(0x3000, FUTEX_WAIT_PRIVATE, 2, NULL) = -1 EAGAIN (Resource temporarily unavailable)"),
    ("futex", (BUF, 9 | 0x180, 0, BUF2, 0, 0xFFFFFFFF), -110, mem(buf2=struct.pack("<qq", 0, 1000)),
     "futex(0x3000, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 0, {tv_sec=0, tv_nsec=1000}, "
     "FUTEX_BITSET_MATCH_ANY) = -1 ETIMEDOUT (Connection timed out)"),
    ("futex", (BUF, 10 | 0x80, 1, 0, 0, 0xFFFFFFFF), 0, None,
     "futex(0x3000, FUTEX_WAKE_BITSET_PRIVATE, 1, FUTEX_BITSET_MATCH_ANY) = 0"),
    ("futex", (BUF, 3 | 0x80, 1, 5, BUF2, 7), 0, None, "futex(0x3000, FUTEX_REQUEUE_PRIVATE, 1, 5, 0x4000) = 0"),
    ("futex", (BUF, 4 | 0x80, 1, 5, BUF2, 7), 0, None,
     "futex(0x3000, FUTEX_CMP_REQUEUE_PRIVATE, 1, 5, 0x4000, 7) = 0"),
    ("futex", (BUF, 5 | 0x80, 1, 5, BUF2, 0x12345678), 0, None,
     "futex(0x3000, FUTEX_WAKE_OP_PRIVATE, 1, 5, 0x4000, FUTEX_OP_ADD<<28|0x345<<12|FUTEX_OP_CMP_LT<<24|0x678)"
     " = 0"),
    ("futex", (BUF, 6 | 0x80, 1, 0, 0, 0), 0, None, "futex(0x3000, FUTEX_LOCK_PI_PRIVATE, NULL) = 0"),
    ("futex", (BUF, 7 | 0x80, 1, 0, 0, 0), 0, None, "futex(0x3000, FUTEX_UNLOCK_PI_PRIVATE) = 0"),
    ("futex", (BUF, 99, 1, 2, 3, 4), -38, None,
     "futex(0x3000, 0x63 /* FUTEX_??? */, 1, 0x2, 0x3, 0x4) = -1 ENOSYS (Function not implemented)"),
    ("uname", (BUF,), 0, mem(buf=b"Linux".ljust(65, b"\0") + b"vm".ljust(65, b"\0") + bytes(65 * 4)),
     'uname({sysname="Linux", nodename="vm", ...}) = 0'),
    ("sysinfo", (BUF,), 0, None, "sysinfo(0x3000) = 0"),
    ("prlimit64", (0, 3, 0, BUF), 0, mem(buf=struct.pack("<QQ", 8192 * 1024, U64)),
     "prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0"),
    ("prlimit64", (0, 7, BUF, 0), 0, mem(buf=struct.pack("<QQ", 20000, 1024)),
     "prlimit64(0, RLIMIT_NOFILE, {rlim_cur=20000, rlim_max=1024}, NULL) = 0"),
    ("prlimit64", (0, 99, 0, BUF), -22, None,
     "prlimit64(0, 0x63 /* RLIMIT_??? */, NULL, 0x3000) = -1 EINVAL (Invalid argument)"),
    # signals and time
    ("rt_sigaction", (SIGINT, BUF, BUF2, 8), 0, None, "rt_sigaction(SIGINT, 0x3000, 0x4000, 8) = 0"),
    ("rt_sigaction", (64, 0, 0, 8), 0, None, "rt_sigaction(SIGRT_32, NULL, NULL, 8) = 0"),
    ("rt_sigaction", (32, 0, 0, 8), 0, None, "rt_sigaction(SIGRTMIN, NULL, NULL, 8) = 0"),
    ("rt_sigaction", (100, 0, 0, 8), -22, None, "rt_sigaction(100, NULL, NULL, 8) = -1 EINVAL (Invalid argument)"),
    ("rt_sigprocmask", (0, BUF, BUF2, 8), 0, mem(buf=sigmask(SIGINT, SIGTERM), buf2=sigmask()),
     "rt_sigprocmask(SIG_BLOCK, [INT TERM], [], 8) = 0"),
    ("rt_sigprocmask", (2, BUF2, 0, 8), 0, mem(buf2=sigmask()), "rt_sigprocmask(SIG_SETMASK, [], NULL, 8) = 0"),
    ("rt_sigprocmask", (1, 0, BUF2, 8), -14, None, "rt_sigprocmask(SIG_UNBLOCK, NULL, 0x4000, 8) = -1 EFAULT (Bad address)"),
    ("rt_sigprocmask", (2, BUF, 0, 8), 0, mem(buf=sigmask(*[s for s in range(1, 65) if s != SIGKILL])),
     "rt_sigprocmask(SIG_SETMASK, ~[KILL], NULL, 8) = 0"),
    ("rt_sigprocmask", (0, BUF, 0, 8), 0, mem(buf=struct.pack("<Q", U64)), "rt_sigprocmask(SIG_BLOCK, ~[], NULL, 8) = 0"),
    ("rt_sigprocmask", (2, BUF, 0, 8), 0, mem(buf=sigmask(32, 33, 34, 64)),
     "rt_sigprocmask(SIG_SETMASK, [RTMIN RT_1 RT_2 RT_32], NULL, 8) = 0"),
    ("rt_sigprocmask", (5, 0, 0, 8), -22, None,
     "rt_sigprocmask(0x5 /* SIG_??? */, NULL, NULL, 8) = -1 EINVAL (Invalid argument)"),
    ("rt_sigprocmask", (0, BUF, 0, 8), 0, mem(buf=struct.pack("<Q", (1 << 41) - 1)),
     "rt_sigprocmask(SIG_BLOCK, [HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT "
     "CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS RTMIN RT_1 RT_2 RT_3 RT_4 RT_5 "
     "RT_6 RT_7 RT_8 RT_9], NULL, 8) = 0"),
    ("rt_sigprocmask", (0, BUF, 0, 8), 0, mem(buf=struct.pack("<Q", (1 << 42) - 1)),
     "rt_sigprocmask(SIG_BLOCK, ~[RT_11 RT_12 RT_13 RT_14 RT_15 RT_16 RT_17 RT_18 RT_19 RT_20 RT_21 RT_22 "
     "RT_23 RT_24 RT_25 RT_26 RT_27 RT_28 RT_29 RT_30 RT_31 RT_32], NULL, 8) = 0"),
    ("nanosleep", (BUF, 0), 0, mem(buf=struct.pack("<qq", 0, 1000)), "nanosleep({tv_sec=0, tv_nsec=1000}, NULL) = 0"),
    ("nanosleep", (BUF, BUF2), 0, mem(buf=struct.pack("<qq", 1, 5)), "nanosleep({tv_sec=1, tv_nsec=5}, 0x4000) = 0"),
    ("clock_nanosleep", (1, 0, BUF, 0), 0, mem(buf=struct.pack("<qq", 0, 1000)),
     "clock_nanosleep(CLOCK_MONOTONIC, 0, {tv_sec=0, tv_nsec=1000}, NULL) = 0"),
    ("clock_nanosleep", (7, 1, BUF, BUF2), 0, mem(buf=struct.pack("<qq", 378, 162693782)),
     "clock_nanosleep(CLOCK_BOOTTIME, TIMER_ABSTIME, {tv_sec=378, tv_nsec=162693782}, 0x4000) = 0"),
    ("clock_nanosleep", (u(-2), 0, BAD, 0), -22, None,
     "clock_nanosleep(0xfffffffe /* CLOCK_??? */, 0, 0xdead0000, NULL) = -1 EINVAL (Invalid argument)"),
    ("clock_gettime", (1, BUF), 0, mem(buf=struct.pack("<qq", 420, 810168386)),
     "clock_gettime(CLOCK_MONOTONIC, {tv_sec=420, tv_nsec=810168386}) = 0"),
    ("getrandom", (BUF, 8, 1), 8, mem(buf=bytes.fromhex("ac6aac72f3770c08")),
     r'getrandom("\xac\x6a\xac\x72\xf3\x77\x0c\x08", 8, GRND_NONBLOCK) = 8'),
    ("getrandom", (BUF, 40, 4), 40, mem(buf=bytes(range(40))),
     'getrandom("' + "".join(f"\\x{i:02x}" for i in range(32)) + '"..., 40, GRND_INSECURE) = 40'),
    ("getrandom", (BUF, 0, 0), 0, mem(), 'getrandom("", 0, 0) = 0'),
    ("getrandom", (BUF, 3, 8), -22, None, "getrandom(0x3000, 3, 0x8 /* GRND_??? */) = -1 EINVAL (Invalid argument)"),
    ("umask", (0o22,), 0o22, None, "umask(022) = 022"),
    # strace's fallback for calls it cannot decode: six hex registers
    ("mbind", (0x1000, 0, 2, 3, 4, 5), -1, None,
     "mbind(0x1000, 0, 0x2, 0x3, 0x4, 0x5) = -1 EPERM (Operation not permitted)"),
]


@pytest.mark.parametrize("name,args,result,m,expected", CASES,
                         ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)])
def test_format_call(name, args, result, m, expected):
    assert call(name, *args, result=result, m=m) == expected


def test_example_from_docs():
    assert call("openat", AT_FDCWD, PATH, O_CLOEXEC, result=3) == \
        'openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3'


def test_register_values_are_masked_and_result_may_be_unsigned():
    # An unsigned 64-bit -ENOENT is the same as -2.
    regs = (u(-100), PATH, 0, 0, 0, 0)
    assert format_call(NUMBERS["openat"], regs, u(-2), mem()) == \
        'openat(AT_FDCWD, "/etc/passwd", O_RDONLY) = -1 ENOENT (No such file or directory)'
    # fd arguments print as 32-bit ints even with garbage in the upper half.
    assert call("close", 0xFFFFFFFF00000003, result=0) == "close(3) = 0"


def test_short_args_tuple_is_padded():
    assert format_call(NUMBERS["close"], (3,), 0, mem()) == "close(3) = 0"


def test_unknown_syscall_number():
    assert format_call(999, (1, 0, 2, 0, 0, 0), -38, mem()) == \
        "syscall_999(0x1, 0, 0x2, 0, 0, 0) = -1 ENOSYS (Function not implemented)"


def test_mem_none_prints_pointers():
    assert format_call(NUMBERS["openat"], (u(-100), PATH, 0, 0, 0, 0), 3, None) == \
        "openat(AT_FDCWD, 0x1000, O_RDONLY) = 3"


class RaisingMem:
    def read(self, addr, n):
        raise PermissionError(1, "no")

    def string(self, addr, maxlen):
        raise ProcessLookupError(3, "gone")


def test_oserror_subclasses_print_pointers():
    assert call("write", 1, BUF, 6, result=6, m=RaisingMem()) == "write(1, 0x3000, 6) = 6"
    assert call("unlink", PATH, result=0, m=RaisingMem()) == "unlink(0x1000) = 0"


def test_short_read_from_mem_prints_pointer():
    class Short(FakeMem):
        def read(self, addr, n):
            return b"ab"
    assert call("write", 1, BUF, 6, result=6, m=Short()) == "write(1, 0x3000, 6) = 6"


def test_paths_are_not_truncated_at_32_bytes():
    long_path = b"/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache"
    m = FakeMem({PATH: long_path + b"\0"})
    assert call("openat", AT_FDCWD, PATH, 0, result=3, m=m) == \
        f'openat(AT_FDCWD, "{long_path.decode()}", O_RDONLY) = 3'


def test_non_path_strings_are_truncated_at_32_bytes():
    m = FakeMem({BUF: LONG_STR + b"\0"})
    assert call("prctl", 15, BUF, result=0, m=m) == \
        'prctl(PR_SET_NAME, "0123456789abcdef0123456789ABCDEF"...) = 0'
    m = FakeMem({BUF: LONG_STR[:32] + b"\0"})
    assert call("prctl", 15, BUF, result=0, m=m) == \
        'prctl(PR_SET_NAME, "0123456789abcdef0123456789ABCDEF") = 0'


def test_argv_longer_than_32_elements():
    strings = {0x8000 + 16 * i: b"a\0" for i in range(40)}
    argv = struct.pack("<41Q", *[0x8000 + 16 * i for i in range(40)], 0)
    m = FakeMem({PATH: b"/bin/x\0", BUF: argv, BUF2: struct.pack("<Q", 0), **strings})
    line = call("execve", PATH, BUF, BUF2, result=0, m=m)
    assert line == 'execve("/bin/x", [' + ", ".join(['"a"'] * 32) + ', ...], 0x4000 /* 0 vars */) = 0'


# --------------------------------------------------------------------------
# errno_text, format_signal
# --------------------------------------------------------------------------

@pytest.mark.parametrize("result,expected", [
    (0, "0"),
    (3, "3"),
    (None, "?"),
    (-2, "-1 ENOENT (No such file or directory)"),
    (u(-2), "-1 ENOENT (No such file or directory)"),
    (-11, "-1 EAGAIN (Resource temporarily unavailable)"),
    (-35, "-1 EDEADLK (Resource deadlock avoided)"),
    (-95, "-1 EOPNOTSUPP (Operation not supported)"),
    (-512, "? ERESTARTSYS (To be restarted if SA_RESTART is set)"),
    (-513, "? ERESTARTNOINTR (To be restarted)"),
    (-514, "? ERESTARTNOHAND (To be restarted if no handler)"),
    (-516, "? ERESTART_RESTARTBLOCK (Interrupted by signal)"),
    (-515, "-1 ENOIOCTLCMD (Unknown error 515)"),
    (-4095, "-1 ERRNO_4095 (Unknown error 4095)"),
    (-4096, "-4096"),
])
def test_errno_text(result, expected):
    assert errno_text(result) == expected


@pytest.mark.parametrize("n,expected", [
    (0, "0"), (1, "SIGHUP"), (2, "SIGINT"), (9, "SIGKILL"), (17, "SIGCHLD"), (31, "SIGSYS"),
    (32, "SIGRTMIN"), (33, "SIGRT_1"), (64, "SIGRT_32"), (65, "65"), (-1, "-1"),
])
def test_format_signal(n, expected):
    assert format_signal(n) == expected


# --------------------------------------------------------------------------
# The table itself, and pyshim.syscalls
# --------------------------------------------------------------------------

def test_table_names_are_real_syscalls():
    assert set(decode.SYSCALLS) <= set(NUMBERS)


def test_required_syscalls_are_decoded():
    required = """read write pread64 pwrite64 open openat close stat fstat lstat newfstatat statx
        lseek mmap mprotect munmap brk access faccessat readlink readlinkat getdents64 dup dup2
        dup3 pipe2 fcntl ioctl socket connect bind execve exit exit_group kill tgkill
        rt_sigaction rt_sigprocmask getpid getppid gettid getuid nanosleep clock_nanosleep
        getrandom unlink unlinkat mkdir mkdirat chdir getcwd rename renameat2 clone wait4 prctl
        arch_prctl set_tid_address futex madvise uname prlimit64 sysinfo""".split()
    assert not set(required) - set(decode.SYSCALLS)


def test_syscalls_module():
    assert syscalls.NAMES[257] == "openat"
    assert syscalls.NUMBERS["openat"] == 257
    assert syscalls.NAMES[0] == "read" and syscalls.NAMES[231] == "exit_group"
    assert syscalls.name(59) == "execve"
    assert syscalls.name(9999) == "syscall_9999"
    assert {v: k for k, v in syscalls.NAMES.items()} == syscalls.NUMBERS


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_syscalls", ROOT / "tools" / "gen_syscalls.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_parses_header_text():
    gen = _load_generator()
    text = "#ifndef X\n#define __NR_read 0\n#define __NR_write 1\n#define __NR_openat 257\n#endif\n"
    assert gen.parse_header(text) == {0: "read", 1: "write", 257: "openat"}
    namespace: dict = {}
    exec(gen.render(gen.parse_header(text), Path("hdr.h")), namespace)
    assert namespace["NAMES"] == {0: "read", 1: "write", 257: "openat"}
    assert namespace["name"](5) == "syscall_5"


def test_generated_file_is_unedited_generator_output():
    gen = _load_generator()
    text = (ROOT / "pyshim" / "syscalls.py").read_text()
    header = Path(re.search(r"\(source: (.*)\)", text).group(1))
    assert text == gen.render(syscalls.NAMES, header)
    assert "python tools/gen_syscalls.py" in syscalls.__doc__


def test_generated_file_matches_local_header():
    gen = _load_generator()
    if not gen.DEFAULT_HEADER.exists():
        pytest.skip("kernel headers not installed")
    local = gen.parse_header(gen.DEFAULT_HEADER.read_text())
    # A newer header may add syscalls; none may be renumbered or renamed.
    assert all(local.get(nr, nm) == nm for nr, nm in syscalls.NAMES.items())


# --------------------------------------------------------------------------
# Comparison with real strace
# --------------------------------------------------------------------------

def _strace_lines(path: Path) -> set[str]:
    """strace -o output with the padding before " = " removed."""
    out = set()
    for line in path.read_text(errors="replace").splitlines():
        m = _LINE.match(line)
        out.add(f"{m.group(1)} = {m.group(2)}" if m else line)
    return out


def test_against_strace_echo(strace, tmp_path):
    trace = tmp_path / "trace"
    echo = shutil.which("echo", path="/bin:/usr/bin") or "echo"
    subprocess.run([strace, "-o", str(trace), "-e", "trace=write,exit_group", "--", echo, "hi"],
                   check=True, capture_output=True, env={**os.environ, "LC_ALL": "C"}, timeout=60)
    lines = _strace_lines(trace)
    m = FakeMem({BUF: b"hi\n"})
    assert format_call(NUMBERS["write"], (1, BUF, 3, 0, 0, 0), 3, m) in lines
    assert format_call(NUMBERS["exit_group"], (0,) * 6, None, m) in lines


# The child issues raw syscalls via ctypes.  sc(label, name, *args) records
# registers, result and a snapshot of all buffers it allocated.
CHILD = r'''
import ctypes, json, os, struct, sys

out_path, numbers_path, workdir = sys.argv[1:4]
NR = json.load(open(numbers_path))
os.chdir(workdir)
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
U64 = (1 << 64) - 1
KEEP, RECORDS = [], []


def buf(init):
    b = ctypes.create_string_buffer(init)
    KEEP.append(b)
    return ctypes.addressof(b)


def ptrs(*addrs):
    return buf(struct.pack(f"<{len(addrs) + 1}Q", *addrs, 0))


FDS = bool(os.environ.get("ORACLE_FDS"))


def fd_paths():
    """{fd: path} of this process (for the -y runs), and -100: the cwd."""
    out = {"-100": os.getcwd()}
    for fd in os.listdir("/proc/self/fd"):
        try:
            out[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass
    return out


def sc(label, name, *args):
    regs = [a & U64 for a in args] + [0] * (6 - len(args))
    before = fd_paths() if FDS else None
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_ulong(a) for a in regs])
    if r == -1 and ctypes.get_errno():
        r = -ctypes.get_errno()
    if r == 0 and name == "clone":
        return 0
    snap = [[ctypes.addressof(b), ctypes.string_at(ctypes.addressof(b), ctypes.sizeof(b)).hex()]
            for b in KEEP]
    rec = {"label": label, "nr": NR[name], "args": regs, "result": r, "regions": snap}
    if FDS:
        rec["fds_before"], rec["fds_after"] = before, fd_paths()
    RECORDS.append(rec)
    return r


def sockaddr_in(port, ip):
    return buf(struct.pack("<H", 2) + struct.pack(">H", port) + bytes(ip) + bytes(8))


AT_FDCWD = -100
fd = sc("openat_create", "openat", AT_FDCWD, buf(b"data.txt"), 0o1102 | 0o2000000, 0o640)
sc("write_escapes", "write", fd, buf(b'hello\n\t"q"\\ \0\1\x0712\x7f\xff end'), 22)
sc("write_long", "write", fd, buf(b"y" * 40), 40)
sc("write_efault", "write", fd, 8, 10)
sc("write_null_ebadf", "write", 99, 0, 10)
sc("lseek_set", "lseek", fd, 0, 0)
sc("lseek_bad_whence", "lseek", fd, 0, 7)
rb = buf(4096)
sc("read", "read", fd, rb, 4096)
sc("read_eof", "read", fd, rb, 4096)
sc("read_ebadf", "read", 99, rb, 5)
sc("pwrite64", "pwrite64", fd, buf(b"abc"), 3, 100)
sc("pread64", "pread64", fd, rb, 3, 100)
sc("fcntl_getfd", "fcntl", fd, 1)
sc("fcntl_setfd", "fcntl", fd, 2, 0)
sc("fcntl_getfl", "fcntl", fd, 3)
sc("fcntl_setfl", "fcntl", fd, 4, 0o4000)
sc("fcntl_getfl2", "fcntl", fd, 3)
fd2 = sc("fcntl_dupfd_cloexec", "fcntl", fd, 1030, 50)
sc("dup", "dup", fd)
sc("dup2", "dup2", fd, 60)
sc("dup3", "dup3", fd, 61, 0o2000000)
sc("dup3_zero", "dup3", fd, 62, 0)
sc("close", "close", fd2)
sc("close_ebadf", "close", -1)
sc("openat_enoent", "openat", AT_FDCWD, buf(b"/nonexistent/x"), 0)
sc("openat_unknown_flag", "openat", AT_FDCWD, buf(b"data.txt"), 0o40000000)
sc("open", "open", buf(b"data.txt"), 0o100000)
dfd = sc("openat_dir", "openat", AT_FDCWD, buf(b"."), 0o200000 | 0o2000000)
sc("getdents64", "getdents64", dfd, buf(4096), 4096)
sc("getdents64_ebadf", "getdents64", 99, buf(64), 64)
sc("access", "access", buf(b"data.txt"), 4 | 1)
sc("access_f_ok", "access", buf(b"data.txt"), 0)
sc("access_bad_mode", "access", buf(b"data.txt"), 0x10)
sc("faccessat", "faccessat", AT_FDCWD, buf(b"data.txt"), 2)
sc("symlinkat", "symlinkat", buf(b"a-target-name-longer-than-32-bytes-xyz"), AT_FDCWD, buf(b"link"))
sc("readlinkat", "readlinkat", AT_FDCWD, buf(b"link"), buf(100), 100)
sc("readlink", "readlink", buf(b"link"), buf(10), 10)
sc("readlink_enoent", "readlink", buf(b"nope"), buf(10), 10)
sc("mkdir", "mkdir", buf(b"d1"), 0o755)
sc("mkdirat", "mkdirat", AT_FDCWD, buf(b"d2"), 0o1777)
sc("chdir", "chdir", buf(b"d1"))
sc("getcwd", "getcwd", buf(4096), 4096)
sc("getcwd_erange", "getcwd", buf(4), 1)
sc("chdir_up", "chdir", buf(b".."))
sc("rename", "rename", buf(b"d1"), buf(b"d3"))
sc("renameat", "renameat", AT_FDCWD, buf(b"d3"), AT_FDCWD, buf(b"d1"))
sc("renameat2", "renameat2", AT_FDCWD, buf(b"d1"), AT_FDCWD, buf(b"d2"), 1)
sc("unlinkat_dir", "unlinkat", AT_FDCWD, buf(b"d1"), 0x200)
sc("rmdir", "rmdir", buf(b"d2"))
sc("unlinkat_bad_flags", "unlinkat", AT_FDCWD, buf(b"x"), 0x99)
sc("unlink", "unlink", buf(b"link"))
addr = sc("mmap_anon", "mmap", 0, 8192, 3, 0x22, -1, 0)
sc("mprotect", "mprotect", addr, 4096, 1)
sc("madvise", "madvise", addr, 8192, 4)
sc("madvise_bad", "madvise", addr, 8192, 999)
sc("munmap", "munmap", addr, 8192)
faddr = sc("mmap_file", "mmap", 0, 4096, 1, 1, fd, 0)
sc("munmap_file", "munmap", faddr, 4096)
sc("mmap_prot_none", "mmap", 0, 4096, 0, 0x22, -1, 0)
sc("mmap_bad_prot", "mmap", 0, 4096, 0x10, 0x400000, -1, 0)
sc("brk", "brk", 0)
ifd = sc("socket_inet", "socket", 2, 1 | 0o2000000 | 0o4000, 0)
udp = sc("socket_udp", "socket", 2, 2, 17)
ufd = sc("socket_unix", "socket", 1, 1, 0)
sc("socket_netlink", "socket", 16, 3 | 0o2000000, 0)
sc("socket_bad_domain", "socket", 99, 1, 6)
path = b"/nonexistent/sock"
sc("connect_unix", "connect", ufd, buf(struct.pack("<H", 1) + path), 2 + len(path) + 1)
name = b"\0pyshim-test-%d" % os.getpid()
sc("connect_abstract", "connect", ufd, buf(struct.pack("<H", 1) + name), 2 + len(name))
sc("connect_inet", "connect", ifd, sockaddr_in(9, [127, 0, 0, 1]), 16)
sc("bind_inet", "bind", udp, sockaddr_in(0, [127, 0, 0, 1]), 16)
sc("getsockname_inet", "getsockname", udp, buf(16), buf(struct.pack("<i", 16)))
sv = buf(8)
sc("socketpair", "socketpair", 1, 2, 0, sv)
a, b = struct.unpack("<ii", ctypes.string_at(sv, 8))
sc("sendto", "sendto", a, buf(b"ping\n"), 5, 0x40, 0, 0)
sc("recvfrom", "recvfrom", b, buf(100), 100, 0, 0, 0)
sc("recvfrom_eagain", "recvfrom", b, buf(100), 100, 0x40, 0, 0)
lfd = sc("socket_tcp", "socket", 2, 1 | 0o4000, 6)
sc("bind_any_port", "bind", lfd, sockaddr_in(0, [127, 0, 0, 1]), 16)
sc("listen", "listen", lfd, 1)
sc("accept4_eagain", "accept4", lfd, buf(16), buf(struct.pack("<i", 16)), 0o2000000)
sc("getpeername_enotconn", "getpeername", lfd, buf(16), buf(struct.pack("<i", 16)))
sc("eventfd2", "eventfd2", 0, 1 | 0o2000000 | 0o4000)
mfd = sc("memfd_create", "memfd_create", buf(b"hello"), 1 | 2)
sc("fcntl_add_seals", "fcntl", mfd, 1033, 2 | 4)
sc("fcntl_get_seals", "fcntl", mfd, 1034)
sc("flock", "flock", mfd, 2 | 4)
sc("epoll_create1", "epoll_create1", 0o2000000)
sc("chmod", "chmod", buf(b"data.txt"), 0o4755)
sc("fchownat", "fchownat", AT_FDCWD, buf(b"data.txt"), -1, -1, 0x100)
sc("linkat", "linkat", AT_FDCWD, buf(b"data.txt"), AT_FDCWD, buf(b"data2.txt"), 0)
sc("creat", "creat", buf(b"data3.txt"), 0o644)
sc("fcntl_setsig", "fcntl", fd, 10, 10)
sc("fcntl_getsig", "fcntl", fd, 11)
sc("poll_timeout", "poll", 0, 0, 0)
sc("mremap_efault", "mremap", 0, 4096, 8192, 1, 0)
sc("getrlimit", "getrlimit", 7, buf(16))
sc("clock_getres", "clock_getres", 0, buf(16))
sc("arch_prctl_get_gs", "arch_prctl", 0x1004, buf(8))
sc("prctl_capbset_read", "prctl", 23, 21)
sc("prctl_get_child_subreaper", "prctl", 37, buf(4))
sc("ioctl_tcgets", "ioctl", fd, 0x5401, buf(64))
sc("ioctl_unknown", "ioctl", fd, 0x12345678, buf(64))
sc("ioctl_fioclex", "ioctl", fd, 0x5451)
sc("kill_esrch", "kill", 99999999, 15)
sc("kill_rt", "kill", 99999999, 34)
sc("tgkill", "tgkill", 99999999, 99999999, 9)
old = buf(8)
sc("rt_sigprocmask_block", "rt_sigprocmask", 0, buf(struct.pack("<Q", (1 << 1) | (1 << 14))), old, 8)
sc("rt_sigprocmask_restore", "rt_sigprocmask", 2, old, 0, 8)
sc("rt_sigprocmask_bad_how", "rt_sigprocmask", 5, buf(struct.pack("<Q", (1 << 42) - 1)), 0, 8)
sc("rt_sigaction_rt32", "rt_sigaction", 64, 0, 0, 8)
sc("rt_sigaction_bad", "rt_sigaction", 100, 0, 0, 8)
ts = buf(struct.pack("<qq", 0, 1000))
sc("nanosleep", "nanosleep", ts, 0)
sc("clock_nanosleep", "clock_nanosleep", 1, 0, ts, 0)
sc("clock_nanosleep_bad", "clock_nanosleep", 99, 1, ts, buf(16))
sc("clock_gettime", "clock_gettime", 1, buf(16))
sc("getrandom", "getrandom", buf(8), 8, 1)
sc("getrandom_long", "getrandom", buf(40), 40, 0)
sc("getrandom_zero", "getrandom", buf(1), 0, 0)
sc("uname", "uname", buf(65 * 6))
sc("getpid", "getpid")
sc("gettid", "gettid")
sc("getppid", "getppid")
sc("getuid", "getuid")
sc("umask", "umask", 0o22)
sc("prctl_get_dumpable", "prctl", 3)
sc("prctl_set_name", "prctl", 15, buf(b"pyshim-t\n"))
sc("prctl_get_name", "prctl", 16, buf(16))
sc("prctl_set_pdeathsig", "prctl", 1, 9)
sc("prctl_get_pdeathsig", "prctl", 2, buf(4))
sc("prctl_get_no_new_privs", "prctl", 39, 0, 0, 0, 0)
sc("prctl_unknown", "prctl", 9999, 1, 2, 3, 4)
sc("arch_prctl_get_fs", "arch_prctl", 0x1003, buf(8))
sc("arch_prctl_unknown", "arch_prctl", 0x9999, buf(8))
fw = buf(8)
sc("futex_wake", "futex", fw, 0x81, 1)
sc("futex_wait_eagain", "futex", fw, 0x80, 1, 0)
sc("futex_wait_bitset", "futex", fw, 9 | 0x180, 1, ts, 0, 0xFFFFFFFF)
sc("futex_cmp_requeue", "futex", fw, 4 | 0x80, 1, 5, fw + 4, 7)
sc("futex_wake_op", "futex", fw, 5 | 0x80, 1, 0, fw + 4, 0x12345678)
sc("futex_unknown", "futex", fw, 99, 1, 2, 3, 4)
sc("prlimit64_nofile", "prlimit64", 0, 7, 0, buf(16))
sc("prlimit64_stack", "prlimit64", 0, 3, 0, buf(16))
sc("prlimit64_bad", "prlimit64", 0, 99, 0, buf(16))
pid = sc("clone_fork", "clone", 17, 0, 0, 0, 0)
if pid == 0:
    os._exit(3)
sc("wait4_exited", "wait4", pid, buf(4), 0, 0)
pid = sc("clone_fork2", "clone", 17, 0, 0, 0, 0)
if pid == 0:
    os.kill(os.getpid(), 9)
    os._exit(1)
sc("wait4_signaled", "wait4", pid, buf(4), 0, 0)
sc("wait4_echild", "wait4", -1, buf(4), 1, 0)
sc("wait4_bad_options", "wait4", 99999999, 0, 0x1234, 0)
argv = ptrs(buf(b"/nonexistent/prog"), buf(b"a b"), buf(b"z" * 40))
sc("execve_enoent", "execve", buf(b"/nonexistent/prog"), argv, ptrs(buf(b"A=1"), buf(b"B=2")))
sc("execve_null", "execve", buf(b"/nonexistent/prog"), 0, 0)

# structures
sbuf = buf(256)
sc("stat", "stat", buf(b"data.txt"), sbuf)
sc("lstat_dev", "lstat", buf(b"/dev/null"), sbuf)
sc("fstat", "fstat", 0, sbuf)
sc("newfstatat_dir", "newfstatat", AT_FDCWD, buf(b"."), sbuf, 0)
sc("newfstatat_enoent", "newfstatat", AT_FDCWD, buf(b"nope"), sbuf, 0x100)
sc("stat_null", "stat", buf(b"data.txt"), 0)
sc("statx", "statx", AT_FDCWD, buf(b"data.txt"), 0x100, 0x7FF, buf(256))
sc("statx_dev", "statx", AT_FDCWD, buf(b"/dev/null"), 0, 0xFFF, buf(256))
sc("statfs", "statfs", buf(b"."), buf(120))
sc("statfs_proc", "statfs", buf(b"/proc"), buf(120))
sc("statfs_enoent", "statfs", buf(b"/nonexistent"), buf(120))
act = buf(struct.pack("<QQQQ", 1, 0x14000000, 0x1234, (1 << 1) | (1 << 14)))
oact = buf(32)
sc("rt_sigaction_set", "rt_sigaction", 10, act, oact, 8)
sc("rt_sigaction_get", "rt_sigaction", 10, 0, oact, 8)
sc("rt_sigaction_restore", "rt_sigaction", 10, buf(bytes(32)), 0, 8)
sc("rt_sigaction_kill", "rt_sigaction", 9, act, oact, 8)
sc("sigaltstack_query", "sigaltstack", 0, buf(24))
sc("rt_sigpending", "rt_sigpending", buf(8), 8)
sc("sysinfo", "sysinfo", buf(112))
sc("getrusage", "getrusage", 0, buf(144))
sc("sched_getaffinity", "sched_getaffinity", 0, 128, buf(128))
sc("sched_getaffinity_einval", "sched_getaffinity", 0, 1, buf(8))
sc("getxattr", "getxattr", buf(b"data.txt"), buf(b"user.none"), buf(64), 64)
sc("listxattr", "listxattr", buf(b"data.txt"), buf(64), 64)
sc("fadvise64", "fadvise64", fd, 0, 0, 2)
iov = buf(struct.pack("<QQQQ", buf(b"abc"), 3, buf(b"defgh"), 5))
sc("writev", "writev", fd, iov, 2)
sc("lseek_start", "lseek", fd, 0, 0)
riov = buf(struct.pack("<QQQQ", buf(4), 4, buf(16), 16))
sc("readv", "readv", fd, riov, 2)
sc("preadv", "preadv", fd, riov, 2, 3, 0)
sc("readv_ebadf", "readv", 99, riov, 2)
pfd = buf(8)
sc("pipe2_poll", "pipe2", pfd, 0)
p0, p1 = struct.unpack("<ii", ctypes.string_at(pfd, 8))
sc("write_pipe", "write", p1, buf(b"x"), 1)
pfds = buf(struct.pack("<ihhihhihh", p0, 1, 0, p1, 5, 0, -1, 1, 0))
sc("poll_revents", "poll", pfds, 3, 0)
ep = sc("epoll_create1_2", "epoll_create1", 0)
sc("epoll_ctl_add", "epoll_ctl", ep, 1, p1, buf(struct.pack("<IQ", 0x80000004, 0x1234)))
sc("epoll_wait", "epoll_wait", ep, buf(48), 4, 0)
sc("epoll_ctl_del", "epoll_ctl", ep, 2, p1, 0)
sv2 = buf(8)
sc("socketpair_msg", "socketpair", 1, 1, 0, sv2)
m0, m1 = struct.unpack("<ii", ctypes.string_at(sv2, 8))
cmsg = buf(struct.pack("<Qiii4x", 20, 1, 1, 0))
msg = buf(struct.pack("<QI4xQQQQi4x", 0, 0, iov, 2, cmsg, 24, 0))
sc("sendmsg", "sendmsg", m0, msg, 0)
rmsg = buf(struct.pack("<QI4xQQQQi4x", 0, 0, riov, 1, buf(64), 64, 0))
sc("recvmsg", "recvmsg", m1, rmsg, 0x40000000)
sc("recvmsg_eagain", "recvmsg", m1, rmsg, 0x40)
optlen = buf(struct.pack("<i", 4))
sc("getsockopt_type", "getsockopt", m0, 1, 3, buf(4), optlen)
sc("setsockopt_rcvbuf", "setsockopt", m0, 1, 8, buf(struct.pack("<i", 65536)), 4)
sc("setsockopt_linger", "setsockopt", m0, 1, 13, buf(struct.pack("<ii", 1, 5)), 8)
master, slave = os.openpty()
tio = buf(60)
sc("ioctl_tcgets_pty", "ioctl", slave, 0x5401, tio)
sc("ioctl_tcsets_pty", "ioctl", slave, 0x5402, tio)
sc("ioctl_tiocgwinsz", "ioctl", slave, 0x5413, buf(8))
sc("ioctl_fionread", "ioctl", slave, 0x541B, buf(4))
sc("ioctl_fionbio", "ioctl", slave, 0x5421, buf(struct.pack("<i", 0)))
lk = buf(struct.pack("<hh4xqqi4x", 1, 0, 10, 20, 0))
sc("fcntl_setlk", "fcntl", fd, 6, lk)
sc("fcntl_getlk", "fcntl", fd, 5, lk)
sc("copy_file_range", "copy_file_range", fd, 0, fd, 0, 0, 0)
sc("times", "times", buf(32))
sc("getcpu", "getcpu", buf(4), 0, 0)
sc("getitimer", "getitimer", 0, buf(32))
sc("sched_getscheduler", "sched_getscheduler", 0)
sc("getpriority", "getpriority", 0, 0)
sc("personality_query", "personality", 0xFFFFFFFF)
sc("membarrier_query", "membarrier", 0, 0, 0)
sc("getresuid", "getresuid", buf(4), buf(4), buf(4))
sc("getgroups", "getgroups", 0, 0)
sc("timerfd_create", "timerfd_create", 1, 0o2000000)
sc("inotify_init1", "inotify_init1", 0o4000)
sc("utimensat_now", "utimensat", AT_FDCWD, buf(b"data.txt"),
   buf(struct.pack("<qqqq", 0, (1 << 30) - 1, 0, (1 << 30) - 2)), 0)
sc("utimensat_time", "utimensat", AT_FDCWD, buf(b"data.txt"),
   buf(struct.pack("<qqqq", 1700000000, 5, 1700000000, 0)), 0)
sc("alarm", "alarm", 0)
pid = sc("clone_fork3", "clone", 17, 0, 0, 0, 0)
if pid == 0:
    os._exit(0)
sc("wait4_rusage", "wait4", pid, buf(4), 0, buf(144))

with open(out_path, "w") as f:
    json.dump(RECORDS, f)
'''

ORACLE_LABELS = re.findall(r'sc\("([a-z0-9_]+)"', CHILD)


@pytest.fixture(scope="module")
def strace_run(strace, tmp_path_factory):
    return _run_oracle(strace, tmp_path_factory, [])


def _run_oracle(strace, tmp_path_factory, flags: list[str]):
    tmp = tmp_path_factory.mktemp("strace_oracle")
    work = tmp / "work"
    work.mkdir()
    (tmp / "child.py").write_text(CHILD)
    (tmp / "numbers.json").write_text(json.dumps(NUMBERS))
    out, trace = tmp / "records.json", tmp / "trace"
    env = {**os.environ, "LC_ALL": "C"}
    if "-y" in flags:
        env["ORACLE_FDS"] = "1"
    subprocess.run([strace, *flags, "-o", str(trace), "--", sys.executable, "-I",
                    str(tmp / "child.py"), str(out), str(tmp / "numbers.json"), str(work)],
                   check=True, capture_output=True, env=env, timeout=120)
    records = {r["label"]: r for r in json.loads(out.read_text())}
    return records, _strace_lines(trace)


def _format_record(r: dict, opts: decode.Options = decode.DEFAULT) -> str:
    m = FakeMem({addr: bytes.fromhex(data) for addr, data in r["regions"]})
    if opts.fds:
        before, after = r["fds_before"], r["fds_after"]
        opts = opts._replace(fd_path=lambda fd: before.get(str(fd)) or after.get(str(fd)))
    return format_call(r["nr"], tuple(r["args"]), r["result"], m, opts)


def test_oracle_ran_every_case(strace_run):
    records, _ = strace_run
    assert sorted(records) == sorted(ORACLE_LABELS)


def _check(records, lines, label, opts=decode.DEFAULT):
    line = _format_record(records[label], opts)
    assert line in lines, "\n".join([line, "strace has:"] + sorted(
        x for x in lines if x.startswith(line.split("(", 1)[0] + "(")))


@pytest.mark.parametrize("label", ORACLE_LABELS)
def test_against_strace(strace_run, label):
    _check(*strace_run, label)


# The same calls under strace's options that change decoding.
OPTION_RUNS = {
    "-v -xx": decode.Options(verbose=True, xflag=2),
    "-x": decode.Options(xflag=1),
    "-y": decode.Options(fds=1),
}


@pytest.fixture(scope="module", params=sorted(OPTION_RUNS))
def strace_run_opts(request, strace, tmp_path_factory):
    records, lines = _run_oracle(strace, tmp_path_factory, request.param.split())
    return records, lines, OPTION_RUNS[request.param]


@pytest.mark.parametrize("label", ORACLE_LABELS)
def test_against_strace_with_options(strace_run_opts, label):
    records, lines, opts = strace_run_opts
    _check(records, lines, label, opts)
