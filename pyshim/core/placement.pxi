# Where the supervisor's thread runs while its program starts
# (core/placement.h says why).

def leave_cpu():
    """Moves the calling thread to another CPU it may run on, its allowed
    set unchanged; returns that CPU, or -1 when it stayed.  Called right
    after a spawn, so that the program's loader and the supervisor's set-up
    run side by side instead of sharing the CPU the program started on."""
    return pyshim_leave_cpu()
