"""Static programs that the processes of a dynamic run exec: the shim cannot
enter them, so the supervisor's tracer takes them over at that exec.

When a supervised process is about to exec a statically linked program,
the supervisor (pyshim.supervisor, in front of every exec) asks the
Adopter to seize the process's threads, then sets its channel's `leave`
to PYSHIM_LEAVE_PTRACE and lets the exec go: the shim installs the run's
seccomp filter (written into the control block here) and execs without
pyshim's variables.  From then on the process, its later images and its
children are served by a ptrace Loop in a thread of its own, as a static
program run directly is (pyshim.ptrace.run), with the same handlers.
"""
from __future__ import annotations

import threading

from pyshim import _core
from pyshim.ptrace.loop import Loop
from pyshim.ptrace.run import filter_program


class _Closed(BaseException):
    """The run ended abruptly: the tracer kills what it serves and stops."""


class Adopter:
    """The tracer of one dynamic run, made at its first static exec.
    Called from the tracer's thread: on_error(exc), a handler raised (the
    run stops); on_ended(pid, status), a process it serves ended;
    on_exec(pid), a process it seized exec'd (before the new image runs)."""

    def __init__(self, sup, control_map, task_loop, on_error, on_ended, on_exec):
        self.loop = Loop(sup._before, sup._after, sup.subscribed, "", task_loop)
        self.loop.on_ended = on_ended
        self.loop.on_exec = on_exec
        self._on_error = on_error
        self.error: BaseException | None = None  # what stopped the tracer, if anything
        _core.set_filter(control_map, filter_program(sup))
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,),
                                        name="pyshim-ptrace-adopt", daemon=True)
        self._thread.start()
        ready.wait()

    @property
    def table(self):
        """The tracer's table (pyshim.ptrace.table.PtraceTable)."""
        return self.loop.table

    def _serve(self, ready: threading.Event) -> None:
        try:
            self.loop.run_adopting(ready.set, self._failed)
        except BaseException:
            pass  # said by _failed, before the tracer killed what it served
        finally:
            ready.set()

    def _failed(self, exc: BaseException) -> None:
        if not isinstance(exc, _Closed):
            self.error = exc
            self._on_error(exc)

    def adopt(self, pid: int) -> str | None:
        """Seizes `pid`, which is about to exec a static program; None, or
        why the kernel would not let it."""
        if not self._thread.is_alive():
            return "the run's tracer has stopped"
        return self.loop.adopt(pid)

    def close(self, kill: bool = False) -> None:
        """Ends the tracer once what it serves is gone, or at once (kill:
        its processes are killed).  Raises what stopped the tracer, if the
        run ended before it could say so."""
        if kill:
            self.loop.stop(_Closed())
        else:
            self.loop.close()
        self._thread.join()
        if not kill and self.error is not None:
            raise self.error
