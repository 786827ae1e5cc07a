"""The Supervisor: handlers per syscall, and running a program under them."""
from __future__ import annotations

import _signal as signal  # signal's C module: `signal` imports enum (start-up counts)
import os
import sys
from _collections_abc import Callable, Iterable, Mapping  # no collections package
from _functools import partial
from _thread import allocate_lock  # threading's Lock, without importing threading
from time import monotonic

from pyshim import _core, aio, paths, program, shm, syscalls
from pyshim.replies import NATIVE, Fail
from pyshim.table import Table
from pyshim.errors import CannotSupervise, PyshimError, StaticProgram

PRELOAD_NAME = "libpyshim_preload.so"
# Signals a shell would let reach its foreground job; `pyshim run` passes on
# the ones sent to it alone (a terminal's reach the program directly).
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                     signal.SIGUSR1, signal.SIGUSR2)


def preload_path() -> str:
    """Path of the installed preload library."""
    # Installed beside this module as a plain file (setup.py builds it so;
    # pip never installs pyshim zipped, and a zip could not be preloaded).
    # Every run looks whether it is still there (one stat).
    if not os.path.isfile(_PRELOAD):
        raise PyshimError(f"the preload library {_PRELOAD} is missing; reinstall pyshim")
    return _PRELOAD


_PRELOAD = os.path.join(os.path.dirname(os.path.abspath(__file__)), PRELOAD_NAME)
_PRELOAD_BYTES = os.fsencode(_PRELOAD)


def _numbers(names: Iterable[str | int] | str) -> set[int]:
    if isinstance(names, (str, int)):
        names = [names]
    out: set[int] = set()
    for name in names:
        if name == "all":
            out.update(syscalls.NAMES)
        elif isinstance(name, int):
            out.add(name)
        elif name in syscalls.NUMBERS:
            out.add(syscalls.NUMBERS[name])
        else:
            raise ValueError(f"unknown syscall {name!r}")
    return {nr for nr in out if 0 <= nr < _core.NR_MAX}


def _registrar(table: dict[int, Callable], names, compose=None) -> Callable[[Callable], Callable]:
    """A decorator that puts its function in `table` for each syscall named
    (names are checked now, not when the decorator is applied); with
    `compose`, a function already there is kept: compose(old, new)."""
    numbers = _numbers(names)

    def register(fn: Callable) -> Callable:
        for nr in numbers:
            old = table.get(nr)
            table[nr] = fn if old is None or compose is None else compose(old, fn)
        return fn
    return register


class _AfterHooks:
    """Several after-hooks of one syscall, run in the order they were
    registered: each sees the result as the ones before it left it."""

    __slots__ = ("hooks",)

    def __init__(self, first: Callable, second: Callable):
        self.hooks = (first.hooks if isinstance(first, _AfterHooks) else (first,)) + (second,)

    def __call__(self, call, result):
        answer = None
        for hook in self.hooks:
            rep = hook(call, result)
            if rep is not None and rep is not NATIVE:
                answer = rep
                result = -rep.errno if isinstance(rep, Fail) else rep
        return answer


