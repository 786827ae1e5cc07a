# The dispatcher loop (included by _core.pyx).

cdef enum:
    POLL_MIN_NS = 2000000  # no polling before sleep when the next timer is closer
    WAIT_NS = 20000000     # sleep at most 20 ms between liveness checks
    FAST_BUDGET = 4096     # answers in C before Python gets a look (signals, reaping)
    TRIM_AFTER = 64        # idle ready-set words looked at before a trim
    # While a process is on its way out (nothing tells the dispatcher when
    # it is gone): look after 50 us, then twice as long each time, up to 1 ms.
    EXITING_WAIT_MIN_NS = 50000
    EXITING_WAIT_MAX_NS = 1000000
    # What _wait returns besides a channel's index:
    W_TIMEOUT = -1         # the timeout passed, or a signal arrived
    W_BUDGET = -2          # FAST_BUDGET calls were answered in C
    W_POSTED = -3          # another thread posted an answer or a timer

REAP_EVERY_S = 0.02
SCAN_EVERY_S = 0.02        # a full scan of the channels, in case a ready mark was lost

cdef enum:
    CLONE_THREAD = 0x10000
    CLONE_VM = 0x100
    CLONE_VFORK = 0x4000
    CLONE_NEWPID = 0x20000000
    SIGCHLD_ = 17

_NR_CLONE = _syscalls.NUMBERS["clone"]
_NR_FORK = _syscalls.NUMBERS["fork"]
_NR_VFORK = _syscalls.NUMBERS["vfork"]
_NR_EXIT = _syscalls.NUMBERS["exit"]
_NR_EXIT_GROUP = _syscalls.NUMBERS["exit_group"]
_CLONE_FAMILY = frozenset((_NR_CLONE, _NR_FORK, _NR_VFORK))
_EXEC_FAMILY = frozenset((_syscalls.NUMBERS["execve"], _syscalls.NUMBERS["execveat"]))
cdef int64_t _NR_EXECVE = _syscalls.NUMBERS["execve"]
cdef int64_t _NR_EXECVEAT = _syscalls.NUMBERS["execveat"]


def clone_request(nr, args):
    """(flags, child_stack, ptid, ctid, newtls) of the clone the shim should
    perform for a trapped clone, fork or vfork."""
    if nr == _NR_CLONE:
        return tuple(args[:5])
    if nr == _NR_VFORK:
        return CLONE_VM | CLONE_VFORK | SIGCHLD_, 0, 0, 0, 0
    return SIGCHLD_, 0, 0, 0, 0


cdef inline bint _plain_reply(object rep):
    """What most handlers return: no need to look for a coroutine or a Deferred."""
    return rep is None or rep is NATIVE or type(rep) is int or type(rep) is Fail


