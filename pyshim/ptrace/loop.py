"""The ptrace loop: serves one run of a statically linked program.

The thread that runs Loop.run is the tracer: it spawns the program (its
child, seized before it installs the seccomp filter and execs), and every
ptrace request of the run comes from it.  Its only wait is wait(2) on its
own children and tracees (__WALL | __WNOTHREAD: never another thread's
children); timers and answers from other threads end that wait through
the waker (pyshim/ptrace/waker.py).

Stops, and what the loop does at each:

- seccomp stop (a subscribed call enters): the before-handler answers.
  NATIVE: resume; with an after-hook, with PTRACE_SYSCALL, to see the call
  return (as for a call that may block, which a signal may interrupt and
  the kernel restart: its restart is not a new call).  A value or Fail: the call is skipped (syscall number -1) and
  returns the value; one stop.  A Deferred: the thread stays stopped until
  the answer comes.
- syscall-exit stop: the after-hooks see the result and may replace it.
  -ERESTART*: the call has not ended, the kernel restarts it (its next
  seccomp stop is the same call, not asked again) or, after a signal
  handler without SA_RESTART, it fails with EINTR: the loop resumes that
  signal with PTRACE_SINGLESTEP, which stops the thread at its handler's
  first instruction, where the frame the kernel saved tells which.
- clone, fork, vfork, exec events: the table follows; the new thread's
  first stop (PTRACE_EVENT_STOP) is let go once its parent's event told
  who it is.
- signal-delivery-stop: the signal is delivered as it came.
- group-stop: PTRACE_LISTEN, so the tracee stays stopped as job control
  wants, and its SIGCONT reaches it.
- exit: the thread is gone; a leader's exit ends its process, with the
  wait status the program's parent sees.
"""
from __future__ import annotations

import errno as _errno
import os
import signal
from _thread import allocate_lock, get_ident
from collections import deque
from collections.abc import Coroutine
from functools import partial
from heapq import heappop, heappush
from itertools import count
from time import monotonic

from pyshim import _core, syscalls
from pyshim._core import HandlerError
from pyshim.errors import CannotSupervise, PyshimError
from pyshim.ptrace import _ptrace
from pyshim.ptrace.call import (ANSWERED, GONE, HELD, PENDING, _UNANSWERED, Call, Deferred,
                                checked_reply)
from pyshim.ptrace.table import DOOR, PtraceTable
from pyshim.ptrace.waker import Waker
from pyshim.replies import NATIVE, Fail

WALL = 0x40000000
WNOTHREAD = 0x20000000
WAIT_FLAGS = WALL | WNOTHREAD | os.WUNTRACED

# ptrace options: syscall stops marked (SIGTRAP | 0x80), seccomp stops,
# children followed, exec reported, tracees killed if the tracer dies.
PTRACE_O_TRACESYSGOOD = 0x01
PTRACE_O_TRACEFORK = 0x02
PTRACE_O_TRACEVFORK = 0x04
PTRACE_O_TRACECLONE = 0x08
PTRACE_O_TRACEEXEC = 0x10
PTRACE_O_TRACESECCOMP = 0x80
PTRACE_O_EXITKILL = 0x100000
OPTIONS = (PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK
           | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESECCOMP
           | PTRACE_O_EXITKILL)

EVENT_FORK, EVENT_VFORK, EVENT_CLONE, EVENT_EXEC = 1, 2, 3, 4
EVENT_SECCOMP = 7
EVENT_STOP = 128
SYSCALL_STOP = signal.SIGTRAP | 0x80
GROUP_STOP_SIGNALS = frozenset((signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU))
TRAP_TRACE = 2                 # si_code of a single-step trap
HANDLER_ENTRY_CODE = signal.SIGTRAP  # si_code of the stop at a handler's entry (ptrace_notify)

