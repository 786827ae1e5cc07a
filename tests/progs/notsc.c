/* Makes the time-stamp counter fault in this process (prctl PR_SET_TSC, as
 * rr does to its tracees), then makes calls from the main thread and from
 * a thread started afterwards, and prints what it saw.  The shim's waits
 * must not read the counter from then on. */
#include <pthread.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *calls(void *arg)
{
    long ok = 0;
    for (int i = 0; i < 200; i++)
        ok += syscall(SYS_getppid) > 0;
    return (void *)ok;
}

int main(void)
{
    int r = prctl(PR_SET_TSC, PR_TSC_SIGSEGV);
    printf("rdtsc faults: %s\n", r == 0 ? "yes" : "no");
    fflush(stdout);
    pthread_t t;
    void *theirs;
    long ours = (long)calls(NULL);
    if (pthread_create(&t, NULL, calls, NULL) != 0 || pthread_join(t, &theirs) != 0)
        return 1;
    printf("getppid: %ld + %ld of 400 ok\n", ours, (long)theirs);
    return 0;
}
