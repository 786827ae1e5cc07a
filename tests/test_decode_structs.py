"""Decoders of structures, options and argument counts (pyshim.decode).

Like test_decode.py: each case formats a call against fake memory holding
the structure and compares with the line strace 6.1 printed for the same
call (observed on a test program under ``strace -f``; addresses are the
fake memory's).
"""

from __future__ import annotations

import os
import struct
import time

import pytest

from conftest import FakeMem
from pyshim import decode
from pyshim.decode import Options, capture, format_call
from pyshim.decode.nargs import NARGS
from pyshim.syscalls import NAMES, NUMBERS

U64 = (1 << 64) - 1
A, B, C, D = 0x405000, 0x406000, 0x407000, 0x408000  # structures
S1, S2, S3 = 0x410000, 0x411000, 0x412000           # strings


Mem = FakeMem


def line(name: str, args, result, regions=None, opts: Options = decode.DEFAULT,
         entry=None) -> str:
    regs = tuple(a & U64 for a in args) + (0,) * (6 - len(args))
    return format_call(NUMBERS[name], regs, result, Mem(regions or {}), opts, entry)


def stat_buf(mode, size=0, rdev=0, dev=0xFE00, ino=2163038, nlink=1, blocks=8,
             times=((1795689713, 243206217), (1795689713, 355206211), (1795689713, 355206211))):
    return struct.pack("<QQQIII4xQqqq", dev, ino, nlink, mode, 0, 0, rdev, size, 4096, blocks) \
        + b"".join(struct.pack("<qQ", s, ns) for s, ns in times) + bytes(24)


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# --------------------------------------------------------------------------
# stat family, statx, statfs
# --------------------------------------------------------------------------

def test_stat_abbreviated():
    m = {S1: b"/tmp/cmp/ex/file.txt\0", A: stat_buf(0o100644, 12)}
    assert line("stat", (S1, A), 0, m) == \
        'stat("/tmp/cmp/ex/file.txt", {st_mode=S_IFREG|0644, st_size=12, ...}) = 0'
    assert line("fstat", (3, A), 0, m) == "fstat(3, {st_mode=S_IFREG|0644, st_size=12, ...}) = 0"
    m[S2] = b"\0"
    assert line("newfstatat", (3, S2, A, 0x1000), 0, m) == \
        'newfstatat(3, "", {st_mode=S_IFREG|0644, st_size=12, ...}, AT_EMPTY_PATH) = 0'


def test_stat_directory_device_and_failure():
    m = {S1: b"/tmp\0", S2: b"/dev/null\0", A: stat_buf(0o41777, 4096), B: stat_buf(0o20666, rdev=0x103)}
    assert line("newfstatat", (-100, S1, A, 0), 0, m) == \
        'newfstatat(AT_FDCWD, "/tmp", {st_mode=S_IFDIR|S_ISVTX|0777, st_size=4096, ...}, 0) = 0'
    assert line("lstat", (S2, B), 0, m) == \
        'lstat("/dev/null", {st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), ...}) = 0'
    assert line("newfstatat", (-100, S1, A, 0x100), -2, m) == \
        'newfstatat(AT_FDCWD, "/tmp", 0x405000, AT_SYMLINK_NOFOLLOW) = -1 ENOENT (No such file or directory)'
    assert line("stat", (S1, 0), -14, m) == 'stat("/tmp", NULL) = -1 EFAULT (Bad address)'


def test_stat_verbose(utc):
    m = {S1: b"/tmp/cmp/ex/file.txt\0", A: stat_buf(0o100644, 12)}
    assert line("stat", (S1, A), 0, m, Options(verbose=True)) == (
        'stat("/tmp/cmp/ex/file.txt", {st_dev=makedev(0xfe, 0), st_ino=2163038, '
        "st_mode=S_IFREG|0644, st_nlink=1, st_uid=0, st_gid=0, st_blksize=4096, st_blocks=8, "
        "st_size=12, st_atime=1795689713 /* 2026-11-26T10:41:53.243206217+0000 */, "
        "st_atime_nsec=243206217, st_mtime=1795689713 /* 2026-11-26T10:41:53.355206211+0000 */, "
        "st_mtime_nsec=355206211, st_ctime=1795689713 /* 2026-11-26T10:41:53.355206211+0000 */, "
        "st_ctime_nsec=355206211}) = 0")


def statx_buf(mask, mode, size, times=(1795689713, 243206217)):
    ts = struct.pack("<qIi", *times, 0)
    return (struct.pack("<IIQIIIH2xQQQQ", mask, 4096, 0, 1, 0, 0, mode, 2163038, size, 8, 0x303874)
            + ts * 4 + struct.pack("<IIIIQII", 0, 0, 254, 0, 0x1B, 0, 0)).ljust(256, b"\0")


