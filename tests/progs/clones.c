/* Edge cases of thread and process creation; argv[1] picks one. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char stack[1 << 16] __attribute__((aligned(16)));

/* Raw clone: returns in the child too (on `stack` when one is given). */
static long raw_clone(unsigned long flags, void *sp)
{
    return syscall(SYS_clone, flags, sp, 0, 0, 0);
}

static int child_of_raw_vm(void *arg)
{
    (void)arg;
    /* Same TLS as the parent (no CLONE_SETTLS): only raw syscalls here. */
    static const char msg[] = "child says hi\n";
    syscall(SYS_write, 1, msg, sizeof msg - 1);
    syscall(SYS_exit, 3);
    return 0;
}

static pthread_barrier_t started;

static void *idle(void *arg)
{
    char c;
    pthread_barrier_wait(&started);
    return (void *)(long)read(*(int *)arg, &c, 1);
}

static void *noop(void *arg)
{
    syscall(SYS_getppid);
    return arg;
}

/* Raw clone(CLONE_VM) with a pattern in all of ymm1 (AVX): the child
 * stores ymm1 as it found it, then exits.  The kernel copies the whole
 * register state into a clone's child, upper halves included. */
static int avx_clone(void)
{
    unsigned a, b, c, d;
    __asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if (!(c & (1u << 28))) {
        printf("ymm1 in the child: same\n"); /* no AVX: nothing to lose */
        return 0;
    }
    static unsigned char pattern[32] __attribute__((aligned(32)));
    static unsigned char seen[32] __attribute__((aligned(32)));
    for (int i = 0; i < 32; i++)
        pattern[i] = (unsigned char)(0xa0 + i);
    register long r10 __asm__("r10") = 0;
    register long r8 __asm__("r8") = 0;
    long pid;
    __asm__ volatile(
        "vmovdqu (%[pat]), %%ymm1\n\t"
        "syscall\n\t"
        "test %%rax, %%rax\n\t"
        "jnz 1f\n\t"
        "vmovdqu %%ymm1, (%[seen])\n\t" /* the child, on its own stack */
        "mov $60, %%eax\n\t"
        "xor %%edi, %%edi\n\t"
        "syscall\n\t"
        "1:\n\t"
        : "=a"(pid)
        : "a"(SYS_clone), "D"(CLONE_VM | SIGCHLD), "S"(stack + sizeof stack), "d"(0),
          "r"(r10), "r"(r8), [pat] "r"(pattern), [seen] "r"(seen)
        : "rcx", "r11", "memory", "xmm1");
    if (pid < 0)
        return 2;
    waitpid((pid_t)pid, 0, 0);
    printf("ymm1 in the child: %s\n", memcmp(seen, pattern, 32) ? "differs" : "same");
    return 0;
}

static void fork_in_handler(int sig)
{
    (void)sig;
    pid_t c = fork();
    if (c == 0)
        _exit(5);
    int st;
    waitpid(c, &st, 0);
    static const char msg[] = "handler's child exited 5\n";
    if (WEXITSTATUS(st) == 5)
        syscall(SYS_write, 1, msg, sizeof msg - 1);
}

/* The child of the two modes below: it outlives its parent, and says so. */
static __attribute__((noreturn)) void run_later(void)
{
    struct timespec ts = {0, 200000000};
    nanosleep(&ts, 0);
    static const char msg[] = "child ran\n";
    syscall(SYS_write, 1, msg, sizeof msg - 1);
    _exit(0);
}

/* A second thread forks; as soon as the fork returns there, the main
 * thread ends the process.  The child outlives it and still runs. */
static volatile int forked;

static void *fork_then_wait(void *arg)
{
    (void)arg;
    if (fork() == 0)
        run_later();
    __atomic_store_n(&forked, 1, __ATOMIC_SEQ_CST);
    for (;;)
        ; /* no syscall: nothing of this thread's waits for the supervisor */
    return 0;
}

/* A thread forks (raw clone, the child's pid written to a shared page);
 * the main thread ends the process as soon as the pid is there, while the
 * fork's result may not have been read yet. */
static volatile pid_t *forked_pid;

