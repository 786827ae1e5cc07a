"""The supervisor's table of processes and threads, and how it learns that a
process is gone: waitpid for its own children (the program, and orphans
that come back to it as child subreaper), a pidfd for everyone else."""
from __future__ import annotations

import os
import select


class Thread:
    """One thread: its channel and where it stands."""

    __slots__ = ("tid", "pid", "parent", "channel", "state", "ordinal")

    def __init__(self, tid: int, pid: int, parent: int | None, channel,
                 state: str = "running", ordinal: int = 0):
        self.tid = tid
        self.pid = pid
        self.parent = parent  # tid of the thread that created it
        self.channel = channel  # pyshim._core.Channel
        self.state = state  # running | exiting | exited
        self.ordinal = ordinal  # the run's n-th thread to start (0: the first)

    @property
    def block(self) -> str:
        segment, offset, size = self.channel.desc
        return f"{segment}:{offset}:{size}"

    def __repr__(self) -> str:
        return (f"Thread(tid={self.tid}, pid={self.pid}, parent={self.parent}, "
                f"state={self.state!r}, ordinal={self.ordinal})")


class Process:
    """One process: its threads and, once reaped, its wait status."""

    __slots__ = ("pid", "parent", "pidfd", "threads", "past", "status", "alive",
                 "image_supervised", "ns_pid")

    def __init__(self, pid: int, parent: int | None, pidfd: int | None = None):
        self.pid = pid
        self.parent = parent  # pid of the process that created it
        self.pidfd = pidfd
        self.threads: dict[int, Thread] = {}
        self.past: list[Thread] = []  # exited threads whose tid came back
        self.status: int | None = None  # wait status, when the supervisor reaped it
        self.alive = True
        self.image_supervised = True  # False after exec of a static program
        self.ns_pid: int | None = None  # its pid in its own pid namespace, if another

    def __repr__(self) -> str:
        return (f"Process(pid={self.pid}, parent={self.parent}, threads={list(self.threads)}, "
                f"status={self.status}, alive={self.alive})")


