/* Counts the syscalls a program makes through libc's exported syscall
 * wrappers, called from outside libc: what a shim exporting those wrappers
 * (Shadow's preload-libc road) would reach without a trap.  Calls libc
 * makes internally (stdio, readdir, malloc, fopen) bind inside libc and are
 * not counted, exactly as they would not reach such a shim.
 *
 * Preloaded by bench/bench_reach.py with $REACH_COUNTS naming a file of
 * 512 u64 counters (one per syscall number) that every process of the run
 * maps shared, so counts survive fork, exec and _exit.  Each wrapper adds
 * one to its syscall's counter and calls the next definition (libc's). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t *counts;

__attribute__((constructor)) static void map_counts(void)
{
    const char *path = getenv("REACH_COUNTS");
    if (!path)
        return;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    void *p = (void *)syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    syscall(SYS_close, fd);
    if (p != MAP_FAILED)
        counts = p;
}

static void count(long nr)
{
    if (counts && nr >= 0 && nr < 512)
        __atomic_fetch_add(&counts[nr], 1, __ATOMIC_RELAXED);
}

#define NEXT(name) \
    static __typeof__(name) *next_; \
    if (!next_) \
        next_ = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

/* A wrapper with fixed arguments: count `nr`, call libc's `name`. */
#define WRAP(ret, name, nr, params, args) \
    ret name params \
    { \
        NEXT(name); \
        count(nr); \
        return next_ args; \
    }

#include <dirent.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

WRAP(ssize_t, read, SYS_read, (int fd, void *b, size_t n), (fd, b, n))
WRAP(ssize_t, write, SYS_write, (int fd, const void *b, size_t n), (fd, b, n))
WRAP(int, close, SYS_close, (int fd), (fd))
WRAP(int, stat, SYS_newfstatat, (const char *p, struct stat *s), (p, s))
WRAP(int, fstat, SYS_newfstatat, (int fd, struct stat *s), (fd, s))
WRAP(int, lstat, SYS_newfstatat, (const char *p, struct stat *s), (p, s))
WRAP(int, fstatat, SYS_newfstatat, (int d, const char *p, struct stat *s, int f), (d, p, s, f))
WRAP(int, statx, SYS_statx, (int d, const char *p, int f, unsigned m, struct statx *s),
     (d, p, f, m, s))
WRAP(int, poll, SYS_poll, (struct pollfd *f, nfds_t n, int t), (f, n, t))
WRAP(off_t, lseek, SYS_lseek, (int fd, off_t o, int w), (fd, o, w))
WRAP(void *, mmap, SYS_mmap, (void *a, size_t l, int p, int f, int fd, off_t o), (a, l, p, f, fd, o))
WRAP(int, mprotect, SYS_mprotect, (void *a, size_t l, int p), (a, l, p))
WRAP(int, munmap, SYS_munmap, (void *a, size_t l), (a, l))
WRAP(int, madvise, SYS_madvise, (void *a, size_t l, int v), (a, l, v))
WRAP(int, sigaction, SYS_rt_sigaction, (int s, const struct sigaction *a, struct sigaction *o),
     (s, a, o))