def exit_code(status: int) -> int:
    """A wait status as subprocess reports it: the exit code, or -N if the
    program was killed by signal N."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


class Supervisor:
    """Runs programs with their subscribed syscalls answered by Python.

    >>> sup = Supervisor()
    >>> @sup.on("openat")
    ... def deny(call):
    ...     return Fail(errno.EACCES)
    >>> sup.run(["cat", "/etc/hostname"])
    """

    def __init__(self, trap: Iterable[str | int] | str = ()):
        self._before: dict[int, Callable] = {}
        self._after: dict[int, Callable] = {}
        self._trap: set[int] = _numbers(trap)
        self._table: Table | None = None
        self._run: shm.Run | None = None
        self._dispatcher = None
        self._timers: list = []  # (Timer, fn) set while no run is going
        self._lock = allocate_lock()  # the dispatcher's hand-over, for other threads
        self._control: _Control | None = None

    def trap(self, names: Iterable[str | int] | str) -> None:
        """Subscribe to syscalls without a handler: they go to the supervisor
        and run natively ("all" subscribes every syscall)."""
        self._trap |= _numbers(names)

    def on(self, *names: str | int) -> Callable[[Callable], Callable]:
        """Decorator: handler(call) runs before the syscall and answers it
        (see pyshim.replies), or holds it: ``d = call.defer()`` ... ``return
        d``, answered later with d.native(), d.complete(v) or d.fail(errno).
        An ``async def`` handler runs as a task; its call waits for it."""
        return _registrar(self._before, names)

    def after(self, *names: str | int) -> Callable[[Callable], Callable]:
        """Decorator: hook(call, result) runs after the syscall with its
        result (None when it never returns, like exit_group).  Hooks of the
        same syscall run in the order they were registered; one that
        returns a value replaces the result for the next ones too."""
        return _registrar(self._after, names, _AfterHooks)

    @property
    def subscribed(self) -> set[int]:
        return self._trap | set(self._before) | set(self._after)

    @property
    def table(self) -> Table | None:
        """The process and thread table of the current (or last) run."""
        return self._table

    @property
    def blocks_in_use(self) -> int:
        """Channel blocks allocated in the current run (0 outside a run)."""
        return self._run.blocks_in_use if self._run else 0

    @property
    def held(self) -> list:
        """The calls held now (Deferred: pid, tid, call, since), oldest first."""
        dispatcher = self._dispatcher
        return dispatcher.held_calls() if dispatcher is not None else []

    def call_later(self, seconds: float, fn: Callable[[], object]):
        """Runs fn() in the dispatcher `seconds` from now (between two calls,
        never while a handler runs); returns a Timer with cancel().  Safe from
        any thread.  Set while no run is going, it fires once the next run
        has started (at once if its time has passed); timers left when a run
        ends are dropped."""
        if not callable(fn):
            raise TypeError(f"call_later needs a callable, not {fn!r}")
        with self._lock:
            dispatcher = self._dispatcher
            if dispatcher is None:
                timer = _core.Timer(monotonic() + max(seconds, 0.0), fn)
                self._timers.append((timer, fn))
                return timer
        return dispatcher.call_later(seconds, fn)

    def stop(self) -> None:
        """Ends the run going on (from another thread): its processes are
        killed and run() raises PyshimError.  No effect when none is."""
        control = self._control
        if control is not None:
            control.stop()

    @property
    def threads(self) -> list[dict]:
        """The process and thread table of the current (or last) run: one row
        per thread with pid, tid, parent (creating tid), channel, state."""
        return self._table.rows() if self._table else []

    def run(self, argv: list[str], *, env: Mapping[str, str] | None = None,
            stdin=None, stdout=None, stderr=None, forward_signals: bool = False) -> int:
        """Runs argv to completion under this supervisor and returns its exit
        status (-N if killed by signal N).  stdin/stdout/stderr take what
        subprocess takes, but PIPE: descriptors, objects with fileno(),
        subprocess.DEVNULL, and STDOUT for stderr; default: inherited.
        Async handlers run on an event loop of the run's own."""
        handlers = aio.LoopThread()
        self._control = control = _Control()
        try:
            return self._supervise(argv, env, stdin, stdout, stderr, forward_signals,
                                   handlers.loop, control)
        finally:
            handlers.stop()

    async def run_async(self, argv: list[str], *, env: Mapping[str, str] | None = None,
                        stdin=None, stdout=None, stderr=None) -> int:
        """run() for asyncio programs: awaits the run without blocking the
        running loop, on which async handlers run.  Cancelling the awaiting
        task kills the program and its whole tree."""
        import asyncio

        loop = asyncio.get_running_loop()
        self._control = control = _Control()
        return await aio.serve_in_thread(
            lambda: self._supervise(argv, env, stdin, stdout, stderr, False, lambda: loop,
                                    control),
            control.stop)

    def _supervise(self, argv, env, stdin, stdout, stderr, forward_signals, task_loop,
                   control) -> int:
        if not argv:
            raise ValueError("argv is empty")
        program.check_kernel()
        path, st = program.resolve_and_stat(argv[0], env)
        try:
            program.check_supervisable(path, st=st)
        except StaticProgram:
            # No loader to preload the shim: ptrace and a seccomp filter instead.
            from pyshim.ptrace.run import supervise
            return supervise(self, path, argv, dict(os.environ if env is None else env), stdin,
                             stdout, stderr, forward_signals, task_loop, control)
        env = _environment(env)
        shm.gc_now_and_then()
        control.check()
        # Forwarding outlives the run's segments: a signal that arrives while
        # they are removed is still passed on, never fatal to pyshim.
        with _Forwarding(forward_signals) as forwarding, shm.Run(map_later=True) as run:
            # The run's liveness lock (ipc/pyshim_ipc.h, PYSHIM_LIVENESS_BYTE):
            # an open-file-description write lock on the control segment, held
            # from before the program exists until the run closes the
            # segment's descriptor; the kernel drops it if this process dies.
            _core.hold_liveness(run.control.fd)
            run.name_supervisor()
            self._run = run
            env[_ENV_CHANNEL] = os.fsencode(run.first_channel_text)
            preload_path()  # still there
            theirs = env.get(b"LD_PRELOAD")
            env[b"LD_PRELOAD"] = _PRELOAD_BYTES + b":" + theirs if theirs else _PRELOAD_BYTES
            pid = _spawn(path, argv, env, stdin, stdout, stderr)
            try:
                # The program starts on this thread's CPU, which this thread
                # takes back from it: on another, the two work side by side
                # (core/placement.h).
                _core.leave_cpu()
                # While the program's loader works (~0.4 ms to its shim): the
                # segment is mapped and filled in, its shim woken if it
                # waits, and earlier runs' memory given back.
                block = run.start_program_channel()
                shm.release_retired()
                forwarding.start(pid)
                self._table = table = Table(pid)
                table.add_process(pid, None)
                handover = _Handover(self, run, table, task_loop)
                before = _own_handlers(run, table, self._before, handover)
                subscribed = self.subscribed | set(before)
                dispatcher = _core.Dispatcher(run.control.map, subscribed, before, self._after,
                                              run.alloc_channel, run.free_block, table,
                                              task_loop=task_loop)
                dispatcher.add_channel(_core.Channel(block.view, block.desc, pid, block))
            except BaseException:
                _kill_and_reap(pid)  # never served: nothing else ends it
                raise
            with self._lock:
                self._dispatcher = dispatcher
                timers, self._timers = self._timers, []
            for timer, _ in timers:
                dispatcher.add_timer(timer)
            control.attach(dispatcher)
            handover.dispatcher = dispatcher
            try:
                return exit_code(_serve(dispatcher, table, run.run_id, handover))
            finally:
                self._run = None
                with self._lock:
                    self._dispatcher = None


