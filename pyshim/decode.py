"""Format one x86-64 syscall the way strace prints it by default (``-s 32``).

    format_call(NUMBERS["write"], (1, buf, 6, 0, 0, 0), 6, mem)
        -> 'write(1, "hello\\n", 6) = 6'

Public API: :func:`format_call`, :func:`errno_text`, :func:`format_signal`.

How a call is decoded is data: :data:`SYSCALLS` maps each syscall name to a
*spec* string listing one argument *kind* per argument, optionally followed
by ``-> kind`` for the return value.  A spec token is ``[label=]kind[@index]``:
``label=`` prints ``label=`` before the value (clone), ``@index`` takes the
value from another argument register (default: the token's position).  A kind
may print nothing (e.g. the mode of ``open`` without ``O_CREAT``).  Calls whose
remaining arguments depend on a command argument (fcntl, futex, prctl,
arch_prctl) use a :class:`Switch`.  Syscalls not in the table print all six
registers in hex, like strace does for syscalls it does not know.

The kinds themselves are the ``_k_*`` functions registered in :data:`KINDS`;
the value tables (flags and enums) are the ``Xlat`` constants.  Values follow
strace 6.x output, including its quirks (paths are not truncated at 32 bytes,
restart errnos print ``? ERESTARTSYS (...)``, unknown values print as
``0x.. /* PREFIX_??? */``).

``mem`` is any object with ``read(addr, n) -> bytes`` and
``string(addr, maxlen) -> bytes`` (without the NUL); both may raise OSError,
in which case the pointer is printed in hex, as strace does.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Callable
from typing import NamedTuple, Protocol

from pyshim.syscalls import NUMBERS, name as syscall_name

__all__ = ["format_call", "errno_text", "format_signal", "SYSCALLS", "KINDS", "Switch"]

MAX_STRLEN = 32  # strace -s default
PATH_MAX = 4096
AT_FDCWD = -100
_U64 = (1 << 64) - 1


class Memory(Protocol):
    def read(self, addr: int, n: int) -> bytes: ...
    def string(self, addr: int, maxlen: int) -> bytes: ...


# --------------------------------------------------------------------------
# Value tables ("xlat", as strace calls them)
# --------------------------------------------------------------------------

class Xlat:
    """An ordered table of named values, printed as an enum or a flag set.

    *spec* is whitespace-separated ``NAME=value`` tokens (any Python int
    literal).  Order matters for flags: like strace, the first entry whose
    bits are all set wins, so multi-bit names go before their parts.
    """

    def __init__(self, spec: str, unknown: str | None = None):
        self.items: tuple[tuple[int, str], ...] = tuple(
            (int(v, 0), n) for n, v in (tok.split("=") for tok in spec.split()))
        first = self.items[0][1].lstrip("_")
        self.unknown = unknown or first[: first.find("_") + 1] + "???"
        self._by_value: dict[int, str] = {}
        for v, n in self.items:
            self._by_value.setdefault(v, n)

    def get(self, value: int) -> str | None:
        return self._by_value.get(value)

    def value(self, value: int) -> str:
        """strace's printxval: the name, or ``0x.. /* X_??? */``."""
        n = self._by_value.get(value)
        return n if n is not None else f"{_hex(value)} /* {self.unknown} */"

    def flags(self, value: int, comment: bool = True) -> str:
        """strace's printflags: ``A|B|0x40``; ``0`` when zero."""
        names = []
        for v, n in self.items:
            if value == v or (v and value & v == v):
                names.append(n)
                value &= ~v
                if not value:
                    break
        if names:
            if value:
                names.append(_hex(value))
            return "|".join(names)
        if value:
            return f"{_hex(value)} /* {self.unknown} */" if comment else _hex(value)
        return "0"


SIGNALS = ("0 SIGHUP SIGINT SIGQUIT SIGILL SIGTRAP SIGABRT SIGBUS SIGFPE SIGKILL SIGUSR1 "
           "SIGSEGV SIGUSR2 SIGPIPE SIGALRM SIGTERM SIGSTKFLT SIGCHLD SIGCONT SIGSTOP SIGTSTP "
           "SIGTTIN SIGTTOU SIGURG SIGXCPU SIGXFSZ SIGVTALRM SIGPROF SIGWINCH SIGIO SIGPWR "
           "SIGSYS SIGRTMIN").split()
SIGRTMAX = 64

# open(2) and friends; access mode is printed separately, first.
O_ACCMODE = Xlat("O_RDONLY=0 O_WRONLY=1 O_RDWR=2 O_ACCMODE=3")
O_FLAGS = Xlat("""O_CREAT=0o100 O_EXCL=0o200 O_NOCTTY=0o400 O_TRUNC=0o1000 O_APPEND=0o2000
    O_NONBLOCK=0o4000 O_SYNC=0o4010000 __O_SYNC=0o4000000 O_DSYNC=0o10000 O_DIRECT=0o40000
    O_LARGEFILE=0o100000 O_NOFOLLOW=0o400000 O_NOATIME=0o1000000 O_CLOEXEC=0o2000000
    O_PATH=0o10000000 O_TMPFILE=0o20200000 __O_TMPFILE=0o20000000 O_DIRECTORY=0o200000
    FASYNC=0o20000""")
O_CREAT, __O_TMPFILE = 0o100, 0o20000000
AT_FLAGS = Xlat("""AT_SYMLINK_NOFOLLOW=0x100 AT_REMOVEDIR=0x200 AT_SYMLINK_FOLLOW=0x400
    AT_NO_AUTOMOUNT=0x800 AT_EMPTY_PATH=0x1000 AT_RECURSIVE=0x8000""")
FACCESSAT_FLAGS = Xlat("AT_SYMLINK_NOFOLLOW=0x100 AT_EACCESS=0x200 AT_EMPTY_PATH=0x1000")
STATX_SYNC = Xlat("AT_STATX_SYNC_AS_STAT=0 AT_STATX_FORCE_SYNC=0x2000 AT_STATX_DONT_SYNC=0x4000",
                  unknown="AT_STATX_???")
