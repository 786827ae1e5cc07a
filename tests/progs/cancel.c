/* pthread_cancel of a thread blocked in read() on an empty pipe, a
 * cancellation point.  The thread has a pthread_cleanup_push handler and,
 * built with -fexceptions, a variable with a cleanup attribute, which only
 * unwinding runs (as C++ destructors).  Prints what ran. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static int fds[2];
static volatile int handler_ran, unwound;

static void handler(void *arg)
{
    (void)arg;
    handler_ran = 1;
}

static void on_unwind(int *p)
{
    (void)p;
    unwound = 1;
}

static void *blocker(void *arg)
{
    int guard __attribute__((cleanup(on_unwind))) = 0;
    char c;
    (void)guard;
    pthread_cleanup_push(handler, NULL);
    if (read(fds[0], &c, 1) >= 0)
        printf("read returned\n");
    pthread_cleanup_pop(0);
    return arg;
}

int main(void)
{
    pthread_t t;
    void *ret;
    if (pipe(fds) != 0 || pthread_create(&t, NULL, blocker, NULL) != 0)
        return 1;
    usleep(100000); /* only makes it likelier the thread blocks first: either way it is cancelled */
    pthread_cancel(t);
    pthread_join(t, &ret);
    printf("cancelled: %s, cleanup handler: %s, unwound: %s\n",
           ret == PTHREAD_CANCELED ? "yes" : "no", handler_ran ? "yes" : "no",
           unwound ? "yes" : "no");
    return 0;
}