def test_statx(utc):
    m = {S1: b"/tmp/cmp/ex/file.txt\0", A: statx_buf(0x17FF, 0o100644, 12)}
    assert line("statx", (-100, S1, 0x100, 0x7FF, A), 0, m) == (
        'statx(AT_FDCWD, "/tmp/cmp/ex/file.txt", AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW, '
        "STATX_BASIC_STATS, {stx_mask=STATX_BASIC_STATS|STATX_MNT_ID, stx_attributes=0, "
        "stx_mode=S_IFREG|0644, stx_size=12, ...}) = 0")
    m[A] = statx_buf(0x173F, 0o100644, 12)
    assert line("statx", (3, S1, 0x1000, 0x202, A), 0, m, Options(verbose=True)) == (
        'statx(3, "/tmp/cmp/ex/file.txt", AT_STATX_SYNC_AS_STAT|AT_EMPTY_PATH, STATX_MODE|STATX_SIZE, '
        "{stx_mask=STATX_TYPE|STATX_MODE|STATX_NLINK|STATX_UID|STATX_GID|STATX_ATIME|STATX_INO|"
        "STATX_SIZE|STATX_BLOCKS|STATX_MNT_ID, stx_blksize=4096, stx_attributes=0, stx_nlink=1, "
        "stx_uid=0, stx_gid=0, stx_mode=S_IFREG|0644, stx_ino=2163038, stx_size=12, stx_blocks=8, "
        "stx_attributes_mask=STATX_ATTR_COMPRESSED|STATX_ATTR_IMMUTABLE|STATX_ATTR_APPEND|"
        "STATX_ATTR_NODUMP|STATX_ATTR_ENCRYPTED|STATX_ATTR_AUTOMOUNT|STATX_ATTR_MOUNT_ROOT|"
        "STATX_ATTR_VERITY|STATX_ATTR_DAX, stx_atime={tv_sec=1795689713, tv_nsec=243206217} "
        "/* 2026-11-26T10:41:53.243206217+0000 */, stx_rdev_major=0, stx_rdev_minor=0, "
        "stx_dev_major=254, stx_dev_minor=0, stx_mnt_id=0x1b}) = 0")
    assert line("statx", (-100, S1, 0, 1, A), -2, m) == (
        'statx(AT_FDCWD, "/tmp/cmp/ex/file.txt", AT_STATX_SYNC_AS_STAT, STATX_TYPE, 0x405000) '
        "= -1 ENOENT (No such file or directory)")


def test_statfs():
    raw = struct.pack("<qqQQQQQiiqqq", 0xEF53, 4096, 66053021, 60327614, 20872321, 16777216,
                      16363905, -812960195, -150621452, 255, 4096, 0x1020) + bytes(32)
    proc = struct.pack("<qqQQQQQiiqqq", 0x9FA0, 4096, 0, 0, 0, 0, 0, 0x15, 0, 255, 4096, 0x1020)
    m = {S1: b"/\0", A: raw, B: proc + bytes(32)}
    assert line("statfs", (S1, A), 0, m) == (
        'statfs("/", {f_type=EXT2_SUPER_MAGIC, f_bsize=4096, f_blocks=66053021, f_bfree=60327614, '
        "f_bavail=20872321, f_files=16777216, f_ffree=16363905, f_fsid={val=[0xcf8b363d, "
        "0xf705b2f4]}, f_namelen=255, f_frsize=4096, f_flags=ST_VALID|ST_RELATIME}) = 0")
    assert line("fstatfs", (3, B), 0, m) == (
        "fstatfs(3, {f_type=PROC_SUPER_MAGIC, f_bsize=4096, f_blocks=0, f_bfree=0, f_bavail=0, "
        "f_files=0, f_ffree=0, f_fsid={val=[0x15, 0]}, f_namelen=255, f_frsize=4096, "
        "f_flags=ST_VALID|ST_RELATIME}) = 0")
    assert line("statfs", (S1, 0x7FFD383C5740), -2, m) == \
        'statfs("/", 0x7ffd383c5740) = -1 ENOENT (No such file or directory)'


# --------------------------------------------------------------------------
# signals
# --------------------------------------------------------------------------

def sigaction_buf(handler, flags, restorer, mask):
    return struct.pack("<QQQQ", handler, flags, restorer, mask)


def test_rt_sigaction():
    m = {A: sigaction_buf(0x4011D6, 0x14000004, 0x7FE19ADE8050, (1 << 1) | (1 << 14)),
         B: sigaction_buf(0, 0, 0, 0), C: sigaction_buf(1, 0x04000000, 0x7FE19ADE8050, 0x4002)}
    assert line("rt_sigaction", (10, A, 0, 8), 0, m) == (
        "rt_sigaction(SIGUSR1, {sa_handler=0x4011d6, sa_mask=[INT TERM], "
        "sa_flags=SA_RESTORER|SA_RESTART|SA_SIGINFO, sa_restorer=0x7fe19ade8050}, NULL, 8) = 0")
    assert line("rt_sigaction", (12, C, B, 8), 0, m) == (
        "rt_sigaction(SIGUSR2, {sa_handler=SIG_IGN, sa_mask=[INT TERM], sa_flags=SA_RESTORER, "
        "sa_restorer=0x7fe19ade8050}, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = 0")
    assert line("rt_sigaction", (9, B, A, 8), -22, m) == (
        "rt_sigaction(SIGKILL, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 0x405000, 8) "
        "= -1 EINVAL (Invalid argument)")


def test_sigaltstack_and_sigpending():
    m = {A: struct.pack("<Qi4xQ", 0x373022A0, 0, 65536), B: struct.pack("<Qi4xQ", 0, 2, 0),
         C: bytes(8)}
    assert line("sigaltstack", (A, B), 0, m) == (
        "sigaltstack({ss_sp=0x373022a0, ss_flags=0, ss_size=65536}, "
        "{ss_sp=NULL, ss_flags=SS_DISABLE, ss_size=0}) = 0")
    assert line("sigaltstack", (0, A), 0, m) == \
        "sigaltstack(NULL, {ss_sp=0x373022a0, ss_flags=0, ss_size=65536}) = 0"
    assert line("rt_sigpending", (C, 8), 0, m) == "rt_sigpending([], 8) = 0"


def siginfo(signo, code, *fields):
    return (struct.pack("<iii4x", signo, 0, code) + b"".join(fields)).ljust(128, b"\0")


