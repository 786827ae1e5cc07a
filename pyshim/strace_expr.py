"""strace's -e expressions, as strace 6.1 parses and words them.

    -e trace=SET, -e SET      which calls (names, numbers, /regex, %classes)
    -e status=SET, -z, -Z     which outcomes
    -e inject=SET:..., -e fault=SET:...   faults (pyshim.faults rules)
    -e quiet=SET, -e decode-fds=SET

A value pyshim cannot take raises UsageError (one line, exit status 2).
"""
from __future__ import annotations

import sys

from pyshim.errors import UsageError

# -- strace's -e expressions (strace 6.1's syntax and wording) -----------------

# Qualifiers in strace's order: the first whose name is a prefix of the
# expression, followed by "=", takes it; an expression without one is trace=.
_QUALIFIERS = (
    ("trace", "trace"), ("t", "trace"), ("abbrev", None), ("a", None),
    ("verbose", None), ("v", None), ("raw", None), ("x", None),
    ("signal", "signal"), ("signals", "signal"), ("s", "signal"), ("status", "status"),
    ("quiet", "quiet"), ("silent", "quiet"), ("silence", "quiet"), ("q", "quiet"),
    ("read", None), ("reads", None), ("r", None), ("write", None), ("writes", None),
    ("w", None), ("fault", "fault"), ("inject", "inject"), ("kvm", None),
    ("decode-fd", "decode-fds"), ("decode-fds", "decode-fds"), ("decode-pid", None),
    ("decode-pids", None), ("secontext", None),
)
_QUIET_WORDS = {"attach": "attach", "exit": "exit", "exits": "exit",
                "path-resolution": None, "personality": None,
                "superseded": "superseded", "thread-execve": "superseded"}
_DECODE_FD_WORDS = {"path": 1, "socket": 2, "dev": 2, "pidfd": 2}
_STATUSES = ("successful", "failed", "unfinished", "unavailable", "detached")


def _qualifier(text: str) -> tuple[str, str, str | None]:
    """(the qualifier as written, its value, what pyshim does with it)."""
    for name, what in _QUALIFIERS:
        if text.startswith(name + "="):
            return name, text[len(name) + 1:], what
    return "trace", text, "trace"


def _tokens(text: str, words, what: str) -> set:
    """strace's qualify_tokens: [!...]none|all|WORD,...; `words` maps a word
    (matched case-insensitively) to its value."""
    invert = False
    s = text
    while s.startswith("!"):
        invert, s = not invert, s[1:]
    every = set(words.values())
    if s in ("none", "all"):
        chosen = set() if s == "none" else every
    else:
        chosen = set()
        tokens = [t for t in s.split(",") if t]
        if not tokens:
            raise UsageError(f"invalid {what} '{text}'")
        for token in tokens:
            value = words.get(token.lower())
            if token.lower() not in words:
                raise UsageError(f"invalid {what} '{token}'")
            chosen.add(value)
    return every - chosen if invert else chosen


def _syscall_set(text: str) -> set[int]:
    """strace's syscall set: [!...]none|all|TOKEN,... where a token is a
    name, a number, /REGEX, a %class (see pyshim.decode.classes), with
    ?-prefix for "no error if nothing matches" and @64 for the personality."""
    from pyshim import syscalls

    known = set(syscalls.NAMES)
    invert = False
    s = text
    while s.startswith("!"):
        invert, s = not invert, s[1:]
    if s in ("none", "all"):
        chosen = set() if s == "none" else set(known)
    else:
        chosen = set()
        tokens = [t for t in s.split(",") if t]
        if not tokens:
            raise UsageError(f"invalid system call '{text}'")
        for token in tokens:
            if not _syscall_token(token, chosen, known):
                raise UsageError(f"invalid system call '{token}'")
    return known - chosen if invert else chosen


def _syscall_token(token: str, chosen: set[int], known: set[int]) -> bool:
    from pyshim import syscalls

    optional = token.startswith("?")
    token = token.lstrip("?")
    name, at, personality = token.rpartition("@")
    if at:
        if personality not in ("64", "32", "x32"):
            raise UsageError(f"incorrect personality designator '{personality}' "
                             f"in qualification '{token}'")
        if personality != "64":
            return True  # pyshim sees 64-bit calls only: nothing to add
        token = name
    found: set[int] = set()
    if token[:1].isdigit():
        if token.isdigit() and int(token) <= max(known):  # unnamed ones too, as strace
            found.add(int(token))
    elif token.startswith("/"):
        import re

        try:
            pattern = re.compile(token[1:])
        except re.error as exc:
            raise UsageError(f"regcomp: {token[1:]}: {exc}") from None
        found = {nr for nr, n in syscalls.NAMES.items() if pattern.search(n)}
    elif token in syscalls.NUMBERS:
        found.add(syscalls.NUMBERS[token])
    else:
        from pyshim.decode.classes import ALIASES, CLASSES

        key = ALIASES.get(token, token)
        if key == "all":
            found = set(known)
        elif key in CLASSES:
            chosen.update(syscalls.NUMBERS[n] for n in CLASSES[key])
            return True  # a class is valid even where it has no member
    chosen.update(found)
    return bool(found) or optional


def _errno_value(text: str) -> int | None:
    if text.isdigit():
        n = int(text)
        return n if 1 <= n <= 4095 else None
    import errno

    for n, name in errno.errorcode.items():
        if name.lower() == text.lower():
            return n
    return None


