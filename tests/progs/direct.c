/* Signal masks and handlers at libc sites the shim rewrote to its direct
 * entry (shim/direct.c), checked call by call.  Each loop runs the same
 * sites many times: the first two calls at a site trap, the rest enter the
 * shim directly.
 *
 *   direct masks N     N x: block SIGUSR1, raise it (pending), unblock:
 *                      its handler must run at the unblock, once; the mask
 *                      read back after each step must be the one set
 *   direct actions N   N x: sigaction(SIGUSR2) alternating two handlers,
 *                      flags and masks; the old action read back must be
 *                      the one set before, and raising SIGUSR2 must run
 *                      the handler just set
 *   direct faults N    N x: a bad pointer (EFAULT) and bad arguments (EINVAL)
 *   direct rawaction N N x rt_sigaction(SIGUSR2) through syscall(), the old
 *                      action's pointer bad: EFAULT, yet the new action is
 *                      installed (a raise runs it) and reads back with
 *                      the restorer given
 *   direct denied N    N x sigaction(SIGUSR2, ...): prints how many failed
 *                      with EPERM (a supervisor's handler may deny them)
 *   direct fork N      masks N, then fork: the child (the rewritten code
 *                      inherited) runs masks N and exits with its failures
 *   direct sysnested N masks N, then a SIGUSR1 unblocked by sigprocmask
 *                      installs a SIGSYS handler of the program's, blocks
 *                      SIGSYS and raises it; the outer sigprocmask's
 *                      unblock must run that handler once, with a context
 *                      of the kernel's (its fpregs there)
 *   direct eintr N     N x readv() of an empty pipe (glibc's read site is
 *                      `xor %eax, %eax; syscall`, never rewritten), interrupted by a
 *                      SIGUSR1 once the thread is seen blocked in it
 *                      (/proc), then, once the handler ran, a byte
 *                      written: with SA_RESTART the
 *                      read returns the byte, without it fails with EINTR
 *                      (under --trap all its site enters directly)
 *   direct seccomp N   masks N, then a seccomp filter that kills on
 *                      sigaltstack (which the program never calls), then
 *                      masks N
 *   direct traceme N   a child runs masks N, PTRACE_TRACEME, masks N (this
 *                      process its tracer): it stops trapping, and the
 *                      rewritten sites run its calls natively */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <ucontext.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000 /* the kernel's; glibc keeps it to itself */
#endif

static volatile sig_atomic_t usr1, handler_a, handler_b;

static void on_usr1(int sig) { (void)sig; usr1++; }
static void on_a(int sig) { (void)sig; handler_a++; }
static void on_b(int sig, siginfo_t *si, void *uc) { (void)sig; (void)si; (void)uc; handler_b++; }

static int has(const sigset_t *s, int sig) { return sigismember(s, sig) == 1; }

static volatile sig_atomic_t sys_ran, sys_framed;

static void on_sys(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ctx;
    sys_ran++;
    sys_framed += uc->uc_mcontext.fpregs != NULL;
}

/* SIGUSR1's handler in sysnested mode. */
static void install_sys_and_raise(int sig)
{
    (void)sig;
    struct sigaction sa = {0};
    sa.sa_sigaction = on_sys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, NULL);
    sigset_t b;
    sigemptyset(&b);
    sigaddset(&b, SIGSYS);
    sigprocmask(SIG_BLOCK, &b, NULL);
    raise(SIGSYS); /* pending until the outer call's unblock */
}

static int pipefd[2];
static pid_t reader;
static volatile long reads_started; /* by the reader, before each first read */

/* Waits until the reader is blocked in readv (its /proc syscall line
 * starts with readv's number), then interrupts it and, once its handler
 * ran, writes the byte it waits for. */
static void *interrupter(void *arg)
{
    long n = (long)arg;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)reader);
    for (long i = 0; i < n; i++) {
        while (__atomic_load_n(&reads_started, __ATOMIC_ACQUIRE) != i + 1)
            sched_yield(); /* not the drain read of the round before */
        for (;;) {
            char line[32] = {0};
            FILE *f = fopen(path, "r");
            if (f && fgets(line, sizeof line, f) && strncmp(line, "19 ", 3) == 0) {
                fclose(f);
                break;
            }
            if (f)
                fclose(f);
            sched_yield();
        }
        sig_atomic_t before = usr1;
        syscall(SYS_tgkill, getpid(), reader, SIGUSR1);
        while (usr1 == before) /* its handler ran: the read was cut short */
            sched_yield();
        if (write(pipefd[1], "x", 1) != 1)
            return (void *)1;
    }
    return NULL;
}

