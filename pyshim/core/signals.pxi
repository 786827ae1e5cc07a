# Signal forwarding and the child-subreaper flag (included by _core.pyx).

from libc.errno cimport ESRCH

cdef int _forward_pid = 0  # -1: the program ended (forwarding_program_gone)
cdef int _stop_signal = 0  # a forwarded signal with no program to take it
# The waker of a static program's tracer (pyshim/ptrace/waker.py), 0 if
# none: its stop ends the serving thread's wait, which no signal to this
# process would.
cdef int _stop_waker = 0
cdef sigaction_t _saved[65]


cdef void _forward(int sig, siginfo_t *info, void *ctx) noexcept nogil:
    # A signal the terminal sent to the foreground process group reached the
    # program too (si_code SI_KERNEL); one sent to us alone is passed on.
    # Once the program has ended (the run waits for the processes it left),
    # the signal is pyshim's own: the dispatcher stops the run.
    global _stop_signal
    cdef int saved = pyshim_errno()  # a handler must leave errno as it found it
    if _forward_pid > 0:
        if info.si_code != SI_KERNEL and kill(_forward_pid, sig) != 0 and pyshim_errno() == ESRCH:
            _stop_signal = sig
    elif _forward_pid < 0:
        _stop_signal = sig
    if _stop_signal and _stop_waker > 0:
        kill(_stop_waker, SIGSTOP)
    pyshim_set_errno(saved)


cdef void forwarding_program_gone(int pid) noexcept:
    """The program `pid` ended and was reaped: a signal forwarded from now
    on would reach nobody (or whoever gets the pid next), and stops the
    run instead."""
    global _forward_pid
    if _forward_pid == pid:
        _forward_pid = -1


def program_gone(int pid):
    """forwarding_program_gone, for the tracer of a static program."""
    forwarding_program_gone(pid)


def set_stop_waker(int pid):
    """The tracer's waker to stop when a forwarded signal finds no program
    (0: none; set before the run reaps the waker, or at once after a wait
    reaped a waker someone killed)."""
    global _stop_waker
    _stop_waker = pid


def stop_signal_error():
    """A signal pyshim was to pass on came after the program ended (the run
    waits for processes it left behind): the error that stops the run, as
    the signal would have stopped the program, instead of being lost; None
    if none came.  Taken once."""
    global _stop_signal
    cdef int sig = _stop_signal
    _stop_signal = 0
    if not sig:
        return None
    from pyshim.decode.xlat import SIGNALS
    from pyshim.errors import PyshimError

    name = SIGNALS[sig] if 0 < sig < len(SIGNALS) else f"signal {sig}"
    error = PyshimError(f"{name} after the program ended: the processes it left were stopped")
    error.exit_status = 128 + sig
    return error


def forward_signals(int pid, signals):
    """Passes `signals` sent to this process on to `pid` until
    restore_signals(); returns what restore_signals needs."""
    global _forward_pid, _stop_signal
    cdef sigaction_t act
    memset(&act, 0, sizeof(act))
    _stop_signal = 0
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


cdef extern from "<sys/prctl.h>" nogil:
    int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4,
              unsigned long arg5)
    int PR_SET_CHILD_SUBREAPER
    int PR_GET_CHILD_SUBREAPER


def set_child_subreaper(bint on):
    """Makes this process the child subreaper (orphaned descendants are
    re-parented to it) or not; returns the previous setting."""
    cdef int previous = 0
    prctl(PR_GET_CHILD_SUBREAPER, <unsigned long>&previous, 0, 0, 0)
    if prctl(PR_SET_CHILD_SUBREAPER, on, 0, 0, 0) != 0:
        raise OSError(errno, os.strerror(errno), "PR_SET_CHILD_SUBREAPER")
    return bool(previous)