def test_rt_sigtimedwait_and_waitid():
    m = {A: struct.pack("<Q", 1 << 9), B: siginfo(10, 0, struct.pack("<iI", 2147, 0)),
         C: struct.pack("<qq", 1, 0),
         D: siginfo(17, 1, struct.pack("<iIi4xqq", 2149, 0, 0, 0, 0))}
    assert line("rt_sigtimedwait", (A, B, C, 8), 10, m) == (
        "rt_sigtimedwait([USR1], {si_signo=SIGUSR1, si_code=SI_USER, si_pid=2147, si_uid=0}, "
        "{tv_sec=1, tv_nsec=0}, 8) = 10 (SIGUSR1)")
    assert line("rt_sigtimedwait", (A, 0, C, 8), -11, m) == (
        "rt_sigtimedwait([USR1], NULL, {tv_sec=1, tv_nsec=0}, 8) = "
        "-1 EAGAIN (Resource temporarily unavailable)")
    assert line("waitid", (1, 2149, D, 4, 0), 0, m) == (
        "waitid(P_PID, 2149, {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=2149, si_uid=0, "
        "si_status=0, si_utime=0, si_stime=0}, WEXITED, NULL) = 0")


# --------------------------------------------------------------------------
# resources and processes
# --------------------------------------------------------------------------

def test_sysinfo_rusage_affinity():
    si = struct.pack("<q3QQQQQQQH6xQQI", 11357, 11968, 42048, 71296, 25276510208, 24913498112,
                     9068544, 4337664, 0, 0, 86, 0, 0, 1).ljust(112, b"\0")
    ru = struct.pack("<qqqq", 0, 0, 0, 2485) + bytes(112)
    m = {A: si, B: ru, C: b"\x03" + bytes(127)}
    assert line("sysinfo", (A,), 0, m) == (
        "sysinfo({uptime=11357, loads=[11968, 42048, 71296], totalram=25276510208, "
        "freeram=24913498112, sharedram=9068544, bufferram=4337664, totalswap=0, freeswap=0, "
        "procs=86, totalhigh=0, freehigh=0, mem_unit=1}) = 0")
    assert line("getrusage", (0, B), 0, m) == (
        "getrusage(RUSAGE_SELF, {ru_utime={tv_sec=0, tv_usec=0}, "
        "ru_stime={tv_sec=0, tv_usec=2485}, ...}) = 0")
    assert line("getrusage", (-1, B), 0, m, Options(verbose=True)) == (
        "getrusage(RUSAGE_CHILDREN, {ru_utime={tv_sec=0, tv_usec=0}, ru_stime={tv_sec=0, "
        "tv_usec=2485}, ru_maxrss=0, ru_ixrss=0, ru_idrss=0, ru_isrss=0, ru_minflt=0, "
        "ru_majflt=0, ru_nswap=0, ru_inblock=0, ru_oublock=0, ru_msgsnd=0, ru_msgrcv=0, "
        "ru_nsignals=0, ru_nvcsw=0, ru_nivcsw=0}) = 0")
    assert line("sched_getaffinity", (0, 128, C), 32, m) == "sched_getaffinity(0, 128, [0 1]) = 32"
    assert line("sched_setaffinity", (0, 128, C), 0, m) == "sched_setaffinity(0, 128, [0 1]) = 0"
    assert line("sched_getaffinity", (0, 8, C), 8, m) == "sched_getaffinity(0, 8, [0 1]) = 8"
    assert line("sched_getaffinity", (0, 4, C), -22, m) == \
        "sched_getaffinity(0, 4, 0x407000) = -1 EINVAL (Invalid argument)"


def test_wait4_rusage():
    m = {A: struct.pack("<I", 7 << 8), B: struct.pack("<qqqq", 0, 0, 0, 186) + bytes(112)}
    assert line("wait4", (2148, A, 0, B), 2148, m) == (
        "wait4(2148, [{WIFEXITED(s) && WEXITSTATUS(s) == 7}], 0, {ru_utime={tv_sec=0, "
        "tv_usec=0}, ru_stime={tv_sec=0, tv_usec=186}, ...}) = 2148")


def test_xattrs():
    path = b"/tmp/cmp/ex/file.txt\0"
    m = {S1: path, S2: b"user.test\0", S3: b"user.t2\0", A: b"value123", B: b"\1\2\3",
         C: b"user.test\0".ljust(256, b"\0")}
    assert line("setxattr", (S1, S2, A, 8, 0), 0, m) == \
        'setxattr("/tmp/cmp/ex/file.txt", "user.test", "value123", 8, 0) = 0'
    assert line("getxattr", (S1, S2, A, 256), 8, m) == \
        'getxattr("/tmp/cmp/ex/file.txt", "user.test", "value123", 256) = 8'
    assert line("getxattr", (S1, S2, 0, 0), 8, m) == \
        'getxattr("/tmp/cmp/ex/file.txt", "user.test", NULL, 0) = 8'
    assert line("lgetxattr", (S1, S2, C, 256), -61, m) == \
        'lgetxattr("/tmp/cmp/ex/file.txt", "user.test", 0x407000, 256) = -1 ENODATA (No data available)'
    assert line("fgetxattr", (3, S2, A, 256), 8, m) == 'fgetxattr(3, "user.test", "value123", 256) = 8'
    assert line("listxattr", (S1, C, 256), 10, m) == \
        'listxattr("/tmp/cmp/ex/file.txt", "user.test\\0", 256) = 10'
    assert line("llistxattr", (S1, 0, 0), 10, m) == 'llistxattr("/tmp/cmp/ex/file.txt", NULL, 0) = 10'
    assert line("fsetxattr", (3, S3, B, 3, 1), 0, m) == \
        'fsetxattr(3, "user.t2", "\\1\\2\\3", 3, XATTR_CREATE) = 0'
    assert line("lsetxattr", (S1, S3, A, 3, 2), -61, m) == \
        'lsetxattr("/tmp/cmp/ex/file.txt", "user.t2", "val", 3, XATTR_REPLACE) = -1 ENODATA (No data available)'
    assert line("removexattr", (S1, S3), 0, m) == 'removexattr("/tmp/cmp/ex/file.txt", "user.t2") = 0'
    assert line("fadvise64", (3, 0, 0, 2), 0, m) == "fadvise64(3, 0, 0, POSIX_FADV_SEQUENTIAL) = 0"
    assert line("fadvise64", (3, 100, 200, 4), 0, m) == "fadvise64(3, 100, 200, POSIX_FADV_DONTNEED) = 0"


