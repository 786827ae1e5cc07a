# Cython view of core/lock.h: the supervisor's liveness lock.
from pyshim.includes.ipc cimport pyshim_control

cdef extern from "lock.h" nogil:
    int pyshim_lock_init(pyshim_control *ctl)
    int pyshim_lock_hold(pyshim_control *ctl)
    void pyshim_lock_release(pyshim_control *ctl)