/* N reads interrupted as above; how many ended as `restart` says. */
static long interrupted_reads(long n, int restart)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGUSR1, &sa, NULL);
    if (pipe(pipefd) != 0)
        return -1;
    reader = (pid_t)syscall(SYS_gettid);
    reads_started = 0;
    pthread_t t;
    pthread_create(&t, NULL, interrupter, (void *)n);
    long right = 0;
    for (long i = 0; i < n; i++) {
        char c;
        struct iovec v = {&c, 1};
        __atomic_store_n(&reads_started, i + 1, __ATOMIC_RELEASE);
        errno = 0;
        ssize_t r = readv(pipefd[0], &v, 1);
        if (restart)
            right += r == 1 && c == 'x';
        else if (r == -1 && errno == EINTR)
            right += readv(pipefd[0], &v, 1) == 1; /* the byte, written after */
    }
    pthread_join(t, NULL);
    close(pipefd[0]);
    close(pipefd[1]);
    return right;
}

/* One round of masks; 0 if everything was right. */
static int mask_round(void)
{
    sigset_t one, old, now;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR1);
    int bad = 0;
    if (sigprocmask(SIG_BLOCK, &one, &old) != 0 || has(&old, SIGUSR1))
        bad = 1;
    if (sigprocmask(SIG_BLOCK, NULL, &now) != 0 || !has(&now, SIGUSR1))
        bad = 1;
    sig_atomic_t before = usr1;
    raise(SIGUSR1);
    if (usr1 != before)
        bad = 1; /* delivered while blocked */
    if (sigprocmask(SIG_SETMASK, &old, NULL) != 0 || usr1 != before + 1)
        bad = 1; /* not delivered at the unblock, or twice */
    if (sigprocmask(SIG_BLOCK, NULL, &now) != 0 || has(&now, SIGUSR1))
        bad = 1;
    return bad;
}

