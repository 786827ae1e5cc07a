# The dispatcher loop (included by _core.pyx).

cdef enum:
    SPIN = 20000           # doorbell polls before sleeping (~tens of us)
    WAIT_NS = 20000000     # sleep at most 20 ms between liveness checks
    FAST_BUDGET = 4096     # answers in C before Python gets a look (signals, reaping)
    EXITING_WAIT_NS = 1000000  # 1 ms while a process is on its way out

REAP_EVERY_S = 0.02

cdef enum:
    CLONE_THREAD = 0x10000
    CLONE_VM = 0x100
    CLONE_VFORK = 0x4000
    SIGCHLD_ = 17

_NR_CLONE = _syscalls.NUMBERS["clone"]
_NR_FORK = _syscalls.NUMBERS["fork"]
_NR_VFORK = _syscalls.NUMBERS["vfork"]
_NR_EXIT = _syscalls.NUMBERS["exit"]
_CLONE_FAMILY = frozenset((_NR_CLONE, _NR_FORK, _NR_VFORK))
_EXEC_FAMILY = frozenset((_syscalls.NUMBERS["execve"], _syscalls.NUMBERS["execveat"]))


def clone_request(nr, args):
    """(flags, child_stack, ptid, ctid, newtls) of the clone the shim should
    perform for a trapped clone, fork or vfork."""
    if nr == _NR_CLONE:
        return tuple(args[:5])
    if nr == _NR_VFORK:
        return CLONE_VM | CLONE_VFORK | SIGCHLD_, 0, 0, 0, 0
    return SIGCHLD_, 0, 0, 0, 0