# --------------------------------------------------------------------------
# I/O: iovec, poll, select, epoll
# --------------------------------------------------------------------------

def test_iovecs():
    m = {A: struct.pack("<QQQQ", S1, 3, S2, 5), S1: b"abcd", S2: b"efghrld\nabcdefgh"}
    assert line("writev", (3, A, 2), 8, m) == \
        'writev(3, [{iov_base="abc", iov_len=3}, {iov_base="efghr", iov_len=5}], 2) = 8'
    m[A] = struct.pack("<QQQQ", S1, 4, S2, 16)
    assert line("readv", (3, A, 2), 20, m) == \
        'readv(3, [{iov_base="abcd", iov_len=4}, {iov_base="efghrld\\nabcdefgh", iov_len=16}], 2) = 20'
    assert line("preadv", (3, A, 2, 2), 6, m) == \
        'preadv(3, [{iov_base="abcd", iov_len=4}, {iov_base="ef", iov_len=16}], 2, 2) = 6'
    assert line("readv", (3, A, 2), 0, m) == \
        'readv(3, [{iov_base="", iov_len=4}, {iov_base="", iov_len=16}], 2) = 0'
    assert line("readv", (99, A, 2), -9, m) == \
        "readv(99, [{iov_base=0x410000, iov_len=4}, {iov_base=0x411000, iov_len=16}], 2) = -1 EBADF (Bad file descriptor)"
    assert line("pwritev", (3, A, 1, 0), 4, m) == 'pwritev(3, [{iov_base="abcd", iov_len=4}], 1, 0) = 4'


def test_poll_and_ppoll():
    fds = struct.pack("<ihhihhihh", 4, 1, 1, 5, 5, 4, -1, 1, 0)
    m = {A: fds, B: struct.pack("<qq", 0, 1000)}
    assert line("poll", (A, 3, 0), 2, m) == (
        "poll([{fd=4, events=POLLIN}, {fd=5, events=POLLIN|POLLOUT}, {fd=-1}], 3, 0) "
        "= 2 ([{fd=4, revents=POLLIN}, {fd=5, revents=POLLOUT}])")
    assert line("poll", (A, 1, 0), 0, m) == "poll([{fd=4, events=POLLIN}], 1, 0) = 0 (Timeout)"
    after = {A: fds, B: struct.pack("<qq", 0, 199)}
    entry = {B: struct.pack("<qq", 0, 1000)}
    assert line("ppoll", (A, 2, B, 0, 8), 2, after, entry=entry) == (
        "ppoll([{fd=4, events=POLLIN}, {fd=5, events=POLLIN|POLLOUT}], 2, {tv_sec=0, "
        "tv_nsec=1000}, NULL, 8) = 2 ([{fd=4, revents=POLLIN}, {fd=5, revents=POLLOUT}], "
        "left {tv_sec=0, tv_nsec=199})")


def test_select():
    entry = {A: (1 | 1 << 4).to_bytes(8, "little"), B: struct.pack("<qq", 0, 100)}
    after = {A: (1).to_bytes(8, "little"), B: struct.pack("<qq", 0, 97)}
    assert line("select", (5, A, 0, 0, B), 1, after, entry=entry) == (
        "select(5, [0 4], NULL, NULL, {tv_sec=0, tv_usec=100}) = 1 (in [0], "
        "left {tv_sec=0, tv_usec=97})")
    assert line("select", (5, A, 0, 0, 0), 0, after, entry=entry) == \
        "select(5, [0 4], NULL, NULL, NULL) = 0 (Timeout)"


def test_epoll():
    m = {A: struct.pack("<IQ", 0x80000001, 0x1234), B: struct.pack("<IQ", 4, 5) * 2}
    assert line("epoll_ctl", (6, 1, 5, A), 0, m) == \
        "epoll_ctl(6, EPOLL_CTL_ADD, 5, {events=EPOLLIN|EPOLLET, data={u32=4660, u64=4660}}) = 0"
    assert line("epoll_ctl", (6, 2, 5, 0), 0, m) == "epoll_ctl(6, EPOLL_CTL_DEL, 5, NULL) = 0"
    assert line("epoll_wait", (6, B, 4, 0), 1, m) == \
        "epoll_wait(6, [{events=EPOLLOUT, data={u32=5, u64=5}}], 4, 0) = 1"
    assert line("epoll_wait", (6, B, 4, 1), 0, m) == "epoll_wait(6, [], 4, 1) = 0"
    assert line("epoll_pwait", (6, B, 4, 0, 0, 8), 0, m) == "epoll_pwait(6, [], 4, 0, NULL, 8) = 0"


# --------------------------------------------------------------------------
# sockets
# --------------------------------------------------------------------------

def msghdr(name, namelen, iov, iovlen, control, controllen, flags=0):
    return struct.pack("<QI4xQQQQi4x", name, namelen, iov, iovlen, control, controllen, flags)


