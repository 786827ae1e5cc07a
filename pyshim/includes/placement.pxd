# Cython view of core/placement.h: the supervisor leaves its program's CPU.

cdef extern from "placement.h" nogil:
    int pyshim_leave_cpu()
