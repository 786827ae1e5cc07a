/* threads N M: N threads each make M getppid calls; prints the total on
 * stdout and "tid count" per thread on stderr, so a supervisor's own
 * per-thread counts can be compared with the program's. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static long calls;

struct worker {
    pthread_t thread;
    pid_t tid;
    long count;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    w->tid = gettid();
    for (long i = 0; i < calls; i++) {
        syscall(SYS_getppid);
        w->count++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4;
    calls = argc > 2 ? atol(argv[2]) : 10;
    struct worker *w = calloc(n, sizeof *w);
    for (int i = 0; i < n; i++)
        if (pthread_create(&w[i].thread, 0, work, &w[i]))
            return 2;
    long total = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(w[i].thread, 0);
        total += w[i].count;
        fprintf(stderr, "%d %ld\n", w[i].tid, w[i].count);
    }
    printf("%d threads x %ld calls: %ld\n", n, calls, total);
    return 0;
}
