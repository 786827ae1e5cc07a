# Cython view of core/guard.h: SIGBUS on a shrunken segment.
from libc.stdint cimport uint64_t

cdef extern from "guard.h" nogil:
    int pyshim_guard_install()
    int pyshim_guard_add(void *start, size_t length)
    void pyshim_guard_remove(void *start)
    uint64_t pyshim_guard_count()
    int pyshim_guard_faulted(const void *addr)