class _Control:
    """Stopping one run from another thread, whenever the stop comes: before
    the program is spawned, the run does not start; after, its dispatcher
    is told (now, or as soon as it exists)."""

    def __init__(self):
        self._lock = allocate_lock()
        self.stopped = False
        self.dispatcher = None

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            dispatcher = self.dispatcher
        if dispatcher is not None:
            dispatcher.stop(PyshimError("the run was stopped"))

    def check(self) -> None:
        if self.stopped:
            raise PyshimError("the run was stopped before it started")

    def attach(self, dispatcher) -> None:
        with self._lock:
            self.dispatcher = dispatcher
            stopped = self.stopped
        if stopped:
            dispatcher.stop(PyshimError("the run was stopped"))


# Calls that switch the user a process acts as (its file-system uid), and
# the arguments that name the new users.
_UID_CALLS = {"setuid": (0,), "setreuid": (0, 1), "setresuid": (0, 1, 2), "setfsuid": (0,)}


_PTRACE_TRACEME, _PTRACE_ATTACH, _PTRACE_SEIZE = 0, 16, 0x4206


def _own_handlers(run: shm.Run, table: Table, before: dict[int, Callable],
                  handover: _Handover) -> dict[int, Callable]:
    """The user's handlers, with the supervisor's own hooks in front of the
    calls it must see (the user's handler, if any, answers them): every
    exec, ptrace, and, in a root run, the calls that switch users."""
    out = dict(before)
    for name in ("execve", "execveat"):
        _in_front(before, out, name, lambda call: _check_exec(call, table, handover))
    warned = []

    def traced(call):
        """A debugger or tracer takes a process (its tracer would stop at
        every trap of pyshim's): the process leaves the run, at once
        (PTRACE_TRACEME: its shim stops trapping) or with its next exec (a
        tracer's PTRACE_ATTACH or PTRACE_SEIZE)."""
        request = call.args[0] & 0xFFFFFFFF
        if request == _PTRACE_TRACEME:
            tracee = call.pid
        elif request in (_PTRACE_ATTACH, _PTRACE_SEIZE):
            tracee = call.int_arg(1)
            proc = table.processes.get(tracee)
            for thread in proc.threads.values() if proc else ():
                if thread.channel.index >= 0:
                    thread.channel.leave()
        else:
            return
        table.unsupervised(tracee)
        if not warned:  # once per run: gdb alone starts several
            warned.append(tracee)
            print(f"pyshim: warning: pid {tracee} is traced by a debugger or tracer and "
                  "leaves the run (as will any other traced process): its tracer would "
                  "stop at every trap of pyshim's", file=sys.stderr, flush=True)

    _in_front(before, out, "ptrace", traced)
    if os.geteuid() == 0:  # the run's processes may switch to other users
        for name, positions in _UID_CALLS.items():
            _in_front(before, out, name, partial(_grant, run, positions))
    return out