CLONE_THREAD = 0x10000
NR = syscalls.NUMBERS
NR_CLONE, NR_CLONE3 = NR["clone"], NR["clone3"]
NR_FORKS = (NR["fork"], NR["vfork"])
NR_EXIT, NR_EXIT_GROUP = NR["exit"], NR["exit_group"]
NR_RESTART_SYSCALL = NR["restart_syscall"]
ONE_WAY = frozenset((NR_EXIT, NR_EXIT_GROUP))
# Results that mean "not ended: restarted, or EINTR after a handler".
RESTART_CODES = frozenset((-512, -513, -514, -516))
# Calls that may block and be interrupted, and then restarted by the kernel
# (-ERESTART*): when a handler let one run, its exit is watched too (one more
# stop), so that a restart is not asked again.  Any other call is resumed
# with no more stops; one that is restarted all the same is asked again.
RESTARTABLE = frozenset(NR[name] for name in (
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "open", "openat", "openat2", "creat", "ioctl", "fcntl", "flock", "wait4",
    "waitid", "futex", "futex_waitv", "nanosleep", "clock_nanosleep", "pause", "rt_sigsuspend",
    "rt_sigtimedwait", "poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait",
    "epoll_pwait2", "accept", "accept4", "connect", "recvfrom", "recvmsg", "recvmmsg", "sendto",
    "sendmsg", "sendmmsg", "msgrcv", "msgsnd", "semop", "semtimedop", "mq_timedreceive",
    "mq_timedsend", "io_getevents", "io_pgetevents", "io_uring_enter", "splice", "tee",
    "vmsplice", "sendfile", "copy_file_range", "fsync", "fdatasync", "sync_file_range",
    "getrandom", "clone", "clone3", "fork", "vfork") if name in NR)
EINTR = -_errno.EINTR
# The kernel's signal frame at a handler's entry (rsp): pretcode, then
# ucontext (uc_flags, uc_link, uc_stack: 40 bytes), whose sigcontext keeps
# r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip.
FRAME_RAX = 8 + 40 + 13 * 8
FRAME_RIP = 8 + 40 + 16 * 8


class _Task:
    """One traced thread, as the loop follows it."""

    __slots__ = ("tid", "pid", "seq", "pending", "restarting", "stepping", "held")

    def __init__(self, tid: int, pid: int):
        self.tid = tid
        self.pid = pid
        self.seq = 0
        self.pending: Call | None = None     # resumed to its syscall-exit stop
        self.restarting: Call | None = None  # interrupted: restarted or EINTR next
        self.stepping = False                # resumed with PTRACE_SINGLESTEP
        self.held: Deferred | None = None


def _reply_value(call, rep, default):
    """The value a handler's answer stands for (`default` for None/NATIVE)."""
    try:
        checked_reply(rep)
    except (TypeError, ValueError) as exc:
        raise HandlerError(f"the handler for {call.name} returned {rep!r}: {exc}", call) from None
    if rep is None or rep is NATIVE:
        return default
    if isinstance(rep, Fail):
        return -rep.errno
    return rep


