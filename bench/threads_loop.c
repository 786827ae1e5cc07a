/* Many threads sharing one number of getppid calls, for bench/bench_threads.py.
 *
 *     threads_loop T N    T threads (default attributes) each make N/T calls
 *                         of syscall(SYS_getppid); main creates and joins them
 *
 * Prints the duration from the first pthread_create to the last join, in
 * nanoseconds, on stdout.  Exits 1 (with a message on stderr) on an error. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long per_thread;

static void *calls(void *arg)
{
    for (long i = 0; i < per_thread; i++)
        syscall(SYS_getppid);
    return arg;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: threads_loop THREADS CALLS\n");
        return 2;
    }
    int threads = atoi(argv[1]);
    long total = atol(argv[2]);
    if (threads < 1 || threads > 4096 || total < threads) {
        fprintf(stderr, "threads_loop: need 1 <= THREADS <= 4096 and CALLS >= THREADS\n");
        return 2;
    }
    per_thread = total / threads;
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    if (!tids) {
        fprintf(stderr, "threads_loop: out of memory\n");
        return 1;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < threads; i++) {
        int err = pthread_create(&tids[i], NULL, calls, NULL);
        if (err) {
            fprintf(stderr, "threads_loop: pthread_create: %s\n", strerror(err));
            return 1;
        }
    }
    for (int i = 0; i < threads; i++)
        pthread_join(tids[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
    free(tids);
    return 0;
}
