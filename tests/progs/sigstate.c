/* Signal state a supervised program must see exactly as natively: its own
 * SIGSYS blocked and pending, and its alternate stack's flags.  argv[1]
 * picks a mode; the program prints what it observed. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t handled, handled_code;

static void on_sigsys(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    (void)ctx;
    handled++;
    handled_code = info->si_code;
}

static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, 0);
}

static void block_sigsys(int how)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGSYS);
    sigprocmask(how, &s, 0);
}

static void show(const char *when)
{
    sigset_t pending, mask;
    sigpending(&pending);
    sigprocmask(SIG_BLOCK, 0, &mask);
    printf("%s: pending %d, blocked %d, handled %d\n", when, sigismember(&pending, SIGSYS),
           sigismember(&mask, SIGSYS), (int)handled);
}

/* kill() (process-directed) and tgkill() (thread-directed) while blocked:
 * pending until unblocked, then the handler runs once per kind. */
static int pending(const char *how)
{
    install();
    block_sigsys(SIG_BLOCK);
    if (!strcmp(how, "kill"))
        kill(getpid(), SIGSYS);
    else
        syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGSYS);
    show("blocked");
    block_sigsys(SIG_UNBLOCK);
    show("unblocked");
    printf("si_code %s\n", handled_code == SI_USER ? "SI_USER" :
                           handled_code == SI_TKILL ? "SI_TKILL" : "other");
    return 0;
}

/* No handler: the default action happens when SIGSYS is unblocked. */
static int default_action(void)
{
    block_sigsys(SIG_BLOCK);
    raise(SIGSYS);
    show("blocked");
    fflush(stdout);
    block_sigsys(SIG_UNBLOCK);
    printf("not reached\n");
    return 0;
}

/* sigtimedwait takes a pending SIGSYS, and one sent while it waits. */
static int timedwait(void)
{
    sigset_t s;
    siginfo_t info;
    struct timespec ten = {10, 0};
    install();
    block_sigsys(SIG_BLOCK);
    raise(SIGSYS);
    sigemptyset(&s);
    sigaddset(&s, SIGSYS);
    int sig = sigtimedwait(&s, &info, &ten);
    printf("took %d (code %s)\n", sig, info.si_code == SI_TKILL ? "SI_TKILL" : "other");
    pid_t child = fork();
    if (child == 0) {
        kill(getppid(), SIGSYS);
        _exit(0);
    }
    sig = sigtimedwait(&s, &info, &ten);
    printf("took %d from the child: %d\n", sig, info.si_pid == child);
    waitpid(child, 0, 0);
    struct timespec none = {0, 0};
    sig = sigtimedwait(&s, &info, &none);
    printf("nothing left: %d %s\n", sig, sig < 0 ? strerror(errno) : "");
    show("end");
    return 0;
}

/* Across exec: the mask and the pending SIGSYS stay; the handler does not,
 * so unblocking it in the new image takes the default action. */
static int exec_pending(const char *self)
{
    install();
    block_sigsys(SIG_BLOCK);
    raise(SIGSYS);
    execl(self, self, "exec-after", (char *)0);
    return 2;
}

static int exec_after(void)
{
    show("after exec");
    fflush(stdout);
    block_sigsys(SIG_UNBLOCK);
    printf("not reached\n");
    return 0;
}

static void *thread_show(void *arg)
{
    (void)arg;
    show("thread");
    return 0;
}

/* A fork child starts with nothing pending; threads and children inherit
 * the mask. */
static int inherit(void)
{
    install();
    block_sigsys(SIG_BLOCK);
    raise(SIGSYS);
    pthread_t th;
    pthread_create(&th, 0, thread_show, 0);
    pthread_join(th, 0);
    pid_t child = fork();
    if (child == 0) {
        show("child");
        _exit(0);
    }
    waitpid(child, 0, 0);
    show("parent");
    block_sigsys(SIG_UNBLOCK);
    show("unblocked");
    return 0;
}

static stack_t seen_in_handler;
static int change_in_handler = -1;