def _in_front(before: dict[int, Callable], out: dict[int, Callable], name: str,
              hook: Callable) -> None:
    """out[name's number]: hook(call) first, then the user's handler from
    `before`, whose answer is the call's (None: it runs natively)."""
    nr = syscalls.NUMBERS[name]
    handler = before.get(nr)

    def first(call):
        hook(call)
        return handler(call) if handler is not None else None

    out[nr] = first


def _grant(run: shm.Run, positions: tuple[int, ...], call) -> None:
    """A uid-switching call: the run's segments are opened to the new user
    first, so that the process's new images (and its children's new slabs)
    can still map their channels."""
    for i in positions:
        uid = call.args[i] & 0xFFFFFFFF
        if uid != 0xFFFFFFFF:  # -1: unchanged
            run.grant(uid)


def _check_exec(call, table: Table, handover: _Handover) -> None:
    """A process is about to exec: a static program goes to the run's
    tracer; any other image the shim cannot enter gets a one-line warning,
    and the run goes on with that process unsupervised."""
    if handover.has(call.pid):
        handover.take(call)  # a failed exec tried again: it stays the tracer's
        return
    proc = table.processes.get(call.pid)
    if proc is not None and not proc.image_supervised:
        return  # another tracer has it, and it leaves the run (said once already)
    target = paths.call_path(call, resolve=False)  # every exec asks: no lstat per component
    if target is None:
        return  # unreadable: the exec itself will fail
    try:
        program.check_supervisable(target)
    except (OSError, PyshimError) as exc:
        if isinstance(exc, StaticProgram):
            why = handover.take(call)
            if why is None:
                return
            exc = (f"{target} is statically linked, which pyshim supervises with ptrace, "
                   f"and the kernel refused to let it trace the process ({why})")
        elif not isinstance(exc, CannotSupervise):
            return  # no such file...: the exec itself will fail
        table.unsupervised(call.pid)
        print(f"pyshim: warning: pid {call.pid} runs unsupervised: {exc}",
              file=sys.stderr, flush=True)


class _Handover:
    """Hands the processes that exec a static program to the run's tracer
    (pyshim.ptrace.adopt), made at the first such exec."""

    def __init__(self, sup: Supervisor, run: shm.Run, table: Table, task_loop):
        self.sup = sup
        self.run = run
        self.table = table
        self.task_loop = task_loop
        self.dispatcher = None
        self.adopter = None
        self.execs: dict = {}  # pid -> its exec call, whose after-hooks run at the exec

    def has(self, pid: int) -> bool:
        return pid in self.execs

    def take(self, call) -> str | None:
        """Seizes call's process, which is about to exec a static program,
        and has its shim install the run's filter first; None, or why not."""
        thread = self.table.thread(call.pid, call.tid)
        if thread is None or thread.channel.index < 0:
            return "its thread is not in the run's table"
        if self.adopter is None:
            from pyshim.ptrace.adopt import Adopter

            self.adopter = Adopter(self.sup, self.run.control.map, self.task_loop,
                                   self._failed, self._ended, self._execd)
        why = self.adopter.adopt(call.pid)
        if why is None:
            self.table.hand_over(call.pid, self.adopter.table)
            self.execs[call.pid] = call
            thread.channel.leave(ptrace=True)
        return why

    def _execd(self, pid: int) -> None:
        """The exec succeeded (no shim will say so): its after-hooks see 0,
        before the new image runs, as the dispatcher's would."""
        call = self.execs.pop(pid, None)
        after = self.sup._after.get(call.nr) if call is not None else None
        if after is None:
            return
        call.result = 0
        try:
            after(call, 0)
        except BaseException as exc:  # the tracer stops, and the run with it
            self.adopter.loop._handler_raised(call, exc)

    def _failed(self, exc: BaseException) -> None:
        self.dispatcher.stop(exc)

    def _ended(self, pid: int, status: int) -> None:
        self.dispatcher.call_later(0, _nothing)  # the dispatcher looks at its table now

    def close(self, kill: bool) -> None:
        """Ends the tracer (once); raises what stopped it, if the run did
        not learn of it first."""
        adopter, self.adopter = self.adopter, None
        if adopter is not None:
            adopter.close(kill)


def _nothing() -> None:
    pass


