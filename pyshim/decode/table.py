"""THE TABLE: how each syscall's arguments print.

:data:`SYSCALLS` maps a syscall name to a *spec*: one argument kind per
argument (kinds.py), optionally ``-> kind`` for the return value.  A token
is ``[label=]kind[@index]``.  Calls whose remaining arguments depend on a
command argument use a :class:`Switch`.  Adding a syscall is one line here.
"""

from __future__ import annotations

from typing import NamedTuple

from .xlat import FUTEX_CLOCK_REALTIME, FUTEX_PRIVATE_FLAG


class Switch(NamedTuple):
    """Arguments after *base* depend on the value of base's last argument
    (masked with *mask*): ``cases[value]``, else *default*."""
    base: str
    cases: dict[int, str]
    default: str
    mask: int = 0xFFFFFFFF


_SOCKADDR_OUT = "fd osockaddr olen"

SYSCALLS: dict[str, str | Switch] = {
    # files and descriptors
    "read": "fd rbuf size",
    "write": "fd wbuf size",
    "pread64": "fd rbuf size long",
    "pwrite64": "fd wbuf size long",
    "readv": "fd ptr int",
    "writev": "fd ptr int",
    "open": "path openflags openmode",
    "openat": "dirfd path openflags openmode",
    "creat": "path octal",
    "close": "fd",
    "close_range": "uint uint closerangeflags",
    "stat": "path ptr",
    "lstat": "path ptr",
    "fstat": "fd ptr",
    "newfstatat": "dirfd path ptr atflags",
    "statx": "dirfd path statxflags statxmask ptr",
    "statfs": "path ptr",
    "fstatfs": "fd ptr",
    "lseek": "fd long whence",
    "access": "path accmode",
    "faccessat": "dirfd path accmode",
    "faccessat2": "dirfd path accmode faccessatflags",
    "readlink": "path rbuf size",
    "readlinkat": "dirfd path rbuf size",
    "getdents64": "fd dirents size",
    "getdents": "fd dirents size",
    "dup": "fd",
    "dup2": "fd fd",
    "dup3": "fd fd oflags",
    "pipe": "pipefds",
    "pipe2": "pipefds oflags",
    "fcntl": Switch("fd fcntlcmd", {
        0: "fd", 1030: "fd",                                  # F_DUPFD, F_DUPFD_CLOEXEC
        1: "-> getfd", 2: "fdflags",                          # F_GETFD, F_SETFD
        3: "-> getfl", 4: "openflags",                        # F_GETFL, F_SETFL
        5: "ptr", 6: "ptr", 7: "ptr", 36: "ptr", 37: "ptr", 38: "ptr",  # locks
        8: "int", 9: "", 10: "sig", 11: "-> getsig",          # F_SETOWN .. F_GETSIG
        15: "ptr", 16: "ptr",                                 # F_SETOWN_EX, F_GETOWN_EX
        1024: "lease", 1025: "-> getlease", 1026: "dnflags",  # F_SETLEASE .. F_NOTIFY
        1031: "int", 1032: "",                                # F_SETPIPE_SZ, F_GETPIPE_SZ
        1033: "seals", 1034: "-> getseals",                   # F_ADD_SEALS, F_GET_SEALS
    }, "hex"),
    "ioctl": "fd ioctlreq ioctlarg",
    "flock": "fd flockop",
    "fsync": "fd",
    "fdatasync": "fd",
    "truncate": "path long",
    "ftruncate": "fd long",
    "unlink": "path",
    "unlinkat": "dirfd path atflags",
    "rmdir": "path",
    "mkdir": "path octal",
    "mkdirat": "dirfd path octal",
    "chdir": "path",
    "fchdir": "fd",
    "chroot": "path",
    "getcwd": "cwd size",
    "rename": "path path",
    "renameat": "dirfd path dirfd path",
    "renameat2": "dirfd path dirfd path renameflags",
    "link": "path path",
    "linkat": "dirfd path dirfd path atflags",
    "symlink": "path path",
    "symlinkat": "path dirfd path",
    "chmod": "path octal",
    "fchmod": "fd octal",
    "fchmodat": "dirfd path octal",
    "chown": "path int int",
    "lchown": "path int int",
    "fchown": "fd int int",
    "fchownat": "dirfd path int int atflags",
    "umask": "octal -> octal",
    "memfd_create": "str mfdflags",
    "sendfile": "fd fd ptr size",
    "eventfd2": "uint efdflags",
    "epoll_create1": "epollflags",
    "epoll_ctl": "fd epollop fd ptr",
    "epoll_wait": "fd ptr int int",
    "poll": "ptr uint int -> poll",
    # memory
    "mmap": "ptr size prot mapflags fd hex -> hex",
    "mprotect": "ptr size prot",
    "munmap": "ptr size",
    "mremap": "ptr size size mremapflags mremapaddr -> hex",
    "msync": "ptr size msyncflags",
    "madvise": "ptr size madvise",
    "brk": "ptr -> hex",
    "shmat": "int ptr hex -> hex",
    # sockets
    "socket": "domain socktype sockproto",
    "socketpair": "domain socktype sockproto pipefds",
    "connect": "fd sockaddr int",
    "bind": "fd sockaddr int",
    "listen": "fd int",
    "accept": _SOCKADDR_OUT,
    "accept4": _SOCKADDR_OUT + " sockflags",
    "getsockname": _SOCKADDR_OUT,
    "getpeername": _SOCKADDR_OUT,
    "sendto": "fd wbuf size msgflags sockaddr int",
    "recvfrom": "fd rbuf size msgflags osockaddr olen",
    "sendmsg": "fd ptr msgflags",
    "recvmsg": "fd ptr msgflags",
    "shutdown": "fd shutdown",
    "setsockopt": "fd int int ptr int",
    "getsockopt": "fd int int ptr ptr",
    # processes
    "execve": "path argv envp",
    "execveat": "dirfd path argv envp atflags",
    "exit": "int",
    "exit_group": "int",
    "clone": "child_stack=ptr@1 flags=cloneflags@0 parent_tid=clone_ptid@2 "
             "tls=clone_tls@4 child_tidptr=clone_ctid@3",
    "clone3": "clone_args size",
    "fork": "",
    "vfork": "",
    "wait4": "int wstatus waitopts ptr",
    "kill": "int sig",
    "tkill": "int sig",
    "tgkill": "int int sig",
    "getpid": "", "getppid": "", "gettid": "", "getuid": "", "geteuid": "",
    "getgid": "", "getegid": "", "getpgrp": "", "setsid": "",
    "getpgid": "int", "setpgid": "int int", "getsid": "int",
    "setuid": "int", "setgid": "int",
    "prctl": Switch("prctlopt", {
        1: "sig", 2: "osig",                       # PR_SET/GET_PDEATHSIG
        3: "-> dumpable", 4: "dumpable",           # PR_GET/SET_DUMPABLE
        7: "", 21: "", 30: "", 13: "",             # PR_GET_KEEPCAPS, _SECCOMP, _TIMERSLACK, _TIMING
        8: "ulong", 10: "ulong", 12: "ulong", 14: "ulong", 20: "ulong", 36: "ulong",
        9: "ouint", 11: "ouint", 19: "ouint", 37: "ouint",
        15: "str", 16: "ostr",                     # PR_SET/GET_NAME
        22: "seccompmode hex hex hex",             # PR_SET_SECCOMP
        23: "cap", 24: "cap",                      # PR_CAPBSET_READ/DROP
        29: "long",                                # PR_SET_TIMERSLACK
        31: "", 32: "",                            # PR_TASK_PERF_EVENTS_*
        38: "ulong hex hex hex", 41: "ulong hex hex hex", 57: "ulong hex hex hex",
        40: "okptr",                               # PR_GET_TID_ADDRESS
        0x53564D41: "setvma ptr ulong str",        # PR_SET_VMA
        0x59616D61: "ptracer",                     # PR_SET_PTRACER
    }, "hex hex hex hex"),
    "arch_prctl": Switch("archcode", {
        0x1003: "okptr", 0x1004: "okptr",          # ARCH_GET_FS/GS
        0x1011: "",                                # ARCH_GET_CPUID
    }, "hex"),
    "set_tid_address": "ptr",
    "set_robust_list": "ptr size",
    "rseq": "ptr hex hex hex",
    "uname": "utsname",
    "sysinfo": "ptr",
    "getrlimit": "rlimit orlim",
    "setrlimit": "rlimit rlim",
    "prlimit64": "int rlimit rlim orlim",
    "getrusage": "rusagewho ptr",
    "getrandom": "rbufhex size grndflags",
    # signals
    "rt_sigaction": "sig ptr ptr size",
    "rt_sigprocmask": "sighow sigset osigset size",
    "rt_sigsuspend": "sigset size",
    "rt_sigreturn": "",
    "sigaltstack": "ptr ptr",
    "pause": "",
    # time
    "nanosleep": "timespec ptr",
    "clock_nanosleep": "clock timerflags timespec ptr",
    "clock_gettime": "clock otimespec",
    "clock_getres": "clock otimespec",
    "gettimeofday": "ptr ptr",
    "sched_yield": "",
    "futex": Switch("ptr futexop", {
        0: "uint timespec",                        # FUTEX_WAIT
        1: "uint", 2: "uint",                      # FUTEX_WAKE, FUTEX_FD
        3: "uint uint ptr",                        # FUTEX_REQUEUE
        4: "uint uint ptr uint",                   # FUTEX_CMP_REQUEUE
        5: "uint uint ptr wakeop",                 # FUTEX_WAKE_OP
        6: "timespec@3", 13: "timespec@3",         # FUTEX_LOCK_PI, FUTEX_LOCK_PI2
        7: "", 8: "",                              # FUTEX_UNLOCK_PI, FUTEX_TRYLOCK_PI
        9: "uint timespec bitset@5",               # FUTEX_WAIT_BITSET
        10: "uint bitset@5",                       # FUTEX_WAKE_BITSET
        11: "uint timespec ptr",                   # FUTEX_WAIT_REQUEUE_PI
        12: "uint uint ptr uint",                  # FUTEX_CMP_REQUEUE_PI
    }, "uint hex hex hex", mask=0xFFFFFFFF & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)),
}
