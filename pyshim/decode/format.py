"""Compiling the table's specs, and formatting one call."""

from __future__ import annotations

from typing import NamedTuple

from pyshim.syscalls import NUMBERS, name as syscall_name

from .base import DEFAULT, Options
from .call import Memory, _Call
from .kinds import CAPTURES, KINDS, RESULTS, RESULTS_CALL
from .nargs import NARGS
from .table import SYSCALLS, Switch
from .text import errno_text


class _Arg(NamedTuple):
    label: str
    kind: str
    index: int


class _Spec(NamedTuple):
    args: tuple[_Arg, ...]
    result: str | None


def _parse(spec: str, start: int = 0) -> _Spec:
    argtext, _, result = spec.partition("->")
    args = []
    for pos, tok in enumerate(argtext.split(), start):
        label, _, tok = tok.rpartition("=")
        kind_name, _, idx = tok.partition("@")
        if kind_name not in KINDS:
            raise ValueError(f"unknown argument kind {kind_name!r} in {spec!r}")
        args.append(_Arg(f"{label}=" if label else "", kind_name, int(idx) if idx else pos))
    result = result.strip() or None
    if result is not None and result not in RESULTS and result not in RESULTS_CALL:
        raise ValueError(f"unknown result kind {result!r} in {spec!r}")
    return _Spec(tuple(args), result)


class _Compiled(NamedTuple):
    base: _Spec
    cases: dict[int, _Spec] | None = None
    default: _Spec | None = None
    mask: int = 0


def _compile(entry: str | Switch) -> _Compiled:
    if isinstance(entry, str):
        return _Compiled(_parse(entry))
    base = _parse(entry.base)
    n = len(base.args)
    return _Compiled(base, {k: _parse(v, n) for k, v in entry.cases.items()},
                     _parse(entry.default, n), entry.mask)


_COMPILED: dict[int, _Compiled] = {NUMBERS[n]: _compile(e) for n, e in SYSCALLS.items()}
# Syscalls the table does not decode: their own number of arguments, in hex.
_COMPILED.update({NUMBERS[n]: _compile(" ".join(["hex"] * k)) for n, k in NARGS.items()
                  if n in NUMBERS and NUMBERS[n] not in _COMPILED})
_FALLBACK = _compile(" ".join(["hex"] * 6))


def string_arguments() -> dict[int, tuple[int, ...]]:
    """Syscall number -> indices of its path and string arguments (for
    calls whose arguments depend on a command argument, like prctl, only
    the fixed ones)."""
    out = {}
    for nr, comp in _COMPILED.items():
        indices = tuple(a.index for a in comp.base.args if a.kind in ("path", "str"))
        if indices:
            out[nr] = indices
    return out


def _all_args(comp: _Compiled) -> list[_Arg]:
    args = list(comp.base.args)
    for spec in list((comp.cases or {}).values()) + ([comp.default] if comp.default else []):
        args += spec.args
    return args


CAPTURING: frozenset[int] = frozenset(
    nr for nr, comp in _COMPILED.items() if any(a.kind in CAPTURES for a in _all_args(comp)))
"""Syscall numbers for which :func:`capture` copies something."""


def capture(nr: int, args: tuple[int, ...], mem: Memory | None) -> dict[int, bytes] | None:
    """Copies the memory a call may change but strace prints as it was on
    entry (select's fd sets, a socket address length before accept...).

    A tracer calls this before the call runs (for the numbers in
    :data:`CAPTURING`) and passes the result to :func:`format_call` as
    *entry*.  Returns None when there is nothing to copy.
    """
    comp = _COMPILED.get(nr)
    if comp is None or mem is None or nr not in CAPTURING:
        return None
    c = _Call(nr, args, None, mem)
    out: dict[int, bytes] = {}
    for a in _resolve(c).args:
        fn = CAPTURES.get(a.kind)
        if fn is None:
            continue
        for addr, size in fn(c.args, a.index):
            try:
                out[addr] = c.read(addr, size)
            except OSError:
                pass
    return out or None


def _resolve(c: _Call) -> _Spec:
    comp = _COMPILED.get(c.nr, _FALLBACK)
    if comp.cases is None:
        return comp.base
    key = c.args[comp.base.args[-1].index] & comp.mask
    tail = comp.cases.get(key, comp.default)
    return _Spec(comp.base.args + tail.args, tail.result or comp.base.result)


def format_call(nr: int, args: tuple[int, int, int, int, int, int],
                result: int | None, mem: Memory | None, opts: Options = DEFAULT,
                entry: dict[int, bytes] | None = None) -> str:
    """One strace-style line (without pid or timestamps) for a syscall.

    *args* are the raw unsigned register values; *result* the raw return
    value (negative errno on failure), or None if the call did not return;
    *opts* the strace options that change decoding; *entry* what
    :func:`capture` copied before the call, if anything.
    """
    c = _Call(nr, args, result, mem, opts, entry)
    spec = _resolve(c)
    parts = []
    for a in spec.args:
        text = KINDS[a.kind](c, a.index)
        if text is not None:
            parts.append(a.label + text)
    if c.result is None or not c.ok:
        ret = errno_text(c.result)
    elif spec.result in RESULTS_CALL:
        ret = RESULTS_CALL[spec.result](c, c.result)
    else:
        ret = RESULTS[spec.result or "int"](c.result)
    return f"{syscall_name(nr)}({', '.join(parts)}) = {ret}"
