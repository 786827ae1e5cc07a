/* A signalfd that includes SIGSYS, in a program that blocks SIGSYS: what
 * it reads and how poll, select and epoll see it must be as natively,
 * although under pyshim the kernel never holds the program's SIGSYS
 * pending by itself.  argv[1] picks a mode; the program prints what it
 * observed.  Waits for another thread or process to block are exact: the
 * waiter watches /proc/<pid>/task/<tid>/syscall until the blocked call
 * shows there (no sleeps). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "say.h"

static void block(int how, int sig)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(how, &s, 0);
}

static int make_sfd(int flags, int sig2)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGSYS);
    if (sig2)
        sigaddset(&s, sig2);
    int fd = signalfd(-1, &s, flags);
    if (fd < 0) {
        out("signalfd: %s\n", strerror(errno));
        exit(2);
    }
    return fd;
}

static const char *code_name(int code)
{
    return code == SI_USER ? "SI_USER" : code == SI_TKILL ? "SI_TKILL" :
           code == SI_QUEUE ? "SI_QUEUE" : "other";
}

/* Prints one siginfo read from the signalfd; `self`/`other` name the
 * sender pids the caller expects. */
static void show_info(const struct signalfd_siginfo *si, pid_t other)
{
    const char *who = (pid_t)si->ssi_pid == getpid() ? "self" :
                      (other && (pid_t)si->ssi_pid == other) ? "other" : "unknown";
    out("signo %u code %s pid %s", si->ssi_signo, code_name(si->ssi_code), who);
    if (si->ssi_code == SI_QUEUE)
        out(" int %d", si->ssi_int);
    out("\n");
}

/* Reads one or more siginfos; prints them, or the error. */
static int read_sfd(int fd, size_t n, pid_t other)
{
    struct signalfd_siginfo si[4];
    ssize_t r = read(fd, si, n * sizeof si[0]);
    if (r < 0) {
        out("read: %s\n", strerror(errno));
        return -1;
    }
    for (ssize_t i = 0; i < r / (ssize_t)sizeof si[0]; i++)
        show_info(&si[i], other);
    return (int)(r / (ssize_t)sizeof si[0]);
}


static int sfd_fd;
static pid_t reader_tid;
static volatile int reader_ready;

/* ---- reading -------------------------------------------------------- */

/* kill or tgkill to itself, then read: the siginfo, and nothing pending. */
static int self_read(const char *how)
{
    block(SIG_BLOCK, SIGSYS);
    int fd = make_sfd(0, 0);
    if (!strcmp(how, "kill"))
        kill(getpid(), SIGSYS);
    else if (!strcmp(how, "tgkill"))
        syscall(SYS_tgkill, getpid(), tid(), SIGSYS);
    else {
        union sigval v = {.sival_int = 42};
        sigqueue(getpid(), SIGSYS, v);
    }
    show_pending("before read");
    read_sfd(fd, 1, 0);
    show_pending("after read");
    return 0;
}

/* SFD_NONBLOCK: EAGAIN while nothing is pending, the siginfo once sent. */
static int nonblock(void)
{
    block(SIG_BLOCK, SIGSYS);
    int fd = make_sfd(SFD_NONBLOCK, 0);
    read_sfd(fd, 1, 0);
    raise(SIGSYS);
    read_sfd(fd, 1, 0);
    read_sfd(fd, 1, 0);
    return 0;
}

/* Another signal of the set and both a thread's and the process's SIGSYS
 * pending: a large read returns them all in the kernel's order (the
 * thread's signals first); the next read finds nothing. */
static int with_others(void)
{
    block(SIG_BLOCK, SIGSYS);
    block(SIG_BLOCK, SIGUSR1);
    int fd = make_sfd(SFD_NONBLOCK, SIGUSR1);
    raise(SIGUSR1);
    kill(getpid(), SIGSYS);
    syscall(SYS_tgkill, getpid(), tid(), SIGSYS);
    read_sfd(fd, 4, 0);
    read_sfd(fd, 4, 0);
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGSYS);
    read_sfd(fd, 1, 0);
    read_sfd(fd, 1, 0);
    read_sfd(fd, 1, 0);
    return 0;
}

