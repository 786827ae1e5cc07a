/* threads N M: N threads each make M getppid calls; prints the total on
 * stdout and "tid count" per thread on stderr, so a supervisor's own
 * per-thread counts can be compared with the program's.
 *
 * threads together N M: the same, but no thread makes its calls before all
 * N have started (a barrier): N + 1 threads are alive at once.
 *
 * threads churn P K M: P creator threads each create and join K threads
 * in turn, each of which makes M getppid calls: threads start while others
 * end, all the time.  Prints the total and the number of threads made. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long calls;
static pthread_barrier_t *together; /* set: workers wait for each other */

struct worker {
    pthread_t thread;
    pid_t tid;
    long count;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    w->tid = gettid();
    if (together)
        pthread_barrier_wait(together);
    for (long i = 0; i < calls; i++) {
        syscall(SYS_getppid);
        w->count++;
    }
    return 0;
}

static long churn_rounds;
static long churn_calls;

static void *creator(void *arg)
{
    long *made = arg;
    for (long i = 0; i < churn_rounds; i++) {
        struct worker w = {0};
        if (pthread_create(&w.thread, 0, work, &w))
            return (void *)1;
        pthread_join(w.thread, 0);
        if (w.count != churn_calls)
            return (void *)1;
        ++*made;
    }
    return 0;
}

static int churn(int p, long rounds, long m)
{
    churn_rounds = rounds;
    churn_calls = calls = m;
    pthread_t *t = calloc(p, sizeof *t);
    long *made = calloc(p, sizeof *made), total = 0;
    int failed = 0;
    for (int i = 0; i < p; i++)
        if (pthread_create(&t[i], 0, creator, &made[i]))
            return 2;
    for (int i = 0; i < p; i++) {
        void *r;
        pthread_join(t[i], &r);
        failed |= r != 0;
        total += made[i];
    }
    printf("%ld threads x %ld calls: %ld%s\n", total, m, total * m, failed ? " (a thread failed)" : "");
    return failed;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "churn"))
        return churn(atoi(argv[2]), atol(argv[3]), atol(argv[4]));
    static pthread_barrier_t barrier;
    if (argc > 1 && !strcmp(argv[1], "together")) {
        together = &barrier;
        argc--;
        argv++;
    }
    int n = argc > 1 ? atoi(argv[1]) : 4;
    calls = argc > 2 ? atol(argv[2]) : 10;
    if (together && (n < 1 || pthread_barrier_init(together, 0, (unsigned)n)))
        return 2;
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
