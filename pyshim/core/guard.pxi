# Segments guarded against SIGBUS (core/guard.h; included by _core.pyx).

def guard_segment(view):
    """Registers the mapping `view` (an mmap of a run's segment): a SIGBUS
    in it, after a program truncated the segment, no longer kills the
    supervisor (the page reads zeros and the dispatcher stops the run).
    Returns the mapping's address, for unguard_segment."""
    cdef char *start = _at(view, 0, 0)
    cdef int r = pyshim_guard_install()
    if r < 0:
        raise OSError(-r, f"cannot install the SIGBUS handler: {os.strerror(-r)}")
    pyshim_guard_add(start, len(view))  # every slot taken: it goes unguarded
    return <uintptr_t>start


def unguard_segment(uintptr_t start):
    """Forgets a mapping guard_segment registered, once it is unmapped."""
    pyshim_guard_remove(<void *>start)


def guard_repairs():
    """How many pages of guarded segments were replaced after a SIGBUS."""
    return pyshim_guard_count()
