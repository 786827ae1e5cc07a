#!/usr/bin/env python3
"""Generate pyshim/syscalls.py from the kernel's x86-64 syscall header.

Usage:
    python tools/gen_syscalls.py [HEADER] [OUTPUT]

Defaults: HEADER is /usr/include/x86_64-linux-gnu/asm/unistd_64.h and
OUTPUT is pyshim/syscalls.py next to this script's parent directory.
The output is deterministic (sorted by syscall number), so re-running the
script on the same header produces a byte-identical file.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DEFAULT_HEADER = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "pyshim" / "syscalls.py"

_DEFINE = re.compile(r"^\s*#\s*define\s+__NR_([A-Za-z0-9_]+)\s+(\d+)\s*$")

TEMPLATE = '''\
"""x86-64 Linux syscall numbers and names.

GENERATED FILE - do not edit by hand.  Regenerate with:

    python tools/gen_syscalls.py

(source: {header})
"""

from __future__ import annotations

NAMES: dict[int, str] = {{
{entries}
}}

NUMBERS: dict[str, int] = {{nm: nr for nr, nm in NAMES.items()}}


def name(nr: int) -> str:
    """Return the syscall name for *nr*, or ``syscall_<nr>`` if unknown."""
    return NAMES.get(nr, f"syscall_{{nr}}")
'''


def parse_header(text: str) -> dict[int, str]:
    """Map syscall number -> name from the ``#define __NR_x N`` lines."""
    names: dict[int, str] = {}
    for line in text.splitlines():
        m = _DEFINE.match(line)
        if m:
            names[int(m.group(2))] = m.group(1)
    if not names:
        raise ValueError("no __NR_ definitions found")
    return names


def render(names: dict[int, str], header: Path) -> str:
    entries = "\n".join(f"    {nr}: {nm!r}," for nr, nm in sorted(names.items()))
    return TEMPLATE.format(header=header, entries=entries)


def main(argv: list[str]) -> int:
    header = Path(argv[1]) if len(argv) > 1 else DEFAULT_HEADER
    output = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUTPUT
    names = parse_header(header.read_text())
    output.write_text(render(names, header))
    print(f"wrote {len(names)} syscalls to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
