/* Thread and process creation loops for bench/bench_clone.py.
 *
 *     clone_loop threads N   N x (pthread_create + pthread_join) of an empty thread
 *     clone_loop threads-default N   the same with default thread attributes
 *     clone_loop forks N     N x (fork + waitpid) of a child that _exit(0)s at once
 *     clone_loop alive N     N threads blocked at once; with all N alive the
 *                            main thread calls syscall(SYS_getppid) exactly once,
 *                            then releases and joins them
 *
 * Prints the measured part's own duration in nanoseconds on stdout, so
 * start-up is not counted.  Threads get 64 KiB stacks so 1000 are cheap,
 * except in threads-default.
 * Exits 1 (with a message on stderr) if any call fails. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STACK_SIZE (64 * 1024)

static pthread_barrier_t all_alive;   /* N threads + main: all N exist */
static pthread_barrier_t release;     /* N threads + main: main measured, go */

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "clone_loop: %s: %s\n", what, strerror(err));
    exit(1);
}

static void *nothing(void *arg)
{
    return arg;
}

static void *blocker(void *arg)
{
    pthread_barrier_wait(&all_alive);
    pthread_barrier_wait(&release);
    return arg;
}

static void small_stacks(pthread_attr_t *attr)
{
    int err = pthread_attr_init(attr);
    if (err)
        die("pthread_attr_init", err);
    err = pthread_attr_setstacksize(attr, STACK_SIZE);
    if (err)
        die("pthread_attr_setstacksize", err);
}

static void create_join(long n, const pthread_attr_t *attr)
{
    for (long i = 0; i < n; i++) {
        pthread_t t;
        int err = pthread_create(&t, attr, nothing, NULL);
        if (err)
            die("pthread_create", err);
        err = pthread_join(t, NULL);
        if (err)
            die("pthread_join", err);
    }
}

static void threads(long n)
{
    pthread_attr_t attr;
    small_stacks(&attr);
    create_join(n, &attr);
    pthread_attr_destroy(&attr);
}

static void threads_default(long n)
{
    create_join(n, NULL);
}

static void forks(long n)
{
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0)
            die("fork", errno);
        if (pid == 0)
            _exit(0);
        int status;
        if (waitpid(pid, &status, 0) != pid)
            die("waitpid", errno);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "clone_loop: child %d ended with wait status 0x%x\n", pid, status);
            exit(1);
        }
    }
}

static void alive(long n)
{
    pthread_attr_t attr;
    small_stacks(&attr);
    pthread_t *t = calloc(n, sizeof *t);
    if (!t)
        die("calloc", errno);
    int err = pthread_barrier_init(&all_alive, NULL, n + 1);
    if (err)
        die("pthread_barrier_init", err);
    err = pthread_barrier_init(&release, NULL, n + 1);
    if (err)
        die("pthread_barrier_init", err);
    for (long i = 0; i < n; i++) {
        err = pthread_create(&t[i], &attr, blocker, NULL);
        if (err)
            die("pthread_create", err);
    }
    pthread_barrier_wait(&all_alive);
    /* All n threads exist and are blocked on `release`. */
    syscall(SYS_getppid);
    pthread_barrier_wait(&release);
    for (long i = 0; i < n; i++) {
        err = pthread_join(t[i], NULL);
        if (err)
            die("pthread_join", err);
    }
    pthread_barrier_destroy(&all_alive);
    pthread_barrier_destroy(&release);
    pthread_attr_destroy(&attr);
    free(t);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s threads|threads-default|forks|alive N\n", argv[0]);
        return 2;
    }
    long n = atol(argv[2]);
    void (*loop)(long);
    if (!strcmp(argv[1], "threads"))
        loop = threads;
    else if (!strcmp(argv[1], "threads-default"))
        loop = threads_default;
    else if (!strcmp(argv[1], "forks"))
        loop = forks;
    else if (!strcmp(argv[1], "alive"))
        loop = alive;
    else {
        fprintf(stderr, "%s: unknown mode %s\n", argv[0], argv[1]);
        return 2;
    }
    if (n < 1) {
        fprintf(stderr, "%s: N must be at least 1\n", argv[0]);
        return 2;
    }
    long long a = now_ns();
    loop(n);
    long long b = now_ns();
    printf("%lld\n", b - a);
    return 0;
}