static void on_usr1(int sig)
{
    (void)sig;
    sigaltstack(0, &seen_in_handler);
    stack_t other = {.ss_sp = malloc(65536), .ss_size = 65536, .ss_flags = 0};
    change_in_handler = sigaltstack(&other, 0) < 0 ? errno : 0;
}

static void show_stack(const char *when, const stack_t *ss, void *mine)
{
    printf("%s: sp %s, size %zu, flags%s%s%s\n", when,
           ss->ss_sp == mine ? "mine" : ss->ss_sp ? "other" : "null", ss->ss_size,
           ss->ss_flags & SS_ONSTACK ? " ONSTACK" : "", ss->ss_flags & SS_DISABLE ? " DISABLE" : "",
           ss->ss_flags & ~(SS_ONSTACK | SS_DISABLE) ? " more" : "");
}

/* sigaltstack's flags and errors, outside and inside an SA_ONSTACK handler. */
static int altstack(void)
{
    stack_t ss, now;
    void *mine = malloc(65536);
    sigaltstack(0, &now);
    show_stack("at start", &now, mine);
    ss.ss_sp = mine;
    ss.ss_size = 65536;
    ss.ss_flags = 3; /* neither 0, SS_ONSTACK nor SS_DISABLE */
    printf("flags 3: %s\n", sigaltstack(&ss, 0) < 0 ? strerror(errno) : "accepted");
    ss.ss_flags = SS_ONSTACK; /* accepted, as 0 */
    printf("SS_ONSTACK: %s\n", sigaltstack(&ss, 0) < 0 ? strerror(errno) : "accepted");
    ss.ss_size = 1024;
    printf("small: %s\n", sigaltstack(&ss, 0) < 0 ? strerror(errno) : "accepted");
    sigaltstack(0, &now);
    show_stack("installed", &now, mine);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, 0);
    raise(SIGUSR1);
    show_stack("in handler", &seen_in_handler, mine);
    printf("change in handler: %s\n", change_in_handler ? strerror(change_in_handler) : "done");
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, 0);
    sigaltstack(0, &now);
    show_stack("disabled", &now, mine);
    return 0;
}

static volatile sig_atomic_t usr1;

static void on_usr1_flag(int sig)
{
    (void)sig;
    usr1 = 1;
}

/* After the exec: the parent-death signal is still the one set before it;
 * says it is ready on fd 3, then waits for its parent to die.  Holds fd 4
 * until it exits. */
static int pdeath_orphan(void)
{
    int s = -1;
    prctl(PR_GET_PDEATHSIG, &s);
    printf("after exec: %d\n", s);
    sigset_t block, none;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, 0);
    signal(SIGUSR1, on_usr1_flag);
    if (write(3, "r", 1) != 1)
        return 2;
    sigemptyset(&none);
    while (!usr1)
        sigsuspend(&none);
    printf("orphan got SIGUSR1\n");
    return 0;
}

/* The program's own PR_SET_PDEATHSIG: read back, cleared in a fork child,
 * kept across exec, and sent when the parent dies. */
static int pdeath(const char *self)
{
    int s = -1;
    prctl(PR_SET_PDEATHSIG, SIGUSR1);
    prctl(PR_GET_PDEATHSIG, &s);
    printf("set: %d\n", s);
    printf("signal 99: %s\n", prctl(PR_SET_PDEATHSIG, 99) < 0 ? strerror(errno) : "accepted");
    pid_t c = fork();
    if (c == 0) {
        prctl(PR_GET_PDEATHSIG, &s);
        printf("fork child: %d\n", s);
        _exit(0);
    }
    waitpid(c, 0, 0);
    int ready[2], done[2];
    if (pipe(ready) || pipe(done))
        return 2;
    pid_t middle = fork();
    if (middle == 0) {
        if (fork() == 0) {
            prctl(PR_SET_PDEATHSIG, SIGUSR1);
            dup2(ready[1], 3);
            dup2(done[1], 4);
            execl(self, self, "pdeath-orphan", (char *)0);
            _exit(127);
        }
        char b;
        if (read(ready[0], &b, 1) != 1)
            _exit(2);
        _exit(0); /* the orphan's parent dies */
    }
    close(ready[1]);
    close(done[1]);
    waitpid(middle, 0, 0);
    char b;
    while (read(done[0], &b, 1) > 0)
        ;
    printf("orphan done\n");
    return 0;
}

