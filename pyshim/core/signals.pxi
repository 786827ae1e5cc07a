# Signal forwarding and the child-subreaper flag (included by _core.pyx).

cdef int _forward_pid = 0
cdef sigaction_t _saved[65]


cdef void _forward(int sig, siginfo_t *info, void *ctx) noexcept nogil:
    # A signal the terminal sent to the foreground process group reached the
    # program too (si_code SI_KERNEL); one sent to us alone is passed on.
    cdef int saved = pyshim_errno()  # a handler must leave errno as it found it
    if _forward_pid > 0 and info.si_code != SI_KERNEL:
        kill(_forward_pid, sig)
    pyshim_set_errno(saved)


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