/* The SIGSYS another sender sends: reader blocked first. */
static void *reader(void *arg)
{
    (void)arg;
    reader_tid = tid();
    __atomic_store_n(&reader_ready, 1, __ATOMIC_RELEASE);
    read_sfd(sfd_fd, 1, 0);
    return 0;
}

static void start_reader(pthread_t *th)
{
    pthread_create(th, 0, reader, 0);
    while (!__atomic_load_n(&reader_ready, __ATOMIC_ACQUIRE))
        sched_yield();
    wait_blocked(getpid(), reader_tid, SYS_read, SYS_read);
}

/* A thread blocked in read is woken by kill (to the process) or tgkill
 * (to it) from another thread. */
static int thread_sender(const char *how)
{
    block(SIG_BLOCK, SIGSYS);
    sfd_fd = make_sfd(0, 0);
    pthread_t th;
    start_reader(&th);
    if (!strcmp(how, "kill"))
        kill(getpid(), SIGSYS);
    else
        syscall(SYS_tgkill, getpid(), reader_tid, SIGSYS);
    pthread_join(th, 0);
    show_pending("after read");
    return 0;
}

/* The main thread blocked in read is woken by another process's kill. */
static int process_sender(void)
{
    block(SIG_BLOCK, SIGSYS);
    int fd = make_sfd(0, 0);
    pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0) {
        wait_blocked(parent, parent, SYS_read, SYS_read);
        kill(parent, SIGSYS);
        _exit(0);
    }
    read_sfd(fd, 1, child);
    waitpid(child, 0, 0);
    show_pending("after read");
    return 0;
}

/* ---- readiness -------------------------------------------------------- */

static void poll_once(int fd, int timeout, const char *what)
{
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, timeout);
    out("%s poll: %d revents %s\n", what, r, p.revents & POLLIN ? "POLLIN" : "-");
}

static void all_waits(int fd, int timeout, const char *what)
{
    poll_once(fd, timeout, what);
    struct pollfd p = {fd, POLLIN, 0};
    struct timespec ts = {0, timeout * 1000000L};
    sigset_t mask;
    sigprocmask(SIG_BLOCK, 0, &mask);
    int r = ppoll(&p, 1, &ts, &mask);
    out("%s ppoll: %d revents %s\n", what, r, p.revents & POLLIN ? "POLLIN" : "-");
    fd_set set;
    FD_ZERO(&set);
    FD_SET(fd, &set);
    struct timeval tv = {0, timeout * 1000L};
    r = select(fd + 1, &set, 0, 0, &tv);
    out("%s select: %d %s\n", what, r, FD_ISSET(fd, &set) ? "readable" : "-");
    FD_ZERO(&set);
    FD_SET(fd, &set);
    r = pselect(fd + 1, &set, 0, 0, &ts, &mask);
    out("%s pselect: %d %s\n", what, r, FD_ISSET(fd, &set) ? "readable" : "-");
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, got = {0};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    r = epoll_wait(ep, &got, 1, timeout);
    out("%s epoll_wait: %d data %u\n", what, r, r > 0 ? got.data.u32 : 0);
    got.data.u32 = 0;
    r = epoll_pwait(ep, &got, 1, timeout, &mask);
    out("%s epoll_pwait: %d data %u\n", what, r, r > 0 ? got.data.u32 : 0);
    close(ep);
}

/* Every wait reports the signalfd readable while SIGSYS is pending (and
 * leaves it pending), and times out when it is not. */
static int readiness(void)
{
    block(SIG_BLOCK, SIGSYS);
    int fd = make_sfd(0, 0);
    all_waits(fd, 0, "empty");
    all_waits(fd, 20, "empty");
    kill(getpid(), SIGSYS);
    all_waits(fd, 0, "pending");
    all_waits(fd, 20, "pending");
    read_sfd(fd, 1, 0);
    all_waits(fd, 0, "consumed");
    return 0;
}

