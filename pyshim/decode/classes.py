"""strace's syscall classes for ``-e trace=%CLASS`` (x86-64), as data.

Membership is strace 6.1's (``src/linux/x86_64/syscallent.h`` and
``src/linux/generic/syscallent-common.h``, one flag per class), checked
against the strace binary itself: tests/test_strace_flags.py runs a program
that makes every syscall under ``strace -e inject=CLASS:...`` and compares
the calls strace marks with this table.

CLASSES maps each class to the names of its syscalls (names as in
pyshim.syscalls); ALIASES maps strace's other spellings (``%net``, and the
legacy ``file``, ``process``, ... without ``%``) to a class.  Names are
case-sensitive, as strace's (``%FILE`` is no class).
"""

from __future__ import annotations

CLASSES: dict[str, frozenset[str]] = {
    # calls that take or return a file descriptor
    "%desc": frozenset({
        "read", "write", "open", "close", "fstat", "poll", "lseek", "mmap", "ioctl", "pread64",
        "pwrite64", "readv", "writev", "pipe", "select", "dup", "dup2", "sendfile", "fcntl",
        "flock", "fsync", "fdatasync", "ftruncate", "getdents", "fchdir", "creat", "fchmod",
        "fchown", "fstatfs", "readahead", "fsetxattr", "fgetxattr", "flistxattr", "fremovexattr",
        "epoll_create", "getdents64", "fadvise64", "epoll_wait", "epoll_ctl", "mq_open",
        "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr", "inotify_init",
        "inotify_add_watch", "inotify_rm_watch", "openat", "mkdirat", "mknodat", "fchownat",
        "futimesat", "newfstatat", "unlinkat", "renameat", "linkat", "symlinkat", "readlinkat",
        "fchmodat", "faccessat", "pselect6", "ppoll", "splice", "tee", "sync_file_range",
        "vmsplice", "utimensat", "epoll_pwait", "signalfd", "timerfd_create", "eventfd",
        "fallocate", "timerfd_settime", "timerfd_gettime", "signalfd4", "eventfd2",
        "epoll_create1", "dup3", "pipe2", "inotify_init1", "preadv", "pwritev", "perf_event_open",
        "fanotify_init", "fanotify_mark", "name_to_handle_at", "open_by_handle_at", "syncfs",
        "setns", "finit_module", "renameat2", "memfd_create", "kexec_file_load", "bpf",
        "execveat", "userfaultfd", "copy_file_range", "preadv2", "pwritev2", "statx",
        "pidfd_send_signal", "io_uring_setup", "io_uring_enter", "io_uring_register", "open_tree",
        "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "pidfd_open", "openat2",
        "pidfd_getfd", "faccessat2", "process_madvise", "epoll_pwait2", "mount_setattr",
        "quotactl_fd", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
        "memfd_secret", "process_mrelease"
    }),
    # calls that take a file name
    "%file": frozenset({
        "open", "stat", "lstat", "access", "execve", "truncate", "getcwd", "chdir", "rename",
        "mkdir", "rmdir", "creat", "link", "unlink", "symlink", "readlink", "chmod", "chown",
        "lchown", "utime", "mknod", "uselib", "statfs", "pivot_root", "chroot", "acct", "mount",
        "umount2", "swapon", "swapoff", "quotactl", "setxattr", "lsetxattr", "getxattr",
        "lgetxattr", "listxattr", "llistxattr", "removexattr", "lremovexattr", "utimes",
        "inotify_add_watch", "openat", "mkdirat", "mknodat", "fchownat", "futimesat",
        "newfstatat", "unlinkat", "renameat", "linkat", "symlinkat", "readlinkat", "fchmodat",
        "faccessat", "utimensat", "fanotify_mark", "name_to_handle_at", "renameat2", "execveat",
        "statx", "open_tree", "move_mount", "fsconfig", "fspick", "openat2", "faccessat2",
        "mount_setattr"
    }),
    # System V IPC
    "%ipc": frozenset({
        "shmget", "shmat", "shmctl", "semget", "semop", "semctl", "shmdt", "msgget", "msgsnd",
        "msgrcv", "msgctl", "semtimedop"
    }),
    # network calls (also %net)
    "%network": frozenset({
        "sendfile", "socket", "connect", "accept", "sendto", "recvfrom", "sendmsg", "recvmsg",
        "shutdown", "bind", "listen", "getsockname", "getpeername", "socketpair", "setsockopt",
        "getsockopt", "getpmsg", "putpmsg", "accept4", "recvmmsg", "sendmmsg"
    }),
    # process lifecycle: creation, exec, termination, signalling
    "%process": frozenset({
        "clone", "fork", "vfork", "execve", "exit", "wait4", "kill", "rt_sigqueueinfo", "tkill",
        "exit_group", "tgkill", "waitid", "rt_tgsigqueueinfo", "execveat", "pidfd_send_signal",
        "clone3"
    }),
    # signal-related calls
    "%signal": frozenset({
        "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "pause", "kill", "rt_sigpending",
        "rt_sigtimedwait", "rt_sigqueueinfo", "rt_sigsuspend", "sigaltstack", "tkill", "tgkill",
        "signalfd", "signalfd4", "rt_tgsigqueueinfo", "pidfd_send_signal", "io_uring_enter"
    }),
    # memory mapping calls
    "%memory": frozenset({
        "mmap", "mprotect", "munmap", "brk", "mremap", "msync", "mincore", "madvise", "shmat",
        "shmdt", "mlock", "munlock", "mlockall", "munlockall", "io_setup", "io_destroy",
        "remap_file_pages", "mbind", "set_mempolicy", "get_mempolicy", "migrate_pages",
        "move_pages", "mlock2", "pkey_mprotect", "io_uring_register", "set_mempolicy_home_node"
    }),
    # stat variants that take a file name
    "%stat": frozenset({"stat"}),
    # stat variants that take a file name and do not follow symlinks
    "%lstat": frozenset({"lstat"}),
    # stat variants that take a descriptor (or a descriptor and a name)
    "%fstat": frozenset({"fstat", "newfstatat", "statx"}),
    # every stat and statx variant
    "%%stat": frozenset({"stat", "fstat", "lstat", "newfstatat", "statx"}),
    # statfs variants that take a file name
    "%statfs": frozenset({"statfs"}),
    # statfs variants that take a descriptor
    "%fstatfs": frozenset({"fstatfs"}),
    # every statfs variant
    "%%statfs": frozenset({"ustat", "statfs", "fstatfs"}),
    # calls that always succeed and take no arguments
    "%pure": frozenset({
        "getpid", "getuid", "getgid", "geteuid", "getegid", "getppid", "getpgrp", "gettid"
    }),
    # calls that read or change user and group ids and capabilities
    "%creds": frozenset({
        "getuid", "getgid", "setuid", "setgid", "geteuid", "getegid", "setreuid", "setregid",
        "getgroups", "setgroups", "setresuid", "getresuid", "setresgid", "getresgid", "setfsuid",
        "setfsgid", "capget", "capset", "prctl"
    }),
    # calls that read or change system clocks
    "%clock": frozenset({
        "gettimeofday", "adjtimex", "settimeofday", "time", "clock_settime", "clock_gettime",
        "clock_getres", "clock_adjtime"
    }),
}

ALIASES: dict[str, str] = {
    "%net": "%network",
    "desc": "%desc",
    "file": "%file",
    "memory": "%memory",
    "process": "%process",
    "signal": "%signal",
    "ipc": "%ipc",
    "network": "%network",
}