STATX_MASK = Xlat("""STATX_ALL=0xfff STATX_BASIC_STATS=0x7ff STATX_TYPE=0x1 STATX_MODE=0x2
    STATX_NLINK=0x4 STATX_UID=0x8 STATX_GID=0x10 STATX_ATIME=0x20 STATX_MTIME=0x40
    STATX_CTIME=0x80 STATX_INO=0x100 STATX_SIZE=0x200 STATX_BLOCKS=0x400 STATX_BTIME=0x800
    STATX_MNT_ID=0x1000 STATX_DIOALIGN=0x2000 STATX_MNT_ID_UNIQUE=0x4000 STATX_SUBVOL=0x8000
    STATX_WRITE_ATOMIC=0x10000""")
ACCESS_MODE = Xlat("F_OK=0 R_OK=4 W_OK=2 X_OK=1", unknown="?_OK")
RENAME_FLAGS = Xlat("RENAME_NOREPLACE=1 RENAME_EXCHANGE=2 RENAME_WHITEOUT=4", unknown="RENAME_??")
SEEK = Xlat("SEEK_SET=0 SEEK_CUR=1 SEEK_END=2 SEEK_DATA=3 SEEK_HOLE=4")

PROT = Xlat("""PROT_NONE=0 PROT_READ=1 PROT_WRITE=2 PROT_EXEC=4 PROT_SEM=8
    PROT_GROWSDOWN=0x01000000 PROT_GROWSUP=0x02000000""")
MAP_TYPE = 0xF
MAP_FLAGS = Xlat("""MAP_SHARED=0x1 MAP_PRIVATE=0x2 MAP_SHARED_VALIDATE=0x3 MAP_DROPPABLE=0x8
    MAP_FIXED=0x10 MAP_ANONYMOUS=0x20 MAP_32BIT=0x40 MAP_ABOVE4G=0x80 MAP_NORESERVE=0x4000
    MAP_POPULATE=0x8000 MAP_NONBLOCK=0x10000 MAP_GROWSDOWN=0x100 MAP_DENYWRITE=0x800
    MAP_EXECUTABLE=0x1000 MAP_FILE=0 MAP_LOCKED=0x2000 MAP_STACK=0x20000 MAP_HUGETLB=0x40000
    MAP_SYNC=0x80000 MAP_UNINITIALIZED=0x4000000 MAP_FIXED_NOREPLACE=0x100000""")
MAP_HUGE_SHIFT, MAP_HUGE_MASK = 26, 0x3F
MADVISE = Xlat("""MADV_NORMAL=0 MADV_RANDOM=1 MADV_SEQUENTIAL=2 MADV_WILLNEED=3
    MADV_DONTNEED=4 MADV_FREE=8 MADV_REMOVE=9 MADV_DONTFORK=10 MADV_DOFORK=11
    MADV_MERGEABLE=12 MADV_UNMERGEABLE=13 MADV_HUGEPAGE=14 MADV_NOHUGEPAGE=15
    MADV_DONTDUMP=16 MADV_DODUMP=17 MADV_WIPEONFORK=18 MADV_KEEPONFORK=19 MADV_COLD=20
    MADV_PAGEOUT=21 MADV_POPULATE_READ=22 MADV_POPULATE_WRITE=23 MADV_DONTNEED_LOCKED=24
    MADV_COLLAPSE=25 MADV_HWPOISON=100 MADV_SOFT_OFFLINE=101 MADV_GUARD_INSTALL=102
    MADV_GUARD_REMOVE=103""")
MREMAP_FLAGS = Xlat("MREMAP_MAYMOVE=1 MREMAP_FIXED=2 MREMAP_DONTUNMAP=4")
MREMAP_MAYMOVE, MREMAP_FIXED = 1, 2
MSYNC_FLAGS = Xlat("MS_ASYNC=1 MS_INVALIDATE=2 MS_SYNC=4")

FCNTL_CMDS = Xlat("""F_DUPFD=0 F_GETFD=1 F_SETFD=2 F_GETFL=3 F_SETFL=4 F_GETLK=5 F_SETLK=6
    F_SETLKW=7 F_SETOWN=8 F_GETOWN=9 F_SETSIG=10 F_GETSIG=11 F_SETOWN_EX=15 F_GETOWN_EX=16
    F_GETOWNER_UIDS=17 F_OFD_GETLK=36 F_OFD_SETLK=37 F_OFD_SETLKW=38 F_SETLEASE=1024
    F_GETLEASE=1025 F_NOTIFY=1026 F_DUPFD_QUERY=1027 F_CANCELLK=1029 F_DUPFD_CLOEXEC=1030
    F_SETPIPE_SZ=1031 F_GETPIPE_SZ=1032 F_ADD_SEALS=1033 F_GET_SEALS=1034""")
FD_FLAGS = Xlat("FD_CLOEXEC=1")
LEASES = Xlat("F_RDLCK=0 F_WRLCK=1 F_UNLCK=2")
SEALS = Xlat("F_SEAL_SEAL=1 F_SEAL_SHRINK=2 F_SEAL_GROW=4 F_SEAL_WRITE=8 F_SEAL_FUTURE_WRITE=16 "
             "F_SEAL_EXEC=32")
DN_FLAGS = Xlat("DN_ACCESS=1 DN_MODIFY=2 DN_CREATE=4 DN_DELETE=8 DN_RENAME=16 DN_ATTRIB=32 "
                "DN_MULTISHOT=0x80000000")
FLOCK_OPS = Xlat("LOCK_SH=1 LOCK_EX=2 LOCK_NB=4 LOCK_UN=8")