/* rt_sigprocmask's errors and its old set as the kernel gives them: an
 * unreadable set (EFAULT, mask unchanged), an unwritable old set (EFAULT
 * after the change), an unknown `how` (EINVAL), SIGSYS among the bits. */
static int mask_errors(void)
{
    unsigned long usr1 = 1UL << (SIGUSR1 - 1), sys = 1UL << (SIGSYS - 1), old = 0;
    void *bad = (void *)0xdead0000;
    long r = syscall(SYS_rt_sigprocmask, SIG_BLOCK, bad, 0, 8);
    printf("bad set: %ld %s\n", r, r ? strerror(errno) : "");
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, 0, &old, 8);
    printf("mask after: %#lx\n", old);
    r = syscall(SYS_rt_sigprocmask, SIG_BLOCK, &usr1, bad, 8);
    printf("bad old set: %ld %s\n", r, r ? strerror(errno) : "");
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, 0, &old, 8);
    printf("mask after: %#lx\n", old);
    r = syscall(SYS_rt_sigprocmask, 7, &usr1, &old, 8);
    printf("how 7: %ld %s\n", r, r ? strerror(errno) : "");
    unsigned long both = usr1 | sys;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &both, &old, 8);
    printf("set both, old %#lx\n", old);
    syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &usr1, &old, 8);
    printf("unblock usr1, old %#lx\n", old);
    syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &sys, &old, 8);
    printf("unblock sys, old %#lx\n", old);
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, 0, &old, 8);
    printf("at end: %#lx\n", old);
    return 0;
}

static volatile sig_atomic_t usr1_ran;

static void on_usr1_count(int sig)
{
    (void)sig;
    usr1_ran = 1;
    getppid(); /* a syscall (a trap, under pyshim) inside the handler */
}

/* A mask that blocks SIGSYS and unblocks a pending signal in one call: the
 * pending signal's handler runs at once (with SIGSYS blocked, as asked). */
static int unblock_pending(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1_count;
    sigaction(SIGUSR1, &sa, 0);
    sigset_t usr1, sys, now;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigemptyset(&sys);
    sigaddset(&sys, SIGSYS);
    sigprocmask(SIG_BLOCK, &usr1, 0);
    raise(SIGUSR1);
    printf("pending, handler ran: %d\n", (int)usr1_ran);
    sigprocmask(SIG_SETMASK, &sys, 0);
    printf("after the new mask, handler ran: %d\n", (int)usr1_ran);
    sigprocmask(SIG_BLOCK, 0, &now);
    printf("SIGSYS blocked: %d, SIGUSR1 blocked: %d\n", sigismember(&now, SIGSYS),
           sigismember(&now, SIGUSR1));
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "pending-kill"))
        return pending("kill");
    if (!strcmp(mode, "pending-tgkill"))
        return pending("tgkill");
    if (!strcmp(mode, "default"))
        return default_action();
    if (!strcmp(mode, "timedwait"))
        return timedwait();
    if (!strcmp(mode, "inherit"))
        return inherit();
    if (!strcmp(mode, "altstack"))
        return altstack();
    if (!strcmp(mode, "exec"))
        return exec_pending(argv[0]);
    if (!strcmp(mode, "exec-after"))
        return exec_after();
    if (!strcmp(mode, "pdeathsig"))
        return pdeath(argv[0]);
    if (!strcmp(mode, "pdeath-orphan"))
        return pdeath_orphan();
    if (!strcmp(mode, "maskerrors"))
        return mask_errors();
    if (!strcmp(mode, "unblock-pending"))
        return unblock_pending();
    fprintf(stderr, "usage: sigstate pending-kill|pending-tgkill|default|timedwait|inherit|altstack|pdeathsig|exec|maskerrors\n");
    return 2;
}