static void *waiter(void *arg)
{
    const char *how = arg;
    reader_tid = tid();
    __atomic_store_n(&reader_ready, 1, __ATOMIC_RELEASE);
    if (!strcmp(how, "poll")) {
        poll_once(sfd_fd, -1, "woken");
    } else {
        int ep = epoll_create1(0);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 9}, got = {0};
        epoll_ctl(ep, EPOLL_CTL_ADD, sfd_fd, &ev);
        int r = epoll_wait(ep, &got, 1, -1);
        out("woken epoll_wait: %d data %u\n", r, got.data.u32);
    }
    read_sfd(sfd_fd, 1, 0);
    return 0;
}

/* A thread blocked in poll or epoll_wait is woken by another thread's kill. */
static int wait_woken(const char *how)
{
    block(SIG_BLOCK, SIGSYS);
    sfd_fd = make_sfd(0, 0);
    pthread_t th;
    pthread_create(&th, 0, waiter, (void *)how);
    while (!__atomic_load_n(&reader_ready, __ATOMIC_ACQUIRE))
        sched_yield();
    long nr = !strcmp(how, "poll") ? SYS_poll : SYS_epoll_wait;
    wait_blocked(getpid(), reader_tid, nr, nr);
    kill(getpid(), SIGSYS);
    pthread_join(th, 0);
    return 0;
}

/* ---- handlers of other signals ---------------------------------------- */

static volatile int handled; /* times SIGUSR2's handler ran */

/* Waits until SIGUSR2's handler ran (it left the wait it interrupted). */
static void wait_handled(void)
{
    while (!__atomic_load_n(&handled, __ATOMIC_ACQUIRE))
        sched_yield();
}

static void on_usr2(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    __atomic_add_fetch(&handled, 1, __ATOMIC_RELEASE);
    static const char tkill[] = "handler ran: SIGUSR2, SI_TKILL\n";
    static const char user[] = "handler ran: SIGUSR2, SI_USER\n";
    static const char other[] = "handler ran: unexpected\n";
    const char *msg = sig != SIGUSR2 || info->si_signo != SIGUSR2 ? other :
                      info->si_code == SI_TKILL ? tkill :
                      info->si_code == SI_USER ? user : other;
    if (write(1, msg, strlen(msg)) < 0) /* a syscall inside the handler */
        _exit(3);
}

static void install_usr2(int flags)
{
    struct sigaction sa, back;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr2;
    sa.sa_flags = flags | SA_SIGINFO;
    sigaction(SIGUSR2, &sa, 0);
    sigaction(SIGUSR2, 0, &back);
    out("handler read back: %s\n", back.sa_sigaction == on_usr2 ? "same" : "different");
}

static void *interrupted_reader(void *arg)
{
    const char *what = arg;
    reader_tid = tid();
    __atomic_store_n(&reader_ready, 1, __ATOMIC_RELEASE);
    if (!strcmp(what, "poll"))
        poll_once(sfd_fd, -1, "interrupted");
    else
        read_sfd(sfd_fd, 1, 0);
    return 0;
}

/* A handler of another signal interrupts a thread blocked in read (or
 * poll) on the signalfd; the handler makes syscalls.  Without SA_RESTART
 * the read fails with EINTR; with it the read goes on and returns the
 * SIGSYS sent afterwards.  `when` says whether the handler is installed
 * before or after the signalfd exists. */
static int interrupted(const char *what, int restart, const char *when)
{
    block(SIG_BLOCK, SIGSYS);
    if (!strcmp(when, "before"))
        install_usr2(restart ? SA_RESTART : 0);
    sfd_fd = make_sfd(0, 0);
    if (!strcmp(when, "after"))
        install_usr2(restart ? SA_RESTART : 0);
    pthread_t th;
    pthread_create(&th, 0, interrupted_reader, (void *)what);
    while (!__atomic_load_n(&reader_ready, __ATOMIC_ACQUIRE))
        sched_yield();
    long nr = !strcmp(what, "poll") ? SYS_poll : SYS_read;
    wait_blocked(getpid(), reader_tid, nr, nr);
    pthread_kill(th, SIGUSR2);
    if (restart && nr == SYS_read) {
        /* Blocked in the read again after the handler. */
        wait_handled();
        wait_blocked(getpid(), reader_tid, nr, nr);
        kill(getpid(), SIGSYS);
    }
    pthread_join(th, 0);
    show_pending("at the end");
    return 0;
}

