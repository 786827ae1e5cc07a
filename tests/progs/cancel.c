/* pthread_cancel of a thread blocked in a cancellation point: read() of an
 * empty pipe (`cancel`), or write() to a full one after many writes
 * (`cancel write`: under pyshim that site is rewritten by then, so the
 * thread blocks in the shim's stub).  The thread has a pthread_cleanup_push
 * handler and, built with -fexceptions, a variable with a cleanup
 * attribute, which only unwinding runs (as C++ destructors).  Prints what
 * ran. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fds[2];
static int writer;
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
    static char chunk[4096];
    pthread_cleanup_push(handler, NULL);
    if (writer) {
        for (;;) /* fills the pipe, then blocks */
            if (write(fds[1], chunk, sizeof chunk) < 0)
                break;
        printf("write failed\n");
    } else if (read(fds[0], &c, 1) >= 0) {
        printf("read returned\n");
    }
    pthread_cleanup_pop(0);
    return arg;
}

int main(int argc, char **argv)
{
    pthread_t t;
    writer = argc > 1 && strcmp(argv[1], "write") == 0;
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