IOCTLS = Xlat("""TCGETS=0x5401 TCSETS=0x5402 TCSETSW=0x5403 TCSETSF=0x5404 TCGETA=0x5405
    TCSETA=0x5406 TCSETAW=0x5407 TCSETAF=0x5408 TCSBRK=0x5409 TCXONC=0x540a TCFLSH=0x540b
    TIOCEXCL=0x540c TIOCNXCL=0x540d TIOCSCTTY=0x540e TIOCGPGRP=0x540f TIOCSPGRP=0x5410
    TIOCOUTQ=0x5411 TIOCSTI=0x5412 TIOCGWINSZ=0x5413 TIOCSWINSZ=0x5414 TIOCMGET=0x5415
    TIOCMBIS=0x5416 TIOCMBIC=0x5417 TIOCMSET=0x5418 TIOCGSOFTCAR=0x5419 TIOCSSOFTCAR=0x541a
    FIONREAD=0x541b TIOCLINUX=0x541c TIOCCONS=0x541d TIOCGSERIAL=0x541e TIOCSSERIAL=0x541f
    TIOCPKT=0x5420 FIONBIO=0x5421 TIOCNOTTY=0x5422 TIOCSETD=0x5423 TIOCGETD=0x5424
    TCSBRKP=0x5425 TIOCSBRK=0x5427 TIOCCBRK=0x5428 TIOCGSID=0x5429 TCGETS2=0x802c542a
    TCSETS2=0x402c542b TCSETSW2=0x402c542c TCSETSF2=0x402c542d TIOCGPTN=0x80045430
    TIOCSPTLCK=0x40045431 TIOCGDEV=0x80045432 TIOCSIG=0x40045436 TIOCVHANGUP=0x5437
    TIOCGPKT=0x80045438 TIOCGPTLCK=0x80045439 TIOCGEXCL=0x80045440 TIOCGPTPEER=0x5441
    FIONCLEX=0x5450 FIOCLEX=0x5451 FIOASYNC=0x5452 TIOCSERCONFIG=0x5453 TIOCSERGWILD=0x5454
    TIOCSERSWILD=0x5455 TIOCGLCKTRMIOS=0x5456 TIOCSLCKTRMIOS=0x5457 TIOCSERGSTRUCT=0x5458
    TIOCSERGETLSR=0x5459 FIOQSIZE=0x5460 FIOGETOWN=0x8903 FIOSETOWN=0x8901 SIOCGPGRP=0x8904
    SIOCGIFNAME=0x8910 SIOCGIFCONF=0x8912 SIOCGIFFLAGS=0x8913 SIOCSIFFLAGS=0x8914
    SIOCGIFADDR=0x8915 SIOCGIFMTU=0x8921 SIOCGIFHWADDR=0x8927 SIOCGIFINDEX=0x8933
    FS_IOC_GETFLAGS=0x80086601 FS_IOC_SETFLAGS=0x40086602 FICLONE=0x40049409
    BLKGETSIZE64=0x80081272 BLKSSZGET=0x1268""")
# ioctls printed without a third argument, and those whose argument is a plain int
IOCTL_NOARG = {0x540C, 0x540D, 0x5422, 0x5450, 0x5451, 0x5437}
IOCTL_INTARG = {0x5409, 0x540A, 0x540B, 0x540E, 0x5425}
IOC_DIRS = ("_IOC_NONE", "_IOC_WRITE", "_IOC_READ", "_IOC_READ|_IOC_WRITE")

ADDRESS_FAMILIES = Xlat("""AF_UNSPEC=0 AF_UNIX=1 AF_INET=2 AF_AX25=3 AF_IPX=4 AF_APPLETALK=5
    AF_NETROM=6 AF_BRIDGE=7 AF_ATMPVC=8 AF_X25=9 AF_INET6=10 AF_ROSE=11 AF_DECnet=12
    AF_NETBEUI=13 AF_SECURITY=14 AF_KEY=15 AF_NETLINK=16 AF_PACKET=17 AF_ASH=18 AF_ECONET=19
    AF_ATMSVC=20 AF_RDS=21 AF_SNA=22 AF_IRDA=23 AF_PPPOX=24 AF_WANPIPE=25 AF_LLC=26 AF_IB=27
    AF_MPLS=28 AF_CAN=29 AF_TIPC=30 AF_BLUETOOTH=31 AF_IUCV=32 AF_RXRPC=33 AF_ISDN=34
    AF_PHONET=35 AF_IEEE802154=36 AF_CAIF=37 AF_ALG=38 AF_NFC=39 AF_VSOCK=40 AF_KCM=41
    AF_QIPCRTR=42 AF_SMC=43 AF_XDP=44 AF_MCTP=45""")
AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET = 1, 2, 10, 16, 17
SOCK_TYPES = Xlat("""SOCK_STREAM=1 SOCK_DGRAM=2 SOCK_RAW=3 SOCK_RDM=4 SOCK_SEQPACKET=5
    SOCK_DCCP=6 SOCK_PACKET=10""")
SOCK_FLAGS = Xlat("SOCK_CLOEXEC=0o2000000 SOCK_NONBLOCK=0o4000")
IP_PROTOCOLS = Xlat("""IPPROTO_IP=0 IPPROTO_ICMP=1 IPPROTO_IGMP=2 IPPROTO_IPIP=4 IPPROTO_TCP=6
    IPPROTO_EGP=8 IPPROTO_PUP=12 IPPROTO_UDP=17 IPPROTO_IDP=22 IPPROTO_TP=29 IPPROTO_DCCP=33
    IPPROTO_IPV6=41 IPPROTO_RSVP=46 IPPROTO_GRE=47 IPPROTO_ESP=50 IPPROTO_AH=51
    IPPROTO_ICMPV6=58 IPPROTO_MTP=92 IPPROTO_BEETPH=94 IPPROTO_ENCAP=98 IPPROTO_PIM=103
    IPPROTO_COMP=108 IPPROTO_L2TP=115 IPPROTO_SCTP=132 IPPROTO_UDPLITE=136 IPPROTO_MPLS=137
    IPPROTO_ETHERNET=143 IPPROTO_RAW=255 IPPROTO_MPTCP=262""")
NETLINK_PROTOCOLS = Xlat("""NETLINK_ROUTE=0 NETLINK_UNUSED=1 NETLINK_USERSOCK=2
    NETLINK_FIREWALL=3 NETLINK_SOCK_DIAG=4 NETLINK_NFLOG=5 NETLINK_XFRM=6 NETLINK_SELINUX=7
    NETLINK_ISCSI=8 NETLINK_AUDIT=9 NETLINK_FIB_LOOKUP=10 NETLINK_CONNECTOR=11
    NETLINK_NETFILTER=12 NETLINK_IP6_FW=13 NETLINK_DNRTMSG=14 NETLINK_KOBJECT_UEVENT=15
    NETLINK_GENERIC=16 NETLINK_SCSITRANSPORT=18 NETLINK_ECRYPTFS=19 NETLINK_RDMA=20
    NETLINK_CRYPTO=21 NETLINK_SMC=22""")
