/* Calls whose libc sites the shim rewrites once their first trap proved
 * them (shim/rewrite.c), checked result by result.
 *
 *   rewrite count N   getppid() and access("/") N times each; prints how
 *                     many getppid results equal the first, and how many
 *                     access calls succeeded
 *   rewrite fork      getppid() a few times, then fork: the child inherits
 *                     the rewritten code and calls it 100 times
 *   rewrite threads   8 threads x 5000 x (uname + getppid) at once, so the
 *                     site is rewritten while other threads run it */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t parent;
static struct utsname expected;

static void *hammer(void *arg)
{
    long bad = 0;
    for (int i = 0; i < 5000; i++) {
        struct utsname u;
        if (uname(&u) != 0 || strcmp(u.release, expected.release) != 0)
            bad++;
        if (getppid() != parent)
            bad++;
    }
    return (void *)bad;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    parent = getppid();
    if (strcmp(mode, "count") == 0 && argc > 2) {
        long n = atol(argv[2]), same = 0, ok = 0;
        for (long i = 0; i < n; i++) {
            same += getppid() == parent;
            ok += access("/", F_OK) == 0;
        }
        printf("getppid %ld/%ld same, access %ld/%ld ok\n", same, n, ok, n);
        return 0;
    }
    if (strcmp(mode, "fork") == 0) {
        for (int i = 0; i < 5; i++)
            getppid();
        pid_t me = getpid(), child = fork();
        if (child == 0) {
            for (int i = 0; i < 100; i++)
                if (getppid() != me)
                    _exit(1);
            _exit(0);
        }
        int status;
        waitpid(child, &status, 0);
        printf("child saw its parent: %s\n",
               WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes" : "no");
        return 0;
    }
    if (strcmp(mode, "threads") == 0) {
        uname(&expected);
        pthread_t t[8];
        long bad = 0;
        for (int i = 0; i < 8; i++)
            if (pthread_create(&t[i], NULL, hammer, NULL) != 0)
                return 1;
        for (int i = 0; i < 8; i++) {
            void *r;
            pthread_join(t[i], &r);
            bad += (long)r;
        }
        printf("threads: %ld wrong results\n", bad);
        return 0;
    }
    fprintf(stderr, "usage: rewrite count N | fork | threads\n");
    return 2;
}