def test_sendmsg_recvmsg():
    cmsg = struct.pack("<Qiii4x", 20, 1, 1, 1)
    m = {A: msghdr(0, 0, B, 2, C, 24), B: struct.pack("<QQQQ", S1, 5, S2, 6),
         C: cmsg, S1: b"hello", S2: b" world"}
    assert line("sendmsg", (3, A, 0), 11, m) == (
        'sendmsg(3, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="hello", iov_len=5}, '
        '{iov_base=" world", iov_len=6}], msg_iovlen=2, msg_control=[{cmsg_len=20, '
        "cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, cmsg_data=[1]}], msg_controllen=24, "
        "msg_flags=0}, 0) = 11")
    m = {A: msghdr(0, 0, B, 1, C, 24, 0x40000000), B: struct.pack("<QQ", S1, 8),
         C: struct.pack("<Qiii4x", 20, 1, 1, 5), S1: b"hello wo"}
    assert line("recvmsg", (4, A, 0x40000000), 8, m) == (
        'recvmsg(4, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="hello wo", iov_len=8}], '
        "msg_iovlen=1, msg_control=[{cmsg_len=20, cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, "
        "cmsg_data=[5]}], msg_controllen=24, msg_flags=MSG_CMSG_CLOEXEC}, MSG_CMSG_CLOEXEC) = 8")
    m[A] = msghdr(0, 0, B, 1, 0, 0)
    assert line("recvmsg", (4, A, 0x40), -11, m) == \
        "recvmsg(4, {msg_namelen=0}, MSG_DONTWAIT) = -1 EAGAIN (Resource temporarily unavailable)"


def test_sockopts():
    m = {A: struct.pack("<i", 1), B: struct.pack("<i", 4), C: struct.pack("<ii", 1, 5),
         D: struct.pack("<iII", 2147, 0, 0)}
    assert line("setsockopt", (6, 1, 2, A, 4), 0, m) == "setsockopt(6, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0"
    assert line("setsockopt", (6, 6, 1, A, 4), 0, m) == "setsockopt(6, SOL_TCP, TCP_NODELAY, [1], 4) = 0"
    assert line("setsockopt", (6, 1, 13, C, 8), 0, m) == \
        "setsockopt(6, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=5}, 8) = 0"
    m[A] = struct.pack("<i", 0)
    assert line("getsockopt", (6, 1, 4, A, B), 0, m) == "getsockopt(6, SOL_SOCKET, SO_ERROR, [0], [4]) = 0"
    m[A] = struct.pack("<i", 131072)
    assert line("getsockopt", (6, 1, 8, A, B), 0, m, entry={B: struct.pack("<i", 16)}) == \
        "getsockopt(6, SOL_SOCKET, SO_RCVBUF, [131072], [16 => 4]) = 0"
    m[B] = struct.pack("<i", 12)
    assert line("getsockopt", (3, 1, 17, D, B), 0, m, entry={B: struct.pack("<i", 16)}) == \
        "getsockopt(3, SOL_SOCKET, SO_PEERCRED, {pid=2147, uid=0, gid=0}, [16 => 12]) = 0"


def test_socket_address_lengths():
    sin = struct.pack("<H", 2) + struct.pack(">H", 39617) + bytes([127, 0, 0, 1]) + bytes(8)
    m = {A: sin, B: struct.pack("<i", 16)}
    entry = {B: struct.pack("<i", 128)}
    assert line("getsockname", (6, A, B), 0, m, entry=entry) == (
        'getsockname(6, {sa_family=AF_INET, sin_port=htons(39617), sin_addr=inet_addr("127.0.0.1")}, '
        "[128 => 16]) = 0")
    assert line("accept4", (6, A, B, 0o2000000), 8, m, entry=entry) == (
        'accept4(6, {sa_family=AF_INET, sin_port=htons(39617), sin_addr=inet_addr("127.0.0.1")}, '
        "[128 => 16], SOCK_CLOEXEC) = 8")
    assert line("accept4", (6, 0, 0, 0o4000), -11, m) == \
        "accept4(6, NULL, NULL, SOCK_NONBLOCK) = -1 EAGAIN (Resource temporarily unavailable)"
    m[B] = struct.pack("<i", 128)
    assert line("recvfrom", (7, C, 10, 0x40, A, B), -11, m) == \
        "recvfrom(7, 0x407000, 10, MSG_DONTWAIT, 0x405000, [128]) = -1 EAGAIN (Resource temporarily unavailable)"
    m[B], m[C] = struct.pack("<i", 0), b"ping"
    assert line("recvfrom", (7, C, 10, 0, A, B), 4, m, entry=entry) == \
        'recvfrom(7, "ping", 10, 0, 0x405000, [128 => 0]) = 4'
    nl = struct.pack("<HHII", 16, 0, 2147, 0)
    m = {A: nl, B: struct.pack("<i", 12)}
    assert line("getsockname", (10, A, B), 0, m) == \
        "getsockname(10, {sa_family=AF_NETLINK, nl_pid=2147, nl_groups=00000000}, [12]) = 0"
    m[A] = struct.pack("<HHII", 16, 0, 0, 5)
    assert line("bind", (10, A, 12), 0, m) == \
        "bind(10, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=0x000005}, 12) = 0"


def test_capture_copies_only_what_changes():
    assert NUMBERS["select"] in decode.CAPTURING
    assert NUMBERS["accept4"] in decode.CAPTURING
    assert NUMBERS["write"] not in decode.CAPTURING
    m = Mem({A: struct.pack("<i", 128), B: bytes(16)})
    regs = (6, B, A, 0, 0, 0)
    assert capture(NUMBERS["accept4"], regs, m) == {A: struct.pack("<i", 128)}
    assert capture(NUMBERS["write"], (1, B, 3, 0, 0, 0), m) is None
    assert capture(NUMBERS["accept4"], (6, 0, 0, 0, 0, 0), m) is None


# --------------------------------------------------------------------------
# ioctl, fcntl, offsets
# --------------------------------------------------------------------------

TERMIOS = struct.pack("<IIIIB", 0o2400, 0o5, 0o277, 0o105073, 0) + bytes(
    [3, 0x1C, 0x7F, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1A, 0, 0x12, 0xF, 0x17, 0x16, 0, 0, 0])


