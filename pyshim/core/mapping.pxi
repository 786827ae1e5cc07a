# A run's segment mapped in the supervisor (included by _core.pyx).

from cpython.buffer cimport PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES


cdef class Mapping:
    """A shared, writable mapping of a whole segment, guarded against SIGBUS
    (core/guard.h): a program of the run that truncates the segment does
    not kill the supervisor.  Made here rather than with Python's mmap,
    which keeps a duplicate of the descriptor until it is closed: this holds
    no descriptor, so a run's memory can be given back after the run has
    returned (shm.py, retire) without leaving a file open meanwhile.  The
    pages are unmapped when the last reference goes (a Channel or a view
    into it keeps it), never under a live pointer.  Exports the buffer
    protocol: memoryview(m) reads and writes it."""
    cdef char *addr
    cdef Py_ssize_t size

    def __cinit__(self, int fd, Py_ssize_t size):
        if size <= 0:
            raise ValueError("a segment mapping needs a positive size")
        cdef int r = pyshim_guard_install()
        if r < 0:
            raise OSError(-r, f"cannot install the SIGBUS handler: {os.strerror(-r)}")
        cdef void *addr = mmap(NULL, <size_t>size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        if addr == MAP_FAILED:
            e = pyshim_errno()
            raise OSError(e, f"cannot map the segment: {os.strerror(e)}")
        self.addr = <char *>addr
        self.size = size
        pyshim_guard_add(addr, <size_t>size)  # every slot taken: it goes unguarded

    def __dealloc__(self):
        if self.addr != NULL:
            munmap(self.addr, <size_t>self.size)
            pyshim_guard_remove(self.addr)
            self.addr = NULL

    def __len__(self):
        return self.size

    def __getbuffer__(self, Py_buffer *view, int flags):
        # PyBuffer_FillInfo's work, by hand: it would overwrite the
        # view.obj Cython set (None, with a reference) without releasing it.
        view.obj = self
        view.buf = self.addr
        view.len = self.size
        view.readonly = 0
        view.itemsize = 1
        view.format = <char *>"B" if (flags & PyBUF_FORMAT) == PyBUF_FORMAT else NULL
        view.ndim = 1
        view.shape = &view.len if (flags & PyBUF_ND) == PyBUF_ND else NULL
        view.strides = &view.itemsize if (flags & PyBUF_STRIDES) == PyBUF_STRIDES else NULL
        view.suboffsets = NULL
        view.internal = NULL

    def __releasebuffer__(self, Py_buffer *view):
        pass


def guard_repairs():
    """How many pages of guarded segments were replaced after a SIGBUS."""
    return pyshim_guard_count()