static void *masked_sender(void *arg)
{
    pid_t main_tid = *(pid_t *)arg;
    wait_blocked(getpid(), main_tid, SYS_ppoll, SYS_ppoll);
    kill(getpid(), SIGUSR2); /* only the ppoll's mask lets it in */
    wait_handled();
    wait_blocked(getpid(), main_tid, SYS_ppoll, SYS_ppoll);
    kill(getpid(), SIGSYS);
    return 0;
}

/* ppoll with a mask that unblocks SIGUSR2 (and blocks SIGSYS): its handler
 * interrupts the wait (EINTR), then a SIGSYS makes the signalfd readable. */
static int masked(void)
{
    block(SIG_BLOCK, SIGSYS);
    block(SIG_BLOCK, SIGUSR2);
    install_usr2(0);
    int fd = make_sfd(0, 0);
    sigset_t mask;
    sigprocmask(SIG_BLOCK, 0, &mask);
    sigdelset(&mask, SIGUSR2);
    pid_t main_tid = tid();
    pthread_t th;
    pthread_create(&th, 0, masked_sender, &main_tid);
    for (int i = 0; i < 2; i++) {
        struct pollfd p = {fd, POLLIN, 0};
        int r = ppoll(&p, 1, 0, &mask);
        out("ppoll: %d %s\n", r, r < 0 ? strerror(errno) : p.revents & POLLIN ? "POLLIN" : "-");
    }
    pthread_join(th, 0);
    read_sfd(fd, 1, 0);
    return 0;
}

/* ---- fork and exec ---------------------------------------------------- */

/* A fork child reads its own SIGSYS from the inherited signalfd; the
 * parent's stays its own. */
static int forked(void)
{
    block(SIG_BLOCK, SIGSYS);
    int fd = make_sfd(0, 0);
    kill(getpid(), SIGSYS);
    pid_t child = fork();
    if (child == 0) {
        show_pending("child at start");
        kill(getpid(), SIGSYS);
        read_sfd(fd, 1, 0);
        poll_once(fd, 0, "child after read");
        _exit(0);
    }
    waitpid(child, 0, 0);
    read_sfd(fd, 1, 0);
    poll_once(fd, 0, "parent after read");
    return 0;
}

/* Across exec: the signalfd is inherited, the SIGSYS pending before the
 * exec is read after it, and a new one too. */
static int exec_before(const char *self)
{
    block(SIG_BLOCK, SIGSYS);
    int fd = make_sfd(0, 0);
    kill(getpid(), SIGSYS);
    char arg[16];
    snprintf(arg, sizeof arg, "%d", fd);
    execl(self, self, "exec-after", arg, (char *)0);
    out("exec: %s\n", strerror(errno));
    return 1;
}

static int exec_after(const char *arg)
{
    int fd = atoi(arg);
    show_pending("after exec");
    read_sfd(fd, 1, 0);
    poll_once(fd, 0, "after exec, read");
    kill(getpid(), SIGSYS);
    read_sfd(fd, 1, 0);
    return 0;
}

/* ---- more: nesting, longjmp, many rounds -------------------------------- */

/* SIGUSR2's handler, interrupting a read of the signalfd, reads it too:
 * the SIGSYS it sends its own thread first. */
static void read_in_handler(int sig)
{
    (void)sig;
    syscall(SYS_tgkill, getpid(), tid(), SIGSYS);
    read_sfd(sfd_fd, 1, 0);
    __atomic_add_fetch(&handled, 1, __ATOMIC_RELEASE);
}

static int nested(void)
{
    block(SIG_BLOCK, SIGSYS);
    sfd_fd = make_sfd(0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = read_in_handler;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, 0);
    pthread_t th;
    pthread_create(&th, 0, reader, 0);
    while (!__atomic_load_n(&reader_ready, __ATOMIC_ACQUIRE))
        sched_yield();
    wait_blocked(getpid(), reader_tid, SYS_read, SYS_read);
    pthread_kill(th, SIGUSR2);
    wait_handled();
    wait_blocked(getpid(), reader_tid, SYS_read, SYS_read); /* again, after the handler */
    kill(getpid(), SIGSYS);
    pthread_join(th, 0);
    show_pending("at the end");
    return 0;
}

