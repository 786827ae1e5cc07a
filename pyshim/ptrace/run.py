"""Supervisor's second way in: a statically linked program, which no dynamic
loader will preload the shim into, runs traced by ptrace under a seccomp
filter that stops the subscribed calls only (as `strace --seccomp-bpf`).

The run is served by a thread of its own, the tracer: every ptrace request
must come from one thread, and that thread's wait must see only the run's
processes (never a child another thread of the caller's started).  The
caller waits for it; a KeyboardInterrupt there stops the run.
"""
from __future__ import annotations

import os
import threading

from pyshim.errors import CannotSupervise, PyshimError
from pyshim.ptrace import _ptrace, filter as bpf
from pyshim.ptrace.loop import NR_RESTART_SYSCALL, OPTIONS, RESTARTABLE, Loop


def filter_program(sup) -> bytes:
    """The seccomp filter for a run of `sup`: its subscribed calls stop."""
    traced = set(sup.subscribed)
    if sup._after or RESTARTABLE & set(sup._before):
        # An interrupted call whose end is watched may go on as restart_syscall.
        traced.add(NR_RESTART_SYSCALL)
    return bpf.build(traced)


def supervise(sup, path: str, argv, env: dict, stdin, stdout, stderr, forward_signals: bool,
              task_loop, control) -> int:
    """Supervisor._supervise for a static program: runs it to completion
    and returns its exit code (-N if killed by signal N)."""
    from pyshim.supervisor import _fd, _Forwarding, exit_code

    fds = []
    for stream, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        fd = _fd(stream, target)
        fds.append(-2 if fd is None else fd)
    subscribed = sup.subscribed
    program = filter_program(sup)
    raw_argv = [os.fsencode(a) for a in argv]
    raw_env = [os.fsencode(k) + b"=" + os.fsencode(v) for k, v in env.items()]
    loop = Loop(sup._before, sup._after, subscribed, path, task_loop)
    loop.stops_on_signal = forward_signals
    control.check()

    def spawn():
        try:
            return _ptrace.spawn(os.fsencode(path), raw_argv, raw_env, tuple(fds), program,
                                 OPTIONS)
        except OSError as exc:
            if exc.filename == "PTRACE_SEIZE":
                raise CannotSupervise(
                    f"{path} is statically linked, which pyshim supervises with ptrace, and "
                    f"the kernel refused to let it trace the program ({exc.strerror}): ptrace "
                    "may be restricted here (kernel.yama.ptrace_scope, a seccomp policy or a "
                    "container)") from None
            raise PyshimError(f"{path}: cannot start it: {exc.strerror}") from None

    outcome: list = []

    with _Forwarding(forward_signals) as forwarding:
        def on_start(pid, table):
            forwarding.start(pid)
            sup._run = None
            sup._table = table
            with sup._lock:
                sup._dispatcher = loop
                timers, sup._timers = sup._timers, []
            for timer, fn in timers:
                loop.add_timer(timer, fn)
            control.attach(loop)

        def serve():
            try:
                outcome.append((True, loop.run(spawn, on_start)))
            except BaseException as exc:
                outcome.append((False, exc))
            finally:
                with sup._lock:
                    sup._dispatcher = None

        thread = threading.Thread(target=serve, name="pyshim-ptrace", daemon=True)
        thread.start()
        try:
            thread.join()
        except BaseException as exc:  # ^C or the like, in the caller's thread
            loop.stop(exc)
            thread.join()
            raise
    ok, value = outcome[0]
    if not ok:
        raise value
    return exit_code(value)
