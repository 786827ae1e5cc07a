# Errors of the protocol, channels and replying on them (included by _core.pyx).

class ChannelError(Exception):
    """A channel held something the protocol does not allow."""


class ArmError(Exception):
    """The shim could not arm Syscall User Dispatch in the program."""


class HandlerError(Exception):
    """A Python handler raised or returned something that is not a reply."""

    def __init__(self, message, call=None):
        super().__init__(message)
        self.call = call



cdef class Channel:
    """One thread's channel, mapped in the supervisor.  `pid` is 0 until the
    thread's first Start (a clone child's pid is known only then)."""
    cdef pyshim_channel *ch
    cdef object _view
    cdef readonly object desc
    cdef public object block       # the allocator's Block, released with the channel
    cdef public int pid
    cdef public int tid
    # The pid its events carry: the process's pid in its own pid namespace,
    # when that is not the supervisor's (then other_ns); 0 until known.
    cdef public int seen_pid
    cdef public bint other_ns
    cdef public object parent_tid  # tid of the thread whose clone made it
    cdef public bint started
    cdef public bint new_process   # a fork's (not a thread's) first channel
    # Its last clone event said the process's children start in another
    # pid namespace than its own (PYSHIM_EF_PIDNS_MOVED).
    cdef public bint children_elsewhere
    cdef readonly int index        # its bit in the ready set; -1 once not served
    cdef list pending              # calls waiting for their SyscallDone
    # (child channel, call, whether the result is reported) of each clone
    # until its AddThreadResult: a signal handler may clone while the
    # thread's own clone is in flight.
    cdef list pending_clones
    cdef object held               # the Deferred whose call the channel holds

    def __cinit__(self, view, desc, int pid, block=None, parent_tid=None):
        self._view = view
        self.desc = tuple(desc)
        self.ch = <pyshim_channel *>_at(view, desc[1], sizeof(pyshim_channel))
        self.index = self.ch.index
        self.pid = pid
        self.tid = pid
        self.seen_pid = pid
        self.block = block
        self.parent_tid = parent_tid
        self.pending = []
        self.pending_clones = []

    def leave(self, bint ptrace=False):
        """The process is traced: its next exec starts its program without
        pyshim (the shim leaves the run's variables out of its environment).
        ptrace: the supervisor's own tracer seized it, and the shim installs
        the run's seccomp filter before that exec (ipc/pyshim_ipc.h)."""
        pyshim_store_seq(&self.ch.leave, PYSHIM_LEAVE_PTRACE if ptrace else PYSHIM_LEAVE_TRACED)

    @property
    def state(self):
        return _STATE_NAMES.get(pyshim_load_acquire(&self.ch.state), "invalid")


cdef inline void _publish(pyshim_channel *ch, uint32_t state) noexcept nogil:
    """Moves the channel to `state` and wakes the shim if it sleeps on it."""
    pyshim_store_seq(&ch.state, state)
    if pyshim_load_seq(&ch.shim_sleeping):
        syscall(SYS_futex, &ch.state, FUTEX_WAKE, 1, NULL, NULL, 0)


cdef inline void _reply(pyshim_channel *ch, uint32_t tag, uint32_t flags,
                        int64_t value, uint32_t seq) noexcept nogil:
    """Answers conversation `seq`.  Contract: the supervisor owns the channel
    (EVENT, or COMPLETING after its claim)."""
    ch.reply.tag = tag
    ch.reply.flags = flags
    ch.reply.retval = value
    ch.reply.seq = seq
    _publish(ch, PYSHIM_CH_REPLY)