static sigjmp_buf jump;

static void jump_out(int sig)
{
    (void)sig;
    siglongjmp(jump, 1);
}

/* SIGUSR2's handler longjmps out of a blocked read of the signalfd: the
 * program goes on with SIGSYS still blocked, and its signalfd still works. */
static int longjmp_out(void)
{
    block(SIG_BLOCK, SIGSYS);
    sfd_fd = make_sfd(0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = jump_out;
    sigaction(SIGUSR2, &sa, 0);
    int p[2];
    if (pipe(p))
        return 2;
    pid_t main_tid = tid();
    pid_t child = fork();
    if (child == 0) {
        wait_blocked(getppid(), main_tid, SYS_read, SYS_read);
        kill(getppid(), SIGUSR2);
        _exit(0);
    }
    if (!sigsetjmp(jump, 1))
        read_sfd(sfd_fd, 1, 0);
    else
        out("jumped out\n");
    waitpid(child, 0, 0);
    show_pending("after the jump");
    kill(getpid(), SIGSYS);
    read_sfd(sfd_fd, 1, 0);
    /* A blocking read elsewhere is not disturbed by the wait left behind. */
    if (write(p[1], "x", 1) != 1)
        return 2;
    char c;
    out("pipe read: %zd\n", read(p[0], &c, 1));
    return 0;
}

static volatile int rounds_done;

static void *round_reader(void *arg)
{
    const char *how = arg;
    reader_tid = tid();
    __atomic_store_n(&reader_ready, 1, __ATOMIC_RELEASE);
    for (;;) {
        if (!strcmp(how, "poll")) {
            struct pollfd p = {sfd_fd, POLLIN, 0};
            if (poll(&p, 1, -1) != 1)
                out("poll failed\n");
        }
        struct signalfd_siginfo si;
        if (read(sfd_fd, &si, sizeof si) != sizeof si || si.ssi_signo != SIGSYS) {
            out("bad read\n");
            exit(1);
        }
        __atomic_add_fetch(&rounds_done, 1, __ATOMIC_RELEASE);
        if (si.ssi_code == SI_QUEUE && si.ssi_int < 0) /* the last one */
            return 0;
    }
}

/* Many rounds of one thread sending SIGSYS to the process and another
 * reading it (after polling, with `how` = poll): no round is lost.  (Not
 * tgkill at random moments: under pyshim a SIGSYS sent to a thread just
 * as that thread's syscall traps is lost, merged by the kernel with the
 * trap's own SIGSYS.) */
static int rounds(const char *how, int n)
{
    block(SIG_BLOCK, SIGSYS);
    sfd_fd = make_sfd(0, 0);
    pthread_t th;
    pthread_create(&th, 0, round_reader, (void *)how);
    while (!__atomic_load_n(&reader_ready, __ATOMIC_ACQUIRE))
        sched_yield();
    for (int i = 1; i <= n; i++) {
        if (i % 2 && i < n) {
            kill(getpid(), SIGSYS);
        } else {
            union sigval v = {.sival_int = i < n ? i : -1};
            sigqueue(getpid(), SIGSYS, v);
        }
        while (__atomic_load_n(&rounds_done, __ATOMIC_ACQUIRE) < i)
            sched_yield();
    }
    pthread_join(th, 0);
    out("rounds: %d\n", rounds_done);
    return 0;
}

static volatile int storm_errors;
static pid_t parent_pid;

/* Makes syscalls while SIGSYS for another thread's wait is being sent. */
static void busy_handler(int sig)
{
    (void)sig;
    for (int i = 0; i < 20; i++)
        if (syscall(SYS_getppid) != parent_pid)
            __atomic_add_fetch(&storm_errors, 1, __ATOMIC_RELAXED);
}

/* Rounds of SIGSYS sent to the process while a handler of another signal
 * interrupts the reader's wait and makes syscalls: every round arrives and
 * every syscall of the handler runs. */
static int storm(int n)
{
    parent_pid = getppid();
    block(SIG_BLOCK, SIGSYS);
    sfd_fd = make_sfd(0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = busy_handler;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, 0);
    pthread_t th;
    pthread_create(&th, 0, round_reader, "read");
    while (!__atomic_load_n(&reader_ready, __ATOMIC_ACQUIRE))
        sched_yield();
    for (int i = 1; i <= n; i++) {
        pthread_kill(th, SIGUSR2);
        union sigval v = {.sival_int = i < n ? i : -1};
        sigqueue(getpid(), SIGSYS, v);
        while (__atomic_load_n(&rounds_done, __ATOMIC_ACQUIRE) < i)
            sched_yield();
    }
    pthread_join(th, 0);
    out("rounds: %d, handler errors: %d\n", rounds_done, storm_errors);
    return 0;
}

/* Polls an empty pipe `n` times, makes a signalfd (of SIGUSR1, or of
 * SIGSYS too with `with`), and polls `n` times more: under pyshim, whose
 * traps strace counts, the poll site traps twice without SIGSYS, and at
 * every poll after a signalfd holding SIGSYS exists. */
static int polls(const char *with, int n)
{
    int p[2];
    if (pipe(p))
        return 2;
    int ready = 0;
    for (int i = 0; i < 2 * n; i++) {
        if (i == n) {
            sigset_t s;
            sigemptyset(&s);
            sigaddset(&s, !strcmp(with, "with") ? SIGSYS : SIGUSR1);
            if (signalfd(-1, &s, 0) < 0)
                return 2;
        }
        struct pollfd q = {p[0], POLLIN, 0};
        ready += poll(&q, 1, 0);
    }
    out("polls: %d ready\n", ready);
    return 0;
}

/* Calls that may be rewritten (poll, epoll_wait, readv) made before the
 * signalfd exists, so that its mode must send them back to their trap. */
static void warm_up(void)
{
    int p[2];
    if (pipe(p))
        exit(2);
    int ep = epoll_create1(0);
    struct epoll_event ev;
    for (int i = 0; i < 3; i++) {
        struct pollfd q = {p[0], POLLIN, 0};
        poll(&q, 1, 0);
        epoll_wait(ep, &ev, 1, 0);
        if (write(p[1], "x", 1) != 1)
            exit(2);
        char c;
        struct iovec v = {&c, 1};
        if (readv(p[0], &v, 1) != 1)
            exit(2);
    }
    close(ep);
    close(p[0]);
    close(p[1]);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    const char *arg = argc > 2 ? argv[2] : "";
    if (!strcmp(mode, "polls"))
        return polls(arg, argc > 3 ? atoi(argv[3]) : 100);
    warm_up();
    if (!strcmp(mode, "nested"))
        return nested();
    if (!strcmp(mode, "longjmp"))
        return longjmp_out();
    if (!strcmp(mode, "storm"))
        return storm(argc > 2 ? atoi(arg) : 1000);
    if (!strcmp(mode, "rounds"))
        return rounds(arg, argc > 3 ? atoi(argv[3]) : 1000);
    if (!strcmp(mode, "self"))
        return self_read(arg);
    if (!strcmp(mode, "nonblock"))
        return nonblock();
    if (!strcmp(mode, "others"))
        return with_others();
    if (!strcmp(mode, "thread"))
        return thread_sender(arg);
    if (!strcmp(mode, "process"))
        return process_sender();
    if (!strcmp(mode, "readiness"))
        return readiness();
    if (!strcmp(mode, "woken"))
        return wait_woken(arg);
    if (!strcmp(mode, "interrupted"))
        return interrupted(arg, argc > 3 && !strcmp(argv[3], "restart"),
                           argc > 4 ? argv[4] : "before");
    if (!strcmp(mode, "masked"))
        return masked();
    if (!strcmp(mode, "fork"))
        return forked();
    if (!strcmp(mode, "exec"))
        return exec_before(argv[0]);
    if (!strcmp(mode, "exec-after"))
        return exec_after(arg);
    fprintf(stderr, "usage: sigsysfd self kill|tgkill|queue | nonblock | others | "
                    "thread kill|tgkill | process | readiness | woken poll|epoll | "
                    "interrupted read|poll restart|norestart before|after | fork | exec | "
                    "masked | nested | longjmp | rounds read|poll N | storm N | polls with|without N\n");
    return 2;
}