def test_terminal_ioctls():
    m = {A: TERMIOS, B: struct.pack("<HHHH", 24, 80, 0, 0), C: struct.pack("<i", 1)}
    abbrev = ("{c_iflag=ICRNL|IXON, c_oflag=NL0|CR0|TAB0|BS0|VT0|FF0|OPOST|ONLCR, "
              "c_cflag=B38400|CS8|CREAD, c_lflag=ISIG|ICANON|ECHO|ECHOE|ECHOK|IEXTEN|ECHOCTL|"
              "ECHOKE, ...}")
    assert line("ioctl", (9, 0x5401, A), 0, m) == f"ioctl(9, TCGETS, {abbrev}) = 0"
    assert line("ioctl", (9, 0x5402, A), 0, m) == f"ioctl(9, SNDCTL_TMR_START or TCSETS, {abbrev}) = 0"
    assert line("ioctl", (1, 0x5401, A), -25, m) == \
        "ioctl(1, TCGETS, 0x405000) = -1 ENOTTY (Inappropriate ioctl for device)"
    assert line("ioctl", (9, 0x5401, A), 0, m, Options(verbose=True)) == (
        "ioctl(9, TCGETS, {c_iflag=ICRNL|IXON, c_oflag=NL0|CR0|TAB0|BS0|VT0|FF0|OPOST|ONLCR, "
        "c_cflag=B38400|CS8|CREAD, c_lflag=ISIG|ICANON|ECHO|ECHOE|ECHOK|IEXTEN|ECHOCTL|ECHOKE, "
        "c_line=N_TTY, c_cc=[[VINTR]=0x3, [VQUIT]=0x1c, [VERASE]=0x7f, [VKILL]=0x15, [VEOF]=0x4, "
        "[VTIME]=0, [VMIN]=0x1, [VSWTC]=0, [VSTART]=0x11, [VSTOP]=0x13, [VSUSP]=0x1a, [VEOL]=0, "
        "[VREPRINT]=0x12, [VDISCARD]=0xf, [VWERASE]=0x17, [VLNEXT]=0x16, [VEOL2]=0, [17]=0, "
        "[18]=0]}) = 0")
    assert line("ioctl", (9, 0x5413, B), 0, m) == \
        "ioctl(9, TIOCGWINSZ, {ws_row=24, ws_col=80, ws_xpixel=0, ws_ypixel=0}) = 0"
    assert line("ioctl", (9, 0x5421, C), 0, m) == "ioctl(9, FIONBIO, [1]) = 0"
    assert line("ioctl", (9, 0x5451, 0), 0, m) == "ioctl(9, FIOCLEX) = 0"
    assert line("ioctl", (9, 0x540B, 0), 0, m) == "ioctl(9, TCFLSH, TCIFLUSH) = 0"
    assert line("ioctl", (9, 0x1234, 0), -25, m) == \
        "ioctl(9, _IOC(_IOC_NONE, 0x12, 0x34, 0), 0) = -1 ENOTTY (Inappropriate ioctl for device)"
    assert line("ioctl", (4, 0x40049409, 3), -95, m) == \
        "ioctl(4, BTRFS_IOC_CLONE or FICLONE, 3) = -1 EOPNOTSUPP (Operation not supported)"


def test_fcntl_locks():
    m = {A: struct.pack("<hh4xqqi4x", 1, 0, 10, 20, 0)}
    assert line("fcntl", (3, 6, A), 0, m) == \
        "fcntl(3, F_SETLK, {l_type=F_WRLCK, l_whence=SEEK_SET, l_start=10, l_len=20}) = 0"
    m = {A: struct.pack("<hh4xqqi4x", 2, 0, 10, 20, 0)}
    assert line("fcntl", (3, 5, A), 0, m) == \
        "fcntl(3, F_GETLK, {l_type=F_UNLCK, l_whence=SEEK_SET, l_start=10, l_len=20, l_pid=0}) = 0"


def test_offsets_read_and_updated():
    m = {A: struct.pack("<q", 7), B: struct.pack("<q", 5)}
    entry = {A: struct.pack("<q", 2), B: struct.pack("<q", 0)}
    assert line("copy_file_range", (3, A, 4, B, 5, 0), 5, m, entry=entry) == \
        "copy_file_range(3, [2], 4, [0], 5, 0) = 5"
    assert line("copy_file_range", (3, 0, 4, 0, (1 << 63) - (1 << 30), 0), 1221, m) == \
        "copy_file_range(3, NULL, 4, NULL, 9223372035781033984, 0) = 1221"
    m = {A: struct.pack("<q", 7)}
    assert line("sendfile", (4, 3, A, 7), 7, m, entry={A: bytes(8)}) == "sendfile(4, 3, [0] => [7], 7) = 7"
    assert line("sendfile", (4, 3, 0, 7), 7, m) == "sendfile(4, 3, NULL, 7) = 7"


# --------------------------------------------------------------------------
# other syscalls
# --------------------------------------------------------------------------

def test_misc_syscalls():
    m = {A: struct.pack("<I", 1), B: bytes(32), C: struct.pack("<q", 1700000000)}
    assert line("getcpu", (A, 0, 0), 0, m) == "getcpu([1], NULL, NULL) = 0"
    assert line("sched_getscheduler", (0,), 0, m) == "sched_getscheduler(0) = 0 (SCHED_OTHER)"
    assert line("getpriority", (0, 0), 20, m) == "getpriority(PRIO_PROCESS, 0) = 20"
    assert line("personality", (0xFFFFFFFF,), 0, m) == "personality(0xffffffff) = 0 (PER_LINUX)"
    assert line("getitimer", (0, B), 0, m) == (
        "getitimer(ITIMER_REAL, {it_interval={tv_sec=0, tv_usec=0}, "
        "it_value={tv_sec=0, tv_usec=0}}) = 0")
    assert line("times", (B,), 1719193973, m) == \
        "times({tms_utime=0, tms_stime=0, tms_cutime=0, tms_cstime=0}) = 1719193973"
    assert line("getgroups", (0, 0), 0, m) == "getgroups(0, NULL) = 0"
    assert line("membarrier", (0, 0, 0), 0x3FF, m) == (
        "membarrier(MEMBARRIER_CMD_QUERY, 0) = 0x3ff (MEMBARRIER_CMD_GLOBAL|"
        "MEMBARRIER_CMD_GLOBAL_EXPEDITED|MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED|"
        "MEMBARRIER_CMD_PRIVATE_EXPEDITED|MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED|"
        "MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE|MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE|"
        "MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ|MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ|0x200)")
    assert line("timerfd_create", (1, 0), 19, m) == "timerfd_create(CLOCK_MONOTONIC, 0) = 19"
    m[D] = struct.pack("<Q", 1 << 9)
    assert line("signalfd4", (-1, D, 8, 0), 20, m) == "signalfd4(-1, [USR1], 8, 0) = 20"
    assert line("pidfd_open", (2147, 0), 22, m) == "pidfd_open(2147, 0) = 22"