# subprocess's special values (subprocess is not imported for them).
_PIPE, _STDOUT, _DEVNULL = -1, -2, -3


def _fd(stream, target: int) -> int | None:
    """The descriptor `stream` stands for, as subprocess takes it: None
    (inherited), a descriptor, an object with fileno(), DEVNULL, or STDOUT
    for stderr."""
    if stream is None or not isinstance(stream, int):
        return None if stream is None else stream.fileno()
    if stream == _DEVNULL:
        return -1  # /dev/null, opened by the spawn itself
    if stream == _STDOUT and target == 2:
        return 1
    if stream < 0:
        name = {_PIPE: "subprocess.PIPE", _STDOUT: "subprocess.STDOUT"}.get(stream, str(stream))
        raise ValueError(f"{name} cannot be given for {('stdin', 'stdout', 'stderr')[target]}: "
                         "run() returns the exit status; to keep the output, pass a file "
                         "(or use the pyshim_run fixture, which captures it)")
    return stream


_ENV_CHANNEL = os.fsencode(_core.ENV_CHANNEL)


def _environment(env: Mapping[str, str] | None) -> dict[bytes, bytes]:
    """The program's environment as bytes, ready for posix_spawn: `env`, or
    this process's own.  os.environ keeps its bytes in `_data`: copying that
    costs 0.1 us, where going through the mapping's str view costs 16 us a
    run (encoding and decoding every variable twice)."""
    if env is None:
        data = getattr(os.environ, "_data", None)
        if isinstance(data, dict):
            return dict(data)
        env = os.environ
    return {os.fsencode(k): os.fsencode(v) for k, v in env.items()}


def _spawn(path, argv, env, stdin, stdout, stderr) -> int:
    actions = []
    for stream, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        fd = _fd(stream, target)
        if fd == -1:
            actions.append((os.POSIX_SPAWN_OPEN, target, os.devnull,
                            os.O_RDONLY if target == 0 else os.O_WRONLY, 0))
        elif fd is not None:
            actions.append((os.POSIX_SPAWN_DUP2, fd, target))
    try:
        return os.posix_spawn(path, argv, env, file_actions=actions,
                              setsigdef=(signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT),
                              setsigmask=())
    except PermissionError as exc:
        raise CannotSupervise(f"{path}: {exc.strerror}") from None
    except OSError as exc:
        raise CannotSupervise(f"{path}: cannot execute: {exc.strerror}") from None


class _Forwarding:
    """Passes FORWARDED_SIGNALS sent to pyshim on to the program.  They are
    blocked from before the program exists until the handler that forwards
    them is installed, so none is lost or fatal in between."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.installed: list[int] = []
        self.mask: set | None = None

    def __enter__(self) -> "_Forwarding":
        if self.enabled:
            self.mask = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED_SIGNALS)
        return self

    def start(self, pid: int) -> None:
        if self.enabled:
            self.installed = _core.forward_signals(pid, FORWARDED_SIGNALS)
            signal.pthread_sigmask(signal.SIG_SETMASK, self.mask)

    def __exit__(self, *exc) -> None:
        _core.restore_signals(self.installed)
        if self.mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.mask)


def _serve(dispatcher, table: Table, run_id: str, handover: _Handover) -> int:
    """Serves the run; whatever happens, its processes are gone when this
    returns.  pyshim is the run's child subreaper, so orphans come back to it
    instead of outliving the run."""
    previous = _core.set_child_subreaper(True)
    try:
        status = dispatcher.serve()
        handover.close(kill=False)
        return status
    except BaseException:
        handover.close(kill=True)  # its tracer kills and reaps what it serves
        for proc in table.live():
            _kill_and_reap(proc.pid)
        table.poll()
        _kill_orphans(run_id)
        raise
    finally:
        _core.set_child_subreaper(previous)
        table.close()


def _kill_orphans(run_id: str) -> None:
    """Kills the run's processes the table never learned of (a fork whose
    result the stopped run did not see): orphaned, they came back to this
    process, and carry the run's channel in their environment."""
    needle = f"/pyshim-{run_id}-".encode()
    found = True
    while found:  # a killed orphan's own children come back in turn
        found = False
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/children") as f:
                    children = [int(p) for p in f.read().split()]
            except OSError:
                continue
            for pid in children:
                try:
                    with open(f"/proc/{pid}/environ", "rb") as f:
                        ours = needle in f.read()
                except OSError:
                    continue
                if ours:
                    _kill_and_reap(pid)
                    found = True


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass  # not our child: its parent reaps it