WRAP(int, sigprocmask, SYS_rt_sigprocmask, (int h, const sigset_t *s, sigset_t *o), (h, s, o))
WRAP(int, pthread_sigmask, SYS_rt_sigprocmask, (int h, const sigset_t *s, sigset_t *o), (h, s, o))
WRAP(ssize_t, pread64, SYS_pread64, (int fd, void *b, size_t n, off_t o), (fd, b, n, o))
WRAP(ssize_t, pwrite64, SYS_pwrite64, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
WRAP(ssize_t, readv, SYS_readv, (int fd, const struct iovec *v, int n), (fd, v, n))
WRAP(ssize_t, writev, SYS_writev, (int fd, const struct iovec *v, int n), (fd, v, n))
WRAP(int, access, SYS_access, (const char *p, int m), (p, m))
WRAP(int, faccessat, SYS_faccessat, (int d, const char *p, int m, int f), (d, p, m, f))
WRAP(int, pipe, SYS_pipe, (int f[2]), (f))
WRAP(int, pipe2, SYS_pipe2, (int f[2], int fl), (f, fl))
WRAP(int, select, SYS_select, (int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t),
     (n, r, w, e, t))
WRAP(int, sched_yield, SYS_sched_yield, (void), ())
WRAP(int, dup, SYS_dup, (int fd), (fd))
WRAP(int, dup2, SYS_dup2, (int a, int b), (a, b))
WRAP(int, dup3, SYS_dup3, (int a, int b, int f), (a, b, f))
WRAP(int, nanosleep, SYS_nanosleep, (const struct timespec *a, struct timespec *b), (a, b))
WRAP(int, clock_nanosleep, SYS_clock_nanosleep,
     (clockid_t c, int f, const struct timespec *a, struct timespec *b), (c, f, a, b))
WRAP(pid_t, getpid, SYS_getpid, (void), ())
WRAP(pid_t, getppid, SYS_getppid, (void), ())
WRAP(uid_t, getuid, SYS_getuid, (void), ())
WRAP(uid_t, geteuid, SYS_geteuid, (void), ())
WRAP(gid_t, getgid, SYS_getgid, (void), ())
WRAP(gid_t, getegid, SYS_getegid, (void), ())
WRAP(pid_t, getpgrp, SYS_getpgrp, (void), ())
WRAP(int, setpgid, SYS_setpgid, (pid_t a, pid_t b), (a, b))
WRAP(pid_t, setsid, SYS_setsid, (void), ())
WRAP(int, getgroups, SYS_getgroups, (int n, gid_t *l), (n, l))
WRAP(int, socket, SYS_socket, (int a, int b, int c), (a, b, c))
WRAP(int, connect, SYS_connect, (int fd, const struct sockaddr *a, socklen_t l), (fd, a, l))
WRAP(int, bind, SYS_bind, (int fd, const struct sockaddr *a, socklen_t l), (fd, a, l))
WRAP(int, listen, SYS_listen, (int fd, int n), (fd, n))
WRAP(int, accept, SYS_accept, (int fd, struct sockaddr *a, socklen_t *l), (fd, a, l))
WRAP(ssize_t, sendto, SYS_sendto,
     (int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l),
     (fd, b, n, f, a, l))
WRAP(ssize_t, recvfrom, SYS_recvfrom,
     (int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l), (fd, b, n, f, a, l))
WRAP(ssize_t, sendmsg, SYS_sendmsg, (int fd, const struct msghdr *m, int f), (fd, m, f))
WRAP(ssize_t, recvmsg, SYS_recvmsg, (int fd, struct msghdr *m, int f), (fd, m, f))
WRAP(int, getsockname, SYS_getsockname, (int fd, struct sockaddr *a, socklen_t *l), (fd, a, l))
WRAP(int, setsockopt, SYS_setsockopt, (int fd, int l, int o, const void *v, socklen_t n),
     (fd, l, o, v, n))
WRAP(int, getsockopt, SYS_getsockopt, (int fd, int l, int o, void *v, socklen_t *n),
     (fd, l, o, v, n))
WRAP(int, socketpair, SYS_socketpair, (int a, int b, int c, int s[2]), (a, b, c, s))
WRAP(pid_t, wait4, SYS_wait4, (pid_t p, int *s, int o, struct rusage *r), (p, s, o, r))
WRAP(pid_t, waitpid, SYS_wait4, (pid_t p, int *s, int o), (p, s, o))
WRAP(pid_t, wait, SYS_wait4, (int *s), (s))
WRAP(int, kill, SYS_kill, (pid_t p, int s), (p, s))
WRAP(int, uname, SYS_uname, (struct utsname *u), (u))
WRAP(int, flock, SYS_flock, (int fd, int o), (fd, o))
WRAP(int, fsync, SYS_fsync, (int fd), (fd))
WRAP(int, ftruncate, SYS_ftruncate, (int fd, off_t l), (fd, l))
WRAP(char *, getcwd, SYS_getcwd, (char *b, size_t n), (b, n))
WRAP(int, chdir, SYS_chdir, (const char *p), (p))
WRAP(int, fchdir, SYS_fchdir, (int fd), (fd))
WRAP(int, rename, SYS_rename, (const char *a, const char *b), (a, b))
WRAP(int, renameat, SYS_renameat, (int d, const char *a, int e, const char *b), (d, a, e, b))
WRAP(int, mkdir, SYS_mkdir, (const char *p, mode_t m), (p, m))
WRAP(int, mkdirat, SYS_mkdirat, (int d, const char *p, mode_t m), (d, p, m))
WRAP(int, rmdir, SYS_rmdir, (const char *p), (p))
WRAP(int, link, SYS_link, (const char *a, const char *b), (a, b))
WRAP(int, unlink, SYS_unlink, (const char *p), (p))
WRAP(int, unlinkat, SYS_unlinkat, (int d, const char *p, int f), (d, p, f))
WRAP(int, symlink, SYS_symlink, (const char *a, const char *b), (a, b))
WRAP(ssize_t, readlink, SYS_readlink, (const char *p, char *b, size_t n), (p, b, n))
WRAP(ssize_t, readlinkat, SYS_readlinkat, (int d, const char *p, char *b, size_t n), (d, p, b, n))
WRAP(int, chmod, SYS_chmod, (const char *p, mode_t m), (p, m))
WRAP(int, fchmod, SYS_fchmod, (int fd, mode_t m), (fd, m))
WRAP(int, chown, SYS_chown, (const char *p, uid_t u, gid_t g), (p, u, g))
WRAP(int, fchown, SYS_fchown, (int fd, uid_t u, gid_t g), (fd, u, g))
WRAP(mode_t, umask, SYS_umask, (mode_t m), (m))
WRAP(int, getrlimit, SYS_prlimit64, (__rlimit_resource_t r, struct rlimit *l), (r, l))
WRAP(int, setrlimit, SYS_prlimit64, (__rlimit_resource_t r, const struct rlimit *l), (r, l))
WRAP(int, prlimit, SYS_prlimit64, (pid_t p, __rlimit_resource_t r, const struct rlimit *n, struct rlimit *o),
     (p, r, n, o))
WRAP(int, sigaltstack, SYS_sigaltstack, (const stack_t *s, stack_t *o), (s, o))
WRAP(pid_t, gettid, SYS_gettid, (void), ())
WRAP(int, epoll_wait, SYS_epoll_wait, (int fd, struct epoll_event *e, int n, int t), (fd, e, n, t))
WRAP(int, epoll_ctl, SYS_epoll_ctl, (int fd, int o, int f, struct epoll_event *e), (fd, o, f, e))
WRAP(int, epoll_create1, SYS_epoll_create1, (int f), (f))
WRAP(int, epoll_pwait, SYS_epoll_pwait,
     (int fd, struct epoll_event *e, int n, int t, const sigset_t *s), (fd, e, n, t, s))
WRAP(int, ppoll, SYS_ppoll, (struct pollfd *f, nfds_t n, const struct timespec *t,
                             const sigset_t *s), (f, n, t, s))
WRAP(int, utimensat, SYS_utimensat, (int d, const char *p, const struct timespec t[2], int f),
     (d, p, t, f))
WRAP(ssize_t, getrandom, SYS_getrandom, (void *b, size_t n, unsigned f), (b, n, f))
WRAP(ssize_t, getdents64, SYS_getdents64, (int fd, void *b, size_t n), (fd, b, n))

/* A wrapper whose last argument is optional (`...`): it is passed on as
 * `type`, whatever the caller gave. */
#define WRAP_VA(ret, name, nr, params, last, type, args) \
    ret name params \
    { \
        NEXT(name); \
        va_list ap; \
        va_start(ap, last); \
        type extra = va_arg(ap, type); \
        va_end(ap); \
        count(nr); \
        return next_ args; \
    }

WRAP_VA(int, open, SYS_openat, (const char *p, int f, ...), f, mode_t, (p, f, extra))
WRAP_VA(int, openat, SYS_openat, (int d, const char *p, int f, ...), f, mode_t, (d, p, f, extra))
WRAP_VA(int, fcntl, SYS_fcntl, (int fd, int cmd, ...), cmd, long, (fd, cmd, extra))
WRAP_VA(int, ioctl, SYS_ioctl, (int fd, unsigned long req, ...), req, long, (fd, req, extra))

long syscall(long nr, ...)
{
    NEXT(syscall);
    va_list ap;
    va_start(ap, nr);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    count(nr);
    return next_(nr, a, b, c, d, e, f);
}