# --------------------------------------------------------------------------
# argument counts of syscalls the table does not decode
# --------------------------------------------------------------------------

def test_nargs_covers_every_syscall():
    assert set(NARGS) == set(NAMES.values())
    assert NARGS["read"] == 3 and NARGS["mmap"] == 6 and NARGS["getpid"] == 0
    assert NARGS["rt_sigreturn"] == 0 and NARGS["kexec_load"] == 4 and NARGS["futex_waitv"] == 5


@pytest.mark.parametrize("name", sorted(n for n in NAMES.values() if n not in decode.SYSCALLS))
def test_undecoded_syscalls_print_their_own_argument_count(name):
    text = line(name, (1, 2, 3, 4, 5, 6), 0)
    args = text[len(name) + 1:text.rindex(") = ")]
    assert (args.split(", ") if args else []) == [hex(k) for k in range(1, NARGS[name] + 1)]


# --------------------------------------------------------------------------
# options: -x, -xx, -y, -yy, -v
# --------------------------------------------------------------------------

def test_xflag_strings():
    m = {A: b"hi\n", B: b"\x7fELF\x02", S1: b"/etc/passwd\0"}
    assert line("write", (1, A, 3), 3, m, Options(xflag=1)) == 'write(1, "hi\\n", 3) = 3'
    assert line("write", (1, B, 5), 5, m, Options(xflag=1)) == 'write(1, "\\x7f\\x45\\x4c\\x46\\x02", 5) = 5'
    assert line("write", (1, A, 3), 3, m, Options(xflag=2)) == 'write(1, "\\x68\\x69\\x0a", 3) = 3'
    assert line("openat", (-100, S1, 0), 3, m, Options(xflag=2)) == \
        'openat(AT_FDCWD, "\\x2f\\x65\\x74\\x63\\x2f\\x70\\x61\\x73\\x73\\x77\\x64", O_RDONLY) = 3'


def test_fd_paths():
    paths = {0: "/dev/pts/0", 3: "/tmp/a<b>", 4: "pipe:[377122]", 5: "/tmp/gone (deleted)",
             -100: "/work"}
    y = Options(fds=1, fd_path=paths.get)
    m = {A: b"x", S1: b"f\0", B: struct.pack("<ii", 4, 4)}
    assert line("write", (4, A, 1), 1, m, y) == 'write(4<pipe:[377122]>, "x", 1) = 1'
    assert line("read", (3, A, 1), 1, m, y) == 'read(3</tmp/a\\74b\\76>, "x", 1) = 1'
    assert line("close", (5,), 0, m, y) == "close(5</tmp/gone>(deleted)) = 0"
    assert line("close", (9,), -9, m, y) == "close(9) = -1 EBADF (Bad file descriptor)"
    assert line("openat", (-100, S1, 0), 3, m, y) == 'openat(AT_FDCWD</work>, "f", O_RDONLY) = 3</tmp/a\\74b\\76>'
    assert line("pipe2", (B, 0), 0, m, y) == "pipe2([4<pipe:[377122]>, 4<pipe:[377122]>], 0) = 0"
    assert line("dup", (3,), 3, m, Options()) == "dup(3) = 3"
    if os.path.exists("/dev/null"):
        yy = Options(fds=2, fd_path={1: "/dev/null"}.get)
        st = os.stat("/dev/null")
        assert line("write", (1, A, 1), 1, m, yy) == \
            f'write(1</dev/null<char {os.major(st.st_rdev)}:{os.minor(st.st_rdev)}>>, "x", 1) = 1'


def test_mmsg_and_mincore():
    def mmsg(iov, msg_len):
        return struct.pack("<QI4xQQQQi4x", 0, 0, iov, 1, 0, 0, 0) + struct.pack("<I4x", msg_len)
    m = {A: mmsg(B, 5) + mmsg(C, 6), B: struct.pack("<QQ", S1, 5), C: struct.pack("<QQ", S2, 6),
         S1: b"first", S2: b"second"}
    hdr = "{{msg_hdr={{msg_name=NULL, msg_namelen=0, msg_iov=[{{iov_base={}, iov_len={}}}], " \
          "msg_iovlen=1, msg_controllen=0, msg_flags=0}}{}}}"
    assert line("sendmmsg", (3, A, 2, 0x4000), 2, m) == (
        f'sendmmsg(3, [{hdr.format(chr(34) + "first" + chr(34), 5, ", msg_len=5")}, '
        f'{hdr.format(chr(34) + "second" + chr(34), 6, ", msg_len=6")}], 2, MSG_NOSIGNAL) = 2')
    assert line("sendmmsg", (99, A, 2, 0), -9, m) == (
        f'sendmmsg(99, [{hdr.format(chr(34) + "first" + chr(34), 5, "")}, '
        f'{hdr.format(chr(34) + "second" + chr(34), 6, "")}], 2, 0) = -1 EBADF (Bad file descriptor)')
    m[B], m[C] = struct.pack("<QQ", S1, 16), struct.pack("<QQ", S2, 16)
    assert line("recvmmsg", (4, A, 3, 0x40, 0), 2, m) == (
        f'recvmmsg(4, [{hdr.format(chr(34) + "first" + chr(34), 16, ", msg_len=5")}, '
        f'{hdr.format(chr(34) + "second" + chr(34), 16, ", msg_len=6")}], 3, MSG_DONTWAIT, NULL) = 2')
    m[D] = bytes([1, 0, 0])
    assert line("mincore", (0x7F4DA5108000, 12288, D), 0, m) == \
        "mincore(0x7f4da5108000, 12288, [1, 0, 0]) = 0"