static long masks(long n)
{
    long bad = 0;
    for (long i = 0; i < n; i++)
        bad += mask_round();
    return bad;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    long n = argc > 2 ? atol(argv[2]) : 100;
    signal(SIGUSR1, on_usr1);
    if (strcmp(mode, "masks") == 0) {
        printf("masks: %ld/%ld wrong\n", masks(n), n);
        return 0;
    }
    if (strcmp(mode, "actions") == 0) {
        long wrong_old = 0, wrong_handler = 0;
        struct sigaction set = {0}, old;
        for (long i = 0; i < n; i++) {
            struct sigaction next = {0};
            if (i % 2) {
                next.sa_sigaction = on_b;
                next.sa_flags = SA_SIGINFO | SA_RESTART;
                sigaddset(&next.sa_mask, SIGINT);
            } else {
                next.sa_handler = on_a;
                next.sa_flags = SA_NODEFER;
                sigaddset(&next.sa_mask, SIGTERM);
            }
            if (sigaction(SIGUSR2, &next, &old) != 0)
                return 1;
            if (i > 0 && (old.sa_handler != set.sa_handler ||
                          (old.sa_flags & (SA_SIGINFO | SA_RESTART | SA_NODEFER)) != set.sa_flags ||
                          has(&old.sa_mask, SIGINT) != has(&set.sa_mask, SIGINT) ||
                          has(&old.sa_mask, SIGTERM) != has(&set.sa_mask, SIGTERM)))
                wrong_old++;
            set = next;
            sig_atomic_t a = handler_a, b = handler_b;
            raise(SIGUSR2);
            if (i % 2 ? handler_b != b + 1 || handler_a != a : handler_a != a + 1 || handler_b != b)
                wrong_handler++;
        }
        printf("actions: %ld/%ld old wrong, %ld/%ld handlers wrong\n", wrong_old, n,
               wrong_handler, n);
        return 0;
    }
    if (strcmp(mode, "faults") == 0) {
        long right = 0;
        struct sigaction sa = {0};
        sa.sa_handler = on_a;
        sigset_t s;
        sigemptyset(&s);
        for (long i = 0; i < n; i++) {
            /* (libc copies the new set and both actions itself, and
             * passes the old set's pointer on) */
            errno = 0;
            right += sigprocmask(SIG_BLOCK, &s, (sigset_t *)8) == -1 && errno == EFAULT;
            errno = 0;
            right += sigaction(SIGSTOP, &sa, NULL) == -1 && errno == EINVAL;
            errno = 0;
            right += sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL;
            errno = 0;
            right += sigprocmask(99, &s, NULL) == -1 && errno == EINVAL;
        }
        printf("faults: %ld/%ld right\n", right, 4 * n);
        return 0;
    }
    if (strcmp(mode, "rawaction") == 0) {
        struct kact { void *handler; unsigned long flags; void *restorer; unsigned long mask; };
        struct kact cur, set, back;
        if (syscall(SYS_rt_sigaction, SIGUSR1, NULL, &cur, 8) != 0)
            return 1; /* libc's restorer, from signal() above */
        long right = 0;
        for (long i = 0; i < n; i++) {
            set.handler = (void *)(i % 2 ? (void (*)(int))on_usr1 : on_a);
            set.flags = SA_RESTORER | (i % 2 ? SA_RESTART : 0);
            set.restorer = cur.restorer;
            set.mask = 0;
            errno = 0;
            long r = syscall(SYS_rt_sigaction, SIGUSR2, &set, (void *)8, 8);
            sig_atomic_t a = handler_a, u = usr1;
            raise(SIGUSR2);
            int ran = i % 2 ? usr1 == u + 1 : handler_a == a + 1;
            int read_back = syscall(SYS_rt_sigaction, SIGUSR2, NULL, &back, 8) == 0 &&
                            back.handler == set.handler && back.restorer == cur.restorer &&
                            (back.flags & SA_RESTART) == (set.flags & SA_RESTART);
            right += r == -1 && errno == EFAULT && ran && read_back;
        }
        printf("rawaction: %ld/%ld right\n", right, n);
        return 0;
    }
    if (strcmp(mode, "denied") == 0) {
        long denied = 0;
        struct sigaction sa = {0};
        sa.sa_handler = on_a;
        for (long i = 0; i < n; i++) {
            errno = 0;
            denied += sigaction(SIGUSR2, &sa, NULL) == -1 && errno == EPERM;
        }
        printf("denied: %ld/%ld\n", denied, n);
        return 0;
    }
    if (strcmp(mode, "fork") == 0) {
        long bad = masks(n);
        pid_t child = fork();
        if (child == 0)
            _exit(masks(n) != 0);
        int status;
        waitpid(child, &status, 0);
        printf("fork: parent %ld wrong, child %s\n", bad,
               WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "right" : "wrong");
        return 0;
    }
    if (strcmp(mode, "sysnested") == 0) {
        long bad = masks(n);
        signal(SIGUSR1, install_sys_and_raise);
        sigset_t one, none;
        sigemptyset(&one);
        sigaddset(&one, SIGUSR1);
        sigemptyset(&none);
        sigprocmask(SIG_BLOCK, &one, NULL);
        raise(SIGUSR1);
        sigprocmask(SIG_SETMASK, &none, NULL); /* SIGUSR1's handler, then SIGSYS's */
        printf("sysnested: %ld wrong, SIGSYS handler ran %d, %d with a kernel frame\n", bad,
               (int)sys_ran, (int)sys_framed);
        return 0;
    }
    if (strcmp(mode, "eintr") == 0) {
        long restarted = interrupted_reads(n, 1), interrupted = interrupted_reads(n, 0);
        printf("eintr: %ld/%ld restarted, %ld/%ld interrupted\n", restarted, n, interrupted, n);
        return 0;
    }
    if (strcmp(mode, "seccomp") == 0) {
        long bad = masks(n);
        struct sock_filter code[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sigaltstack, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog filter = {sizeof code / sizeof code[0], code};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter) != 0)
            return 1;
        bad += masks(n);
        printf("seccomp: %ld/%ld masks right\n", 2 * n - bad, 2 * n);
        return 0;
    }
    if (strcmp(mode, "traceme") == 0) {
        pid_t child = fork();
        if (child == 0) {
            long before = masks(n);
            if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
                _exit(1);
            long after = masks(n); /* each raise stops it for its tracer, below */
            _exit(before != 0 || after != 0);
        }
        int status;
        while (waitpid(child, &status, 0) == child && WIFSTOPPED(status))
            ptrace(PTRACE_CONT, child, 0, (void *)(long)WSTOPSIG(status));
        printf("traceme: child %s\n",
               WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "right" : "wrong");
        return 0;
    }
    fprintf(stderr, "direct: unknown mode %s\n", mode);
    return 2;
}
