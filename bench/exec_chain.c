/* exec_chain N [START]: execs itself N times, each image at once; the last
 * prints the nanoseconds from the first image's start (CLOCK_MONOTONIC,
 * passed along in argv) to its own, so the cost of one new image
 * (the exec, the loader, a preloaded shim's start) is the total over N. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100;
    long long start = argc > 2 ? atoll(argv[2]) : now_ns();
    if (n <= 0) {
        printf("%lld\n", now_ns() - start);
        return 0;
    }
    char left[32], since[32];
    snprintf(left, sizeof left, "%ld", n - 1);
    snprintf(since, sizeof since, "%lld", start);
    char *next[] = {argv[0], left, since, 0};
    execv("/proc/self/exe", next);
    perror("execv");
    return 1;
}