ETH_PROTOCOLS = Xlat("ETH_P_ALL=0x3 ETH_P_IP=0x800 ETH_P_ARP=0x806 ETH_P_IPV6=0x86dd")
MSG_FLAGS = Xlat("""MSG_OOB=0x1 MSG_PEEK=0x2 MSG_DONTROUTE=0x4 MSG_CTRUNC=0x8 MSG_PROBE=0x10
    MSG_TRUNC=0x20 MSG_DONTWAIT=0x40 MSG_EOR=0x80 MSG_WAITALL=0x100 MSG_FIN=0x200
    MSG_SYN=0x400 MSG_CONFIRM=0x800 MSG_RST=0x1000 MSG_ERRQUEUE=0x2000 MSG_NOSIGNAL=0x4000
    MSG_MORE=0x8000 MSG_WAITFORONE=0x10000 MSG_BATCH=0x40000 MSG_SOCK_DEVMEM=0x2000000
    MSG_ZEROCOPY=0x4000000 MSG_FASTOPEN=0x20000000 MSG_CMSG_CLOEXEC=0x40000000""")
SHUTDOWN_HOW = Xlat("SHUT_RD=0 SHUT_WR=1 SHUT_RDWR=2")

SIG_HOW = Xlat("SIG_BLOCK=0 SIG_UNBLOCK=1 SIG_SETMASK=2")
CLOCKS = Xlat("""CLOCK_REALTIME=0 CLOCK_MONOTONIC=1 CLOCK_PROCESS_CPUTIME_ID=2
    CLOCK_THREAD_CPUTIME_ID=3 CLOCK_MONOTONIC_RAW=4 CLOCK_REALTIME_COARSE=5
    CLOCK_MONOTONIC_COARSE=6 CLOCK_BOOTTIME=7 CLOCK_REALTIME_ALARM=8 CLOCK_BOOTTIME_ALARM=9
    CLOCK_SGI_CYCLE=10 CLOCK_TAI=11""")
TIMER_FLAGS = Xlat("TIMER_ABSTIME=1")
GETRANDOM_FLAGS = Xlat("GRND_NONBLOCK=1 GRND_RANDOM=2 GRND_INSECURE=4")

CLONE_FLAGS = Xlat("""CLONE_VM=0x100 CLONE_FS=0x200 CLONE_FILES=0x400 CLONE_SIGHAND=0x800
    CLONE_PIDFD=0x1000 CLONE_PTRACE=0x2000 CLONE_VFORK=0x4000 CLONE_PARENT=0x8000
    CLONE_THREAD=0x10000 CLONE_NEWNS=0x20000 CLONE_SYSVSEM=0x40000 CLONE_SETTLS=0x80000
    CLONE_PARENT_SETTID=0x100000 CLONE_CHILD_CLEARTID=0x200000 CLONE_UNTRACED=0x800000
    CLONE_CHILD_SETTID=0x1000000 CLONE_NEWCGROUP=0x2000000 CLONE_NEWUTS=0x4000000
    CLONE_NEWIPC=0x8000000 CLONE_NEWUSER=0x10000000 CLONE_NEWPID=0x20000000
    CLONE_NEWNET=0x40000000 CLONE_IO=0x80000000 CLONE_CLEAR_SIGHAND=0x100000000
    CLONE_INTO_CGROUP=0x200000000""")
CLONE_PIDFD, CLONE_SETTLS, CLONE_PARENT_SETTID = 0x1000, 0x80000, 0x100000
CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_INTO_CGROUP = 0x200000, 0x1000000, 0x200000000
CSIGNAL = 0xFF
WAIT_OPTIONS = Xlat("""WNOHANG=1 WSTOPPED=2 WEXITED=4 WCONTINUED=8 WNOWAIT=0x1000000
    __WNOTHREAD=0x20000000 __WALL=0x40000000 __WCLONE=0x80000000""", unknown="W???")
PTRACE_EVENTS = Xlat("""PTRACE_EVENT_FORK=1 PTRACE_EVENT_VFORK=2 PTRACE_EVENT_CLONE=3
    PTRACE_EVENT_EXEC=4 PTRACE_EVENT_VFORK_DONE=5 PTRACE_EVENT_EXIT=6 PTRACE_EVENT_SECCOMP=7
    PTRACE_EVENT_STOP=128""")
CLOSE_RANGE_FLAGS = Xlat("CLOSE_RANGE_UNSHARE=2 CLOSE_RANGE_CLOEXEC=4")

FUTEX_OPS = ("FUTEX_WAIT FUTEX_WAKE FUTEX_FD FUTEX_REQUEUE FUTEX_CMP_REQUEUE FUTEX_WAKE_OP "
             "FUTEX_LOCK_PI FUTEX_UNLOCK_PI FUTEX_TRYLOCK_PI FUTEX_WAIT_BITSET FUTEX_WAKE_BITSET "
             "FUTEX_WAIT_REQUEUE_PI FUTEX_CMP_REQUEUE_PI FUTEX_LOCK_PI2").split()
FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME = 128, 256
FUTEX_WAKE_OPS = Xlat("FUTEX_OP_SET=0 FUTEX_OP_ADD=1 FUTEX_OP_OR=2 FUTEX_OP_ANDN=3 FUTEX_OP_XOR=4")
FUTEX_WAKE_CMPS = Xlat("""FUTEX_OP_CMP_EQ=0 FUTEX_OP_CMP_NE=1 FUTEX_OP_CMP_LT=2
    FUTEX_OP_CMP_LE=3 FUTEX_OP_CMP_GT=4 FUTEX_OP_CMP_GE=5""")

