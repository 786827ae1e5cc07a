/* Signal behaviours a supervised program must keep; argv[1] picks one and
 * the program prints what it observed. */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

static int pipefd[2];

static void write_byte(int sig)
{
    (void)sig;
    if (write(pipefd[1], "x", 1) != 1)
        _exit(3);
}

/* read() blocks on an empty pipe until SIGALRM's handler fills it. */
static int interrupted_read(int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = write_byte;
    sa.sa_flags = flags;
    if (pipe(pipefd) || sigaction(SIGALRM, &sa, 0))
        return 2;
    struct itimerval it = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &it, 0);
    char c = 0;
    ssize_t n = read(pipefd[0], &c, 1);
    if (n < 0)
        printf("read failed: %s\n", strerror(errno));
    else
        printf("read %zd byte: %c\n", n, c);
    return 0;
}

static volatile sig_atomic_t got;

static void note(int sig)
{
    got = sig;
}

static int own_sigsys(void)
{
    struct sigaction sa, back;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = note;
    if (sigaction(SIGSYS, &sa, 0) || sigaction(SIGSYS, 0, &back))
        return 2;
    printf("handler read back: %s\n", back.sa_handler == note ? "same" : "different");
    raise(SIGSYS);
    printf("got signal %d\n", got);
    return 0;
}

static int block_all(void)
{
    sigset_t all;
    sigfillset(&all);
    if (sigprocmask(SIG_SETMASK, &all, 0))
        return 2;
    printf("pid still %s\n", getpid() > 0 ? "positive" : "odd");
    return 0;
}

static int own_altstack(void)
{
    static char stack[65536];
    stack_t ss = {.ss_sp = stack, .ss_size = sizeof stack, .ss_flags = 0}, back;
    if (sigaltstack(&ss, 0) || sigaltstack(0, &back))
        return 2;
    printf("altstack read back: %s\n",
           back.ss_sp == stack && back.ss_size == sizeof stack ? "same" : "different");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = note;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, 0);
    raise(SIGUSR1);
    printf("got signal %d\n", got);
    return 0;
}

/* SIGALRM's handler makes a syscall: under pyshim it traps, so SIGSYS must
 * not be blocked by the mask the interrupted call installed. */
static void alarm_writes(int sig)
{
    (void)sig;
    static const char msg[] = "handler wrote\n";
    if (write(1, msg, sizeof msg - 1) < 0)
        _exit(3);
}

static int masked_wait(const char *how)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = alarm_writes;
    sigaction(SIGALRM, &sa, 0);
    sigset_t block, wait_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, 0);
    sigfillset(&wait_mask); /* everything, SIGSYS included... */
    sigdelset(&wait_mask, SIGALRM); /* ...but the alarm */
    struct itimerval it = {{0, 0}, {0, 20000}};
    setitimer(ITIMER_REAL, &it, 0);
    int r;
    if (!strcmp(how, "sigsuspend")) {
        r = sigsuspend(&wait_mask);
    } else if (!strcmp(how, "ppoll")) {
        r = ppoll(0, 0, 0, &wait_mask);
    } else if (!strcmp(how, "pselect")) {
        r = pselect(0, 0, 0, 0, 0, &wait_mask);
    } else {
        int ep = epoll_create1(0);
        struct epoll_event ev;
        r = epoll_pwait(ep, &ev, 1, -1, &wait_mask);
    }
    printf("%s: %d %s\n", how, r, r < 0 ? strerror(errno) : "");
    return 0;
}

/* A handler that puts SIGSYS into the mask its return restores. */
static void block_sigsys_on_return(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    (void)info;
    sigaddset(&((ucontext_t *)ctx)->uc_sigmask, SIGSYS);
    got = sig;
}

static int sigreturn_mask(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = block_sigsys_on_return;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGALRM, &sa, 0);
    /* Delivered while the program runs its own code (not inside a call the
     * shim handles), so the handler's mask is what sigreturn restores. */
    struct itimerval it = {{0, 0}, {0, 10000}};
    setitimer(ITIMER_REAL, &it, 0);
    while (!got)
        ;
    printf("alive after sigreturn: %d\n", getpid() > 0);
    return 0;
}

/* Unwinding through a signal frame (crash reporters do this). */
static void unwind(int sig)
{
    void *frames[32];
    got = sig;
    got = backtrace(frames, 32) > 2 ? sig : -1;
}

static int backtrace_in_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = unwind;
    sigaction(SIGUSR1, &sa, 0);
    raise(SIGUSR1);
    printf("backtrace in a handler: %s\n", got == SIGUSR1 ? "ok" : "failed");
    return 0;
}

static int kill_self(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = note;
    sigaction(SIGUSR2, &sa, 0);
    kill(getpid(), SIGUSR2);
    printf("got signal %d\n", got);
    kill(getpid(), SIGTERM);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IONBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "restart"))
        return interrupted_read(SA_RESTART);
    if (!strcmp(mode, "norestart"))
        return interrupted_read(0);
    if (!strcmp(mode, "sigsys"))
        return own_sigsys();
    if (!strcmp(mode, "blockall"))
        return block_all();
    if (!strcmp(mode, "altstack"))
        return own_altstack();
    if (!strcmp(mode, "sigsuspend") || !strcmp(mode, "ppoll") || !strcmp(mode, "pselect") ||
        !strcmp(mode, "epoll_pwait"))
        return masked_wait(mode);
    if (!strcmp(mode, "sigreturn"))
        return sigreturn_mask();
    if (!strcmp(mode, "kill"))
        return kill_self();
    if (!strcmp(mode, "backtrace"))
        return backtrace_in_handler();
    if (!strcmp(mode, "int80")) {
        long r;
        /* getpid through the 32-bit entry: 20 there (39 in the 64-bit table) */
        __asm__ volatile("int $0x80" : "=a"(r) : "0"(20L) : "memory");
        printf("int 0x80 getpid: %s\n", r == getpid() ? "ok" : "wrong");
        return 0;
    }
    fprintf(stderr, "usage: signals restart|norestart|sigsys|blockall|altstack|sigsuspend|"
                    "ppoll|pselect|epoll_pwait|sigreturn|kill|backtrace\n");
    return 2;
}
