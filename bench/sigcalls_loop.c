/* The signal calls the shim emulates, in a loop: argv[1] N times
 * sigprocmask(SIG_BLOCK, {SIGUSR1}, &old) ("mask") or
 * sigaction(SIGTERM, {SIG_DFL}, &old) ("action"), argv[2]; prints the
 * loop's own duration in nanoseconds, so start-up is not counted. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    int action = argc > 2 && !strcmp(argv[2], "action");
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigset_t usr1, was;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++)
        if (action ? sigaction(SIGTERM, &sa, &old) : sigprocmask(SIG_BLOCK, &usr1, &was))
            return 1;
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
    return 0;
}
