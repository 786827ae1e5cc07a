"""Which file a syscall names: the path argument of each call that takes
one, resolved as the program sees it (through its cwd or dirfd)."""
from __future__ import annotations

import os

AT_FDCWD = -100

# Where a syscall's path argument is: name -> (index of its dirfd argument,
# or None for paths relative to the cwd; index of the path argument).
PATH_ARGS: dict[str, tuple[int | None, int]] = {
    **{name: (None, 0) for name in (
        "open", "creat", "stat", "lstat", "access", "unlink", "mkdir", "rmdir", "chdir",
        "execve", "truncate", "chmod", "chown", "lchown", "readlink", "statfs", "utime",
        "utimes", "mknod", "chroot", "rename", "link", "uselib", "acct", "swapon",
        "swapoff", "getxattr", "lgetxattr", "setxattr", "lsetxattr", "listxattr",
        "llistxattr", "removexattr", "lremovexattr", "pivot_root")},
    **{name: (0, 1) for name in (
        "openat", "openat2", "newfstatat", "unlinkat", "mkdirat", "mknodat", "faccessat",
        "faccessat2", "fchmodat", "fchmodat2", "fchownat", "readlinkat", "utimensat",
        "futimesat", "execveat", "statx", "name_to_handle_at", "renameat", "renameat2",
        "linkat", "open_tree", "mount_setattr")},
    "symlink": (None, 1),          # the link created, not its target text
    "symlinkat": (1, 2),
    "inotify_add_watch": (None, 1),
}


def call_path(call, resolve: bool = True) -> str | None:
    """The absolute path a call's path argument names, as the program sees
    it (relative paths through its cwd or dirfd, symlinks resolved), or None
    if it cannot be read.  resolve=False: the path as given, joined to the
    cwd or dirfd, for whoever opens it to resolve as the kernel would
    (cheaper: no lstat per component)."""
    where = PATH_ARGS.get(call.name)
    if where is None:
        return None
    realpath = os.path.realpath if resolve else str
    dirfd_i, path_i = where
    try:
        addr = call.args[path_i]
        path = call.string(addr) if addr else ""
        if path.startswith("/"):
            return realpath(path)
        dirfd = AT_FDCWD if dirfd_i is None else call.int_arg(dirfd_i)
        link = f"/proc/{call.pid}/cwd" if dirfd == AT_FDCWD else f"/proc/{call.pid}/fd/{dirfd}"
        base = os.readlink(link)
    except OSError:
        return None
    return realpath(os.path.join(base, path) if path else base)
