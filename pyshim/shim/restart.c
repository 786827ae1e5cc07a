/* Whether a held call that a program handler interrupted is asked again or
 * fails with EINTR: the rule the kernel applies to the same call when a
 * handler interrupts it natively (signal(7), "Interruption of system calls
 * and library functions by signal handlers"). */
#include <errno.h>
#include <linux/futex.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#include "shim.h"

enum {
    ALWAYS,      /* never fails with EINTR natively: asked again      */
    IF_RESTART,  /* -ERESTARTSYS: asked again if SA_RESTART, else EINTR */
    NEVER,       /* EINTR whatever SA_RESTART says                     */
};

/* Whether socket `fd` has a timeout (SO_RCVTIMEO or SO_SNDTIMEO): its
 * calls then fail with EINTR even under SA_RESTART. */
static int socket_timeout(long fd, int option)
{
    struct timespec tv = {0, 0}; /* struct timeval: two longs as well */
    uint32_t len = sizeof tv;
    if (RAW6(SYS_getsockopt, fd, SOL_SOCKET, option, &tv, &len, 0) < 0)
        return 0; /* not a socket */
    return tv.tv_sec != 0 || tv.tv_nsec != 0;
}

static int futex_class(const long a[6])
{
    switch (a[1] & FUTEX_CMD_MASK) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET:
        return a[3] ? NEVER : IF_RESTART; /* a timeout makes it a restart block */
    default:
        return ALWAYS; /* wakes, requeues; PI locks restart on their own */
    }
}

static int restart_class(long nr, const long a[6])
{
    switch (nr) {
    /* Reads and writes on sockets with a timeout fail; otherwise slow devices restart. */
    case SYS_read:
    case SYS_readv:
    case SYS_recvfrom:
    case SYS_recvmsg:
    case SYS_accept:
    case SYS_accept4:
        return socket_timeout(a[0], SO_RCVTIMEO) ? NEVER : IF_RESTART;
    case SYS_recvmmsg:
        return a[4] || socket_timeout(a[0], SO_RCVTIMEO) ? NEVER : IF_RESTART;
    case SYS_write:
    case SYS_writev:
    case SYS_sendto:
    case SYS_sendmsg:
    case SYS_sendmmsg:
    case SYS_connect:
        return socket_timeout(a[0], SO_SNDTIMEO) ? NEVER : IF_RESTART;
    case SYS_pread64:
    case SYS_preadv:
    case SYS_preadv2:
    case SYS_pwrite64:
    case SYS_pwritev:
    case SYS_pwritev2:
    case SYS_ioctl:
    case SYS_open:
    case SYS_openat:
    case SYS_openat2:
    case SYS_creat:
    case SYS_wait4:
    case SYS_waitid:
    case SYS_flock:
    case SYS_fcntl:
    case SYS_mq_timedsend:
    case SYS_mq_timedreceive:
    case SYS_getrandom:
    case SYS_splice:
    case SYS_tee:
    case SYS_vmsplice:
    case SYS_sendfile:
    case SYS_copy_file_range:
        return IF_RESTART;
    case SYS_futex:
        return futex_class(a);
    /* Waiting for signals, multiplexing, sleeping, System V IPC, AIO. */
    case SYS_pause:
    case SYS_rt_sigsuspend:
    case SYS_rt_sigtimedwait:
    case SYS_poll:
    case SYS_ppoll:
    case SYS_select:
    case SYS_pselect6:
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
    case SYS_epoll_pwait2:
    case SYS_nanosleep:
    case SYS_clock_nanosleep:
    case SYS_msgrcv:
    case SYS_msgsnd:
    case SYS_semop:
    case SYS_semtimedop:
    case SYS_io_getevents:
    case SYS_io_pgetevents:
        return NEVER;
    /* close fails with EINTR natively only after it released the fd, so
     * programs never retry it: asked again, it cannot leak the fd. */
    default:
        return ALWAYS;
    }
}

int shim_restarts(long nr, const long a[6], uint64_t interrupted_by)
{
    if (!(interrupted_by & SHIM_HOLD_SIGNALLED))
        return 1; /* no handler interrupted the wait itself */
    switch (restart_class(nr, a)) {
    case NEVER:
        return 0;
    case IF_RESTART:
        return (interrupted_by & SHIM_HOLD_SA_RESTART) != 0;
    default:
        return 1;
    }
}

/* Stores a - b (clamped at zero) in *out. */
static void remaining(struct timespec *out, const struct timespec *a, const struct timespec *b)
{
    long ns = (a->tv_sec - b->tv_sec) * 1000000000L + (a->tv_nsec - b->tv_nsec);
    if (ns < 0)
        ns = 0;
    out->tv_sec = ns / 1000000000L;
    out->tv_nsec = ns % 1000000000L;
}

void shim_interrupted(long nr, const long a[6], const struct timespec *since)
{
    const struct timespec *req;
    struct timespec *rem;
    if (nr == SYS_nanosleep) {
        req = (const struct timespec *)a[0];
        rem = (struct timespec *)a[1];
    } else if (nr == SYS_clock_nanosleep && !(a[1] & TIMER_ABSTIME)) {
        req = (const struct timespec *)a[2];
        rem = (struct timespec *)a[3];
    } else {
        return;
    }
    /* As natively: the request less the time the call has been going. */
    struct timespec want, now, gone, left;
    if (!rem || shim_copy_in(&want, req, sizeof want))
        return;
    RAW2(SYS_clock_gettime, CLOCK_MONOTONIC, &now);
    remaining(&gone, &now, since);
    remaining(&left, &want, &gone);
    shim_copy_out(rem, &left, sizeof left);
}
