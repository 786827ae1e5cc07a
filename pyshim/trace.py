"""`pyshim trace`: one strace-style line per syscall, from after-hooks; with
`record`, a frame per call in a record (pyshim.records); with `progress`, a
live count of calls on stderr; with `settings`, strace's everyday options
(-f/-ff, -c/-C, -t/-r/-T, -q, -e status=, -s/-x/-y/-v through
pyshim.decode.Options), and strace's -e inject= through `rules`.

How lines read follows strace -f: ``[pid N] `` before a line once more than
one thread is alive (``N `` before every line with -f -o FILE, nothing with
-ff -o FILE, which writes FILE.N per thread), ``+++ exited with N +++`` for
every thread and process as it ends, the program's last.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from time import monotonic
from typing import TextIO

from pyshim import decode, records
from pyshim.errors import PyshimError
from pyshim.supervisor import Supervisor, _numbers, exit_code
from pyshim.syscalls import NUMBERS, name as syscall_name

# Calls whose arguments are gone once they succeed: rendered on entry.
_RENDER_ON_ENTRY = frozenset(NUMBERS[n] for n in ("execve", "execveat"))
# Calls the tracer follows even when they are not traced: who is alive.
_CLONES = frozenset(NUMBERS[n] for n in ("clone", "clone3", "fork", "vfork"))
_EXITS = frozenset(NUMBERS[n] for n in ("exit", "exit_group"))
_NR_EXIT = NUMBERS["exit"]
_NR_CLONE = NUMBERS["clone"]
_NR_CLONE3 = NUMBERS["clone3"]
# Calls whose descriptor argument is gone (or another file) once they ran:
# with -y, its path is read on entry.  name -> index of the argument.
_FD_GONE = {NUMBERS["close"]: 0, NUMBERS["dup2"]: 1, NUMBERS["dup3"]: 1}
_CLONE_THREAD = 0x10000
PROGRESS_DELAY_S = 0.5     # runs shorter than this show no count at all
PROGRESS_EVERY_S = 0.2     # then at most 5 updates a second
STATUSES = ("successful", "failed", "unfinished", "unavailable", "detached")
SORT_KEYS = ("time", "calls", "errors", "name", "nothing")


class Settings:
    """strace's options of a trace, defaults as strace's without them.

    decode: the decoding options (-s, -x, -y, -v: pyshim.decode.Options; with
    fds set, the tracer supplies fd_path); status: the statuses printed
    (-e status=, -z, -Z; None: all); pid_column: -f -o FILE (``PID   ``
    before every line); separate: with -ff -o FILE, FILE (lines go to
    FILE.TID); timestamps: -t count (1: time of day, 2: with microseconds,
    3: seconds since the epoch); relative: -r; durations: -T; summary: 1
    for -c (the table alone), 2 for -C (lines and the table); sort_by: -S;
    quiet: the messages left out ("exit": +++ exited lines, "superseded";
    pyshim has no attach messages: every thread is supervised from its start)."""

    __slots__ = ("decode", "status", "pid_column", "separate", "timestamps", "relative",
                 "durations", "summary", "sort_by", "quiet")

    def __init__(self, *, decode: decode.Options = decode.DEFAULT,
                 status: frozenset[str] | None = None, pid_column: bool = False,
                 separate: str | None = None, timestamps: int = 0, relative: bool = False,
                 durations: bool = False, summary: int = 0, sort_by: str = "time",
                 quiet: frozenset[str] = frozenset()):
        self.decode = decode
        self.status = status
        self.pid_column = pid_column
        self.separate = separate
        self.timestamps = timestamps
        self.relative = relative
        self.durations = durations
        self.summary = summary
        self.sort_by = sort_by
        self.quiet = quiet


DEFAULT_SETTINGS = Settings()


class _Memory:
    """The decoder's view of a call's memory."""

    __slots__ = ("read", "string")

    def __init__(self, call):
        self.read = call.read
        self.string = call.cstring


class _FdPaths:
    """-y's fd_path for the call being formatted: the path of a descriptor
    of its thread, from /proc (or as read on entry, for calls that close
    or replace it)."""

    __slots__ = ("tid", "saved")

    def __init__(self):
        self.tid = 0
        self.saved: dict[int, str | None] | None = None

    def __call__(self, fd: int) -> str | None:
        saved = self.saved
        if saved is not None and fd in saved:
            return saved[fd]
        return _readlink(self.tid, fd)


def _readlink(tid: int, fd: int) -> str | None:
    what = "cwd" if fd == decode.AT_FDCWD else f"fd/{fd}"
    try:
        return os.readlink(f"/proc/{tid}/{what}")
    except OSError:
        return None


class Tracer:
    """Writes a line per syscall of `names` to `out` (None: no lines), a frame
    per call to the record file `record` (None: no record), and, with
    `progress`, a live count of calls on stderr.  `settings` are strace's
    options (Settings); `rules` are fault rules (pyshim.faults, e.g. inject)
    installed on the traced calls among theirs: as strace's -e inject=, a
    rule acts only on calls that are traced."""

    def __init__(self, out: TextIO | None, names: list[str] | str = "all",
                 record: str | os.PathLike | None = None, progress: bool = False,
                 settings: Settings = DEFAULT_SETTINGS, rules=()):
        s = self.settings = settings
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
        self.selected = frozenset(_numbers(names))
        self.lines = (out is not None or s.separate is not None) and s.summary != 1
        # Who is alive, as strace counts its traced threads: tid -> pid.
        self._tasks: dict[int, int] = {}
        self._gone: set[int] = set()   # tids that ended before their clone returned
        self._deaths: list = []        # processes found dead, not yet looked at
        self._root: int | None = None
        self._files: dict[int, TextIO] = {}   # -ff: tid -> its FILE.TID
        self._last_stamp: float | None = None  # -r
        self._wall_second = (None, "")        # -t: the last second formatted
        self._counts: dict[int, list] | None = {} if s.summary else None
        opts = s.decode
        self._fd_paths = None
        if opts.fds:
            self._fd_paths = _FdPaths()
            opts = opts._replace(fd_path=self._fd_paths)
        self._opts = opts
        self._pid_column = s.pid_column
        self._separate = s.separate
        self._status = s.status
        self._stamped = bool(record is not None or s.timestamps or s.relative or s.durations
                             or s.summary)
        self._decorated = bool(s.timestamps or s.relative or s.durations)

        sup = self.supervisor = Supervisor()
        for rule in rules:
            if NUMBERS[rule.name] in self.selected:
                rule.install(sup)
        if record is not None:
            self._strings = decode.string_arguments()
        self._plain = not (self._stamped or progress or rules)
        self._entry_hooks(sup)
        hooks = dict.fromkeys(self.selected, self._after)
        if self.lines:
            # Followed even when not traced: who is alive, for prefixes and
            # +++ lines (these hooks report the call too when it is traced).
            hooks.update(dict.fromkeys(_CLONES, self._after_clone))
            hooks.update(dict.fromkeys(_EXITS, self._after_exit))
            hooks.update(dict.fromkeys(_RENDER_ON_ENTRY, self._after_exec))
            sup.call_later(0, self._started)
        by_hook: dict = {}
        for nr, hook in hooks.items():
            by_hook.setdefault(hook, []).append(nr)
        for hook, nrs in by_hook.items():  # after a rule's own after-hook, if any
            sup.after(*nrs)(hook)

    def _entry_hooks(self, sup) -> None:
        """Before-hooks on the traced calls that need one, each in front of
        the handler already there (a rule's)."""
        want = set()
        if self._stamped:
            want |= self.selected
        if self.lines:
            want |= self.selected & (_RENDER_ON_ENTRY | decode.CAPTURING)
            if self._fd_paths is not None:
                want |= self.selected & set(_FD_GONE)
        for nr in want:
            sup._before[nr] = self._entry_hook(nr, sup._before.get(nr))

    def _entry_hook(self, nr: int, previous):
        stamp = self._stamped
        wall = bool(self.settings.timestamps)
        strings = self._strings.get(nr) if self.record is not None else None
        render = self.lines and nr in _RENDER_ON_ENTRY
        # What strace prints as it was before the call (select's fd sets,
        # an address length before accept): copied now.
        capture = self.lines and nr in decode.CAPTURING
        fd_index = _FD_GONE.get(nr) if self._fd_paths is not None else None

        def entry(call):
            if stamp:
                call.t0 = monotonic()
                if wall:
                    call.wall = time.time()
            if strings is not None:
                call.strings = self._read_strings(call, strings)
            if fd_index is not None:
                fd = call.int_arg(fd_index)
                call.fds = {fd: _readlink(call.tid, fd)}
            if capture:
                call.before = decode.capture(call.nr, call.args, _Memory(call))
            if render:
                call.entry = self._format(call, None)
            return previous(call) if previous is not None else None
        return entry

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

    # -- who is alive ------------------------------------------------------

    def _started(self) -> None:
        """The run's first moment: its program is the one thread alive."""
        table = self.supervisor.table
        self._root = table.root
        self._tasks[table.root] = table.root
        poll = table.poll

        def watched():
            dead = poll()
            if dead:
                self._died(dead)
            return dead
        try:
            table.poll = watched
        except AttributeError:
            pass  # deaths by signal then only show at the end of the run

    def _arrive(self, tid: int, pid: int) -> None:
        # No "Process N attached" as strace's: pyshim attaches to nothing,
        # every thread is supervised from its start.
        self._tasks[tid] = pid
        self._gone.discard(tid)

    def _leave(self, tid: int, text: str | None) -> None:
        """`tid` ended: its +++ line (None: none), then it no longer counts.
        The program's own +++ line comes last, once the run is over, with
        its exit status as the run reports it."""
        if text is not None and tid != self._root:
            self._emit(tid, self._lead(tid, None) + text)
        self._tasks.pop(tid, None)
        self._gone.add(tid)
        if tid != self._root:
            f = self._files.pop(tid, None)
            if f is not None:
                f.close()

    def _exited_text(self, code: int) -> str | None:
        return None if "exit" in self.settings.quiet else f"+++ exited with {code} +++"

    def _after_clone(self, call, result):
        """A clone, fork or vfork returned in the parent.  As in strace, the
        child is attached before the call's line ends, and the line reads
        as it began: without counting the child."""
        tasks = self._tasks
        if call.tid not in tasks:
            self._arrive(call.tid, call.pid)
        child = result if result is not None and result > 0 else None
        new = child is not None and child not in tasks and child not in self._gone
        if new:
            self._arrive(child, call.pid if self._is_thread(call) else child)
        elif child is not None:
            self._gone.discard(child)  # it came (and perhaps went) before its clone returned
        if call.nr in self.selected:
            pid = tasks.pop(child, None) if child is not None else None
            self._after(call, result)
            if pid is not None:
                tasks[child] = pid
        return None

    @staticmethod
    def _is_thread(call) -> bool:
        if call.nr == _NR_CLONE:
            return bool(call.args[0] & _CLONE_THREAD)
        if call.nr == _NR_CLONE3:
            try:
                return bool(int.from_bytes(call.read(call.args[0], 8), "little") & _CLONE_THREAD)
            except OSError:
                return False
        return False

    def _after_exit(self, call, result):
        if call.nr in self.selected:
            self._after(call, result)
        tid, pid = call.tid, call.pid
        if tid not in self._tasks:
            self._arrive(tid, pid)
        if result is not None:
            return None  # it returned (an injected error): nothing ended
        code = call.args[0] & 0xFF
        text = self._exited_text(code)
        if call.nr == _NR_EXIT:
            rest = [t for t, p in self._tasks.items() if p == pid and t not in (tid, pid)]
            if tid == pid and rest:
                return None  # the leader waits for its process, as the kernel's does
            self._leave(tid, text)
            if tid != pid and not rest and pid in self._tasks:
                self._leave(pid, text)  # the leader left first: its process ends now
            return None
        for other in [t for t, p in self._tasks.items() if p == pid and t != pid]:
            self._leave(other, text)
        self._leave(pid, text)
        return None

    def _after_exec(self, call, result):
        tid, pid = call.tid, call.pid
        if tid not in self._tasks:
            self._arrive(tid, pid)
        if result == 0:
            # The exec ended the process's other threads; one that was not
            # the leader goes on under the leader's pid (strace's "superseded").
            for other in [t for t, p in self._tasks.items() if p == pid and t != tid]:
                self._tasks.pop(other, None)
                self._gone.add(other)
            if tid != pid:
                if "superseded" not in self.settings.quiet:
                    self._emit(pid, self._lead(pid, None)
                               + f"+++ superseded by execve in pid {tid} +++")
                self._tasks.pop(tid, None)
                self._tasks[pid] = pid
                f = self._files.pop(tid, None)
                if f is not None:
                    f.close()
        if call.nr in self.selected:
            self._after(call, result)
        return None

    def _died(self, dead) -> None:
        """The supervisor found processes dead.  Their last exit calls may
        still wait to be handled (the dispatcher does that right after):
        they are looked at once it has, at its next turn or at the end."""
        if not self._deaths:
            self.supervisor.call_later(0, self._settle)
        self._deaths.extend(dead)

    def _settle(self) -> None:
        """Dead processes whose end no exit call told get their +++ line
        when their status is known (the supervisor's children)."""
        dead, self._deaths = self._deaths, []
        for proc in dead:
            tids = [t for t, p in self._tasks.items() if p == proc.pid]
            if not tids:
                continue
            text = None
            if proc.status is not None:
                code = exit_code(proc.status)
                text = self._killed_text(code) if code < 0 else self._exited_text(code)
            for tid in tids:
                self._leave(tid, text if tid == proc.pid else None)

    def _killed_text(self, code: int) -> str:
        return f"+++ killed by {signal.Signals(-code).name} +++"

    # -- lines ---------------------------------------------------------------

    def _format(self, call, result) -> str:
        paths = self._fd_paths
        if paths is not None:
            paths.tid = call.tid
            paths.saved = call.__dict__.get("fds")
        return decode.format_call(call.nr, call.args, result, _Memory(call), self._opts,
                                  call.__dict__.get("before"))

    def _lead(self, tid: int, stamp) -> str:
        """What goes before a line of `tid`: the pid, the time (`stamp` is the
        call's (monotonic, wall) entry; None: now)."""
        if self._pid_column:
            lead = f"{tid:<5d} "
        elif self._separate is None and len(self._tasks) > 1:
            lead = f"[pid {tid:5d}] "
        else:
            lead = ""
        s = self.settings
        if s.timestamps or s.relative:
            t0, wall = stamp if stamp is not None else (monotonic(), time.time())
            if s.timestamps:
                lead += self._wall(wall)
            if s.relative:
                last = self._last_stamp
                self._last_stamp = t0
                delta = 0.0 if last is None else max(0.0, t0 - last)
                sec, usec = divmod(int(delta * 1e6), 1_000_000)
                lead += f"(+{sec:6d}.{usec:06d}) " if s.timestamps else f"{sec:6d}.{usec:06d} "
        return lead

    def _wall(self, wall: float) -> str:
        sec = int(wall)
        usec = int((wall - sec) * 1e6)
        if self.settings.timestamps >= 3:
            return f"{sec}.{usec:06d} "
        last, text = self._wall_second
        if last != sec:
            text = time.strftime("%H:%M:%S", time.localtime(sec))
            self._wall_second = (sec, text)
        return f"{text}.{usec:06d} " if self.settings.timestamps == 2 else f"{text} "

    def _after(self, call, result):
        """The after-hook of every traced call."""
        tid = call.tid
        tasks = self._tasks
        if tid not in tasks and self.lines:
            self._arrive(tid, call.pid)
        if self._plain:  # (no timestamps: only the pid goes before the line)
            if self._status is None or _status(result) in self._status:
                line = self._line(call, result)
                if self._pid_column:
                    line = f"{tid:<5d} {line}"
                elif len(tasks) > 1 and self._separate is None:
                    line = f"[pid {tid:5d}] {line}"
                self._emit(tid, line)
            return None
        now = monotonic()
        d = call.__dict__
        t0 = d.get("t0", now)
        counts = self._counts
        if counts is not None and result is not None:
            entry = counts.get(call.nr)
            if entry is None:
                entry = counts[call.nr] = [0, 0, 0.0]
            entry[0] += 1
            if -4096 < result < 0:
                entry[1] += 1
            entry[2] += now - t0
        if self.lines and (self._status is None or _status(result) in self._status):
            line = self._line(call, result)
            if d.get("injected"):
                line += " (INJECTED)"
            if d.get("delayed"):
                line += " (DELAYED)"
            if self.settings.durations and result is not None:
                sec, usec = divmod(int((now - t0) * 1e6), 1_000_000)
                line += f" <{sec}.{usec:06d}>"
            stamp = (t0, d.get("wall", 0.0)) if self._decorated else None
            self._emit(tid, self._lead(tid, stamp) + line)
        writer = self.writer
        if writer is not None:
            writer.write({
                "t": t0 - writer.clock, "pid": call.pid, "tid": tid, "nr": call.nr,
                "name": syscall_name(call.nr), "args": list(call.args),
                "strings": d.get("strings") or {}, "result": result, "duration": now - t0})
        self.traced += 1
        if self.progress and now >= self._next_show:
            self._show(now)
        return None

    def _line(self, call, result) -> str:
        entry = call.__dict__.get("entry")
        if entry is not None:
            head = entry.rsplit(" = ", 1)[0]
            return f"{head} = {decode.errno_text(result)}"
        return self._format(call, result)

    # -- output --

    def _emit(self, tid: int, line: str) -> None:
        self.calls += 1
        out = self.out
        if self._separate is not None:
            out = self._files.get(tid)
            if out is None:
                out = self._files[tid] = open(f"{self._separate}.{tid}", "w",
                                              encoding="utf-8", errors="replace")
        elif out is None:
            return
        out.write(line + "\n")
        if self.flush_each:
            out.flush()

    def _show(self, now: float) -> None:
        self._next_show = now + PROGRESS_EVERY_S
        self._shown = True
        sys.stderr.write(f"\r pyshim: {self._progress_count()} calls")
        sys.stderr.flush()

    def _progress_count(self) -> int:
        # With text lines, the count is of lines (a run's +++ lines too).
        return self.calls if self.lines and self.out is not None else self.traced

    def _end_progress(self) -> None:
        """Leaves the final count on its own line, if a count was shown."""
        if self._shown:
            self._shown = False
            try:
                sys.stderr.write(f"\r pyshim: {self._progress_count()} calls\n")
                sys.stderr.flush()
            except OSError:
                pass

    def run(self, argv: list[str], **kwargs) -> int:
        self._next_show = monotonic() + PROGRESS_DELAY_S
        if self.record is not None:
            self.writer = records.RecordWriter(self.record, argv)
        try:
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
            if self.lines:
                self._settle()
                root = self._root if self._root is not None else self.supervisor.table.root
                self._tasks = {root: root}  # the last one: the run is over
                text = self._killed_text(code) if code < 0 else self._exited_text(code)
                if text is not None:
                    self._emit(root, self._lead(root, None) + text)
            if self._counts is not None and self.out is not None:
                self.out.write(summary_table(self._counts, self.settings.sort_by))
            if self.out is not None:
                self.out.flush()
        finally:
            for f in self._files.values():
                f.close()
            self._files.clear()
        return code


def _status(result) -> str:
    if result is None:
        return "unfinished"
    return "failed" if -4096 < result < 0 else "successful"


def summary_table(counts: dict[int, list], sort_by: str = "time") -> str:
    """strace -c's table of `counts` (nr -> [calls, errors, seconds]), sorted
    as strace's -S SORT_BY sorts it (time: the most first; ties in syscall
    number order)."""
    if not counts:
        return ""
    rows = []
    for nr, (calls, errors, seconds) in counts.items():
        ns = round(seconds * 1e9)
        avg_ns = (ns + calls // 2) // calls  # strace's ts_div rounds
        rows.append((nr, syscall_name(nr), calls, errors, ns, avg_ns))
    total_ns = sum(r[4] for r in rows)
    calls_cum = sum(r[2] for r in rows)
    errors_cum = sum(r[3] for r in rows)
    total = total_ns / 1e9
    key = {"time": lambda r: (-r[4], r[0]), "calls": lambda r: (-r[2], r[0]),
           "errors": lambda r: (-r[3], r[0]), "name": lambda r: (r[1], r[0]),
           "nothing": lambda r: r[0]}[sort_by]
    rows.sort(key=key)

    def usecs(ns: int) -> int:
        return int(ns / 1e9 * 1e6)

    w_seconds = max(11, len(f"{total:.6f}"))
    w_avg = max(11, len(str(max(usecs(r[5]) for r in rows))))
    w_calls = max(9, len(str(calls_cum)))
    w_errors = max(9, len(str(errors_cum)))
    w_name = max(16, max(len(r[1]) for r in rows) + 1)
    widths = (6, w_seconds, w_avg, w_calls, w_errors, w_name)

    def errs(n: int, width: int) -> str:
        return f"{n:{width}d}" if n else " " * width  # strace's %.0u: blank for 0

    dashes = " ".join("-" * w for w in widths)
    lines = [f"{'% time':>6} {'seconds':>{w_seconds}} {'usecs/call':>{w_avg}} "
             f"{'calls':>{w_calls}} {'errors':>{w_errors}} syscall", dashes]
    for nr, name, calls, errors, ns, avg_ns in rows:
        percent = 100.0 * ns / total_ns if ns else 0.0
        lines.append(f"{percent:6.2f} {ns / 1e9:{w_seconds}.6f} {usecs(avg_ns):{w_avg}d} "
                     f"{calls:{w_calls}d} {errs(errors, w_errors)} {name}")
    lines.append(dashes)
    lines.append(f"{100.0:6.2f} {total:{w_seconds}.6f} {int(total / calls_cum * 1e6):{w_avg}d} "
                 f"{calls_cum:{w_calls}d} {errs(errors_cum, w_errors)} total")
    return "\n".join(lines) + "\n"
