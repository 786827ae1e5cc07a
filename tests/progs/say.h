/* Helpers shared by the signal test programs (sigsysfd.c, sigwait.c).
 * out() writes each line with one write(2), never through stdio's buffer:
 * lines from several threads stay whole, and nothing is lost at _exit. */
#ifndef SAY_H
#define SAY_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void out(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (write(1, buf, (size_t)n) != n)
        _exit(3);
}

static pid_t tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static void show_pending(const char *when)
{
    sigset_t p;
    sigpending(&p);
    out("%s: sigpending SIGSYS %d\n", when, sigismember(&p, SIGSYS));
}

/* Waits until thread `t` of process `pid` is blocked in syscall `nr` or
 * `alt` (a pause may show as the rt_sigsuspend the shim makes of it). */
static void wait_blocked(pid_t pid, pid_t t, long nr, long alt)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", pid, t);
    for (;;) {
        char buf[64] = {0};
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            out("open %s: %s\n", path, strerror(errno));
            exit(2);
        }
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        long now = strtol(buf, 0, 10);
        if (n > 0 && (now == nr || now == alt) && buf[0] != 'r')
            return;
        sched_yield();
    }
}

#endif
