"""The table of a ptrace run: pyshim.table's, with deaths as the tracer
learns of them.  A traced process must never be waited for by pid (a wait
would take its ptrace stops), so a process is dead once the tracer saw its
leader's exit, and its wait status is the one that exit reported."""
from __future__ import annotations

from pyshim.table import Process, Table


class _Door:
    """What stands for a thread's channel: ptrace threads have none."""

    __slots__ = ()
    desc = ("ptrace", 0, 0)
    index = -1


DOOR = _Door()


class PtraceTable(Table):
    def __init__(self, root: int):
        super().__init__(root)
        self._ended: set[Process] = set()  # processes whose end the tracer saw

    def ended(self, pid: int, status: int) -> None:
        """The tracer saw the leader of `pid` end with wait status `status`."""
        proc = self.processes.get(pid)
        if proc is not None and proc.alive:
            proc.status = status
            self._ended.add(proc)

    def _dead(self, proc: Process) -> bool:
        return proc in self._ended

    def rows(self) -> list[dict]:
        rows = super().rows()
        for row in rows:
            row["channel"] = "ptrace"
        return rows