PRCTL_OPTIONS = Xlat("""PR_SET_PDEATHSIG=1 PR_GET_PDEATHSIG=2 PR_GET_DUMPABLE=3
    PR_SET_DUMPABLE=4 PR_GET_UNALIGN=5 PR_SET_UNALIGN=6 PR_GET_KEEPCAPS=7 PR_SET_KEEPCAPS=8
    PR_GET_FPEMU=9 PR_SET_FPEMU=10 PR_GET_FPEXC=11 PR_SET_FPEXC=12 PR_GET_TIMING=13
    PR_SET_TIMING=14 PR_SET_NAME=15 PR_GET_NAME=16 PR_GET_ENDIAN=19 PR_SET_ENDIAN=20
    PR_GET_SECCOMP=21 PR_SET_SECCOMP=22 PR_CAPBSET_READ=23 PR_CAPBSET_DROP=24 PR_GET_TSC=25
    PR_SET_TSC=26 PR_GET_SECUREBITS=27 PR_SET_SECUREBITS=28 PR_SET_TIMERSLACK=29
    PR_GET_TIMERSLACK=30 PR_TASK_PERF_EVENTS_DISABLE=31 PR_TASK_PERF_EVENTS_ENABLE=32
    PR_MCE_KILL=33 PR_MCE_KILL_GET=34 PR_SET_MM=35 PR_SET_CHILD_SUBREAPER=36
    PR_GET_CHILD_SUBREAPER=37 PR_SET_NO_NEW_PRIVS=38 PR_GET_NO_NEW_PRIVS=39
    PR_GET_TID_ADDRESS=40 PR_SET_THP_DISABLE=41 PR_GET_THP_DISABLE=42
    PR_MPX_ENABLE_MANAGEMENT=43 PR_MPX_DISABLE_MANAGEMENT=44 PR_SET_FP_MODE=45
    PR_GET_FP_MODE=46 PR_CAP_AMBIENT=47 PR_SVE_SET_VL=50 PR_SVE_GET_VL=51
    PR_GET_SPECULATION_CTRL=52 PR_SET_SPECULATION_CTRL=53 PR_PAC_RESET_KEYS=54
    PR_SET_TAGGED_ADDR_CTRL=55 PR_GET_TAGGED_ADDR_CTRL=56 PR_SET_IO_FLUSHER=57
    PR_GET_IO_FLUSHER=58 PR_SET_SYSCALL_USER_DISPATCH=59 PR_PAC_SET_ENABLED_KEYS=60
    PR_PAC_GET_ENABLED_KEYS=61 PR_SCHED_CORE=62 PR_SME_SET_VL=63 PR_SME_GET_VL=64
    PR_SET_MDWE=65 PR_GET_MDWE=66 PR_SET_VMA=0x53564d41 PR_SET_PTRACER=0x59616d61""")
PR_DUMPABLE = Xlat("SUID_DUMP_DISABLE=0 SUID_DUMP_USER=1 SUID_DUMP_ROOT=2", unknown="SUID_DUMP_???")
PR_SET_VMA = Xlat("PR_SET_VMA_ANON_NAME=0")
SECCOMP_MODES = Xlat("SECCOMP_MODE_DISABLED=0 SECCOMP_MODE_STRICT=1 SECCOMP_MODE_FILTER=2",
                     unknown="SECCOMP_MODE_???")
CAPABILITIES = Xlat(" ".join(f"CAP_{n}={i}" for i, n in enumerate(
    """CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
    LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER
    SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE
    SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP
    MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF
    CHECKPOINT_RESTORE""".split())))
ARCH_PRCTL_CODES = Xlat("""ARCH_SET_GS=0x1001 ARCH_SET_FS=0x1002 ARCH_GET_FS=0x1003
    ARCH_GET_GS=0x1004 ARCH_GET_CPUID=0x1011 ARCH_SET_CPUID=0x1012 ARCH_GET_XCOMP_SUPP=0x1021
    ARCH_GET_XCOMP_PERM=0x1022 ARCH_REQ_XCOMP_PERM=0x1023 ARCH_GET_XCOMP_GUEST_PERM=0x1024
    ARCH_REQ_XCOMP_GUEST_PERM=0x1025 ARCH_XCOMP_TILECFG=0x1031 ARCH_XCOMP_TILEDATA=0x1032
    ARCH_MAP_VDSO_X32=0x2001 ARCH_MAP_VDSO_32=0x2002 ARCH_MAP_VDSO_64=0x2003
    ARCH_GET_UNTAG_MASK=0x4001 ARCH_ENABLE_TAGGED_ADDR=0x4002 ARCH_GET_MAX_TAG_BITS=0x4003
    ARCH_FORCE_TAGGED_SVA=0x4004 ARCH_SHSTK_ENABLE=0x5001 ARCH_SHSTK_DISABLE=0x5002
    ARCH_SHSTK_LOCK=0x5003 ARCH_SHSTK_UNLOCK=0x5004 ARCH_SHSTK_STATUS=0x5005""")
RLIMITS = Xlat("""RLIMIT_CPU=0 RLIMIT_FSIZE=1 RLIMIT_DATA=2 RLIMIT_STACK=3 RLIMIT_CORE=4
    RLIMIT_RSS=5 RLIMIT_NPROC=6 RLIMIT_NOFILE=7 RLIMIT_MEMLOCK=8 RLIMIT_AS=9 RLIMIT_LOCKS=10
    RLIMIT_SIGPENDING=11 RLIMIT_MSGQUEUE=12 RLIMIT_NICE=13 RLIMIT_RTPRIO=14 RLIMIT_RTTIME=15""")
RUSAGE_WHO = Xlat("RUSAGE_SELF=0 RUSAGE_CHILDREN=0xffffffff RUSAGE_THREAD=1")
EPOLL_CTL_OPS = Xlat("EPOLL_CTL_ADD=1 EPOLL_CTL_DEL=2 EPOLL_CTL_MOD=3", unknown="EPOLL_CTL_???")
EPOLL_FLAGS = Xlat("EPOLL_CLOEXEC=0o2000000")
EFD_FLAGS = Xlat("EFD_SEMAPHORE=1 EFD_CLOEXEC=0o2000000 EFD_NONBLOCK=0o4000")
MFD_FLAGS = Xlat("MFD_CLOEXEC=1 MFD_ALLOW_SEALING=2 MFD_HUGETLB=4 MFD_NOEXEC_SEAL=8 MFD_EXEC=0x10")

