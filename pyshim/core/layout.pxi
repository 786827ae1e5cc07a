# Layout introspection, descriptors, control and channel blocks (included by _core.pyx).

PROTOCOL_VERSION = PYSHIM_PROTOCOL_VERSION
BLOCK_SIZE = PYSHIM_BLOCK_SIZE
SLAB_BLOCKS = PYSHIM_SLAB_BLOCKS
FIRST_SLAB_OFFSET = PYSHIM_FIRST_SLAB_OFFSET  # segment 0: the control block, then slab 0
NR_MAX = PYSHIM_NR_MAX
READY_CAPACITY = PYSHIM_READY_CAPACITY
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
            "program_pidns": _off(&c.program_pidns, &c),
            "doorbell_seq": _off(&c.doorbell_seq, &c), "sleepers": _off(&c.sleepers, &c),
            "ready_top": _off(&c.ready_top, &c),
            "supervisor_pidns": _off(&c.supervisor_pidns, &c), "ready_mid": _off(&c.ready_mid, &c),
            "ready_low": _off(&c.ready_low, &c), "filter_len": _off(&c.filter_len, &c),
            "filter": _off(&c.filter, &c)}},
        "pyshim_event": {"sizeof": sizeof(e), "fields": {
            "tag": _off(&e.tag, &e), "version": _off(&e.version, &e),
            "pid": _off(&e.pid, &e), "tid": _off(&e.tid, &e), "nr": _off(&e.nr, &e),
            "args": _off(&e.args, &e), "result": _off(&e.result, &e), "ip": _off(&e.ip, &e),
            "flags": _off(&e.flags, &e), "seq": _off(&e.seq, &e)}},
        "pyshim_reply": {"sizeof": sizeof(r), "fields": {
            "tag": _off(&r.tag, &r), "flags": _off(&r.flags, &r),
            "retval": _off(&r.retval, &r), "subscribed": _off(&r.subscribed, &r),
            "child_block": _off(&r.child_block, &r), "clone_flags": _off(&r.clone_flags, &r),
            "child_stack": _off(&r.child_stack, &r), "ptid": _off(&r.ptid, &r),
            "ctid": _off(&r.ctid, &r), "newtls": _off(&r.newtls, &r), "seq": _off(&r.seq, &r)}},
        "pyshim_channel": {"sizeof": sizeof(ch), "fields": {
            "state": _off(&ch.state, &ch), "shim_sleeping": _off(&ch.shim_sleeping, &ch),
            "magic": _off(&ch.magic, &ch), "version": _off(&ch.version, &ch),
            "index": _off(&ch.index, &ch), "leave": _off(&ch.leave, &ch),
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
        "PYSHIM_SLAB_BLOCKS": PYSHIM_SLAB_BLOCKS,
        "PYSHIM_FIRST_SLAB_OFFSET": PYSHIM_FIRST_SLAB_OFFSET,
        "PYSHIM_RF_REPORT": PYSHIM_RF_REPORT, "PYSHIM_EF_RESTARTED": PYSHIM_EF_RESTARTED,
        "PYSHIM_EF_OTHER_PIDNS": PYSHIM_EF_OTHER_PIDNS, "PYSHIM_EF_PIDNS_MOVED": PYSHIM_EF_PIDNS_MOVED,
        "PYSHIM_READY_WORDS": PYSHIM_READY_WORDS,
        "PYSHIM_CH_IDLE": PYSHIM_CH_IDLE, "PYSHIM_CH_EVENT": PYSHIM_CH_EVENT,
        "PYSHIM_CH_REPLY": PYSHIM_CH_REPLY, "PYSHIM_CH_HELD": PYSHIM_CH_HELD,
        "PYSHIM_CH_COMPLETING": PYSHIM_CH_COMPLETING,
        "PYSHIM_CH_CANCELLED": PYSHIM_CH_CANCELLED,
        "PYSHIM_EV_START": PYSHIM_EV_START, "PYSHIM_EV_SYSCALL": PYSHIM_EV_SYSCALL,
        "PYSHIM_EV_SYSCALL_DONE": PYSHIM_EV_SYSCALL_DONE,
        "PYSHIM_EV_ADD_THREAD_RESULT": PYSHIM_EV_ADD_THREAD_RESULT,
        "PYSHIM_EV_EXIT": PYSHIM_EV_EXIT,
        "PYSHIM_RE_START": PYSHIM_RE_START, "PYSHIM_RE_NATIVE": PYSHIM_RE_NATIVE,
        "PYSHIM_RE_COMPLETE": PYSHIM_RE_COMPLETE, "PYSHIM_RE_ADD_THREAD": PYSHIM_RE_ADD_THREAD,
        "PYSHIM_RE_KILL": PYSHIM_RE_KILL,
    }


# No typed memoryviews in this module: with one, Cython's start-up code
# imports collections.abc (about 1.3 ms of every `pyshim run`).

cdef char *_at(object view, size_t offset, size_t need) except NULL:
    """Address of `need` writable bytes at `offset` in a buffer (mmap),
    valid while the buffer's object lives unresized."""
    cdef Py_buffer b
    PyObject_GetBuffer(view, &b, PyBUF_WRITABLE)
    cdef char *base = <char *>b.buf
    cdef size_t size = <size_t>b.len
    PyBuffer_Release(&b)
    if offset > size or need > size - offset:
        raise ValueError("block lies outside its segment")
    return base + offset


cdef bytes _bytes_of(object data):
    """`data` (any bytes-like object) as bytes, copied unless it is already."""
    return data if type(data) is bytes else bytes(data)


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


cdef void _name_supervisor(pyshim_control *c, int pid, uint64_t start,
                           uint64_t pidns) noexcept:
    """The control block's fields that name its supervisor (magic aside)."""
    c.version = PYSHIM_PROTOCOL_VERSION
    c.supervisor_pid = pid
    c.supervisor_start = start
    c.supervisor_pidns = pidns


def init_control(view, int pid, uint64_t start, uint64_t pidns=0, bint wake=False):
    """Initializes a run's control block at offset 0 of `view`, a segment
    just created (all zeros: the rest is never written here, so its pages
    are not touched), `pidns`: the inode of the supervisor's pid namespace.
    The magic goes last; wake: a shim may wait for it (the run's first
    program, whose run is set up while it loads: ipc/PROTOCOL.md, "Late
    set-up")."""
    cdef pyshim_control *c = <pyshim_control *>_at(view, 0, sizeof(pyshim_control))
    _name_supervisor(c, pid, start, pidns)
    pyshim_store_seq(&c.magic, PYSHIM_CONTROL_MAGIC)
    if wake:
        syscall(SYS_futex, &c.magic, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0)


def control_identity(int pid, uint64_t start, uint64_t pidns=0):
    """The first CONTROL_HEADER_SIZE bytes (pid and start time, not the pid
    namespace, which lies past them) of a control block that names its
    supervisor but is not initialized (magic 0): written into a run's
    segment 0 before its program is spawned, so that gc can tell a run
    whose supervisor died before setting it up."""
    cdef pyshim_control c
    memset(&c, 0, sizeof(c))
    _name_supervisor(&c, pid, start, pidns)
    return (<char *>&c)[:CONTROL_HEADER_SIZE]


def set_program_pidns(view, uint64_t ino):
    """Names, in the control block at offset 0 of `view`, the pid namespace
    the run's program was started in (its shim may already have looked:
    then it read /proc instead)."""
    cdef pyshim_control *c = <pyshim_control *>_at(view, 0, sizeof(pyshim_control))
    pyshim_store64(&c.program_pidns, ino)


cdef flock _liveness_lock() noexcept:
    """The run's liveness lock (ipc/pyshim_ipc.h): a write lock on byte
    PYSHIM_LIVENESS_BYTE."""
    cdef flock lock
    memset(&lock, 0, sizeof(lock))
    lock.l_type = F_WRLCK
    lock.l_whence = 0  # SEEK_SET
    lock.l_start = PYSHIM_LIVENESS_BYTE
    lock.l_len = 1
    return lock


def liveness_held(int fd):
    """Whether someone holds the liveness lock of the control segment open
    as `fd` (its supervisor, even before the control block is written);
    None if the kernel cannot say."""
    cdef flock lock = _liveness_lock()
    if fcntl(fd, F_OFD_GETLK, &lock) != 0:
        return None
    return lock.l_type != F_UNLCK


def hold_liveness(int fd):
    """Takes the run's liveness lock (ipc/pyshim_ipc.h): an open-file-
    description write lock on byte PYSHIM_LIVENESS_BYTE of the control
    segment open as `fd`, held until the descriptor is closed.  Raises
    OSError if the kernel refuses it.  (Here rather than through Python's
    fcntl and struct, whose imports cost start-up.)"""
    cdef flock lock = _liveness_lock()
    if fcntl(fd, F_OFD_SETLK, &lock) != 0:
        e = pyshim_errno()
        raise OSError(e, os.strerror(e))


def set_filter(view, program):
    """Writes the run's seccomp filter (struct sock_filter[], as
    pyshim.ptrace.filter.build makes it) into the control block at offset 0
    of `view`, before the program starts."""
    cdef pyshim_control *c = <pyshim_control *>_at(view, 0, sizeof(pyshim_control))
    cdef bytes code = _bytes_of(program)
    cdef size_t n = len(code) // 8
    if len(code) % 8 or n > PYSHIM_FILTER_MAX:
        raise ValueError(f"a filter of {len(code)} bytes does not fit the control block")
    if n:
        memcpy(c.filter, <const char *>code, n * 8)
    c.filter_len = <uint32_t>n


cdef pyshim_control _control_shape
# Bytes of a control block that read_control needs: up to the doorbell.
CONTROL_HEADER_SIZE = _off(&_control_shape.doorbell_seq, &_control_shape)


def read_control(data):
    """(initialized, version, supervisor pid, supervisor start) of a control
    block's first CONTROL_HEADER_SIZE bytes (or more); initialized is False
    for a block still being created or not a control block at all."""
    cdef pyshim_control c
    cdef size_t n = CONTROL_HEADER_SIZE
    cdef bytes raw = _bytes_of(data)
    if <size_t>len(raw) < n:
        return False, 0, 0, 0
    memcpy(&c, <const char *>raw, n)
    return c.magic == PYSHIM_CONTROL_MAGIC, c.version, c.supervisor_pid, c.supervisor_start


def init_channel(view, size_t offset, control_desc, uint32_t index):
    """Initializes an idle channel in the block at `offset` of `view`, with
    bit `index` of the run's ready set."""
    if index >= PYSHIM_READY_CAPACITY:
        raise ValueError(f"a run has at most {PYSHIM_READY_CAPACITY} channels")
    cdef pyshim_channel *ch = <pyshim_channel *>_at(view, offset, sizeof(pyshim_channel))
    memset(ch, 0, PYSHIM_BLOCK_SIZE if PYSHIM_BLOCK_SIZE <= <size_t>len(view) - offset
           else sizeof(pyshim_channel))
    ch.index = index
    _fill_desc(&ch.control, control_desc)
    ch.version = PYSHIM_PROTOCOL_VERSION
    pyshim_store_seq(&ch.magic, PYSHIM_CHANNEL_MAGIC)


def retire_channel(view, size_t offset):
    """Marks the channel at `offset` free: inspection then skips the block."""
    cdef pyshim_channel *ch = <pyshim_channel *>_at(view, offset, sizeof(pyshim_channel))
    pyshim_store_seq(&ch.magic, 0)


# The ready set (ipc/pyshim_ready.h), on a control block's buffer: for tests
# and inspection.  The marking and taking release the GIL, so threads race
# for real.

def ready_mark(view, indices):
    """Marks each index of `indices` (a sequence of ints), as shims do."""
    cdef pyshim_control *c = <pyshim_control *>_at(view, 0, sizeof(pyshim_control))
    cdef list marks = [int(i) for i in indices]
    cdef Py_ssize_t i, n = len(marks)
    cdef uint32_t *idx = <uint32_t *>PyMem_Malloc(max(n, 1) * sizeof(uint32_t))
    if idx == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            idx[i] = marks[i]
        with nogil:
            for i in range(n):
                pyshim_ready_mark(c, idx[i])
    finally:
        PyMem_Free(idx)


def ready_take(view, uint32_t limit=PYSHIM_READY_CAPACITY):
    """The marked indices below `limit`, taken (as the dispatcher does)."""
    cdef pyshim_control *c = <pyshim_control *>_at(view, 0, sizeof(pyshim_control))
    cdef uint32_t *buf = <uint32_t *>PyMem_Malloc(max(limit, 1) * sizeof(uint32_t))
    cdef uint32_t n, empty = 0
    if buf == NULL:
        raise MemoryError()
    try:
        with nogil:
            n = pyshim_ready_take(c, buf, limit, &empty)
        return sorted([buf[i] for i in range(n)])
    finally:
        PyMem_Free(buf)


def ready_trim(view):
    """Clears summary bits over empty words; returns whether any mark waits."""
    cdef pyshim_control *c = <pyshim_control *>_at(view, 0, sizeof(pyshim_control))
    pyshim_ready_trim(c)
    return bool(pyshim_ready_any(c))


def ready_summary(view):
    """(top word, the mid words that are set) of the ready set."""
    cdef pyshim_control *c = <pyshim_control *>_at(view, 0, sizeof(pyshim_control))
    return c.ready_top, {m: c.ready_mid[m] for m in range(64) if c.ready_mid[m]}


_STATE_NAMES = {PYSHIM_CH_IDLE: "idle", PYSHIM_CH_EVENT: "event", PYSHIM_CH_REPLY: "reply",
                PYSHIM_CH_HELD: "held", PYSHIM_CH_COMPLETING: "completing",
                PYSHIM_CH_CANCELLED: "cancelled"}
_EVENT_NAMES = {PYSHIM_EV_START: "Start", PYSHIM_EV_SYSCALL: "Syscall",
                PYSHIM_EV_SYSCALL_DONE: "SyscallDone",
                PYSHIM_EV_ADD_THREAD_RESULT: "AddThreadResult", PYSHIM_EV_EXIT: "Exit"}
_REPLY_NAMES = {PYSHIM_RE_START: "Start", PYSHIM_RE_NATIVE: "DoNative",
                PYSHIM_RE_COMPLETE: "Complete", PYSHIM_RE_ADD_THREAD: "AddThread",
                PYSHIM_RE_KILL: "Kill"}


def decode_channel(data):
    """A channel block's bytes as a dict (read-only decoding for inspection)."""
    cdef pyshim_channel ch
    cdef bytes raw = _bytes_of(data)
    if <size_t>len(raw) < sizeof(ch):
        raise ValueError(f"a channel needs {sizeof(ch)} bytes, got {len(raw)}")
    memcpy(&ch, <const char *>raw, sizeof(ch))
    return {
        "magic_ok": ch.magic == PYSHIM_CHANNEL_MAGIC, "version": ch.version,
        "state": _STATE_NAMES.get(ch.state, f"invalid({ch.state})"),
        "shim_sleeping": bool(ch.shim_sleeping),
        "magic": ch.magic, "index": ch.index, "leave": bool(ch.leave),
        "event": {"tag": _EVENT_NAMES.get(ch.event.tag, f"invalid({ch.event.tag})"),
                  "pid": ch.event.pid, "tid": ch.event.tid, "nr": ch.event.nr,
                  "args": [ch.event.args[i] for i in range(6)],
                  "result": ch.event.result, "flags": ch.event.flags, "seq": ch.event.seq},
        "reply": {"tag": _REPLY_NAMES.get(ch.reply.tag, f"invalid({ch.reply.tag})"),
                  "flags": ch.reply.flags, "retval": ch.reply.retval, "seq": ch.reply.seq},
    }