class Loop:
    """Serves one ptrace run of the program at `path`: before, after: dicts
    of syscall number -> handler; subscribed: the numbers the user
    subscribed; task_loop() gives the asyncio loop of async handlers."""

    def __init__(self, before: dict, after: dict, subscribed, path: str, task_loop=None):
        self.before = dict(before)
        self.after = dict(after)
        self.subscribed = frozenset(subscribed)
        self.path = path
        self.task_loop = task_loop
        self.lock = allocate_lock()      # Deferred states, timers, posted work
        self.tasks: dict[int, _Task] = {}
        self._early: dict[int, int] = {}        # tid -> first stop, before its parent's event
        self.early_exits: dict[int, int] = {}  # tid -> exit status, never known
        self.zombies: set[int] = set()   # tids an exec ended, whose exit is still reported
        self.unreaped: set[int] = set()  # dead processes their (traced) parent may not reap
        self.held: dict[Deferred, None] = {}
        self.posted: deque = deque()
        self.timers: list = []
        self._timer_count = count()
        self.error: BaseException | None = None
        self.table: PtraceTable | None = None
        self.root = 0
        self.started = False             # the root's first exec happened
        self.waker: Waker | None = None
        # A run that passes signals on (run(forward_signals=True)): one that
        # finds its program gone stops it (the waker's stop ends the wait;
        # _serve raises).
        self.stops_on_signal = False
        self._thread = 0
        self._errfd = -1
        # Adopting (run_adopting): processes of a dynamic run that exec a
        # static program are seized by adopt(); until their exec, their
        # stops are not the new program's.
        self.adoptions: deque = deque()     # (pid, lock released when done, [reason])
        self.entering: set[int] = set()     # pids seized, not yet through their exec
        self.closing = False
        self.on_ended = None                # on_ended(pid, status): a process ended
        self.on_exec = None                 # on_exec(pid): an adopted process exec'd

    # -- from any thread ---------------------------------------------------

    def post(self, item) -> None:
        """Hands (Deferred, reply, exception) to the serving thread."""
        self.posted.append(item)
        self._wake()

    def _wake(self) -> None:
        if get_ident() != self._thread:
            waker = self.waker
            if waker is not None:
                waker.wake()

    def stop(self, exc) -> None:
        """Ends the run from any thread: run() raises `exc`."""
        self.post((None, None, exc))

    def adopt(self, pid: int, timeout: float = 10.0) -> str | None:
        """Seizes every thread of `pid`, a process about to exec a static
        program: its stops are passed on until that exec, and the new image
        is served as a static program run directly.  From any thread but
        the serving one; returns None, or why it could not."""
        done = allocate_lock()
        done.acquire()
        answer: list = []
        self.adoptions.append((pid, done, answer))
        self._wake()
        if not done.acquire(timeout=timeout):
            return "the tracer did not answer"
        return answer[0]

    def close(self) -> None:
        """The run is over: run_adopting returns once its processes are gone."""
        self.closing = True
        self._wake()

    def held_calls(self) -> list:
        return list(self.held)

    def call_later(self, seconds: float, fn):
        """Runs fn() in the serving thread `seconds` from now; a Timer."""
        return self.add_timer(_core.Timer(monotonic() + max(seconds, 0.0), fn), fn)

    def add_timer(self, timer, fn):
        if not callable(fn):
            raise TypeError(f"a timer needs a callable, not {fn!r}")
        with self.lock:
            heappush(self.timers, (timer.when, next(self._timer_count), timer, fn))
        self._wake()
        return timer

    def callback_raised(self, fn, exc) -> None:
        """A Deferred's done-callback raised: the run stops, as for a handler."""
        if self.error is None:
            err = HandlerError(f"the callback {fn!r} raised {type(exc).__name__}: {exc}")
            err.__cause__ = exc
            self.error = err
            self._wake()

    def answer_with(self, d: Deferred, handler) -> None:
        """Asks `handler` about d's call now and answers d with its reply."""
        if d._state != HELD and d._state != PENDING:
            return
        try:
            rep = handler(d.call)
            if isinstance(rep, Coroutine):
                self._adopt(d, rep)
                return
        except BaseException as exc:
            self.post((d, None, exc))
            return
        self._answer_held(d, rep)

    def _answer_held(self, d: Deferred, rep) -> None:
        if rep is d:
            return
        try:
            d.answer(rep)
        except RuntimeError:
            pass  # the handler answered it already
        except (TypeError, ValueError) as bad:
            self.post((d, None, HandlerError(
                f"the handler for {d.call.name} returned {rep!r}: {bad}", d.call)))

    def _adopt(self, d: Deferred, coro) -> None:
        if self.task_loop is None:
            coro.close()
            raise HandlerError(f"the handler for {d.call.name} is async, but this run "
                               "has no event loop", d.call)
        import asyncio

        d._task = asyncio.run_coroutine_threadsafe(coro, self.task_loop())
        d._task.add_done_callback(partial(self._task_done, d))

    def _task_done(self, d: Deferred, fut) -> None:
        if fut.cancelled():
            if d._state in (PENDING, HELD):  # not by pyshim
                self.post((d, None, HandlerError(
                    f"the async handler for {d.call.name} was cancelled", d.call)))
            return
        exc = fut.exception()
        if exc is None:
            self._answer_held(d, fut.result())
        else:
            self.post((d, None, exc))

    # -- the run -----------------------------------------------------------

    def run(self, spawn, on_start) -> int:
        """Spawns the program with spawn() -> (pid, errfd), calls
        on_start(pid, table), serves the run and returns the root's wait
        status once every traced thread is gone."""
        self._thread = get_ident()
        self._set_waker(Waker())
        previous = _core.set_child_subreaper(True)
        try:
            self.root, self._errfd = spawn()
            self.table = table = PtraceTable(self.root)
            table.add_process(self.root, None)
            self._add_task(self.root, self.root, None, new_process=False)
            on_start(self.root, table)
            return self._serve()
        finally:
            try:
                self._end()
            finally:
                _core.set_child_subreaper(previous)
                if self._errfd >= 0:
                    os.close(self._errfd)
                    self._errfd = -1
                if self.table is not None:
                    self.table.close()

    def run_adopting(self, on_start, on_error) -> None:
        """Serves the processes adopt() hands over until close() and the
        last of them is gone; on_start() once it is ready, on_error(exc)
        with what stops it, before its processes are killed (the run must
        learn of the failure before it sees them die)."""
        self._thread = get_ident()
        self.waker = Waker()
        self.table = PtraceTable(0)
        self.started = True
        try:
            on_start()
            self._serve()
        except BaseException as exc:
            on_error(exc)
            raise
        finally:
            try:
                self._end()
            finally:
                self.table.close()
                self._refuse_adoptions()

    def _serve(self) -> int:
        table = self.table
        root = table.processes.get(self.root)
        while True:
            if self.adoptions:
                self._adopt_all()
            if self.posted:
                self._drain()
            if self.timers:
                self._run_timers()
            if self.error is not None:
                error, self.error = self.error, None
                raise error
            if self.stops_on_signal:
                if root is not None and not root.alive:
                    _core.program_gone(root.pid)  # reaped: its pid may be another's now
                stop = _core.stop_signal_error()
                if stop is not None:
                    raise stop
            if not self.tasks and not self._early:
                if root is None and self.closing:
                    return 0
                if root is not None and not root.alive:
                    table.poll()
                    return root.status
            with self.lock:
                deadline = int(self.timers[0][0] * 1e9) + 1000 if self.timers else -1
            self.waker.arm(deadline)
            tid, status = os.waitpid(-1, WAIT_FLAGS)
            if tid == self.waker.pid:
                self._waker_event(status)
            else:
                self._event(tid, status)

    def _set_waker(self, waker: Waker) -> None:
        self.waker = waker
        if self.stops_on_signal:
            _core.set_stop_waker(waker.pid)

    def _waker_event(self, status: int) -> None:
        if os.WIFSTOPPED(status):
            self.waker.stopped()
        else:  # killed by someone: a new one, so timers still fire
            if self.stops_on_signal:
                _core.set_stop_waker(0)  # reaped already: as soon as can be
            self.waker.exited()
            self.waker.close()
            self._set_waker(Waker())

    def _end(self) -> None:
        """The run is over (or failed): every tracee is killed and reaped,
        nothing held is answered any more, the waker is gone."""
        for d in list(self.held):
            d._end(GONE)
        self.held.clear()
        for d, _, _ in self.posted:
            if d is not None:
                d._end(GONE)
        self.posted.clear()
        self.timers.clear()
        if self.waker is not None:
            if self.stops_on_signal:
                _core.set_stop_waker(0)
            self.waker.close()
        alive = {*self.tasks, *self._early}
        for tid in alive:
            _kill(tid)
        while alive:
            try:
                tid, status = os.waitpid(-1, WALL | WNOTHREAD)
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if os.WIFSTOPPED(status):
                _kill(tid)  # a new child stopped at its start, or a stop on the way out
                alive.add(tid)
                continue
            alive.discard(tid)
            self._early.pop(tid, None)
            task = self.tasks.pop(tid, None)
            if task is not None and task.tid == task.pid:
                self.table.ended(task.pid, status)
        if self.table is not None:
            self.table.poll()
        self._reap_orphans()

    # -- stops ---------------------------------------------------------------

    def _event(self, tid: int, status: int) -> None:
        if not os.WIFSTOPPED(status):
            return self._exited(tid, status)
        task = self.tasks.get(tid)
        if task is None and status >> 16 == EVENT_EXEC:
            task = self._exec_elsewhere(tid)
        if task is None:
            self._early[tid] = status  # its parent's event says who it is
            return
        sig = (status >> 8) & 0xFF
        event = status >> 16
        if event == EVENT_SECCOMP:
            return self._seccomp(task)
        if sig == SYSCALL_STOP and not event:
            return self._syscall_exit(task)
        if event:
            return self._ptrace_event(task, event, sig)
        return self._signal(task, sig)

    def _resume(self, task: _Task, sig: int = 0, step: bool = False) -> None:
        if step:
            request = _ptrace.PTRACE_SINGLESTEP
        elif task.pending is not None:
            request = _ptrace.PTRACE_SYSCALL
        else:
            request = _ptrace.PTRACE_CONT
        task.stepping = step
        _ptrace.resume(request, task.tid, sig)  # -ESRCH: killed, its exit comes next

    def _seccomp(self, task: _Task) -> None:
        regs = _ptrace.stop_regs(task.tid)
        if regs is None:
            return  # killed meanwhile: its exit is reported next
        nr = regs[0]
        task.pending = None  # (a syscall-exit stop a kill took away)
        if not self.started or task.pid in self.entering:
            return self._resume(task)  # pyshim's own exec of the program
        restarting = task.restarting
        if restarting is not None and regs[7] == restarting.ip and (
                nr == NR_RESTART_SYSCALL
                or (nr == restarting.nr and regs[1:7] == restarting.args)):
            # The kernel restarts an interrupted call: already answered,
            # its result is yet to come.
            task.restarting = None
            task.pending = restarting
            return self._resume(task)
        if nr == NR_RESTART_SYSCALL and nr not in self.subscribed:
            return self._resume(task)  # in the filter for the case above only
        task.seq += 1
        call = Call(nr, task.pid, task.tid, regs[1:7], regs[7], task.seq)
        handler = self.before.get(nr)
        rep = None
        if handler is not None:
            call._loop = self
            try:
                rep = handler(call)
                if isinstance(rep, Coroutine):
                    rep = self._start_task(call, rep)
            except BaseException as exc:
                if call._deferred is not None:
                    call._deferred._end(GONE)
                return self._handler_raised(call, exc)
            finally:
                call._loop = None
        d = call._deferred
        if d is not None:
            if rep is not d:
                d._end(GONE)
                return self._handler_raised(call, HandlerError(
                    f"the handler for {call.name} deferred the call but returned {rep!r}; "
                    "a handler that defers returns the Deferred", call))
            with self.lock:  # an answer from another thread comes before or after this
                hold = d._early is _UNANSWERED
                if hold:
                    d._state = HELD
            if hold:
                task.held = d
                self.held[d] = None
                return  # the thread stays stopped until the answer
            rep = d._early
            d._end(ANSWERED)
        elif isinstance(rep, Deferred):
            return self._handler_raised(call, HandlerError(
                f"the handler for {call.name} returned the Deferred of another call", call))
        self._answer(task, call, rep)

    def _start_task(self, call: Call, coro) -> Deferred:
        try:
            d = call.defer()
        except BaseException:
            coro.close()
            raise
        self._adopt(d, coro)
        return d

    def _answer(self, task: _Task, call: Call, rep) -> None:
        """Answers `call`, stopped at its seccomp stop, with its handler's reply."""
        value = None
        if rep is not None and rep is not NATIVE:
            try:
                value = _reply_value(call, rep, None)
            except BaseException as exc:
                return self._handler_raised(call, exc)
        after = self.after.get(call.nr)
        if value is None:
            if call.nr in ONE_WAY:
                if call.nr == NR_EXIT_GROUP:
                    self.table.exiting(call.pid)
                if after is not None:  # it never returns: the hook sees None now
                    call.result = None
                    try:
                        after(call, None)
                    except BaseException as exc:
                        return self._handler_raised(call, exc)
            elif after is not None or (call.nr in RESTARTABLE
                                       and self.before.get(call.nr) is not None):
                task.pending = call
            return self._resume(task)
        if after is not None:
            value = self._after(call, value, value)
            if value is None:
                return
        _ptrace.skip(task.tid, value)
        self._resume(task)

    def _after(self, call: Call, result, default):
        """Runs the after-hooks; the (possibly replaced) value, or None once
        the run has failed."""
        call.result = result
        try:
            rep = self.after[call.nr](call, result)
            return _reply_value(call, rep, result if default is None else default)
        except BaseException as exc:
            self._handler_raised(call, exc)
            return None

    def _syscall_exit(self, task: _Task) -> None:
        call = task.pending
        if call is None:
            return self._resume(task)
        result = _ptrace.result(task.tid)
        if result is None:
            return  # killed meanwhile
        task.pending = None
        if result in RESTART_CODES:
            task.restarting = call
            return self._resume(task)
        if self.after.get(call.nr) is None:
            return self._resume(task)  # watched for a restart only
        value = self._after(call, result, result)
        if value is None:
            return
        if value != result:
            _ptrace.set_result(task.tid, value)
        self._resume(task)

    def _signal(self, task: _Task, sig: int) -> None:
        """A signal-delivery-stop (or, while stepping, the stop at a
        handler's entry or a step's trap)."""
        if task.stepping and sig == signal.SIGTRAP:
            code = _ptrace.sig_code(task.tid)
            if code is None:
                return
            if code[1] == HANDLER_ENTRY_CODE:
                self._handler_entry(task)
                return self._resume(task)
            if code[1] == TRAP_TRACE:
                return self._resume(task)  # our step's own trap: not the program's
        if task.restarting is not None:
            # If the signal has a handler, the thread stops at its entry,
            # where the saved frame tells whether the call restarts.
            return self._resume(task, sig, step=True)
        self._resume(task, sig)

    def _handler_entry(self, task: _Task) -> None:
        """The thread stopped at a signal handler's first instruction while
        its call was interrupted: the frame says EINTR or a restart."""
        call = task.restarting
        regs = _ptrace.stop_regs(task.tid)
        if call is None or regs is None:
            return
        try:
            frame = _ptrace.vm_read(task.pid, regs[9] + FRAME_RAX, FRAME_RIP + 8 - FRAME_RAX)
        except OSError:
            return
        rax = int.from_bytes(frame[:8], "little", signed=True)
        rip = int.from_bytes(frame[-8:], "little")
        if rip != call.ip or rax != EINTR:
            return  # restarted after the handler (rip is back on the syscall), or not ours
        task.restarting = None
        if self.after.get(call.nr) is None:
            return
        value = self._after(call, EINTR, EINTR)
        if value is not None and value != EINTR:
            _ptrace.vm_write(task.pid, regs[9] + FRAME_RAX, value.to_bytes(8, "little",
                                                                          signed=True))

    def _ptrace_event(self, task: _Task, event: int, sig: int) -> None:
        if event in (EVENT_FORK, EVENT_VFORK, EVENT_CLONE):
            child = _ptrace.event_msg(task.tid)
            if child is not None:
                # Any of the three may be a thread (a clone with CLONE_VFORK,
                # or with SIGCHLD as its exit signal, is reported as a vfork
                # or a fork): the flags say.
                thread = self._clone_flags(task, child) & CLONE_THREAD
                self._add_task(child, task.pid if thread else child, task.tid,
                               new_process=not thread)
        elif event == EVENT_EXEC:
            task = self._exec(task)
        elif event == EVENT_STOP and sig in GROUP_STOP_SIGNALS:
            task.stepping = False
            _ptrace.resume(_ptrace.PTRACE_LISTEN, task.tid, 0)
            return
        self._resume(task)

    def _clone_flags(self, task: _Task, child: int) -> int:
        """The flags of the clone that made `child` (CLONE_THREAD at least).
        Without the registers or the clone_args, /proc tells whether it is a
        thread: taking a thread for a process makes the run fail (a thread
        has no pidfd of its own)."""
        regs = _ptrace.stop_regs(task.tid)
        nr = regs[0] if regs is not None else None
        if nr in NR_FORKS:
            return 0
        if nr == NR_CLONE:
            return regs[1]
        if nr == NR_CLONE3:
            try:
                return int.from_bytes(_ptrace.vm_read(task.pid, regs[1], 8), "little")
            except OSError:
                pass
        return CLONE_THREAD if _tgid(child) == task.pid else 0  # ask /proc

    def _add_task(self, tid: int, pid: int, parent_tid: int | None, new_process: bool) -> None:
        table = self.table
        if new_process:
            if table.stale(pid):
                table.retire(pid)  # a dead process's pid, given again
            parent = self.tasks[parent_tid].pid if parent_tid in self.tasks else None
            table.ensure_process(pid, parent)
        self.tasks[tid] = _Task(tid, pid)
        table.add_thread(pid, tid, parent_tid, DOOR)
        status = self.early_exits.pop(tid, None)
        if status is not None and not _alive(tid):
            # It was killed before its parent's event came (the same tid
            # alive again is another thread, whose stops come next).
            return self._exited(tid, status)
        status = self._early.pop(tid, None)
        if status is not None:
            self._event(tid, status)  # its first stop came before this: it goes on now
        return None

    def _exec(self, task: _Task) -> _Task:
        """An exec succeeded in task's process (reported under the leader's
        tid): its other threads are gone, the exec'ing thread is the leader
        (returned)."""
        former = _ptrace.event_msg(task.tid)
        pid = task.pid
        if former is not None and former != task.tid and former in self.tasks:
            leader, task = task, self.tasks.pop(former)
            self._gone(leader)
            task.tid = pid
            self.tasks[pid] = task
        for other in [t for t in self.tasks.values() if t.pid == pid and t is not task]:
            del self.tasks[other.tid]
            self._gone(other)
            self.zombies.add(other.tid)
        self.table.exec_done(pid, former if former is not None else pid, pid)
        if pid in self.entering:
            self.entering.discard(pid)
            _check_filtered(pid)
            if self.on_exec is not None:
                self.on_exec(pid)
        if pid == self.root and not self.started:
            self.started = True
            os.close(self._errfd)
            self._errfd = -1
        return task

    def _exec_elsewhere(self, pid: int) -> _Task | None:
        """An exec reported under the leader's tid `pid` when the leader was
        not traced (an adopted process whose leader had exited): the
        exec'ing thread, if it is ours, now has the leader's tid."""
        former = _ptrace.event_msg(pid)
        task = self.tasks.pop(former, None) if former is not None else None
        if task is not None:
            task.tid = pid
            self.tasks[pid] = task  # _exec renames it in the table
        return task

    def _adopt_all(self) -> None:
        while self.adoptions:
            pid, done, answer = self.adoptions.popleft()
            try:
                answer.append(self._seize(pid))
            finally:
                done.release()

    def _seize(self, pid: int) -> str | None:
        """Seizes the threads of `pid` (listed until no new one appears);
        None, or why not."""
        if pid in self.entering:
            return None  # seized already (an exec that failed, tried again)
        table = self.table
        if table.stale(pid):
            table.retire(pid)
        seized: set[int] = set()
        while True:
            try:
                tids = {int(t) for t in os.listdir(f"/proc/{pid}/task")} - seized
            except OSError:
                tids = set()
            if not tids:
                break
            for tid in sorted(tids):
                r = _ptrace.seize(tid, OPTIONS)
                if r == -_errno.ESRCH:
                    seized.add(tid)  # gone (or a zombie leader): nothing to follow
                    continue
                if r < 0:
                    if not seized:
                        return os.strerror(-r)
                    seized.add(tid)
                    continue
                seized.add(tid)
                if pid not in self.entering:
                    table.ensure_process(pid, None)
                    self.entering.add(pid)
                    self.unreaped.add(pid)
                self.tasks[tid] = _Task(tid, pid)
                table.add_thread(pid, tid, None, DOOR)
        return None if pid in self.entering else "the process is gone"

    def _refuse_adoptions(self) -> None:
        while self.adoptions:
            _, done, answer = self.adoptions.popleft()
            answer.append("the run's tracer has stopped")
            done.release()

    def _gone(self, task: _Task) -> None:
        d = task.held
        if d is not None:
            task.held = None
            self.held.pop(d, None)
            d._end(GONE)

    def _exited(self, tid: int, status: int) -> None:
        task = self.tasks.pop(tid, None)
        if task is None:
            if tid in self.zombies:
                self.zombies.discard(tid)
            else:
                self._early.pop(tid, None)
                self.early_exits[tid] = status  # its parent's event comes after
            return
        self._gone(task)
        table = self.table
        if task.tid != task.pid:
            thread = table.thread(task.pid, tid)
            if thread is not None:
                thread.state = "exited"
            return
        if task.pid == self.root and not self.started:
            self._spawn_failed()
        proc = table.processes.get(task.pid)
        if proc is not None and proc.parent is not None:
            self.unreaped.add(task.pid)  # our wait only reported it: its parent reaps it
        self.entering.discard(task.pid)
        table.ended(task.pid, status)
        table.poll()
        if self.on_ended is not None:
            self.on_ended(task.pid, status)
        if self._early:
            self._orphans()
        if self.unreaped:
            self._reap_orphans()

    def _reap_orphans(self) -> None:
        """Reaps the dead processes whose parent died before reaping them:
        they came back to this process (the child subreaper), untraced
        since their exit was reported, and nobody else would."""
        me = os.getpid()
        for pid in list(self.unreaped):
            status = _status_of(pid)
            if status is None:
                self.unreaped.discard(pid)  # reaped by its parent
            elif status.get("State") == "Z" and status.get("PPid") == str(me):
                try:
                    os.waitpid(pid, os.WNOHANG | WALL)
                except ChildProcessError:
                    pass
                self.unreaped.discard(pid)

    def _orphans(self) -> None:
        """New processes stopped at their start whose parent died before its
        fork event could be reported (it never will be): they go on now,
        as children of whoever adopted them."""
        for tid in list(self._early):
            status = _status_of(tid)
            if status is None or status.get("Tgid") != str(tid):
                continue
            parent = int(status.get("PPid", "0"))
            if any(t.pid == parent for t in self.tasks.values()):
                continue  # its parent lives: its event is on the way
            self._add_task(tid, tid, None, new_process=True)

    def _spawn_failed(self) -> None:
        """The program's process ended before its exec: the reason is on
        the error pipe."""
        data = b""
        try:
            data = os.read(self._errfd, 8)
        except OSError:
            pass
        if len(data) == 8:
            stage, code = int.from_bytes(data[:4], "little"), int.from_bytes(data[4:], "little")
            self.error = spawn_error(stage, code, self.path)

    # -- work handed over, timers ------------------------------------------

    def _drain(self) -> None:
        while self.posted and self.error is None:
            d, rep, exc = self.posted.popleft()
            if d is None:
                self.error = exc
                continue
            if exc is not None:
                self._task_failed(d, exc)
                continue
            task = self.tasks.get(d.call.tid)
            if task is None or task.held is not d:
                d._end(GONE)  # its thread died after the claim
                continue
            task.held = None
            self.held.pop(d, None)
            d._end(ANSWERED)
            self._answer(task, d.call, rep)

    def _task_failed(self, d: Deferred, exc) -> None:
        """An async handler raised: the run stops, as for any handler."""
        task = self.tasks.get(d.call.tid)
        if task is not None and task.held is d:
            task.held = None
        self.held.pop(d, None)
        d._end(ANSWERED)
        self._handler_raised(d.call, exc)

    def _run_timers(self) -> None:
        now = monotonic()
        while self.timers and self.timers[0][0] <= now and self.error is None:
            with self.lock:
                _, _, timer, fn = heappop(self.timers)
            if timer.cancelled:
                continue
            try:
                fn()
            except HandlerError as exc:
                self.error = exc
            except BaseException as exc:
                err = HandlerError(f"the timer callback {fn!r} raised "
                                   f"{type(exc).__name__}: {exc}")
                err.__cause__ = exc
                self.error = err
            if self.posted:
                self._drain()

    def _handler_raised(self, call, exc) -> None:
        """The run stops: run() raises what the handler raised (wrapped as
        _core's dispatcher wraps it); the stopped thread is killed with
        the rest."""
        if self.error is not None:
            return
        if isinstance(exc, HandlerError) or not isinstance(exc, Exception):
            self.error = exc
            return
        err = HandlerError(f"the handler for {call.name} raised "
                           f"{type(exc).__name__}: {exc}", call)
        err.__cause__ = exc
        self.error = err


