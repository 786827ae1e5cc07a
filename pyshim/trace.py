"""`pyshim trace`: one strace-style line per syscall, from after-hooks."""
from __future__ import annotations

import os
import signal
from typing import TextIO

from pyshim import decode
from pyshim.supervisor import Supervisor

# Calls whose arguments are gone once they succeed: rendered on entry.
_RENDER_ON_ENTRY = ("execve", "execveat")


class _Memory:
    """The decoder's view of a call's memory."""

    __slots__ = ("read", "string")

    def __init__(self, call):
        self.read = call.read
        self.string = call.cstring


class Tracer:
    """Writes a line per syscall of `names` to `out`."""

    def __init__(self, out: TextIO, names: list[str] | str = "all"):
        self.out = out
        self.flush_each = out.isatty()
        self.calls = 0
        self.supervisor = Supervisor()
        self.supervisor.on(*_RENDER_ON_ENTRY)(self._on_entry)
        self.supervisor.after(*([names] if isinstance(names, str) else names))(self._after)

    def _on_entry(self, call):
        call.entry = decode.format_call(call.nr, call.args, None, _Memory(call))
        return None

    def _after(self, call, result):
        entry = getattr(call, "entry", None)
        if entry is not None:
            head = entry.rsplit(" = ", 1)[0]
            line = f"{head} = {decode.errno_text(result)}"
        else:
            line = decode.format_call(call.nr, call.args, result, _Memory(call))
        # Like strace -f: once there is more than one thread, say whose line it is.
        if self.supervisor.table.thread_count > 1:
            line = f"[pid {call.tid}] {line}"
        self._write(line)
        return None

    def _write(self, line: str) -> None:
        self.calls += 1
        self.out.write(line + "\n")
        if self.flush_each:
            self.out.flush()

    def run(self, argv: list[str], **kwargs) -> int:
        code = self.supervisor.run(argv, **kwargs)
        if code < 0:
            self._write(f"+++ killed by {signal.Signals(-code).name} +++")
        else:
            self._write(f"+++ exited with {code} +++")
        self.out.flush()
        return code
