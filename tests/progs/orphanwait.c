/* orphanwait MODE: a child (the waiter) blocks in a call; its parent exits
 * once it waits, and under pyshim the shim's own parent-death signal then
 * reaches it.  Natively nothing interrupts the call.  A second child holds
 * the pipe the waiter reads and closes it once the waiter waits again
 * after that signal (no SIGSYS pending, in the call).  The waiter prints
 * what its call returned.
 *   read:      read on the pipe: 0 (end of file)
 *   sarestart: the same, after a SIGUSR1 whose SA_RESTART handler ran
 *              during that read (the kernel went on with it)
 *   usleep:    usleep(300 ms): 0
 *   poll:      poll(0, 0, 300): 0 (timed out) */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether `pid` is in syscall `nr` ("0 " read, "7 " poll, "230 "
 * clock_nanosleep) with no signal pending, or is gone. */
static int waits_in(pid_t pid, const char *nr)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    int pending = 0;
    while (fgets(buf, sizeof buf, f))
        if (!strncmp(buf, "SigPnd:", 7) || !strncmp(buf, "ShdPnd:", 7))
            pending |= strtoull(buf + 7, 0, 16) != 0;
    fclose(f);
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return 1;
    int in = fgets(buf, sizeof buf, f) && !strncmp(buf, nr, strlen(nr));
    fclose(f);
    return !pending && in;
}

static void wait_until_in(pid_t pid, const char *nr)
{
    while (!waits_in(pid, nr))
        usleep(1000);
}

static volatile sig_atomic_t handled;
static void on_usr1(int sig) { (void)sig; handled++; }

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "read";
    const char *nr = !strcmp(mode, "poll") ? "7 " : !strcmp(mode, "usleep") ? "230 " : "0 ";
    pid_t parent = getpid();
    int p[2], go[2];
    if (pipe(p) || pipe(go))
        return 1;
    pid_t waiter = fork();
    if (waiter == 0) {
        close(p[1]);
        struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
        sigaction(SIGUSR1, &sa, 0);
        if (!strcmp(mode, "poll")) {
            printf("poll: %d\n", poll(0, 0, 300));
        } else if (!strcmp(mode, "usleep")) {
            int r = usleep(300000);
            printf("usleep: %d%s%s\n", r, r < 0 ? " " : "", r < 0 ? strerror(errno) : "");
        } else {
            char c;
            ssize_t r = read(p[0], &c, 1);
            printf("read: %zd%s%s", r, r < 0 ? " " : "", r < 0 ? strerror(errno) : "");
            printf(handled ? " (after a handler)\n" : "\n");
        }
        return 0;
    }
    if (fork() == 0) { /* holds the pipe's other end */
        close(p[0]);
        wait_until_in(waiter, nr);
        if (!strcmp(mode, "sarestart")) {
            kill(waiter, SIGUSR1);
            wait_until_in(waiter, nr);
        }
        if (write(go[1], "g", 1) != 1) /* the parent may end */
            return 1;
        while (getppid() == parent)
            usleep(1000);
        wait_until_in(waiter, nr);
        close(p[1]);
        return 0;
    }
    close(p[0]);
    close(p[1]);
    char g;
    return read(go[0], &g, 1) == 1 ? 0 : 1;
}
