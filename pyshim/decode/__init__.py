"""Format one x86-64 syscall the way strace prints it by default (``-s 32``).

    format_call(NUMBERS["write"], (1, buf, 6, 0, 0, 0), 6, mem)
        -> 'write(1, "hello\\n", 6) = 6'

Public API: :func:`format_call`, :func:`capture`, :func:`errno_text`,
:func:`format_signal`, :class:`Options`.

How a call is decoded is data: :data:`SYSCALLS` maps each syscall name to a
*spec* string listing one argument *kind* per argument, optionally followed
by ``-> kind`` for the return value.  A spec token is ``[label=]kind[@index]``:
``label=`` prints ``label=`` before the value (clone), ``@index`` takes the
value from another argument register (default: the token's position).  A kind
may print nothing (e.g. the mode of ``open`` without ``O_CREAT``).  Calls whose
remaining arguments depend on a command argument (fcntl, futex, prctl,
arch_prctl) use a :class:`Switch`.  Syscalls not in the table print their
own number of arguments (``nargs.py``) in hex, like strace does for
syscalls it does not decode; unknown numbers print six.

Where things live (data apart from the code that formats):

- ``table.py``: THE TABLE, one line per syscall (adding a syscall is one
  line there, when its kinds exist);
- ``xlat.py``: the value tables (flags and enums), data only; ``nargs.py``:
  each syscall's number of arguments; ``ioctls.py``: ioctl request names;
- ``kinds.py``: the argument and result kinds for numbers, strings, flags
  and the simple pointers, registered in :data:`KINDS`; the kinds for
  structures, one module per family, register themselves there too:
  ``fs.py`` (stat, statx, statfs, xattrs), ``sig.py`` (sigaction, stack_t,
  siginfo, signal sets), ``io.py`` (iovec, pollfd, select, epoll, offsets),
  ``net.py`` (socket addresses and lengths, msghdr, mmsghdr, socket
  options), ``proc.py`` (sysinfo, rusage, CPU sets, locks, ioctls, ids,
  NUMA), ``time.py`` (itimers, tms, utimes, sigevent);
- ``call.py``: one call being formatted, with guarded memory reads, the
  options, and the memory as it was before the call (:func:`capture`);
- ``text.py`` and ``base.py``: strings, signals, errors, numbers and times
  as strace prints them;
- ``format.py``: compiling the table and formatting one call.

Options (:class:`Options`): ``-s`` (strlen), ``-x``/``-xx`` (xflag: strings
in hex), ``-y``/``-yy`` (fds: descriptors with their paths, from
``fd_path``), ``-v`` (verbose: structures in full).

strace prints some arguments as they were when the call was made (select's
fd sets, ppoll's timeout, the socket address length before accept,
copy_file_range's offsets...), which the call then changes.  A tracer that
formats after the call gets those right by calling :func:`capture` before
the call for the numbers in :data:`CAPTURING` and passing what it returns
as ``format_call(..., entry=...)``; without it they print as they are after
the call.

The value tables are the ``Xlat`` constants.  Values follow
strace 6.x output, including its quirks (paths are not truncated at 32 bytes,
restart errnos print ``? ERESTARTSYS (...)``, unknown values print as
``0x.. /* PREFIX_??? */``).

``mem`` is any object with ``read(addr, n) -> bytes`` and
``string(addr, maxlen) -> bytes`` (without the NUL); both may raise OSError,
in which case the pointer is printed in hex, as strace does.
"""

from .base import AT_FDCWD, DEFAULT, MAX_STRLEN, PATH_MAX, Options
from .format import CAPTURING, capture, format_call, string_arguments
from .kinds import KINDS, RESULTS
from .table import SYSCALLS, Switch
from .text import errno_text, format_signal, quote

__all__ = ["format_call", "capture", "CAPTURING", "errno_text", "format_signal", "SYSCALLS",
           "KINDS", "Switch", "string_arguments", "quote", "MAX_STRLEN", "PATH_MAX", "AT_FDCWD",
           "RESULTS", "Options", "DEFAULT"]