cdef class Dispatcher:
    """Serves every channel of one run, and keeps its table of processes and
    threads."""
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
    cdef object allocate
    cdef object release
    cdef int exiting
    cdef public object table
    cdef object on_exec

    def __cinit__(self):
        self.chans = NULL
        self.chan_pid = NULL

    def __init__(self, control_view, subscribed, before, after, allocate, release, table,
                 on_exec=None):
        """subscribed: syscall numbers; before/after: dicts of number ->
        callable; allocate() -> Block and release(Block) manage channel
        blocks; table: a pyshim.table.Table; on_exec(call) sees every exec
        before the user's handlers."""
        self.on_exec = on_exec
        self._ctl_view = control_view
        self.ctl = <pyshim_control *>_at(control_view, 0, sizeof(pyshim_control))
        self.channels = []
        self.before = [None] * PYSHIM_NR_MAX
        self.after = [None] * PYSHIM_NR_MAX
        self.allocate = allocate
        self.release = release
        self.table = table
        memset(self.subscribed, 0, sizeof(self.subscribed))
        memset(self.needs_python, 0, sizeof(self.needs_python))
        # Execs always come here: the supervisor must know which image each
        # process runs (and warn when the shim cannot enter it).
        for nr in set(subscribed) | _EXEC_FAMILY:
            self.subscribed[nr >> 3] |= 1 << (nr & 7)
        for nr, fn in before.items():
            self.before[nr] = fn
            self.needs_python[nr] = 1
        for nr, fn in after.items():
            self.after[nr] = fn
            self.needs_python[nr] = 1
        for nr in _CLONE_FAMILY | _EXEC_FAMILY:
            self.needs_python[nr] = 1

    def __dealloc__(self):
        PyMem_Free(self.chans)
        PyMem_Free(self.chan_pid)

    # -- the channel set --

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
        channel.index = self.nchan
        self.nchan += 1
        self.channels.append(channel)

    cdef _set_pid(self, Channel c, int pid):
        c.pid = pid
        self.chan_pid[c.index] = pid

    cdef _remove_channel(self, Channel c):
        """Stops serving `c` and gives its block back (swap with the last)."""
        cdef int i = c.index
        if i < 0:
            return  # already removed
        cdef int last = self.nchan - 1
        cdef Channel moved = self.channels[last]
        self.chans[i] = self.chans[last]
        self.chan_pid[i] = self.chan_pid[last]
        self.channels[i] = moved
        moved.index = i
        self.channels.pop()
        self.nchan = last
        c.index = -1
        if c.block is not None:
            self.release(c.block)
            c.block = None

    @property
    def channel_count(self):
        return self.nchan

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
                or self.needs_python[nr] or ch.event.pid != self.chan_pid[i]
                or self.chan_pid[i] == 0):
            return False
        _reply(ch, PYSHIM_RE_NATIVE, 0, 0)
        return True

    cdef int _wait(self, long timeout_ns) noexcept nogil:
        """Index of a channel with an event; -1 after `timeout_ns` or a
        signal; -2 after FAST_BUDGET answers given in C."""
        cdef uint32_t seq
        cdef int i, idx
        cdef int fast = 0
        cdef long r
        cdef timespec ts
        while True:
            seq = pyshim_load_seq(&self.ctl.doorbell_seq)
            idx = self._scan()
            if idx >= 0:
                if self._fast(idx):
                    fast += 1
                    if fast == FAST_BUDGET:
                        return -2
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
                    ts.tv_nsec = timeout_ns
                    r = syscall(SYS_futex, &self.ctl.doorbell_seq, FUTEX_WAIT, seq, &ts, NULL, 0)
                    pyshim_store_relaxed(&self.ctl.sleepers, 0)
                    if r == -1 and (errno == ETIMEDOUT or errno == EINTR):
                        return -1
                else:
                    pyshim_store_relaxed(&self.ctl.sleepers, 0)

    def serve(self):
        """Answers events until every process of the run is gone; returns the
        wait status of the first one (the program).  Raises what a handler
        raised, ChannelError on garbage or ArmError."""
        cdef int idx
        cdef long timeout
        last_reap = monotonic()
        while True:
            timeout = EXITING_WAIT_NS if self.exiting else WAIT_NS
            with nogil:
                idx = self._wait(timeout)
            if idx >= 0:
                self._handle(idx)
                if self.error is not None:
                    error, self.error = self.error, None
                    raise error
            else:
                PyErr_CheckSignals()
            if idx != -1 and monotonic() - last_reap < REAP_EVERY_S:
                continue  # a busy run still forgets its dead now and then
            self._reap()
            last_reap = monotonic()
            root = self.table.processes[self.table.root]
            if not root.alive and not self.table.live():
                return root.status

    cdef _reap(self):
        """Forgets the processes that died, and their channels."""
        dead = self.table.poll()
        if not dead:
            return
        gone = {proc.pid for proc in dead}
        for c in [c for c in self.channels if (<Channel>c).pid in gone]:
            # Its last word may still be waiting: an Exit posted just before
            # the process died is handled (after-hooks see exit_group) first.
            if (pyshim_load_acquire(&(<Channel>c).ch.state) == PYSHIM_CH_EVENT
                    and (<Channel>c).ch.event.tag == PYSHIM_EV_EXIT):
                self._handle((<Channel>c).index)
            self._remove_channel(c)
        self.exiting = 0

    # -- handling, with the GIL --

    cdef _fail(self, Channel c, exc):
        self.error = exc
        _reply(c.ch, PYSHIM_RE_KILL, 0, 0)

    cdef _handle(self, int idx):
        cdef Channel c = self.channels[idx]
        # One copy, validated and used from here on: the program can rewrite
        # its channel at any time, and nothing read twice may be trusted.
        cdef pyshim_event local
        memcpy(&local, &c.ch.event, sizeof(local))
        cdef pyshim_event *ev = &local
        cdef uint32_t tag = ev.tag
        if ev.pid != c.pid and not (tag == PYSHIM_EV_START and c.pid == 0):
            return self._fail(c, ChannelError(
                f"garbage in the channel of pid {c.pid}: event from pid {ev.pid}"))
        if tag == PYSHIM_EV_SYSCALL:
            return self._on_syscall(c, ev)
        if tag == PYSHIM_EV_SYSCALL_DONE:
            return self._on_done(c, ev)
        if tag == PYSHIM_EV_START:
            return self._on_start(c, ev)
        if tag == PYSHIM_EV_ADD_THREAD_RESULT:
            return self._on_add_thread_result(c, ev)
        if tag == PYSHIM_EV_EXIT:
            return self._on_exit(c, ev)
        self._fail(c, ChannelError(
            f"garbage in the channel of pid {c.pid}: unknown event tag {tag:#x}"))

    cdef _on_start(self, Channel c, pyshim_event *ev):
        if ev.version != PYSHIM_PROTOCOL_VERSION:
            return self._fail(c, ChannelError(
                f"pid {ev.pid} speaks protocol version {ev.version}, "
                f"this supervisor {PYSHIM_PROTOCOL_VERSION}"))
        if ev.result < 0:
            return self._fail(c, ArmError(
                f"the kernel refused Syscall User Dispatch ({os.strerror(-ev.result)}); "
                "pyshim needs Linux 5.11 or newer on x86-64"))
        if c.pid == 0:
            self._set_pid(c, ev.pid)
        if not c.started:
            c.started = True
            c.tid = ev.tid
            self.table.add_thread(ev.pid, ev.tid, c.parent_tid, c)
        else:
            self._exec_done(c, ev.tid)
        # A Start after a reported execve means the exec succeeded.
        while c.pending:
            call = c.pending.pop()
            if self._after(c, call, 0, None) is None:
                return
        memcpy(c.ch.reply.subscribed, self.subscribed, sizeof(self.subscribed))
        _reply(c.ch, PYSHIM_RE_START, 0, 0)

    cdef _exec_done(self, Channel c, int tid):
        """A new image started on `c`: the exec killed the process's other
        threads, and the exec'ing thread took the leader's tid."""
        for other in [o for o in self.channels if (<Channel>o).pid == c.pid and o is not c]:
            self._remove_channel(other)
        self.table.exec_done(c.pid, c.tid, tid)
        c.tid = tid

    cdef _on_syscall(self, Channel c, pyshim_event *ev):
        if ev.nr < 0 or ev.nr >= PYSHIM_NR_MAX:
            return self._fail(c, ChannelError(
                f"garbage in the channel of pid {c.pid}: syscall number {ev.nr}"))
        cdef Call call = _make_call(ev)
        if self.on_exec is not None and call.nr in _EXEC_FAMILY:
            try:
                self.on_exec(call)
            except BaseException as exc:
                return self._handler_raised(c, call, exc)
        handler = self.before[call.nr]
        value = None
        if handler is not None:
            try:
                rep = handler(call)
                if rep is not None and rep is not NATIVE:
                    value = _reply_value(call, rep, None)
            except BaseException as exc:
                return self._handler_raised(c, call, exc)
        if value is None and call.nr in _CLONE_FAMILY:
            return self._clone(c, call)
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

    cdef _clone(self, Channel c, Call call):
        """Allocates the new thread's channel and tells the shim to clone."""
        flags, stack, ptid, ctid, tls = clone_request(call.nr, call.args)
        try:
            block = self.allocate()
        except OSError:  # no shared memory left: the program sees EAGAIN
            _reply(c.ch, PYSHIM_RE_COMPLETE, 0, -errno_mod.EAGAIN)
            return
        cdef Channel child = Channel(block.view, block.desc, 0, block, c.tid)
        self.add_channel(child)
        c.pending_clone = (child, call)
        cdef pyshim_reply *re = &c.ch.reply
        _fill_desc(&re.child_block, block.desc)
        re.clone_flags = flags
        re.child_stack = stack
        re.ptid = ptid
        re.ctid = ctid
        re.newtls = tls
        _reply(c.ch, PYSHIM_RE_ADD_THREAD, 0, 0)

    cdef _on_add_thread_result(self, Channel c, pyshim_event *ev):
        if c.pending_clone is None:
            return self._fail(c, ChannelError(
                f"garbage in the channel of pid {c.pid}: a clone result nobody asked for"))
        child, call = c.pending_clone
        c.pending_clone = None
        if ev.result < 0:
            self._remove_channel(child)
        elif not ((<Call>call).nr == _NR_CLONE and (<Call>call).args[0] & CLONE_THREAD):
            # A new process: alive from now on for the run, even before it
            # says Start (and its channel goes when it dies without one).
            self.table.ensure_process(ev.result, c.pid)
            if (<Channel>child).pid == 0:
                self._set_pid(child, ev.result)
        value = ev.result
        if self.after[(<Call>call).nr] is not None:
            value = self._after(c, call, ev.result, ev.result)
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
        while c.pending:  # calls that never returned (exit, exit_group)
            call = c.pending.pop()
            call.result = None
            try:
                self.after[(<Call>call).nr](call, None)
            except BaseException as exc:
                self.error = exc
                return
        if ev.nr == _NR_EXIT:
            thread = self.table.thread(c.pid, c.tid)
            if thread is not None:
                thread.state = "exited"
            self._remove_channel(c)
        else:
            self.table.exiting(c.pid)
            self.exiting = 1

    cdef _handler_raised(self, Channel c, Call call, exc):
        if isinstance(exc, HandlerError) or not isinstance(exc, Exception):
            return self._fail(c, exc)
        err = HandlerError(f"the handler for {call.name} raised "
                           f"{type(exc).__name__}: {exc}", call)
        err.__cause__ = exc
        self._fail(c, err)
