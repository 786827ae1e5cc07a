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
    "readv": "fd oiov ulong",
    "writev": "fd iov ulong",
    "preadv": "fd oiov ulong long",
    "pwritev": "fd iov ulong long",
    "preadv2": "fd oiov ulong long rwfflags@5",
    "pwritev2": "fd iov ulong long rwfflags@5",
    "open": "path openflags openmode -> fd",
    "openat": "dirfd path openflags openmode -> fd",
    "creat": "path octal -> fd",
    "close": "fd",
    "close_range": "uint uint closerangeflags",
    "stat": "path stat",
    "lstat": "path stat",
    "fstat": "fd stat",
    "newfstatat": "dirfd path stat atflags",
    "statx": "dirfd path statxflags statxmask statx",
    "statfs": "path statfs",
    "fstatfs": "fd statfs",
    "lseek": "fd long whence",
    "access": "path accmode",
    "faccessat": "dirfd path accmode",
    "faccessat2": "dirfd path accmode faccessatflags",
    "readlink": "path rbuf size",
    "readlinkat": "dirfd path rbuf size",
    "getdents64": "fd dirents size",
    "getdents": "fd dirents size",
    "dup": "fd -> fd",
    "dup2": "fd int -> fd",
    "dup3": "fd int oflags -> fd",
    "pipe": "pipefds",
    "pipe2": "pipefds oflags",
    "fcntl": Switch("fd fcntlcmd", {
        0: "int -> fd", 1030: "int -> fd",                    # F_DUPFD, F_DUPFD_CLOEXEC
        1: "-> getfd", 2: "fdflags",                          # F_GETFD, F_SETFD
        3: "-> getfl", 4: "openflags",                        # F_GETFL, F_SETFL
        5: "oflock", 6: "flock", 7: "flock",                  # F_GETLK, F_SETLK, F_SETLKW
        36: "oflock", 37: "flock", 38: "flock",               # F_OFD_*
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
    "memfd_create": "str mfdflags -> fd",
    "sendfile": "fd fd sendfileoff size",
    "copy_file_range": "fd ioff fd ioff size uint",
    "splice": "fd ioff fd ioff size spliceflags",
    "tee": "fd fd size spliceflags",
    "fadvise64": "fd long size fadvice",
    "getxattr": "path str oxattrval size",
    "lgetxattr": "path str oxattrval size",
    "fgetxattr": "fd str oxattrval size",
    "setxattr": "path str xattrval size xattrflags",
    "lsetxattr": "path str xattrval size xattrflags",
    "fsetxattr": "fd str xattrval size xattrflags",
    "listxattr": "path xattrlist size",
    "llistxattr": "path xattrlist size",
    "flistxattr": "fd xattrlist size",
    "removexattr": "path str",
    "lremovexattr": "path str",
    "fremovexattr": "fd str",
    "eventfd2": "uint efdflags -> fd",
    "eventfd": "uint -> fd",
    "epoll_create1": "epollflags -> fd",
    "epoll_create": "int -> fd",
    "epoll_ctl": "fd epollop fd epollevent",
    "epoll_wait": "fd oepollevents int int",
    "epoll_pwait": "fd oepollevents int int sigset5 ulong",
    "epoll_pwait2": "fd oepollevents int timespec sigset5 ulong",
    "poll": "pollfds uint int -> poll",
    "ppoll": "pollfds uint itimespec sigset4 ulong -> ppoll",
    "select": "int fdset fdset fdset itimeval -> select",
    "pselect6": "int fdset fdset fdset itimespec sigmaskarg -> pselect6",
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
    "socket": "domain socktype sockproto -> fd",
    "socketpair": "domain socktype sockproto pipefds",
    "connect": "fd sockaddr int",
    "bind": "fd sockaddr int",
    "listen": "fd int",
    "accept": _SOCKADDR_OUT + " -> fd",
    "accept4": _SOCKADDR_OUT + " sockflags -> fd",
    "getsockname": _SOCKADDR_OUT,
    "getpeername": _SOCKADDR_OUT,
    "sendto": "fd wbuf size msgflags sockaddr int",
    "recvfrom": "fd rbuf size msgflags osockaddr olen",
    "sendmsg": "fd msghdr msgflags",
    "recvmsg": "fd omsghdr msgflags",
    "sendmmsg": "fd mmsgvec uint msgflags",
    "recvmmsg": "fd ommsgvec uint msgflags itimespec",
    "shutdown": "fd shutdown",
    "setsockopt": "fd socklevel sockoptname setsockoptval int",
    "getsockopt": "fd socklevel sockoptname getsockoptval getsockoptlen",
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
    "wait4": "int wstatus waitopts orusage",
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
    "sysinfo": "osysinfo",
    "getrlimit": "rlimit orlim",
    "setrlimit": "rlimit rlim",
    "prlimit64": "int rlimit rlim orlim",
    "getrusage": "rusagewho orusage",
    "sched_getaffinity": "int uint ocpuset",
    "sched_setaffinity": "int uint cpuset",
    "getrandom": "rbufhex size grndflags",
    # signals
    "rt_sigaction": "sig sigaction osigaction size",
    "rt_sigprocmask": "sighow sigset osigset size",
    "rt_sigsuspend": "sigset size",
    "rt_sigreturn": "",
    "sigaltstack": "stack ostack",
    "rt_sigpending": "sigpending size",
    "rt_sigtimedwait": "sigset3 siginfo timespec size -> getsig",
    "rt_sigqueueinfo": "int sig isiginfo",
    "rt_tgsigqueueinfo": "int int sig isiginfo",
    "pause": "",
    # time
    "nanosleep": "timespec ptr",
    "clock_nanosleep": "clock timerflags timespec ptr",
    "clock_gettime": "clock otimespec",
    "clock_getres": "clock otimespec",
    "gettimeofday": "otimeval otimezone",
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
    # more files
    "utimensat": "dirfd path utimespecs atflags",
    "utimes": "path utimevals",
    "futimesat": "dirfd path utimevals",
    "utime": "path utimbuf",
    "mknod": "path mknodmode mknoddev",
    "mknodat": "dirfd path mknodmode mknoddev",
    "fallocate": "fd fallocflags long long",
    "readahead": "fd long size",
    "sync_file_range": "fd long long syncfrflags",
    "sync": "",
    "syncfs": "fd",
    "openat2": "dirfd path openhow size -> fd",
    "inotify_init": "-> fd",
    "inotify_init1": "inotifyinitflags -> fd",
    "inotify_add_watch": "fd path inotifymask",
    "inotify_rm_watch": "fd int",
    "signalfd": "fd sigset2 size -> fd",
    "signalfd4": "fd sigset2 size sfdflags -> fd",
    "timerfd_create": "clock tfdflags -> fd",
    "timerfd_settime": "fd tfdflags itimerspec oitimerspec",
    "timerfd_gettime": "fd oitimerspec",
    "userfaultfd": "uffdflags -> fd",
    "pidfd_open": "int pidfdflags -> fd",
    "pidfd_getfd": "fd int hex -> fd",
    "umount2": "path umountflags",
    "pivot_root": "path path",
    "acct": "path",
    "swapoff": "path",
    "sethostname": "sethostname uint",
    "setdomainname": "sethostname uint",
    # processes, ids, scheduling
    "waitid": "waitidtype waitidid siginfo waitopts orusage",
    "setreuid": "id id", "setregid": "id id",
    "setresuid": "id id id", "setresgid": "id id id",
    "getresuid": "oid oid oid", "getresgid": "oid oid oid",
    "setfsuid": "id", "setfsgid": "id",
    "getgroups": "int ogroups",
    "setgroups": "int groups",
    "personality": "personality -> personality",
    "getpriority": "priowhich priowho",
    "setpriority": "priowhich priowho int",
    "sched_getscheduler": "int -> schedpolicy",
    "sched_setscheduler": "int schedpolicy iintp",
    "sched_getparam": "int ointp",
    "sched_setparam": "int iintp",
    "sched_get_priority_max": "schedpolicy",
    "sched_get_priority_min": "schedpolicy",
    "sched_rr_get_interval": "int otimespec",
    "getcpu": "ouintp ouintp ptr",
    "unshare": "unshareflags",
    "setns": "fd setnstype",
    "membarrier": "membarriercmd membarrierflags membarriercpu -> membarrier",
    "capget": "caphdr ocapdata",
    "capset": "caphdr capdata",
    "mlock": "ptr size",
    "munlock": "ptr size",
    "mlock2": "ptr size mlockflags",
    "mlockall": "mlockallflags",
    "munlockall": "",
    "shmdt": "ptr",
    # time
    "alarm": "uint",
    "getitimer": "itimerwhich oitimerval",
    "setitimer": "itimerwhich itimerval oitimerval",
    "times": "otms",
    "time": "otime -> time",
    "clock_settime": "clock timespec",
    "timer_create": "clock sigevent ointp",
    "timer_settime": "int timerflags itimerspec oitimerspec",
    "timer_gettime": "int oitimerspec",
    "timer_getoverrun": "int",
    "timer_delete": "int",
    "mincore": "ptr size mincorevec",
    # NUMA
    "set_mempolicy": "mpolmode nodemask ulong",
    "get_mempolicy": "ompolmode onodemask ulong ptr getmpolflags",
}
