# Call: a trapped syscall as a handler sees it (included by _core.pyx).

cdef class Call:
    """One trapped syscall, as a handler sees it."""
    cdef readonly long nr
    cdef readonly int pid
    cdef readonly int tid
    cdef readonly uint64_t ip
    cdef readonly uint32_t seq      # the thread's conversation number
    cdef readonly bint restarted    # asked again after a signal interrupted its hold
    cdef uint64_t _args[6]
    cdef public object result
    cdef dict __dict__
    cdef object _dispatcher         # set while a before-handler may defer it
    cdef object _channel
    cdef object _deferred

    def defer(self):
        """Holds this call: the handler returns the Deferred, the thread waits
        (as in a blocking syscall: signals reach it) and every other thread
        runs on, until d.native(), d.complete(value) or d.fail(errno)."""
        if self._deferred is not None:
            return self._deferred
        if self.nr == _NR_EXIT or self.nr == _NR_EXIT_GROUP:
            raise ValueError(f"{self.name} cannot be deferred: it is one-way "
                             "(the thread is gone once it runs)")
        if self._dispatcher is None:
            raise RuntimeError("defer() is for a before-handler (sup.on), while it runs")
        self._deferred = Deferred(self, self._channel, self._dispatcher)
        return self._deferred

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
        if n == 0:
            return b""
        cdef bytearray buf = bytearray(n)
        cdef iovec local, remote
        local.iov_base = PyByteArray_AS_STRING(buf)
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
        cdef bytes raw = bytes(data)
        if len(raw) == 0:
            return
        cdef iovec local, remote
        local.iov_base = <void *><const char *>raw
        local.iov_len = len(raw)
        remote.iov_base = <void *>addr
        remote.iov_len = len(raw)
        cdef ssize_t put
        with nogil:
            put = process_vm_writev(self.pid, &local, 1, &remote, 1, 0)
        if put != len(raw):
            raise OSError(errno, os.strerror(errno), f"pid {self.pid} address {addr:#x}")

    def __repr__(self):
        return f"<Call {self.name} pid={self.pid} tid={self.tid} args={self.args}>"


cdef Call _make_call(pyshim_event *ev, int pid, int tid):
    """The call of event `ev`, from thread `tid` of process `pid` (as the
    supervisor sees them: the event's own may be another pid namespace's)."""
    cdef Call call = Call.__new__(Call)
    call.nr = ev.nr
    call.pid = pid
    call.tid = tid
    call.ip = ev.ip
    call.seq = ev.seq
    call.restarted = (ev.flags & PYSHIM_EF_RESTARTED) != 0
    memcpy(call._args, ev.args, sizeof(call._args))
    return call


cdef int64_t _reply_value(Call call, object rep, object default) except? -1:
    """The value a handler's answer stands for (`default` for None/NATIVE)."""
    try:
        _checked_reply(rep)
    except (TypeError, ValueError) as exc:
        raise HandlerError(f"the handler for {call.name} returned {rep!r}: {exc}", call) from None
    if rep is None or rep is NATIVE:
        return default
    if isinstance(rep, Fail):
        return -rep.errno
    return rep