cdef class Dispatcher:
    """Serves every channel of one run, and keeps its table of processes and
    threads.  Channels are found through the run's ready set, by index."""
    cdef pyshim_control *ctl
    cdef object _ctl_view
    # Served channels by ready-set index (NULL/None where none is served).
    cdef pyshim_channel **slots
    cdef int *slot_pid
    cdef uint8_t *slot_held        # the channel holds a call: Python looks at it
    cdef uint32_t *ready           # indices taken from the ready set, in order
    cdef uint32_t nready
    cdef uint32_t rpos
    cdef uint32_t idle_words       # looked at in vain since the last trim
    cdef pyshim_waiter waiter      # how busy its waits found the machine (pyshim_wait.h)
    cdef uint64_t poll_ticks       # how long a wait polls before it sleeps
    cdef uint64_t long_poll_until  # after an exec: when poll_ticks goes back (0: no limit)
    cdef int cap                   # length of the arrays above
    cdef int nchan
    cdef list by_index
    cdef uint8_t subscribed[PYSHIM_SUBSCRIBED_BYTES]
    cdef uint8_t needs_python[PYSHIM_NR_MAX]
    cdef list before
    cdef list after
    cdef object error
    cdef object allocate
    cdef object release
    cdef int exiting
    cdef long exiting_wait_ns      # the next wait while a process exits
    cdef public object table
    # Work other threads hand to the dispatcher, and its timers.
    cdef uint32_t poked
    cdef object posted             # deque of (Deferred, reply, exception)
    cdef list timers               # heap of (when, n, Timer)
    cdef object timer_count
    cdef dict held                 # Deferred -> None, oldest first
    cdef object task_loop          # () -> the asyncio loop async handlers run on
    cdef double last_scan
    cdef uint64_t guard_seen       # pyshim_guard_count() when last looked at

    def __cinit__(self):
        self.poll_ticks = PYSHIM_DISPATCHER_START_POLL_TICKS  # until the first Start
        self.slots = NULL
        self.slot_pid = NULL
        self.slot_held = NULL
        self.ready = NULL

    def __init__(self, control_view, subscribed, before, after, allocate, release, table,
                 task_loop=None):
        """subscribed: syscall numbers; before/after: dicts of number ->
        callable; allocate() -> Block and release(Block) manage channel
        blocks; table: a pyshim.table.Table; task_loop() gives the asyncio
        loop that runs async handlers."""
        self.task_loop = task_loop
        self._ctl_view = control_view
        self.ctl = <pyshim_control *>_at(control_view, 0, sizeof(pyshim_control))
        self.by_index = []
        self.before = [None] * PYSHIM_NR_MAX
        self.after = [None] * PYSHIM_NR_MAX
        self.allocate = allocate
        self.release = release
        self.table = table
        self.posted = deque()
        self.timers = []
        self.timer_count = itertools.count()
        self.held = {}
        self.guard_seen = pyshim_guard_count()
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
        PyMem_Free(self.slots)
        PyMem_Free(self.slot_pid)
        PyMem_Free(self.slot_held)
        PyMem_Free(self.ready)

    # -- the channel set --

    cdef _grow(self, int need):
        cdef int newcap = self.cap if self.cap else 64
        while newcap < need:
            newcap *= 2
        slots = <pyshim_channel **>PyMem_Realloc(self.slots, newcap * sizeof(void *))
        if slots == NULL:
            raise MemoryError()
        self.slots = slots
        pids = <int *>PyMem_Realloc(self.slot_pid, newcap * sizeof(int))
        if pids == NULL:
            raise MemoryError()
        self.slot_pid = pids
        held = <uint8_t *>PyMem_Realloc(self.slot_held, newcap)
        if held == NULL:
            raise MemoryError()
        self.slot_held = held
        ready = <uint32_t *>PyMem_Realloc(self.ready, newcap * sizeof(uint32_t))
        if ready == NULL:
            raise MemoryError()
        self.ready = ready
        for i in range(self.cap, newcap):
            self.slots[i] = NULL
            self.slot_pid[i] = 0
            self.slot_held[i] = 0
        self.by_index.extend([None] * (newcap - self.cap))
        self.cap = newcap

    def add_channel(self, Channel channel):
        cdef int i = channel.index
        if i < 0 or i >= PYSHIM_READY_CAPACITY:
            raise ValueError(f"channel index {i} outside the ready set")
        if i >= self.cap:
            self._grow(i + 1)
        if self.by_index[i] is not None:
            raise ValueError(f"channel index {i} is served already")
        self.slots[i] = channel.ch
        self.slot_pid[i] = channel.seen_pid
        self.slot_held[i] = 0
        self.by_index[i] = channel
        self.nchan += 1

    cdef _set_pid(self, Channel c, int pid):
        """`c`'s process is `pid` as the supervisor sees it; its events say
        so too unless it lives in another pid namespace."""
        c.pid = pid
        if not c.other_ns:
            self._set_seen(c, pid)

    cdef _set_seen(self, Channel c, int pid):
        """`c`'s events carry `pid`."""
        c.seen_pid = pid
        if c.index >= 0:
            self.slot_pid[c.index] = pid

    cdef _remove_channel(self, Channel c, bint release=True):
        """Stops serving `c` and gives its block back (unless not `release`:
        a thread that may still read it keeps it until the run ends)."""
        cdef int i = c.index
        if i < 0 or self.by_index[i] is not c:
            return  # already removed
        if c.held is not None:
            self._end_hold(c.held, D_GONE)
        self.slots[i] = NULL
        self.slot_pid[i] = 0
        self.slot_held[i] = 0
        self.by_index[i] = None
        self.nchan -= 1
        c.index = -1
        if release and c.block is not None:
            self.release(c.block)
        c.block = None

    @property
    def channel_count(self):
        return self.nchan

    cdef list _channels(self):
        return [c for c in self.by_index if c is not None]

    # -- waiting, without the GIL --

    cdef int _next_ready(self) noexcept nogil:
        """Index of the next channel with an event or a withdrawal, or -1."""
        cdef pyshim_channel *ch
        cdef uint32_t i, state
        while True:
            if self.rpos == self.nready:
                self.rpos = 0
                self.nready = pyshim_ready_take(self.ctl, self.ready, <uint32_t>self.cap,
                                                &self.idle_words)
                if self.idle_words >= TRIM_AFTER:
                    # Idle channels' summary bits: not worth loading on every look.
                    self.idle_words = 0
                    pyshim_ready_trim(self.ctl)
                if self.nready == 0:
                    return -1
            i = self.ready[self.rpos]
            self.rpos += 1
            ch = self.slots[i]
            if ch == NULL:
                continue  # a stale mark, or garbage: the state word is the truth
            state = pyshim_load_acquire(&ch.state)
            if state == PYSHIM_CH_EVENT or state == PYSHIM_CH_CANCELLED:
                return <int>i

    cdef bint _fast(self, int i) noexcept nogil:
        """Answers a subscribed call that has no Python handler: run natively."""
        cdef pyshim_channel *ch = self.slots[i]
        if pyshim_load_acquire(&ch.state) != PYSHIM_CH_EVENT:
            return False
        cdef int64_t nr = ch.event.nr
        if (ch.event.tag != PYSHIM_EV_SYSCALL or nr < 0 or nr >= PYSHIM_NR_MAX
                or self.needs_python[nr] or self.slot_held[i]
                or ch.event.pid != self.slot_pid[i] or self.slot_pid[i] == 0):
            return False
        _reply(ch, PYSHIM_RE_NATIVE, 0, 0, ch.event.seq)
        return True

    cdef int _wait(self, long timeout_ns, bint poll) noexcept nogil:
        """Index of a channel with something to handle, or W_TIMEOUT after
        `timeout_ns` (or a signal), W_BUDGET, W_POSTED; polls before it
        sleeps if `poll`."""
        cdef uint32_t seq
        cdef int idx
        cdef int fast = 0
        cdef long r
        cdef timespec ts
        while True:
            if pyshim_load_acquire(&self.poked):
                return W_POSTED
            idx = self._next_ready()
            if idx >= 0:
                if self._fast(idx):
                    fast += 1
                    if fast == FAST_BUDGET:
                        return W_BUDGET
                    continue
                return idx
            if poll and self._poll():
                continue
            # Sleep: announce it, then look once more (a shim that marked
            # before our announcement is seen now; one after it rings).
            seq = pyshim_load_seq(&self.ctl.doorbell_seq)
            pyshim_store_seq(&self.ctl.sleepers, 1)
            pyshim_ready_trim(self.ctl)
            if pyshim_ready_any(self.ctl) or pyshim_load_seq(&self.poked):
                pyshim_store_relaxed(&self.ctl.sleepers, 0)
                continue
            ts.tv_sec = timeout_ns // 1000000000
            ts.tv_nsec = timeout_ns % 1000000000
            r = syscall(SYS_futex, &self.ctl.doorbell_seq, FUTEX_WAIT, seq, &ts, NULL, 0)
            pyshim_store_relaxed(&self.ctl.sleepers, 0)
            if r == -1 and (errno == ETIMEDOUT or errno == EINTR):
                return W_TIMEOUT

    cdef bint _poll(self) noexcept nogil:
        """Whether a mark (or posted work) came while polling by the rule of
        ipc/pyshim_wait.h (yielding the CPU every few polls)."""
        cdef unsigned i
        cdef uint64_t before, start = pyshim_ticks()
        if self.long_poll_until and start > self.long_poll_until:
            self.poll_ticks = PYSHIM_DISPATCHER_POLL_TICKS
            self.long_poll_until = 0
        while not pyshim_wait_should_sleep(start, pyshim_ticks(), self.poll_ticks):
            for i in range(pyshim_wait_stride(&self.waiter)):
                if pyshim_ready_any(self.ctl) or pyshim_load_acquire(&self.poked):
                    pyshim_wait_ended(&self.waiter)
                    return True
                pyshim_cpu_relax()
            before = pyshim_ticks()
            sched_yield()
            pyshim_wait_yielded(&self.waiter, before, pyshim_ticks())
        pyshim_wait_ended(&self.waiter)
        return False

    cdef _poke(self):
        """Wakes the dispatcher for work another thread posted."""
        pyshim_store_seq(&self.poked, 1)
        if pyshim_load_seq(&self.ctl.sleepers):
            pyshim_fetch_add_seq(&self.ctl.doorbell_seq, 1)
            syscall(SYS_futex, &self.ctl.doorbell_seq, FUTEX_WAKE, 1, NULL, NULL, 0)

    cdef long _timer_ns(self):
        """Nanoseconds to the next timer (-1: none)."""
        cdef double delta
        while self.timers and (<Timer>(<tuple>self.timers[0])[2]).cancelled:
            heappop(self.timers)  # cancelled: no reason to wake for it
        if not self.timers:
            return -1
        delta = (<tuple>self.timers[0])[0] - monotonic()
        return <long>(delta * 1e9) if delta > 0 else 0

    def serve(self):
        """Answers events until every process of the run is gone; returns the
        wait status of the first one (the program).  Raises what a handler
        raised, ChannelError on garbage or ArmError."""
        cdef int idx
        cdef long timeout, timer
        cdef bint poll
        last_reap = monotonic()
        self.last_scan = last_reap
        try:
            while True:
                if pyshim_load_acquire(&self.poked):
                    pyshim_store_seq(&self.poked, 0)  # what it announced is looked at next
                if self.timers:
                    self._run_timers()
                if self.posted:
                    self._drain()
                if pyshim_guard_count() != self.guard_seen:
                    self._check_guard()
                self._check_stop_signal()
                self._raise_error()
                timeout = self.exiting_wait_ns if self.exiting else WAIT_NS
                timer = self._timer_ns()
                poll = timer < 0 or timer >= POLL_MIN_NS  # no polling past a timer
                if 0 <= timer < timeout:
                    timeout = timer
                if self.exiting and self.table.wait_for_ends(
                        (timer if 0 <= timer < WAIT_NS else WAIT_NS) / 1e9):
                    # Nothing can post any more: woken by the end itself
                    # (a pidfd), not by polling for it.
                    idx = W_TIMEOUT
                else:
                    with nogil:
                        idx = self._wait(timeout, poll)
                if idx >= 0:
                    self._handle(idx)
                elif idx == W_TIMEOUT:
                    if self.exiting and self.exiting_wait_ns < EXITING_WAIT_MAX_NS:
                        self.exiting_wait_ns *= 2
                    PyErr_CheckSignals()
                    if monotonic() - self.last_scan >= SCAN_EVERY_S:
                        self._scan_all()
                self._raise_error()
                if idx != W_TIMEOUT and monotonic() - last_reap < REAP_EVERY_S:
                    continue  # a busy run still forgets its dead now and then
                self._reap()
                last_reap = monotonic()
                root = self.table.processes[self.table.root]
                if not root.alive:
                    forwarding_program_gone(root.pid)
                if not root.alive and not self.table.live():
                    self._raise_error()  # a done-callback may have raised on the way out
                    return root.status
        finally:
            self._close()

    cdef _check_stop_signal(self):
        """A signal pyshim was to pass on came after the program ended (the
        run waits for processes it left behind): it stops the run, as it
        would have stopped the program, instead of being lost."""
        if not _stop_signal:
            return
        error = stop_signal_error()
        if self.error is None:
            self.error = error

    cdef _raise_error(self):
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    cdef _check_guard(self):
        """A guarded segment faulted (core/guard.h): if it is one of this
        run's, a program truncated it, and the run stops.  Segment 0 holds
        the first slab's channels too: a fault anywhere in it is reported
        as the control segment's (the guard knows segments, not pages)."""
        self.guard_seen = pyshim_guard_count()
        if pyshim_guard_faulted(self.ctl):
            self.error = ChannelError(
                "the run's control segment was truncated under the supervisor "
                "by a program of the run")
            return
        hit = [c for c in self._channels() if pyshim_guard_faulted((<Channel>c).ch)]
        if hit:
            pids = ", ".join(str(p) for p in sorted({(<Channel>c).pid for c in hit}))
            self.error = ChannelError(
                f"the shared memory of pid {pids} ({(<Channel>hit[0]).desc[0]}) was "
                "truncated under the supervisor by a program of the run")

    cdef _scan_all(self):
        """Handles whatever every channel holds (the ready set is a hint)."""
        self.last_scan = monotonic()
        for c in self._channels():
            if (<Channel>c).index >= 0 and pyshim_load_acquire(&(<Channel>c).ch.state) in (
                    PYSHIM_CH_EVENT, PYSHIM_CH_CANCELLED):
                self._handle((<Channel>c).index)
                if self.error is not None:
                    return

    cdef _reap(self):
        """Forgets the processes that died, and their channels."""
        dead = self.table.poll()
        if not dead:
            return
        gone = {proc.pid for proc in dead}
        for c in [c for c in self._channels() if (<Channel>c).pid in gone]:
            self._last_words(c)
            self._remove_channel(c)
        # Another process that announced its end may still be on its way out.
        self.exiting = self.table.any_ending()

    cdef _close(self):
        """The run is over: nothing held is answered any more."""
        for d in list(self.held):
            self._end_hold(d, D_GONE)
        for d, _, _ in self.posted:
            if d is not None:
                self._end_hold(d, D_GONE)
        self.posted.clear()
        self.timers.clear()

    # -- held calls, answers from other threads, timers --

    def held_calls(self):
        """The Deferreds whose calls are held now, oldest first."""
        return list(self.held)

    cdef _hold(self, Channel c, Deferred d):
        c.held = d
        self.slot_held[c.index] = 1
        self.held[d] = None
        d._state = D_HELD
        _publish(c.ch, PYSHIM_CH_HELD)

    cdef _end_hold(self, Deferred d, int state):
        """`d` is answered, interrupted or gone: it is no longer held."""
        if d._state >= D_ANSWERED:
            return
        cdef Channel c = d.channel
        if c.held is d:
            c.held = None
            if c.index >= 0:
                self.slot_held[c.index] = 0
        self.held.pop(d, None)
        d._end(state)

    def stop(self, exc):
        """Ends the run from any thread: serve() raises `exc` (its processes
        are then killed)."""
        self._post((None, None, exc))

    cdef _post(self, item):
        """Hands (Deferred, reply, exception) to the dispatcher, from any thread."""
        self.posted.append(item)
        self._poke()

    cdef _drain(self):
        cdef Deferred d
        while self.posted and self.error is None:
            d, rep, exc = self.posted.popleft()
            if d is None:
                self.error = exc  # stop(): the run ends with this error
                continue
            if exc is not None:
                self._task_failed(d, exc)
                continue
            if d.channel.index < 0:
                self._end_hold(d, D_GONE)  # its thread died after the claim
                continue
            self._end_hold(d, D_ANSWERED)
            self._answer(d.channel, d.call, rep)

    cdef _task_failed(self, Deferred d, exc):
        """An async handler raised: the run stops, as for any handler."""
        owned = (d._state == D_ANSWERING or
                 (d._state == D_HELD and pyshim_cas(&d.channel.ch.state, PYSHIM_CH_HELD,
                                                    PYSHIM_CH_COMPLETING) == PYSHIM_CH_HELD))
        self._end_hold(d, D_ANSWERED)
        if owned and d.channel.index >= 0:
            self._handler_raised(d.channel, d.call, exc)
        else:
            self._handler_raised(None, d.call, exc)

    def call_later(self, double delay, fn):
        """Runs fn() in the dispatcher `delay` seconds from now; returns a
        Timer.  Safe from any thread."""
        return self.add_timer(Timer(monotonic() + max(delay, 0.0), fn))

    def add_timer(self, Timer timer):
        """Schedules `timer` (at its `when`, at once if that has passed)."""
        if not callable(timer.fn) and not timer.cancelled:
            raise TypeError(f"a timer needs a callable, not {timer.fn!r}")
        heappush(self.timers, (timer.when, next(self.timer_count), timer))
        self._poke()
        return timer

    cdef _run_timers(self):
        cdef Timer timer
        now = monotonic()
        while self.timers and (<tuple>self.timers[0])[0] <= now and self.error is None:
            timer = heappop(self.timers)[2]
            fn, timer.fn = timer.fn, None
            if fn is None:
                continue
            try:
                fn()
            except HandlerError as exc:
                self.error = exc
            except BaseException as exc:
                err = HandlerError(f"the timer callback {fn!r} raised "
                                   f"{type(exc).__name__}: {exc}")
                err.__cause__ = exc
                self.error = err
            if self.posted:
                self._drain()

    cdef Deferred _start_task(self, Call call, coro):
        """Runs an async handler's coroutine on the task loop; its call waits."""
        try:
            d = call.defer()
        except BaseException:
            coro.close()  # never awaited: say nothing more about it
            raise
        self._adopt(d, coro)
        return d

    cdef _adopt(self, Deferred d, coro):
        """d is answered with what `coro` returns, run on the task loop."""
        if self.task_loop is None:
            coro.close()
            raise HandlerError(f"the handler for {d.call.name} is async, but this run "
                               "has no event loop", d.call)
        import asyncio
        d.task = asyncio.run_coroutine_threadsafe(coro, self.task_loop())
        d.task.add_done_callback(partial(self._task_done, d))

    def _task_done(self, Deferred d, fut):
        """In the task loop's thread: the coroutine returned its answer."""
        if fut.cancelled():
            if d._state == D_PENDING or d._state == D_HELD:  # not by pyshim
                self._post((d, None, HandlerError(
                    f"the async handler for {d.call.name} was cancelled", d.call)))
            return
        exc = fut.exception()
        if exc is None:
            self._answer_held(d, fut.result())
        else:
            self._post((d, None, exc))

    cdef _answer_held(self, Deferred d, rep):
        """Answers d with a handler's return value, from any thread: d itself
        means the handler answers (or will answer) it."""
        if rep is d:
            return
        try:
            d.answer(rep)
        except RuntimeError:
            pass  # the handler answered it already
        except (TypeError, ValueError) as bad:
            self._post((d, None, HandlerError(
                f"the handler for {d.call.name} returned {rep!r}: {bad}", d.call)))

    def answer_with(self, Deferred d, handler):
        """Asks `handler` about d's call now, as if the call had just reached
        it, and answers d with what it returns (a reply, a coroutine to
        await, or d itself).  For a hold that precedes a handler (chaos)."""
        if d._state != D_HELD and d._state != D_PENDING:
            return
        try:
            rep = handler(d.call)
            if isinstance(rep, Coroutine):
                self._adopt(d, rep)
                return
        except BaseException as exc:
            self._post((d, None, exc))
            return
        self._answer_held(d, rep)

    # -- handling, with the GIL --

    cdef _fail(self, Channel c, exc):
        self.error = exc
        if c is not None:
            _reply(c.ch, PYSHIM_RE_KILL, 0, 0, 0)

    cdef _handle(self, int idx):
        cdef Channel c = self.by_index[idx]
        cdef uint32_t state = pyshim_load_acquire(&c.ch.state)
        if c.held is not None and state != PYSHIM_CH_HELD and state != PYSHIM_CH_COMPLETING:
            # The shim withdrew its held call: a signal handler runs in the thread.
            self._end_hold(c.held, D_INTERRUPTED)
        if state == PYSHIM_CH_CANCELLED:
            pyshim_cas(&c.ch.state, PYSHIM_CH_CANCELLED, PYSHIM_CH_IDLE)
            return
        if state != PYSHIM_CH_EVENT:
            return  # a stale mark
        # One copy, validated and used from here on: the program can rewrite
        # its channel at any time, and nothing read twice may be trusted.
        cdef pyshim_event local
        memcpy(&local, &c.ch.event, sizeof(local))
        cdef pyshim_event *ev = &local
        cdef uint32_t tag = ev.tag
        if ev.pid != c.seen_pid and not (tag == PYSHIM_EV_START and (
                c.seen_pid == 0 or ev.flags & PYSHIM_EF_OTHER_PIDNS)):
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
        if ev.result < -4095 or ev.result > 0:
            return self._fail(c, ChannelError(
                f"garbage in the channel of pid {c.pid or ev.pid}: Start with result {ev.result}"))
        if ev.result < 0:
            return self._fail(c, ArmError(
                f"the kernel refused Syscall User Dispatch ({os.strerror(-ev.result)}); "
                "pyshim needs Linux 5.11 or newer on x86-64"))
        cdef int tid = ev.tid
        # A thread of a known process (a new thread, a new image, the run's
        # first program) with no exec after-hooks to run first is answered
        # now and goes on while the table learns of it: the bookkeeping below
        # overlaps the program's start instead of delaying it.  Nothing is
        # lost by the order: this dispatcher handles the thread's next event
        # only after this one, and a failure below still ends the run.  A new
        # process waits: its pidfd is opened below, and once answered it
        # could end (its Exit is one-way) and be reaped before that.  So
        # does one in another pid namespace, whose pid /proc tells below.
        cdef bint answered = not (c.pending or c.new_process or ev.flags & PYSHIM_EF_OTHER_PIDNS)
        if answered:
            memcpy(c.ch.reply.subscribed, self.subscribed, sizeof(self.subscribed))
            _reply(c.ch, PYSHIM_RE_START, 0, 0, ev.seq)
        if ev.flags & PYSHIM_EF_OTHER_PIDNS:
            # Its pids are its namespace's: the supervisor's view comes from
            # /proc (its parent's children, their NSpid lines).
            c.other_ns = True
            self._set_seen(c, ev.pid)
            if c.pid == 0:
                parent = self.table._pid_of(c.parent_tid)
                self._set_pid(c, pidns.child_pid(parent, ev.pid) if c.new_process
                              else (parent or 0))
                if c.pid == 0 and c.new_process:
                    # Not among its parent's children: the parent ended (a
                    # thread's exit_group) during the fork.  Stopped with a
                    # word, rather than left waiting or taken for pid 0; its
                    # block is not given again while it may still read it.
                    _reply(c.ch, PYSHIM_RE_KILL, 0, 0, ev.seq)
                    self._remove_channel(c, release=False)
                    sys.stderr.write(
                        f"pyshim: warning: a new process in another pid namespace (pid "
                        f"{ev.pid} there) is stopped: its parent ended during the fork, so "
                        "its pid could not be found in /proc\n")
                    sys.stderr.flush()
                    return
            if not c.started:
                tid = pidns.task_tid(c.pid, ev.tid) if ev.tid != ev.pid else c.pid
        elif c.pid == 0:
            self._set_pid(c, ev.pid)
        self.poll_ticks = PYSHIM_DISPATCHER_POLL_TICKS
        self.long_poll_until = 0
        if not c.started:
            c.started = True
            c.tid = tid
            if c.new_process:
                self._new_process(c.pid, self.table._pid_of(c.parent_tid), c)
            self.table.add_thread(c.pid, tid, c.parent_tid, c)
            if c.other_ns:
                self.table.processes[c.pid].ns_pid = ev.pid
        else:
            self._exec_done(c, c.pid)  # the exec'ing thread is now the leader
        if answered:
            return
        # A Start after a reported execve means the exec succeeded: its
        # after-hooks run before the new image's first call.
        while c.pending:
            call = c.pending.pop()
            if self._after(c, call, 0, None) is None:
                return
        memcpy(c.ch.reply.subscribed, self.subscribed, sizeof(self.subscribed))
        _reply(c.ch, PYSHIM_RE_START, 0, 0, ev.seq)

    cdef _new_process(self, int pid, parent, Channel keep):
        """Registers the new process `pid`, whose first channel is `keep`.  An
        entry of a dead process under the same pid (the kernel gave it again)
        is forgotten first, with its channels."""
        keep.new_process = False  # registered: the other path finds it there
        if self.table.stale(pid):
            for old in [o for o in self._channels() if (<Channel>o).pid == pid and o is not keep]:
                self._last_words(old)
                self._remove_channel(old)
            self.table.retire(pid)
        self.table.ensure_process(pid, parent)

    cdef _last_words(self, Channel c):
        """What `c` holds that its thread does not wait to see answered, handled
        before the channel goes: an Exit (after-hooks see exit_group), or a
        fork's one-way result, whose child the run must know of (the parent
        may be gone, with other threads or by an exit right after it)."""
        if pyshim_load_acquire(&c.ch.state) != PYSHIM_CH_EVENT or c.index < 0:
            return
        cdef uint32_t tag = c.ch.event.tag
        if tag == PYSHIM_EV_EXIT or tag == PYSHIM_EV_ADD_THREAD_RESULT:
            self._handle(c.index)

    cdef _exec_done(self, Channel c, int tid):
        """A new image started on `c`: the exec killed the process's other
        threads, and the exec'ing thread took the leader's tid."""
        for other in [o for o in self._channels() if (<Channel>o).pid == c.pid and o is not c]:
            self._last_words(other)
            self._remove_channel(other)
        self.table.exec_done(c.pid, c.tid, tid)
        c.tid = tid

    cdef _on_syscall(self, Channel c, pyshim_event *ev):
        if ev.nr < 0 or ev.nr >= PYSHIM_NR_MAX:
            return self._fail(c, ChannelError(
                f"garbage in the channel of pid {c.pid}: syscall number {ev.nr}"))
        if ev.nr == _NR_EXECVE or ev.nr == _NR_EXECVEAT:
            # A new image's Start comes ~0.5 ms after the exec, about when a
            # wait would go to sleep, and waking the dispatcher costs it
            # ~20 us: poll as long as for the run's first program, for that
            # long (an exec that fails, or leaves the run, sends no Start).
            self.poll_ticks = PYSHIM_DISPATCHER_START_POLL_TICKS
            self.long_poll_until = pyshim_ticks() + PYSHIM_DISPATCHER_START_POLL_TICKS
        if ev.nr in _CLONE_FAMILY:
            c.children_elsewhere = (ev.flags & PYSHIM_EF_PIDNS_MOVED) != 0
        cdef Call call = _make_call(ev, c.pid, c.tid)
        handler = self.before[call.nr]
        rep = None
        cdef Deferred d
        if handler is not None:
            call._dispatcher = self
            call._channel = c
            try:
                rep = handler(call)
                if not _plain_reply(rep) and isinstance(rep, Coroutine):
                    rep = self._start_task(call, rep)
            except BaseException as exc:
                if call._deferred is not None:
                    self._end_hold(call._deferred, D_GONE)
                return self._handler_raised(c, call, exc)
            finally:
                call._dispatcher = None
        d = call._deferred
        if d is not None:
            if rep is not d:
                self._end_hold(d, D_GONE)
                return self._handler_raised(c, call, HandlerError(
                    f"the handler for {call.name} deferred the call but returned {rep!r}; "
                    "a handler that defers returns the Deferred", call))
            if d.early is _UNANSWERED:
                return self._hold(c, d)
            rep = d.early
            d._end(D_ANSWERED)
        elif type(rep) is Deferred:
            return self._handler_raised(c, call, HandlerError(
                f"the handler for {call.name} returned the Deferred of another call", call))
        self._answer(c, call, rep)

    cdef _answer(self, Channel c, Call call, object rep):
        """Answers `call` with what its handler returned.  Contract: the
        supervisor owns the channel (EVENT, or COMPLETING after a claim)."""
        value = None
        if rep is not None and rep is not NATIVE:
            try:
                value = _reply_value(call, rep, None)
            except BaseException as exc:
                return self._handler_raised(c, call, exc)
        if value is None and call.nr in _CLONE_FAMILY:
            return self._clone(c, call)
        after = self.after[call.nr]
        if value is None:
            if after is not None:
                c.pending.append(call)
                _reply(c.ch, PYSHIM_RE_NATIVE, PYSHIM_RF_REPORT, 0, call.seq)
            else:
                _reply(c.ch, PYSHIM_RE_NATIVE, 0, 0, call.seq)
            return
        if after is not None:
            value = self._after(c, call, value, value)
            if value is None:
                return
        _reply(c.ch, PYSHIM_RE_COMPLETE, 0, value, call.seq)

    cdef _clone(self, Channel c, Call call):
        """Allocates the new thread's channel and tells the shim to clone."""
        flags, stack, ptid, ctid, tls = clone_request(call.nr, call.args)
        try:
            block = self.allocate()
        except (OSError, ValueError):  # no shared memory (or ready bits) left: EAGAIN
            _reply(c.ch, PYSHIM_RE_COMPLETE, 0, -errno_mod.EAGAIN, call.seq)
            return
        cdef Channel child = Channel(block.view, block.desc, 0, block, c.tid)
        child.new_process = not (flags & CLONE_THREAD)
        self.add_channel(child)
        # The parent's result is one-way, the parent going on at once, unless
        # an after-hook may replace it, or the child is in another pid
        # namespace than the supervisor: its pid is then found in its
        # parent's /proc children (pidns.child_pid), so the parent must not
        # exit, nor reap a child SIGKILLed early, before that is done.
        cdef bint report = (self.after[call.nr] is not None or c.other_ns
                            or c.children_elsewhere or (flags & CLONE_NEWPID) != 0)
        c.pending_clones.append((child, call, report))
        cdef pyshim_reply *re = &c.ch.reply
        _fill_desc(&re.child_block, block.desc)
        re.clone_flags = flags
        re.child_stack = stack
        re.ptid = ptid
        re.ctid = ctid
        re.newtls = tls
        _reply(c.ch, PYSHIM_RE_ADD_THREAD, PYSHIM_RF_REPORT if report else 0, 0, call.seq)

    cdef _on_add_thread_result(self, Channel c, pyshim_event *ev):
        # (wraparound is off in this module: no [-1])
        cdef Py_ssize_t n = len(c.pending_clones)
        if n == 0 or (<Call>(<tuple>c.pending_clones[n - 1])[1]).nr != ev.nr:
            return self._fail(c, ChannelError(
                f"garbage in the channel of pid {c.pid}: a clone result nobody asked for"))
        child, call, report = c.pending_clones.pop()  # the innermost clone ends first
        if ev.result < 0:
            self._remove_channel(child)
        elif not ((<Call>call).nr == _NR_CLONE and (<Call>call).args[0] & CLONE_THREAD):
            # A new process: alive from now on for the run, even before it
            # says Start (and its channel goes when it dies without one).
            # The result is the parent's namespace's pid.
            real = (<Channel>child).pid or (
                pidns.child_pid(c.pid, ev.result) if c.other_ns else ev.result)
            if real == 0:
                # Not among the parent's children: gone (reaped by another
                # thread) or missed (/proc's list is imprecise while others
                # fork or exit).  Its Start, if it comes, decides.
                pass
            elif (<Channel>child).new_process:
                self._new_process(real, c.pid, child)
            else:  # its Start came first and registered it
                self.table.ensure_process(real, c.pid)
            if (<Channel>child).pid == 0:
                self._set_pid(child, real)
        if not report:  # one-way: the parent went on; the channel is its again
            _publish(c.ch, PYSHIM_CH_IDLE)
            return
        value = ev.result
        if self.after[(<Call>call).nr] is not None:
            value = self._after(c, call, ev.result, ev.result)
            if value is None:
                return
        _reply(c.ch, PYSHIM_RE_COMPLETE, 0, value, ev.seq)

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
            _reply(c.ch, PYSHIM_RE_COMPLETE, 0, value, ev.seq)

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
            self.exiting_wait_ns = EXITING_WAIT_MIN_NS

    def _callback_raised(self, fn, exc):
        """A Deferred's done-callback raised: the run stops, as for a handler."""
        if self.error is None:
            err = HandlerError(f"the callback {fn!r} raised {type(exc).__name__}: {exc}")
            err.__cause__ = exc
            self.error = err
            self._poke()

    cdef _handler_raised(self, Channel c, Call call, exc):
        if isinstance(exc, HandlerError) or not isinstance(exc, Exception):
            return self._fail(c, exc)
        err = HandlerError(f"the handler for {call.name} raised "
                           f"{type(exc).__name__}: {exc}", call)
        err.__cause__ = exc
        self._fail(c, err)
