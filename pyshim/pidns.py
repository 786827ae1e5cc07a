"""Pids across pid namespaces.

A process in another pid namespace than the supervisor's (unshare -p,
bwrap, rootless containers) reports its pid and tids as its namespace
numbers them; the supervisor needs its own view of them (to read memory,
signal, wait, and to print lines as ``strace --pidns-translation`` does).
/proc, as the supervisor sees it, lists each task's pids in every
namespace from the supervisor's down: the ``NSpid:`` line of its status.
"""
from __future__ import annotations

import os


def nspids(path: str) -> list[int]:
    """The NSpid line of /proc/.../status at `path`: outermost first."""
    try:
        with open(f"{path}/status", "rb") as f:
            for line in f:
                if line.startswith(b"NSpid:"):
                    return [int(x) for x in line.split()[1:]]
    except (OSError, ValueError):
        pass
    return []


def child_pid(parent: int | None, ns_pid: int) -> int:
    """The pid (the supervisor's view) of the child of `parent` whose pid in
    its own namespace is `ns_pid`; 0 if there is none.  A CLONE_PARENT
    child is its parent's sibling: looked for among the grandparent's
    children too (at the parent's depth, so not an outer process)."""
    pid = _child_pid(parent, ns_pid, 0)
    if pid or not parent:
        return pid
    try:
        with open(f"/proc/{parent}/stat", "rb") as f:
            stat = f.read()
        grand = int(stat[stat.rindex(b")") + 4:].split(None, 1)[0])
    except (OSError, ValueError):
        return 0
    return _child_pid(grand, ns_pid, len(nspids(f"/proc/{parent}")))


def _child_pid(parent: int | None, ns_pid: int, depth: int) -> int:
    """child_pid among `parent`'s children, at namespace `depth` (0: any)."""
    if not parent:
        return 0
    try:
        tasks = os.listdir(f"/proc/{parent}/task")
    except OSError:
        return 0
    for task in tasks:
        try:
            with open(f"/proc/{parent}/task/{task}/children") as f:
                children = [int(p) for p in f.read().split()]
        except (OSError, ValueError):
            continue
        for pid in children:
            ids = nspids(f"/proc/{pid}")
            if ids and ids[-1] == ns_pid and (not depth or len(ids) == depth):
                return pid
    return 0


def task_tid(pid: int, ns_tid: int) -> int:
    """The tid (the supervisor's view) of the thread of process `pid` whose
    tid in its own namespace is `ns_tid`; 0 if there is none."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for task in tasks:
        ids = nspids(f"/proc/{pid}/task/{task}")
        if ids and ids[-1] == ns_tid:
            return int(task)
    return 0