def _kill(tid: int) -> None:
    try:
        os.kill(tid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _check_filtered(pid: int) -> None:
    """An adopted process exec'd: its shim installed the run's filter, or
    the kernel refused it (then nothing it calls stops), which is said."""
    status = _status_of(pid)
    if status is not None and status.get("Seccomp") == "0":
        import sys

        print(f"pyshim: warning: pid {pid} runs unsupervised: the kernel refused the "
              "seccomp filter pyshim traces static programs with", file=sys.stderr, flush=True)


def _status_of(tid: int) -> dict[str, str] | None:
    """/proc/TID/status as {field: first word}, None if there is no TID."""
    try:
        with open(f"/proc/{tid}/status") as f:
            return {k: v.split()[0] if v.split() else ""
                    for k, _, v in (line.partition(":") for line in f)}
    except OSError:
        return None


def _alive(tid: int) -> bool:
    """Whether TID is a thread that has not exited (a zombie has)."""
    status = _status_of(tid)
    return status is not None and status.get("State") not in ("Z", "X")


def _tgid(tid: int) -> int | None:
    status = _status_of(tid)
    try:
        return int(status["Tgid"]) if status else None
    except (KeyError, ValueError):
        return None


def spawn_error(stage: int, code: int, path: str) -> PyshimError:
    """The one-line error for a program that could not be started."""
    reason = os.strerror(code)
    if stage == _ptrace.STAGE_EXEC:
        if code == _errno.EACCES or code == _errno.EPERM:
            return CannotSupervise(f"{path}: {reason}")
        return CannotSupervise(f"{path}: cannot execute: {reason}")
    if stage == _ptrace.STAGE_SECCOMP:
        return CannotSupervise(
            f"{path} is statically linked, which pyshim supervises with ptrace and a "
            f"seccomp filter, and the kernel refused the filter ({reason})")
    if stage == _ptrace.STAGE_NO_NEW_PRIVS:
        return CannotSupervise(f"{path}: PR_SET_NO_NEW_PRIVS was refused ({reason})")
    return PyshimError(f"{path}: could not set up the program's standard streams ({reason})")