static void *fork_raw_then_wait(void *arg)
{
    (void)arg;
    if (syscall(SYS_clone, SIGCHLD | CLONE_PARENT_SETTID, 0, forked_pid, 0, 0) == 0)
        run_later();
    for (;;)
        pause();
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IONBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "avx"))
        return avx_clone();
    if (!strcmp(mode, "nested")) {
        /* A fork whose handler (SIGUSR1) forks too; the supervisor's test
         * sends SIGUSR1 while the outer fork is being made. */
        signal(SIGUSR1, fork_in_handler);
        pid_t c = fork();
        if (c == 0)
            _exit(4);
        int st;
        waitpid(c, &st, 0);
        printf("outer child exited %d\n", WEXITSTATUS(st));
        return 0;
    }
    if (!strcmp(mode, "exit-after-fork")) {
        pthread_t t;
        pthread_create(&t, 0, fork_then_wait, 0);
        while (!__atomic_load_n(&forked, __ATOMIC_SEQ_CST))
            ;
        _exit(0);
    }
    if (!strcmp(mode, "exit-during-fork")) {
        forked_pid = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        pthread_t t;
        pthread_create(&t, 0, fork_raw_then_wait, 0);
        while (!__atomic_load_n(forked_pid, __ATOMIC_SEQ_CST))
            ;
        _exit(0);
    }
    if (!strcmp(mode, "killed")) {
        /* Each child killed and reaped as soon as fork returns. */
        for (int i = 0; i < 200; i++) {
            pid_t c = fork();
            if (c == 0)
                _exit(0);
            kill(c, SIGKILL);
            if (waitpid(c, 0, 0) != c)
                return 2;
        }
        printf("killed and reaped 200 children\n");
        return 0;
    }
    if (!strcmp(mode, "clone3")) {
        long r = syscall(SYS_clone3, 0, 0);
        printf("clone3: %ld %s\n", r, r < 0 ? strerror(errno) : "");
        return 0;
    }
    if (!strcmp(mode, "badflags")) {
        long r = raw_clone(CLONE_THREAD, stack + sizeof stack);
        printf("clone(CLONE_THREAD): %ld %s\n", r, r < 0 ? strerror(errno) : "");
        return 0;
    }
    if (!strcmp(mode, "rawvm")) {
        /* clone(CLONE_VM) without a new TLS, through glibc's clone(). */
        pid_t pid = clone(child_of_raw_vm, stack + sizeof stack, CLONE_VM | SIGCHLD, 0);
        int status;
        waitpid(pid, &status, 0);
        printf("child exited %d\n", WEXITSTATUS(status));
        return 0;
    }
    if (!strcmp(mode, "parent")) {
        pid_t mine = getppid();
        int fds[2];
        if (pipe(fds))
            return 2;
        long r = raw_clone(CLONE_PARENT | SIGCHLD, 0);
        if (r == 0) {
            printf("sibling's parent is %s\n", getppid() == mine ? "my parent" : "someone else");
            _exit(0);
        }
        char c;
        close(fds[1]);
        while (read(fds[0], &c, 1) > 0) /* until the sibling is gone */
            ;
        /* Not our child: the sibling belongs to our parent. */
        printf("waitpid: %s\n", waitpid(r, 0, 0) < 0 ? strerror(errno) : "reaped");
        return 0;
    }
    if (!strcmp(mode, "orphan")) {
        int fds[2];
        if (pipe(fds))
            return 2;
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid == 0) {
            char c;
            close(fds[1]);
            while (read(fds[0], &c, 1) > 0) /* until the parent is exiting */
                ;
            while (getppid() == parent) /* its files close before we are re-parented */
                sched_yield();
            printf("orphan's parent: %d\n", getppid());
            _exit(0);
        }
        return 0;
    }
    if (!strcmp(mode, "exitgroup")) {
        int fds[2];
        if (pipe(fds))
            return 2;
        pthread_t t;
        pthread_barrier_init(&started, 0, 5);
        for (int i = 0; i < 4; i++)
            pthread_create(&t, 0, idle, &fds[0]);
        pthread_barrier_wait(&started);
        printf("leaving 4 threads blocked\n");
        exit(5);
    }
    if (!strcmp(mode, "serial")) {
        int n = argc > 2 ? atoi(argv[2]) : 100;
        for (int i = 0; i < n; i++) {
            pthread_t t;
            if (pthread_create(&t, 0, noop, 0) || pthread_join(t, 0))
                return 2;
        }
        printf("%d threads, one at a time\n", n);
        syscall(SYS_getppid); /* a supervisor may look around here */
        return 0;
    }
    fprintf(stderr, "usage: clones clone3|badflags|rawvm|parent|orphan|exitgroup|serial N\n");
    return 2;
}
