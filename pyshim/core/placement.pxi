# Where the supervisor's thread runs while its program starts
# (core/placement.h says why and when).

def leave_cpu():
    """Moves the calling thread to another CPU it may run on when the
    machine has nothing else to run, its allowed CPUs as before; returns
    that CPU, or -1 when it stayed.  Called right after a spawn, so that the
    program's loader and the supervisor's set-up run side by side instead of
    sharing the CPU the program started on."""
    cdef int cpu
    with nogil:
        cpu = pyshim_leave_cpu()
    return cpu
