# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The supervisor's side of the channels.

Layouts come from ipc/pyshim_ipc.h (through includes/ipc.pxd); Python code
reads and writes shared memory only through the functions and classes here.
The dispatcher waits for events without the GIL, spinning briefly and then
sleeping on the run's doorbell futex, and takes the GIL only to call a
Python handler.  Subscribed calls with no Python handler are answered
without the GIL.
"""
from libc.stdint cimport uint8_t, uint32_t, int32_t, int64_t, uint64_t
from libc.string cimport memset, memcpy, strlen
from cpython.exc cimport PyErr_CheckSignals
from cpython.mem cimport PyMem_Free, PyMem_Realloc

from pyshim.includes.ipc cimport *
from pyshim.includes.linux cimport *

import os

from pyshim import syscalls as _syscalls
from pyshim.replies import NATIVE, Fail

# ---------------------------------------------------------------- layout ----

PROTOCOL_VERSION = PYSHIM_PROTOCOL_VERSION
BLOCK_SIZE = PYSHIM_BLOCK_SIZE
NR_MAX = PYSHIM_NR_MAX
SEGMENT_NAME_MAX = PYSHIM_SEGMENT_NAME_MAX
CONTROL_SIZE = sizeof(pyshim_control)
CHANNEL_SIZE = sizeof(pyshim_channel)
ENV_CHANNEL = (<bytes>PYSHIM_ENV_CHANNEL).decode()

cdef size_t _off(const void *field, const void *base) noexcept:
    return <size_t>(<const char *>field - <const char *>base)


def layout():
    """{struct name: {"sizeof": n, "fields": {field: offset}}} of every shared
    structure, as compiled (PROTOCOL.md's test and inspection tools use it)."""
    cdef pyshim_block_desc d
    cdef pyshim_control c
    cdef pyshim_event e
    cdef pyshim_reply r
    cdef pyshim_channel ch
    return {
        "pyshim_block_desc": {"sizeof": sizeof(d), "fields": {
            "segment": _off(&d.segment, &d), "offset": _off(&d.offset, &d),
            "size": _off(&d.size, &d)}},
        "pyshim_control": {"sizeof": sizeof(c), "fields": {
            "magic": _off(&c.magic, &c), "version": _off(&c.version, &c),
            "supervisor_pid": _off(&c.supervisor_pid, &c),
            "supervisor_start": _off(&c.supervisor_start, &c),
            "doorbell_seq": _off(&c.doorbell_seq, &c), "sleepers": _off(&c.sleepers, &c)}},
        "pyshim_event": {"sizeof": sizeof(e), "fields": {
            "tag": _off(&e.tag, &e), "version": _off(&e.version, &e),
            "pid": _off(&e.pid, &e), "tid": _off(&e.tid, &e), "nr": _off(&e.nr, &e),
            "args": _off(&e.args, &e), "result": _off(&e.result, &e), "ip": _off(&e.ip, &e)}},
        "pyshim_reply": {"sizeof": sizeof(r), "fields": {
            "tag": _off(&r.tag, &r), "flags": _off(&r.flags, &r),
            "retval": _off(&r.retval, &r), "subscribed": _off(&r.subscribed, &r)}},
        "pyshim_channel": {"sizeof": sizeof(ch), "fields": {
            "state": _off(&ch.state, &ch), "shim_sleeping": _off(&ch.shim_sleeping, &ch),
            "magic": _off(&ch.magic, &ch), "version": _off(&ch.version, &ch),
            "control": _off(&ch.control, &ch), "event": _off(&ch.event, &ch),
            "reply": _off(&ch.reply, &ch)}},
    }


def constants():
    """Tags, states and numbers of the protocol, by their header names."""
    return {
        "PYSHIM_PROTOCOL_VERSION": PYSHIM_PROTOCOL_VERSION,
        "PYSHIM_CHANNEL_MAGIC": PYSHIM_CHANNEL_MAGIC,
        "PYSHIM_CONTROL_MAGIC": PYSHIM_CONTROL_MAGIC,
        "PYSHIM_NR_MAX": PYSHIM_NR_MAX, "PYSHIM_BLOCK_SIZE": PYSHIM_BLOCK_SIZE,
        "PYSHIM_RF_REPORT": PYSHIM_RF_REPORT,
        "PYSHIM_CH_IDLE": PYSHIM_CH_IDLE, "PYSHIM_CH_EVENT": PYSHIM_CH_EVENT,
        "PYSHIM_CH_REPLY": PYSHIM_CH_REPLY,
        "PYSHIM_EV_START": PYSHIM_EV_START, "PYSHIM_EV_SYSCALL": PYSHIM_EV_SYSCALL,
        "PYSHIM_EV_SYSCALL_DONE": PYSHIM_EV_SYSCALL_DONE,
        "PYSHIM_EV_ADD_THREAD_RESULT": PYSHIM_EV_ADD_THREAD_RESULT,
        "PYSHIM_EV_EXIT": PYSHIM_EV_EXIT,
        "PYSHIM_RE_START": PYSHIM_RE_START, "PYSHIM_RE_NATIVE": PYSHIM_RE_NATIVE,
        "PYSHIM_RE_COMPLETE": PYSHIM_RE_COMPLETE, "PYSHIM_RE_ADD_THREAD": PYSHIM_RE_ADD_THREAD,
        "PYSHIM_RE_KILL": PYSHIM_RE_KILL,
    }


cdef char *_at(object view, size_t offset, size_t need) except NULL:
    """Address of `need` writable bytes at `offset` in a buffer (mmap)."""
    cdef unsigned char[::1] mv = view
    if offset > <size_t>mv.shape[0] or need > <size_t>mv.shape[0] - offset:
        raise ValueError("block lies outside its segment")
    return <char *>&mv[0] + offset


cdef void _fill_desc(pyshim_block_desc *d, desc) except *:
    segment, offset, size = desc
    name = segment.encode()
    if len(name) >= PYSHIM_SEGMENT_NAME_MAX:
        raise ValueError(f"segment name too long: {segment!r}")
    memset(d, 0, sizeof(pyshim_block_desc))
    memcpy(d.segment, <char *>name, len(name))
    d.offset = offset
    d.size = size


def pack_desc(desc):
    """The serialized (fixed-size, plain data) form of (segment, offset, size)."""
    cdef pyshim_block_desc d
    _fill_desc(&d, desc)
    return (<char *>&d)[:sizeof(d)]


def unpack_desc(bytes data):
    """(segment, offset, size) from a serialized descriptor; ValueError if malformed."""
    cdef pyshim_block_desc d
    if len(data) != sizeof(d):
        raise ValueError(f"a descriptor is {sizeof(d)} bytes, not {len(data)}")
    memcpy(&d, <char *>data, sizeof(d))
    raw = d.segment[:PYSHIM_SEGMENT_NAME_MAX]
    name = raw.split(b"\0", 1)[0]
    if len(name) == len(raw) or not name.startswith(b"/"):
        raise ValueError("descriptor segment name is not a NUL-terminated /name")
    return name.decode(errors="replace"), d.offset, d.size


def init_control(view, int pid, uint64_t start):
    """Initializes a run's control block at offset 0 of `view`."""
    cdef pyshim_control *c = <pyshim_control *>_at(view, 0, sizeof(pyshim_control))
    memset(c, 0, sizeof(pyshim_control))
    c.version = PYSHIM_PROTOCOL_VERSION
    c.supervisor_pid = pid
    c.supervisor_start = start
    pyshim_store_seq(&c.magic, PYSHIM_CONTROL_MAGIC)


def read_control(const unsigned char[::1] data):
    """(initialized, version, supervisor pid, supervisor start) of a control
    block's bytes; initialized is False for a block still being created or
    not a control block at all."""
    cdef pyshim_control c
    if <size_t>data.shape[0] < sizeof(c):
        return False, 0, 0, 0
    memcpy(&c, &data[0], sizeof(c))
    return c.magic == PYSHIM_CONTROL_MAGIC, c.version, c.supervisor_pid, c.supervisor_start


def init_channel(view, size_t offset, control_desc):
    """Initializes an idle channel in the block at `offset` of `view`."""
    cdef pyshim_channel *ch = <pyshim_channel *>_at(view, offset, sizeof(pyshim_channel))
    memset(ch, 0, PYSHIM_BLOCK_SIZE if PYSHIM_BLOCK_SIZE <= <size_t>len(view) - offset
           else sizeof(pyshim_channel))
    _fill_desc(&ch.control, control_desc)
    ch.version = PYSHIM_PROTOCOL_VERSION
    pyshim_store_seq(&ch.magic, PYSHIM_CHANNEL_MAGIC)


_STATE_NAMES = {PYSHIM_CH_IDLE: "idle", PYSHIM_CH_EVENT: "event", PYSHIM_CH_REPLY: "reply"}
_EVENT_NAMES = {PYSHIM_EV_START: "Start", PYSHIM_EV_SYSCALL: "Syscall",
                PYSHIM_EV_SYSCALL_DONE: "SyscallDone",
                PYSHIM_EV_ADD_THREAD_RESULT: "AddThreadResult", PYSHIM_EV_EXIT: "Exit"}
_REPLY_NAMES = {PYSHIM_RE_START: "Start", PYSHIM_RE_NATIVE: "DoNative",
                PYSHIM_RE_COMPLETE: "Complete", PYSHIM_RE_ADD_THREAD: "AddThread",
                PYSHIM_RE_KILL: "Kill"}


def decode_channel(const unsigned char[::1] data):
    """A channel block's bytes as a dict (read-only decoding for inspection)."""
    cdef pyshim_channel ch
    if <size_t>data.shape[0] < sizeof(ch):
        raise ValueError(f"a channel needs {sizeof(ch)} bytes, got {data.shape[0]}")
    memcpy(&ch, &data[0], sizeof(ch))
    return {
        "magic_ok": ch.magic == PYSHIM_CHANNEL_MAGIC, "version": ch.version,
        "state": _STATE_NAMES.get(ch.state, f"invalid({ch.state})"),
        "shim_sleeping": bool(ch.shim_sleeping),
        "event": {"tag": _EVENT_NAMES.get(ch.event.tag, f"invalid({ch.event.tag})"),
                  "pid": ch.event.pid, "tid": ch.event.tid, "nr": ch.event.nr,
                  "args": [ch.event.args[i] for i in range(6)],
                  "result": ch.event.result},
        "reply": {"tag": _REPLY_NAMES.get(ch.reply.tag, f"invalid({ch.reply.tag})"),
                  "flags": ch.reply.flags, "retval": ch.reply.retval},
    }


# -------------------------------------------------------------- errors ----

class ChannelError(Exception):
    """A channel held something the protocol does not allow."""


class UnsupportedCall(Exception):
    """The program made a call this version of pyshim cannot supervise."""


class ArmError(Exception):
    """The shim could not arm Syscall User Dispatch in the program."""


class HandlerError(Exception):
    """A Python handler raised or returned something that is not a reply."""

    def __init__(self, message, call=None):
        super().__init__(message)
        self.call = call


# ------------------------------------------------------------ channels ----

cdef class Channel:
    """One thread's channel, mapped in the supervisor."""
    cdef pyshim_channel *ch
    cdef object _view
    cdef readonly object desc
    cdef public int pid
    cdef public int tid
    cdef public bint started
    cdef public bint exited
    cdef public object exit_status
    cdef list pending

    def __cinit__(self, view, desc, int pid):
        self._view = view
        self.desc = tuple(desc)
        self.ch = <pyshim_channel *>_at(view, desc[1], sizeof(pyshim_channel))
        self.pid = pid
        self.tid = pid
        self.pending = []

    @property
    def state(self):
        return _STATE_NAMES.get(pyshim_load_acquire(&self.ch.state), "invalid")


cdef inline void _reply(pyshim_channel *ch, uint32_t tag, uint32_t flags,
                        int64_t value) noexcept nogil:
    ch.reply.tag = tag
    ch.reply.flags = flags
    ch.reply.retval = value
    pyshim_store_seq(&ch.state, PYSHIM_CH_REPLY)
    if pyshim_load_seq(&ch.shim_sleeping):
        syscall(SYS_futex, &ch.state, FUTEX_WAKE, 1, NULL, NULL, 0)


# --------------------------------------------------------------- calls ----

cdef class Call:
    """One trapped syscall, as a handler sees it."""
    cdef readonly long nr
    cdef readonly int pid
    cdef readonly int tid
    cdef readonly uint64_t ip
    cdef uint64_t _args[6]
    cdef public object result
    cdef dict __dict__

    @property
    def name(self):
        return _syscalls.name(self.nr)

    @property
    def args(self):
        """The six raw argument registers, as unsigned 64-bit integers."""
        return (self._args[0], self._args[1], self._args[2],
                self._args[3], self._args[4], self._args[5])

    def int_arg(self, int i):
        """Argument i as the kernel reads an `int` (fds, dirfds, flags)."""
        if not 0 <= i < 6:
            raise IndexError("syscalls have six arguments")
        return <int32_t>self._args[i]

    def long_arg(self, int i):
        """Argument i as a signed 64-bit `long` (offsets, signed sizes)."""
        if not 0 <= i < 6:
            raise IndexError("syscalls have six arguments")
        return <int64_t>self._args[i]

    def read(self, uint64_t addr, size_t n):
        """n bytes of the program's memory at addr (OSError if unreadable)."""
        buf = bytearray(n)
        if n == 0:
            return b""
        cdef unsigned char[::1] mv = buf
        cdef iovec local, remote
        local.iov_base = &mv[0]
        local.iov_len = n
        remote.iov_base = <void *>addr
        remote.iov_len = n
        cdef ssize_t got
        with nogil:
            got = process_vm_readv(self.pid, &local, 1, &remote, 1, 0)
        if got < 0:
            raise OSError(errno, os.strerror(errno), f"pid {self.pid} address {addr:#x}")
        return bytes(buf[:got])

    def cstring(self, uint64_t addr, size_t maxlen=4096):
        """The NUL-terminated bytes at addr, without the NUL, at most maxlen."""
        out = bytearray()
        cdef size_t chunk
        while len(out) < maxlen:
            chunk = 4096 - (addr % 4096)
            if chunk > maxlen - len(out):
                chunk = maxlen - len(out)
            part = self.read(addr, chunk)
            nul = part.find(b"\0")
            if nul >= 0:
                out += part[:nul]
                return bytes(out)
            out += part
            if len(part) < chunk:
                break
            addr += chunk
        return bytes(out)

    def string(self, uint64_t addr, size_t maxlen=4096):
        """The C string at addr as str (file-system decoding)."""
        return os.fsdecode(self.cstring(addr, maxlen))

    def write(self, uint64_t addr, data):
        """Writes bytes into the program's memory at addr."""
        cdef const unsigned char[::1] mv = bytes(data)
        if mv.shape[0] == 0:
            return
        cdef iovec local, remote
        local.iov_base = <void *>&mv[0]
        local.iov_len = mv.shape[0]
        remote.iov_base = <void *>addr
        remote.iov_len = mv.shape[0]
        cdef ssize_t put
        with nogil:
            put = process_vm_writev(self.pid, &local, 1, &remote, 1, 0)
        if put != mv.shape[0]:
            raise OSError(errno, os.strerror(errno), f"pid {self.pid} address {addr:#x}")

    def __repr__(self):
        return f"<Call {self.name} pid={self.pid} args={self.args}>"


cdef Call _make_call(pyshim_event *ev):
    cdef Call call = Call.__new__(Call)
    call.nr = ev.nr
    call.pid = ev.pid
    call.tid = ev.tid
    call.ip = ev.ip
    memcpy(call._args, ev.args, sizeof(call._args))
    return call


cdef int64_t _reply_value(Call call, object rep, object default) except? -1:
    """The value a handler's answer stands for (`default` for None/NATIVE)."""
    if rep is None or rep is NATIVE:
        return default
    if isinstance(rep, Fail):
        return -rep.errno
    if isinstance(rep, bool) or not isinstance(rep, int):
        raise HandlerError(
            f"the handler for {call.name} returned {rep!r}; expected None, "
            "pyshim.NATIVE, an int or pyshim.Fail(errno)", call)
    return rep


# ---------------------------------------------------------- dispatcher ----

cdef enum:
    SPIN = 20000           # doorbell polls before sleeping (~tens of us)
    WAIT_NS = 20000000     # sleep at most 20 ms between liveness checks

_CLONE_FAMILY = frozenset(_syscalls.NUMBERS[n] for n in ("clone", "clone3", "fork", "vfork"))


cdef class Dispatcher:
    """Serves every channel of one run."""
    cdef pyshim_control *ctl
    cdef object _ctl_view
    cdef pyshim_channel **chans
    cdef int *chan_pid
    cdef int nchan
    cdef int cap
    cdef int rr
    cdef list channels
    cdef uint8_t subscribed[PYSHIM_SUBSCRIBED_BYTES]
    cdef uint8_t needs_python[PYSHIM_NR_MAX]
    cdef list before
    cdef list after
    cdef object error
    cdef public object root_exit

    def __cinit__(self):
        self.chans = NULL
        self.chan_pid = NULL

    def __init__(self, control_view, subscribed, before, after):
        """subscribed: iterable of syscall numbers; before/after: dicts of
        number -> callable."""
        self._ctl_view = control_view
        self.ctl = <pyshim_control *>_at(control_view, 0, sizeof(pyshim_control))
        self.channels = []
        self.before = [None] * PYSHIM_NR_MAX
        self.after = [None] * PYSHIM_NR_MAX
        memset(self.subscribed, 0, sizeof(self.subscribed))
        memset(self.needs_python, 0, sizeof(self.needs_python))
        for nr in subscribed:
            self.subscribed[nr >> 3] |= 1 << (nr & 7)
        for nr, fn in before.items():
            self.before[nr] = fn
            self.needs_python[nr] = 1
        for nr, fn in after.items():
            self.after[nr] = fn
            self.needs_python[nr] = 1
        for nr in _CLONE_FAMILY:
            self.needs_python[nr] = 1

    def __dealloc__(self):
        PyMem_Free(self.chans)
        PyMem_Free(self.chan_pid)

    def add_channel(self, Channel channel):
        cdef int newcap
        cdef pyshim_channel **chans
        cdef int *pids
        if self.nchan == self.cap:
            newcap = self.cap * 2 if self.cap else 8
            chans = <pyshim_channel **>PyMem_Realloc(self.chans, newcap * sizeof(void *))
            if chans == NULL:
                raise MemoryError()
            self.chans = chans
            pids = <int *>PyMem_Realloc(self.chan_pid, newcap * sizeof(int))
            if pids == NULL:
                raise MemoryError()
            self.chan_pid = pids
            self.cap = newcap
        self.chans[self.nchan] = channel.ch
        self.chan_pid[self.nchan] = channel.pid
        self.nchan += 1
        self.channels.append(channel)

    # -- waiting, without the GIL --

    cdef int _scan(self) noexcept nogil:
        cdef int k, i
        for k in range(self.nchan):
            i = (self.rr + k) % self.nchan
            if pyshim_load_acquire(&self.chans[i].state) == PYSHIM_CH_EVENT:
                self.rr = i + 1
                return i
        return -1

    cdef bint _fast(self, int i) noexcept nogil:
        """Answers a subscribed call that has no Python handler: run natively."""
        cdef pyshim_channel *ch = self.chans[i]
        cdef int64_t nr = ch.event.nr
        if (ch.event.tag != PYSHIM_EV_SYSCALL or nr < 0 or nr >= PYSHIM_NR_MAX
                or self.needs_python[nr] or ch.event.pid != self.chan_pid[i]):
            return False
        _reply(ch, PYSHIM_RE_NATIVE, 0, 0)
        return True

    cdef int _wait(self) noexcept nogil:
        """Index of a channel with an event, or -1 after WAIT_NS or a signal."""
        cdef uint32_t seq
        cdef int i, idx
        cdef long r
        cdef timespec ts
        while True:
            seq = pyshim_load_seq(&self.ctl.doorbell_seq)
            idx = self._scan()
            if idx >= 0:
                if self._fast(idx):
                    continue
                return idx
            for i in range(SPIN):
                if pyshim_load_acquire(&self.ctl.doorbell_seq) != seq:
                    break
                pyshim_cpu_relax()
            else:
                pyshim_store_seq(&self.ctl.sleepers, 1)
                if pyshim_load_seq(&self.ctl.doorbell_seq) == seq:
                    ts.tv_sec = 0
                    ts.tv_nsec = WAIT_NS
                    r = syscall(SYS_futex, &self.ctl.doorbell_seq, FUTEX_WAIT, seq, &ts, NULL, 0)
                    pyshim_store_relaxed(&self.ctl.sleepers, 0)
                    if r == -1 and (errno == ETIMEDOUT or errno == EINTR):
                        return -1
                else:
                    pyshim_store_relaxed(&self.ctl.sleepers, 0)

    def serve(self, int pid):
        """Answers events until the process `pid` exits; returns its wait
        status.  Raises what a handler raised, ChannelError on garbage,
        UnsupportedCall or ArmError; the program is told to stop first."""
        cdef int idx
        while True:
            with nogil:
                idx = self._wait()
            if idx >= 0:
                self._handle(idx)
                if self.error is not None:
                    error, self.error = self.error, None
                    raise error
                if self.root_exit is not None:
                    return os.waitpid(pid, 0)[1]
                continue
            PyErr_CheckSignals()
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return status

    # -- handling, with the GIL --

    cdef _fail(self, Channel c, exc):
        self.error = exc
        _reply(c.ch, PYSHIM_RE_KILL, 0, 0)

    cdef _handle(self, int idx):
        cdef Channel c = self.channels[idx]
        cdef pyshim_event *ev = &c.ch.event
        cdef uint32_t tag = ev.tag
        if ev.pid != c.pid:
            return self._fail(c, ChannelError(
                f"garbage in the channel of pid {c.pid}: event from pid {ev.pid}"))
        if tag == PYSHIM_EV_SYSCALL:
            return self._on_syscall(c, ev)
        if tag == PYSHIM_EV_SYSCALL_DONE:
            return self._on_done(c, ev)
        if tag == PYSHIM_EV_START:
            return self._on_start(c, ev)
        if tag == PYSHIM_EV_EXIT:
            return self._on_exit(c, ev)
        self._fail(c, ChannelError(
            f"garbage in the channel of pid {c.pid}: unknown event tag {tag:#x}"))

    cdef _on_start(self, Channel c, pyshim_event *ev):
        if ev.version != PYSHIM_PROTOCOL_VERSION:
            return self._fail(c, ChannelError(
                f"pid {c.pid} speaks protocol version {ev.version}, "
                f"this supervisor {PYSHIM_PROTOCOL_VERSION}"))
        if ev.result < 0:
            return self._fail(c, ArmError(
                f"the kernel refused Syscall User Dispatch ({os.strerror(-ev.result)}); "
                "pyshim needs Linux 5.11 or newer on x86-64"))
        c.started = True
        c.tid = ev.tid
        # A Start after a reported execve means the exec succeeded.
        while c.pending:
            call = c.pending.pop()
            if self._after(c, call, 0, None) is None:
                return
        memcpy(c.ch.reply.subscribed, self.subscribed, sizeof(self.subscribed))
        _reply(c.ch, PYSHIM_RE_START, 0, 0)

    cdef _on_syscall(self, Channel c, pyshim_event *ev):
        if ev.nr < 0 or ev.nr >= PYSHIM_NR_MAX:
            return self._fail(c, ChannelError(
                f"garbage in the channel of pid {c.pid}: syscall number {ev.nr}"))
        cdef Call call = _make_call(ev)
        if call.nr in _CLONE_FAMILY:
            return self._fail(c, UnsupportedCall(
                f"pid {c.pid} called {call.name}: programs that create threads or "
                "processes cannot be supervised by this version of pyshim yet"))
        handler = self.before[call.nr]
        rep = None
        if handler is not None:
            try:
                rep = handler(call)
                if rep is None or rep is NATIVE:
                    value = None
                else:
                    value = _reply_value(call, rep, None)
            except BaseException as exc:
                return self._handler_raised(c, call, exc)
        else:
            value = None
        after = self.after[call.nr]
        if value is None:
            if after is not None:
                c.pending.append(call)
                _reply(c.ch, PYSHIM_RE_NATIVE, PYSHIM_RF_REPORT, 0)
            else:
                _reply(c.ch, PYSHIM_RE_NATIVE, 0, 0)
            return
        if after is not None:
            value = self._after(c, call, value, value)
            if value is None:
                return
        _reply(c.ch, PYSHIM_RE_COMPLETE, 0, value)

    cdef object _after(self, Channel c, Call call, object result, object default):
        """Runs the after-hook; returns the (possibly replaced) value, or None
        once the run has failed."""
        after = self.after[call.nr]
        call.result = result
        try:
            rep = after(call, result)
            return _reply_value(call, rep, result if default is None else default)
        except BaseException as exc:
            self._handler_raised(c, call, exc)
            return None

    cdef _on_done(self, Channel c, pyshim_event *ev):
        if not c.pending:
            return self._fail(c, ChannelError(
                f"garbage in the channel of pid {c.pid}: a result nobody asked for"))
        cdef Call call = c.pending.pop()
        if call.nr != ev.nr:
            return self._fail(c, ChannelError(
                f"garbage in the channel of pid {c.pid}: result of syscall {ev.nr}, "
                f"expected {call.nr}"))
        value = self._after(c, call, ev.result, ev.result)
        if value is not None:
            _reply(c.ch, PYSHIM_RE_COMPLETE, 0, value)

    cdef _on_exit(self, Channel c, pyshim_event *ev):
        pyshim_store_seq(&c.ch.state, PYSHIM_CH_IDLE)
        c.exited = True
        c.exit_status = <int>ev.args[0]
        while c.pending:  # calls that never returned (exit_group itself)
            call = c.pending.pop()
            after = self.after[call.nr]
            call.result = None
            try:
                after(call, None)
            except BaseException as exc:
                self.error = exc
                return
        if c is self.channels[0]:
            self.root_exit = c.exit_status

    cdef _handler_raised(self, Channel c, Call call, exc):
        if isinstance(exc, HandlerError) or not isinstance(exc, Exception):
            return self._fail(c, exc)
        err = HandlerError(f"the handler for {call.name} raised "
                           f"{type(exc).__name__}: {exc}", call)
        err.__cause__ = exc
        self._fail(c, err)


# --------------------------------------------------- signal forwarding ----

cdef int _forward_pid = 0
cdef sigaction_t _saved[65]


cdef void _forward(int sig, siginfo_t *info, void *ctx) noexcept nogil:
    # A signal the terminal sent to the foreground process group reached the
    # program too (si_code SI_KERNEL); one sent to us alone is passed on.
    if _forward_pid > 0 and info.si_code != SI_KERNEL:
        kill(_forward_pid, sig)


def forward_signals(int pid, signals):
    """Passes `signals` sent to this process on to `pid` until
    restore_signals(); returns what restore_signals needs."""
    global _forward_pid
    cdef sigaction_t act
    memset(&act, 0, sizeof(act))
    act.sa_sigaction = _forward
    act.sa_flags = SA_SIGINFO | SA_RESTART
    sigemptyset(&act.sa_mask)
    _forward_pid = pid
    installed = []
    for sig in signals:
        if sigaction(sig, &act, &_saved[sig]) == 0:
            installed.append(sig)
    return installed


def restore_signals(installed):
    global _forward_pid
    for sig in installed:
        sigaction(sig, &_saved[sig], NULL)
    _forward_pid = 0