def _c_ulong(text: str) -> int | None:
    """strtoull(text, 0) of the whole text, or None."""
    t = text.strip()
    sign = -1 if t.startswith("-") else 1
    t = t.lstrip("+-")
    try:
        if t.lower().startswith("0x"):
            value = int(t[2:], 16)
        elif t.startswith("0") and len(t) > 1:
            value = int(t[1:], 8)
        else:
            value = int(t, 10)
    except ValueError:
        return None
    value = (sign * value) & ((1 << 64) - 1)
    return value


def _delay(text: str) -> float | None:
    """strace's time specification: a number, in microseconds unless
    followed by s, ms, us or ns; seconds."""
    import re

    m = re.fullmatch(r"([0-9.eE+-]+?)(s|ms|us|ns)?", text)
    if not m:
        return None
    try:
        value = float(m[1])
    except ValueError:
        return None
    if value < 0:
        return None
    return value * {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, None: 1e-6}[m[2]]


def _inject(text: str, fault_only: bool, rules: dict) -> None:
    """strace's -e inject=SET:error=E|retval=N[:delay_enter=D][:delay_exit=D][:when=W]
    (and -e fault=SET[:error=E][:when=W], whose error defaults to ENOSYS):
    one pyshim.faults.inject rule per syscall of SET, into `rules` (a
    later expression replaces an earlier one's rule for the same syscall)."""
    from pyshim import syscalls
    from pyshim.faults import When

    what = "fault argument" if fault_only else "inject argument"
    invalid = UsageError(f"invalid {what} '{text}'")
    name, *tokens = text.split(":")
    if not name:
        raise UsageError("invalid system call ''")
    tokens = [t for t in tokens if t]
    kwargs: dict = {}
    for token in tokens:
        key, eq, value = token.partition("=")
        if not eq:
            raise invalid
        if key in ("error", "retval") and ("error" in kwargs or "retval" in kwargs):
            raise invalid
        if key == "error":
            code = _errno_value(value)
            if code is None:
                raise invalid
            kwargs["error"] = code
        elif key == "when":
            try:
                kwargs["when"] = When.parse(value)
            except ValueError:
                raise invalid from None
        elif fault_only:
            raise invalid
        elif key == "retval":
            number = _c_ulong(value)
            if number is None:
                raise invalid
            signed = number - (1 << 64) if number >> 63 else number
            if -4095 <= signed < 0:
                print(f"pyshim: Inadvertent injection of error {-signed} is possible "
                      f"for retval={number}", file=sys.stderr)
            kwargs["retval"] = signed
        elif key in ("delay_enter", "delay_exit"):
            seconds = _delay(value)
            if seconds is None or key in kwargs:
                raise invalid
            kwargs[key] = seconds
        elif key in ("signal", "syscall", "poke_enter", "poke_exit"):
            raise UsageError(f"-e {'fault' if fault_only else 'inject'}=...:{key}= is not "
                             "supported by pyshim (error=, retval=, delay_enter=, "
                             "delay_exit= and when= are)")
        else:
            raise invalid
    if fault_only and "error" not in kwargs:
        import errno

        kwargs["error"] = errno.ENOSYS
    if not {"error", "retval", "delay_enter", "delay_exit"} & set(kwargs):
        raise invalid
    for nr in sorted(_syscall_set(name)):
        if nr in syscalls.NAMES:  # (a rule needs a name: unnamed numbers are left out)
            rules[nr] = (syscalls.NAMES[nr], kwargs)


class _Selection:
    """What -e expressions (and -z, -Z, -q, --trace) ask for."""

    def __init__(self):
        self.trace: set[int] | None = None        # None: all
        self.status: set[str] | None = None        # None: all
        self.quiet: set[str] | None = None         # None: not given
        self.fds: int | None = None                # -e decode-fds=
        self.injects: dict[int, tuple[str, dict]] = {}

    def rules(self) -> list:
        from pyshim.faults import inject

        return [inject(name, **kwargs) for name, kwargs in self.injects.values()]


_TRACE_ONLY = {"status", "quiet", "signal", "decode-fds"}


def selection(items, command: str) -> _Selection:
    """Reads -e EXPR, --trace SET, -z and -Z in the order given, as strace does."""
    sel = _Selection()
    zflags = 0
    for kind, text in items or ():
        if kind in ("z", "Z"):
            zflags += 1
            sel.status = {"successful"} if kind == "z" else {"failed"}
            continue
        written, value, what = _qualifier(text) if kind == "e" else ("trace", text, "trace")
        if what is None:
            raise UsageError(f"-e {written}= is not supported by pyshim")
        if what in _TRACE_ONLY and command != "trace":
            raise UsageError(f"-e {written}= is for pyshim trace, not pyshim {command}")
        if what == "trace":
            sel.trace = _syscall_set(value)
        elif what == "status":
            sel.status = _tokens(value, {w: w for w in _STATUSES}, "status")
        elif what == "quiet":
            sel.quiet = {w for w in _tokens(value, _QUIET_WORDS, "quiet") if w}
        elif what == "signal":
            import signal

            names = {n.name[3:].lower(): n for n in signal.Signals if n.name.startswith("SIG")
                     and not n.name.startswith("SIG_")}
            names.update({n.name.lower(): n for n in signal.Signals})
            names.update({str(int(n)): n for n in signal.Signals})
            _tokens(value, names, "signal")  # checked; pyshim prints no signals
        elif what == "decode-fds":
            sel.fds = max(_tokens(value, _DECODE_FD_WORDS, "decode-fds"), default=0)
        else:
            _inject(value, what == "fault", sel.injects)
    if zflags > 1:
        print("pyshim: Only the last of -z/--successful-only/-Z/--failed-only options will "
              "take effect. See status qualifier for more complex filters.", file=sys.stderr)
    return sel
