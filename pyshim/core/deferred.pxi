# Held calls and timers (included by _core.pyx).
#
# A Deferred is answered from any Python thread.  Every change of its state
# and every move of its channel out of HELD happens with the GIL held and no
# Python code in between, so the dispatcher and the answering threads see
# one order of events; the shim's withdrawal races only with the claim
# (HELD -> COMPLETING), and the compare-and-swap settles that race.

cdef enum:
    D_PENDING = 0      # its handler has not returned yet
    D_HELD = 1         # the channel holds the call
    D_ANSWERING = 2    # claimed: the dispatcher posts the answer next
    D_ANSWERED = 3
    D_INTERRUPTED = 4  # a signal handler interrupted the call first
    D_GONE = 5         # its thread (or the run) ended first

_D_STATES = ("pending", "held", "answering", "answered", "interrupted", "gone")
_UNANSWERED = object()


cdef object _checked_reply(object rep):
    """rep if it is something a call may be answered with: None, NATIVE,
    Fail(errno) or a 64-bit int; TypeError or ValueError otherwise."""
    if rep is None or rep is NATIVE or isinstance(rep, Fail):
        return rep
    if isinstance(rep, bool) or not isinstance(rep, int):
        raise TypeError(f"a call is answered with None, pyshim.NATIVE, an int or "
                        f"pyshim.Fail(errno), not {rep!r}")
    if not -2**63 <= rep < 2**63:
        raise ValueError(f"a syscall returns a 64-bit value, not {rep}")
    return rep


cdef class Deferred:
    """A held call (``call.defer()``).  Its thread waits, as in a blocking
    syscall, until one of native(), complete(value), fail(errno) or
    answer(reply) is called, from any Python thread.  Each returns True if
    the answer will reach the call, False if the call is no longer held (a
    signal interrupted it, or its thread is gone), and raises if the call
    was answered already."""
    cdef readonly Call call
    cdef readonly double since       # time.monotonic() when it was deferred
    cdef Channel channel
    cdef Dispatcher dispatcher
    cdef int _state
    cdef object early                # an answer given before the handler returned
    cdef object task                 # the async handler's future, cancelled if interrupted
    cdef list callbacks              # add_done_callback's, until the call ends

    def __cinit__(self, Call call, Channel channel, Dispatcher dispatcher):
        self.call = call
        self.channel = channel
        self.dispatcher = dispatcher
        self.since = monotonic()
        self._state = D_PENDING
        self.early = _UNANSWERED

    @property
    def pid(self):
        return self.call.pid

    @property
    def tid(self):
        return self.call.tid

    @property
    def state(self):
        """pending (its handler runs), held, answering (answered, the answer
        on its way), answered, interrupted or gone."""
        return _D_STATES[self._state]

    @property
    def interrupted(self):
        return self._state == D_INTERRUPTED

    def native(self):
        """Runs the call natively in its thread."""
        return self.answer(NATIVE)

    def complete(self, value):
        """Makes the call return `value` without running."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"complete() takes an int, not {value!r}")
        return self.answer(value)

    def fail(self, int code):
        """Makes the call fail with errno `code`."""
        return self.answer(Fail(code))

    def answer(self, rep):
        """Answers with what a handler would return (None, NATIVE, an int, Fail)."""
        _checked_reply(rep)
        if self._state == D_ANSWERING or self._state == D_ANSWERED or self.early is not _UNANSWERED:
            raise RuntimeError(f"{self.call.name} of tid {self.call.tid} was answered already")
        if self._state == D_INTERRUPTED or self._state == D_GONE:
            return False
        if self._state == D_PENDING:
            self.early = rep  # the handler's return delivers it
            return True
        if pyshim_cas(&self.channel.ch.state, PYSHIM_CH_HELD, PYSHIM_CH_COMPLETING) != PYSHIM_CH_HELD:
            # The shim withdrew the call (a signal handler runs in its thread).
            self.dispatcher._end_hold(self, D_INTERRUPTED)
            return False
        self._state = D_ANSWERING
        self.dispatcher._post((self, rep, None))
        return True

    def answer_with(self, handler):
        """Asks handler(call) now, as if the call had just reached it, and
        answers with what it returns: a reply, a coroutine (awaited on the
        run's event loop) or this Deferred (the handler answers it)."""
        self.dispatcher.answer_with(self, handler)

    def add_done_callback(self, fn):
        """fn(deferred) runs once the call is answered, interrupted or gone,
        in the thread that ended it (at once if it has ended)."""
        if self._state >= D_ANSWERED:
            fn(self)
        else:
            if self.callbacks is None:
                self.callbacks = []
            self.callbacks.append(fn)

    cdef _end(self, int state):
        self._state = state
        if self.task is not None and state != D_ANSWERED:
            self.task.cancel()
        self.task = None
        callbacks, self.callbacks = self.callbacks, None
        for fn in callbacks or ():
            try:
                fn(self)
            except BaseException as exc:
                self.dispatcher._callback_raised(fn, exc)

    def __repr__(self):
        return f"<Deferred {self.call.name} pid={self.call.pid} tid={self.call.tid} {self.state}>"


cdef class Timer:
    """A callback the dispatcher runs at `when` (time.monotonic()); cancel()
    keeps it from running."""
    cdef readonly double when
    cdef object fn
    cdef readonly bint cancelled

    def __cinit__(self, double when, fn):
        self.when = when
        self.fn = fn

    def cancel(self):
        """Keeps the callback from running (no effect once it has run)."""
        self.cancelled = True
        self.fn = None

    def __repr__(self):
        return f"<Timer at {self.when:.6f}{' cancelled' if self.cancelled else ''}>"
