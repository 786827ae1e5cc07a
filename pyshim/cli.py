"""The `pyshim` command: run, trace, gc."""
from __future__ import annotations

import errno
import os
import sys

import pyshim
from pyshim import _core, shm
from pyshim.errors import PyshimError, UsageError
from pyshim.replies import NATIVE, Fail
from pyshim.supervisor import Supervisor

TYPE_CHECKING = False  # typing's, without importing typing
if TYPE_CHECKING:
    import argparse  # annotations only: imported where a parser is built

EPILOG_RUN = """\
examples:
  pyshim run -- make -j2                  run under the shim, nothing trapped
  pyshim run --trap openat,connect -- curl example.com
  pyshim run -e trace=%network -- curl example.com     strace's syscall sets
  pyshim run -e inject=openat:error=ENOENT:when=3+ -- make   strace's fault injection
  pyshim run --handlers deny.py -- cat /etc/shadow

A handlers file is Python run with `sup` (the Supervisor), `Fail`, `NATIVE`
and `errno` defined, e.g.:
  @sup.on("openat")
  def deny(call):
      if call.string(call.args[1]).startswith("/etc/shadow"):
          return Fail(errno.EACCES)

chaos, for stress tests (pyshim run --chaos 7 -- ./server-test):
  Each subscribed call (every call, when nothing is subscribed) is held, with
  probability --chaos-rate, for a time drawn up to --chaos-max-ms, from a
  generator seeded by SEED ("random" picks one); the seed is printed at the
  end.  Only the calling thread waits, so races that native runs hide (a
  thread that "waits long enough" for another) come out.  Guaranteed: the
  n-th call of the k-th thread to start draws the same delay for the same
  seed, rate and maximum.  Not guaranteed: the same interleaving on a rerun
  (the kernel's scheduling is not replayed); calls nobody subscribed, exit
  and exit_group are never delayed.

The exit status is the program's (128+N if it was killed by signal N);
pyshim's own failures exit 125, 126 (cannot supervise) or 127 (not found).
"""

EPILOG_TRACE = """\
examples:
  pyshim trace -- ls /tmp
  pyshim trace -e openat,read,write -o trace.txt -- python3 -c 'print(1)'
  pyshim trace -f -tt -T -e trace=%file,%process -- make -j2
  pyshim trace -c -- git status                  strace -c's table of calls
  pyshim trace -e inject=connect:error=ECONNREFUSED:when=2+ -- curl example.com
  pyshim trace --record make.rec -- make -j2     then: pyshim inspect make.rec

Lines look like strace's: openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3,
and strace -f's with several processes ([pid N] once more than one thread lives).
They go to stderr, or to FILE with -o; with --record alone only the record is
written. On a terminal, long traces show a live count of calls.
The flags mean what strace's do, with these differences: children are always
followed (-f only changes -o's pid column); -c/-C times are wall-clock (strace's
-w); -e inject= counts the calls pyshim sees, and delay_exit on a call that
runs natively holds the supervisor; -p cannot work (pyshim reaches programs
through LD_PRELOAD, when it starts them). Signals are not printed.
The dynamic loader's own calls before the shim is loaded are not seen.
A statically linked program is traced through ptrace and a seccomp filter
instead (every call seen; an interrupted call is printed once, as it ended).
"""

EPILOG_INSPECT = """\
examples:
  pyshim inspect                     list live runs: processes, threads, channel states
  pyshim inspect make.rec            summarize a record: calls and errors per syscall,
                                     the process tree, the slowest calls
  pyshim inspect --json make.rec     the same as JSON
  pyshim inspect --block /pyshim-3f2a9c0e1b7d4a55-1:512:512
                                     decode one block (a channel) of a live run

Inspection only reads shared memory: it never disturbs a run.
"""