# Errnos the kernel uses internally; they reach a tracer but not the program.
_RESTART_ERRNOS = {
    512: ("ERESTARTSYS", "To be restarted if SA_RESTART is set"),
    513: ("ERESTARTNOINTR", "To be restarted"),
    514: ("ERESTARTNOHAND", "To be restarted if no handler"),
    516: ("ERESTART_RESTARTBLOCK", "Interrupted by signal"),
}
_ERRNO_NAMES = {
    **errno.errorcode,
    errno.EDEADLK: "EDEADLK",         # Python picks the EDEADLOCK alias
    errno.EOPNOTSUPP: "EOPNOTSUPP",   # Python picks the ENOTSUP alias
    515: "ENOIOCTLCMD", 517: "EPROBE_DEFER", 518: "EOPENSTALE", 519: "ENOPARAM",
    521: "EBADHANDLE", 522: "ENOTSYNC", 523: "EBADCOOKIE", 524: "ENOTSUPP",
    525: "ETOOSMALL", 526: "ESERVERFAULT", 527: "EBADTYPE", 528: "EJUKEBOX",
    529: "EIOCBQUEUED", 530: "ERECALLCONFLICT",
}


# --------------------------------------------------------------------------
# Number and string formatting
# --------------------------------------------------------------------------

def _hex(v: int) -> str:
    """C's ``%#x``: ``0`` for zero, else ``0x...``."""
    return f"{v:#x}" if v else "0"


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _s64(v: int) -> int:
    v &= _U64
    return v - (1 << 64) if v >> 63 else v


def _ptr(v: int) -> str:
    return f"{v:#x}" if v else "NULL"


def _octal(v: int) -> str:
    """C's ``%#03o``, as strace prints modes: ``000``, ``022``, ``0755``."""
    return f"{v:#o}".replace("0o", "0").rjust(3, "0")


_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\f"): "\\f", ord("\n"): "\\n",
            ord("\r"): "\\r", ord("\t"): "\\t", ord("\v"): "\\v"}


def quote(data: bytes, truncated: bool = False, force_hex: bool = False) -> str:
    """Quote bytes as strace does: C escapes, other non-printables in octal
    (three digits only when an octal digit follows), ``...`` if *truncated*."""
    out = ['"']
    for i, c in enumerate(data):
        if force_hex:
            out.append(f"\\x{c:02x}")
        elif c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif 0x20 <= c < 0x7F:
            out.append(chr(c))
        elif i + 1 < len(data) and 0x30 <= data[i + 1] <= 0x37:
            out.append(f"\\{c:03o}")
        else:
            out.append(f"\\{c:o}")
    out.append('"')
    if truncated:
        out.append("...")
    return "".join(out)


def format_signal(n: int) -> str:
    """``SIGINT``, ``SIGRTMIN``, ``SIGRT_3``; other numbers in decimal."""
    if 0 < n < len(SIGNALS):
        return SIGNALS[n]
    if len(SIGNALS) <= n <= SIGRTMAX:
        return f"SIGRT_{n - len(SIGNALS) + 1}"
    return str(n)


def _sigset(mask: int, nbits: int = 64) -> str:
    """``[INT TERM]``, or ``~[KILL]`` when at least two thirds are set."""
    mask &= (1 << nbits) - 1
    prefix = "["
    if mask.bit_count() >= nbits * 2 // 3:
        mask, prefix = ~mask & ((1 << nbits) - 1), "~["
    names = [format_signal(sig).removeprefix("SIG")
             for sig in range(1, nbits + 1) if mask >> (sig - 1) & 1]
    return prefix + " ".join(names) + "]"


def errno_text(result: int | None) -> str:
    """The part of strace's line after ``= ``: ``3``, ``?``, or
    ``-1 ENOENT (No such file or directory)``."""
    if result is None:
        return "?"
    result = _s64(result)
    if -4095 <= result <= -1:
        err = -result
        if err in _RESTART_ERRNOS:
            return "? {} ({})".format(*_RESTART_ERRNOS[err])
        return f"-1 {_ERRNO_NAMES.get(err, f'ERRNO_{err}')} ({os.strerror(err)})"
    return str(result)


# --------------------------------------------------------------------------
# One call being formatted, with guarded memory access
# --------------------------------------------------------------------------

class _Call:
    __slots__ = ("nr", "args", "result", "mem")

    def __init__(self, nr: int, args: tuple[int, ...], result: int | None, mem: Memory | None):
        self.nr = nr
        self.args = tuple(a & _U64 for a in args) + (0,) * (6 - len(args))
        self.result = None if result is None else _s64(result)
        self.mem = mem

    @property
    def ok(self) -> bool:
        """The call returned and did not fail."""
        return self.result is not None and not -4095 <= self.result <= -1

    def read(self, addr: int, n: int) -> bytes:
        if n == 0:
            return b""
        if self.mem is None:
            raise OSError("no memory reader")
        data = self.mem.read(addr, n)
        if len(data) < n:
            raise OSError(f"short read at {addr:#x}")
        return bytes(data)

    def string(self, addr: int, limit: int) -> tuple[bytes, bool]:
        """A NUL-terminated string of at most *limit* bytes, and whether it
        was longer than that."""
        if self.mem is None:
            raise OSError("no memory reader")
        data = bytes(self.mem.string(addr, limit + 1))
        return data[:limit], len(data) > limit

    def unpack(self, fmt: str, addr: int) -> tuple:
        return struct.unpack(fmt, self.read(addr, struct.calcsize(fmt)))


def _cstr(call: _Call, addr: int, limit: int = MAX_STRLEN) -> str:
    if not addr:
        return "NULL"
    try:
        data, more = call.string(addr, limit)
    except OSError:
        return _ptr(addr)
    return quote(data, more)


def _buffer(call: _Call, addr: int, count: int, force_hex: bool = False) -> str:
    """The first min(count, 32) bytes at *addr*, ``...`` if there were more."""
    if not count:
        return '""'
    try:
        data = call.read(addr, min(count, MAX_STRLEN))
    except OSError:
        return _ptr(addr)
    return quote(data, count > MAX_STRLEN, force_hex)