class Table:
    """Processes and threads of one run."""

    def __init__(self, root: int):
        self.root = root
        self.processes: dict[int, Process] = {}
        # The ones not known to be gone: what every event's questions (is
        # a process ending? which died?) look at, so that their cost does
        # not grow with the processes a long run has seen end.
        self._alive: dict[int, Process] = {}
        self.retired: list[Process] = []  # dead processes whose pid came back
        self.thread_count = 0  # threads ever seen in the run
        # Processes that exec'd a static program are the tracer's
        # (pyshim.ptrace.adopt), and so is everything they start: `side` is
        # its table, which the tracer's thread keeps.
        self.side: Table | None = None
        self.handed: set[int] = set()

    def add_process(self, pid: int, parent: int | None) -> Process:
        proc = self.processes[pid] = self._alive[pid] = Process(
            pid, parent, None if pid == self.root else self._child_pidfd(pid, parent))
        return proc

    def _child_pidfd(self, pid: int, parent: int | None) -> int | None:
        """A pidfd for the new process `pid`, made by `parent`; None if it is
        gone.  The supervisor learns the pid from the parent's fork result,
        which the parent does not wait to see read: the child may have been
        killed and reaped meanwhile, and its pid given to a process outside
        the run.  So the process behind the pidfd must have a parent in the
        run (or be the supervisor's orphan, as subreaper) to be taken."""
        fd = _pidfd(pid)
        if fd is None or parent is None:
            return fd
        ppid = _ppid(fd, pid)
        if ppid is None or ppid == parent or ppid == os.getpid() or ppid in self._alive:
            return fd
        os.close(fd)
        return None

    def ensure_process(self, pid: int, parent: int | None) -> Process:
        """The process `pid`, registered (with its pidfd) if it is new."""
        return self.processes.get(pid) or self.add_process(pid, parent)

    def stale(self, pid: int) -> bool:
        """Whether the entry for `pid` is a dead process's, whose pid the
        kernel may have given to a new one (pid_max is 32768 on many
        machines: a long run wraps around)."""
        proc = self.processes.get(pid)
        return proc is not None and pid != self.root and (not proc.alive or self._dead(proc))

    def retire(self, pid: int) -> None:
        """Forgets the dead process `pid` (kept for rows())."""
        proc = self.processes.pop(pid)
        self._mark_dead(proc)
        self.retired.append(proc)

    def add_thread(self, pid: int, tid: int, parent_tid: int | None, channel) -> Thread:
        proc = self.processes.get(pid)
        if proc is None:
            proc = self.add_process(pid, self._pid_of(parent_tid))
        if tid in proc.threads:  # an exited thread's tid, given again
            proc.past.append(proc.threads[tid])
        thread = proc.threads[tid] = Thread(tid, pid, parent_tid, channel,
                                            ordinal=self.thread_count)
        self.thread_count += 1
        return thread

    def _pid_of(self, tid: int | None) -> int | None:
        for procs in (self._alive, self.processes):  # a creator is alive, almost always
            for proc in procs.values():
                if tid in proc.threads:
                    return proc.pid
        return None

    def thread(self, pid: int, tid: int) -> Thread | None:
        proc = self.processes.get(pid)
        return proc.threads.get(tid) if proc else None

    def exec_done(self, pid: int, old_tid: int, new_tid: int) -> None:
        """An exec in `pid` by thread `old_tid` succeeded: the other threads
        are gone and the exec'ing thread now has the leader's tid."""
        proc = self.processes.get(pid)
        if proc is None:
            return
        thread = proc.threads.pop(old_tid, None)
        for other in proc.threads.values():
            other.state = "exited"
        if thread is not None:
            thread.tid = new_tid
            thread.state = "running"  # a sibling's exit_group read first lost to the exec
            proc.threads[new_tid] = thread
        proc.image_supervised = True

    def unsupervised(self, pid: int) -> None:
        """`pid` is about to run an image the shim cannot enter."""
        proc = self.processes.get(pid)
        if proc is not None:
            proc.image_supervised = False

    def exiting(self, pid: int) -> None:
        """The process announced exit_group: its threads are on their way out."""
        proc = self.processes.get(pid)
        if proc is not None:
            for thread in proc.threads.values():
                if thread.state == "running":
                    thread.state = "exiting"

    def hand_over(self, pid: int, side: Table) -> None:
        """`pid` is about to exec a static program, which the tracer whose
        table is `side` serves: its end is learnt from there."""
        self.side = side
        self.handed.add(pid)

    def wait_for_ends(self, timeout: float) -> bool:
        """When every live process has announced its end (its threads are
        exiting or gone), sleeps until one of them is gone or `timeout`
        seconds pass, and returns True; returns False at once otherwise
        (a process may still post an event)."""
        if self.side is not None:
            return False
        fds = []
        for proc in self._alive.values():
            if not _ending(proc):
                return False
            if proc.pidfd is None:
                proc.pidfd = _pidfd(proc.pid)
                if proc.pidfd is None:
                    return False  # gone already: the next poll finds it
            fds.append(proc.pidfd)
        if fds:
            select.select(fds, [], [], timeout)
        return bool(fds)

    def any_ending(self) -> bool:
        """Whether a live process has announced its end (none of its threads
        runs any more), so its death is near."""
        return any(_ending(p) for p in self._alive.values())

    def live(self) -> list[Process]:
        """The processes not known to be gone, the tracer's included."""
        own = list(self._alive.values())
        side = self.side
        if side is None:
            return own
        return own + [p for p in list(side.processes.values())
                      if p.alive and p.pid not in self.processes]

    def poll(self) -> list[Process]:
        """Marks and returns the processes that died since the last poll."""
        dead = []
        for proc in list(self._alive.values()):
            if self._dead(proc):
                self._mark_dead(proc)
                dead.append(proc)
        return dead

    def _mark_dead(self, proc: Process) -> None:
        proc.alive = False
        if self._alive.get(proc.pid) is proc:
            del self._alive[proc.pid]
        for thread in proc.threads.values():
            thread.state = "exited"
        if proc.pidfd is not None:
            os.close(proc.pidfd)
            proc.pidfd = None

    def _dead(self, proc: Process) -> bool:
        if proc.pid in self.handed:
            # Traced by a thread of this process: a wait here could take its
            # ptrace stops.  The tracer reports its end.
            other = self.side.processes.get(proc.pid)
            if other is None or other.alive:
                return False
            proc.status = other.status
            return True
        try:
            done, status = os.waitpid(proc.pid, os.WNOHANG)
            if done == proc.pid:
                proc.status = status
                return True
            return False
        except ChildProcessError:
            pass  # not (or no longer) our child: ask its pidfd
        if proc.pidfd is None:
            return True
        readable, _, _ = select.select([proc.pidfd], [], [], 0)
        return bool(readable)

    def close(self) -> None:
        for proc in (*self.retired, *self.processes.values()):
            if proc.pidfd is not None:
                os.close(proc.pidfd)
                proc.pidfd = None

    def rows(self) -> list[dict]:
        """The table as plain rows (pid, tid, parent, channel, state, ns_pid: its
        pid in its own pid namespace when that is not the supervisor's,
        supervised: False once the process exec'd an image the shim cannot
        enter)."""
        rows = [{"pid": t.pid, "tid": t.tid, "parent": t.parent, "channel": t.block,
                 "state": (t.state if p.image_supervised else "unsupervised")
                 if p.alive else "exited", "supervised": p.image_supervised,
                 "ns_pid": p.ns_pid}
                for p in (*self.retired, *self.processes.values()) if p.pid not in self.handed
                for t in (*p.past, *p.threads.values())]
        return rows + (self.side.rows() if self.side is not None else [])


def _ending(proc: Process) -> bool:
    """Whether `proc` announced its end: it has threads, none running (a
    process whose first thread has not started is not ending)."""
    return bool(proc.threads) and not any(t.state == "running" for t in proc.threads.values())


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None


# ioctl(pidfd, PIDFD_GET_INFO) (Linux 6.13): _IOWR(0xFF, 11, 64 bytes), the
# first published struct pidfd_info (u64 mask, u64 cgroupid, then u32 pid,
# tgid, ppid: the parent at offset 24, in the caller's pid namespace).
_PIDFD_GET_INFO = 0xC040FF0B


def _ppid(fd: int, pid: int) -> int | None:
    """The parent's pid of the process behind pidfd `fd` (0: it is gone), from
    the kernel's pidfd info (~1 us), else from /proc (~10 us, older kernels);
    None if neither tells."""
    import fcntl  # only where processes are made: not on every run's start

    info = bytearray(64)
    try:
        fcntl.ioctl(fd, _PIDFD_GET_INFO, info)
        return int.from_bytes(info[24:28], "little")
    except ProcessLookupError:
        return 0
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 4:].split(None, 1)[0])
    except (OSError, ValueError):
        return None