EPILOG_GC = """\
example:
  pyshim gc          remove /dev/shm/pyshim-* segments of runs whose supervisor is gone

With PYSHIM_RUN_TAG set, only runs whose id starts with that tag are looked at.
"""


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    cmd = list(args.command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        parser.error("no program given (pyshim run -- PROGRAM [ARGS...])")
    return cmd


def _program_env() -> dict[str, str]:
    """The environment pyshim was started with, for its program.  Python
    adds LC_CTYPE to its own when it coerces a C locale (PEP 538); the
    program must not get it (it would open other locale files than
    natively).  The kernel's copy of the starting environment says."""
    env = dict(os.environ)
    if "LC_CTYPE" in env:
        try:
            with open("/proc/self/environ", "rb") as f:
                started = f.read().split(b"\0")
        except OSError:
            return env
        if not any(entry.startswith(b"LC_CTYPE=") for entry in started):
            del env["LC_CTYPE"]
    return env


def _shell_status(code: int) -> int:
    return 128 - code if code < 0 else code


def _run(sup: Supervisor, argv: list[str]) -> int:
    """Runs argv under `sup` as `pyshim run` does: the environment pyshim
    was started with, signals sent to pyshim passed on, a shell's status."""
    return _shell_status(sup.run(argv, env=_program_env(), forward_signals=True))


_user_code = False  # a handlers file ran in this process


def _load_handlers(sup: Supervisor, path: str) -> None:
    with open(path, encoding="utf-8") as f:
        source = f.read()
    namespace = {"sup": sup, "Fail": Fail, "NATIVE": NATIVE, "errno": errno,
                 "__file__": path, "__name__": "__pyshim_handlers__"}
    global _user_code
    _user_code = True  # the command ends the ordinary way (leave)
    exec(compile(source, path, "exec"), namespace)


def _chaos_seed(text: str) -> int:
    import argparse

    from pyshim.chaos import new_seed

    if text == "random":
        return new_seed()
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a seed is a number >= 0 or 'random', not {text!r}")
    if seed < 0:
        raise argparse.ArgumentTypeError(f"a seed is a number >= 0 or 'random', not {text!r}")
    return seed


def _no_attach(args) -> int:
    """-p PID: what pyshim cannot do, said in one line."""
    print(f"pyshim: -p {args.attach[0]}: cannot attach to a running process: pyshim "
          f"supervises the programs it starts, through LD_PRELOAD (pyshim {args.cmd} -- PROGRAM)",
          file=sys.stderr)
    return 126


def cmd_run(args, parser) -> int:
    if args.attach:
        return _no_attach(args)
    trap = _names(args.trap) if args.trap else ()
    sel = None
    if args.exprs:
        from pyshim.strace_expr import selection

        sel = selection(args.exprs, "run")
    sup = Supervisor(trap=trap)
    if args.handlers:
        _load_handlers(sup, args.handlers)
    if sel is not None:
        if sel.trace is not None:
            sup.trap(sel.trace)
        for rule in sel.rules():
            rule.install(sup)
    argv = _command(args, parser)
    chaos = None
    if args.chaos is None and (args.chaos_rate is not None or args.chaos_max_ms is not None):
        parser.error("--chaos-rate and --chaos-max-ms go with --chaos SEED")
    if args.chaos is not None:
        from pyshim.chaos import DEFAULT_MAX_DELAY, DEFAULT_RATE, Chaos

        chaos = Chaos(args.chaos,
                      rate=DEFAULT_RATE if args.chaos_rate is None else args.chaos_rate,
                      max_delay=DEFAULT_MAX_DELAY if args.chaos_max_ms is None
                      else args.chaos_max_ms / 1000).install(sup)
    try:
        return _run(sup, argv)
    finally:
        if chaos is not None:
            print(f"pyshim: {chaos.summary()}", file=sys.stderr)


def _strlen(text: str) -> int:
    if not text.isdigit() or int(text) > 0xFFFFFFFF // 4:
        raise UsageError(f"invalid -s argument: '{text}'")
    return int(text)


def _warn(text: str) -> None:
    print(f"pyshim: {text}", file=sys.stderr)


def cmd_trace(args, parser) -> int:
    if args.attach:
        return _no_attach(args)
    from pyshim import decode
    from pyshim.trace import SORT_KEYS, Settings, Tracer  # the decoder loads only when tracing

    from pyshim.strace_expr import selection

    sel = selection(args.exprs, "trace")
    if args.summary_only and args.summary:
        raise UsageError("-c and -C are mutually exclusive")
    summary = 1 if args.summary_only else 2 if args.summary else 0
    if summary and args.follow >= 2:
        raise UsageError("(-c or -C) and -ff are mutually exclusive")
    if args.sort_by is not None and args.sort_by not in SORT_KEYS:
        raise UsageError(f"invalid sortby: '{args.sort_by}'")
    if args.sort_by is not None and not summary:
        _warn("-S has no effect without (-c or -C)")
    if summary == 1:
        for flag, given in (("-r", args.relative), ("-t", args.timestamps),
                            ("-T", args.durations), ("-y", args.fds)):
            if given:
                _warn(f"{flag} has no effect with -c")
    if args.quiet and sel.quiet is not None:
        raise UsageError("-q and -e quiet cannot be provided simultaneously")
    if args.output is not None and args.output[:1] in ("|", "!"):
        raise UsageError(f"-o {args.output}: piping the output is not supported "
                         "(pyshim trace ... 2>&1 | COMMAND is)")
    quiet = sel.quiet
    if quiet is None:
        level = args.quiet or (1 if args.output is not None else 0)
        quiet = (set(), {"attach"}, {"attach", "exit"},
                 {"attach", "exit", "superseded"})[min(level, 3)]
    fds = args.fds if sel.fds is None else sel.fds
    options = decode.Options(strlen=decode.MAX_STRLEN if args.strlen is None
                             else _strlen(args.strlen),
                             xflag=min(args.hex, 2), fds=min(fds, 2), verbose=args.verbose)
    separate = args.output if args.output is not None and args.follow >= 2 else None
    settings = Settings(decode=options,
                        status=None if sel.status is None else frozenset(sel.status),
                        pid_column=args.output is not None and args.follow == 1,
                        separate=separate, timestamps=min(args.timestamps, 3),
                        relative=args.relative, durations=args.durations, summary=summary,
                        sort_by=args.sort_by or "time", quiet=frozenset(quiet))
    names = sorted(sel.trace) if sel.trace is not None else "all"
    rules = sel.rules()
    argv = _command(args, parser)
    if args.output is not None and separate is None:
        out = open(args.output, "w", encoding="utf-8", errors="replace")
    else:
        out = None if (args.record or separate) and not summary else sys.stderr
    try:
        tracer = Tracer(out, names, record=args.record,
                        progress=sys.stderr.isatty() and out is not sys.stderr,
                        settings=settings, rules=rules)
        return _shell_status(tracer.run(argv, env=_program_env(), forward_signals=True))
    finally:
        if out is not None and out is not sys.stderr:
            out.close()


def cmd_inspect(args, parser) -> int:
    import json

    from pyshim import inspection, records

    if args.block and args.record:
        parser.error("give a record FILE or --block, not both")
    if args.block:
        data = inspection.decode_block(args.block)
        text = inspection.format_block
    elif args.record:
        data = records.summarize(args.record)
        text = records.format_summary
    else:
        data = inspection.live_runs()
        text = inspection.format_runs
    print(json.dumps(data, indent=2) if args.json else text(data))
    return 0


def cmd_gc(args, parser) -> int:
    removed = shm.gc()
    for run in removed:
        print(f"removed run {run.run_id} ({run.reason}): {len(run.segments)} segment(s)")
    if not removed:
        print("nothing to remove")
    return 0


def _expr(text: str) -> tuple[str, str]:
    return ("e", text)


def _trace_set(text: str) -> tuple[str, str]:
    return ("trace", text)


def _selection_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """-e EXPR and -p PID, shared by run and trace."""
    what = ("trace=SET (what is trapped), inject=SET:..." if command == "run" else
            "trace=SET, status=SET, inject=SET:..., quiet=SET")
    p.add_argument("-e", dest="exprs", action="append", type=_expr, metavar="EXPR",
                   help=f"strace's -e: {what}; NAME,... alone is trace=NAME,... "
                        "(SET: names, %%classes, !negation, all, none)")
    p.add_argument("-p", dest="attach", action="append", metavar="PID",
                   help="not possible: pyshim supervises only programs it starts")


def _run_arguments(p: argparse.ArgumentParser) -> None:
    import argparse

    p.add_argument("--trap", metavar="NAME,...|all",
                   help="syscalls sent to the supervisor (run natively unless a handler answers)")
    _selection_arguments(p, "run")
    p.add_argument("--handlers", metavar="FILE", help="Python file that registers handlers on `sup`")
    p.add_argument("--chaos", metavar="SEED", type=_chaos_seed,
                   help="hold calls for pseudo-random times drawn from SEED (see below)")
    p.add_argument("--chaos-rate", metavar="R", type=float,
                   help="with --chaos: share of calls held (default 0.1)")
    p.add_argument("--chaos-max-ms", metavar="MS", type=float,
                   help="with --chaos: longest hold in milliseconds (default 5)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- PROGRAM [ARGS...]")


def _trace_arguments(p: argparse.ArgumentParser) -> None:
    import argparse

    p.add_argument("-o", "--output", metavar="FILE", help="write the trace to FILE (default: stderr)")
    _selection_arguments(p, "trace")
    p.add_argument("--trace", dest="exprs", action="append", type=_trace_set, metavar="SET",
                   help="the same as -e trace=SET")
    p.add_argument("-f", dest="follow", action="count", default=0,
                   help="children are always followed; with -o, each line starts with its "
                        "pid; -ff -o FILE: one FILE.PID per process (thread)")
    p.add_argument("-c", dest="summary_only", action="store_true",
                   help="count time, calls and errors per syscall; print the table at the end")
    p.add_argument("-C", dest="summary", action="store_true",
                   help="like -c, and print the lines too")
    p.add_argument("-S", dest="sort_by", metavar="SORTBY",
                   help="sort -c's table by time (default), calls, errors, name or nothing")
    p.add_argument("-w", dest="wall", action="store_true",
                   help="-c's times are wall-clock (always, in pyshim)")
    p.add_argument("-s", dest="strlen", metavar="N", help="print at most N bytes of strings (32)")
    p.add_argument("-x", dest="hex", action="count", default=0,
                   help="non-ASCII strings in hex; -xx: all strings in hex")
    p.add_argument("-y", dest="fds", action="count", default=0,
                   help="paths of descriptors; -yy: socket and device details too")
    p.add_argument("-v", dest="verbose", action="store_true", help="structures in full")
    p.add_argument("-t", dest="timestamps", action="count", default=0,
                   help="time of day before each line; -tt: with microseconds; "
                        "-ttt: seconds since the epoch")
    p.add_argument("-r", dest="relative", action="store_true",
                   help="time since the previous line, before each line")
    p.add_argument("-T", dest="durations", action="store_true",
                   help="time spent in each call, after it: <0.000123>")
    p.add_argument("-q", dest="quiet", action="count", default=0,
                   help="-qq: no +++ exited lines (-q: nothing to hide, pyshim prints no "
                        "attach messages)")
    p.add_argument("-z", dest="exprs", action="append_const", const=("z", ""),
                   help="only calls that succeeded (-e status=successful)")
    p.add_argument("-Z", dest="exprs", action="append_const", const=("Z", ""),
                   help="only calls that failed (-e status=failed)")
    p.add_argument("--record", metavar="FILE",
                   help="write every call to FILE as a msgpack record (read it with pyshim inspect)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- PROGRAM [ARGS...]")


def _inspect_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("record", nargs="?", metavar="FILE", help="a record written by pyshim trace --record")
    p.add_argument("--block", metavar="DESCRIPTOR", help="decode the block segment:offset:size")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


# name: (help, epilog, what adds its arguments, what runs it)
COMMANDS = {
    "run": ("run a program under the supervisor", EPILOG_RUN, _run_arguments, cmd_run),
    "trace": ("print each syscall as strace does", EPILOG_TRACE, _trace_arguments, cmd_trace),
    "inspect": ("look at live runs, a block, or a record", EPILOG_INSPECT, _inspect_arguments,
                cmd_inspect),
    "gc": ("remove shared memory left by dead runs", EPILOG_GC, None, cmd_gc),
}


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size gives it."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with `only`, the other commands get no arguments
    (argparse's add_argument is slow, and start-up counts).  argparse is
    imported here, not with the module: `run -- PROGRAM` never needs it."""
    import argparse

    class _Formatter(argparse.RawDescriptionHelpFormatter):
        """argparse's formatter, sized without importing shutil: argparse
        builds one per add_argument, and importing shutil costs start-up."""

        def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
            super().__init__(prog, indent_increment, max_help_position,
                             _columns() - 2 if width is None else width)

    class _Parser(argparse.ArgumentParser):
        """argparse's parser, with errors said in one line."""

        def error(self, message):
            self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")

    parser = _Parser(
        prog="pyshim", formatter_class=_Formatter,
        description="Run Linux programs under a syscall supervisor written in Python.")
    parser.add_argument("--version", action="version", version=f"pyshim {pyshim.__version__}")
    sub = parser.add_subparsers(dest="cmd", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for name, (help_text, epilog, arguments, func) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, epilog=epilog, formatter_class=_Formatter)
        if arguments is not None and only in (None, name):
            arguments(p)
        p.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    everyday = _everyday_run(argv)
    if everyday is not None:
        # Nothing to parse: no argparse and the modules it imports (start-up counts).
        trap, command = everyday
        return _reported(lambda: _run(Supervisor(trap=trap), command))
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    return _reported(lambda: args.func(args, parser))


def _everyday_run(argv: list[str]) -> tuple[list[str], list[str]] | None:
    """(trap names, program argv) of the everyday forms `run -- PROGRAM...`
    and `run --trap NAMES -- PROGRAM...` (or --trap=NAMES), as argparse
    would read them; None for anything else, which argparse parses."""
    if len(argv) < 3 or argv[0] != "run":
        return None
    rest, trap = argv[1:], []
    if rest[0].startswith("--trap="):
        rest, trap = rest[1:], _names(rest[0][len("--trap="):])
    elif rest[0] == "--trap" and len(rest) > 1 and not rest[1].startswith("-"):
        rest, trap = rest[2:], _names(rest[1])
    if len(rest) < 2 or rest[0] != "--":
        return None
    return trap, rest[1:]


def _reported(command) -> int:
    """command()'s exit status, or pyshim's own failure said in one line
    with its exit status."""
    try:
        return command()
    except UsageError as exc:
        print(f"pyshim: {exc}", file=sys.stderr)
        return 2
    except _core.HandlerError as exc:
        import traceback  # only on this path: a handler raised

        cause = exc.__cause__ or exc
        traceback.print_exception(type(cause), cause, cause.__traceback__, file=sys.stderr)
        print(f"pyshim: {exc}; the program was stopped", file=sys.stderr)
        return 125
    except (PyshimError, _core.ChannelError, _core.ArmError) as exc:
        print(f"pyshim: {exc}", file=sys.stderr)
        return getattr(exc, "exit_status", 125)
    except ValueError as exc:
        print(f"pyshim: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"pyshim: {exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror or exc}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def leave(status) -> None:
    """Ends the `pyshim` command with main()'s status without the
    interpreter's teardown: freeing every module and object took ~1.5 ms
    here, a tenth of `pyshim run`'s start-up.  What the commands open they
    close themselves, and pyshim starts daemon threads only; the atexit
    hooks others registered (a sitecustomize, coverage) run, and stdout
    and stderr are flushed, before the process ends.  If that flush fails
    (a closed pipe), Python's own exit reports it as it always did.  The
    ordinary exit stays where something else may need it (_teardown_wanted)."""
    if isinstance(status, int) and not _teardown_wanted():
        import atexit

        atexit._run_exitfuncs()  # each hook once, then the list is empty
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        else:
            os._exit(status & 0xFF)
    sys.exit(status)


def _teardown_wanted() -> bool:
    """Whether something besides pyshim may need the ordinary exit: a
    handlers file (its threads, its unclosed files), a profiler or tracer
    (cProfile, trace and coverage write their results after SystemExit),
    `python -i`, or a thread that is not a daemon (the exit would wait
    for it)."""
    if _user_code or sys.getprofile() or sys.gettrace() or sys.flags.inspect:
        return True
    threading = sys.modules.get("threading")
    return threading is not None and any(
        not t.daemon and t is not threading.main_thread() for t in threading.enumerate())


if __name__ == "__main__":
    leave(main())