def _indirect(call: _Call, addr: int, fmt: str, show: Callable[[int], str]) -> str:
    """``[value]`` read from *addr* after a successful call, else the pointer."""
    if not call.ok or not addr:
        return _ptr(addr)
    try:
        return f"[{show(call.unpack(fmt, addr)[0])}]"
    except OSError:
        return _ptr(addr)


# --------------------------------------------------------------------------
# Argument kinds.  Each takes the call and the register index, and returns
# the text for that argument, or None to print nothing for it.
# --------------------------------------------------------------------------

Kind = Callable[[_Call, int], "str | None"]
KINDS: dict[str, Kind] = {}


def kind(*names: str) -> Callable[[Kind], Kind]:
    def register(fn: Kind) -> Kind:
        for n in names:
            KINDS[n] = fn
        return fn
    return register


# Kinds that are just a value table applied to the low 32 bits of a register.
_ENUM_KINDS = {
    "whence": SEEK, "madvise": MADVISE, "fcntlcmd": FCNTL_CMDS, "lease": LEASES,
    "domain": ADDRESS_FAMILIES, "shutdown": SHUTDOWN_HOW, "sighow": SIG_HOW, "clock": CLOCKS,
    "prctlopt": PRCTL_OPTIONS, "dumpable": PR_DUMPABLE, "setvma": PR_SET_VMA,
    "seccompmode": SECCOMP_MODES, "cap": CAPABILITIES, "archcode": ARCH_PRCTL_CODES,
    "rlimit": RLIMITS, "epollop": EPOLL_CTL_OPS, "rusagewho": RUSAGE_WHO,
}
_FLAG_KINDS = {
    "prot": PROT, "mremapflags": MREMAP_FLAGS, "msyncflags": MSYNC_FLAGS, "accmode": ACCESS_MODE,
    "atflags": AT_FLAGS, "faccessatflags": FACCESSAT_FLAGS, "statxmask": STATX_MASK,
    "renameflags": RENAME_FLAGS, "fdflags": FD_FLAGS, "seals": SEALS, "dnflags": DN_FLAGS,
    "flockop": FLOCK_OPS, "msgflags": MSG_FLAGS, "timerflags": TIMER_FLAGS,
    "grndflags": GETRANDOM_FLAGS, "waitopts": WAIT_OPTIONS, "closerangeflags": CLOSE_RANGE_FLAGS,
    "epollflags": EPOLL_FLAGS, "efdflags": EFD_FLAGS, "mfdflags": MFD_FLAGS,
    "sockflags": SOCK_FLAGS,
    "oflags": O_FLAGS,  # O_* flags without an access mode (pipe2, dup3)
}
for _name, _table in _ENUM_KINDS.items():
    KINDS[_name] = lambda c, i, t=_table: t.value(c.args[i] & 0xFFFFFFFF)
for _name, _table in _FLAG_KINDS.items():
    KINDS[_name] = lambda c, i, t=_table: t.flags(c.args[i] & 0xFFFFFFFF)


@kind("int", "fd")
def _k_int(c: _Call, i: int) -> str:
    return str(_s32(c.args[i]))


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
    fd = _s32(c.args[i])
    return "AT_FDCWD" if fd == AT_FDCWD else str(fd)


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
        raw = c.read(addr, 65 * 2)
    except OSError:
        return _ptr(addr)
    sysname, nodename = (raw[o:o + 65].split(b"\0", 1)[0] for o in (0, 65))
    return f"{{sysname={quote(sysname)}, nodename={quote(nodename)}, ...}}"


@kind("pipefds")
def _k_pipefds(c: _Call, i: int) -> str:
    addr = c.args[i]
    if not c.ok:
        return _ptr(addr)
    try:
        a, b = c.unpack("<ii", addr)
    except OSError:
        return _ptr(addr)
    return f"[{a}, {b}]"


@kind("dirents")
def _k_dirents(c: _Call, i: int) -> str:
    """getdents64's buffer: ``0x... /* N entries */`` after success."""
    addr = c.args[i]
    if not c.ok:
        return _ptr(addr)
    try:
        data = c.read(addr, c.result)
    except OSError:
        return _ptr(addr)
    off = count = 0
    while off + 19 <= len(data):
        reclen = struct.unpack_from("<H", data, off + 16)[0]
        if not reclen:
            break
        off += reclen
        count += 1
    return f"{_ptr(addr)} /* {count} entries */"


@kind("argv")
def _k_argv(c: _Call, i: int) -> str:
    """execve's argv: ``["ls", "-l"]``, at most 32 elements shown."""
    addr = c.args[i]
    if not addr:
        return "NULL"
    items = []
    for n in range(MAX_STRLEN + 1):
        try:
            (p,) = c.unpack("<Q", addr + 8 * n)
        except OSError:
            if n == 0:
                return _ptr(addr)
            items.append("...")
            break
        if not p:
            break
        if n == MAX_STRLEN:
            items.append("...")
            break
        items.append(_cstr(c, p))
    return "[" + ", ".join(items) + "]"


@kind("envp")
def _k_envp(c: _Call, i: int) -> str:
    """execve's envp: ``0x7ffd... /* 35 vars */``."""
    addr = c.args[i]
    if not addr:
        return "NULL"
    n = 0
    try:
        while c.unpack("<Q", addr + 8 * n)[0]:
            n += 1
    except OSError:
        return _ptr(addr)
    return f"{_ptr(addr)} /* {n} var{'' if n == 1 else 's'} */"


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


