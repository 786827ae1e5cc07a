/* Waiting for SIGSYS with sigwaitinfo, sigtimedwait, sigsuspend or pause
 * in one thread while another thread, or another process, sends it: what
 * the waiter gets must be as natively, although under pyshim the kernel
 * never holds the program's SIGSYS pending by itself and a SIGSYS sent to
 * the process may reach any thread.  argv[1] picks a mode; the program
 * prints what it observed.  Waits for another thread to block are exact:
 * the sender watches /proc/self/task/<tid>/syscall until the blocked call
 * shows there (no sleeps). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "say.h"

static void set_of(sigset_t *s, int sig, int sig2)
{
    sigemptyset(s);
    sigaddset(s, sig);
    if (sig2)
        sigaddset(s, sig2);
}

static const char *code_name(int code)
{
    return code == SI_USER ? "SI_USER" : code == SI_TKILL ? "SI_TKILL" :
           code == SI_QUEUE ? "SI_QUEUE" : "other";
}

static pid_t other_pid; /* the sending process, when there is one */

static void show(const char *what, int r, const siginfo_t *si)
{
    if (r < 0) {
        out("%s: -1 %s\n", what, strerror(errno));
        return;
    }
    const char *who = si->si_pid == getpid() ? "self" :
                      (other_pid && si->si_pid == other_pid) ? "other" : "unknown";
    out("%s: %d code %s pid %s", what, r, code_name(si->si_code), who);
    if (si->si_code == SI_QUEUE)
        out(" int %d", si->si_value.sival_int);
    out("\n");
}


/* ---- the sender ------------------------------------------------------- */

static pid_t waiter_tid;
static volatile int waiter_ready;

/* Sends SIGSYS (or `sig`) the way `how` says: to the process (kill), to
 * the waiter (tgkill), with a value (queue), or from a child process. */
static void send_it(const char *how, int sig)
{
    if (!strcmp(how, "kill")) {
        kill(getpid(), sig);
    } else if (!strcmp(how, "tgkill")) {
        syscall(SYS_tgkill, getpid(), waiter_tid, sig);
    } else if (!strcmp(how, "queue")) {
        union sigval v = {.sival_int = 42};
        sigqueue(getpid(), sig, v);
    } else { /* process */
        pid_t parent = getpid();
        int go[2];
        if (pipe(go))
            exit(2);
        pid_t child = fork();
        if (child == 0) { /* sends once other_pid is known */
            char c;
            _exit(read(go[0], &c, 1) != 1 || kill(parent, sig) ? 1 : 0);
        }
        other_pid = child;
        if (write(go[1], "g", 1) != 1)
            exit(2);
        close(go[0]);
        close(go[1]);
        int status;
        waitpid(child, &status, 0);
    }
}

static pthread_t start(void *(*fn)(void *), void *arg)
{
    pthread_t th;
    waiter_ready = 0;
    pthread_create(&th, 0, fn, arg);
    while (!__atomic_load_n(&waiter_ready, __ATOMIC_ACQUIRE))
        sched_yield();
    return th;
}

static void ready(void)
{
    waiter_tid = tid();
    __atomic_store_n(&waiter_ready, 1, __ATOMIC_RELEASE);
}

static void block_all_sigsys(void)
{
    sigset_t s;
    set_of(&s, SIGSYS, 0);
    sigprocmask(SIG_BLOCK, &s, 0); /* threads created later inherit it */
}

/* ---- sigwaitinfo / sigtimedwait ---------------------------------------- */

static int with_usr1;

static void *sigwaiter(void *arg)
{
    (void)arg;
    sigset_t s;
    set_of(&s, SIGSYS, with_usr1 ? SIGUSR1 : 0);
    siginfo_t si;
    ready();
    int r = sigwaitinfo(&s, &si);
    show("sigwaitinfo", r, &si);
    return 0;
}

/* Every thread blocks SIGSYS (and SIGUSR1); the waiter waits for it (and
 * SIGUSR1 with `two`); the main thread sends `sig` once the waiter sleeps. */
static int wait_for(const char *how, int two, int sig)
{
    block_all_sigsys();
    sigset_t u;
    set_of(&u, SIGUSR1, 0);
    sigprocmask(SIG_BLOCK, &u, 0);
    with_usr1 = two;
    pthread_t th = start(sigwaiter, 0);
    wait_blocked(getpid(), waiter_tid, SYS_rt_sigtimedwait, SYS_rt_sigtimedwait);
    send_it(how, sig);
    pthread_join(th, 0);
    show_pending("after");
    return 0;
}

