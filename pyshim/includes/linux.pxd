# Cython declarations of the Linux and libc interfaces the core uses.
from posix.types cimport pid_t
from posix.time cimport timespec

cdef extern from "<sys/syscall.h>" nogil:
    long SYS_futex

cdef extern from "<unistd.h>" nogil:
    long syscall(long number, ...)

cdef extern from "<sched.h>" nogil:
    int sched_yield()

cdef extern from "<linux/futex.h>" nogil:
    int FUTEX_WAIT
    int FUTEX_WAKE

cdef extern from "<sys/uio.h>" nogil:
    struct iovec:
        void *iov_base
        size_t iov_len
    ssize_t process_vm_readv(pid_t pid, const iovec *local, unsigned long liovcnt,
                             const iovec *remote, unsigned long riovcnt, unsigned long flags)
    ssize_t process_vm_writev(pid_t pid, const iovec *local, unsigned long liovcnt,
                              const iovec *remote, unsigned long riovcnt, unsigned long flags)

cdef extern from "<signal.h>" nogil:
    ctypedef struct sigset_t:
        pass
    ctypedef struct siginfo_t:
        int si_code
        int si_pid
    ctypedef void (*sa_sigaction_t)(int, siginfo_t *, void *) noexcept nogil
    struct sigaction_t "sigaction":
        sa_sigaction_t sa_sigaction
        sigset_t sa_mask
        int sa_flags
    int sigaction(int sig, const sigaction_t *act, sigaction_t *old)
    int sigemptyset(sigset_t *set)
    int kill(pid_t pid, int sig)
    int SA_SIGINFO
    int SIGSTOP
    int SA_RESTART
    int SI_KERNEL

cdef extern from "<fcntl.h>" nogil:
    struct flock:
        short l_type
        short l_whence
        long l_start
        long l_len
        int l_pid
    int F_OFD_SETLK
    int F_OFD_GETLK
    int F_WRLCK
    int F_UNLCK
    int fcntl(int fd, int cmd, ...)

cdef extern from "<errno.h>" nogil:
    int errno
    int EINTR
    int ETIMEDOUT
    int EAGAIN

cdef extern from *:
    """
    #include <errno.h>
    static inline int pyshim_errno(void) { return errno; }
    static inline void pyshim_set_errno(int e) { errno = e; }
    """
    int pyshim_errno() nogil
    void pyshim_set_errno(int e) nogil

cdef extern from "<sys/mman.h>" nogil:
    void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)
    int munmap(void *addr, size_t length)
    void *MAP_FAILED
    int PROT_READ
    int PROT_WRITE
    int MAP_SHARED
