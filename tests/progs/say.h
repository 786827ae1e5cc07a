/* Helpers shared by the signal test programs (sigsysfd.c, sigwait.c).
 * out() writes each line with one write(2), never through stdio's buffer:
 * lines from several threads stay whole, and nothing is lost at _exit. */
#ifndef SAY_H
#define SAY_H

#include <stdarg.h>
#include <stdio.h>
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

#endif