/* A timeout with nothing sent; a zero one; then one sent before. */
static int timeouts(void)
{
    block_all_sigsys();
    sigset_t s;
    set_of(&s, SIGSYS, 0);
    siginfo_t si;
    struct timespec ts = {0, 20 * 1000 * 1000};
    show("sigtimedwait 20ms", sigtimedwait(&s, &si, &ts), &si);
    struct timespec zero = {0, 0};
    show("sigtimedwait 0", sigtimedwait(&s, &si, &zero), &si);
    kill(getpid(), SIGSYS);
    show("sigtimedwait 0 after kill", sigtimedwait(&s, &si, &zero), &si);
    struct timespec bad = {0, 1000 * 1000 * 1000};
    kill(getpid(), SIGSYS); /* stays pending: the timeout is judged first */
    show("sigtimedwait bad timeout", sigtimedwait(&s, &si, &bad), &si);
    show("sigtimedwait bad pointer", sigtimedwait(&s, &si, (struct timespec *)8), &si);
    show("sigtimedwait 0 after those", sigtimedwait(&s, &si, &zero), &si);
    return 0;
}

static volatile int handled;

static void on_usr2(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    (void)ctx;
    char buf[16];
    int fd = open("/proc/self/stat", O_RDONLY); /* calls that trap */
    if (fd >= 0) {
        if (read(fd, buf, sizeof buf) <= 0)
            handled = -100;
        close(fd);
    }
    handled += info->si_code == SI_TKILL ? 1 : 1000;
}

static void *interrupted_waiter(void *arg)
{
    (void)arg;
    sigset_t s;
    set_of(&s, SIGSYS, 0);
    siginfo_t si;
    ready();
    int r = sigwaitinfo(&s, &si);
    show("first sigwaitinfo", r, &si);
    out("handler ran: %d\n", handled);
    __atomic_store_n(&waiter_ready, 2, __ATOMIC_RELEASE);
    r = sigwaitinfo(&s, &si);
    show("second sigwaitinfo", r, &si);
    return 0;
}

/* A handler of another signal interrupts the wait (EINTR, as natively);
 * the next wait gets the SIGSYS sent to the process. */
static int interrupted(void)
{
    block_all_sigsys();
    struct sigaction sa = {.sa_sigaction = on_usr2, .sa_flags = SA_SIGINFO};
    sigaction(SIGUSR2, &sa, 0);
    pthread_t th = start(interrupted_waiter, 0);
    wait_blocked(getpid(), waiter_tid, SYS_rt_sigtimedwait, SYS_rt_sigtimedwait);
    syscall(SYS_tgkill, getpid(), waiter_tid, SIGUSR2);
    while (__atomic_load_n(&waiter_ready, __ATOMIC_ACQUIRE) != 2)
        sched_yield();
    wait_blocked(getpid(), waiter_tid, SYS_rt_sigtimedwait, SYS_rt_sigtimedwait);
    kill(getpid(), SIGSYS);
    pthread_join(th, 0);
    show_pending("after");
    return 0;
}

/* ---- many rounds --------------------------------------------------------- */

static volatile int got;   /* signals the waiter took */
static volatile int wrong; /* of the wrong kind */
static int nrounds;

static int kind(int i)
{
    return i % 3 == 0 ? SI_USER : i % 3 == 1 ? SI_TKILL : SI_QUEUE;
}

static void *round_waiter(void *arg)
{
    (void)arg;
    sigset_t s;
    set_of(&s, SIGSYS, 0);
    ready();
    for (int i = 0; i < nrounds; i++) {
        siginfo_t si;
        /* Not glibc's sigwaitinfo, which folds SI_TKILL into SI_USER. */
        int r = (int)syscall(SYS_rt_sigtimedwait, &s, &si, 0, 8);
        if (r != SIGSYS || si.si_code != kind(i) || si.si_pid != getpid() ||
            (si.si_code == SI_QUEUE && si.si_value.sival_int != i))
            wrong++;
        __atomic_store_n(&got, i + 1, __ATOMIC_RELEASE);
    }
    return 0;
}

/* The main thread sends kill, tgkill and sigqueue in turn, each once the
 * previous one was taken (the waiter sleeping or not yet: both are
 * exercised, but tgkill only once it sleeps). */
static int rounds(int n)
{
    block_all_sigsys();
    nrounds = n;
    pthread_t th = start(round_waiter, 0);
    for (int i = 0; i < n; i++) {
        if (kind(i) == SI_USER) {
            kill(getpid(), SIGSYS);
        } else if (kind(i) == SI_TKILL) {
            /* Not while its call traps: under pyshim the kernel would keep
             * one of the two SIGSYS only (README, a known limit). */
            wait_blocked(getpid(), waiter_tid, SYS_rt_sigtimedwait, SYS_rt_sigtimedwait);
            syscall(SYS_tgkill, getpid(), waiter_tid, SIGSYS);
        } else {
            union sigval v = {.sival_int = i};
            sigqueue(getpid(), SIGSYS, v);
        }
        while (__atomic_load_n(&got, __ATOMIC_ACQUIRE) != i + 1)
            sched_yield();
    }
    pthread_join(th, 0);
    out("rounds: %d, wrong: %d\n", got, wrong);
    show_pending("after");
    return 0;
}

/* ---- sigsuspend and pause ------------------------------------------------- */

static volatile pid_t handler_tid;
static volatile int handler_code;

static void on_sys(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    (void)ctx;
    handler_tid = tid();
    handler_code = info->si_code;
}

