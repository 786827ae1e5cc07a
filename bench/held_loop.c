/* One thread's subscribed calls while others' calls are held.
 *
 *     held_loop HOLDERS N
 *
 * HOLDERS threads each call getppid once (the bench's supervisor holds
 * those calls); the main thread calls gettid once (answered only once
 * every holder is held), then getpid N times, timed: it prints the loop's
 * duration in ns.  Then it calls gettid again (the supervisor lets the
 * holders go) and joins them.  Default thread attributes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void *holder(void *arg)
{
    (void)arg;
    syscall(SYS_getppid);
    return 0;
}

int main(int argc, char **argv)
{
    int holders = argc > 1 ? atoi(argv[1]) : 0;
    long n = argc > 2 ? atol(argv[2]) : 10000;
    pthread_t *t = calloc(holders ? holders : 1, sizeof *t);
    for (int i = 0; i < holders; i++)
        if (pthread_create(&t[i], 0, holder, 0)) {
            fprintf(stderr, "pthread_create %d failed\n", i);
            return 1;
        }
    syscall(SYS_gettid); /* returns once every holder is held */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++)
        syscall(SYS_getpid);
    clock_gettime(CLOCK_MONOTONIC, &b);
    syscall(SYS_gettid); /* the holders go */
    for (int i = 0; i < holders; i++)
        pthread_join(t[i], 0);
    printf("%lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
    return 0;
}