def _sockaddr(raw: bytes) -> str:
    family = int.from_bytes(raw[:2], "little")
    out = f"{{sa_family={ADDRESS_FAMILIES.value(family)}"
    data = raw[2:]
    if family == AF_UNIX:
        if data:
            if data[0]:
                out += f", sun_path={quote(data.partition(bytes(1))[0])}"
            else:
                out += f", sun_path=@{quote(data[1:])}"
    elif family == AF_INET and len(raw) >= 8:
        port, addr = int.from_bytes(raw[2:4], "big"), socket.inet_ntop(socket.AF_INET, raw[4:8])
        out += f', sin_port=htons({port}), sin_addr=inet_addr("{addr}")'
    elif family == AF_INET6 and len(raw) >= 24:
        port, flow = int.from_bytes(raw[2:4], "big"), int.from_bytes(raw[4:8], "big")
        addr = socket.inet_ntop(socket.AF_INET6, raw[8:24])
        out += (f", sin6_port=htons({port}), sin6_flowinfo=htonl({flow}), "
                f"inet_pton(AF_INET6, \"{addr}\", &sin6_addr)")
        if len(raw) >= 28:
            out += f", sin6_scope_id={int.from_bytes(raw[24:28], 'little')}"
    elif family == AF_NETLINK and len(raw) >= 12:
        pid, groups = struct.unpack_from("<II", raw, 4)
        out += f", nl_pid={pid}, nl_groups={groups:08x}"
    elif data:
        out += f", sa_data={quote(data)}"
    return out + "}"


def _sockaddr_at(c: _Call, addr: int, length: int) -> str:
    if not addr:
        return "NULL"
    if length < 2:
        return _ptr(addr)
    try:
        return _sockaddr(c.read(addr, min(length, 128)))
    except OSError:
        return _ptr(addr)


@kind("sockaddr")
def _k_sockaddr(c: _Call, i: int) -> str:
    """An address the caller passes; the next argument is its length."""
    return _sockaddr_at(c, c.args[i], _s32(c.args[i + 1]))


@kind("osockaddr")
def _k_osockaddr(c: _Call, i: int) -> str:
    """An address the call fills in; the next argument points to its length."""
    addr, lenp = c.args[i], c.args[i + 1]
    if not c.ok or not addr or not lenp:
        return _ptr(addr)
    try:
        (length,) = c.unpack("<i", lenp)
    except OSError:
        return _ptr(addr)
    return _sockaddr_at(c, addr, length)


@kind("olen")
def _k_olen(c: _Call, i: int) -> str:
    """A socket address length the call updates: ``[16]``.  strace shows the
    value before and after (``[110 => 2]``); only the current one is known."""
    addr = c.args[i]
    try:
        return f"[{c.unpack('<i', addr)[0]}]" if addr else "NULL"
    except OSError:
        return _ptr(addr)


@kind("ioctlreq")
def _k_ioctlreq(c: _Call, i: int) -> str:
    req = c.args[i] & 0xFFFFFFFF
    known = IOCTLS.get(req)
    if known:
        return known
    size = req >> 16 & 0x3FFF
    return f"_IOC({IOC_DIRS[req >> 30]}, {req >> 8 & 0xFF:#x}, {req & 0xFF:#x}, {_hex(size)})"


@kind("ioctlarg")
def _k_ioctlarg(c: _Call, i: int) -> str | None:
    req = c.args[i - 1] & 0xFFFFFFFF
    if req in IOCTL_NOARG:
        return None
    if req in IOCTL_INTARG:
        return str(_s32(c.args[i]))
    return _ptr(c.args[i]) if IOCTLS.get(req) else _hex(c.args[i])


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


# --------------------------------------------------------------------------
# THE TABLE: how each syscall's arguments print.
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# Compiling specs and formatting
# --------------------------------------------------------------------------

class _Arg(NamedTuple):
    label: str
    kind: str
    index: int


class _Spec(NamedTuple):
    args: tuple[_Arg, ...]
    result: str | None


def _parse(spec: str, start: int = 0) -> _Spec:
    argtext, _, result = spec.partition("->")
    args = []
    for pos, tok in enumerate(argtext.split(), start):
        label, _, tok = tok.rpartition("=")
        kind_name, _, idx = tok.partition("@")
        if kind_name not in KINDS:
            raise ValueError(f"unknown argument kind {kind_name!r} in {spec!r}")
        args.append(_Arg(f"{label}=" if label else "", kind_name, int(idx) if idx else pos))
    result = result.strip() or None
    if result is not None and result not in RESULTS:
        raise ValueError(f"unknown result kind {result!r} in {spec!r}")
    return _Spec(tuple(args), result)


class _Compiled(NamedTuple):
    base: _Spec
    cases: dict[int, _Spec] | None = None
    default: _Spec | None = None
    mask: int = 0


def _compile(entry: str | Switch) -> _Compiled:
    if isinstance(entry, str):
        return _Compiled(_parse(entry))
    base = _parse(entry.base)
    n = len(base.args)
    return _Compiled(base, {k: _parse(v, n) for k, v in entry.cases.items()},
                     _parse(entry.default, n), entry.mask)


_COMPILED: dict[int, _Compiled] = {NUMBERS[n]: _compile(e) for n, e in SYSCALLS.items()}
_FALLBACK = _compile(" ".join(["hex"] * 6))


def string_arguments() -> dict[int, tuple[int, ...]]:
    """Syscall number -> indices of its path and string arguments (for
    calls whose arguments depend on a command argument, like prctl, only
    the fixed ones)."""
    out = {}
    for nr, comp in _COMPILED.items():
        indices = tuple(a.index for a in comp.base.args if a.kind in ("path", "str"))
        if indices:
            out[nr] = indices
    return out


def _resolve(c: _Call) -> _Spec:
    comp = _COMPILED.get(c.nr, _FALLBACK)
    if comp.cases is None:
        return comp.base
    key = c.args[comp.base.args[-1].index] & comp.mask
    tail = comp.cases.get(key, comp.default)
    return _Spec(comp.base.args + tail.args, tail.result or comp.base.result)


def format_call(nr: int, args: tuple[int, int, int, int, int, int],
                result: int | None, mem: Memory | None) -> str:
    """One strace-style line (without pid or timestamps) for a syscall.

    *args* are the raw unsigned register values; *result* the raw return
    value (negative errno on failure), or None if the call did not return.
    """
    c = _Call(nr, args, result, mem)
    spec = _resolve(c)
    parts = []
    for a in spec.args:
        text = KINDS[a.kind](c, a.index)
        if text is not None:
            parts.append(a.label + text)
    if c.result is None or not c.ok:
        ret = errno_text(c.result)
    else:
        ret = RESULTS[spec.result or "int"](c.result)
    return f"{syscall_name(nr)}({', '.join(parts)}) = {ret}"