def test_timers_and_numa():
    m = {A: struct.pack("<QiiQQ", 0, 10, 0, 0, 0).ljust(64, b"\0"),
         B: struct.pack("<QiiQQ", 0x1234, 10, 1, 0, 0).ljust(64, b"\0"),
         C: struct.pack("<i", 1), D: bytes(32)}
    assert line("timer_create", (1, A, C), 0, m) == \
        "timer_create(CLOCK_MONOTONIC, {sigev_signo=SIGUSR1, sigev_notify=SIGEV_SIGNAL}, [1]) = 0"
    assert line("timer_create", (1, B, C), 0, m) == (
        "timer_create(CLOCK_MONOTONIC, {sigev_value={sival_int=4660, sival_ptr=0x1234}, "
        "sigev_signo=10, sigev_notify=SIGEV_NONE}, [1]) = 0")
    assert line("timer_gettime", (0, D), 0, m) == \
        "timer_gettime(0, {it_interval={tv_sec=0, tv_nsec=0}, it_value={tv_sec=0, tv_nsec=0}}) = 0"
    m[A] = struct.pack("<QQ", 1, 0)
    assert line("set_mempolicy", (5, A, 0x80), 0, m) == \
        "set_mempolicy(MPOL_PREFERRED_MANY, [0x00000000000001, 0000000000000000], 128) = 0"
    m[C] = struct.pack("<i", 0)
    assert line("get_mempolicy", (C, A, 0x80, 0, 0), 0, m) == \
        "get_mempolicy([MPOL_DEFAULT], [0x00000000000001, 0000000000000000], 128, NULL, 0) = 0"


def test_verbose_uname_getdents_execve():
    uts = b"".join(s.ljust(65, b"\0") for s in (b"Linux", b"vm", b"6.1", b"#1", b"x86_64", b"(none)"))
    m = {A: uts}
    assert line("uname", (A,), 0, m) == 'uname({sysname="Linux", nodename="vm", ...}) = 0'
    assert line("uname", (A,), 0, m, Options(verbose=True)) == (
        'uname({sysname="Linux", nodename="vm", release="6.1", version="#1", machine="x86_64", '
        'domainname="(none)"}) = 0')
    ents = struct.pack("<QqHB", 27940, 5, 24, 8) + b"a.py\0" + bytes(0) \
        + struct.pack("<QqHB", 27684, 9, 24, 4) + b".\0\0\0\0"
    m = {A: ents}
    assert line("getdents64", (3, A, 32768), 48, m) == "getdents64(3, 0x405000 /* 2 entries */, 32768) = 48"
    assert line("getdents64", (3, A, 32768), 48, m, Options(verbose=True)) == (
        'getdents64(3, [{d_ino=27940, d_off=5, d_reclen=24, d_type=DT_REG, d_name="a.py"}, '
        '{d_ino=27684, d_off=9, d_reclen=24, d_type=DT_DIR, d_name="."}], 32768) = 48')
    m = {S1: b"/bin/true\0", S2: b"A=1\0", A: struct.pack("<QQ", S1, 0), B: struct.pack("<QQ", S2, 0)}
    assert line("execve", (S1, A, B), 0, m) == 'execve("/bin/true", ["/bin/true"], 0x406000 /* 1 var */) = 0'
    assert line("execve", (S1, A, B), 0, m, Options(verbose=True)) == \
        'execve("/bin/true", ["/bin/true"], ["A=1"]) = 0'


def test_dup_new_descriptor_has_no_path():
    y = Options(fds=1, fd_path={3: "/tmp/d", 60: "/tmp/d"}.get)
    assert line("dup2", (3, 60), 60, None, y) == "dup2(3</tmp/d>, 60) = 60</tmp/d>"
    assert line("dup3", (3, 60, 0o2000000), 60, None, y) == "dup3(3</tmp/d>, 60, O_CLOEXEC) = 60</tmp/d>"


def test_capget_capset():
    v3 = struct.pack("<Ii", 0x20080522, 0)
    m = {A: v3, B: struct.pack("<6I", 3, 1, 0, 0x101, 0, 0)}
    assert line("capget", (A, B), 0, m) == (
        "capget({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_CHOWN|"
        "1<<CAP_DAC_OVERRIDE|1<<CAP_MAC_OVERRIDE|1<<CAP_CHECKPOINT_RESTORE, "
        "permitted=1<<CAP_CHOWN, inheritable=0}) = 0")
    assert line("capset", (A, B), -1, m) == (
        "capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_CHOWN|"
        "1<<CAP_DAC_OVERRIDE|1<<CAP_MAC_OVERRIDE|1<<CAP_CHECKPOINT_RESTORE, "
        "permitted=1<<CAP_CHOWN, inheritable=0}) = -1 EPERM (Operation not permitted)")
    # EINVAL: the kernel stores the version it prefers; strace shows the one passed
    assert line("capget", (A, B), -22, m, entry={A: struct.pack("<Ii", 0, 0)}) == (
        "capget({version=0 /* _LINUX_CAPABILITY_VERSION_??? */, pid=0}, 0x406000) "
        "= -1 EINVAL (Invalid argument)")
