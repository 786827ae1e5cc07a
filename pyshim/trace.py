"""`pyshim trace`: one strace-style line per syscall, from after-hooks; with
`record`, a frame per call in a record (pyshim.records); with `progress`, a
live count of calls on stderr."""
from __future__ import annotations

import os
import signal
import sys
from time import monotonic
from typing import TextIO

from pyshim import decode, records
from pyshim.errors import PyshimError
from pyshim.supervisor import Supervisor
from pyshim.syscalls import name as syscall_name

# Calls whose arguments are gone once they succeed: rendered on entry.
_RENDER_ON_ENTRY = ("execve", "execveat")
PROGRESS_DELAY_S = 0.5     # runs shorter than this show no count at all
PROGRESS_EVERY_S = 0.2     # then at most 5 updates a second


class _Memory:
    """The decoder's view of a call's memory."""

    __slots__ = ("read", "string")

    def __init__(self, call):
        self.read = call.read
        self.string = call.cstring


class Tracer:
    """Writes a line per syscall of `names` to `out` (None: no lines), a frame
    per call to the record file `record` (None: no record), and, with
    `progress`, a live count of calls on stderr."""

    def __init__(self, out: TextIO | None, names: list[str] | str = "all",
                 record: str | os.PathLike | None = None, progress: bool = False):
        self.out = out
        self.flush_each = out is not None and out.isatty()
        self.calls = 0        # lines written
        self.traced = 0       # calls seen by the after-hook
        self.record = record
        self.progress = progress
        self.writer: records.RecordWriter | None = None
        self._strings: dict[int, tuple[int, ...]] = {}
        self._next_show = 0.0
        self._shown = False
        names = [names] if isinstance(names, str) else list(names)
        self.supervisor = Supervisor()
        if record is not None:
            self._strings = decode.string_arguments()
            self.supervisor.on(*names)(self._stamp)
        self.supervisor.on(*_RENDER_ON_ENTRY)(self._on_entry)
        plain = record is None and not progress
        self.supervisor.after(*names)(self._after if plain else self._after_full)

    # -- hooks --

    def _stamp(self, call):
        """Before-hook when recording: the entry time and string arguments."""
        call.entry_time = monotonic()
        where = self._strings.get(call.nr)
        if where is not None:
            call.strings = self._read_strings(call, where)
        return None

    def _on_entry(self, call):
        if self.record is not None:
            self._stamp(call)
        if self.out is not None:
            call.entry = decode.format_call(call.nr, call.args, None, _Memory(call))
        return None

    @staticmethod
    def _read_strings(call, where) -> dict[str, str]:
        args = call.args
        out = {}
        for i in where:
            if args[i]:
                try:
                    data = call.cstring(args[i], decode.PATH_MAX)
                except OSError:
                    continue
                out[str(i)] = data.decode("utf-8", "backslashreplace")
        return out

    def _line(self, call, result) -> str:
        entry = getattr(call, "entry", None)
        if entry is not None:
            head = entry.rsplit(" = ", 1)[0]
            line = f"{head} = {decode.errno_text(result)}"
        else:
            line = decode.format_call(call.nr, call.args, result, _Memory(call))
        # Like strace -f: once there is more than one thread, say whose line it is.
        if self.supervisor.table.thread_count > 1:
            line = f"[pid {call.tid}] {line}"
        return line

    def _after(self, call, result):
        """The after-hook for text lines alone."""
        self._write(self._line(call, result))
        return None

    def _after_full(self, call, result):
        """The after-hook with a record and/or a progress count."""
        now = monotonic()
        if self.out is not None:
            self._write(self._line(call, result))
        writer = self.writer
        if writer is not None:
            entry = call.__dict__.get("entry_time", now)
            writer.write({
                "t": entry - writer.clock, "pid": call.pid, "tid": call.tid, "nr": call.nr,
                "name": syscall_name(call.nr), "args": list(call.args),
                "strings": call.__dict__.get("strings") or {},
                "result": result, "duration": now - entry})
        self.traced += 1
        if self.progress and now >= self._next_show:
            self._show(now)
        return None

    # -- output --

    def _write(self, line: str) -> None:
        self.calls += 1
        self.out.write(line + "\n")
        if self.flush_each:
            self.out.flush()

    def _show(self, now: float) -> None:
        self._next_show = now + PROGRESS_EVERY_S
        self._shown = True
        sys.stderr.write(f"\r pyshim: {self.traced} calls")
        sys.stderr.flush()

    def _end_progress(self) -> None:
        """Leaves the final count on its own line, if a count was shown."""
        if self._shown:
            self._shown = False
            try:
                sys.stderr.write(f"\r pyshim: {self.traced} calls\n")
                sys.stderr.flush()
            except OSError:
                pass

    def run(self, argv: list[str], **kwargs) -> int:
        self._next_show = monotonic() + PROGRESS_DELAY_S
        if self.record is not None:
            self.writer = records.RecordWriter(self.record, argv)
        try:
            code = self.supervisor.run(argv, **kwargs)
        except PyshimError:
            # The program never ran (not found, cannot be supervised): no record.
            if self.writer is not None and self.writer.frames == 0:
                self.writer.close()
                os.unlink(self.writer.path)
            raise
        finally:
            if self.writer is not None:
                self.writer.close()
            self._end_progress()
        if self.out is not None:
            if code < 0:
                self._write(f"+++ killed by {signal.Signals(-code).name} +++")
            else:
                self._write(f"+++ exited with {code} +++")
            self.out.flush()
        return code