static void *suspender(void *arg)
{
    const char *call = arg;
    sigset_t s;
    sigprocmask(SIG_BLOCK, 0, &s);
    sigdelset(&s, SIGSYS);
    if (!strcmp(call, "pause"))
        pthread_sigmask(SIG_SETMASK, &s, 0);
    ready();
    int r = !strcmp(call, "pause") ? pause() : sigsuspend(&s);
    out("%s: %d %s; handler %s, %s\n", call, r, strerror(errno),
        handler_tid == tid() ? "in the waiter" : handler_tid ? "elsewhere" : "not run",
        code_name(handler_code));
    sigset_t now;
    sigprocmask(SIG_BLOCK, 0, &now);
    out("mask after: SIGSYS %d\n", sigismember(&now, SIGSYS));
    if (handled)
        out("SIGUSR2 handler ran: %d\n", handled);
    return 0;
}

/* Every thread but the waiter blocks SIGSYS; the waiter opens it only in
 * sigsuspend, or for its pause; the main thread sends it. */
static int suspend(const char *call, const char *how)
{
    struct sigaction sa = {.sa_sigaction = on_sys, .sa_flags = SA_SIGINFO};
    sigaction(SIGSYS, &sa, 0);
    block_all_sigsys();
    if (!strcmp(how, "usr2")) { /* a handler (making syscalls) ends it */
        struct sigaction u = {.sa_sigaction = on_usr2, .sa_flags = SA_SIGINFO};
        sigaction(SIGUSR2, &u, 0);
    }
    pthread_t th = start(suspender, (void *)call);
    long nr = !strcmp(call, "pause") ? SYS_pause : SYS_rt_sigsuspend;
    wait_blocked(getpid(), waiter_tid, nr, SYS_rt_sigsuspend);
    if (!strcmp(how, "usr2"))
        syscall(SYS_tgkill, getpid(), waiter_tid, SIGUSR2);
    else
        send_it(how, SIGSYS);
    pthread_join(th, 0);
    show_pending("after");
    return 0;
}

static void *suspend_rounds_waiter(void *arg)
{
    (void)arg;
    sigset_t s;
    sigprocmask(SIG_BLOCK, 0, &s);
    sigdelset(&s, SIGSYS);
    ready();
    for (int i = 0; i < nrounds; i++) {
        handler_tid = 0;
        if (sigsuspend(&s) != -1 || errno != EINTR || handler_tid != tid() ||
            handler_code != (i % 2 ? SI_TKILL : SI_USER))
            wrong++;
        __atomic_store_n(&got, i + 1, __ATOMIC_RELEASE);
    }
    return 0;
}

static int suspend_rounds(int n)
{
    struct sigaction sa = {.sa_sigaction = on_sys, .sa_flags = SA_SIGINFO};
    sigaction(SIGSYS, &sa, 0);
    block_all_sigsys();
    nrounds = n;
    pthread_t th = start(suspend_rounds_waiter, 0);
    for (int i = 0; i < n; i++) {
        if (i % 2) { /* not while its call traps (see rounds) */
            wait_blocked(getpid(), waiter_tid, SYS_rt_sigsuspend, SYS_rt_sigsuspend);
            syscall(SYS_tgkill, getpid(), waiter_tid, SIGSYS);
        } else
            kill(getpid(), SIGSYS);
        while (__atomic_load_n(&got, __ATOMIC_ACQUIRE) != i + 1)
            sched_yield();
    }
    pthread_join(th, 0);
    out("rounds: %d, wrong: %d\n", got, wrong);
    show_pending("after");
    return 0;
}

/* A sigtimedwait for SIGSYS, then `n` polls: the polls keep their fast
 * path (rewritten after one trap), since only a signalfd needs them. */
static int polls(int n)
{
    block_all_sigsys();
    sigset_t s;
    set_of(&s, SIGSYS, 0);
    struct timespec zero = {0, 0};
    siginfo_t si;
    show("sigtimedwait 0", sigtimedwait(&s, &si, &zero), &si);
    int ready = 0;
    for (int i = 0; i < n; i++)
        ready += poll(0, 0, 0);
    out("polls: %d ready\n", ready);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *m = argv[1];
    if (!strcmp(m, "wait") && argc == 3)
        return wait_for(argv[2], 0, SIGSYS);
    if (!strcmp(m, "wait2") && argc == 4)
        return wait_for(argv[2], 1, !strcmp(argv[3], "usr1") ? SIGUSR1 : SIGSYS);
    if (!strcmp(m, "timeouts"))
        return timeouts();
    if (!strcmp(m, "interrupted"))
        return interrupted();
    if (!strcmp(m, "rounds") && argc == 3)
        return rounds(atoi(argv[2]));
    if ((!strcmp(m, "sigsuspend") || !strcmp(m, "pause")) && argc == 3)
        return suspend(m, argv[2]);
    if (!strcmp(m, "polls") && argc == 3)
        return polls(atoi(argv[2]));
    if (!strcmp(m, "suspend-rounds") && argc == 3)
        return suspend_rounds(atoi(argv[2]));
    return 2;
}
